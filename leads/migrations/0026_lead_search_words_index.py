"""The lead list's search by words (leads/search.py) replaces the trigram search.

PostgreSQL only: a GIN index of the words of ``search_text`` replaces the trigram index of
migration 0006, which is dearer to keep up on every lead written: the CSV import of 1,000,000
leads went from 10,980 to 12,268 rows/s on the means (bench/README.md, CSV import).

The expression is leads.search.SearchWords's, written out: the planner uses the index only for
that same expression (a test checks that the search does). Both indexes are built and dropped
``CONCURRENTLY`` (outside a transaction), so writes to a large lead table go on meanwhile; a
build that failed half-way leaves an invalid index, dropped first when the migration runs again.
"""

from django.db import migrations

WORDS = (
    "array_to_tsvector(array_remove(string_to_array("
    "translate(search_text, E'@.+_-,;:()[]{}/|&\"!?<>#*=~\\t\\n\\r', '                             '), "
    "' '), ''))"
)


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("DROP INDEX CONCURRENTLY IF EXISTS lead_search_words_idx")
    schema_editor.execute(f"CREATE INDEX CONCURRENTLY lead_search_words_idx ON leads_lead USING gin (({WORDS}))")
    schema_editor.execute("DROP INDEX CONCURRENTLY IF EXISTS lead_search_trgm_idx")


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("DROP INDEX CONCURRENTLY IF EXISTS lead_search_trgm_idx")
    schema_editor.execute(
        "CREATE INDEX CONCURRENTLY lead_search_trgm_idx ON leads_lead USING gin (search_text gin_trgm_ops)"
    )
    schema_editor.execute("DROP INDEX CONCURRENTLY IF EXISTS lead_search_words_idx")


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("leads", "0025_partial_fk_indexes")]

    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
