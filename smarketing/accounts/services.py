"""Use cases of organisations, members, invitations and credentials."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth.password_validation import validate_password
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.validators import validate_email, validate_slug
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify

from smarketing.accounts.models import AccessToken, ApiKey, Holiday, Invitation, Membership, Organization, User
from smarketing.errors import Conflict, InvalidInput

INVITATION_SALT = "smarketing.invitation"
RESERVED_SLUGS = frozenset({"admin", "api", "static", "media", "new", "settings", "accounts"})


# --- Organisations --------------------------------------------------------------------


def organization_slug_validate(slug: str) -> str:
    slug = slug.strip().lower()
    try:
        validate_slug(slug)
    except ValidationError:
        raise InvalidInput("Use only lowercase letters, digits, hyphens and underscores.", field="slug") from None
    if len(slug) < 3 or len(slug) > 50:
        raise InvalidInput("The address must be 3 to 50 characters long.", field="slug")
    if slug in RESERVED_SLUGS:
        raise InvalidInput(f"“{slug}” is reserved; choose another address.", field="slug")
    if Organization.objects.filter(slug=slug).exists():
        raise InvalidInput(f"“{slug}” is already taken; choose another address.", field="slug")
    return slug


def organization_slug_suggest(name: str) -> str:
    base = slugify(name)[:40] or "team"
    slug, n = base, 1
    while slug in RESERVED_SLUGS or len(slug) < 3 or Organization.objects.filter(slug=slug).exists():
        n += 1
        slug = f"{base}-{n}"
    return slug


@transaction.atomic
def organization_create(*, user: User, name: str, slug: str = "", side: str = "") -> Membership:
    """A new organisation with ``user`` as its admin."""
    name = name.strip()
    if not name:
        raise InvalidInput("Give the organisation a name.", field="name")
    slug = organization_slug_validate(slug) if slug else organization_slug_suggest(name)
    try:
        with transaction.atomic():
            org = Organization.objects.create(name=name, slug=slug)
    except IntegrityError:  # lost a race for the slug
        raise InvalidInput(f"“{slug}” is already taken; choose another address.", field="slug") from None
    return Membership.objects.create(organization=org, user=user, role=Membership.Role.ADMIN, side=side)


def _user_create(*, email: str, password: str, full_name: str) -> User:
    email = email.strip().lower()
    try:
        validate_email(email)
    except ValidationError:
        raise InvalidInput("Enter a valid email address.", field="email") from None
    if User.objects.filter(email__iexact=email).exists():
        raise InvalidInput("An account with this email already exists. Log in instead.", field="email")
    user = User(email=email, full_name=full_name.strip())
    try:
        validate_password(password, user=user)
    except ValidationError as exc:
        raise InvalidInput(" ".join(exc.messages), field="password") from None
    user.set_password(password)
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError:
        raise InvalidInput("An account with this email already exists. Log in instead.", field="email") from None
    return user


@transaction.atomic
def organization_signup(
    *, email: str, password: str, full_name: str, organization_name: str, slug: str = "", side: str = ""
) -> Membership:
    """Sign-up: a new user and a new organisation they administer, or nothing at all."""
    user = _user_create(email=email, password=password, full_name=full_name)
    return organization_create(user=user, name=organization_name, slug=slug, side=side)


# --- Members --------------------------------------------------------------------------


def _lock_membership(membership: Membership) -> Membership:
    """Lock the organisation, then the membership: changes that could leave an organisation
    without an admin are serialised per organisation (two admins demoting each other at
    once would otherwise both see "another admin exists")."""
    Organization.objects.select_for_update().filter(pk=membership.organization_id).first()
    return Membership.objects.select_for_update().select_related("organization").get(pk=membership.pk)


def _other_admins_exist(membership: Membership) -> bool:
    return (
        Membership.objects.for_org(membership.organization)
        .filter(role=Membership.Role.ADMIN, removed_at=None)
        .exclude(pk=membership.pk)
        .exists()
    )


def _side_validate(role: str, side: str) -> str:
    if role not in Membership.Role.values:
        raise InvalidInput(f"Unknown role “{role}”.", field="role")
    if side and side not in Membership.Side.values:
        raise InvalidInput(f"Unknown side “{side}”.", field="side")
    if role == Membership.Role.MANAGER and not side:
        raise InvalidInput("A manager leads marketing or sales: choose a side.", field="side")
    return side or Membership.default_side(role)


@transaction.atomic
def membership_update(*, membership: Membership, role: str, side: str = "") -> Membership:
    membership = _lock_membership(membership)
    side = _side_validate(role, side)
    demoting_admin = membership.role == Membership.Role.ADMIN and role != Membership.Role.ADMIN
    if demoting_admin and not _other_admins_exist(membership):
        raise Conflict("An organisation needs at least one admin; make someone else admin first.")
    membership.role, membership.side = role, side
    membership.save(update_fields=["role", "side"])
    return membership


@transaction.atomic
def membership_remove(*, membership: Membership, now: datetime | None = None) -> Membership:
    """Remove a member: they lose access at once (sessions and API tokens), history keeps them."""
    now = now or timezone.now()
    membership = _lock_membership(membership)
    if membership.removed_at is not None:
        raise Conflict("This member has already been removed.")
    if membership.role == Membership.Role.ADMIN and not _other_admins_exist(membership):
        raise Conflict("An organisation needs at least one admin; make someone else admin first.")
    membership.removed_at = now
    membership.save(update_fields=["removed_at"])
    membership.access_tokens.filter(revoked_at=None).update(revoked_at=now)
    return membership


# --- Invitations ----------------------------------------------------------------------


def invitation_token(invitation: Invitation) -> str:
    return signing.dumps(invitation.pk, salt=INVITATION_SALT)


def invitation_url(invitation: Invitation) -> str:
    path = reverse("accounts:invitation_accept", kwargs={"token": invitation_token(invitation)})
    return f"{settings.SITE_URL}{path}"


@transaction.atomic
def invitation_create(
    *, invited_by: Membership, email: str, role: str, side: str = "", now: datetime | None = None
) -> Invitation:
    """Invite ``email`` to the inviter's organisation; the email is sent by a task after commit."""
    from smarketing.accounts.tasks import send_invitation_email

    now = now or timezone.now()
    org = invited_by.organization
    email = email.strip().lower()
    try:
        validate_email(email)
    except ValidationError:
        raise InvalidInput("Enter a valid email address.", field="email") from None
    side = _side_validate(role, side)
    if Membership.objects.for_org(org).filter(user__email__iexact=email, removed_at=None).exists():
        raise InvalidInput(f"{email} is already a member of {org.name}.", field="email")
    pending = Invitation.objects.for_org(org).filter(email__iexact=email, status=Invitation.Status.PENDING)
    pending.filter(expires_at__lte=now).update(status=Invitation.Status.EXPIRED)
    if pending.exists():
        raise InvalidInput(f"An invitation for {email} is already pending; revoke it to send a new one.", field="email")
    invitation = Invitation.objects.create(
        organization=org,
        email=email,
        role=role,
        side=side,
        invited_by=invited_by,
        created_at=now,
        expires_at=now + timedelta(days=settings.INVITATION_TTL_DAYS),
    )
    send_invitation_email.delay_on_commit(invitation.pk)
    return invitation


