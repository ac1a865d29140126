"""Revenue attribution: which campaigns earn a won deal's revenue, first-touch, last-touch and linear.

One function splits an amount over a lead's campaign touches (``split``); the outcome service
calls ``opportunity_credit`` when a deal is won, and the campaign page, the lead page and the
closed-loop dashboards read the stored credits (``campaign_revenue``). A lead's campaign
touches are the campaigns of its events (by UTM), its first-touch campaign (when it came in)
and its latest campaign, up to the moment the deal was won.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_DOWN, Decimal

from django.db import transaction
from django.db.models import Max, Min, Sum

from leads.models import ActivityEvent, Lead, Opportunity
from reporting.models import AttributionCredit, AttributionModel
from smarketing.accounts.models import Organization

CENT = Decimal("0.01")


@dataclass(frozen=True)
class CampaignTouch:
    """A campaign that touched a lead: when first and when last."""

    campaign_id: int
    first_at: datetime
    last_at: datetime


def campaign_touches(lead: Lead, *, until: datetime) -> list[CampaignTouch]:
    """The campaigns that touched ``lead`` up to ``until``, in the order they first did."""
    spans: dict[int, tuple[datetime, datetime]] = {
        row["campaign_id"]: (row["first"], row["last"])
        for row in ActivityEvent.objects.filter(lead=lead, campaign__isnull=False, occurred_at__lte=until)
        .values("campaign_id")
        .annotate(first=Min("occurred_at"), last=Max("occurred_at"))
        .order_by()
    }

    def widen(campaign_id: int | None, at: datetime) -> None:
        if campaign_id is None:
            return
        first, last = spans.get(campaign_id, (at, at))
        spans[campaign_id] = (min(first, at), max(last, at))

    widen(lead.first_campaign_id, min(lead.created_at, until))
    # The latest campaign is by its name the most recent one to touch the lead.
    latest_at = max((last for _, last in spans.values()), default=min(lead.created_at, until))
    widen(lead.latest_campaign_id, latest_at)
    touches = [CampaignTouch(cid, first, last) for cid, (first, last) in spans.items()]
    return sorted(touches, key=lambda t: (t.first_at, t.campaign_id))


def split(touches: list[CampaignTouch], amount: Decimal) -> dict[str, dict[int, Decimal]]:
    """``amount`` shared among ``touches`` under each model; each model's shares add up to ``amount``.

    First touch: all to the earliest campaign. Last touch: all to the one that touched last
    (ties to the one that came in last). Linear: equal parts, the odd cents to the earliest.
    No touches: nothing is attributed (the revenue shows as unattributed).
    """
    if not touches:
        return {m: {} for m in AttributionModel.values}
    amount = Decimal(amount).quantize(CENT)
    last = max(touches, key=lambda t: (t.last_at, t.first_at, t.campaign_id))
    part = (amount / len(touches)).quantize(CENT, rounding=ROUND_DOWN)
    linear = {t.campaign_id: part for t in touches}
    cents = int((amount - part * len(touches)) / CENT)
    for t in touches[:cents]:
        linear[t.campaign_id] += CENT
    return {
        AttributionModel.FIRST_TOUCH: {touches[0].campaign_id: amount},
        AttributionModel.LAST_TOUCH: {last.campaign_id: amount},
        AttributionModel.LINEAR: linear,
    }


@transaction.atomic
def opportunity_credit(opportunity: Opportunity) -> list[AttributionCredit]:
    """(Re)write the credits of a won opportunity from the lead's campaign touches until it was won."""
    AttributionCredit.objects.filter(opportunity=opportunity).delete()
    if opportunity.status != Opportunity.Status.WON:
        return []
    touches = campaign_touches(opportunity.lead, until=opportunity.closed_at)
    credits = [
        AttributionCredit(
            organization_id=opportunity.organization_id,
            opportunity=opportunity,
            campaign_id=campaign_id,
            model=model,
            amount=share,
            won_on=opportunity.close_date,
        )
        for model, shares in split(touches, opportunity.amount).items()
        for campaign_id, share in shares.items()
    ]
    return AttributionCredit.objects.bulk_create(credits)


def campaign_revenue(*, org: Organization, campaign_ids: Iterable[int] | None = None) -> dict[int, dict[str, Decimal]]:
    """Won revenue per campaign under each model: ``{campaign_id: {model: amount}}`` (missing: none)."""
    qs = AttributionCredit.objects.for_org(org)
    if campaign_ids is not None:
        qs = qs.filter(campaign_id__in=list(campaign_ids))
    revenue: dict[int, dict[str, Decimal]] = defaultdict(dict)
    for row in qs.values("campaign_id", "model").annotate(total=Sum("amount")).order_by():
        revenue[row["campaign_id"]][row["model"]] = row["total"]
    return dict(revenue)
