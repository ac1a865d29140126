"""Live compliance figures and the SLA pages: draft, sign, see how it is going, renew."""

from __future__ import annotations

import zoneinfo
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from leads.handoffs import handoff_accept, handoff_create, handoff_return
from leads.opportunities import opportunity_create, opportunity_win
from leads.touches import touch_log
from sla.agreements import AgreementInput, agreement_draft
from sla.compliance import compliance
from sla.models import Agreement
from tests.factories import LeadFactory

pytestmark = pytest.mark.django_db
UTC = zoneinfo.ZoneInfo("UTC")


@pytest.fixture
def agreement(signed_agreement):
    return signed_agreement(timezone.localdate(), "10000", mql_target=10, attempts_min=2)


def test_compliance_counts_what_each_side_did(org, sales, rep, marketer, agreement):
    now = timezone.now()
    touched = handoff_create(lead=LeadFactory(organization=org), actor=marketer, now=now - timedelta(minutes=30))
    touch_log(lead=touched.lead, actor=rep, kind="call", outcome="connected", occurred_at=now - timedelta(minutes=20))
    touch_log(lead=touched.lead, actor=rep, kind="email", outcome="replied", occurred_at=now - timedelta(minutes=10))
    handoff_accept(handoff=touched, actor=rep)
    returned = handoff_create(lead=LeadFactory(organization=org), actor=marketer, now=now - timedelta(minutes=5))
    handoff_return(handoff=returned, actor=rep, reason="bad_contact_data")
    deal = opportunity_create(
        lead=touched.lead, actor=rep, amount=Decimal("2500"), currency="USD", expected_close_date=date.today()
    )
    opportunity_win(opportunity=deal, actor=rep, amount=Decimal("2500"), currency="USD")

    c = compliance(agreement)

    mqls, acceptance = c.marketing
    assert (mqls.actual, mqls.target) == (2, 10)
    assert (acceptance.actual, acceptance.numerator, acceptance.denominator) == (50.0, 1, 2)
    in_window, median, p90, attempts = c.sales
    assert median.unit == p90.unit == "h" and median.actual <= p90.actual
    assert (in_window.numerator, in_window.denominator) == (1, 1)  # the returned one was never touched nor due
    assert attempts.numerator == 1  # two attempts reached, within the days
    assert (c.revenue.actual, c.revenue.target, c.revenue.numerator) == (2500.0, 10000.0, 1)
    assert [r.rep for r in c.reps] == [rep] and c.reps[0].handoffs == 2
    assert c.teams[0][0] == "Sales"


def test_an_untouched_handoff_past_due_counts_against_the_response(org, sales, rep, marketer, agreement):
    long_ago = timezone.now() - timedelta(days=3)
    if long_ago.date() < agreement.starts_on:
        pytest.skip("the period began less than three days ago")
    handoff_create(lead=LeadFactory(organization=org), actor=marketer, now=long_ago)
    in_window = compliance(agreement).sales[0]
    assert (in_window.actual, in_window.numerator, in_window.denominator) == (0, 0, 1)


def test_a_manager_drafts_both_sides_sign_and_everyone_sees_it(login, org, manager, marketing_manager, rep):
    client = login(manager)
    response = client.post(
        "/sla/new/",
        {
            "period": "month",
            "starts_on": timezone.localdate().isoformat(),
            "mql_target": "40",
            "response_hours": "4",
            "attempts_min": "3",
            "attempts_days": "5",
            "revenue_target": "50000",
        },
    )
    agreement = Agreement.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/sla/{agreement.pk}/"
    assert client.post(f"/sla/{agreement.pk}/sign/", {"side": "sales"}).status_code == 302
    page = login(marketing_manager).get(f"/sla/{agreement.pk}/").content.decode()
    assert 'data-testid="sign"' in page and "Sign for marketing" in page
    login(marketing_manager).post(f"/sla/{agreement.pk}/sign/", {"side": "marketing"})
    agreement.refresh_from_db()
    assert agreement.status == "active"

    body = login(rep).get("/sla/").content.decode()
    assert 'data-testid="current-agreement"' in body and "MQLs delivered" in body and "50,000" in body


