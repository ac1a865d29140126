"""Sign-up, invitation and log-in journeys, clicked through in a real browser."""

from __future__ import annotations

import re

from django.conf import settings
from playwright.sync_api import Page, expect

from smarketing.accounts.models import Membership, Organization, User
from tests.browser.pages import log_out
from tests.factories import PASSWORD, MembershipFactory, OrganizationFactory

ORG_NAME = "Northwind Traders"
ADMIN_EMAIL = "ada@northwind.test"
ADMIN_PASSWORD = "plum-Orbit-cascade-42"
MEMBER_EMAIL = "sam.rep@northwind.test"
MEMBER_PASSWORD = "violet-Harbor-lantern-17"


def invitation_link(mailoutbox, live_server, email: str) -> str:
    [message] = [m for m in mailoutbox if email in m.to]
    match = re.search(re.escape(settings.SITE_URL) + r"/invitations/[^\s]+/", message.body)
    assert match, f"no invitation link in the email:\n{message.body}"
    return live_server.url + match.group(0).removeprefix(settings.SITE_URL)


def test_signup_invite_and_member_login(page: Page, live_server, mailoutbox, screenshot):
    # 1. Sign up: a new user and the organisation they administer.
    page.goto("/accounts/signup/")
    expect(page.get_by_role("heading", name="Create your organisation")).to_be_visible()
    page.get_by_label("Your name").fill("Ada Lovelace")
    page.get_by_label("Email").fill(ADMIN_EMAIL)
    page.get_by_label("Password").fill(ADMIN_PASSWORD)
    page.get_by_label("Organisation name").fill(ORG_NAME)
    screenshot(1, "signup")
    page.get_by_role("button", name="Sign up").click()

    expect(page).to_have_url(re.compile(r"/home/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(ORG_NAME)
    expect(page.get_by_role("status")).to_contain_text(f"{ORG_NAME} is ready")
    expect(page.get_by_test_id("org-switcher").locator("summary")).to_contain_text("Admin")
    screenshot(2, "home-admin")

    # 2. Invite a sales rep from the Team page.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Team").click()
    expect(page.get_by_role("heading", name="Team", level=1)).to_be_visible()
    invite_form = page.get_by_test_id("invite-form")
    invite_form.get_by_label("Email").fill(MEMBER_EMAIL)
    invite_form.get_by_label("Role").select_option(label="Sales rep")
    invite_form.get_by_role("button", name="Send invitation").click()

    expect(page.get_by_role("status")).to_contain_text(f"Invitation sent to {MEMBER_EMAIL}.")
    pending = page.get_by_test_id("invitations")
    expect(pending).to_contain_text(MEMBER_EMAIL)
    expect(pending).to_contain_text("as Sales rep")
    screenshot(3, "team-invited")

    # 3. The invitation email (sent eagerly, captured by the locmem backend in this process).
    link = invitation_link(mailoutbox, live_server, MEMBER_EMAIL)

    # 4. The admin logs out.
    log_out(page)
    screenshot(4, "logged-out")

    # 5. The invited person opens the link and creates their account.
    page.goto(link)
    expect(page.get_by_role("heading", name=f"Join {ORG_NAME}")).to_be_visible()
    expect(page.get_by_text(MEMBER_EMAIL)).to_be_visible()
    page.get_by_label("Your name").fill("Sam Rep")
    page.get_by_label("Password").fill(MEMBER_PASSWORD)
    screenshot(5, "invitation-signup")
    page.get_by_role("button", name="Create account and join").click()

    expect(page.get_by_role("status")).to_contain_text(f"You joined {ORG_NAME} as Sales rep.")
    # A sales rep starts on their handoff queue (empty so far).
    expect(page.get_by_role("heading", level=1)).to_have_text("Handoff queue")
    expect(page.get_by_test_id("org-switcher").locator("summary")).to_contain_text(ORG_NAME)
    screenshot(6, "member-joined")

    # 6. The member logs out and back in with email and password.
    log_out(page)
    page.get_by_label("Email").fill(MEMBER_EMAIL)
    page.get_by_label("Password").fill(MEMBER_PASSWORD)
    screenshot(7, "login")
    page.get_by_role("button", name="Log in").click()

    expect(page).to_have_url(re.compile(r"/handoffs/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Handoff queue")
    switcher = page.get_by_test_id("org-switcher").locator("summary")
    expect(switcher).to_contain_text(ORG_NAME)
    expect(switcher.locator(".badge")).to_have_text("Sales rep")
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Team")).to_be_visible()
    # Admin-only links (in the organisation menu) are not there at all for a rep.
    expect(page.get_by_role("link", name="API keys", include_hidden=True)).to_have_count(0)
    expect(page.get_by_role("link", name="Organisation settings", include_hidden=True)).to_have_count(0)
    screenshot(8, "home-member")

    membership = Membership.objects.get(user__email=MEMBER_EMAIL, organization__name=ORG_NAME)
    assert membership.role == Membership.Role.SALES_REP


def test_bad_signup_shows_errors_and_creates_nothing(page: Page, transactional_db, screenshot):
    page.goto("/accounts/signup/")
    page.get_by_label("Your name").fill("Weak Password")
    page.get_by_label("Email").fill("weak@example.test")
    page.get_by_label("Password").fill("123")
    page.get_by_label("Organisation name").fill("Weak Ltd")
    page.get_by_role("button", name="Sign up").click()

    expect(page).to_have_url(re.compile(r"/accounts/signup/$"))
    error = page.locator(".field.has-error .error")
    expect(error).to_contain_text("This password is too short")
    expect(page.get_by_label("Email")).to_have_value("weak@example.test")
    screenshot(1, "bad-signup")

    assert not User.objects.filter(email="weak@example.test").exists()
    assert not Organization.objects.filter(name="Weak Ltd").exists()
    assert User.objects.count() == 0
    assert Organization.objects.count() == 0


def test_small_screen_navigation(page: Page, transactional_db, screenshot):
    org = OrganizationFactory(name="Pocket Co", slug="pocket")
    admin = MembershipFactory(organization=org, role=Membership.Role.ADMIN, side="", user__email="admin@pocket.test")
    page.set_viewport_size({"width": 390, "height": 844})

    page.goto("/accounts/login/")
    page.get_by_label("Email").fill(admin.user.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Pocket Co")

    nav = page.get_by_role("navigation", name="Main")
    toggle = page.locator("label[for=nav-toggle]")
    expect(toggle).to_be_visible()
    expect(nav).to_be_hidden()
    screenshot(1, "small-screen-closed")

    toggle.click()
    for name in ("Overview", "Leads", "Scoring", "Team"):
        expect(nav.get_by_role("link", name=name)).to_be_visible()
    screenshot(2, "small-screen-menu")

    nav.get_by_role("link", name="Team").click()
    expect(page.get_by_role("heading", name="Team", level=1)).to_be_visible()
