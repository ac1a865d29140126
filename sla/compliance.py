"""Live compliance with an agreement: each side's commitment against what has happened so far.

Marketing: MQLs and SQLs delivered in the period against the targets and against the
pro-rated pace for today; the acceptance rate of the handoffs sales ended. Sales: the share
of handoffs first touched within the response window, median and p90 response time in
business hours, and attempts (M touches within D days). Both: won revenue against the
target. Overall, per rep and per team. A team's agreement counts its reps' handoffs and deals.

Each figure links to the records behind it (``Figure.url``): the lead list filtered by "moved
to MQL/SQL on these days", the handoff list (``leads.handoff_list_views``) or the deals, with
the filters that select exactly what the figure counts.

A handoff counts for the response figures once it is decided: touched, or past due. A
handoff a manager reassigned before it breached is not held against anyone.
"""

from __future__ import annotations

import math
import zoneinfo
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from urllib.parse import urlencode

from django.db.models import Count, F, Q, QuerySet, Sum
from django.urls import reverse
from django.utils import timezone

from leads.models import Handoff, Lead, Opportunity, StageChange, TeamMember
from leads.selectors import NOT_REASSIGNED, handoffs_held_against_reps, with_attempts
from sla.models import Agreement
from smarketing.accounts.models import Membership
from smarketing.business_time import calendar_for


@dataclass(frozen=True)
class Link:
    """The list of the records a figure counts: a page (its URL name) and the filters for it."""

    page: str
    query: tuple[tuple[str, str], ...]

    @classmethod
    def to(cls, page: str, **query: object) -> Link:
        return cls(page, tuple((k, str(v)) for k, v in query.items() if v is not None))

    @property
    def url(self) -> str:
        return f"{reverse(self.page)}?{urlencode(self.query)}"


@dataclass
class Figure:
    """A number against what was promised: ``actual`` of ``target``, with the counts behind it."""

    label: str
    actual: float
    target: float | None = None
    pace: float | None = None  # where ``actual`` should be by now, pro rata
    unit: str = ""
    numerator: int | None = None
    denominator: int | None = None
    higher_is_better: bool = True
    has_data: bool = True  # False: nothing to measure yet (no handoff decided, no response timed)
    link: Link | None = None  # the records behind it

    @property
    def url(self) -> str:
        return self.link.url if self.link else ""

    @property
    def met(self) -> bool | None:
        if self.target is None or not self.has_data:
            return None
        return self.actual >= self.target if self.higher_is_better else self.actual <= self.target

    @property
    def on_pace(self) -> bool | None:
        if self.pace is None:
            return None
        return self.actual >= self.pace

    @property
    def percent_of_target(self) -> int | None:
        if not self.target:
            return None
        return min(100, round(100 * self.actual / self.target))


@dataclass
class RepFigures:
    rep: Membership
    handoffs: int = 0
    decided: int = 0
    in_window: int = 0
    accepted: int = 0
    returned: int = 0
    attempts_due: int = 0
    attempts_met: int = 0
    hours: list[float] = field(default_factory=list)
    # The handoff list's filters for this rep's (or team's) handoffs of the period; empty: no links.
    query: dict[str, object] = field(default_factory=dict)

    def _url(self, **extra: object) -> str:
        if not self.query:
            return ""
        query = self.query | extra
        back = query.pop("back", None)
        return Link.to("handoffs:history", **query, back=back).url

    @property
    def handoffs_url(self) -> str:
        return self._url()

    @property
    def decided_url(self) -> str:
        return self._url(first_touch="decided")

    @property
    def touched_url(self) -> str:
        return self._url(first_touch="touched")

    @property
    def attempts_url(self) -> str:
        return self._url(attempts="due")

    @property
    def accepted_url(self) -> str:
        return self._url(status=Handoff.Status.ACCEPTED)

    @property
    def returned_url(self) -> str:
        return self._url(status=Handoff.Status.RETURNED)

    @property
    def in_window_percent(self) -> int | None:
        return round(100 * self.in_window / self.decided) if self.decided else None

    @property
    def attempts_percent(self) -> int | None:
        return round(100 * self.attempts_met / self.attempts_due) if self.attempts_due else None

    @property
    def median_hours(self) -> float | None:
        return _percentile(self.hours, 50)


@dataclass
class Compliance:
    agreement: Agreement
    now: datetime
    elapsed: float  # share of the period gone, 0–1
    marketing: list[Figure]
    sales: list[Figure]
    revenue: Figure
    reps: list[RepFigures]
    teams: list[tuple[str, RepFigures]]


def _percentile(values: list[float], p: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[max(1, math.ceil(p / 100 * len(ordered))) - 1], 1)


def period_range(agreement: Agreement) -> tuple[datetime, datetime]:
    """The period as instants: from its first day's midnight to the midnight after its last, local."""
    tz = zoneinfo.ZoneInfo(agreement.organization.time_zone)
    start = datetime.combine(agreement.starts_on, time(0), tzinfo=tz)
    end = datetime.combine(agreement.ends_on + timedelta(days=1), time(0), tzinfo=tz)
    return start, end


