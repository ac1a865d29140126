"""Who the buyer is, what the words mean, and the content both teams use to sell."""

from __future__ import annotations

from datetime import datetime

from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

from leads.models import BuyerStage, Channel, Seniority
from smarketing.accounts.models import Membership, Organization
from smarketing.accounts.tenancy import OrgQuerySet


class Persona(models.Model):
    """A buyer persona: who we sell to, and fit criteria that code can evaluate against a lead."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="personas")
    name = models.CharField(max_length=100)
    summary = models.TextField(blank=True)
    goals = models.TextField(blank=True)
    pain_points = models.TextField(blank=True)
    objections = models.TextField(blank=True, help_text="Common objections sales hears.")
    preferred_channels = models.JSONField(default=list, blank=True)
    # Fit criteria: each one a persona sets is a test a lead can pass.
    industries = models.JSONField(default=list, blank=True)
    company_size_min = models.PositiveIntegerField(null=True, blank=True)
    company_size_max = models.PositiveIntegerField(null=True, blank=True)
    title_keywords = models.JSONField(default=list, blank=True)
    seniorities = models.JSONField(default=list, blank=True)
    countries = models.JSONField(default=list, blank=True)
    created_by = models.ForeignKey(Membership, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    archived_at = models.DateTimeField(null=True, blank=True)

    objects = OrgQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(Lower("name"), "organization", name="persona_name_ci_unique_per_org")]
        indexes = [models.Index(fields=["organization", "archived_at"], name="persona_org_archived_idx")]
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_active(self) -> bool:
        return self.archived_at is None

    def criteria(self) -> dict[str, object]:
        """The fit criteria as one comparable value (two personas with equal criteria always tie)."""
        return {
            "industries": sorted(i.lower() for i in self.industries),
            "company_size": (self.company_size_min, self.company_size_max),
            "title_keywords": sorted(k.lower() for k in self.title_keywords),
            "seniorities": sorted(self.seniorities),
            "countries": sorted(self.countries),
        }

    def preferred_channel_labels(self) -> list[str]:
        return [Channel(c).label for c in self.preferred_channels if c in Channel.values]

    def seniority_labels(self) -> list[str]:
        return [Seniority(s).label for s in self.seniorities if s in Seniority.values]


class PersonaMessage(models.Model):
    """What to tell a persona at one buyer stage, and the proof that backs it."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    persona = models.ForeignKey(Persona, on_delete=models.CASCADE, related_name="messages")
    buyer_stage = models.CharField(max_length=20, choices=BuyerStage.choices)
    key_message = models.TextField(blank=True)
    proof_points = models.TextField(blank=True, help_text="One per line.")

    objects = OrgQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["persona", "buyer_stage"], name="persona_message_stage_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.persona} · {self.get_buyer_stage_display()}"

    def proof_point_list(self) -> list[str]:
        return [line.strip(" -•") for line in self.proof_points.splitlines() if line.strip(" -•")]


class DefinitionVersion(models.Model):
    """One version of the organisation's agreed glossary and MQL/SQL criteria.

    Proposed by a manager; active once a marketing-side and a sales-side manager have both
    signed it. Activating a version supersedes the one before.
    """

    class Status(models.TextChoices):
        PROPOSED = "proposed", "Awaiting sign-off"
        ACTIVE = "active", "Active"
        SUPERSEDED = "superseded", "Superseded"
        WITHDRAWN = "withdrawn", "Withdrawn"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="definition_versions")
    number = models.PositiveIntegerField()
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PROPOSED)
    summary = models.CharField(max_length=300, blank=True, help_text="What changed, in a sentence.")
    # Until the scoring model exists (leads issue), the thresholds of the agreement live here.
    mql_threshold = models.PositiveIntegerField(help_text="Total score at which a lead becomes an MQL.")
    mql_min_fit = models.PositiveIntegerField(default=0, help_text="Minimum fit score for an MQL.")
    sql_criteria = models.TextField(help_text="What sales confirms when accepting a lead as an SQL.")
    proposed_by = models.ForeignKey(Membership, on_delete=models.SET_NULL, null=True, related_name="+")
    proposed_at = models.DateTimeField(default=timezone.now)
    activated_at = models.DateTimeField(null=True, blank=True)
    superseded_at = models.DateTimeField(null=True, blank=True)

    objects = OrgQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "number"], name="definition_version_number_unique"),
            models.UniqueConstraint(
                fields=["organization"], condition=models.Q(status="active"), name="definition_one_active_per_org"
            ),
        ]
        ordering = ["-number"]

    def __str__(self) -> str:
        return f"Definitions v{self.number}"


