"""A marketer builds a form, a visitor on another site reads a page and fills it in: clicked through in a browser.

The demo page (static/demo/index.html) stands in for the customer's site. It is opened on
``localhost`` while the app is called on ``127.0.0.1`` — the same live server, but a different
origin to the browser — so the tracking script and the form really go through CORS.
"""

from __future__ import annotations

import re
from urllib.parse import urlencode, urlsplit

from playwright.sync_api import Page, expect

from leads.campaigns import CampaignInput, campaign_create
from leads.models import ActivityEvent, Lead, WebForm
from smarketing.accounts.models import Membership
from tests.browser.pages import log_in
from tests.factories import MembershipFactory, OrganizationFactory

CONSENT = "I agree to receive the recording and related news from Northwind."


def wait_for(page: Page, condition, timeout_ms: int = 5000):
    """Poll the database until ``condition()`` is truthy (the browser's requests are asynchronous)."""
    for _ in range(timeout_ms // 100):
        result = condition()
        if result:
            return result
        page.wait_for_timeout(100)
    raise AssertionError("timed out waiting for the database")


def test_marketer_builds_a_form_and_a_visitor_on_another_site_submits_it(page: Page, live_server, screenshot):
    site = live_server.url  # http://localhost:PORT: the customer's site
    port = urlsplit(site).port
    app = f"http://127.0.0.1:{port}"  # the app, on another origin
    org = OrganizationFactory(name="Northwind Analytics", slug="northwind", allowed_origins=[site])
    marketer = MembershipFactory(organization=org, role=Membership.Role.MARKETER, user__email="mia@northwind.test")
    campaign = campaign_create(
        org=org,
        data=CampaignInput(
            name="Forecasting webinar",
            channel="webinar",
            utm_source="website",
            utm_medium="webinar",
            utm_campaign="forecasting-2025",
        ),
        actor=marketer,
    )

    # 1. The marketer builds the form for the campaign.
    log_in(page, marketer.user.email, lands=r"/home/$")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Forms").click()
    expect(page.get_by_role("heading", name="Forms", level=1)).to_be_visible()
    page.get_by_role("link", name="New form").first.click()
    page.get_by_role("textbox", name="Name", exact=True).fill("Forecasting webinar sign-up")
    page.get_by_label("Campaign").select_option(label="Forecasting webinar")
    page.get_by_label("Ask Job title").check()
    page.get_by_label("Job title required").check()
    page.get_by_label("Consent text").fill(CONSENT)
    page.get_by_label("Success message").fill("You're registered: see you on Thursday!")
    screenshot(1, "wf-form-builder")
    page.get_by_role("button", name="Save form").click()

    expect(page).to_have_url(re.compile(r"/forms/\d+/$"))
    expect(page.get_by_role("status")).to_contain_text("created")
    key = page.get_by_test_id("webform-key").inner_text()
    snippet = page.get_by_test_id("embed-snippet")
    expect(snippet).to_contain_text(f'data-smarketing-form="{key}"')
    expect(snippet).to_contain_text("/static/tracking/sm.js")
    expect(page.get_by_test_id("allowed-origins")).to_contain_text(site)
    screenshot(2, "wf-embed-snippet")
    form = WebForm.objects.get(key=key)
    assert form.campaign == campaign

    # 2. A visitor opens the customer's page: the script records the view and renders the form.
    page.goto(f"/static/demo/index.html?{urlencode({'key': key, 'app': app})}")
    expect(page.get_by_role("heading", name="Forecasting without spreadsheets")).to_be_visible()
    email = page.get_by_label("Work email")
    expect(email).to_be_visible()
    anonymous_id = page.evaluate("localStorage.getItem('smarketing_aid')")
    assert anonymous_id
    view = wait_for(page, lambda: ActivityEvent.objects.filter(organization=org, event_type="page_view").first())
    assert view.anonymous_id == anonymous_id and view.lead is None
    assert view.properties["url"].startswith(f"{site}/static/demo/index.html")
    screenshot(3, "wf-demo-page")

    # 3. Submitting it empty shows what is missing, next to each field.
    page.get_by_role("button", name="Submit").click()
    expect(email).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_text("This field is required.").first).to_be_visible()
    expect(page.get_by_text("Please tick the box to agree.")).to_be_visible()
    screenshot(4, "wf-errors")

    # 4. Filled in properly, it is accepted.
    email.fill("Grace.Hopper@Contoso.test")
    page.get_by_label("First name").fill("Grace")
    page.get_by_label("Last name").fill("Hopper")
    page.get_by_label("Company", exact=True).fill("Contoso")
    page.get_by_label("Job title").fill("Head of Operations")
    page.get_by_label(CONSENT).check()
    page.get_by_role("button", name="Submit").click()
    expect(page.get_by_text("You're registered: see you on Thursday!")).to_be_visible()
    screenshot(5, "wf-submitted")

    lead = Lead.objects.get(organization=org)
    assert (lead.email, lead.first_name, lead.last_name, lead.title, lead.company_name) == (
        "grace.hopper@contoso.test",
        "Grace",
        "Hopper",
        "Head of Operations",
        "Contoso",
    )
    assert lead.first_campaign == campaign
    submitted = ActivityEvent.objects.get(organization=org, event_type="form_submit")
    assert submitted.lead == lead and submitted.campaign == campaign
    assert submitted.anonymous_id == anonymous_id and submitted.properties["consent"] is True
    view.refresh_from_db()
    assert view.lead == lead  # the page view before the form is now the lead's
    assert ActivityEvent.objects.filter(organization=org).count() == 2