def _scoped(qs: QuerySet, agreement: Agreement, rep_field: str) -> QuerySet:
    if agreement.team_id is None:
        return qs
    members = TeamMember.objects.filter(team_id=agreement.team_id).values("membership_id")
    return qs.filter(**{f"{rep_field}__in": members})


def compliance(agreement: Agreement, *, now: datetime | None = None) -> Compliance:
    now = now or timezone.now()
    org = agreement.organization
    start, end = period_range(agreement)
    elapsed = min(1.0, max(0.0, (now - start) / (end - start)))
    handoffs = _scoped(Handoff.objects.for_org(org), agreement, "rep_id")
    links = _Links(agreement)

    # Marketing: what it delivered (a team's agreement: the handoffs its reps got and accepted).
    if agreement.team_id is None:
        moved = StageChange.objects.filter(organization=org, changed_at__gte=start, changed_at__lt=end)
        mqls = moved.filter(to_stage=Lead.Stage.MQL).values("lead_id").distinct().count()
        sqls = moved.filter(to_stage=Lead.Stage.SQL).values("lead_id").distinct().count()
    else:
        made = handoffs.filter(created_at__gte=start, created_at__lt=end).exclude(status=Handoff.Status.REASSIGNED)
        mqls = made.count()
        sqls = handoffs.filter(accepted_at__gte=start, accepted_at__lt=end).count()
    ended = handoffs.filter(
        Q(accepted_at__gte=start, accepted_at__lt=end) | Q(returned_at__gte=start, returned_at__lt=end)
    ).aggregate(
        accepted=Count("id", filter=Q(status=Handoff.Status.ACCEPTED)),
        returned=Count("id", filter=Q(status=Handoff.Status.RETURNED)),
    )
    ended_total = ended["accepted"] + ended["returned"]
    marketing = []
    if agreement.mql_target:
        marketing.append(
            Figure(
                "MQLs delivered",
                mqls,
                agreement.mql_target,
                agreement.mql_target * elapsed,
                link=links.moved(Lead.Stage.MQL),
            )
        )
    if agreement.sql_target:
        marketing.append(
            Figure(
                "SQLs accepted",
                sqls,
                agreement.sql_target,
                agreement.sql_target * elapsed,
                link=links.moved(Lead.Stage.SQL),
            )
        )
    marketing.append(
        Figure(
            "Acceptance rate",
            round(100 * ended["accepted"] / ended_total, 1) if ended_total else 0,
            agreement.min_acceptance_percent,
            unit="%",
            numerator=ended["accepted"],
            denominator=ended_total,
            has_data=bool(ended_total),
            link=links.handoffs(ended_from=agreement.starts_on, ended_to=agreement.ends_on),
        )
    )

    # Sales: response and attempts, per rep.
    per_rep = _rep_figures(agreement, handoffs, start, end, now, links)
    decided = sum(r.decided for r in per_rep.values())
    in_window = sum(r.in_window for r in per_rep.values())
    hours = [h for r in per_rep.values() for h in r.hours]
    attempts_due = sum(r.attempts_due for r in per_rep.values())
    attempts_met = sum(r.attempts_met for r in per_rep.values())
    sales = [
        Figure(
            f"First touch within {agreement.response_hours} business hours",
            round(100 * in_window / decided, 1) if decided else 0,
            100,
            unit="%",
            numerator=in_window,
            denominator=decided,
            has_data=bool(decided),
            link=links.handoffs(**links.held, first_touch="decided"),
        ),
        _hours_figure("Median response", _percentile(hours, 50), agreement.response_hours, links.touched),
        _hours_figure("p90 response", _percentile(hours, 90), agreement.response_hours, links.touched),
        Figure(
            f"{agreement.attempts_min} attempts within {agreement.attempts_days} days",
            round(100 * attempts_met / attempts_due, 1) if attempts_due else 0,
            100,
            unit="%",
            numerator=attempts_met,
            denominator=attempts_due,
            has_data=bool(attempts_due),
            link=links.handoffs(**links.held, **links.attempts, attempts="due"),
        ),
    ]

    won = _scoped(
        Opportunity.objects.for_org(org).filter(
            status=Opportunity.Status.WON, close_date__gte=agreement.starts_on, close_date__lte=agreement.ends_on
        ),
        agreement,
        "owner_id",
    ).aggregate(total=Sum("amount"), n=Count("id"))
    revenue = Figure(
        "Won revenue",
        float(won["total"] or Decimal(0)),
        float(agreement.revenue_target),
        float(agreement.revenue_target) * elapsed,
        unit=org.currency,
        numerator=won["n"],
        link=links.won(),
    )
    reps = sorted(per_rep.values(), key=lambda r: str(r.rep.user))
    return Compliance(agreement, now, elapsed, marketing, sales, revenue, reps, _team_figures(per_rep, links))


