"""Campaigns: what marketing spends to bring leads in, and the UTM values that attribute them.

Writes (``campaign_create``, ``campaign_update``) and reads (``campaign_list`` …) of one
resource, in one module. Incoming leads are attributed to a campaign by their UTM triple
(``campaigns_by_utm``), so no two campaigns of an organisation may share one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields
from datetime import date, datetime
from decimal import Decimal
from functools import reduce
from operator import or_
from typing import NamedTuple

from django.db import transaction
from django.db.models import (
    BooleanField,
    Count,
    ExpressionWrapper,
    F,
    FloatField,
    Max,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
)
from django.db.models.functions import Cast, NullIf
from django.utils import timezone

from leads.models import ActivityEvent, Campaign, Channel, Lead
from personas.models import Persona
from smarketing.accounts.models import Membership, Organization
from smarketing.accounts.tenancy import get_for_org
from smarketing.errors import InvalidInput

NAME_MAX = Campaign._meta.get_field("name").max_length
UTM_MAX = Campaign._meta.get_field("utm_campaign").max_length
UTM_FIELDS = ("utm_source", "utm_medium", "utm_campaign")
# DecimalField(max_digits=12, decimal_places=2): the largest amount the column holds.
AMOUNT_MAX = Decimal("9999999999.99")


@dataclass
class CampaignInput:
    """Everything a campaign form or API call may set."""

    name: str
    channel: str
    starts_on: date | None = None
    ends_on: date | None = None
    budget: Decimal | None = None
    actual_cost: Decimal | None = None
    utm_source: str = ""
    utm_medium: str = ""
    utm_campaign: str = ""
    target_persona: Persona | None = None
    owner: Membership | None = None

    @classmethod
    def from_campaign(cls, campaign: Campaign) -> CampaignInput:
        """The campaign's current values, to change some of them (an API PATCH)."""
        return cls(**{f.name: getattr(campaign, f.name) for f in fields(cls)})


# --- Writes ---------------------------------------------------------------------------


def _utm_q(source: str, medium: str, campaign: str) -> Q:
    return Q(utm_source__iexact=source, utm_medium__iexact=medium, utm_campaign__iexact=campaign)


def _campaign_validate(org: Organization, data: CampaignInput, campaign: Campaign | None) -> CampaignInput:
    data.name = data.name.strip()
    if not data.name:
        raise InvalidInput("Give the campaign a name, e.g. “Q3 webinar series”.", field="name")
    if len(data.name) > NAME_MAX:
        raise InvalidInput(f"Keep the name to {NAME_MAX} characters.", field="name")
    if data.channel not in Channel.values:
        raise InvalidInput(f"Unknown channel “{data.channel}”.", field="channel")
    if data.starts_on and data.ends_on and data.ends_on < data.starts_on:
        raise InvalidInput(
            f"The campaign ends ({data.ends_on:%d %b %Y}) before it starts ({data.starts_on:%d %b %Y}).",
            field="ends_on",
        )
    for name, label in (("budget", "budget"), ("actual_cost", "actual cost")):
        amount = getattr(data, name)
        if amount is not None and amount < 0:
            raise InvalidInput(f"The {label} is an amount of 0 or more.", field=name)
        if amount is not None and amount > AMOUNT_MAX:
            raise InvalidInput(f"The {label} is above the largest amount stored ({AMOUNT_MAX}).", field=name)
    persona = data.target_persona
    if persona is not None:
        if persona.organization_id != org.pk:
            raise InvalidInput("Unknown persona.", field="target_persona")
        # An archived persona stays on the campaigns that aimed at it, but no new campaign aims at it.
        if persona.archived_at is not None and getattr(campaign, "target_persona_id", None) != persona.pk:
            raise InvalidInput(f"“{persona.name}” is archived; aim at an active persona.", field="target_persona")
    owner = data.owner
    if owner is not None:
        if owner.organization_id != org.pk:
            raise InvalidInput("Unknown member.", field="owner")
        if not owner.is_active and getattr(campaign, "owner_id", None) != owner.pk:
            raise InvalidInput("That member has left the organisation.", field="owner")
    for name in UTM_FIELDS:
        value = getattr(data, name).strip()
        if len(value) > UTM_MAX:
            raise InvalidInput(f"Keep UTM values to {UTM_MAX} characters; this one has {len(value)}.", field=name)
        setattr(data, name, value)
    others = Campaign.objects.for_org(org).exclude(pk=getattr(campaign, "pk", None))
    if others.filter(name__iexact=data.name).exists():
        raise InvalidInput(f"There is already a campaign called “{data.name}”.", field="name")
    utm = (data.utm_source, data.utm_medium, data.utm_campaign)
    if any(utm):
        clash = others.filter(_utm_q(*utm)).first()
        if clash is not None:
            raise InvalidInput(
                f"“{clash.name}” already uses these UTM values; incoming leads could not tell the two apart. "
                "Change utm_campaign (or source or medium).",
                field="utm_campaign",
            )
    return data


