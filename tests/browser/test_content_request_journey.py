"""A rep asks marketing for content, marketing delivers it, and the rep is told: clicked through in a browser."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from personas.models import ContentRequest
from personas.services import PersonaInput, persona_create
from smarketing.accounts.models import Membership
from smarketing.notifications.models import Notification
from tests.browser.pages import log_in, log_out
from tests.factories import MembershipFactory, OrganizationFactory

QUESTION = "Prospects keep asking how long a migration from spreadsheets takes."
ASSET_TITLE = "Migrating from spreadsheets in a week: a case study"
ASSET_URL = "https://content.example/resources/migration-case-study"


def open_requests(page: Page) -> None:
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Requests").click()
    expect(page.get_by_role("heading", name="Content requests", level=1)).to_be_visible()


def test_rep_requests_content_marketer_delivers_rep_is_notified(page: Page, transactional_db, screenshot):
    org = OrganizationFactory(name="Northwind Software", slug="northwind")
    rep = MembershipFactory(organization=org, role=Membership.Role.SALES_REP, user__email="rep@northwind.test")
    marketer = MembershipFactory(organization=org, role=Membership.Role.MARKETER, user__email="mia@northwind.test")
    persona_create(
        org=org,
        data=PersonaInput(name="Ops Oliver", title_keywords=["operations"], company_size_min=200),
        actor=marketer,
    )

    # 1. The rep files a request from the Requests page.
    log_in(page, rep.user.email)
    open_requests(page)
    page.get_by_role("link", name="Request content").click()
    expect(page.get_by_role("heading", name="Request content from marketing")).to_be_visible()
    page.get_by_label("Question").fill(QUESTION)
    page.get_by_label("Persona").select_option(label="Ops Oliver")
    page.get_by_label("Buyer stage").select_option(label="Consideration")
    page.get_by_label("Urgency").select_option(label="High")
    screenshot(1, "cr-rep-request-form")
    page.get_by_role("button", name="File request").click()

    expect(page).to_have_url(re.compile(r"/content-requests/\d+/$"))
    expect(page.get_by_role("status")).to_contain_text("Request filed")
    expect(page.get_by_test_id("request-status")).to_have_text("New")
    expect(page.get_by_text(QUESTION).first).to_be_visible()
    request_url = page.url
    screenshot(2, "cr-rep-request-filed")
    open_requests(page)
    row = page.get_by_test_id("requests").get_by_role("row").filter(has_text="Ops Oliver")
    expect(row).to_contain_text("New")
    log_out(page)

    # 2. The marketer accepts it and delivers a new asset made for it.
    log_in(page, marketer.user.email)
    open_requests(page)
    page.get_by_test_id("requests").get_by_role("link", name=re.compile("how long a migration")).click()
    expect(page).to_have_url(request_url)
    triage = page.get_by_test_id("triage")
    triage.get_by_role("button", name="Accept").click()
    expect(page.get_by_role("status")).to_contain_text("Request marked accepted.")
    expect(page.get_by_test_id("request-status")).to_have_text("Accepted")
    screenshot(3, "cr-marketer-accepted")

    page.get_by_test_id("triage").get_by_role("link", name="Create a new asset for it").click()
    expect(page.get_by_role("heading", name="Add content")).to_be_visible()
    expect(page.get_by_text("This asset will deliver the request")).to_be_visible()
    expect(page.get_by_label("Ops Oliver")).to_be_checked()  # the request's persona and stage are carried over
    expect(page.get_by_label("Buyer stage")).to_have_value("consideration")
    page.get_by_label("Title").fill(ASSET_TITLE)
    page.get_by_label("Type").select_option(label="Case study")
    page.get_by_label("Link").fill(ASSET_URL)
    screenshot(4, "cr-marketer-asset-form")
    page.get_by_role("button", name="Save and deliver").click()

    expect(page).to_have_url(request_url)
    expect(page.get_by_test_id("request-status")).to_have_text("Delivered")
    expect(page.get_by_test_id("delivered").get_by_role("link", name=ASSET_TITLE)).to_be_visible()
    screenshot(5, "cr-marketer-delivered")
    log_out(page)

    # 3. The rep sees one unread notification and follows it to the delivered asset.
    log_in(page, rep.user.email)
    expect(page.get_by_test_id("unread-count")).to_have_text("1")
    screenshot(6, "cr-rep-unread-bell")
    page.get_by_test_id("notification-bell").click()
    expect(page.get_by_role("heading", name="Notifications", level=1)).to_be_visible()
    notification = page.get_by_test_id("notifications").get_by_role("link", name=re.compile(re.escape(ASSET_TITLE)))
    expect(notification).to_contain_text("Your content request was delivered")
    screenshot(7, "cr-rep-notifications")
    notification.click()

    expect(page).to_have_url(request_url)
    expect(page.get_by_test_id("request-status")).to_have_text("Delivered")
    asset_link = page.get_by_test_id("delivered").get_by_role("link", name=ASSET_TITLE)
    expect(asset_link).to_have_attribute("href", re.compile(r"^/content/\d+/$"))
    expect(page.get_by_test_id("unread-count")).to_have_count(0)  # opening it marked it read
    screenshot(8, "cr-rep-request-delivered")
    asset_link.click()
    expect(page.get_by_role("heading", name=ASSET_TITLE)).to_be_visible()

    content_request = ContentRequest.objects.get(organization=org)
    assert content_request.status == ContentRequest.Status.DELIVERED
    assert content_request.requested_by == rep and content_request.assignee == marketer
    assert content_request.delivered_asset.url == ASSET_URL
    assert Notification.objects.get(recipient=rep).read_at is not None
