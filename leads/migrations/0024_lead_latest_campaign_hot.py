"""A lead's latest campaign changes as HOT updates: its index goes, and the lead table's pages keep
room for a row's new version (fillfactor 90, PostgreSQL).

A HOT update writes the row's new version on the same page and adds no index entry; PostgreSQL
does one only when no indexed column changes and the page has room. Campaign-tagged events
change ``latest_campaign_id`` all the time, and each such change used to add an entry to every
one of the table's thirteen indexes (bench/README.md, event ingestion). Nothing reads leads by
their latest campaign. The fillfactor applies to pages written from now on; pages already full
gain room as PostgreSQL prunes the versions updates leave behind.

Only the index is dropped (by the name Django gave it): an ``AlterField`` would
also drop the foreign key and add it back, which re-checks every lead while holding off writes.
Then ``ALTER TABLE … SET (fillfactor = 90)``; nothing is rewritten.
"""

import django.db.models.deletion
from django.db import migrations, models


def drop_index(apps, schema_editor) -> None:
    # The name Django gave the foreign key's index (0004); an index made by hand is left alone.
    name = schema_editor._create_index_name("leads_lead", ["latest_campaign_id"], suffix="")
    schema_editor.execute(f"DROP INDEX IF EXISTS {schema_editor.quote_name(name)}")


def create_index(apps, schema_editor) -> None:
    lead = apps.get_model("leads", "Lead")
    schema_editor.execute(schema_editor._create_index_sql(lead, fields=[lead._meta.get_field("latest_campaign")]))


def set_fillfactor(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE leads_lead SET (fillfactor = 90)")


def reset_fillfactor(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE leads_lead RESET (fillfactor)")


class Migration(migrations.Migration):
    dependencies = [
        ("leads", "0023_lead_email_alias"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(drop_index, create_index, elidable=False)],
            state_operations=[
                migrations.AlterField(
                    model_name="lead",
                    name="latest_campaign",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="latest_touch_leads",
                        to="leads.campaign",
                    ),
                ),
            ],
        ),
        migrations.RunPython(set_fillfactor, reset_fillfactor, elidable=False),
    ]