def _campaign_fields(data: CampaignInput) -> dict[str, object]:
    return {f.name: getattr(data, f.name) for f in fields(data)}


def _org_lock(org: Organization) -> None:
    # Names and UTM triples are unique per organisation by rule, not by a database constraint:
    # writes of one organisation's campaigns take turns so two concurrent ones cannot both pass.
    Organization.objects.select_for_update().filter(pk=org.pk).first()


@transaction.atomic
def campaign_create(
    *, org: Organization, data: CampaignInput, actor: Membership | None = None, now: datetime | None = None
) -> Campaign:
    """A new campaign; the member creating it owns it unless ``data`` names an owner."""
    _org_lock(org)
    if data.owner is None and isinstance(actor, Membership):
        data.owner = actor
    data = _campaign_validate(org, data, None)
    return Campaign.objects.create(organization=org, created_at=now or timezone.now(), **_campaign_fields(data))


@transaction.atomic
def campaign_update(*, campaign: Campaign, data: CampaignInput) -> Campaign:
    """Replace the campaign's values with ``data`` (all of them: merge first to change some)."""
    _org_lock(campaign.organization)
    campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
    data = _campaign_validate(campaign.organization, data, campaign)
    for name, value in _campaign_fields(data).items():
        setattr(campaign, name, value)
    campaign.save()
    return campaign


# --- Reads ----------------------------------------------------------------------------


def _campaigns(org: Organization) -> QuerySet[Campaign]:
    """With ``lead_count`` (first-touch leads) and ``cost_per_lead`` (None without cost or leads)."""
    return (
        Campaign.objects.for_org(org)
        .select_related("target_persona", "owner__user")
        .annotate(lead_count=Count("first_touch_leads", distinct=True))
        # A float: on SQLite a whole-number decimal column divides as an integer.
        .annotate(cost_per_lead=Cast("actual_cost", FloatField()) / NullIf(F("lead_count"), 0))
        .order_by("-created_at", "-id")  # Meta.ordering does not apply to an aggregating query
    )


def campaign_list(*, org: Organization, channel: str = "", search: str = "") -> QuerySet[Campaign]:
    qs = _campaigns(org)
    if channel:
        qs = qs.filter(channel=channel)
    if search:
        qs = qs.filter(name__icontains=search.strip())
    return qs


def campaign_detail(*, org: Organization, campaign_id: int) -> Campaign:
    return get_for_org(_campaigns(org), org=org, pk=campaign_id)


def campaign_leads(*, campaign: Campaign) -> QuerySet[Lead]:
    """The leads the campaign brought in (first touch), newest first."""
    return (
        Lead.objects.for_org(campaign.organization)
        .filter(first_campaign=campaign)
        .select_related("persona", "owner__user")
        .order_by("-created_at", "-id")
    )


# Distinct UTM triples looked up per query (a flag column each): a batch of events names a few.
UTM_LOOKUP_CHUNK = 50

UtmValues = tuple[str, str, str]