@pytest.mark.parametrize(
    ("values", "error"),
    [
        ({"revenue_target": "0"}, "The revenue target must be more than zero."),
        ({"response_hours": "0"}, "The response window is 1 to 720 business hours"),
        ({"mql_target": ""}, "Marketing commits to a number of MQLs"),
    ],
)
def test_bad_terms_are_shown_on_the_form_and_nothing_is_drafted(login, manager, values, error):
    data = {
        "period": "month",
        "starts_on": "2026-12-01",
        "mql_target": "40",
        "response_hours": "4",
        "attempts_min": "3",
        "attempts_days": "5",
        "revenue_target": "50000",
    } | values
    response = login(manager).post("/sla/new/", data)
    assert response.status_code == 400 and error in response.content.decode()
    assert not Agreement.objects.exists()


def test_signing_from_the_page_says_the_status_it_left(login, org, manager, marketing_manager):
    draft = agreement_draft(
        org=org,
        actor=manager,
        data=AgreementInput(starts_on=timezone.localdate(), revenue_target=Decimal(1), response_hours=4, mql_target=1),
    )
    response = login(manager).post(f"/sla/{draft.pk}/sign/", {"side": "sales"}, follow=True)
    assert "Signed. Draft (awaiting signatures)." in response.content.decode()
    response = login(marketing_manager).post(f"/sla/{draft.pk}/sign/", {"side": "marketing"}, follow=True)
    assert "Signed. Active." in response.content.decode()


def test_a_wrong_side_signature_from_the_page_is_refused(login, agreement, org, manager):
    draft = agreement_draft(
        org=org,
        actor=manager,
        data=AgreementInput(
            starts_on=agreement.ends_on + timedelta(days=1), revenue_target=Decimal(1), response_hours=4, mql_target=1
        ),
    )
    client = login(manager)  # a sales-side manager
    response = client.post(f"/sla/{draft.pk}/sign/", {"side": "marketing"}, follow=True)
    assert "Only a marketing-side manager signs for marketing." in response.content.decode()
    draft.refresh_from_db()
    assert draft.marketing_signed_by is None and draft.status == "draft"


def test_renewing_from_the_page_drafts_the_next_period(login, agreement, manager):
    response = login(manager).post(f"/sla/{agreement.pk}/renew/")
    renewal = Agreement.objects.exclude(pk=agreement.pk).get()
    assert response["Location"] == f"/sla/{renewal.pk}/"
    assert renewal.starts_on == agreement.ends_on + timedelta(days=1) and renewal.renewed_from == agreement


def test_reps_read_but_cannot_draft(login, rep):
    assert login(rep).get("/sla/").status_code == 200
    assert login(rep).get("/sla/new/").status_code == 403


def test_the_empty_state(login, manager):
    assert "No agreement in force" in login(manager).get("/sla/").content.decode()


def test_the_list_query_count_does_not_grow_with_agreements(login, org, manager):
    client = login(manager)

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get("/sla/").status_code == 200
        return len(queries)

    def add(months) -> None:
        for month in months:
            agreement_draft(
                org=org,
                actor=manager,
                data=AgreementInput(
                    starts_on=date(2025, month, 1), revenue_target=Decimal(1), response_hours=4, mql_target=1
                ),
            )

    add([1])
    count()
    few = count()
    add(range(2, 13))
    assert count() == few


def test_friday_evening_handoff_under_a_four_hour_agreement_is_due_monday(org, sales, marketer, agreement):
    org.time_zone = "UTC"
    org.save()
    # The first Friday of the agreement's month (the agreement covers this month, whichever it is).
    friday = agreement.starts_on + timedelta(days=(4 - agreement.starts_on.weekday()) % 7)
    assert agreement.covers(friday) and agreement.covers(friday + timedelta(days=3))
    friday_evening = datetime(friday.year, friday.month, friday.day, 18, 0, tzinfo=UTC)
    handoff = handoff_create(lead=LeadFactory(organization=org), actor=marketer, now=friday_evening)
    monday = friday + timedelta(days=3)
    assert handoff.due_at == datetime(monday.year, monday.month, monday.day, 13, 0, tzinfo=UTC)


def test_before_the_period_begins_nothing_reads_as_missed(login, manager, signed_agreement):
    next_month = (timezone.localdate().replace(day=1) + timedelta(days=32)).replace(day=1)
    agreement = signed_agreement(next_month, "5000", mql_target=10)
    c = compliance(agreement)
    assert [f.met for f in c.sales] == [None, None, None, None]
    page = login(manager).get(f"/sla/{agreement.pk}/").content.decode()
    assert "nothing to measure yet" in page and "the period has not begun" in page and "short</span>" not in page
