"""The reverse-funnel calculator: rates from history with their counts, thin history, entered rates."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from leads.models import Handoff, Lead, Opportunity, StageChange
from sla.funnel import reverse_funnel
from smarketing.errors import InvalidInput
from tests.factories import HandoffFactory, LeadFactory

pytestmark = pytest.mark.django_db
DECEMBER = (date(2026, 12, 1), date(2026, 12, 31))


def _history(org, rep, *, won: int, lost: int, sqls: int, accepted: int, returned: int) -> None:
    now = timezone.now() - timedelta(days=10)
    for i in range(won + lost):
        Opportunity.objects.create(
            organization=org,
            lead=LeadFactory(organization=org),
            name=f"D{i}",
            amount=Decimal("20000"),
            currency="USD",
            expected_close_date=now.date(),
            stage="Discovery",
            status="won" if i < won else "lost",
            lost_reason="" if i < won else "price",
            close_date=now.date(),
            closed_at=now,
            created_at=now,
        )
    for _ in range(sqls):
        StageChange.objects.create(
            organization=org, lead=LeadFactory(organization=org), from_stage="mql", to_stage="sql", changed_at=now
        )
    for i in range(accepted + returned):
        HandoffFactory(
            rep=rep,
            status=Handoff.Status.ACCEPTED if i < accepted else Handoff.Status.RETURNED,
            accepted_at=now if i < accepted else None,
            returned_at=None if i < accepted else now,
            lead=LeadFactory(organization=org, lifecycle_stage=Lead.Stage.SQL),
        )


def test_enough_history_gives_the_rates_with_their_counts_and_the_numbers_needed(org, rep):
    _history(org, rep, won=10, lost=30, sqls=80, accepted=80, returned=20)

    result = reverse_funnel(org=org, revenue_target=Decimal("200000"), period_start=DECEMBER[0], period_end=DECEMBER[1])

    assert not result.thin
    assert (result.rate("deal_size").value, result.rate("deal_size").denominator) == (20000.0, 10)
    win = result.rate("win_rate")
    assert (win.value, win.numerator, win.denominator, win.source) == (0.25, 10, 40, "history")
    assert (result.rate("sql_to_deal").numerator, result.rate("sql_to_deal").denominator) == (40, 80)
    assert result.rate("mql_to_sql").value == 0.8
    # 200,000 / 20,000 = 10 deals; / 25% = 40 opportunities; / 50% = 80 SQLs; / 80% = 100 MQLs.
    needed = result.needed
    assert (needed.deals, needed.opportunities, needed.sqls, needed.mqls) == (10, 40, 80, 100)
    assert needed.rows[-1] == ("MQLs", 100, round(100 / (31 / 7), 1))


def test_thin_history_says_so_and_uses_entered_or_assumed_rates(org, rep):
    _history(org, rep, won=2, lost=3, sqls=4, accepted=4, returned=1)

    result = reverse_funnel(
        org=org,
        revenue_target=Decimal("100000"),
        period_start=DECEMBER[0],
        period_end=DECEMBER[1],
        entered={"win_rate": 0.2},
    )

    assert result.thin and result.closed_deals == 5
    assert result.rate("win_rate").source == "entered"
    deal = result.rate("deal_size")
    assert (deal.source, deal.value, deal.denominator) == ("assumed", 10000.0, 2)  # the counts stay visible


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"revenue_target": Decimal("0")}, "revenue_target"),
        ({"window_days": 3}, "window_days"),
        ({"entered": {"win_rate": 1.5}}, "win_rate"),
        ({"entered": {"deal_size": Decimal("-1")}}, "deal_size"),
    ],
)
def test_bad_questions_are_refused_on_their_field(org, kwargs, field):
    values = {"revenue_target": Decimal("1000"), "period_start": DECEMBER[0], "period_end": DECEMBER[1]} | kwargs
    with pytest.raises(InvalidInput) as exc:
        reverse_funnel(org=org, **values)
    assert exc.value.field == field


def test_the_calculator_page_prefills_a_draft(login, manager):
    client = login(manager)
    page = client.get(
        "/sla/calculator/",
        {"revenue_target": "50000", "period": "month", "starts_on": "2026-12-09", "window_days": "180"},
    ).content.decode()
    assert 'data-testid="thin-history"' in page and 'data-testid="needed"' in page
    # 50,000 / 10,000 = 5 deals; / 25% = 20; / 50% = 40 SQLs; / 60% = 67 MQLs (defaults).
    assert "mql_target=67" in page and "sql_target=40" in page and "starts_on=2026-12-01" in page
    form = client.get("/sla/new/?mql_target=67&sql_target=40&revenue_target=50000&period=month&starts_on=2026-12-01")
    assert 'value="67"' in form.content.decode()


def test_the_calculator_shows_errors(login, rep):
    response = login(rep).get("/sla/calculator/", {"revenue_target": "-1", "period": "month", "starts_on": "x"})
    assert response.status_code == 400
