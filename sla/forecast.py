"""Forecast, not only alarms: where the period will end at the current pace, and which open
handoffs will breach before they do.

**Pace.** Each commitment (MQLs, SQLs, won revenue) projected to the end of the period at the
pace so far (actual ÷ share of the period gone), with the day-by-day actual against the
target's straight line for the chart.

**Predicted breaches.** Each rep works their queue soonest-due first at the rate they reached
leads lately: first touches per business hour over the last ``RATE_DAYS`` days (at least one
an hour is never assumed: a rep with no history is given ``DEFAULT_RATE``). A handoff ``k``-th
in the queue is expected at ``k ÷ rate`` business hours from now, counted from the end of any
absence the rep is on; expected after its due time, it is flagged, before it breaches.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.db.models import Count, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from leads.models import Absence, Handoff, Lead, Opportunity, StageChange
from sla.compliance import _scoped, period_range
from sla.models import Agreement
from smarketing.accounts.models import Organization
from smarketing.business_time import calendar_for

RATE_DAYS = 14
DEFAULT_RATE = 1.0  # first touches per business hour for a rep with no recent history


@dataclass
class Projection:
    label: str
    actual: float
    projected: float
    target: float | None
    started: bool = True  # False before the period begins: nothing to project from

    @property
    def on_track(self) -> bool | None:
        return None if self.target is None or not self.started else self.projected >= self.target


@dataclass
class PaceChart:
    """Cumulative actual per day against the target's straight line, as SVG coordinates."""

    label: str
    days: int
    target: float
    points: list[tuple[int, float]]  # (day index, cumulative actual)
    width: int = 600
    height: int = 160

    @property
    def top(self) -> float:
        return max([self.target, *(v for _, v in self.points)], default=1) or 1

    def _xy(self, day: float, value: float) -> str:
        x = round(day * self.width / max(1, self.days), 1)
        y = round(self.height - value * self.height / self.top, 1)
        return f"{x},{y}"

    @property
    def actual_path(self) -> str:
        return " ".join(self._xy(day + 1, value) for day, value in self.points)

    @property
    def target_path(self) -> str:
        return f"{self._xy(0, 0)} {self._xy(self.days, self.target)}"


@dataclass
class PredictedBreach:
    handoff: Handoff
    expected_at: datetime
    position: int
    rate: float  # the rep's first touches per business hour


@dataclass
class Forecast:
    elapsed: float
    projections: list[Projection]
    charts: list[PaceChart]
    predicted: list[PredictedBreach]


def forecast(agreement: Agreement, *, now: datetime | None = None) -> Forecast:
    now = now or timezone.now()
    org = agreement.organization
    start, end = period_range(agreement)
    elapsed = min(1.0, max(0.0, (now - start) / (end - start)))
    days = (agreement.ends_on - agreement.starts_on).days + 1

    def project(actual: float) -> float:
        return round(actual / elapsed, 1) if elapsed > 0 else 0.0

    if agreement.team_id:  # as compliance counts them: the handoffs the team's reps got
        delivered = _scoped(Handoff.objects.for_org(org), agreement, "rep_id").exclude(status=Handoff.Status.REASSIGNED)
        daily_mqls = _daily(delivered, "created_at", start, end)
    else:
        daily_mqls = _daily(
            StageChange.objects.filter(organization=org, to_stage=Lead.Stage.MQL), "changed_at", start, end
        )
    won = _scoped(
        Opportunity.objects.for_org(org).filter(
            status=Opportunity.Status.WON, close_date__gte=agreement.starts_on, close_date__lte=agreement.ends_on
        ),
        agreement,
        "owner_id",
    )
    daily_revenue = {
        row["close_date"]: float(row["total"])
        for row in won.values("close_date").annotate(total=Sum("amount")).order_by()
    }
    projections, charts = [], []
    mqls = sum(daily_mqls.values())
    if agreement.mql_target:
        projections.append(Projection("MQLs", mqls, project(mqls), agreement.mql_target, elapsed > 0))
        charts.append(_chart("MQLs", agreement, days, agreement.mql_target, daily_mqls, now))
    revenue = sum(daily_revenue.values())
    target = float(agreement.revenue_target)
    projections.append(Projection("Won revenue", revenue, project(revenue), target, elapsed > 0))
    charts.append(_chart("Won revenue", agreement, days, float(agreement.revenue_target), daily_revenue, now))
    return Forecast(elapsed, projections, charts, predicted_breaches(agreement, now=now))


