"""The forecast: projections at the current pace, the pace chart, and breaches predicted before they happen."""

from __future__ import annotations

import zoneinfo
from datetime import date, datetime, timedelta

import pytest

from leads.models import Absence, StageChange
from sla.forecast import forecast, predicted_breaches
from tests.factories import HandoffFactory, LeadFactory

pytestmark = pytest.mark.django_db
UTC = zoneinfo.ZoneInfo("UTC")
# Wednesday 16 December 2026, 10:00: half of December gone (15.4 of 31 days).
NOW = datetime(2026, 12, 16, 10, 0, tzinfo=UTC)


@pytest.fixture
def agreement(signed_agreement):
    return signed_agreement(date(2026, 12, 1), "100000", mql_target=60)


def test_projection_at_the_current_pace_and_the_chart(org, agreement):
    for day in range(1, 16):  # two MQLs a day, 1st to 15th
        for _ in range(2):
            StageChange.objects.create(
                organization=org,
                lead=LeadFactory(organization=org),
                from_stage="lead",
                to_stage="mql",
                changed_at=datetime(2026, 12, day, 12, 0, tzinfo=UTC),
            )

    result = forecast(agreement, now=NOW)

    mqls = result.projections[0]
    assert mqls.actual == 30 and 55 < mqls.projected < 62  # 30 in ~15.4 of 31 days: about 60
    chart = result.charts[0]
    assert chart.points[-1] == (15, 30.0) and len(chart.points) == 16
    assert chart.target_path == "0.0,160.0 600.0,0.0"


def test_a_rep_slower_than_their_queue_is_flagged_before_the_breach(org, rep, agreement):
    # Lately: 4 first touches in 14 days (~80 business hours): one every ~20 hours.
    for i in range(4):
        HandoffFactory(
            rep=rep,
            status="accepted",
            created_at=NOW - timedelta(days=3 + i),
            due_at=NOW - timedelta(days=3 + i) + timedelta(hours=4),
            first_touch_at=NOW - timedelta(days=3 + i) + timedelta(hours=1),
        )
    soon = HandoffFactory(rep=rep, created_at=NOW - timedelta(hours=1), due_at=NOW + timedelta(hours=3))

    predicted = predicted_breaches(agreement, now=NOW)

    assert [p.handoff for p in predicted] == [soon]
    assert predicted[0].expected_at > soon.due_at and predicted[0].position == 1


def test_a_fast_rep_is_not_flagged_and_an_absent_one_is(org, rep, agreement):
    for i in range(40):
        HandoffFactory(
            rep=rep,
            status="accepted",
            created_at=NOW - timedelta(days=2, minutes=i),
            due_at=NOW + timedelta(hours=1),
            first_touch_at=NOW - timedelta(days=2, minutes=i) + timedelta(minutes=5),
        )
    open_one = HandoffFactory(rep=rep, created_at=NOW, due_at=NOW + timedelta(hours=4))
    assert predicted_breaches(agreement, now=NOW) == []

    Absence.objects.create(
        organization=org, membership=rep, starts_at=NOW - timedelta(hours=1), ends_at=NOW + timedelta(days=2)
    )
    assert [p.handoff for p in predicted_breaches(agreement, now=NOW)] == [open_one]


def test_the_agreement_page_shows_the_forecast(login, manager, agreement):
    body = login(manager).get(f"/sla/{agreement.pk}/").content.decode()
    assert 'data-testid="forecast"' in body and 'data-testid="pace-chart"' in body


def test_predicted_breaches_are_rerouted_where_the_organisation_asks(org, sales, rep, manager, agreement):
    from leads.models import Handoff
    from sla.forecast import reroute_predicted

    slow = HandoffFactory(rep=rep, created_at=NOW - timedelta(hours=1), due_at=NOW + timedelta(hours=3))
    Absence.objects.create(
        organization=org, membership=rep, starts_at=NOW - timedelta(hours=1), ends_at=NOW + timedelta(days=3)
    )
    assert reroute_predicted(now=NOW) == 0  # not asked for
    org.handoff_reroute_predicted = True
    org.save()

    assert reroute_predicted(now=NOW) == 1

    slow.refresh_from_db()
    assert slow.status == "reassigned" and slow.reassigned_to.rep == manager  # the fallback: the rep is away
    assert slow.reassigned_to.routing_log[-1] == {"step": "rerouted", "why": "predicted to breach"}
    assert Handoff.objects.filter(status="pending").count() == 1
