"""The lead list's word index (0026) cut again: also at apostrophes and dashes, and at every
character Python counts as white space (a no-break space, an ideographic space, …), as
leads.search now cuts a search; before, PostgreSQL kept those inside a word and "ltd" did not
find "Acme Ltd" written with a no-break space, where SQLite did.

The expression is leads.search.SearchWords's, written out (a test checks that the search uses
the index). The new index is built ``CONCURRENTLY`` under a new name before the old one is
dropped, so searches keep an index and writes go on meanwhile; a build that failed half-way
leaves an invalid index, dropped first when the migration runs again.
"""

from django.db import migrations

WORDS = (
    "array_to_tsvector(array_remove(string_to_array(translate(search_text, "
    "E'@.+_-,;:()[]{}/|&\"!?<>#*=~\\u0027\\u2018\\u2019\\u2013\\u2014\\u0009\\u000a\\u000b\\u000c\\u000d"
    "\\u001c\\u001d\\u001e\\u001f\\u0085\\u00a0\\u1680\\u2000\\u2001\\u2002\\u2003\\u2004\\u2005\\u2006"
    "\\u2007\\u2008\\u2009\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000', "
    "'                                                           '), ' '), ''))"
)
WORDS_0026 = (
    "array_to_tsvector(array_remove(string_to_array("
    "translate(search_text, E'@.+_-,;:()[]{}/|&\"!?<>#*=~\\t\\n\\r', '                             '), "
    "' '), ''))"
)


def _replace(schema_editor, *, old: str, new: str, expression: str) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {new}")
    schema_editor.execute(f"CREATE INDEX CONCURRENTLY {new} ON leads_lead USING gin (({expression}))")
    schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {old}")


def forwards(apps, schema_editor):
    _replace(schema_editor, old="lead_search_words_idx", new="lead_search_idx", expression=WORDS)


def backwards(apps, schema_editor):
    _replace(schema_editor, old="lead_search_idx", new="lead_search_words_idx", expression=WORDS_0026)


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("leads", "0026_lead_search_words_index")]

    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
