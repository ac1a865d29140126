"""A stage change's actor and definitions version keep their foreign keys in the ORM only, as
its lead, organisation and scoring model do since 0019 (see ``StageChange``'s comment): each
was a check per row at commit, ≈ 5 µs of PostgreSQL CPU a row (the CSV import writes a stage
change per new lead). Both operations only drop a constraint (``sqlmigrate``): nothing is
re-checked, and the indexes stay (the ORM's ``SET_NULL`` when a membership or version goes).
"""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0007_reroute_predicted"),
        ("leads", "0019_score_and_stage_history_without_constraints"),
        ("personas", "0002_restrict_member_references"),
    ]

    operations = [
        migrations.AlterField(
            model_name="stagechange",
            name="actor",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
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
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to="personas.definitionversion",
            ),
        ),
    ]
