from __future__ import annotations

import re

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from smarketing.accounts import services
from smarketing.accounts.models import ApiKey, Holiday, Invitation, Membership, Organization, User
from tests.factories import PASSWORD, LeadFactory, MembershipFactory, organization_settings_data

pytestmark = pytest.mark.django_db


def test_anonymous_visitor_is_sent_to_login(client):
    response = client.get(reverse("home"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))


def test_signup_page_creates_organisation_and_signs_in(client):
    response = client.post(
        reverse("accounts:signup"),
        {
            "full_name": "Fran",
            "email": "fran@newco.test",
            "password": "a-long-enough-passphrase",
            "organization_name": "NewCo",
        },
        follow=True,
    )
    assert response.status_code == 200
    assert "NewCo is ready" in response.content.decode()
    assert response.context["org"].slug == "newco"
    assert response.context["membership"].role == Membership.Role.ADMIN


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("email", "admin@acme.test", "already exists"),
        ("password", "password", "too common"),
        ("slug", "no spaces", "lowercase letters"),
    ],
)
def test_signup_errors_are_shown_and_nothing_is_created(client, admin, field, value, error):
    data = {"full_name": "X", "email": "x@newco.test", "password": "a-long-enough-passphrase"}
    data |= {"organization_name": "NewCo", field: value}
    response = client.post(reverse("accounts:signup"), data)
    assert response.status_code == 200
    assert error in response.content.decode()
    assert not Organization.objects.filter(name="NewCo").exists()
    assert User.objects.count() == 1


def test_login_with_email_any_case(client, rep):
    response = client.post(reverse("accounts:login"), {"username": "REP@acme.test", "password": PASSWORD})
    assert response.status_code == 302
    assert client.get(reverse("home")).status_code == 200


@pytest.mark.parametrize(
    ("role", "lands_on"), [("sales_rep", "handoffs:queue"), ("marketer", "home"), ("admin", "home")]
)
def test_members_start_where_their_role_works(client, org, role, lands_on):
    """A sales rep starts on their handoff queue (after logging in and from the logo); everyone
    else on the overview, which stays in the rep's menu too."""
    member = MembershipFactory(organization=org, role=role, side="")
    response = client.post(
        reverse("accounts:login"), {"username": member.user.email, "password": PASSWORD}, follow=True
    )
    assert response.redirect_chain[-1][0] == reverse(lands_on) and response.status_code == 200
    header = re.search(r'<header class="topbar">.*?</header>', response.content.decode(), re.S).group(0)
    assert f'<a class="brand" href="{reverse(lands_on)}">' in header
    assert f'<a href="{reverse("home")}"' in header and ">Overview</a>" in header
    assert client.get(reverse("home")).status_code == 200


def test_switching_organisation_starts_where_the_new_role_works(login, rep, other_org):
    MembershipFactory(organization=other_org, user=rep.user, role="marketer")
    client = login(rep)
    assert client.post(reverse("accounts:organization_switch", args=["globex"]))["Location"] == reverse("home")
    response = client.post(reverse("accounts:organization_switch", args=["acme"]))
    assert response["Location"] == reverse("handoffs:queue")


def test_home_shows_stage_chart_and_newest_leads(login, marketer, django_assert_max_num_queries):
    LeadFactory.create_batch(3, organization=marketer.organization, lifecycle_stage="mql")
    LeadFactory(organization=marketer.organization, lifecycle_stage="customer", email="won@client.test")
    client = login(marketer)
    # session, user, membership, stage counts, recent leads, member count, unread bell, stage wording
    with django_assert_max_num_queries(10):
        response = client.get(reverse("home"))
    body = response.content.decode()
    assert 'data-testid="bar-chart"' in body
    assert "MQL: 3" in body and "Customer: 1" in body
    assert "won@client.test" in body


