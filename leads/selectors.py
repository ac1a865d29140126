"""Reads of leads, always for one organisation."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from functools import cache as cache_once
from itertools import chain

from django.core.cache import cache
from django.db.models import (
    Count,
    F,
    Min,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Sum,
    TextField,
    Value,
    prefetch_related_objects,
)
from django.db.models.functions import Coalesce, JSONObject, NullIf
from django.http import Http404
from django.utils import timezone

from leads.models import (
    ActivityEvent,
    Campaign,
    Handoff,
    Lead,
    LostReason,
    Opportunity,
    ReturnReason,
    RoutingRule,
    ScoreChange,
    StageChange,
    Team,
    TeamMember,
    Touch,
)
from leads.search import lead_search
from personas.models import Persona
from smarketing.accounts.models import Membership, Organization
from smarketing.accounts.tenancy import get_for_org
from smarketing.prepared import PreparedRead

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
    # Moved to a lifecycle stage (any, when empty) on these days: the leads behind the SLA's
    # "MQLs delivered" and "SQLs accepted", counted from the stage history.
    moved_to: str = ""
    moved_since: date | None = None
    moved_until: date | None = None
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
            moved_to=data.get("moved_to", ""),
            moved_since=data.get("moved_since"),
            moved_until=data.get("moved_until"),
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
        start, end = data.get("moved_since"), data.get("moved_until")
        if start and end and start > end:
            errors["moved_until"] = "The end date is before the start date."
        return errors

    @property
    def moved(self) -> bool:
        return bool(self.moved_to or self.moved_since or self.moved_until)


def _day_start(day: date, org: Organization) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min), timezone=_tz(org))


def _tz(org: Organization):
    import zoneinfo

    return zoneinfo.ZoneInfo(org.time_zone)


def lead_list(
    *, org: Organization, filters: LeadFilters | None = None, order: str = "", related: bool = True
) -> QuerySet[Lead]:
    """Leads of ``org`` matching ``filters``, with what a list row shows joined in (no N+1).

    ``related=False`` leaves persona, first campaign and owner to the caller (the list page has
    them already, from its filter form; ``attach_list_related``).

    ``order`` (one of ``SORTS``' values) is the order the caller will page in: sorted by score,
    the score rows are joined (inner join) so the page walks leadscore_org_total_idx instead of
    sorting every lead; the services give every lead its score row.
    """
    f = filters or LeadFilters()
    # Persona, campaign and owner come in by id, a small query each, not joined: with them the
    # page's query was a seven-table join that PostgreSQL took ~11 ms to plan (1.7 ms to run)
    # at 1,000,000 leads, whatever the filter.
    qs = Lead.objects.for_org(org).select_related("company", "score")
    if related:
        qs = qs.prefetch_related(
            "persona", "first_campaign", Prefetch("owner", Membership.objects.select_related("user"))
        )
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
    if f.moved:
        qs = qs.filter(pk__in=_moved(org, f).values("lead_id"))
    if f.search:
        qs = qs.filter(lead_search(f.search))
    return qs


def attach_list_related(
    leads: list[Lead], *, org: Organization, personas: list, campaigns: list, members: list[Membership]
) -> None:
    """Give ``leads`` (from ``lead_list(related=False)``) their persona, first campaign and owner
    from objects the caller has read already, reading by id only those it lacks (a removed
    member who still owns leads): the list page's filter form reads all three for its selects."""
    for attr, model, known in (
        ("persona", Persona, personas),
        ("first_campaign", Campaign, campaigns),
        ("owner", Membership, members),
    ):
        by_id = {obj.pk: obj for obj in known}
        missing = {getattr(lead, f"{attr}_id") for lead in leads} - by_id.keys() - {None}
        if missing:
            extra = model.objects.for_org(org).filter(pk__in=missing)
            by_id |= {obj.pk: obj for obj in (extra.select_related("user") if model is Membership else extra)}
        for lead in leads:
            obj_id = getattr(lead, f"{attr}_id")
            if obj_id is not None:
                setattr(lead, attr, by_id.get(obj_id))


def _moved(org: Organization, f: LeadFilters) -> QuerySet[StageChange]:
    """The stage changes ``f.moved_*`` asks for (index stagechange_org_to_idx when a stage is given)."""
    moves = StageChange.objects.filter(organization=org)
    if f.moved_to:
        moves = moves.filter(to_stage=f.moved_to)
    if f.moved_since:
        moves = moves.filter(changed_at__gte=_day_start(f.moved_since, org))
    if f.moved_until:
        moves = moves.filter(changed_at__lt=_day_start(f.moved_until + timedelta(days=1), org))
    return moves


# The lead page's reads, SQL built once per process and prepared once per connection
# (smarketing.prepared): building the eight-table select took Django ~1.5 ms and planning it
# PostgreSQL ~1.4 ms, on every lead page (bench/lead_list.py).
_lead_with_relations = PreparedRead(
    lambda org, lead_id: (
        Lead.objects.for_org(org)
        .select_related(
            "owner__user", "persona", "company", "first_campaign", "latest_campaign", "score", "score_explanation_row"
        )
        .filter(pk=lead_id)
        .order_by()
    ),
    org=Organization,
    lead_id=int,
)
MAX_ID = 2**63 - 1  # bigint: a larger id in a URL names no lead


def lead_detail(*, org: Organization, lead_id: int) -> Lead:
    """The lead of ``org`` with what its page shows joined in; another organisation's id and a
    missing one are the same 404 (as ``get_for_org``)."""
    found = _lead_with_relations(org=org, lead_id=lead_id) if 0 < lead_id <= MAX_ID else []
    if not found:
        raise Http404("No lead matches the given query.")
    lead = found[0]
    lead.organization = org
    prefetch_related_objects([lead], "persona__messages")
    return lead


@dataclass(frozen=True)
class TimelineItem:
    at: datetime
    kind: str  # event, stage, score
    obj: object


TIMELINE_LIMIT = 50
# The lead's newest events, stage changes and score changes (each read once per page).
_timeline_reads = [
    PreparedRead(lambda lead, b=build: b(lead)[:TIMELINE_LIMIT], lead=Lead)
    for build in (
        lambda lead: ActivityEvent.objects.filter(lead=lead).select_related("campaign").order_by("-occurred_at"),
        lambda lead: StageChange.objects.filter(lead=lead).select_related("actor__user", "definitions_version"),
        lambda lead: ScoreChange.objects.filter(lead=lead).select_related("scoring_model"),
    )
]


def lead_timeline(*, lead: Lead, touches: list[Touch] | None = None) -> list[TimelineItem]:
    """The lead's newest touches, events, stage changes and score changes (``TIMELINE_LIMIT``),
    merged newest first.

    ``touches``: the lead's newest touches when the caller has read them already (``lead_touches``).
    """
    events, stages, scores = (read(lead=lead) for read in _timeline_reads)
    if touches is None:
        touches = lead_touches(org=lead.organization, lead_id=lead.pk)
    items = chain(
        (TimelineItem(t.occurred_at, "touch", t) for t in touches),
        (TimelineItem(e.occurred_at, "event", e) for e in events),
        (TimelineItem(s.changed_at, "stage", s) for s in stages),
        (TimelineItem(s.changed_at, "score", s) for s in scores),
    )
    return sorted(items, key=lambda i: i.at, reverse=True)[:TIMELINE_LIMIT]


def lead_event_count(*, lead: Lead) -> int:
    return ActivityEvent.objects.filter(lead=lead).count()


# The overview's leads-by-stage chart. Counting is a scan of every lead of the organisation (an
# aggregate over ~1,000,000 rows takes hundreds of ms), so a large organisation's counts are kept
# in the cache: shown as they are for STAGE_COUNTS_FRESH_S, then still shown while a Celery task
# counts again (at most one at a time per organisation). A small organisation is counted every time.
STAGE_COUNTS_CACHE_FROM = 20_000  # leads; counting fewer took ~5 ms (bench/README.md)
STAGE_COUNTS_FRESH_S = 60
STAGE_COUNTS_KEEP_S = 24 * 3600  # an organisation nobody looks at drops out of the cache


def _stage_counts_key(org_id: int) -> str:
    return f"leads:stage-counts:{org_id}"


def lead_stage_counts(*, org: Organization) -> list[dict]:
    """Every lifecycle stage with its number of leads (zero included), in funnel order.

    Exact for an organisation of fewer than ``STAGE_COUNTS_CACHE_FROM`` leads; a larger one's
    counts may be up to ``STAGE_COUNTS_FRESH_S`` seconds old (plus the time a recount takes).
    """
    try:
        entry = cache.get(_stage_counts_key(org.pk))
    except Exception:  # the cache is an optimisation: unreachable, count now
        entry = None
    if entry is None:
        counts = lead_stage_counts_refresh(org=org)
    else:
        counted_at, counts = entry
        if timezone.now().timestamp() - counted_at > STAGE_COUNTS_FRESH_S:
            _stage_counts_recount_soon(org.pk)
    return [{"stage": stage, "label": stage.label, "count": counts.get(stage.value, 0)} for stage in Lead.Stage]


def lead_stage_counts_refresh(*, org: Organization) -> dict[str, int]:
    """Count the organisation's leads by stage now; keep the counts in the cache when it is large
    (``recount_lead_stages``, queued when they aged, calls this)."""
    counted_at = timezone.now().timestamp()
    counts = dict(Lead.objects.for_org(org).values_list("lifecycle_stage").annotate(n=Count("id")).order_by())
    key = _stage_counts_key(org.pk)
    try:
        if sum(counts.values()) >= STAGE_COUNTS_CACHE_FROM:
            cache.set(key, (counted_at, counts), STAGE_COUNTS_KEEP_S)
        else:
            cache.delete(key)
        cache.delete(key + ":recounting")
    except Exception:  # noqa: S110 - the cache is an optimisation
        pass
    return counts


def _stage_counts_recount_soon(org_id: int) -> None:
    from leads.tasks import recount_lead_stages

    try:
        if not cache.add(_stage_counts_key(org_id) + ":recounting", 1, STAGE_COUNTS_FRESH_S):
            return  # a recount is queued or running
    except Exception:
        return  # the cache is unreachable: the counts it holds are not read either
    recount_lead_stages.delay(org_id)


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
    """The rep's open (pending or breached) handoffs, soonest due first (index handoff_rep_queue_idx)."""
    return (
        Handoff.objects.for_org(org)
        .filter(rep=rep, status__in=Handoff.OPEN)
        .select_related("lead__company", "lead__persona", "lead__first_campaign", "lead__score")
        .order_by("due_at", "id")
    )


def handoff_pending_list(*, org: Organization, rep: Membership | None = None) -> QuerySet[Handoff]:
    """Open (pending or breached) handoffs of ``org`` (of one rep when given), soonest due first,
    with what the queue page shows of each one's lead as annotations:

    ``lead_email``, ``lead_first_name``, ``lead_last_name``, ``lead_company_name`` (as entered),
    ``company_name`` (the resolved company's), ``persona_name``, ``campaign_name`` (first touch),
    ``score_total`` (None without a score row); ``qualified``: why the lead qualified, its latest
    move to MQL up to the handoff (the scoring rule, e.g. "scoring v2: fast lane: demo_request",
    or a person's reason); ``last_event``: its newest activity, ``{"type": ..., "at": ...}`` (read
    it with ``last_event_of``). The rep and the sender are not joined (``handoff_people``).
    """
    handoffs = _pending_base().for_org(org)
    if rep is not None:
        handoffs = handoffs.filter(rep=rep)
    return handoffs


@cache_once
def _pending_base() -> QuerySet[Handoff]:
    """The queue's query, built once per process and copied by each page (never evaluated itself).

    Measured on bench/rep_queue.py (bench/README.md): building and compiling the query, turning
    its rows into model instances and planning its joins were most of the page. So the lead's
    fields are plain annotations (one model instance a row, not up to six), the two facts about
    the lead's history are one subquery each (a subquery per column took four), and the rep and
    sender are read apart (with them the query joined ten tables and took ~4 ms to plan).
    """
    moved = StageChange.objects.filter(
        lead=OuterRef("lead_id"), to_stage=Lead.Stage.MQL, changed_at__lte=OuterRef("created_at")
    ).order_by("-changed_at", "-id")
    last = ActivityEvent.objects.filter(lead=OuterRef("lead_id")).order_by("-occurred_at")
    return (
        Handoff.objects.filter(status__in=Handoff.OPEN)
        .only("organization", "lead", "rep", "status", "created_at", "due_at", "first_touch_at", "note", "created_by")
        .annotate(
            lead_email=F("lead__email"),
            lead_first_name=F("lead__first_name"),
            lead_last_name=F("lead__last_name"),
            lead_company_name=F("lead__company_name"),
            company_name=F("lead__company__name"),
            persona_name=F("lead__persona__name"),
            campaign_name=F("lead__first_campaign__name"),
            score_total=F("lead__score__total"),
            qualified=Subquery(
                moved.values(why=Coalesce(NullIf("rule", Value("")), "reason", output_field=TextField()))[:1]
            ),
            last_event=Subquery(last.values(event=JSONObject(type="event_type", at="occurred_at"))[:1]),
        )
        .order_by("due_at", "id")
    )


def last_event_of(handoff: Handoff) -> tuple[str, datetime] | None:
    """``(event type, when)`` of the lead's newest activity as ``handoff_pending_list`` read it."""
    event = getattr(handoff, "last_event", None)
    if not event:
        return None
    at = datetime.fromisoformat(event["at"])
    return event["type"], at if at.tzinfo is not None else at.replace(tzinfo=UTC)  # SQLite keeps UTC, naive


def handoff_people(handoffs: list[Handoff], *, org: Organization, known: Membership | None = None) -> list[Handoff]:
    """Give ``handoffs`` their rep, and the sender (``created_by``) of those with a note (the queue
    names who wrote it), each with its user, read in one query; none when every one is ``known``
    (a membership used as it is, e.g. the rep whose queue it is, whose user is not shown)."""
    by_id = {known.pk: known} if known is not None else {}
    ids = {h.rep_id for h in handoffs} | {h.created_by_id for h in handoffs if h.created_by_id and h.note}
    if ids - by_id.keys():
        people = Membership.objects.for_org(org).filter(pk__in=ids - by_id.keys()).select_related("user")
        by_id |= {m.pk: m for m in people.only("organization", "role", "removed_at", "user__full_name", "user__email")}
    for handoff in handoffs:
        if handoff.rep_id in by_id:
            handoff.rep = by_id[handoff.rep_id]
        if handoff.created_by_id in by_id:
            handoff.created_by = by_id[handoff.created_by_id]
    return handoffs


def handoff_queue_summary(*, org: Organization, rep: Membership) -> dict:
    """How many handoffs wait for ``rep`` and when the first is due (the overview's queue card)."""
    return (
        Handoff.objects.for_org(org)
        .filter(rep=rep, status__in=Handoff.OPEN)
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


# The lead page's other reads, SQL built once per process as its lead's (``lead_detail``).
_lead_handoffs = PreparedRead(
    lambda org, lead_id: (
        Handoff.objects.for_org(org)
        .filter(lead_id=lead_id)
        .select_related("rep__user", "created_by__user", "routing_rule")
        .order_by("-created_at", "-id")
    ),
    org=Organization,
    lead_id=int,
)


def lead_handoffs(*, org: Organization, lead_id: int) -> list[Handoff]:
    """A lead's handoffs, newest first: who got it, why (the routing log) and how it ended."""
    return _lead_handoffs(org=org, lead_id=lead_id)


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


# --- Touches, opportunities and the closed loop -----------------------------------------


_lead_touches = PreparedRead(
    lambda org, lead_id: (
        Touch.objects.for_org(org)
        .filter(lead_id=lead_id)
        .select_related("rep__user", "content")
        .order_by("-occurred_at", "-id")[:TIMELINE_LIMIT]
    ),
    org=Organization,
    lead_id=int,
)


def lead_touches(*, org: Organization, lead_id: int) -> list[Touch]:
    """A lead's newest touches (``TIMELINE_LIMIT``), with the rep and any content shared."""
    return _lead_touches(org=org, lead_id=lead_id)


_lead_opportunities = PreparedRead(
    lambda org, lead_id: (
        Opportunity.objects.for_org(org)
        .filter(lead_id=lead_id)
        .select_related("owner__user")
        .order_by("-created_at", "-id")
    ),
    org=Organization,
    lead_id=int,
)


def lead_opportunities(*, org: Organization, lead_id: int) -> list[Opportunity]:
    return _lead_opportunities(org=org, lead_id=lead_id)


def opportunity_get(*, org: Organization, opportunity_id: int) -> Opportunity:
    """One opportunity of ``org``; another organisation's id is a 404."""
    return get_for_org(
        Opportunity.objects.select_related("lead__company", "owner__user", "created_by__user", "organization"),
        org=org,
        pk=opportunity_id,
    )


def opportunity_list(
    *,
    org: Organization,
    status: str = "",
    owner: Membership | None = None,
    lead_id: int | None = None,
    team: Team | None = None,
    closed_from: date | None = None,
    closed_to: date | None = None,
) -> QuerySet[Opportunity]:
    """Opportunities of ``org`` with the lead and owner joined in (no N+1), newest first.

    ``team``: owned by one of its members; ``closed_from`` / ``closed_to``: won or lost on
    those days (inclusive), as the SLA's won revenue counts them.
    """
    qs = Opportunity.objects.for_org(org).select_related("lead__company", "owner__user")
    if status:
        qs = qs.filter(status=status)
    if owner is not None:
        qs = qs.filter(owner=owner)
    if lead_id is not None:
        qs = qs.filter(lead_id=lead_id)
    if team is not None:
        qs = qs.filter(owner__in=TeamMember.objects.filter(team=team).values("membership_id"))
    if closed_from is not None:
        qs = qs.filter(close_date__gte=closed_from)
    if closed_to is not None:
        qs = qs.filter(close_date__lte=closed_to)
    return qs.order_by("-created_at", "-id")


def pipeline_summary(*, org: Organization, owner: Membership | None = None) -> list[dict]:
    """Open deals per pipeline stage, in the pipeline's order: count and amount (zeros included)."""
    qs = Opportunity.objects.for_org(org).filter(status=Opportunity.Status.OPEN)
    if owner is not None:
        qs = qs.filter(owner=owner)
    rows = {r["stage"]: r for r in qs.values("stage").annotate(n=Count("id"), amount=Sum("amount")).order_by()}
    stages = list(org.pipeline_stages) + [s for s in rows if s not in org.pipeline_stages]
    return [
        {"stage": s, "count": rows.get(s, {}).get("n", 0), "amount": rows.get(s, {}).get("amount") or 0} for s in stages
    ]


def with_sales_outcome(leads: QuerySet[Lead]) -> QuerySet[Lead]:
    """Annotate each lead with what sales did: its latest handoff (status, return reason), its
    number of touches, and its latest deal (status, amount, lost reason). One query, any page size."""
    handoff = Handoff.objects.filter(lead=OuterRef("pk")).exclude(status=Handoff.Status.REASSIGNED)
    handoff = handoff.order_by("-created_at", "-id")
    deal = Opportunity.objects.filter(lead=OuterRef("pk")).order_by("-created_at", "-id")
    touches = Touch.objects.filter(lead=OuterRef("pk")).order_by().values("lead").annotate(n=Count("id")).values("n")
    return leads.annotate(
        handoff_status=Subquery(handoff.values("status")[:1]),
        handoff_return_reason=Subquery(handoff.values("return_reason")[:1]),
        touch_count=Coalesce(Subquery(touches), 0),
        deal_status=Subquery(deal.values("status")[:1]),
        deal_amount=Subquery(deal.values("amount")[:1]),
        deal_lost_reason=Subquery(deal.values("lost_reason")[:1]),
    )


@dataclass
class ClosedLoop:
    """What sales did with the leads a campaign brought in, and the revenue credited to it."""

    handoffs: dict[str, int]  # status → count (reassigned ones left out: the new one counts)
    return_reasons: list[tuple[str, int]]  # label, count; most frequent first
    deals: dict[str, dict]  # status → {"count", "amount"}
    lost_reasons: list[tuple[str, int]]
    touches: int
    revenue: dict[str, Decimal]  # attribution model → amount credited to the campaign

    @property
    def handed_off(self) -> int:
        return sum(self.handoffs.values())


def campaign_closed_loop(*, campaign: Campaign) -> ClosedLoop:
    """The closed loop of one campaign: a handful of grouped queries, whatever its size."""
    from reporting.attribution import campaign_revenue

    org_id = campaign.organization_id
    handoffs = Handoff.objects.filter(organization_id=org_id, lead__first_campaign=campaign).exclude(
        status=Handoff.Status.REASSIGNED
    )
    deals = Opportunity.objects.filter(organization_id=org_id, lead__first_campaign=campaign)
    by_status = dict(handoffs.values_list("status").annotate(n=Count("id")).order_by())
    reasons = handoffs.filter(status=Handoff.Status.RETURNED).values_list("return_reason").annotate(n=Count("id"))
    lost = deals.filter(status=Opportunity.Status.LOST).values_list("lost_reason").annotate(n=Count("id"))
    deal_rows = deals.values("status").annotate(n=Count("id"), amount=Sum("amount")).order_by()
    return ClosedLoop(
        handoffs=by_status,
        return_reasons=[(ReturnReason(r).label, n) for r, n in reasons.order_by("-n", "return_reason")],
        deals={r["status"]: {"count": r["n"], "amount": r["amount"]} for r in deal_rows},
        lost_reasons=[(LostReason(r).label, n) for r, n in lost.order_by("-n", "lost_reason")],
        touches=Touch.objects.filter(organization_id=org_id, lead__first_campaign=campaign).count(),
        revenue=campaign_revenue(org=campaign.organization, campaign_ids=[campaign.pk]).get(campaign.pk, {}),
    )


def recent_wins(*, org: Organization, days: int = 30, limit: int = 5) -> QuerySet[Opportunity]:
    """Deals won in the last ``days``, newest first: the celebration both teams see on the overview."""
    since = timezone.localdate() - timedelta(days=days)
    return (
        Opportunity.objects.for_org(org)
        .filter(status=Opportunity.Status.WON, close_date__gte=since)
        .select_related("lead__first_campaign", "owner__user")
        .order_by("-close_date", "-closed_at")[:limit]
    )


# --- Handoff history: every handoff, filtered as the SLA's figures count them ------------

NOT_REASSIGNED = "current"  # a status filter: every handoff but those replaced by a reassignment

# The response filters, as ``sla.compliance`` counts a handoff: decided once touched or past due.
FIRST_TOUCH = {
    "decided": "Decided (touched, or past due)",
    "touched": "Touched",
    "within": "Touched within the window",
    "missed": "Touched late, or not at all and past due",
}
ATTEMPTS = {
    "due": "Counted (the days are over, or enough attempts)",
    "met": "Enough attempts",
    "short": "Too few attempts",
}


@dataclass
class HandoffFilters:
    """What the handoff list filters by; empty means "any". Days are in the organisation's time zone.

    The SLA's figures link to the list with the filters that select exactly the handoffs they
    count: ``counted`` leaves out those a manager moved before they breached (held against
    nobody); ``ended_*`` is "accepted or returned on these days"; ``attempts`` compares the
    attempts (touches but notes) within ``attempts_days`` of the handoff with ``attempts_min``.
    """

    status: str = ""  # a Handoff.Status, or NOT_REASSIGNED
    rep: Membership | None = None
    team: Team | None = None
    created_from: date | None = None
    created_to: date | None = None
    ended_from: date | None = None
    ended_to: date | None = None
    counted: bool = False
    first_touch: str = ""  # a key of FIRST_TOUCH
    attempts: str = ""  # a key of ATTEMPTS; needs attempts_min and attempts_days
    attempts_min: int | None = None
    attempts_days: int | None = None

    @property
    def has_period(self) -> bool:
        """Bounded by days on both ends: small enough to add up in one query."""
        return bool((self.created_from and self.created_to) or (self.ended_from and self.ended_to))

    @staticmethod
    def errors(data: dict) -> dict[str, str]:
        errors = {}
        for low, high in (("created_from", "created_to"), ("ended_from", "ended_to")):
            if data.get(low) and data.get(high) and data[low] > data[high]:
                errors[high] = "The end date is before the start date."
        if data.get("attempts") and not (data.get("attempts_min") and data.get("attempts_days")):
            errors["attempts"] = "Give the number of attempts and the days they are due within."
        return errors


def _day_range(field: str, start: date | None, end: date | None, org: Organization) -> dict:
    lookups = {}
    if start:
        lookups[f"{field}__gte"] = _day_start(start, org)
    if end:
        lookups[f"{field}__lt"] = _day_start(end + timedelta(days=1), org)
    return lookups


def handoff_first_touch_q(kind: str, *, now: datetime) -> Q:
    """Handoffs decided (touched, or untouched past due), touched, touched within their window, or not."""
    past_due = Q(first_touch_at=None, due_at__lte=now)
    return {
        "decided": Q(first_touch_at__isnull=False) | past_due,
        "touched": Q(first_touch_at__isnull=False),
        "within": Q(first_touch_at__lte=F("due_at")),
        "missed": Q(first_touch_at__gt=F("due_at")) | past_due,
    }[kind]


def handoffs_held_against_reps(handoffs: QuerySet[Handoff]) -> QuerySet[Handoff]:
    """``handoffs`` but those a manager reassigned before they breached: those count against
    nobody (the SLA's figures and the lists they link to)."""
    return handoffs.exclude(status=Handoff.Status.REASSIGNED, breached_at=None)


def with_attempts(handoffs: QuerySet[Handoff], *, days: int) -> QuerySet[Handoff]:
    """``handoffs`` annotated with ``attempts``: their touches but notes within ``days`` of the
    handoff (one subquery a row; the SLA's attempts commitment)."""
    window = timedelta(days=days)
    attempts = (
        Touch.objects.filter(handoff=OuterRef("pk"), occurred_at__lte=OuterRef("created_at") + window)
        .exclude(kind=Touch.Kind.NOTE)
        .order_by()
        .values("handoff")
        .annotate(n=Count("id"))
        .values("n")
    )
    return handoffs.annotate(attempts=Coalesce(Subquery(attempts), 0))


def handoff_history(*, org: Organization, filters: HandoffFilters | None = None, now: datetime) -> QuerySet[Handoff]:
    """Handoffs of ``org`` matching ``filters``, with the lead and rep joined in (no N+1).

    Given ``attempts_days``, each handoff is annotated with ``attempts``: its touches but notes
    within that many days of it (one subquery, as ``sla.compliance`` counts them).
    """
    f = filters or HandoffFilters()
    qs = Handoff.objects.for_org(org).select_related("lead", "rep__user")
    if f.status == NOT_REASSIGNED:
        qs = qs.exclude(status=Handoff.Status.REASSIGNED)
    elif f.status:
        qs = qs.filter(status=f.status)
    if f.rep is not None:
        qs = qs.filter(rep=f.rep)
    if f.team is not None:
        qs = qs.filter(rep__in=TeamMember.objects.filter(team=f.team).values("membership_id"))
    qs = qs.filter(**_day_range("created_at", f.created_from, f.created_to, org))
    if f.ended_from or f.ended_to:
        accepted = _day_range("accepted_at", f.ended_from, f.ended_to, org)
        returned = _day_range("returned_at", f.ended_from, f.ended_to, org)
        qs = qs.filter(Q(status=Handoff.Status.ACCEPTED, **accepted) | Q(status=Handoff.Status.RETURNED, **returned))
    if f.counted:
        qs = handoffs_held_against_reps(qs)
    if f.first_touch:
        qs = qs.filter(handoff_first_touch_q(f.first_touch, now=now))
    if f.attempts_days:
        window = timedelta(days=f.attempts_days)
        qs = with_attempts(qs, days=f.attempts_days)
        if f.attempts and f.attempts_min:
            enough = Q(attempts__gte=f.attempts_min)
            over = Q(created_at__lte=now - window)
            qs = qs.filter({"due": over | enough, "met": enough, "short": over & ~enough}[f.attempts])
    return qs


def handoff_history_summary(*, handoffs: QuerySet[Handoff], filters: HandoffFilters) -> dict:
    """How many of ``handoffs`` there are, touched within their window, accepted, returned and
    (given ``attempts_min``) with enough attempts: one query."""
    counts = {
        "total": Count("id"),
        "within": Count("id", filter=Q(first_touch_at__lte=F("due_at"))),
        "accepted": Count("id", filter=Q(status=Handoff.Status.ACCEPTED)),
        "returned": Count("id", filter=Q(status=Handoff.Status.RETURNED)),
    }
    if filters.attempts_days and filters.attempts_min:
        counts["attempts_met"] = Count("id", filter=Q(attempts__gte=filters.attempts_min))
    return handoffs.order_by().aggregate(**counts)
