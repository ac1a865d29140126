"""Pages of the sales side after the handoff: touches and deals on the lead page, the deal page,
the pipeline, and the closed loop on the campaign page."""

from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from leads.handoffs import handoff_accept, handoff_create, handoff_return
from leads.models import Handoff, Lead, Opportunity, Touch
from leads.opportunities import opportunity_create, opportunity_lose, opportunity_win
from tests.factories import CampaignFactory, LeadFactory, MembershipFactory

pytestmark = pytest.mark.django_db
IN_A_MONTH = date.today() + timedelta(days=30)


@pytest.fixture
def campaign(org, marketer):
    return CampaignFactory(organization=org, owner=marketer, name="Spring webinar")


@pytest.fixture
def handoff(org, sales, marketer, campaign):
    lead = LeadFactory(organization=org, first_campaign=campaign, latest_campaign=campaign)
    return handoff_create(lead=lead, actor=marketer)


@pytest.fixture
def sql(handoff, rep):
    handoff_accept(handoff=handoff, actor=rep)
    return Lead.objects.get(pk=handoff.lead_id)


def _deal(lead, actor, amount="1000") -> Opportunity:
    return opportunity_create(
        lead=lead, actor=actor, amount=Decimal(amount), currency="USD", expected_close_date=IN_A_MONTH
    )


def test_the_rep_logs_a_call_from_the_lead_page(login, rep, handoff):
    client = login(rep)
    page = client.get(f"/leads/{handoff.lead_id}/").content.decode()
    assert 'data-testid="touch-form"' in page

    when = timezone.now().strftime("%Y-%m-%dT%H:%M")
    response = client.post(
        f"/leads/{handoff.lead_id}/touches/", {"kind": "call", "outcome": "left_voicemail", "occurred_at": when}
    )

    assert response.status_code == 302
    touch = Touch.objects.get()
    assert (touch.rep, touch.outcome, touch.handoff_id) == (rep, "left_voicemail", handoff.pk)
    page = client.get(f"/leads/{handoff.lead_id}/").content.decode()
    assert "Left voicemail" in page