def campaigns_by_utm(*, org: Organization, utms: Iterable[UtmValues]) -> dict[UtmValues, int | None]:
    """The id of the campaign each (source, medium, campaign) triple names (exact, ignoring case
    and surrounding spaces), or None. No UTM values name no campaign: many campaigns (events,
    referrals) have none.

    One query for up to ``UTM_LOOKUP_CHUNK`` distinct triples: each row says, in a column per
    triple, which triples it matches, compared by the database as one triple's lookup would be
    (an event batch's triples, looked up one by one, cost a query each: 2 ms of an ingestion
    request apiece).
    """
    keys = {utm: tuple(value.strip() for value in utm) for utm in utms}
    wanted = sorted({key for key in keys.values() if any(key)})
    found: dict[tuple[str, ...], int] = {}
    for start in range(0, len(wanted), UTM_LOOKUP_CHUNK):
        chunk = wanted[start : start + UTM_LOOKUP_CHUNK]
        matches = [_utm_q(*key) for key in chunk]
        flags = {f"utm_{i}": ExpressionWrapper(q, output_field=BooleanField()) for i, q in enumerate(matches)}
        rows = (
            Campaign.objects.for_org(org)
            .filter(reduce(or_, matches))
            .annotate(**flags)
            .order_by("-created_at", "-id")  # the newest, were two ever to share a triple
            .values_list("pk", *flags)
        )
        for pk, *hits in rows:
            for key, hit in zip(chunk, hits, strict=True):
                if hit:
                    found.setdefault(key, pk)
    return {utm: found.get(key) for utm, key in keys.items()}


def _event_touched_at(campaign: OuterRef, aggregate: type[Min] | type[Max]) -> Subquery:
    """When ``campaign`` (``OuterRef`` to the lead's field holding one) touched the lead of the
    outer query: the earliest (``Min``) or latest (``Max``) of the lead's events of
    that campaign, NULL without any. Read through the lead's own events
    (event_lead_occurred_idx): ``+ 0`` keeps PostgreSQL off the campaign's index, which it took
    on its estimates and then filtered every event of the campaign for the lead."""
    events = (
        ActivityEvent.objects.filter(lead_id=OuterRef("pk"))
        .alias(campaign_key=F("campaign_id") + 0)
        .filter(campaign_key=campaign)
        .order_by()
        .values("lead_id")
        .annotate(at=aggregate("occurred_at"))
        .values("at")
    )
    return Subquery(events)


def lead_campaign_times_refresh(leads: QuerySet[Lead]) -> int:
    """Set ``first_campaign_at`` and ``latest_campaign_at`` of ``leads`` from their events: for
    leads whose events were written around ingestion (the demo's), which keeps the times as it
    stores events. One UPDATE; returns how many leads it wrote."""
    return leads.update(
        first_campaign_at=_event_touched_at(OuterRef("first_campaign_id"), Min),
        latest_campaign_at=_event_touched_at(OuterRef("latest_campaign_id"), Max),
    )


class CampaignTouches(NamedTuple):
    """A lead's first and latest campaign, each with when it touched the lead: its earliest
    (latest) event of the lead; None when it has none, as when the campaign was set from a
    page, the API or an import, which counts as the lead's creation (the first) or as when it
    was set (the latest). Lead.first_campaign_at and latest_campaign_at keep the times."""

    first_id: int | None
    first_at: datetime | None
    latest_id: int | None
    latest_at: datetime | None


def campaign_touches_after(
    held: CampaignTouches, created_at: datetime, seen: Iterable[tuple[datetime, int]]
) -> CampaignTouches:
    """The lead's campaigns after the touches ``seen`` ((occurred at, campaign), stored just
    now, in any order): the first is replaced only by an earlier touch, the latest only by a
    touch at least as late, each compared with when the campaign it holds touched the lead,
    these touches included. Events arrive late and out of order, and a visitor's come before
    it identifies. Reads nothing: the held times say when."""
    seen = list(seen)
    first_id, first_at = _touched(held.first_id, held.first_at, created_at, seen, earliest=True)
    latest_id, latest_at = _touched(held.latest_id, held.latest_at, created_at, seen, earliest=False)
    return CampaignTouches(first_id, first_at, latest_id, latest_at)


def _touched(
    held_id: int | None,
    held_at: datetime | None,
    created_at: datetime,
    seen: list[tuple[datetime, int]],
    *,
    earliest: bool,
) -> tuple[int | None, datetime | None]:
    pick = min if earliest else max
    at, campaign_id = pick(seen)  # the earliest (latest) touch; of two at once, the lower (higher) id
    if held_id is None:
        return campaign_id, at
    # When the held campaign touched the lead, its touches here included (None: it never did).
    held_at = pick([t for t in (held_at, *(t for t, c in seen if c == held_id)) if t is not None], default=None)
    compared = held_at or created_at
    if campaign_id != held_id and (at < compared if earliest else at >= compared):
        return campaign_id, at
    return held_id, held_at
