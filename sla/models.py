"""sla: the written agreement between marketing and sales for a period, and how it is kept."""

from __future__ import annotations

from datetime import date

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

from smarketing.accounts.models import Organization
from smarketing.accounts.tenancy import OrgQuerySet

MAX_RESPONSE_HOURS = 30 * 24  # a response window of more than 30 days is no promise


class Agreement(models.Model):
    """Marketing's commitment (qualified leads), sales' (speed and depth of follow-up) and the
    shared revenue target, for one month or quarter, for the organisation or one team.

    Drafted by a manager; active once a marketing-side and a sales-side manager have signed.
    Its response window then sets the due time of new handoffs in its scope.
    """

    class Period(models.TextChoices):
        MONTH = "month", "Month"
        QUARTER = "quarter", "Quarter"

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft (awaiting signatures)"
        ACTIVE = "active", "Active"
        WITHDRAWN = "withdrawn", "Withdrawn"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="agreements")
    period = models.CharField(max_length=10, choices=Period.choices, default=Period.MONTH)
    starts_on = models.DateField(help_text="The first day of the month or quarter.")
    ends_on = models.DateField(help_text="The last day of the period.")
    team = models.ForeignKey(
        "leads.Team",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="agreements",
        help_text="Empty: the whole organisation.",
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    # Marketing's side
    mql_target = models.PositiveIntegerField(null=True, blank=True, help_text="MQLs to deliver in the period.")
    sql_target = models.PositiveIntegerField(null=True, blank=True, help_text="SQLs (accepted) in the period.")
    min_acceptance_percent = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MaxValueValidator(100)], help_text="Share of handoffs sales accepts."
    )
    # Sales' side
    response_hours = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(1), MaxValueValidator(MAX_RESPONSE_HOURS)],
        help_text="First touch within this many business hours of the handoff.",
    )
    attempts_min = models.PositiveSmallIntegerField(default=3, validators=[MinValueValidator(1)])
    attempts_days = models.PositiveSmallIntegerField(default=5, validators=[MinValueValidator(1)])
    # Both
    revenue_target = models.DecimalField(max_digits=14, decimal_places=2)
    notes = models.TextField(blank=True)
    renewed_from = models.ForeignKey("self", on_delete=models.SET_NULL, null=True, blank=True, related_name="renewals")
    created_by = models.ForeignKey("accounts.Membership", on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    marketing_signed_by = models.ForeignKey(
        "accounts.Membership", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    marketing_signed_at = models.DateTimeField(null=True, blank=True)
    sales_signed_by = models.ForeignKey(
        "accounts.Membership", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    sales_signed_at = models.DateTimeField(null=True, blank=True)
    activated_at = models.DateTimeField(null=True, blank=True)
    # Recorded by the period-end check: marketing's delivery against its commitment.
    marketing_result = models.JSONField(null=True, blank=True)

    objects = OrgQuerySet.as_manager()

    class Meta:
        constraints = [
            models.CheckConstraint(condition=models.Q(ends_on__gt=models.F("starts_on")), name="agreement_period"),
            models.CheckConstraint(condition=models.Q(revenue_target__gt=0), name="agreement_revenue_positive"),
            models.CheckConstraint(
                condition=models.Q(response_hours__gte=1, response_hours__lte=MAX_RESPONSE_HOURS),
                name="agreement_response_window",
            ),
            models.CheckConstraint(
                condition=models.Q(mql_target__isnull=False) | models.Q(sql_target__isnull=False),
                name="agreement_marketing_commits",
            ),
        ]
        indexes = [models.Index(fields=["organization", "status", "starts_on"], name="agreement_org_status_idx")]
        ordering = ["-starts_on", "team_id", "-id"]

    def __str__(self) -> str:
        scope = self.team.name if self.team_id else "Everyone"
        return f"{self.period_label} · {scope}"

    @property
    def period_label(self) -> str:
        if self.period == self.Period.QUARTER:
            return f"Q{(self.starts_on.month - 1) // 3 + 1} {self.starts_on.year}"
        return f"{self.starts_on:%B %Y}"

    def covers(self, day: date) -> bool:
        return self.starts_on <= day <= self.ends_on


class Review(models.Model):
    """The monthly review of a period: both sides' results, wins, best and worst sources, return
    reasons, open content requests (a snapshot made at generation), and the meeting's notes."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="sla_reviews")
    starts_on = models.DateField()
    ends_on = models.DateField()
    figures = models.JSONField(default=dict, help_text="The snapshot the page shows (sla.reviews.review_figures).")
    notes = models.TextField(blank=True, help_text="What the meeting said.")
    generated_at = models.DateTimeField(default=timezone.now)
    emailed_at = models.DateTimeField(null=True, blank=True)

    objects = OrgQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "starts_on", "ends_on"], name="review_one_per_period")
        ]
        ordering = ["-starts_on", "-id"]

    def __str__(self) -> str:
        return f"Review of {self.starts_on:%B %Y}"


class ActionItem(models.Model):
    """Something the review meeting decided someone will do, by when."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="actions")
    text = models.CharField(max_length=300)
    owner = models.ForeignKey("accounts.Membership", on_delete=models.SET_NULL, null=True, related_name="+")
    due_on = models.DateField()
    done_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    objects = OrgQuerySet.as_manager()

    class Meta:
        ordering = ["done_at", "due_on", "id"]

    def __str__(self) -> str:
        return self.text