def invitation_send_email(*, invitation_id: int, now: datetime | None = None) -> bool:
    """Email the invitation link. Returns False when there is nothing (left) to send."""
    from django.core.mail import send_mail
    from django.template.loader import render_to_string

    invitation = Invitation.objects.select_related("organization", "invited_by__user").filter(pk=invitation_id).first()
    now = now or timezone.now()
    if invitation is None or invitation.problem(now) is not None or invitation.email_sent_at is not None:
        return False
    context = {"invitation": invitation, "url": invitation_url(invitation)}
    send_mail(
        subject=f"You're invited to {invitation.organization.name} on Smarketing",
        message=render_to_string("accounts/email/invitation.txt", context),
        from_email=None,
        recipient_list=[invitation.email],
    )
    Invitation.objects.filter(pk=invitation.pk, email_sent_at=None).update(email_sent_at=timezone.now())
    return True


def invitation_from_token(*, token: str, now: datetime | None = None) -> Invitation:
    """The invitation a link points at, if it can still be accepted."""
    try:
        pk = signing.loads(token, salt=INVITATION_SALT)
    except signing.BadSignature:
        raise InvalidInput("This invitation link is not valid. Check that you copied all of it.") from None
    invitation = Invitation.objects.select_related("organization").filter(pk=pk).first()
    if invitation is None:
        raise InvalidInput("This invitation no longer exists. Ask an admin to invite you again.")
    problem = invitation.problem(now or timezone.now())
    if problem:
        raise InvalidInput(problem)
    return invitation