def test_a_large_organisations_stage_counts_come_from_the_cache_and_are_recounted_when_old(
    login, marketer, monkeypatch, django_assert_num_queries
):
    from leads import selectors

    monkeypatch.setattr(selectors, "STAGE_COUNTS_CACHE_FROM", 3)  # "large" from 3 leads
    LeadFactory.create_batch(3, organization=marketer.organization, lifecycle_stage="mql")
    client = login(marketer)
    # session, user, membership, stage counts, member count, recent wins, unread bell, recent leads,
    # stage wording
    with django_assert_num_queries(9):
        assert "MQL: 3" in client.get(reverse("home")).content.decode()
    LeadFactory(organization=marketer.organization, lifecycle_stage="mql")
    with django_assert_num_queries(8):  # counted a moment ago: not counted again
        assert "MQL: 3" in client.get(reverse("home")).content.decode()
    monkeypatch.setattr(selectors, "STAGE_COUNTS_FRESH_S", -1)  # the counts have aged
    # Shown as they were while the task counts again (in the background with a worker; here eagerly).
    assert "MQL: 3" in client.get(reverse("home")).content.decode()
    monkeypatch.setattr(selectors, "STAGE_COUNTS_FRESH_S", 60)
    assert "MQL: 4" in client.get(reverse("home")).content.decode()


def test_a_small_organisations_stage_counts_are_always_exact(login, marketer):
    LeadFactory.create_batch(2, organization=marketer.organization, lifecycle_stage="mql")
    client = login(marketer)
    assert "MQL: 2" in client.get(reverse("home")).content.decode()
    LeadFactory(organization=marketer.organization, lifecycle_stage="mql")
    assert "MQL: 3" in client.get(reverse("home")).content.decode()


def test_home_empty_state_guides_the_admin(login, admin):
    body = login(admin).get(reverse("home")).content.decode()
    assert "No leads yet" in body and reverse("accounts:api_keys") in body


def test_user_without_organisation_is_asked_to_create_one(client):
    user = User.objects.create_user("lonely@example.test", PASSWORD)
    client.force_login(user)
    response = client.get(reverse("home"))
    assert response["Location"] == reverse("accounts:organization_create")


@pytest.mark.parametrize(
    ("role", "visible", "hidden"),
    [
        ("admin", ["Team", "API keys", "Organisation settings"], []),
        ("manager", ["Team"], ["API keys", "Organisation settings"]),
        ("sales_rep", ["Team"], ["API keys", "Organisation settings"]),
        ("partner", [], ["Team", "API keys", "Organisation settings"]),
    ],
)
def test_navigation_depends_on_role(login, org, role, visible, hidden):
    membership = MembershipFactory(organization=org, role=role, side="sales" if role == "manager" else "")
    # The header: the main navigation and the organisation menu.
    nav = re.search(
        r'<header class="topbar">.*?</header>', login(membership).get(reverse("home")).content.decode(), re.S
    )
    links = re.findall(r">([^<]+)</a>", nav.group(0))
    assert all(v in links for v in visible) and not any(h in links for h in hidden)


def test_switching_organisation_changes_what_pages_show(login, rep, other_org):
    MembershipFactory(organization=other_org, user=rep.user, role="marketer")
    client = login(rep)
    assert "Globex" in client.get(reverse("home")).content.decode()  # listed in the switcher
    client.post(reverse("accounts:organization_switch", args=["globex"]))
    response = client.get(reverse("home"))
    assert response.context["org"] == other_org
    assert response.context["membership"].role == "marketer"


def test_a_page_reads_the_users_memberships_once(login, rep, other_org):
    """The middleware's read of the user's memberships also fills the header's organisation switcher."""
    MembershipFactory(organization=other_org, user=rep.user, role="marketer")
    client = login(rep)
    with CaptureQueriesContext(connection) as queries:
        body = client.get(reverse("home")).content.decode()
    switcher = re.search(r'data-testid="org-switcher".*?</details>', body, re.S).group(0)
    assert "Acme" in switcher and "Globex" in switcher
    reads = [q["sql"] for q in queries if 'FROM "accounts_membership"' in q["sql"] and '"user_id" =' in q["sql"]]
    assert len(reads) == 1


def test_switching_to_an_organisation_you_left_is_404(login, rep, other_org):
    left = MembershipFactory(organization=other_org, user=rep.user, role="marketer")
    services.membership_remove(membership=left)
    response = login(rep).post(reverse("accounts:organization_switch", args=["globex"]))
    assert response.status_code == 404


def test_members_page_lists_team_with_constant_queries(login, admin, django_assert_max_num_queries):
    MembershipFactory.create_batch(15, organization=admin.organization)
    client = login(admin)
    with django_assert_max_num_queries(10):
        response = client.get(reverse("accounts:members"))
    assert len(response.context["members"]) == 16


