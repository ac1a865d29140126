"""The SLA (issue 6), clicked through: a sales manager sizes next month's funnel, drafts the
agreement from it and signs, a marketing manager signs, and a handoff left untouched breaches."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Browser, Locator, Page, expect

from leads.handoffs import handoff_create
from sla.deadlines import check_deadlines
from smarketing.accounts.models import Membership
from tests.browser.conftest import ARTIFACTS_DIR
from tests.browser.pages import log_in
from tests.factories import (
    LeadFactory,
    MembershipFactory,
    OrganizationFactory,
    RoutingRuleFactory,
    TeamFactory,
    TeamMemberFactory,
)

Role = Membership.Role


@pytest.fixture
def new_page(browser: Browser, live_server) -> Iterator[Callable[[], Page]]:
    """``new_page()``: another member's browser (its own context and cookies), closed after the test."""
    contexts = []

    def _new_page() -> Page:
        context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 800})
        contexts.append(context)
        return context.new_page()

    yield _new_page
    for context in contexts:
        context.close()


def shoot(page: Page, step: int, name: str) -> None:
    """The ``screenshot`` fixture's, for the other members' pages."""
    ARTIFACTS_DIR.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=ARTIFACTS_DIR / f"{step:02d}-{name}.png", full_page=True)


def open_nav(page: Page, name: str) -> None:
    page.get_by_role("navigation", name="Main").get_by_role("link", name=name, exact=True).click()


def needed_in_period(page: Page, step: str) -> Locator:
    """The "In the period" cell of one step of the calculator's result."""
    row = page.get_by_test_id("needed").get_by_role("row").filter(has=page.get_by_role("cell", name=step, exact=True))
    return row.get_by_role("cell").nth(1)


