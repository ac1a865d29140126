"""The closed loop in a browser: events make a lead an MQL, the rep accepts it, calls, opens a
deal and wins it, and the marketer whose campaign brought the lead in sees the revenue."""

from __future__ import annotations

import re
from datetime import timedelta

from django.utils import timezone
from playwright.sync_api import Page, expect

from leads.campaigns import CampaignInput, campaign_create
from leads.models import Handoff, Lead, Opportunity
from leads.scoring_models import scoring_model_ensure_default
from reporting.models import AttributionCredit
from smarketing.accounts.models import Membership
from smarketing.accounts.services import api_key_create
from smarketing.notifications.models import Notification
from tests.browser.pages import log_in, log_out
from tests.factories import MembershipFactory, OrganizationFactory, RoutingRuleFactory

UTM = {"utm_source": "linkedin", "utm_medium": "paid_social", "utm_campaign": "forecasting-q4"}
DEAL = "Fabrikam — Team plan"


def nav(page: Page, name: str) -> None:
    page.get_by_role("navigation", name="Main").get_by_role("link", name=name).click()


def test_events_to_mql_to_won_deal_credited_to_the_campaign(page: Page, transactional_db, screenshot):
    org = OrganizationFactory(name="Northwind Analytics", slug="northwind")
    rep = MembershipFactory(organization=org, role=Membership.Role.SALES_REP, user__email="rep@northwind.test")
    marketer = MembershipFactory(organization=org, role=Membership.Role.MARKETER, user__email="mia@northwind.test")
    campaign = campaign_create(
        org=org,
        data=CampaignInput(name="Forecasting on LinkedIn", channel="paid_social", **UTM),
        actor=marketer,
    )
    scoring_model_ensure_default(org=org)  # a demo request is a fast lane to MQL
    RoutingRuleFactory(organization=org, name="Everything to Ravi", team=None, rep=rep)
    _, api_key = api_key_create(organization=org, name="Website")

    # 1. The website reports what a visitor did: an ad click on the campaign, then a demo request.
    now = timezone.now()
    lead_data = {"first_name": "Nora", "last_name": "Novak", "title": "VP Sales", "company_name": "Fabrikam"}
    events = [
        {
            "id": "web-1",
            "type": "page_view",
            "occurred_at": (now - timedelta(minutes=10)).isoformat(),
            "email": "nora@fabrikam.example",
            "properties": {"url": "https://northwind.example/forecasting", **UTM},
            "lead": lead_data,
        },
        {
            "id": "web-2",
            "type": "demo_request",
            "occurred_at": now.isoformat(),
            "email": "nora@fabrikam.example",
            "properties": {"url": "https://northwind.example/demo"},
        },
    ]
    response = page.request.post(
        "/api/v1/events", data={"events": events}, headers={"Authorization": f"Api-Key {api_key}"}
    )
    assert response.status == 202, response.text()
    assert response.json()["accepted"] == 2

    # 2. The rep finds the new MQL in the queue and accepts it.
    log_in(page, rep.user.email)
    nav(page, "Queue")
    row = page.get_by_test_id("handoff-row").filter(has_text="Nora Novak")
    expect(row).to_contain_text("Forecasting on LinkedIn")
    expect(row.get_by_test_id("due")).to_contain_text("due in")
    screenshot(1, "loop-rep-queue")
    row.get_by_role("button", name="Accept").click()
    expect(page.get_by_role("status")).to_contain_text("Accepted")
    expect(page.get_by_test_id("queue-empty")).to_be_visible()

    # 3. On the lead's page, the rep logs the call they made.
    nav(page, "Leads")
    page.get_by_role("link", name="Nora Novak").click()
    expect(page.get_by_role("heading", name=re.compile("Nora Novak"), level=1)).to_contain_text("SQL")
    touch_form = page.get_by_test_id("touch-form")
    touch_form.get_by_label("Kind").select_option(label="Call")
    touch_form.get_by_label("Outcome").select_option(label="Connected")
    touch_form.get_by_label("Note").fill("Wants forecasting for 40 sellers; budget approved.")
    screenshot(2, "loop-log-call")
    touch_form.get_by_role("button", name="Log touch").click()
    expect(page.get_by_role("status")).to_contain_text("Call logged")
    expect(page.get_by_test_id("touches")).to_contain_text("Call · Connected")

    # 4. The rep opens a deal …
    page.get_by_test_id("new-deal").click()
    form = page.get_by_test_id("opportunity-form")
    form.get_by_label("Name").fill(DEAL)
    form.get_by_label("Amount").fill("24000")
    form.get_by_label("Expected close date").fill((now + timedelta(days=30)).date().isoformat())
    form.get_by_label("Stage").select_option("Proposal")
    form.get_by_role("button", name="Open deal").click()
    expect(page).to_have_url(re.compile(r"/deals/\d+/$"))
    expect(page.get_by_role("status")).to_contain_text("opened")
    expect(page.get_by_test_id("deal-status")).to_have_text("Open")

    # … and records it won, for a little more than expected.
    win = page.get_by_test_id("deal-win")
    win.get_by_label("Final amount").fill("26500")
    screenshot(3, "loop-deal-win")
    win.get_by_role("button", name="Record as won").click()
    expect(page.get_by_role("status")).to_contain_text("Won!")
    expect(page.get_by_test_id("deal-status")).to_have_text("Won")
    expect(page.get_by_test_id("deal-amount")).to_have_text("26,500.00 USD")
    expect(page.get_by_test_id("credits")).to_contain_text("Forecasting on LinkedIn")
    screenshot(4, "loop-deal-won")
    log_out(page)

    # 5. The marketer who owns the campaign hears of it and sees the revenue on the campaign.
    log_in(page, marketer.user.email)
    expect(page.get_by_test_id("unread-count")).to_be_visible()
    page.get_by_test_id("notification-bell").click()
    expect(page.get_by_test_id("notifications")).to_contain_text(f"Deal won: {DEAL} (26,500.00 USD)")
    screenshot(5, "loop-marketer-notified")
    nav(page, "Campaigns")
    page.get_by_role("link", name="Forecasting on LinkedIn").click()
    expect(page.get_by_test_id("won-revenue")).to_contain_text("26,500.00")
    revenue = page.get_by_test_id("attributed-revenue")
    expect(revenue).to_contain_text("First touch")
    expect(revenue).to_contain_text("26,500.00 USD")
    expect(page.get_by_test_id("sales-outcome")).to_contain_text("Won")
    screenshot(6, "loop-campaign-revenue")

    lead = Lead.objects.get(organization=org, email="nora@fabrikam.example")
    assert lead.lifecycle_stage == Lead.Stage.CUSTOMER and lead.owner == rep
    handoff = Handoff.objects.get(lead=lead)
    assert handoff.status == Handoff.Status.ACCEPTED and handoff.first_touch_at is not None
    deal = Opportunity.objects.get(lead=lead)
    assert (deal.status, deal.amount, deal.handoff) == (Opportunity.Status.WON, 26500, handoff)
    credits = AttributionCredit.objects.filter(opportunity=deal)
    assert {c.campaign for c in credits} == {campaign} and credits.count() == 3
    assert Notification.objects.filter(recipient=marketer, kind="deal.won").count() == 1
