# The score columns move out of leads_lead into leads_leadscore (and the explanation into
# leads_leadscoreexplanation): scoring rewrites a narrow row there instead of the wide lead
# row and its dozen indexes. Every existing lead gets its score row; an explanation row only
# where there is something explained.

import django.db.models.deletion
from django.db import migrations, models

# Plain SQL that PostgreSQL and SQLite both run, set-based (one statement per table).
COPY_SCORES = (
    "INSERT INTO leads_leadscore (lead_id, organization_id, fit, engagement, engagement_scored_at, total) "
    "SELECT id, organization_id, fit_score, engagement_score, engagement_scored_at, total_score FROM leads_lead"
)
COPY_EXPLANATIONS = (
    "INSERT INTO leads_leadscoreexplanation (lead_id, explanation) "
    "SELECT id, score_explanation FROM leads_lead WHERE score_explanation IS NOT NULL AND score_explanation <> '{}'"
)
# Backwards: the re-added columns (with their defaults) get the values back.
RESTORE_SCORES = (
    "UPDATE leads_lead SET fit_score = s.fit, engagement_score = s.engagement, "
    "engagement_scored_at = s.engagement_scored_at, total_score = s.total "
    "FROM leads_leadscore s WHERE s.lead_id = leads_lead.id"
)
RESTORE_EXPLANATIONS = (
    "UPDATE leads_lead SET score_explanation = e.explanation "
    "FROM leads_leadscoreexplanation e WHERE e.lead_id = leads_lead.id"
)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0004_organization_routing_fallback_handoff_hours"),
        ("leads", "0012_routing_and_handoffs"),
    ]

    operations = [
        migrations.CreateModel(
            name="LeadScore",
            fields=[
                (
                    "lead",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="score",
                        serialize=False,
                        to="leads.lead",
                    ),
                ),
                (
                    "organization",
                    models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="accounts.organization",
                    ),
                ),
                ("fit", models.IntegerField(default=0)),
                (
                    "engagement",
                    models.FloatField(default=0, help_text="Decayed engagement as of engagement_scored_at."),
                ),
                ("engagement_scored_at", models.DateTimeField(blank=True, null=True)),
                ("total", models.IntegerField(default=0)),
            ],
        ),
        migrations.CreateModel(
            name="LeadScoreExplanation",
            fields=[
                (
                    "lead",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="score_explanation_row",
                        serialize=False,
                        to="leads.lead",
                    ),
                ),
                ("explanation", models.JSONField(blank=True, default=dict)),
            ],
        ),
        migrations.RunSQL(COPY_SCORES, RESTORE_SCORES),
        migrations.RunSQL(COPY_EXPLANATIONS, RESTORE_EXPLANATIONS),
        # After the copy: one index build rather than a million index inserts.
        migrations.AddIndex(
            model_name="leadscore",
            index=models.Index(fields=["organization", "-total", "-lead"], name="leadscore_org_total_idx"),
        ),
        migrations.RemoveIndex(model_name="lead", name="lead_org_score_id_idx"),
        migrations.RemoveField(model_name="lead", name="engagement_score"),
        migrations.RemoveField(model_name="lead", name="engagement_scored_at"),
        migrations.RemoveField(model_name="lead", name="fit_score"),
        migrations.RemoveField(model_name="lead", name="score_explanation"),
        migrations.RemoveField(model_name="lead", name="total_score"),
    ]
