"""Steps the browser journeys share."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.factories import PASSWORD

# Where a person lands after logging in: the overview, or a sales rep's queue.
HOME_OR_QUEUE = r"/(home|handoffs)/$"


def log_in(page: Page, email: str, *, lands: str = HOME_OR_QUEUE) -> None:
    """Log in through the form (the factories' password) and wait for the landing page."""
    page.goto("/accounts/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(lands))


def log_out(page: Page) -> None:
    page.get_by_test_id("org-switcher").locator("summary").click()
    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(re.compile(r"/accounts/login/$"))
