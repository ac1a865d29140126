"""Drop the single-column indexes of ActivityEvent.organization and .lead: composite indexes
start with those columns, and every stored and every scored event paid for them.

Only the indexes go: Django's AlterField would also drop and re-add both foreign keys,
re-checking every event (a long lock on a table of millions)."""

import django.db.models.deletion
from django.db import migrations, models

INDEXES = {
    "leads_activityevent_lead_id_25e16261": "lead_id",
    "leads_activityevent_organization_id_c65e5439": "organization_id",
}


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0007_reroute_predicted"),
        ("leads", "0016_scorechange_without_constraints"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="activityevent",
                    name="lead",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="events",
                        to="leads.lead",
                    ),
                ),
                migrations.AlterField(
                    model_name="activityevent",
                    name="organization",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="accounts.organization",
                    ),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    sql=f"DROP INDEX IF EXISTS {name}",
                    reverse_sql=f"CREATE INDEX IF NOT EXISTS {name} ON leads_activityevent ({column})",
                )
                for name, column in INDEXES.items()
            ],
        ),
    ]
