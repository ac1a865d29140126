"""Leads: one shared record of every person marketing brings in and sales follows up."""

from __future__ import annotations

from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

from smarketing.accounts.models import Organization
from smarketing.accounts.tenancy import OrgQuerySet


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
