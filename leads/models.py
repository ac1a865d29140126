"""Leads: one shared record of every person marketing brings in and sales follows up."""

from __future__ import annotations

from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

from smarketing.accounts.models import Organization
from smarketing.accounts.tenancy import OrgQuerySet


class BuyerStage(models.TextChoices):
    """Where the buyer is in their own journey (not our funnel)."""

    AWARENESS = "awareness", "Awareness"
    CONSIDERATION = "consideration", "Consideration"
    DECISION = "decision", "Decision"


class ReturnReason(models.TextChoices):
    """Why sales hands a lead back to marketing."""

    NOT_A_FIT = "not_a_fit", "Not a fit"
    NOT_READY = "not_ready_nurture", "Not ready (nurture)"
    BAD_CONTACT_DATA = "bad_contact_data", "Bad contact data"
    DUPLICATE = "duplicate", "Duplicate"
    EXISTING_CUSTOMER = "existing_customer", "Existing customer"
    COMPETITOR = "competitor", "Competitor"
    OTHER = "other", "Other"


class Channel(models.TextChoices):
    EMAIL = "email", "Email"
    PAID_SEARCH = "paid_search", "Paid search"
    PAID_SOCIAL = "paid_social", "Paid social"
    ORGANIC_SOCIAL = "organic_social", "Organic social"
    SEO_CONTENT = "seo_content", "SEO / content"
    WEBINAR = "webinar", "Webinar"
    EVENT = "event", "Event"
    REFERRAL = "referral", "Referral"
    PARTNER = "partner", "Partner"
    DIRECT = "direct", "Direct"
    OTHER = "other", "Other"


class Campaign(models.Model):
    """A marketing effort with a cost that brings leads in; outcomes roll up to it."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="campaigns")
    name = models.CharField(max_length=200)
    channel = models.CharField(max_length=20, choices=Channel.choices)
    starts_on = models.DateField(null=True, blank=True)
    ends_on = models.DateField(null=True, blank=True)
    budget = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    actual_cost = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    utm_source = models.CharField(max_length=100, blank=True)
    utm_medium = models.CharField(max_length=100, blank=True)
    utm_campaign = models.CharField(max_length=100, blank=True)
    target_persona = models.ForeignKey(
        "personas.Persona", on_delete=models.SET_NULL, null=True, blank=True, related_name="campaigns"
    )
    owner = models.ForeignKey(
        "accounts.Membership", on_delete=models.SET_NULL, null=True, blank=True, related_name="owned_campaigns"
    )
    created_at = models.DateTimeField(default=timezone.now)

    objects = OrgQuerySet.as_manager()

    class Meta:
        indexes = [models.Index(fields=["organization", "-created_at"], name="campaign_org_created_idx")]
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.name


class Lead(models.Model):
    """A person the organisation may sell to, at one lifecycle stage of the shared funnel."""

    class Stage(models.TextChoices):
        SUBSCRIBER = "subscriber", "Subscriber"
        LEAD = "lead", "Lead"
        MQL = "mql", "MQL"
        SQL = "sql", "SQL"
        OPPORTUNITY = "opportunity", "Opportunity"
        CUSTOMER = "customer", "Customer"
        NURTURE = "nurture", "Nurture"
        DISQUALIFIED = "disqualified", "Disqualified"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="leads")
    email = models.EmailField()
    first_name = models.CharField(max_length=100, blank=True)
    last_name = models.CharField(max_length=100, blank=True)
    title = models.CharField(max_length=150, blank=True)
    company_name = models.CharField(max_length=200, blank=True)
    lifecycle_stage = models.CharField(max_length=20, choices=Stage.choices, default=Stage.LEAD)
    buyer_stage = models.CharField(max_length=20, choices=BuyerStage.choices, blank=True)
    persona = models.ForeignKey("personas.Persona", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    objects = OrgQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(Lower("email"), "organization", name="lead_email_ci_unique_per_org")]
        indexes = [
            models.Index(fields=["organization", "lifecycle_stage", "-created_at"], name="lead_org_stage_created_idx"),
            models.Index(fields=["organization", "-created_at"], name="lead_org_created_idx"),
        ]

    def __str__(self) -> str:
        name = f"{self.first_name} {self.last_name}".strip()
        return f"{name} <{self.email}>" if name else self.email
