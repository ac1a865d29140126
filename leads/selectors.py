"""Reads of leads, always for one organisation."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from itertools import chain

from django.db.models import Count, Min, Prefetch, QuerySet
from django.utils import timezone

from leads.models import ActivityEvent, Campaign, Handoff, Lead, RoutingRule, ScoreChange, StageChange, Team, TeamMember
from personas.models import Persona
from smarketing.accounts.models import Membership, Organization
from smarketing.accounts.tenancy import get_for_org

SORTS = {
    "newest": "-created_at",
    "oldest": "created_at",
    "score": "-score__total",
    "lowest_score": "score__total",
    "updated": "-updated_at",
}


@dataclass
class LeadFilters:
    """What the lead list, its API and its export filter by; empty means "any"."""

    stage: str = ""
    owner: Membership | None = None
    unowned: bool = False
    campaign: Campaign | None = None
    channel: str = ""
    persona: Persona | None = None
    score_min: int | None = None
    score_max: int | None = None
    created_from: date | None = None
    created_to: date | None = None
    search: str = ""

    def is_empty(self) -> bool:
        return not any(v not in (None, "", False) for v in vars(self).values())

    @classmethod
    def from_data(cls, data: dict, *, search_key: str = "search") -> LeadFilters:
        """From validated input (the page's form or the API's serializer); owner may be "none"."""
        owner = data.get("owner")
        return cls(
            stage=data.get("stage", ""),
            owner=owner if isinstance(owner, Membership) else None,
            unowned=owner == "none",
            campaign=data.get("campaign"),
            channel=data.get("channel", ""),
            persona=data.get("persona"),
            score_min=data.get("score_min"),
            score_max=data.get("score_max"),
            created_from=data.get("created_from"),
            created_to=data.get("created_to"),
            search=data.get(search_key, ""),
        )

    @staticmethod
    def range_errors(data: dict) -> dict[str, str]:
        """Ranges given upside down, by field: the same message on the page and in the API."""
        errors = {}
        low, high = data.get("score_min"), data.get("score_max")
        if low is not None and high is not None and low > high:
            errors["score_max"] = "The upper score is below the lower one."
        start, end = data.get("created_from"), data.get("created_to")
        if start and end and start > end:
            errors["created_to"] = "The end date is before the start date."
        return errors


def _day_start(day: date, org: Organization) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min), timezone=_tz(org))


def _tz(org: Organization):
    import zoneinfo

    return zoneinfo.ZoneInfo(org.time_zone)


def lead_list(*, org: Organization, filters: LeadFilters | None = None, order: str = "") -> QuerySet[Lead]:
    """Leads of ``org`` matching ``filters``, with what a list row shows joined in (no N+1).

    ``order`` (one of ``SORTS``' values) is the order the caller will page in: sorted by score,
    the score rows are joined (inner join) so the page walks leadscore_org_total_idx instead of
    sorting every lead; the services give every lead its score row.
    """
    f = filters or LeadFilters()
    qs = Lead.objects.for_org(org).select_related("owner__user", "persona", "first_campaign", "company", "score")
    if order.lstrip("-").startswith("score__") or f.score_min is not None or f.score_max is not None:
        # On the score row's organisation too, so the index's first column is given.
        qs = qs.filter(score__organization=org)
    if f.stage:
        qs = qs.filter(lifecycle_stage=f.stage)
    if f.unowned:
        qs = qs.filter(owner=None)
    elif f.owner is not None:
        qs = qs.filter(owner=f.owner)
    if f.campaign is not None:
        qs = qs.filter(first_campaign=f.campaign)
    if f.channel:
        qs = qs.filter(first_campaign__channel=f.channel)
    if f.persona is not None:
        qs = qs.filter(persona=f.persona)
    if f.score_min is not None:
        qs = qs.filter(score__total__gte=f.score_min)
    if f.score_max is not None:
        qs = qs.filter(score__total__lte=f.score_max)
    if f.created_from:
        qs = qs.filter(created_at__gte=_day_start(f.created_from, org))
    if f.created_to:
        qs = qs.filter(created_at__lt=_day_start(f.created_to + timedelta(days=1), org))
    if f.search:
        qs = qs.filter(search_text__contains=f.search.strip().lower())
    return qs


def lead_detail(*, org: Organization, lead_id: int) -> Lead:
    return get_for_org(
        Lead.objects.select_related(
            "owner__user", "persona", "company", "first_campaign", "latest_campaign", "score", "score_explanation_row"
        ).prefetch_related(Prefetch("persona__messages")),
        org=org,
        pk=lead_id,
    )


@dataclass(frozen=True)
class TimelineItem:
    at: datetime
    kind: str  # event, stage, score
    obj: object


def lead_timeline(*, lead: Lead, limit: int = 50) -> list[TimelineItem]:
    """The lead's newest events, stage changes and score changes, merged newest first."""
    events = lead.events.select_related("campaign").order_by("-occurred_at")[:limit]
    stages = StageChange.objects.filter(lead=lead).select_related("actor__user", "definitions_version")[:limit]
    scores = ScoreChange.objects.filter(lead=lead).select_related("scoring_model")[:limit]
    items = chain(
        (TimelineItem(e.occurred_at, "event", e) for e in events),
        (TimelineItem(s.changed_at, "stage", s) for s in stages),
        (TimelineItem(s.changed_at, "score", s) for s in scores),
    )
    return sorted(items, key=lambda i: i.at, reverse=True)[:limit]


def lead_event_count(*, lead: Lead) -> int:
    return ActivityEvent.objects.filter(lead=lead).count()


def lead_stage_counts(*, org: Organization) -> list[dict]:
    """Every lifecycle stage with its number of leads (zero included), in funnel order."""
    counts = dict(Lead.objects.for_org(org).values_list("lifecycle_stage").annotate(n=Count("id")).order_by())
    return [{"stage": stage, "label": stage.label, "count": counts.get(stage.value, 0)} for stage in Lead.Stage]


def lead_recent_list(*, org: Organization, limit: int = 10) -> QuerySet[Lead]:
    return Lead.objects.for_org(org).order_by("-created_at")[:limit]


# --- Routing and handoffs ---------------------------------------------------------------


def handoff_get(*, org: Organization, handoff_id: int) -> Handoff:
    """One handoff of ``org`` with what its pages need; another organisation's id is a 404."""
    return get_for_org(
        Handoff.objects.select_related("lead__score", "rep__user", "created_by__user", "routing_rule"),
        org=org,
        pk=handoff_id,
    )


def handoff_list(
    *, org: Organization, status: str = "", rep: Membership | None = None, lead_id: int | None = None
) -> QuerySet[Handoff]:
    """Handoffs of ``org`` (any status unless given), with the lead, rep and rule joined in (no N+1)."""
    qs = Handoff.objects.for_org(org).select_related("lead__score", "rep__user", "routing_rule")
    if status:
        qs = qs.filter(status=status)
    if rep is not None:
        qs = qs.filter(rep=rep)
    if lead_id is not None:
        qs = qs.filter(lead_id=lead_id)
    return qs


def handoff_queue(*, org: Organization, rep: Membership) -> QuerySet[Handoff]:
    """The rep's pending handoffs, soonest due first (the index handoff_rep_queue_idx)."""
    return (
        Handoff.objects.for_org(org)
        .filter(rep=rep, status=Handoff.Status.PENDING)
        .select_related("lead__company", "lead__persona", "lead__first_campaign", "lead__score")
        .order_by("due_at", "id")
    )


def handoff_pending_list(*, org: Organization, rep: Membership | None = None) -> QuerySet[Handoff]:
    """Pending handoffs of ``org`` (of one rep when given), soonest due first, with what the queue page shows."""
    handoffs = Handoff.objects.for_org(org).filter(status=Handoff.Status.PENDING)
    if rep is not None:
        handoffs = handoffs.filter(rep=rep)
    return handoffs.select_related(
        "lead__company", "lead__persona", "lead__first_campaign", "lead__score", "rep__user", "created_by__user"
    ).order_by("due_at", "id")


def handoff_queue_summary(*, org: Organization, rep: Membership) -> dict:
    """How many handoffs wait for ``rep`` and when the first is due (the overview's queue card)."""
    return (
        Handoff.objects.for_org(org)
        .filter(rep=rep, status=Handoff.Status.PENDING)
        .aggregate(pending=Count("id"), next_due=Min("due_at"))
    )


def handoff_reps(*, org: Organization) -> QuerySet[Membership]:
    """Who can be given a handoff: the organisation's sales reps and managers."""
    return (
        Membership.objects.for_org(org)
        .filter(removed_at=None, role__in=[Membership.Role.SALES_REP, Membership.Role.MANAGER])
        .select_related("user")
        .order_by("user__full_name", "user__email")
    )


def lead_handoffs(*, org: Organization, lead_id: int) -> QuerySet[Handoff]:
    """A lead's handoffs, newest first: who got it, why (the routing log) and how it ended."""
    return (
        Handoff.objects.for_org(org)
        .filter(lead_id=lead_id)
        .select_related("rep__user", "created_by__user", "routing_rule")
        .order_by("-created_at", "-id")
    )


def routing_rule_list(*, org: Organization) -> QuerySet[RoutingRule]:
    return RoutingRule.objects.for_org(org).select_related("team", "rep__user").order_by("position", "id")


def routing_rule_get(*, org: Organization, rule_id: int) -> RoutingRule:
    return get_for_org(RoutingRule.objects.select_related("team", "rep__user"), org=org, pk=rule_id)


def team_list(*, org: Organization) -> QuerySet[Team]:
    return Team.objects.for_org(org).prefetch_related(
        Prefetch("members", queryset=TeamMember.objects.select_related("membership__user"))
    )


def team_get(*, org: Organization, team_id: int) -> Team:
    return get_for_org(
        Team.objects.prefetch_related(
            Prefetch("members", queryset=TeamMember.objects.select_related("membership__user"))
        ),
        org=org,
        pk=team_id,
    )
