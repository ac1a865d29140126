"""The lead list's word index (0026) cut also at apostrophes ("brien" finds O'Brien), as
leads.search now cuts a search.

The expression is leads.search.SearchWords's, written out (a test checks that the search uses
the index). The new index is built ``CONCURRENTLY`` under a new name before the old one is
dropped, so searches keep an index and writes go on meanwhile; a build that failed half-way
leaves an invalid index, dropped first when the migration runs again.
"""

from django.db import migrations

from leads.migrations._indexes import replace_lead_words_index

WORDS = (
    "array_to_tsvector(array_remove(string_to_array(translate(search_text, "
    "E'@.+_-,;:()[]{}/|&\"!?<>#*=~\\u0027\\u0009\\u000a\\u000d', '                              '), "
    "' '), ''))"
)
WORDS_0026 = (
    "array_to_tsvector(array_remove(string_to_array("
    "translate(search_text, E'@.+_-,;:()[]{}/|&\"!?<>#*=~\\t\\n\\r', '                             '), "
    "' '), ''))"
)


def forwards(apps, schema_editor):
    replace_lead_words_index(schema_editor, old="lead_search_words_idx", new="lead_search_idx", expression=WORDS)


def backwards(apps, schema_editor):
    replace_lead_words_index(schema_editor, old="lead_search_idx", new="lead_search_words_idx", expression=WORDS_0026)


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("leads", "0026_lead_search_words_index")]

    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
