"""reporting: what the closed-loop reports read, written when an outcome is recorded."""

from __future__ import annotations

from django.db import models

from smarketing.accounts.models import Organization
from smarketing.accounts.tenancy import OrgQuerySet


class AttributionModel(models.TextChoices):
    """How a won deal's revenue is shared among the campaigns that touched the lead."""

    FIRST_TOUCH = "first_touch", "First touch"
    LAST_TOUCH = "last_touch", "Last touch"
    LINEAR = "linear", "Linear"


class AttributionCredit(models.Model):
    """The part of one won opportunity's revenue one campaign earns under one attribution model.

    Written by ``reporting.attribution.opportunity_credit`` when the deal is won, from the
    campaigns that had touched the lead by then; reports add these rows up.
    """

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    opportunity = models.ForeignKey("leads.Opportunity", on_delete=models.CASCADE, related_name="credits")
    campaign = models.ForeignKey("leads.Campaign", on_delete=models.CASCADE, related_name="credits")
    model = models.CharField(max_length=20, choices=AttributionModel.choices)
    amount = models.DecimalField(max_digits=14, decimal_places=2)
    won_on = models.DateField()

    objects = OrgQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["opportunity", "campaign", "model"], name="credit_unique"),
        ]
        indexes = [
            models.Index(fields=["organization", "campaign", "model"], name="credit_org_campaign_idx"),
            models.Index(fields=["organization", "model", "won_on"], name="credit_org_model_won_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.campaign_id} {self.model}: {self.amount}"