def test_agreement_drafted_from_the_calculator_signed_by_both_sides_then_breached(
    page: Page, new_page, transactional_db, screenshot
):
    org = OrganizationFactory(name="Northwind Software", slug="northwind")
    sales_manager = MembershipFactory(
        organization=org, role=Role.MANAGER, side="sales", user__email="sam@northwind.test", user__full_name="Sam Sales"
    )
    marketing_manager = MembershipFactory(
        organization=org,
        role=Role.MANAGER,
        side="marketing",
        user__email="mia@northwind.test",
        user__full_name="Mia Marketing",
    )
    marketer = MembershipFactory(organization=org, role=Role.MARKETER, user__email="max@northwind.test")
    rep = MembershipFactory(
        organization=org, role=Role.SALES_REP, user__email="rita@northwind.test", user__full_name="Rita Rep"
    )
    team = TeamFactory(organization=org, name="Inside sales")
    TeamMemberFactory(team=team, membership=rep)
    RoutingRuleFactory(organization=org, team=team, name="Everyone")
    next_month = (timezone.localdate().replace(day=1) + timedelta(days=32)).replace(day=15)

    # 1. The sales manager sizes next month's funnel: with no closed deals the rates are assumed
    # (10,000 a deal, 25% won, 50% of SQLs to a deal, 60% of MQLs accepted).
    log_in(page, sales_manager.user.email)
    open_nav(page, "SLA")
    expect(page.get_by_role("heading", name="Service level agreement", level=1)).to_be_visible()
    page.get_by_role("link", name="Reverse-funnel calculator").click()
    expect(page).to_have_url(re.compile(r"/sla/calculator/$"))
    form = page.get_by_test_id("calculator-form")
    form.get_by_label("Revenue target").fill("120000")
    form.get_by_role("combobox", name="Period").select_option(label="Month")
    form.get_by_label("A day in the period").fill(next_month.isoformat())
    form.get_by_role("button", name="Calculate").click()

    expect(page.get_by_test_id("calculator-result")).to_be_visible()
    expect(needed_in_period(page, "Deals won")).to_have_text("12")
    expect(needed_in_period(page, "Opportunities")).to_have_text("48")
    expect(needed_in_period(page, "SQLs")).to_have_text("96")
    expect(needed_in_period(page, "MQLs")).to_have_text("160")
    expect(page.get_by_test_id("thin-history")).to_contain_text("No deal closed in the last 180 days")
    screenshot(1, "sla-calculator")

    # 2. A draft prefilled with those numbers; the manager adds the response window.
    page.get_by_test_id("draft-from-calculator").click()
    expect(page).to_have_url(re.compile(r"/sla/new/\?"))
    expect(page.get_by_role("heading", name="Draft an agreement", level=1)).to_be_visible()
    form = page.get_by_test_id("agreement-form")
    expect(form.get_by_label("MQLs marketing delivers")).to_have_value("160")
    expect(form.get_by_label("SQLs (accepted by sales)")).to_have_value("96")
    expect(form.get_by_label("Shared revenue target")).to_have_value("120000")
    expect(form.locator("input[type=date]")).to_have_value(next_month.replace(day=1).isoformat())
    form.get_by_label("First touch within (business hours)").fill("2")
    screenshot(2, "sla-draft-form")
    form.get_by_role("button", name="Draft", exact=True).click()

    expect(page).to_have_url(re.compile(r"/sla/\d+/$"))
    agreement_url = page.url
    expect(page.get_by_role("status")).to_contain_text("drafted: both sides sign it to make it active")
    expect(page.get_by_test_id("agreement-status")).to_have_text("Draft (awaiting signatures)")
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"{next_month:%B %Y} · Everyone")
    expect(page.get_by_text("first touch within 2 business hours")).to_be_visible()

    # 3. Sales signs; it waits for marketing, whose manager signs from their own browser.
    page.get_by_test_id("sign").click()
    expect(page.get_by_role("status")).to_contain_text("Signed. Draft (awaiting signatures).")
    expect(page.get_by_test_id("signatures")).to_contain_text("Sales: ✓ Sam Sales")
    expect(page.get_by_test_id("agreement-status")).to_have_text("Draft (awaiting signatures)")
    expect(page.get_by_test_id("sign")).to_have_count(0)

    marketing = new_page()
    log_in(marketing, marketing_manager.user.email)
    open_nav(marketing, "SLA")
    marketing.get_by_test_id("agreements").get_by_role("link", name=f"{next_month:%B %Y}").click()
    expect(marketing).to_have_url(agreement_url)
    expect(marketing.get_by_test_id("sign")).to_have_text("Sign for marketing")
    marketing.get_by_test_id("sign").click()
    expect(marketing.get_by_role("status")).to_contain_text("Signed. Active.")
    expect(marketing.get_by_test_id("agreement-status")).to_have_text("Active")
    expect(marketing.get_by_test_id("signatures")).to_contain_text("Marketing: ✓ Mia Marketing")
    shoot(marketing, 3, "sla-active")

    # 4. Two weeks ago marketing handed a lead to the rep, who never touched it; the deadline
    # sweep, run just after it was due, breaches it.
    lead = LeadFactory(organization=org, first_name="Olga", last_name="Overdue", email="olga@prospect.test")
    handoff = handoff_create(lead=lead, actor=marketer, now=timezone.now() - timedelta(days=14))
    assert handoff.rep == rep
    assert check_deadlines(now=handoff.due_at + timedelta(minutes=1)).breached == 1

    rep_page = new_page()
    log_in(rep_page, rep.user.email)
    open_nav(rep_page, "Queue")
    row = rep_page.get_by_test_id("handoff-row")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Olga Overdue")
    expect(row).to_have_class(re.compile(r"\boverdue\b"))
    expect(row.get_by_test_id("due")).to_have_text(re.compile(r"^overdue by \d+ d \d+ h$"))
    shoot(rep_page, 4, "sla-rep-queue-overdue")

    bell = rep_page.get_by_test_id("notification-bell")
    expect(bell.get_by_test_id("unread-count")).to_have_text("2")  # the new handoff, then its breach
    bell.click()
    expect(rep_page.get_by_role("heading", name="Notifications", level=1)).to_be_visible()
    expect(rep_page.get_by_test_id("notifications")).to_contain_text("Breached: Olga Overdue")

    # The sales manager, back on the queue, sees the same row overdue and is told too.
    open_nav(page, "Queue")
    row = page.get_by_test_id("handoff-row")
    expect(row).to_have_class(re.compile(r"\boverdue\b"))
    expect(row).to_contain_text("Rita Rep")
    page.get_by_test_id("notification-bell").click()
    expect(page.get_by_test_id("notifications")).to_contain_text("Breached: Rita Rep did not reach Olga Overdue")
