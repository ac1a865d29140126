from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from smarketing.accounts import services
from smarketing.accounts.models import AccessToken, Invitation, Membership, Organization, User
from smarketing.accounts.policy import can
from smarketing.errors import Conflict, InvalidInput
from tests.factories import PASSWORD, InvitationFactory, MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


def signup(**overrides):
    data = {
        "email": "founder@newco.test",
        "password": "a-long-enough-passphrase",
        "full_name": "Fran Founder",
        "organization_name": "NewCo",
        "slug": "",
    }
    return services.organization_signup(**{**data, **overrides})


def test_signup_creates_user_organisation_and_admin_membership():
    membership = signup()
    assert membership.role == Membership.Role.ADMIN
    assert membership.organization.slug == "newco"
    assert membership.user.check_password("a-long-enough-passphrase")


def test_signup_with_taken_email_any_case_creates_nothing():
    UserFactory(email="founder@newco.test")
    with pytest.raises(InvalidInput, match="already exists") as exc:
        signup(email="Founder@NewCo.test")
    assert exc.value.field == "email"
    assert not Organization.objects.exists()


def test_signup_with_weak_password_creates_nothing():
    with pytest.raises(InvalidInput) as exc:
        signup(password="12345")
    assert exc.value.field == "password"
    assert not User.objects.exists() and not Organization.objects.exists()


@pytest.mark.parametrize(
    ("slug", "message"),
    [("Not A Slug!", "lowercase letters"), ("ab", "3 to 50"), ("admin", "reserved")],
)
def test_signup_with_invalid_slug_creates_nothing(slug, message):
    with pytest.raises(InvalidInput, match=message):
        signup(slug=slug)
    assert not User.objects.exists()


def test_signup_with_taken_slug_creates_nothing(org):
    with pytest.raises(InvalidInput, match="already taken"):
        signup(slug=org.slug)
    assert not User.objects.filter(email="founder@newco.test").exists()


def test_derived_slug_avoids_taken_ones(org):
    membership = signup(organization_name=org.name)
    assert membership.organization.slug not in (org.slug, "")
    assert membership.organization.slug.startswith("acme-software")


def test_one_user_can_run_several_organisations():
    first = signup()
    second = services.organization_create(user=first.user, name="Side Project")
    assert {m.organization.slug for m in first.user.memberships.all()} == {"newco", second.organization.slug}


def test_invitation_is_emailed_after_commit(admin, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        invitation = services.invitation_create(invited_by=admin, email="New.Rep@Acme.test", role="sales_rep")
    assert invitation.email == "new.rep@acme.test"
    assert invitation.side == Membership.Side.SALES
    assert len(mail.outbox) == 1
    # The link's token is signed with a timestamp: compare where it leads, not its text.
    link = re.search(r"https?://\S+/invitations/(\S+?)/", mail.outbox[0].body)
    assert link and services.invitation_from_token(token=link.group(1)) == invitation
    invitation.refresh_from_db()
    assert invitation.email_sent_at is not None


def test_invitation_email_is_not_sent_twice(admin, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        invitation = services.invitation_create(invited_by=admin, email="x@acme.test", role="marketer")
    assert services.invitation_send_email(invitation_id=invitation.pk) is False
    assert len(mail.outbox) == 1


def test_inviting_an_existing_member_is_refused(admin, rep):
    with pytest.raises(InvalidInput, match="already a member"):
        services.invitation_create(invited_by=admin, email=rep.user.email.upper(), role="marketer")
    assert not Invitation.objects.exists()


def test_second_pending_invitation_for_same_email_is_refused(admin):
    services.invitation_create(invited_by=admin, email="x@acme.test", role="marketer")
    with pytest.raises(InvalidInput, match="already pending"):
        services.invitation_create(invited_by=admin, email="X@acme.test", role="sales_rep")


def test_expired_pending_invitation_does_not_block_a_new_one(admin):
    old = InvitationFactory(organization=admin.organization, email="x@acme.test", expires_at=timezone.now())
    services.invitation_create(invited_by=admin, email="x@acme.test", role="marketer")
    old.refresh_from_db()
    assert old.status == Invitation.Status.EXPIRED


def test_manager_invitation_needs_a_side(admin):
    with pytest.raises(InvalidInput, match="choose a side"):
        services.invitation_create(invited_by=admin, email="boss@acme.test", role="manager")


def test_invited_person_signs_up_and_joins_with_the_role(admin):
    invitation = services.invitation_create(invited_by=admin, email="new@acme.test", role="sales_rep")
    token = services.invitation_token(invitation)
    membership = services.invitation_signup(token=token, full_name="New Rep", password="another-long-passphrase")
    assert (membership.organization, membership.role) == (admin.organization, Membership.Role.SALES_REP)
    with pytest.raises(InvalidInput, match="already been used"):
        services.invitation_from_token(token=token)


def test_existing_user_accepts_invitation_to_a_second_organisation(admin, outsider):
    invitation = services.invitation_create(invited_by=admin, email=outsider.user.email, role="marketer")
    membership = services.invitation_accept(token=services.invitation_token(invitation), user=outsider.user)
    assert outsider.user.memberships.count() == 2
    assert membership.side == Membership.Side.MARKETING


def test_invitation_for_someone_else_is_refused(admin, outsider):
    invitation = services.invitation_create(invited_by=admin, email="someone@else.test", role="marketer")
    with pytest.raises(InvalidInput, match=r"is for someone@else\.test"):
        services.invitation_accept(token=services.invitation_token(invitation), user=outsider.user)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"status": Invitation.Status.REVOKED}, "revoked"),
        ({"expires_at": timezone.now() - timedelta(minutes=1)}, "expired"),
    ],
)
def test_revoked_or_expired_invitation_cannot_be_used(admin, change, message):
    invitation = InvitationFactory(organization=admin.organization, **change)
    with pytest.raises(InvalidInput, match=message):
        services.invitation_signup(
            token=services.invitation_token(invitation), full_name="X", password="another-long-passphrase"
        )
    assert not User.objects.filter(email=invitation.email).exists()