class DefinitionTerm(models.Model):
    """A term of the glossary (lead, MQL, a lifecycle stage, a return reason) as one version words it."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    version = models.ForeignKey(DefinitionVersion, on_delete=models.CASCADE, related_name="terms")
    key = models.SlugField(max_length=60, help_text="Stable key, e.g. mql, stage-nurture, return-not_a_fit.")
    label = models.CharField(max_length=100)
    wording = models.TextField()
    position = models.PositiveSmallIntegerField(default=0)

    objects = OrgQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["version", "key"], name="definition_term_key_unique")]
        ordering = ["position", "key"]

    def __str__(self) -> str:
        return f"{self.label} (v{self.version.number})"


class DefinitionSignoff(models.Model):
    """A manager's signature on a definitions version, for their side of the revenue team."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    version = models.ForeignKey(DefinitionVersion, on_delete=models.CASCADE, related_name="signoffs")
    # RESTRICT: a member who signed can't be deleted alone, but the organisation's cascade may.
    membership = models.ForeignKey(Membership, on_delete=models.RESTRICT, related_name="+")
    side = models.CharField(max_length=20, choices=Membership.Side.choices)
    signed_at = models.DateTimeField(default=timezone.now)

    objects = OrgQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["version", "membership"], name="definition_signoff_once_per_member"),
        ]
        ordering = ["signed_at"]

    def __str__(self) -> str:
        return f"{self.membership.user} signed v{self.version.number} for {self.side}"


class ContentAsset(models.Model):
    """A piece of content in the library, for some personas at one buyer stage."""

    class Type(models.TextChoices):
        BLOG_POST = "blog_post", "Blog post"
        EBOOK = "ebook", "Ebook"
        WHITE_PAPER = "white_paper", "White paper"
        CASE_STUDY = "case_study", "Case study"
        PRODUCT_VIDEO = "product_video", "Product video"
        USER_GUIDE = "user_guide", "User guide / FAQ"
        NURTURE_EMAIL = "nurture_email", "Nurture email"
        INDUSTRY_REPORT = "industry_report", "Industry report"
        WEBINAR = "webinar", "Webinar"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="content_assets")
    title = models.CharField(max_length=200)
    asset_type = models.CharField(max_length=30, choices=Type.choices)
    description = models.TextField(blank=True)
    url = models.URLField(max_length=500, blank=True)
    file = models.FileField(upload_to="content/%Y/%m/", blank=True, max_length=300)
    file_name = models.CharField(max_length=200, blank=True, help_text="The uploaded file's original name.")
    personas = models.ManyToManyField(Persona, blank=True, related_name="content_assets")
    buyer_stage = models.CharField(max_length=20, choices=BuyerStage.choices)
    campaign = models.ForeignKey(
        "leads.Campaign", on_delete=models.SET_NULL, null=True, blank=True, related_name="content_assets"
    )
    owner = models.ForeignKey(Membership, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    objects = OrgQuerySet.as_manager()

    class Meta:
        indexes = [
            models.Index(fields=["organization", "buyer_stage", "-created_at"], name="asset_org_stage_created_idx"),
        ]
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.title


class ContentRequest(models.Model):
    """Sales asking marketing for content that answers what prospects keep asking."""

    class Status(models.TextChoices):
        NEW = "new", "New"
        ACCEPTED = "accepted", "Accepted"
        IN_PROGRESS = "in_progress", "In progress"
        DELIVERED = "delivered", "Delivered"
        DECLINED = "declined", "Declined"

    class Urgency(models.TextChoices):
        LOW = "low", "Low"
        NORMAL = "normal", "Normal"
        HIGH = "high", "High"

    OPEN = (Status.NEW, Status.ACCEPTED, Status.IN_PROGRESS)
    # The allowed moves; every status change goes through content_request_transition().
    TRANSITIONS = {
        Status.NEW: {Status.ACCEPTED, Status.DECLINED},
        Status.ACCEPTED: {Status.IN_PROGRESS, Status.DELIVERED, Status.DECLINED},
        Status.IN_PROGRESS: {Status.DELIVERED, Status.DECLINED},
        Status.DELIVERED: set(),
        Status.DECLINED: set(),
    }

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="content_requests")
    requested_by = models.ForeignKey(Membership, on_delete=models.RESTRICT, related_name="content_requests")
    question = models.TextField(help_text="The question or objection prospects keep raising.")
    persona = models.ForeignKey(Persona, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    buyer_stage = models.CharField(max_length=20, choices=BuyerStage.choices)
    lead = models.ForeignKey("leads.Lead", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    urgency = models.CharField(max_length=10, choices=Urgency.choices, default=Urgency.NORMAL)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.NEW)
    assignee = models.ForeignKey(Membership, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    decline_reason = models.TextField(blank=True)
    delivered_asset = models.ForeignKey(
        ContentAsset, on_delete=models.SET_NULL, null=True, blank=True, related_name="fulfilled_requests"
    )
    # Kept when the asset is later deleted, so the request stays readable.
    delivered_asset_title = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    due_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    objects = OrgQuerySet.as_manager()

    class Meta:
        indexes = [models.Index(fields=["organization", "status", "due_at"], name="request_org_status_due_idx")]
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.question[:60]

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN

    def is_overdue(self, now: datetime) -> bool:
        return self.is_open and self.due_at < now
