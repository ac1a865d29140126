"""Companies are looked up by organisation and ``UPPER(domain)`` through an index on both
(``company_org_domain_idx``), which replaces the organisation's single-column index.

A lead's company is read by a prepared statement; its generic plan cannot use the partial
unique index ``company_domain_ci_unique``, since the query's ``domain <> %s`` is a parameter
there, and it scanned the organisation's index, filtering every company of the organisation.
The new index serves that lookup whatever the plan, and the organisation's cascades and lists.

The organisation index is dropped by name, not by altering the foreign key: Django would drop
and add the constraint again, checking every row.
"""

import django.db.models.deletion
import django.db.models.functions.text
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0007_reroute_predicted"),
        ("leads", "0020_stage_change_actor_and_definitions_without_constraints"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="company",
            index=models.Index(
                models.F("organization"),
                django.db.models.functions.text.Upper("domain"),
                name="company_org_domain_idx",
            ),
        ),
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="company",
                    name="organization",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="companies",
                        to="accounts.organization",
                    ),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    'DROP INDEX IF EXISTS "leads_company_organization_id_638fcbed"',
                    reverse_sql='CREATE INDEX "leads_company_organization_id_638fcbed" '
                    'ON "leads_company" ("organization_id")',
                ),
            ],
        ),
    ]
