"""Reads of leads, always for one organisation."""

from __future__ import annotations

from django.db.models import Count, QuerySet

from leads.models import Lead
from smarketing.accounts.models import Organization


def lead_stage_counts(*, org: Organization) -> list[dict]:
    """Every lifecycle stage with its number of leads (zero included), in funnel order."""
    counts = dict(Lead.objects.for_org(org).values_list("lifecycle_stage").annotate(n=Count("id")).order_by())
    return [{"stage": stage, "label": stage.label, "count": counts.get(stage.value, 0)} for stage in Lead.Stage]


def lead_recent_list(*, org: Organization, limit: int = 10) -> QuerySet[Lead]:
    return Lead.objects.for_org(org).order_by("-created_at")[:limit]