def test_a_touch_in_the_future_is_shown_again_with_the_error(login, rep, handoff):
    when = (timezone.now() + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    response = login(rep).post(
        f"/leads/{handoff.lead_id}/touches/", {"kind": "call", "outcome": "connected", "occurred_at": when}
    )
    assert response.status_code == 400
    assert "can&#x27;t be in the future" in response.content.decode()
    assert not Touch.objects.exists()


def test_a_marketer_sees_no_touch_form_and_another_rep_is_refused(login, org, marketer, handoff):
    assert 'data-testid="touch-form"' not in login(marketer).get(f"/leads/{handoff.lead_id}/").content.decode()
    other = MembershipFactory(organization=org, role="sales_rep")
    when = timezone.now().strftime("%Y-%m-%dT%H:%M")
    response = login(other).post(
        f"/leads/{handoff.lead_id}/touches/", {"kind": "call", "outcome": "connected", "occurred_at": when}
    )
    assert response.status_code == 403


def test_the_rep_opens_a_deal_and_wins_it_from_the_pages(login, rep, sql, campaign):
    client = login(rep)
    assert 'data-testid="new-deal"' in client.get(f"/leads/{sql.pk}/").content.decode()

    response = client.post(
        f"/leads/{sql.pk}/deals/new/",
        {
            "name": "Pilot",
            "kind": "new_business",
            "amount": "8000",
            "currency": "USD",
            "expected_close_date": IN_A_MONTH.isoformat(),
            "stage": "Discovery",
        },
    )
    deal = Opportunity.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/deals/{deal.pk}/"

    response = client.post(f"/deals/{deal.pk}/win/", {"amount": "9000", "currency": "USD"})
    assert response.status_code == 302
    page = client.get(f"/deals/{deal.pk}/").content.decode()
    assert "Won" in page and "9,000.00" in page and campaign.name in page
    assert Lead.objects.get(pk=sql.pk).lifecycle_stage == "customer"


def test_a_bad_win_is_shown_again_with_the_error_and_the_deal_stays_open(login, rep, sql):
    deal = _deal(sql, rep)
    response = login(rep).post(f"/deals/{deal.pk}/win/", {"amount": "-5", "currency": "USD"})
    assert response.status_code == 400
    assert "more than zero" in response.content.decode()
    deal.refresh_from_db()
    assert deal.status == "open"


def test_losing_from_the_page_needs_a_reason(login, rep, sql):
    deal = _deal(sql, rep)
    client = login(rep)
    assert client.post(f"/deals/{deal.pk}/lose/", {"reason": ""}).status_code == 400
    assert client.post(f"/deals/{deal.pk}/lose/", {"reason": "timing"}).status_code == 302
    assert Lead.objects.get(pk=sql.pk).lifecycle_stage == "nurture"


def test_a_closed_deal_shows_no_forms(login, rep, sql):
    deal = opportunity_win(opportunity=_deal(sql, rep), actor=rep, amount=Decimal("5"), currency="USD")
    page = login(rep).get(f"/deals/{deal.pk}/").content.decode()
    assert 'data-testid="deal-win"' not in page and 'data-testid="deal-lose"' not in page


def test_the_campaign_page_shows_what_sales_did_and_the_revenue(login, org, marketer, rep, campaign, sql):
    opportunity_win(opportunity=_deal(sql, rep), actor=rep, amount=Decimal("12500"), currency="USD")
    returned = handoff_create(lead=LeadFactory(organization=org, first_campaign=campaign), actor=marketer)
    handoff_return(handoff=returned, actor=rep, reason="bad_contact_data")
    lost_lead = handoff_create(lead=LeadFactory(organization=org, first_campaign=campaign), actor=marketer)
    handoff_accept(handoff=lost_lead, actor=rep)
    opportunity_lose(opportunity=_deal(lost_lead.lead, rep), actor=rep, reason="competitor")

    page = login(marketer).get(f"/campaigns/{campaign.pk}/").content.decode()

    assert "12,500.00" in page  # won revenue, and credited first-touch, last-touch and linear
    assert page.count("12,500.00 USD") >= 3
    assert "Bad contact data" in page and "Competitor" in page
    assert 'data-testid="bar-chart"' in page
    assert "Not sent to sales" not in page  # all three leads went to sales


def test_the_campaign_page_before_any_outcome(login, marketer, campaign, org):
    LeadFactory(organization=org, first_campaign=campaign)
    page = login(marketer).get(f"/campaigns/{campaign.pk}/").content.decode()
    assert "Nothing yet" in page and "Not sent to sales" in page


def test_the_campaign_page_query_count_does_not_grow_with_its_leads(login, org, marketer, rep, campaign, sales):
    client = login(marketer)

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(f"/campaigns/{campaign.pk}/").status_code == 200
        return len(queries)

    def add(n: int) -> None:
        for _ in range(n):
            handoff = handoff_create(lead=LeadFactory(organization=org, first_campaign=campaign), actor=marketer)
            handoff_accept(handoff=handoff, actor=rep)
            _deal(Lead.objects.get(pk=handoff.lead_id), rep)

    add(1)
    count()
    few = count()
    add(5)
    assert count() == few


def test_the_pipeline_shows_a_reps_own_deals_by_stage(login, org, rep, manager, sql):
    _deal(sql, rep, amount="700")
    other_lead = LeadFactory(organization=org, lifecycle_stage="sql", owner=manager)
    _deal(other_lead, manager, amount="300")

    mine = login(rep).get("/deals/").content.decode()
    assert "700.00" in mine and "300.00" not in mine
    everyone = login(manager).get("/deals/?owner=").content.decode()
    assert "700.00" in everyone and "300.00" in everyone


def test_the_pipeline_query_count_does_not_grow_with_the_page(login, org, manager):
    client = login(manager)

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get("/deals/").status_code == 200
        return len(queries)

    def add(n: int) -> None:
        for _ in range(n):
            lead = LeadFactory(organization=org, lifecycle_stage="sql", owner=manager)
            _deal(lead, manager)

    add(1)
    count()
    few = count()
    add(6)
    assert count() == few


def test_the_pipeline_empty_state(login, rep):
    assert "No deals here yet" in login(rep).get("/deals/").content.decode()


def test_a_returned_handoffs_rep_may_not_log_touches_any_more(login, rep, handoff):
    handoff_return(handoff=handoff, actor=rep, reason="not_ready_nurture")
    assert Handoff.objects.get(pk=handoff.pk).status == "returned"
    assert 'data-testid="touch-form"' not in login(rep).get(f"/leads/{handoff.lead_id}/").content.decode()


def test_a_won_deal_is_celebrated_on_both_teams_overview(login, rep, marketer, sql, campaign):
    opportunity_win(opportunity=_deal(sql, rep, amount="4200"), actor=rep, amount=Decimal("4200"), currency="USD")
    for member in (rep, marketer):
        body = login(member).get("/home/").content.decode()
        assert 'data-testid="recent-wins"' in body and "4,200.00 USD" in body and campaign.name in body


def test_a_partners_overview_shows_none_of_the_organisations_leads_deals_or_team(
    login, org, rep, marketer, partner_user, sql, campaign
):
    """Partners see only their own partner's leads (none until the partner portal): the overview
    every member lands on must not show them the organisation's leads, wins or counts."""
    deal = opportunity_win(
        opportunity=_deal(sql, rep, amount="4200"), actor=rep, amount=Decimal("4200"), currency="USD"
    )
    LeadFactory(
        organization=org, email="zebulon@newco.test", first_name="Zebulon", last_name="Quixote", company_name="Newco"
    )
    staff = login(marketer).get("/home/").content.decode()
    for shown in ("zebulon@newco.test", "Zebulon", "Newco", sql.email, "4,200.00 USD", "4 members · 2 leads"):
        assert shown in staff

    response = login(partner_user).get("/home/")
    assert response.status_code == 200
    body = response.content.decode()
    assert 'data-testid="partner-home"' in body and reverse("personas:persona_list") in body
    for hidden in ("zebulon@newco.test", "Zebulon", "Newco", sql.email, "4,200.00 USD", campaign.name, deal.name):
        assert hidden not in body
    assert not re.search(r"\d+ (leads?|members?)\b", body)
    assert 'data-testid="bar-chart"' not in body and "No leads yet" not in body
