"""A rep works the handoff queue: sees what is due, accepts one lead and returns another."""

from __future__ import annotations

import re
from datetime import timedelta

from django.utils import timezone
from playwright.sync_api import Page, expect

from leads.models import Handoff
from smarketing.accounts.models import Membership
from tests.factories import PASSWORD, HandoffFactory, LeadFactory, MembershipFactory, OrganizationFactory


def test_rep_accepts_and_returns_from_the_queue(page: Page, transactional_db, screenshot):
    org = OrganizationFactory(name="Northwind Software", slug="northwind")
    rep = MembershipFactory(organization=org, role=Membership.Role.SALES_REP, user__email="rep@northwind.test")
    now = timezone.now()
    overdue = HandoffFactory(
        rep=rep,
        lead=LeadFactory(organization=org, lifecycle_stage="mql", first_name="Olga", last_name="Late", total_score=72),
        created_at=now - timedelta(hours=5),
        due_at=now - timedelta(minutes=20),
    )
    soon = HandoffFactory(
        rep=rep,
        lead=LeadFactory(organization=org, lifecycle_stage="mql", first_name="Sam", last_name="Soon", total_score=64),
        created_at=now - timedelta(hours=3, minutes=30),
        due_at=now + timedelta(minutes=25),
    )

    page.goto("/accounts/login/")
    page.get_by_label("Email").fill(rep.user.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    # A rep starts on their queue; the overview, with the queue's summary, is one click away.
    expect(page).to_have_url(re.compile(r"/handoffs/$"))
    expect(page.get_by_role("heading", name="Handoff queue", level=1)).to_be_visible()
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Overview").click()
    expect(page.get_by_test_id("queue-summary")).to_contain_text("2 handoffs waiting")
    screenshot(1, "handoff-rep-overview")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Queue").click()
    expect(page.get_by_role("heading", name="Handoff queue", level=1)).to_be_visible()
    rows = page.get_by_test_id("handoff-row")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_have_class(re.compile(r"\boverdue\b"))
    expect(rows.nth(0).get_by_test_id("due")).to_contain_text("overdue by 20 min")
    expect(rows.nth(1)).to_have_class(re.compile(r"\bat-risk\b"))
    screenshot(2, "handoff-queue")

    rows.nth(0).get_by_role("button", name="Accept").click()
    expect(page.get_by_role("status")).to_contain_text("Accepted")
    expect(page.get_by_test_id("handoff-row")).to_have_count(1)

    row = page.get_by_test_id("handoff-row")
    row.get_by_text("Return…").click()
    row.get_by_label("Reason").select_option(label="Not ready (nurture)")
    row.get_by_label("Note").fill("Budget next year")
    screenshot(3, "handoff-return-form")
    row.get_by_test_id("return").click()
    expect(page.get_by_role("status")).to_contain_text("Returned")
    expect(page.get_by_test_id("queue-empty")).to_be_visible()
    screenshot(4, "handoff-queue-empty")

    overdue.refresh_from_db()
    soon.refresh_from_db()
    assert (overdue.status, soon.status) == (Handoff.Status.ACCEPTED, Handoff.Status.RETURNED)
    assert overdue.lead.lifecycle_stage == "sql" and soon.lead.lifecycle_stage == "nurture"
