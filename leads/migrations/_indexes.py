"""What the word-index migrations (0027, 0029) share. Not a migration: the loader skips modules
whose names start with an underscore."""


def replace_lead_words_index(schema_editor, *, old: str, new: str, expression: str) -> None:
    """On PostgreSQL, a GIN index of ``expression`` on the lead table named ``new`` in place of
    ``old``: built ``CONCURRENTLY`` first, so searches keep an index and writes go on meanwhile;
    a build that failed half-way leaves an invalid index, dropped first when the migration runs
    again."""
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {new}")
    schema_editor.execute(f"CREATE INDEX CONCURRENTLY {new} ON leads_lead USING gin (({expression}))")
    schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {old}")
