"""Campaigns: what marketing spends to bring leads in, and the UTM values that attribute them.

Writes (``campaign_create``, ``campaign_update``) and reads (``campaign_list`` …) of one
resource, in one module. Incoming leads are attributed to a campaign by their UTM triple
(``campaign_by_utm``), so no two campaigns of an organisation may share one.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date, datetime
from decimal import Decimal

from django.db import transaction
from django.db.models import Count, F, FloatField, QuerySet
from django.db.models.functions import Cast, NullIf
from django.utils import timezone

from leads.models import Campaign, Channel, Lead
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


def _by_utm(qs: QuerySet[Campaign], source: str, medium: str, campaign: str) -> QuerySet[Campaign]:
    return qs.filter(utm_source__iexact=source, utm_medium__iexact=medium, utm_campaign__iexact=campaign)


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
        clash = _by_utm(others, *utm).first()
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


def campaign_by_utm(*, org: Organization, source: str, medium: str, campaign: str) -> Campaign | None:
    """The campaign these UTM values name (exact, ignoring case and surrounding spaces), if any.

    No UTM values name no campaign: many campaigns (events, referrals) have none.
    """
    utm = (source.strip(), medium.strip(), campaign.strip())
    if not any(utm):
        return None
    return _by_utm(Campaign.objects.for_org(org), *utm).order_by("-created_at", "-id").first()
