"""Score rows, their explanations and stage changes keep their foreign keys in the ORM only
(see the models' comments), and stage changes lose their single-column lead and organisation
indexes (stagechange_lead_idx and stagechange_org_to_idx start with those columns).

Every operation here only drops (``sqlmigrate``: ``DROP CONSTRAINT`` and ``DROP INDEX IF
EXISTS``): no constraint is added back, so no table is re-checked or locked for long.
"""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0007_reroute_predicted"),
        ("leads", "0018_handoff_rep_open_due_idx"),
    ]

    operations = [
        migrations.AlterField(
            model_name="leadscore",
            name="lead",
            field=models.OneToOneField(
                db_constraint=False,
                on_delete=django.db.models.deletion.CASCADE,
                primary_key=True,
                related_name="score",
                serialize=False,
                to="leads.lead",
            ),
        ),
        migrations.AlterField(
            model_name="leadscore",
            name="organization",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to="accounts.organization",
            ),
        ),
        migrations.AlterField(
            model_name="leadscoreexplanation",
            name="lead",
            field=models.OneToOneField(
                db_constraint=False,
                on_delete=django.db.models.deletion.CASCADE,
                primary_key=True,
                related_name="score_explanation_row",
                serialize=False,
                to="leads.lead",
            ),
        ),
        migrations.AlterField(
            model_name="stagechange",
            name="lead",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="stage_changes",
                to="leads.lead",
            ),
        ),
        migrations.AlterField(
            model_name="stagechange",
            name="organization",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to="accounts.organization",
            ),
        ),
        migrations.AlterField(
            model_name="stagechange",
            name="scoring_model",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to="leads.scoringmodel",
            ),
        ),
    ]