def test_tampered_invitation_token_is_refused(admin):
    invitation = InvitationFactory(organization=admin.organization)
    with pytest.raises(InvalidInput, match="not valid"):
        services.invitation_from_token(token=services.invitation_token(invitation) + "x")


def test_removed_member_can_be_invited_back(admin, rep):
    services.membership_remove(membership=rep)
    invitation = services.invitation_create(invited_by=admin, email=rep.user.email, role="marketer")
    membership = services.invitation_accept(token=services.invitation_token(invitation), user=rep.user)
    assert membership.pk == rep.pk and membership.is_active and membership.role == "marketer"


def test_last_admin_cannot_be_demoted_or_removed(admin):
    with pytest.raises(Conflict, match="at least one admin"):
        services.membership_update(membership=admin, role="marketer")
    with pytest.raises(Conflict, match="at least one admin"):
        services.membership_remove(membership=admin)


def test_removing_a_member_revokes_their_tokens_and_permissions(rep):
    token, _ = services.access_token_create(email=rep.user.email, password=PASSWORD)
    services.membership_remove(membership=rep)
    rep.refresh_from_db()
    assert AccessToken.objects.get(pk=token.pk).revoked_at is not None
    assert not can(rep, "organization.view")
    with pytest.raises(Conflict, match="already been removed"):
        services.membership_remove(membership=rep)


def test_token_needs_organisation_when_member_of_several(rep, other_org):
    MembershipFactory(organization=other_org, user=rep.user, role="marketer")
    with pytest.raises(InvalidInput, match="several organisations"):
        services.access_token_create(email=rep.user.email, password=PASSWORD)
    token, _ = services.access_token_create(email=rep.user.email, password=PASSWORD, organization_slug="globex")
    assert token.membership.organization == other_org


def test_api_key_secret_is_stored_only_as_digest(org):
    api_key, raw = services.api_key_create(organization=org, name="Website")
    assert raw.startswith("smk_") and raw not in api_key.key_digest
    assert raw.startswith(api_key.prefix) and len(api_key.prefix) == 10
    with pytest.raises(InvalidInput):
        services.api_key_create(organization=org, name="  ")


def test_expire_invitations_is_idempotent(org):
    InvitationFactory(organization=org, expires_at=timezone.now() - timedelta(seconds=1))
    InvitationFactory(organization=org)
    assert services.invitations_expire() == 1
    assert services.invitations_expire() == 0


def test_for_org_refuses_a_missing_organisation():
    with pytest.raises(ValueError, match="saved organisation"):
        Membership.objects.for_org(None)
