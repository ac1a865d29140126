"""The lead keeps when its first and latest campaign touched it (their earliest and latest event),
so that ingestion decides whether a campaign-tagged event replaces them without reading the
lead's events. Existing leads get the times from their events; a lead whose campaign has no
event of it keeps None, which counts as its creation, as before.
"""

from django.db import migrations, models

# The lead's own events (event_lead_occurred_idx); ``+ 0`` keeps PostgreSQL off the campaign's index.
BACKFILL = """
UPDATE leads_lead SET
    first_campaign_at = (
        SELECT MIN(e.occurred_at) FROM leads_activityevent e
        WHERE e.lead_id = leads_lead.id AND e.campaign_id + 0 = leads_lead.first_campaign_id
    ),
    latest_campaign_at = (
        SELECT MAX(e.occurred_at) FROM leads_activityevent e
        WHERE e.lead_id = leads_lead.id AND e.campaign_id + 0 = leads_lead.latest_campaign_id
    )
WHERE first_campaign_id IS NOT NULL OR latest_campaign_id IS NOT NULL
"""


class Migration(migrations.Migration):
    dependencies = [
        ("leads", "0029_lead_words_index_by_regular_expression"),
    ]

    operations = [
        migrations.AddField(
            model_name="lead",
            name="first_campaign_at",
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
        migrations.AddField(
            model_name="lead",
            name="latest_campaign_at",
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
        migrations.RunSQL(BACKFILL, reverse_sql=migrations.RunSQL.noop, elidable=True),
    ]
