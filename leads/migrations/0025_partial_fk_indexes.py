"""Foreign keys that are mostly empty are indexed only where set.

Django gives every foreign key an index of its own, and PostgreSQL puts a row whose key is empty
in it too. The write-heavy paths leave these empty most of the time: an imported lead has no
owner or campaign, a visitor is anonymous until it identifies, a stage change by a rule has no
actor. Each such row cost an index entry that no query reads: what reads these indexes is the
ORM's SET_NULL or CASCADE when the referenced row is deleted, and the lead list's persona and
campaign filters, which look up set values only (``x = …`` implies ``x IS NOT NULL``, so
PostgreSQL uses the partial index). The visitor's organisation index goes: the unique
(organisation, anonymous id) index starts with it.

The event's campaign index stays whole: made partial, PostgreSQL took it for a lead's campaign
events (a condition on ``campaign_id`` implies the index's ``IS NOT NULL``) and filtered every
campaign event for each lead (bench/README.md, event ingestion).

The new indexes are built first, then the old ones dropped by the names Django gave them. Only
the indexes change: an ``AlterField`` to ``db_index=False`` would also drop each foreign key
constraint and add it back, re-checking every row while holding off writes.
"""

import django.db.models.deletion
from django.db import migrations, models

# (table, column) of each index Django made for a foreign key, dropped here.
OLD_INDEXES = [
    ("leads_lead", "company_id"),
    ("leads_lead", "first_campaign_id"),
    ("leads_lead", "owner_id"),
    ("leads_lead", "persona_id"),
    ("leads_stagechange", "actor_id"),
    ("leads_stagechange", "definitions_version_id"),
    ("leads_stagechange", "scoring_model_id"),
    ("leads_visitor", "lead_id"),
    ("leads_visitor", "organization_id"),
]


def drop_indexes(apps, schema_editor) -> None:
    for table, column in OLD_INDEXES:
        name = schema_editor._create_index_name(table, [column], suffix="")
        schema_editor.execute(f"DROP INDEX IF EXISTS {schema_editor.quote_name(name)}")


def create_indexes(apps, schema_editor) -> None:
    for table, column in OLD_INDEXES:
        name = schema_editor._create_index_name(table, [column], suffix="")
        quote = schema_editor.quote_name
        schema_editor.execute(f"CREATE INDEX {quote(name)} ON {quote(table)} ({quote(column)})")


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0009_organization_has_email_aliases"),
        ("leads", "0024_lead_latest_campaign_hot"),
        ("personas", "0002_restrict_member_references"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="lead",
            index=models.Index(
                condition=models.Q(("company__isnull", False)), fields=["company"], name="lead_company_idx"
            ),
        ),
        migrations.AddIndex(
            model_name="lead",
            index=models.Index(
                condition=models.Q(("first_campaign__isnull", False)),
                fields=["first_campaign"],
                name="lead_first_campaign_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="lead",
            index=models.Index(condition=models.Q(("owner__isnull", False)), fields=["owner"], name="lead_owner_idx"),
        ),
        migrations.AddIndex(
            model_name="lead",
            index=models.Index(
                condition=models.Q(("persona__isnull", False)), fields=["persona"], name="lead_persona_idx"
            ),
        ),
        migrations.AddIndex(
            model_name="stagechange",
            index=models.Index(
                condition=models.Q(("actor__isnull", False)), fields=["actor"], name="stagechange_actor_idx"
            ),
        ),
        migrations.AddIndex(
            model_name="stagechange",
            index=models.Index(
                condition=models.Q(("definitions_version__isnull", False)),
                fields=["definitions_version"],
                name="stagechange_definitions_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="stagechange",
            index=models.Index(
                condition=models.Q(("scoring_model__isnull", False)),
                fields=["scoring_model"],
                name="stagechange_model_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="visitor",
            index=models.Index(condition=models.Q(("lead__isnull", False)), fields=["lead"], name="visitor_lead_idx"),
        ),
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(drop_indexes, create_indexes, elidable=False)],
            state_operations=[
                migrations.AlterField(
                    model_name="lead",
                    name="company",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="leads",
                        to="leads.company",
                    ),
                ),
                migrations.AlterField(
                    model_name="lead",
                    name="first_campaign",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="first_touch_leads",
                        to="leads.campaign",
                    ),
                ),
                migrations.AlterField(
                    model_name="lead",
                    name="owner",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="owned_leads",
                        to="accounts.membership",
                    ),
                ),
                migrations.AlterField(
                    model_name="lead",
                    name="persona",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to="personas.persona",
                    ),
                ),
                migrations.AlterField(
                    model_name="stagechange",
                    name="actor",
                    field=models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to="accounts.membership",
                    ),
                ),
                migrations.AlterField(
                    model_name="stagechange",
                    name="definitions_version",
                    field=models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to="personas.definitionversion",
                    ),
                ),
                migrations.AlterField(
                    model_name="stagechange",
                    name="scoring_model",
                    field=models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to="leads.scoringmodel",
                    ),
                ),
                migrations.AlterField(
                    model_name="visitor",
                    name="lead",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="visitors",
                        to="leads.lead",
                    ),
                ),
                migrations.AlterField(
                    model_name="visitor",
                    name="organization",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="accounts.organization",
                    ),
                ),
            ],
        ),
    ]