def test_admin_invites_from_the_team_page(login, admin, django_capture_on_commit_callbacks):
    client = login(admin)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("accounts:members"), {"email": "new@acme.test", "role": "sales_rep", "side": ""}, follow=True
        )
    assert "Invitation sent to new@acme.test" in response.content.decode()
    assert Invitation.objects.get().email == "new@acme.test"
    assert len(mail.outbox) == 1


def test_inviting_an_existing_member_shows_the_reason(login, admin, rep):
    response = login(admin).post(reverse("accounts:members"), {"email": rep.user.email, "role": "marketer"})
    assert "already a member" in response.content.decode()
    assert not Invitation.objects.exists()


def test_rep_sees_team_but_cannot_invite(login, rep):
    client = login(rep)
    page = client.get(reverse("accounts:members")).content.decode()
    assert 'data-testid="invite-form"' not in page
    client.post(reverse("accounts:members"), {"email": "sneaky@acme.test", "role": "admin"})
    assert not Invitation.objects.exists()


@pytest.mark.parametrize("role", ["manager", "marketer", "sales_rep", "partner"])
def test_only_admins_manage_members_and_keys(login, org, rep, role):
    membership = MembershipFactory(organization=org, role=role, side="sales")
    client = login(membership)
    assert client.get(reverse("accounts:member_edit", args=[rep.pk])).status_code == 403
    assert client.post(reverse("accounts:member_remove", args=[rep.pk])).status_code == 403
    assert client.get(reverse("accounts:api_keys")).status_code == 403
    assert client.get(reverse("accounts:organization_settings")).status_code == 403
    rep.refresh_from_db()
    assert rep.is_active


def test_admin_changes_a_role(login, admin, rep):
    response = login(admin).post(reverse("accounts:member_edit", args=[rep.pk]), {"role": "manager", "side": "sales"})
    assert response.status_code == 302
    rep.refresh_from_db()
    assert rep.role == "manager"


def test_last_admin_cannot_demote_themselves(login, admin):
    response = login(admin).post(reverse("accounts:member_edit", args=[admin.pk]), {"role": "marketer"})
    assert "at least one admin" in response.content.decode()
    admin.refresh_from_db()
    assert admin.role == "admin"


def test_removed_member_loses_access_at_once(client, login, admin, rep):
    login(admin).post(reverse("accounts:member_remove", args=[rep.pk]))
    client.force_login(rep.user)
    response = client.get(reverse("home"))
    assert response["Location"] == reverse("accounts:organization_create")


def test_invitation_link_lets_a_new_person_join(client, admin):
    invitation = services.invitation_create(invited_by=admin, email="new@acme.test", role="marketer")
    url = reverse("accounts:invitation_accept", args=[services.invitation_token(invitation)])
    assert "Create your account" in client.get(url).content.decode()
    response = client.post(url, {"full_name": "New", "password": "another-long-passphrase"}, follow=True)
    assert "You joined Acme Software as Marketer" in response.content.decode()


def test_invitation_link_for_existing_user_asks_to_log_in(client, admin, outsider):
    invitation = services.invitation_create(invited_by=admin, email=outsider.user.email, role="marketer")
    url = reverse("accounts:invitation_accept", args=[services.invitation_token(invitation)])
    response = client.get(url)
    assert response.status_code == 302 and "next=" in response["Location"]
    client.force_login(outsider.user)
    client.post(url)
    assert outsider.user.memberships.filter(organization=admin.organization).exists()


def test_used_or_broken_invitation_link_explains(client, admin):
    invitation = services.invitation_create(invited_by=admin, email="new@acme.test", role="marketer")
    services.invitation_revoke(invitation=invitation)
    url = reverse("accounts:invitation_accept", args=[services.invitation_token(invitation)])
    response = client.get(url)
    assert response.status_code == 400 and "was revoked" in response.content.decode()
    response = client.get(reverse("accounts:invitation_accept", args=["garbage"]))
    assert response.status_code == 400 and "not valid" in response.content.decode()