class _Links:
    """The lists behind one agreement's figures, each filtered to its period and scope."""

    def __init__(self, agreement: Agreement) -> None:
        self.agreement = agreement
        self.back = reverse("sla:agreement_detail", args=[agreement.pk])
        self.made = {"created_from": agreement.starts_on, "created_to": agreement.ends_on}
        self.attempts = {"attempts_min": agreement.attempts_min, "attempts_days": agreement.attempts_days}
        # The response and attempt figures: the handoffs made in the period but those a manager
        # moved before they breached.
        self.held = {"counted": 1} | self.made
        self.touched = self.handoffs(**self.held, first_touch="touched")

    def handoffs(self, **filters: object) -> Link:
        return Link.to("handoffs:history", team=self.agreement.team_id, **filters, back=self.back)

    def moved(self, stage: str) -> Link:
        """The leads moved to ``stage`` in the period; a team's agreement counts its reps' handoffs."""
        a = self.agreement
        if a.team_id is None:
            return Link.to(
                "leads:lead_list", moved_to=stage, moved_since=a.starts_on, moved_until=a.ends_on, back=self.back
            )
        if stage == Lead.Stage.MQL:
            return self.handoffs(**self.made, status=NOT_REASSIGNED)
        return self.handoffs(status=Handoff.Status.ACCEPTED, ended_from=a.starts_on, ended_to=a.ends_on)

    def won(self) -> Link:
        a = self.agreement
        return Link.to(
            "deals:pipeline",
            owner="",  # everyone's, also for a rep (whose list shows their own by default)
            team=a.team_id,
            status=Opportunity.Status.WON,
            closed_from=a.starts_on,
            closed_to=a.ends_on,
            back=self.back,
        )

    def rep_query(self, **scope: object) -> dict[str, object]:
        """A rep's (or team's) handoffs of the period as their row counts them."""
        query = {"team": self.agreement.team_id} | scope
        return query | self.held | self.attempts | {"back": self.back}


def _hours_figure(label: str, hours: float | None, window: int, link: Link) -> Figure:
    """A response time in business hours; lower is better, the window is the most it may be."""
    return Figure(label, hours or 0, window, unit="h", higher_is_better=False, has_data=hours is not None, link=link)


def _rep_figures(
    agreement: Agreement, handoffs: QuerySet, start: datetime, end: datetime, now: datetime, links: _Links
) -> dict[int, RepFigures]:
    calendar = calendar_for(agreement.organization)
    window = timedelta(days=agreement.attempts_days)
    made = handoffs_held_against_reps(handoffs.filter(created_at__gte=start, created_at__lt=end))
    rows = with_attempts(made, days=agreement.attempts_days).select_related("rep__user").order_by()
    per_rep: dict[int, RepFigures] = {}
    for h in rows:
        figures = per_rep.get(h.rep_id)
        if figures is None:
            figures = per_rep[h.rep_id] = RepFigures(rep=h.rep, query=links.rep_query(rep=h.rep_id))
        figures.handoffs += 1
        figures.accepted += h.status == Handoff.Status.ACCEPTED
        figures.returned += h.status == Handoff.Status.RETURNED
        if h.first_touch_at is not None:
            figures.decided += 1
            figures.in_window += h.first_touch_at <= h.due_at
            figures.hours.append(calendar.hours_between(h.created_at, h.first_touch_at))
        elif h.due_at <= now:
            figures.decided += 1
        if h.created_at + window <= now or h.attempts >= agreement.attempts_min:
            figures.attempts_due += 1
            figures.attempts_met += h.attempts >= agreement.attempts_min
    return per_rep


def _team_figures(per_rep: dict[int, RepFigures], links: _Links) -> list[tuple[str, RepFigures]]:
    """The reps' figures added up per team (a rep in two teams counts in both).

    A team's row links to its handoffs; on a team's agreement, another team's row counts only
    the reps of both, which one team filter cannot select, so that row has no links.
    """
    teams: dict[str, RepFigures] = {}
    names = defaultdict(list)
    for member_id, team_id, team_name in TeamMember.objects.filter(membership_id__in=list(per_rep)).values_list(
        "membership_id", "team_id", "team__name"
    ):
        names[member_id].append((team_id, team_name))
    scope_team = links.agreement.team_id
    for rep_id, figures in per_rep.items():
        for team_id, name in names.get(rep_id, []):
            if name not in teams:
                linked = scope_team is None or scope_team == team_id
                teams[name] = RepFigures(rep=figures.rep, query=links.rep_query(team=team_id) if linked else {})
            total = teams[name]
            for attr in ("handoffs", "decided", "in_window", "accepted", "returned", "attempts_due", "attempts_met"):
                setattr(total, attr, getattr(total, attr) + getattr(figures, attr))
            total.hours.extend(figures.hours)
    return sorted(teams.items())


def current_agreements(org, *, today: date | None = None) -> list[Agreement]:
    """The active agreements covering today (the organisation's first, then by team)."""
    today = today or timezone.localdate(timezone=zoneinfo.ZoneInfo(org.time_zone))
    return list(
        Agreement.objects.for_org(org)
        .filter(status=Agreement.Status.ACTIVE, starts_on__lte=today, ends_on__gte=today)
        .select_related("team", "organization")
        .order_by(F("team_id").asc(nulls_first=True))
    )
