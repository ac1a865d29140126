"""The lead list's word index (0027) with its separators turned into spaces by one regular
expression instead of translate(), as leads.search now builds it: the same words, at a sixth
of the cost. translate() compares each character of the text with each of the 30 separators
in turn (20 µs for a 96-character text on the CI machine, against 3), and PostgreSQL computes
the expression for every lead it writes (bench/README.md, CSV import).

The expression is leads.search.SearchWords's, written out (a test checks that the search uses
the index). As in 0027, the new index is built ``CONCURRENTLY`` under a new name before the
old one is dropped, so searches keep an index and writes go on meanwhile.
"""

from django.db import migrations

from leads.migrations._indexes import replace_lead_words_index

WORDS = (
    "array_to_tsvector(array_remove(string_to_array(regexp_replace(search_text, "
    "E'[@.+_\\u005c-,;:()\\u005c[\\u005c]{}/|&\"!?<>#*=~\\u0027\\u0009\\u000a\\u000d]', ' ', 'g'), "
    "' '), ''))"
)
WORDS_0027 = (
    "array_to_tsvector(array_remove(string_to_array(translate(search_text, "
    "E'@.+_-,;:()[]{}/|&\"!?<>#*=~\\u0027\\u0009\\u000a\\u000d', '                              '), "
    "' '), ''))"
)


def forwards(apps, schema_editor):
    replace_lead_words_index(schema_editor, old="lead_search_idx", new="lead_words_idx", expression=WORDS)


def backwards(apps, schema_editor):
    replace_lead_words_index(schema_editor, old="lead_words_idx", new="lead_search_idx", expression=WORDS_0027)


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("leads", "0028_event_org_and_campaign_not_constraints")]

    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