def _daily(qs, field: str, start: datetime, end: datetime) -> dict[date, float]:
    rows = (
        qs.filter(**{f"{field}__gte": start, f"{field}__lt": end})
        .annotate(day=TruncDate(field))
        .values("day")
        .annotate(n=Count("lead_id", distinct=True))
        .order_by()
    )
    return {row["day"]: row["n"] for row in rows}


def _chart(label: str, agreement: Agreement, days: int, target: float, daily: dict, now: datetime) -> PaceChart:
    today = min(timezone.localdate(now), agreement.ends_on)
    running, points = 0.0, []
    for i in range((today - agreement.starts_on).days + 1):
        running += daily.get(agreement.starts_on + timedelta(days=i), 0)
        points.append((i, running))
    return PaceChart(label, days, target, points)


def predicted_breaches(agreement: Agreement, *, now: datetime | None = None) -> list[PredictedBreach]:
    """Open, untouched handoffs in the agreement's scope expected to be reached after their due time."""
    now = now or timezone.now()
    org = agreement.organization
    calendar = calendar_for(org)
    queue = (
        _scoped(Handoff.objects.for_org(org), agreement, "rep_id")
        .filter(status=Handoff.Status.PENDING, first_touch_at=None, due_at__gt=now)
        .select_related("lead", "rep__user")
        .order_by("rep_id", "due_at", "id")
    )
    handoffs_by_rep: dict[int, list[Handoff]] = defaultdict(list)
    for handoff in queue:
        handoffs_by_rep[handoff.rep_id].append(handoff)
    if not handoffs_by_rep:
        return []
    since = now - timedelta(days=RATE_DAYS)
    touched = dict(
        Handoff.objects.for_org(org)
        .filter(rep_id__in=list(handoffs_by_rep), first_touch_at__gte=since, first_touch_at__lte=now)
        .values_list("rep_id")
        .annotate(n=Count("id"))
        .order_by()
    )
    worked_hours = calendar.hours_between(since, now) or 1.0
    away_until = dict(
        Absence.objects.for_org(org)
        .filter(membership_id__in=list(handoffs_by_rep), starts_at__lte=now, ends_at__gt=now)
        .values_list("membership_id", "ends_at")
    )
    predicted = []
    for rep_id, handoffs in handoffs_by_rep.items():
        rate = touched.get(rep_id, 0) / worked_hours or DEFAULT_RATE
        begins = max(now, away_until.get(rep_id, now))
        for position, handoff in enumerate(handoffs, start=1):
            expected = calendar.add_hours(begins, position / rate)
            if expected > handoff.due_at:
                predicted.append(PredictedBreach(handoff, expected, position, round(rate, 2)))
    return sorted(predicted, key=lambda p: p.handoff.due_at)


def reroute_predicted(*, now: datetime | None = None) -> int:
    """For organisations that ask for it, route each handoff predicted to breach to someone
    else before it does (a beat task every 15 minutes). Returns how many were re-routed."""
    from leads.handoffs import handoffs_reroute
    from sla.compliance import current_agreements

    now = now or timezone.now()
    rerouted = 0
    for org in Organization.objects.filter(handoff_reroute_predicted=True):
        today = timezone.localdate(now, timezone=calendar_for(org).tz)
        ids = {p.handoff.pk for a in current_agreements(org, today=today) for p in predicted_breaches(a, now=now)}
        if ids:
            rerouted += len(
                handoffs_reroute(org=org, handoff_ids=ids, now=now, why="predicted to breach", untouched_pending=True)
            )
    return rerouted
