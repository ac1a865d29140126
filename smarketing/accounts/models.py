"""Organisations (tenants), their members and roles, invitations, and API credentials."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, time

from django.conf import settings
from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

from smarketing.accounts.tenancy import OrgQuerySet


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def get_by_natural_key(self, username: str | None) -> User:
        return self.get(email__iexact=username)

    def create_user(self, email: str, password: str | None = None, **extra) -> User:
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **extra) -> User:
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self.create_user(email, password, **extra)


class User(AbstractUser):
    """A person who signs in with an email address; belongs to organisations via memberships."""

    username = None
    first_name = None
    last_name = None
    email = models.EmailField("email address", unique=True)
    full_name = models.CharField(max_length=150, blank=True)

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    objects = UserManager()

    class Meta:
        constraints = [models.UniqueConstraint(Lower("email"), name="user_email_ci_unique")]

    def __str__(self) -> str:
        return self.full_name or self.email

    def get_full_name(self) -> str:
        return self.full_name or self.email

    def get_short_name(self) -> str:
        return (self.full_name.split() or [self.email])[0]


def default_pipeline_stages() -> list[str]:
    return ["Discovery", "Proposal", "Negotiation"]


def default_working_days() -> list[int]:
    return [0, 1, 2, 3, 4]


def validate_currency(value: str) -> None:
    if not (len(value) == 3 and value.isascii() and value.isalpha() and value.isupper()):
        raise ValidationError("A three-letter ISO 4217 code in capitals, e.g. EUR.")


class Organization(models.Model):
    """A tenant: one company's sales and marketing team sharing one record of its leads."""

    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=50, unique=True)
    time_zone = models.CharField(max_length=64, default="UTC")
    # Origins (scheme://host[:port]) whose pages may post embedded web forms and tracking events.
    allowed_origins = models.JSONField(default=list, blank=True)
    # Whether any lead has another address (leads.LeadEmailAlias, made by a merge): until then a
    # new lead's email is not looked up among them (creating leads is a hot path).
    has_email_aliases = models.BooleanField(default=False, editable=False)
    content_request_turnaround_days = models.PositiveSmallIntegerField(
        default=10, help_text="Business days marketing has to deliver a content request."
    )
    # Until the SLA issue lands: who gets a lead no routing rule places, and how long a rep has.
    routing_fallback = models.ForeignKey(
        "accounts.Membership",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="Gets the handoffs no routing rule places (or when every rep is away or at capacity).",
    )
    handoff_response_hours = models.PositiveSmallIntegerField(
        default=4, validators=[MinValueValidator(1)], help_text="Business hours a rep has to act on a new handoff."
    )
    handoff_at_risk_percent = models.PositiveSmallIntegerField(
        default=75,
        validators=[MinValueValidator(1), MaxValueValidator(99)],
        help_text="A handoff not touched when this share of its window has passed is at risk: its rep is warned.",
    )
    handoff_breach_grace_hours = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        help_text="Business hours after a breach before the handoff is routed to someone else; empty: never "
        "automatically.",
    )
    handoff_reroute_predicted = models.BooleanField(
        default=False,
        help_text="Route a handoff predicted to breach (the SLA forecast) to someone else before it does.",
    )
    # The business-hours calendar (smarketing.business_time), with the holidays (Holiday).
    working_days = models.JSONField(
        default=default_working_days, help_text="Working weekdays, 0 = Monday … 6 = Sunday."
    )
    opens_at = models.TimeField(default=time(9, 0), help_text="Business hours start (local time).")
    closes_at = models.TimeField(default=time(17, 0), help_text="Business hours end (local time).")
    # Deals are recorded in this one currency; revenue adds up and is attributed in it.
    currency = models.CharField(
        max_length=3, default="USD", validators=[validate_currency], help_text="ISO 4217 code, e.g. EUR."
    )
    # The open stages of an opportunity, in order; won and lost close it from any of them.
    pipeline_stages = models.JSONField(
        default=default_pipeline_stages, blank=True, help_text="The open stages of an opportunity, in order."
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(handoff_response_hours__gte=1), name="org_handoff_hours_positive"
            ),
            models.CheckConstraint(condition=models.Q(closes_at__gt=models.F("opens_at")), name="org_hours_end_after"),
        ]
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Holiday(models.Model):
    """A day off in the organisation's business-hours calendar: no response clock runs on it."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="holidays")
    date = models.DateField()
    name = models.CharField(max_length=100)

    objects = OrgQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organization", "date"], name="holiday_one_per_day")]
        ordering = ["date"]

    def __str__(self) -> str:
        return f"{self.date:%Y-%m-%d} {self.name}"


class Membership(models.Model):
    """A user's place in an organisation: their role, and which side of the revenue team they sit on."""

    class Role(models.TextChoices):
        ADMIN = "admin", "Admin"
        MANAGER = "manager", "Manager"
        MARKETER = "marketer", "Marketer"
        SALES_REP = "sales_rep", "Sales rep"
        PARTNER = "partner", "Partner"

    class Side(models.TextChoices):
        MARKETING = "marketing", "Marketing"
        SALES = "sales", "Sales"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=20, choices=Role.choices)
    side = models.CharField(max_length=20, choices=Side.choices, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    # Removal is soft: leads, handoffs and history keep pointing at the member who acted.
    removed_at = models.DateTimeField(null=True, blank=True)

    objects = OrgQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "user"], name="membership_org_user_unique"),
        ]
        indexes = [models.Index(fields=["organization", "role"], name="membership_org_role_idx")]
        ordering = ["created_at"]

    def __str__(self) -> str:
        return f"{self.user} ({self.get_role_display()}, {self.organization})"

    @property
    def is_active(self) -> bool:
        return self.removed_at is None

    @staticmethod
    def default_side(role: str) -> str:
        return {
            Membership.Role.MARKETER: Membership.Side.MARKETING,
            Membership.Role.SALES_REP: Membership.Side.SALES,
        }.get(role, "")


