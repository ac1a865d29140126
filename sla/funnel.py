"""The reverse-funnel calculator: from a revenue target back to the MQLs marketing must deliver.

The organisation's own history over a window gives each rate with the counts behind it:
average won deal, win rate (won of the deals closed), SQL → deal (deals opened per SQL), and
MQL → SQL (handoffs accepted of those accepted or returned). Any rate can be entered instead;
with fewer than ``THIN`` closed deals in the window the history is called too thin and the
entered assumptions (or defaults) are used for what is missing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.db.models import Avg, Count, Q
from django.utils import timezone

from leads.models import Handoff, Lead, Opportunity, StageChange
from smarketing.accounts.models import Organization
from smarketing.errors import InvalidInput

THIN = 20  # closed deals in the window below which the history is not trusted
DEFAULTS = {"deal_size": Decimal("10000"), "win_rate": 0.25, "sql_to_deal": 0.5, "mql_to_sql": 0.6}


@dataclass
class Rate:
    """One step of the funnel: the value used, where it came from, and the counts behind it."""

    key: str
    label: str
    value: float
    source: str  # "history", "entered" or "assumed"
    numerator: float | None = None
    denominator: int | None = None

    @property
    def percent(self) -> float:
        return round(100 * self.value, 1)


@dataclass
class Needed:
    deals: int
    opportunities: int
    sqls: int
    mqls: int
    weeks: float

    def per_week(self, n: int) -> float:
        return round(n / self.weeks, 1) if self.weeks else float(n)

    @property
    def rows(self) -> list[tuple[str, int, float]]:
        """Each step: what the period needs, and per week."""
        steps = [("Deals won", self.deals), ("Opportunities", self.opportunities), ("SQLs", self.sqls)]
        return [(label, n, self.per_week(n)) for label, n in [*steps, ("MQLs", self.mqls)]]


@dataclass
class ReverseFunnel:
    revenue_target: Decimal
    window_days: int
    closed_deals: int
    thin: bool
    rates: list[Rate]
    needed: Needed

    def rate(self, key: str) -> Rate:
        return next(r for r in self.rates if r.key == key)


def _history(org: Organization, since: datetime, until: datetime) -> dict[str, Rate]:
    deals = Opportunity.objects.for_org(org).filter(closed_at__gte=since, closed_at__lt=until)
    closed = deals.aggregate(
        won=Count("id", filter=Q(status=Opportunity.Status.WON)),
        lost=Count("id", filter=Q(status=Opportunity.Status.LOST)),
        avg=Avg("amount", filter=Q(status=Opportunity.Status.WON)),
    )
    opened = Opportunity.objects.for_org(org).filter(created_at__gte=since, created_at__lt=until).count()
    sqls = (
        StageChange.objects.filter(
            organization=org, to_stage=Lead.Stage.SQL, changed_at__gte=since, changed_at__lt=until
        )
        .values("lead_id")
        .distinct()
        .count()
    )
    ended = Handoff.objects.for_org(org).filter(
        Q(accepted_at__gte=since, accepted_at__lt=until) | Q(returned_at__gte=since, returned_at__lt=until)
    )
    ended = ended.aggregate(
        accepted=Count("id", filter=Q(status=Handoff.Status.ACCEPTED)),
        returned=Count("id", filter=Q(status=Handoff.Status.RETURNED)),
    )
    found: dict[str, Rate] = {}
    if closed["won"]:
        found["deal_size"] = Rate(
            "deal_size", "Average won deal", float(closed["avg"]), "history", float(closed["avg"]), closed["won"]
        )
    if closed["won"] + closed["lost"]:
        total = closed["won"] + closed["lost"]
        found["win_rate"] = Rate("win_rate", "Win rate", closed["won"] / total, "history", closed["won"], total)
    if sqls:
        found["sql_to_deal"] = Rate("sql_to_deal", "SQL → deal", min(1.0, opened / sqls), "history", opened, sqls)
    if ended["accepted"] + ended["returned"]:
        total = ended["accepted"] + ended["returned"]
        found["mql_to_sql"] = Rate(
            "mql_to_sql", "MQL → SQL (accepted)", ended["accepted"] / total, "history", ended["accepted"], total
        )
    found["_closed"] = Rate("_closed", "", closed["won"] + closed["lost"], "history")
    return found


LABELS = {
    "deal_size": "Average won deal",
    "win_rate": "Win rate",
    "sql_to_deal": "SQL → deal",
    "mql_to_sql": "MQL → SQL (accepted)",
}


def reverse_funnel(
    *,
    org: Organization,
    revenue_target: Decimal,
    period_start: date,
    period_end: date,
    window_days: int = 180,
    entered: dict[str, float | Decimal | None] | None = None,
    now: datetime | None = None,
) -> ReverseFunnel:
    """What the target takes, from the history of the last ``window_days`` and what is entered."""
    if revenue_target is None or Decimal(revenue_target) <= 0:
        raise InvalidInput("The revenue target must be more than zero.", field="revenue_target")
    if not 7 <= window_days <= 730:
        raise InvalidInput("Look back 7 to 730 days.", field="window_days")
    entered = {k: v for k, v in (entered or {}).items() if v is not None}
    for key, value in entered.items():
        if key == "deal_size" and Decimal(value) <= 0:
            raise InvalidInput("An average deal above zero.", field=key)
        if key != "deal_size" and not 0 < float(value) <= 1:
            raise InvalidInput("A rate above 0% and at most 100%.", field=key)
    now = now or timezone.now()
    history = _history(org, now - timedelta(days=window_days), now)
    closed = int(history.pop("_closed").value)
    thin = closed < THIN
    rates = []
    for key, label in LABELS.items():
        if key in entered:
            rates.append(Rate(key, label, float(entered[key]), "entered"))
        elif key in history and not thin:
            rates.append(history[key])
        else:
            base = history.get(key)
            rates.append(
                Rate(
                    key,
                    label,
                    float(DEFAULTS[key]),
                    "assumed",
                    base.numerator if base else None,
                    base.denominator if base else None,
                )
            )
    by_key = {r.key: r.value for r in rates}
    deals = math.ceil(float(revenue_target) / by_key["deal_size"])
    opportunities = math.ceil(deals / by_key["win_rate"])
    sqls = math.ceil(opportunities / by_key["sql_to_deal"])
    mqls = math.ceil(sqls / by_key["mql_to_sql"])
    weeks = ((period_end - period_start).days + 1) / 7
    return ReverseFunnel(
        revenue_target=Decimal(revenue_target),
        window_days=window_days,
        closed_deals=closed,
        thin=thin,
        rates=rates,
        needed=Needed(deals, opportunities, sqls, mqls, weeks),
    )