@transaction.atomic
def invitation_accept(*, token: str, user: User, now: datetime | None = None) -> Membership:
    now = now or timezone.now()
    invitation = invitation_from_token(token=token, now=now)
    invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
    if invitation.status != Invitation.Status.PENDING:
        raise Conflict(invitation.problem(now) or "This invitation can no longer be used.")
    if user.email.lower() != invitation.email.lower():
        raise InvalidInput(
            f"This invitation is for {invitation.email}; you are signed in as {user.email}.", field="email"
        )
    membership, created = Membership.objects.get_or_create(
        organization=invitation.organization,
        user=user,
        defaults={"role": invitation.role, "side": invitation.side, "created_at": now},
    )
    if not created:
        if membership.removed_at is None:
            raise Conflict(f"You are already a member of {invitation.organization.name}.")
        membership.role, membership.side, membership.removed_at = invitation.role, invitation.side, None
        membership.save(update_fields=["role", "side", "removed_at"])
    invitation.status, invitation.accepted_at = Invitation.Status.ACCEPTED, now
    invitation.save(update_fields=["status", "accepted_at"])
    return membership


@transaction.atomic
def invitation_signup(*, token: str, full_name: str, password: str, now: datetime | None = None) -> Membership:
    """Accept an invitation by creating the invited person's account."""
    invitation = invitation_from_token(token=token, now=now)
    user = _user_create(email=invitation.email, password=password, full_name=full_name)
    return invitation_accept(token=token, user=user, now=now)


@transaction.atomic
def invitation_revoke(*, invitation: Invitation) -> Invitation:
    invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
    if invitation.status != Invitation.Status.PENDING:
        raise Conflict(f"This invitation is already {invitation.get_status_display().lower()}.")
    invitation.status = Invitation.Status.REVOKED
    invitation.save(update_fields=["status"])
    return invitation


def invitations_expire(*, now: datetime | None = None) -> int:
    """Mark pending invitations past their expiry as expired (idempotent)."""
    now = now or timezone.now()
    return Invitation.objects.filter(status=Invitation.Status.PENDING, expires_at__lte=now).update(
        status=Invitation.Status.EXPIRED
    )


# --- API credentials ------------------------------------------------------------------


def api_key_create(
    *, organization: Organization, name: str, created_by: Membership | None = None
) -> tuple[ApiKey, str]:
    """A new API key and its secret, which is returned this once and never stored."""
    name = name.strip()
    if not name:
        raise InvalidInput("Name the key after what will use it, e.g. “Website tracking”.", field="name")
    api_key, raw = ApiKey.build(organization=organization, name=name[:100], created_by=created_by)
    api_key.save()
    return api_key, raw


@transaction.atomic
def api_key_revoke(*, api_key: ApiKey, now: datetime | None = None) -> ApiKey:
    api_key = ApiKey.objects.select_for_update().get(pk=api_key.pk)
    if api_key.revoked_at is not None:
        raise Conflict("This API key has already been revoked.")
    api_key.revoked_at = now or timezone.now()
    api_key.save(update_fields=["revoked_at"])
    return api_key


def access_token_create(
    *, email: str, password: str, organization_slug: str = "", now: datetime | None = None
) -> tuple[AccessToken, str]:
    """Exchange a person's credentials for an API token bound to one of their memberships."""
    now = now or timezone.now()
    user = authenticate(username=email.strip(), password=password)
    if user is None:
        raise InvalidInput("Email or password is incorrect.")
    memberships = Membership.objects.filter(user=user, removed_at=None).select_related("organization")
    if organization_slug:
        membership = memberships.filter(organization__slug=organization_slug).first()
        if membership is None:
            raise InvalidInput(f"You are not a member of an organisation “{organization_slug}”.", field="organization")
    else:
        found = list(memberships[:2])
        if not found:
            raise InvalidInput("You are not a member of any organisation.")
        if len(found) > 1:
            slugs = ", ".join(memberships.values_list("organization__slug", flat=True))
            raise InvalidInput(f"You belong to several organisations; say which one ({slugs}).", field="organization")
        membership = found[0]
    token, raw = AccessToken.build(
        membership=membership, created_at=now, expires_at=now + timedelta(days=settings.API_TOKEN_TTL_DAYS)
    )
    token.save()
    return token, raw


def access_token_revoke(*, token: AccessToken, now: datetime | None = None) -> None:
    AccessToken.objects.filter(pk=token.pk, revoked_at=None).update(revoked_at=now or timezone.now())


def holiday_add(*, org: Organization, day: date, name: str) -> Holiday:
    """A day off in the business-hours calendar. Due times already set do not move."""
    name = " ".join(name.split())
    if not name:
        raise InvalidInput("Name the holiday.", field="name")
    if Holiday.objects.for_org(org).filter(date=day).exists():
        raise InvalidInput(f"{day:%d %b %Y} is already a holiday.", field="date")
    return Holiday.objects.create(organization=org, date=day, name=name[:100])


def holiday_delete(*, holiday: Holiday) -> None:
    holiday.delete()