def test_api_key_is_shown_once_and_can_be_revoked(login, admin):
    client = login(admin)
    response = client.post(reverse("accounts:api_keys"), {"name": "Website"})
    raw = response.context["new_key"]
    assert raw.startswith("smk_") and raw in response.content.decode()
    assert raw not in client.get(reverse("accounts:api_keys")).content.decode()
    api_key = ApiKey.objects.get()
    client.post(reverse("accounts:api_key_revoke", args=[api_key.pk]))
    api_key.refresh_from_db()
    assert api_key.revoked_at is not None


def test_organisation_settings_update(login, admin):
    org = admin.organization
    login(admin).post(
        reverse("accounts:organization_settings"),
        organization_settings_data(
            org,
            name="Acme Ltd",
            time_zone="Europe/Paris",
            content_request_turnaround_days=5,
            handoff_response_hours=8,
            handoff_breach_grace_hours=2,
            working_days=["0", "1", "2", "3"],
            opens_at="08:30",
            closes_at="16:00",
            currency="eur",
            pipeline_stages="Qualify\n  Demo \n\nProposal",
        ),
    )
    org.refresh_from_db()
    assert (org.name, org.time_zone) == ("Acme Ltd", "Europe/Paris")
    assert (org.content_request_turnaround_days, org.handoff_response_hours, org.handoff_breach_grace_hours) == (
        5,
        8,
        2,
    )
    assert (org.working_days, org.opens_at.isoformat(), org.closes_at.isoformat()) == (
        [0, 1, 2, 3],
        "08:30:00",
        "16:00:00",
    )
    assert (org.currency, org.pipeline_stages) == ("EUR", ["Qualify", "Demo", "Proposal"])


@pytest.mark.parametrize(
    ("values", "error"),
    [
        ({"pipeline_stages": " \n "}, "Name at least one stage."),
        ({"pipeline_stages": "Demo\ndemo"}, "Each stage once."),
        ({"currency": "euro"}, "three-letter ISO 4217 code"),
        ({"opens_at": "17:00", "closes_at": "09:00"}, "Business hours must end after they start."),
        ({"working_days": []}, "This field is required."),
        ({"handoff_response_hours": 0}, "greater than or equal to 1"),
        ({"handoff_response_hours": 721}, "less than or equal to 720"),
    ],
)
def test_organisation_settings_refuse_bad_values_and_save_nothing(login, admin, values, error):
    org = admin.organization
    response = login(admin).post(reverse("accounts:organization_settings"), organization_settings_data(org, **values))
    assert response.status_code == 200 and error in response.content.decode()
    org.refresh_from_db()
    assert org.pipeline_stages == ["Discovery", "Proposal", "Negotiation"]
    assert (org.opens_at.hour, org.closes_at.hour, org.handoff_response_hours) == (9, 17, 4)


def test_the_currency_is_fixed_once_there_are_deals(login, admin):
    from leads.models import Opportunity
    from tests.factories import LeadFactory

    org = admin.organization
    Opportunity.objects.create(
        organization=org,
        lead=LeadFactory(organization=org),
        name="Deal",
        amount=1,
        currency="USD",
        expected_close_date="2026-12-01",
        stage="Discovery",
    )
    response = login(admin).post(
        reverse("accounts:organization_settings"), organization_settings_data(org, currency="EUR")
    )
    assert "the currency can&#x27;t change once there are deals" in response.content.decode()
    org.refresh_from_db()
    assert org.currency == "USD"


def test_holidays_are_added_once_and_removed(login, admin):
    client = login(admin)
    assert client.post(reverse("accounts:holiday_add"), {"date": "2026-12-25", "name": "Christmas"}).status_code == 302
    response = client.post(reverse("accounts:holiday_add"), {"date": "2026-12-25", "name": "Again"})
    assert response.status_code == 400 and "is already a holiday" in response.content.decode()
    holiday = Holiday.objects.get()
    assert "Christmas" in client.get(reverse("accounts:organization_settings")).content.decode()
    assert client.post(reverse("accounts:holiday_delete", args=[holiday.pk])).status_code == 302
    assert not Holiday.objects.exists()


def test_unknown_page_has_a_friendly_404(login, rep, settings):
    settings.DEBUG = False
    response = login(rep).get("/no-such-page/")
    assert response.status_code == 404
    assert "Page not found" in response.content.decode()