class Invitation(models.Model):
    """An admin's invitation for an email address to join the organisation with a role."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        ACCEPTED = "accepted", "Accepted"
        REVOKED = "revoked", "Revoked"
        EXPIRED = "expired", "Expired"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField()
    role = models.CharField(max_length=20, choices=Membership.Role.choices)
    side = models.CharField(max_length=20, choices=Membership.Side.choices, blank=True)
    invited_by = models.ForeignKey(Membership, on_delete=models.SET_NULL, null=True, related_name="+")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    email_sent_at = models.DateTimeField(null=True, blank=True)
    accepted_at = models.DateTimeField(null=True, blank=True)

    objects = OrgQuerySet.as_manager()

    class Meta:
        constraints = [
            # At most one open invitation per address and organisation.
            models.UniqueConstraint(
                Lower("email"),
                "organization",
                condition=models.Q(status="pending"),
                name="invitation_pending_email_unique",
            ),
        ]
        indexes = [models.Index(fields=["organization", "status"], name="invitation_org_status_idx")]
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Invitation for {self.email} to {self.organization}"

    def problem(self, now: datetime) -> str | None:
        """Why this invitation cannot be accepted now, or None when it can."""
        if self.status == self.Status.PENDING and self.expires_at <= now:
            return "This invitation has expired. Ask an admin to invite you again."
        return {
            self.Status.ACCEPTED: "This invitation has already been used.",
            self.Status.REVOKED: "This invitation was revoked. Ask an admin to invite you again.",
            self.Status.EXPIRED: "This invitation has expired. Ask an admin to invite you again.",
        }.get(self.status)


def digest(raw: str) -> str:
    """Credentials are stored as SHA-256 digests: high-entropy secrets need no slow hash."""
    return hashlib.sha256(raw.encode()).hexdigest()


def new_secret(prefix: str) -> str:
    return f"{prefix}_{secrets.token_urlsafe(32)}"


class Credential(models.Model):
    """A bearer secret stored only as its digest, shown once, revocable, optionally expiring."""

    PREFIX = ""

    prefix = models.CharField(max_length=16, help_text="First characters, to recognise the secret.")
    key_digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True

    @classmethod
    def build(cls, **fields) -> tuple[Credential, str]:
        """An unsaved credential and its raw secret (which is never stored)."""
        raw = new_secret(cls.PREFIX)
        return cls(prefix=raw[: len(cls.PREFIX) + 7], key_digest=digest(raw), **fields), raw

    def problem(self, now: datetime) -> str | None:
        """Why this credential cannot be used now, or None when it can."""
        if self.revoked_at is not None:
            return "has been revoked"
        if self.expires_at is not None and self.expires_at <= now:
            return "has expired"
        return None


class ApiKey(Credential):
    """An organisation's key for machine clients (event ingestion, integrations)."""

    PREFIX = "smk"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100)
    created_by = models.ForeignKey(Membership, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")

    objects = OrgQuerySet.as_manager()

    class Meta:
        indexes = [models.Index(fields=["organization", "revoked_at"], name="apikey_org_revoked_idx")]
        ordering = ["-created_at"]
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"


class AccessToken(Credential):
    """A person's API token, bound to one membership: removing the member ends the token."""

    PREFIX = "smt"

    membership = models.ForeignKey(Membership, on_delete=models.CASCADE, related_name="access_tokens")

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Token {self.prefix}… for {self.membership}"
