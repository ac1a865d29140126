"""The deadline checks: at-risk warnings, breaches exactly once, re-routing after the grace."""

from __future__ import annotations

import zoneinfo
from datetime import date, datetime, timedelta

import pytest
from django.db import connection

from leads.handoffs import handoff_accept, handoff_create
from leads.models import Handoff, Lead
from leads.touches import touch_log
from sla import tasks
from sla.deadlines import check_deadlines
from smarketing.accounts.models import Holiday
from smarketing.notifications.models import Notification
from tests.concurrency import race
from tests.factories import HandoffFactory, LeadFactory, MembershipFactory, TeamFactory, TeamMemberFactory

pytestmark = pytest.mark.django_db
LONDON = zoneinfo.ZoneInfo("Europe/London")
MONDAY_9 = datetime(2026, 11, 23, 9, 0, tzinfo=LONDON)


@pytest.fixture
def london(org):
    org.time_zone = "Europe/London"
    org.save()
    return org


@pytest.fixture
def handoff(london, sales, marketer):
    """Made Monday 09:00 with the default 4-hour window: at risk 12:00, due 13:00."""
    return handoff_create(lead=LeadFactory(organization=london), actor=marketer, now=MONDAY_9)


def _kinds(member) -> list[str]:
    return list(Notification.objects.filter(recipient=member).order_by("id").values_list("kind", flat=True))


def test_due_and_at_risk_times_follow_the_business_calendar(handoff):
    assert handoff.due_at == datetime(2026, 11, 23, 13, 0, tzinfo=LONDON)
    assert handoff.at_risk_at == datetime(2026, 11, 23, 12, 0, tzinfo=LONDON)


def test_a_friday_evening_mql_before_a_holiday_monday_is_due_tuesday(london, sales, marketer):
    Holiday.objects.create(organization=london, date=date(2026, 11, 30), name="Company day")
    friday_evening = datetime(2026, 11, 27, 18, 0, tzinfo=LONDON)
    handoff = handoff_create(lead=LeadFactory(organization=london), actor=marketer, now=friday_evening)
    assert handoff.due_at == datetime(2026, 12, 1, 13, 0, tzinfo=LONDON)


def test_the_rep_is_warned_once_when_at_risk(handoff, rep):
    assert check_deadlines(now=MONDAY_9 + timedelta(hours=2, minutes=59)).at_risk == 0
    assert check_deadlines(now=MONDAY_9 + timedelta(hours=3)).at_risk == 1
    assert check_deadlines(now=MONDAY_9 + timedelta(hours=3, minutes=30)).at_risk == 0
    assert _kinds(rep).count("handoff.at_risk") == 1
    assert Handoff.objects.get(pk=handoff.pk).status == "pending"


def test_a_touched_handoff_is_neither_at_risk_nor_breached(handoff, rep):
    touch_log(
        lead=handoff.lead,
        actor=rep,
        kind="call",
        outcome="no_answer",
        occurred_at=MONDAY_9 + timedelta(minutes=30),
        now=MONDAY_9 + timedelta(minutes=30),
    )
    result = check_deadlines(now=MONDAY_9 + timedelta(days=2))
    assert (result.at_risk, result.breached) == (0, 0)
    assert Handoff.objects.get(pk=handoff.pk).status == "pending"


def test_past_due_untouched_breaches_once_and_tells_the_rep_and_their_manager(handoff, rep, manager):
    late = MONDAY_9 + timedelta(hours=4)
    result = check_deadlines(now=late)
    again = check_deadlines(now=late + timedelta(minutes=1))

    assert (result.breached, again.breached) == (1, 0)
    assert result.at_risk == 0  # past due it is a breach, not a warning
    breached = Handoff.objects.get(pk=handoff.pk)
    assert (breached.status, breached.breached_at) == ("breached", late)
    assert _kinds(rep) == ["handoff.new", "handoff.breached"]
    assert _kinds(manager) == ["handoff.breached"]


def test_the_manager_in_the_reps_team_is_told_rather_than_every_manager(org, manager):
    team = TeamFactory(organization=org, name="Enterprise")
    rep = MembershipFactory(organization=org, role="sales_rep")
    boss = MembershipFactory(organization=org, role="manager", side="sales")
    TeamMemberFactory(team=team, membership=rep)
    TeamMemberFactory(team=team, membership=boss)
    HandoffFactory(rep=rep, created_at=MONDAY_9, due_at=MONDAY_9 + timedelta(hours=4))

    check_deadlines(now=MONDAY_9 + timedelta(days=1))

    assert _kinds(boss) == ["handoff.breached"]
    assert _kinds(manager) == []  # another sales manager, not in the rep's team


def test_a_breached_handoff_can_still_be_accepted_and_keeps_its_breach(handoff, rep):
    check_deadlines(now=MONDAY_9 + timedelta(hours=5))
    accepted = handoff_accept(handoff=handoff, actor=rep, now=MONDAY_9 + timedelta(hours=6))
    assert accepted.status == "accepted" and accepted.breached_at is not None
    assert Lead.objects.get(pk=handoff.lead_id).lifecycle_stage == "sql"


def test_a_breached_handoff_is_rerouted_after_the_grace_in_business_hours(london, handoff, rep, manager, sales):
    london.handoff_breach_grace_hours = 2
    london.save()
    check_deadlines(now=MONDAY_9 + timedelta(hours=4))  # breached at 13:00
    assert check_deadlines(now=MONDAY_9 + timedelta(hours=5, minutes=59)).rerouted == 0
    assert check_deadlines(now=MONDAY_9 + timedelta(hours=6)).rerouted == 1

    old = Handoff.objects.get(pk=handoff.pk)
    assert old.status == "reassigned" and old.reassigned_to.rep == manager  # the fallback: rep is excluded
    assert old.reassigned_to.status == "pending"
    assert old.reassigned_to.routing_log[-1]["step"] == "rerouted"


def test_no_grace_means_a_breach_waits_for_a_manager(handoff):
    check_deadlines(now=MONDAY_9 + timedelta(hours=4))
    assert check_deadlines(now=MONDAY_9 + timedelta(days=30)).rerouted == 0
    assert Handoff.objects.get(pk=handoff.pk).status == "breached"


def test_the_queue_shows_breached_handoffs_first_as_overdue(login, handoff, rep):
    check_deadlines(now=MONDAY_9 + timedelta(hours=4))
    body = login(rep).get("/handoffs/").content.decode()
    assert f'data-handoff="{handoff.pk}"' in body and "handoff overdue" in body


def test_the_beat_task_runs_the_checks(handoff, settings):
    assert tasks.check_deadlines.apply().get() == {"at_risk": 0, "breached": 1, "rerouted": 0}


@pytest.mark.django_db(transaction=True)
def test_two_sweeps_at_once_breach_each_handoff_once(org, sales, marketer, rep, manager):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (set DATABASE_URL)")
    start = datetime(2026, 11, 23, 9, 0, tzinfo=zoneinfo.ZoneInfo("UTC"))
    for _ in range(30):
        handoff_create(lead=LeadFactory(organization=org), actor=marketer, now=start)
    late = start + timedelta(days=1)
    results = race(lambda: check_deadlines(now=late, batch=7), lambda: check_deadlines(now=late, batch=7))
    assert sum(r.breached for r in results) == 30, results
    sent = list(Notification.objects.filter(kind="handoff.breached").values_list("recipient", "title"))
    assert len(sent) == len(set(sent))  # nobody told twice of the same breach
    assert (
        Notification.objects.filter(recipient=rep, kind="handoff.breached").count()
        == Handoff.objects.filter(rep=rep).count()
    )
