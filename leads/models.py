"""Leads: one shared record of every person marketing brings in and sales follows up."""

from __future__ import annotations

import re
from datetime import datetime

from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import F, Value
from django.db.models.functions import Concat, Lower, Upper
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


class Seniority(models.TextChoices):
    ENTRY = "entry", "Entry level"
    INDIVIDUAL = "individual", "Individual contributor"
    MANAGER = "manager", "Manager"
    DIRECTOR = "director", "Director"
    VP = "vp", "VP"
    C_LEVEL = "c_level", "C-level"
    OWNER = "owner", "Owner / founder"


class Company(models.Model):
    """An account: the organisation a lead works for, recognised by its web domain."""

    # Indexed by company_org_domain_idx, which starts with it.
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="companies", db_index=False)
    name = models.CharField(max_length=200)
    domain = models.CharField(max_length=200, blank=True)
    industry = models.CharField(max_length=100, blank=True)
    size = models.PositiveIntegerField(null=True, blank=True, help_text="Employees.")
    country = models.CharField(max_length=2, blank=True, help_text="ISO 3166 alpha-2.")
    created_at = models.DateTimeField(default=timezone.now)

    objects = OrgQuerySet.as_manager()

    class Meta:
        constraints = [
            # UPPER, like PostgreSQL's iexact, so `domain__iexact` lookups use this index.
            models.UniqueConstraint(
                Upper("domain"), "organization", condition=~models.Q(domain=""), name="company_domain_ci_unique"
            ),
        ]
        indexes = [
            # A company looked up by domain (every lead created) whatever the plan: a prepared
            # statement's generic plan cannot use the partial unique index above, as the query's
            # `domain <> %s` is a parameter there, and filtered all of the organisation's
            # companies instead (0.4 ms of PostgreSQL a lead create with 500 of them). Also the
            # organisation's own index (its cascades, its company lists).
            models.Index(F("organization"), Upper("domain"), name="company_org_domain_idx"),
        ]
        verbose_name_plural = "companies"

    def __str__(self) -> str:
        return self.name


class Partner(models.Model):
    """A reseller or referral partner of the organisation, whose leads it brings in and works.

    The partner channel (deal registration, partner users seeing only their partner's leads and
    deals) builds on this; for now a lead can name its partner and routing rules can match it.
    """

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="partners")
    name = models.CharField(max_length=120)
    created_at = models.DateTimeField(default=timezone.now)

    objects = OrgQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(Lower("name"), "organization", name="partner_name_ci_unique")]
        ordering = ["name"]

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

    # The allowed moves; every change goes through leads.services.lead_transition().
    TRANSITIONS = {
        Stage.SUBSCRIBER: {Stage.LEAD, Stage.MQL, Stage.NURTURE, Stage.DISQUALIFIED},
        Stage.LEAD: {Stage.SUBSCRIBER, Stage.MQL, Stage.NURTURE, Stage.DISQUALIFIED},
        Stage.MQL: {Stage.SQL, Stage.NURTURE, Stage.DISQUALIFIED},
        Stage.SQL: {Stage.OPPORTUNITY, Stage.NURTURE, Stage.DISQUALIFIED},
        Stage.OPPORTUNITY: {Stage.CUSTOMER, Stage.NURTURE, Stage.DISQUALIFIED},
        Stage.CUSTOMER: {Stage.OPPORTUNITY},  # upsell or renewal
        Stage.NURTURE: {Stage.LEAD, Stage.MQL, Stage.DISQUALIFIED},
        Stage.DISQUALIFIED: {Stage.LEAD, Stage.NURTURE},
    }
    # How far along the funnel a stage is: scoring only ever moves a lead forward.
    FUNNEL_ORDER = {
        Stage.SUBSCRIBER: 0,
        Stage.LEAD: 1,
        Stage.NURTURE: 1,
        Stage.DISQUALIFIED: 1,
        Stage.MQL: 2,
        Stage.SQL: 3,
        Stage.OPPORTUNITY: 4,
        Stage.CUSTOMER: 5,
    }

    # No index of its own: every index of the table starts with the organisation (one less to
    # maintain on each of the many lead writes).
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="leads", db_index=False)
    email = models.EmailField()
    first_name = models.CharField(max_length=100, blank=True)
    last_name = models.CharField(max_length=100, blank=True)
    title = models.CharField(max_length=150, blank=True)
    seniority = models.CharField(max_length=20, choices=Seniority.choices, blank=True)
    phone = models.CharField(max_length=40, blank=True)
    # The phone's last nine digits (leads.models.phone_key_for), set on every write: duplicate detection.
    phone_key = models.CharField(max_length=9, blank=True, editable=False)
    company_name = models.CharField(max_length=200, blank=True, help_text="The company as the lead gave it.")
    # Nullable foreign keys are indexed only where set (lead_*_idx in Meta, migration 0025): a
    # lead without one (an import's leads have no owner or campaign) costs no index entry.
    # The company and the persona are not database constraints (the organisation is): each
    # check cost ≈ 4.7 µs of PostgreSQL a lead at commit, and with the organisation's they were
    # a quarter of the CSV import's PostgreSQL time (bench/README.md). Neither row goes but
    # through the ORM, which sets its leads' reference to NULL first (SET_NULL), and neither
    # goes but with its organisation: no page, API or admin deletes a company, and personas are
    # archived, never deleted (the admin cannot). A lead written while its organisation is being
    # deleted still fails on the organisation's constraint.
    company = models.ForeignKey(
        Company,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="leads",
        db_index=False,
        db_constraint=False,
    )
    first_campaign = models.ForeignKey(
        Campaign, on_delete=models.SET_NULL, null=True, blank=True, related_name="first_touch_leads", db_index=False
    )
    # Not indexed: nothing reads leads by their latest campaign (the lists and the campaign page
    # go by the first), and campaign-tagged events change it all the time. Without an index on
    # it, such a change (the first campaign staying) can be a HOT update (migration 0024 leaves
    # room on each page): the row's new version goes on the same page and none of the table's
    # indexes gets a new entry, where each of them used to, the search one included. The cost:
    # deleting a campaign reads the whole table (the ORM's SET_NULL, and PostgreSQL's check of
    # the foreign key at commit). The app never deletes one: only an organisation's deletion
    # (the admin, seed_demo --reset) takes its campaigns with it.
    latest_campaign = models.ForeignKey(
        Campaign,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="latest_touch_leads",
        db_index=False,
    )
    # When the first (latest) campaign touched the lead: its earliest (latest) event of the lead,
    # or, set from a page, the API or an import, None, which counts as the lead's creation (the
    # first) or as when it was set (the latest: lead_update sets the time). Kept by ingestion as
    # it stores campaign events, and by merges (leads.campaigns.campaign_touches_after), so that
    # deciding whether a touch replaces a campaign reads none of the lead's events. Not indexed:
    # changing them alone can be a HOT update.
    first_campaign_at = models.DateTimeField(null=True, blank=True, editable=False)
    latest_campaign_at = models.DateTimeField(null=True, blank=True, editable=False)
    owner = models.ForeignKey(
        "accounts.Membership",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="owned_leads",
        db_index=False,
    )
    # The partner that brought the lead in or works it (the partner channel); most leads have none.
    # Indexed only where set (lead_org_partner_idx), so a lead without one costs no index entry.
    partner = models.ForeignKey(
        Partner, on_delete=models.SET_NULL, null=True, blank=True, related_name="leads", db_index=False
    )
    lifecycle_stage = models.CharField(max_length=20, choices=Stage.choices, default=Stage.LEAD)
    buyer_stage = models.CharField(max_length=20, choices=BuyerStage.choices, blank=True)
    persona = models.ForeignKey(  # not a database constraint: see the company's
        "personas.Persona",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    # The score lives in LeadScore (and its explanation in LeadScoreExplanation): scoring
    # rewrites a narrow row there, not this wide one with its many indexes.
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    # What the list's text search looks in (leads/search.py): PostgreSQL indexes its words
    # (migration 0026; trigrams until then).
    search_text = models.GeneratedField(
        expression=Lower(
            Concat(
                "email",
                Value(" "),
                "first_name",
                Value(" "),
                "last_name",
                Value(" "),
                "company_name",
                output_field=models.TextField(),
            )
        ),
        output_field=models.TextField(),
        db_persist=True,
    )

    objects = OrgQuerySet.as_manager()

    class Meta:
        # UPPER, like PostgreSQL's iexact, so `email__iexact` (dedupe on every create) uses this index.
        constraints = [models.UniqueConstraint(Upper("email"), "organization", name="lead_email_ci_unique")]
        indexes = [
            models.Index(fields=["organization", "lifecycle_stage", "-created_at"], name="lead_org_stage_created_idx"),
            models.Index(fields=["organization", "-created_at"], name="lead_org_created_idx"),
            models.Index(fields=["organization", "owner", "-created_at"], name="lead_org_owner_created_idx"),
            models.Index(fields=["organization", "phone_key"], name="lead_org_phone_key_idx"),
            models.Index(
                fields=["organization", "partner"],
                condition=models.Q(partner__isnull=False),
                name="lead_org_partner_idx",
            ),
            *(
                models.Index(
                    fields=[field], condition=models.Q(**{f"{field}__isnull": False}), name=f"lead_{field}_idx"
                )
                for field in ("company", "first_campaign", "owner", "persona")
            ),
        ]

    def __str__(self) -> str:
        return f"{self.full_name} <{self.email}>" if self.full_name else self.email

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    # The score as the API, pages and exports name it, read from the lead's LeadScore row
    # (select_related("score") in lists). A lead without one reads 0: services create the row
    # with the lead, but a row made some other way must not break a page.
    @property
    def current_score(self) -> LeadScore:
        try:
            return self.score
        except LeadScore.DoesNotExist:
            return LeadScore(lead_id=self.pk, organization_id=self.organization_id)

    @property
    def fit_score(self) -> int:
        return self.current_score.fit

    @property
    def engagement_score(self) -> float:
        """Decayed engagement as of ``engagement_scored_at``."""
        return self.current_score.engagement

    @property
    def engagement_scored_at(self) -> datetime | None:
        return self.current_score.engagement_scored_at

    @property
    def total_score(self) -> int:
        return self.current_score.total

    @property
    def score_explanation(self) -> dict:
        """Why the lead scores what it does: ``{"fit": [...], "engagement": [...]}`` ({} if nothing yet)."""
        try:
            return self.score_explanation_row.explanation
        except LeadScoreExplanation.DoesNotExist:
            return {}


class LeadScore(models.Model):
    """A lead's current score: fit plus decayed engagement, in a narrow row of its own.

    Kept out of ``leads_lead`` because scoring rewrites it all the time (every scored event,
    every rescore): a row here is ~60 bytes with two indexes, where a lead row is wide with a
    dozen (a text-search one among them). One per lead, created with the lead.
    """

    # Neither foreign key is a database constraint (nor is LeadScoreExplanation's): the row is
    # written with its lead, in the lead's transaction (lead_create, the CSV import), or for a
    # lead the writer has just read (a row missing for a lead made around the services); it
    # goes away with its lead and organisation through the ORM, which cascades it. Each
    # constraint cost a check per new lead at commit (≈ 4–5 µs of PostgreSQL CPU each, 1,000,000
    # of them in an import of a million rows) for rows that cannot point anywhere else.
    lead = models.OneToOneField(
        Lead, on_delete=models.CASCADE, primary_key=True, related_name="score", db_constraint=False
    )
    # No index of its own: leadscore_org_total_idx starts with it.
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False
    )
    fit = models.IntegerField(default=0)
    engagement = models.FloatField(default=0, help_text="Decayed engagement as of engagement_scored_at.")
    engagement_scored_at = models.DateTimeField(null=True, blank=True)
    total = models.IntegerField(default=0)

    objects = OrgQuerySet.as_manager()

    class Meta:
        indexes = [
            # The lead list's score sort and filters; with the lead, keyset pages over equal
            # scores are index ranges, not sorts.
            models.Index(fields=["organization", "-total", "-lead"], name="leadscore_org_total_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.lead_id}: {self.total} (fit {self.fit})"


class LeadScoreExplanation(models.Model):
    """Why a lead has its score (fit rules passed, latest engagement): written with the score,
    kept apart so the score row stays narrow (an explanation is often several hundred bytes).
    A lead without one has nothing explained yet."""

    # Not a database constraint, as LeadScore's: written with the lead's score row.
    lead = models.OneToOneField(
        Lead, on_delete=models.CASCADE, primary_key=True, related_name="score_explanation_row", db_constraint=False
    )
    explanation = models.JSONField(default=dict, blank=True)

    def __str__(self) -> str:
        return f"Score explanation of lead {self.lead_id}"


class StageChange(models.Model):
    """One move of a lead between lifecycle stages: the stage history funnel reports read."""

    # No foreign key here is a database constraint: a stage change is written in the
    # transaction that creates its lead or moves it (the lead locked), by a service that read
    # the actor, definitions version and scoring model it names in that organisation; it goes
    # away with the lead and organisation through the ORM, which cascades it, and the ORM sets
    # the actor and definitions version to null when a membership or a version is deleted
    # (a scoring model is deleted only as a draft, which never moved a lead). Each constraint
    # cost a check per row at commit: ≈ 5 µs of PostgreSQL a row each, and the CSV import
    # writes a stage change per new lead (migrations 0019, 0020). No single-column lead and
    # organisation indexes: stagechange_lead_idx and stagechange_org_to_idx start with them.
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="+", db_constraint=False, db_index=False
    )
    lead = models.ForeignKey(
        Lead, on_delete=models.CASCADE, related_name="stage_changes", db_constraint=False, db_index=False
    )
    from_stage = models.CharField(max_length=20, choices=Lead.Stage.choices, blank=True)
    to_stage = models.CharField(max_length=20, choices=Lead.Stage.choices)
    changed_at = models.DateTimeField(default=timezone.now)
    # These three are indexed only where set (stagechange_*_idx, migration 0025): what the ORM's
    # SET_NULL looks up. A change by a rule has no actor; a change by a person, no scoring model.
    actor = models.ForeignKey(
        "accounts.Membership",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    rule = models.CharField(max_length=100, blank=True, help_text="The automatic rule that moved it, if no person.")
    reason = models.TextField(blank=True)
    total_score = models.IntegerField(null=True, blank=True, help_text="The lead's score at the time.")
    # Which agreement the move was made under (reports quote it).
    definitions_version = models.ForeignKey(
        "personas.DefinitionVersion",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    scoring_model = models.ForeignKey(
        "leads.ScoringModel",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )

    objects = OrgQuerySet.as_manager()

    class Meta:
        indexes = [
            models.Index(fields=["lead", "-changed_at"], name="stagechange_lead_idx"),
            models.Index(fields=["organization", "to_stage", "changed_at"], name="stagechange_org_to_idx"),
            *(
                models.Index(fields=[field], condition=models.Q(**{f"{field}__isnull": False}), name=name)
                for field, name in (
                    ("actor", "stagechange_actor_idx"),
                    ("definitions_version", "stagechange_definitions_idx"),
                    ("scoring_model", "stagechange_model_idx"),
                )
            ),
        ]
        ordering = ["-changed_at", "-id"]

    def __str__(self) -> str:
        return f"{self.lead_id}: {self.from_stage or '∅'} → {self.to_stage}"


class ScoringModel(models.Model):
    """A version of how leads are scored: fit rules, engagement rules, decay and MQL threshold."""

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        ACTIVE = "active", "Active"
        RETIRED = "retired", "Retired"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="scoring_models")
    version = models.PositiveIntegerField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    # [{"attribute": "title", "operator": "contains", "value": "head", "points": 10}, …]
    fit_rules = models.JSONField(default=list, blank=True)
    persona_match_points = models.IntegerField(default=0, help_text="Added when the lead matches any persona.")
    # [{"event_type": "page_view", "property": "url", "contains": "/pricing", "points": 10, "cap_per_day": 3}, …]
    engagement_rules = models.JSONField(default=list, blank=True)
    decay_half_life_days = models.PositiveIntegerField(default=30)
    mql_threshold = models.PositiveIntegerField(default=60)
    mql_min_fit = models.PositiveIntegerField(default=0)
    fast_lane_event_types = models.JSONField(default=list, blank=True)
    created_by = models.ForeignKey("accounts.Membership", on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    activated_at = models.DateTimeField(null=True, blank=True)

    objects = OrgQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "version"], name="scoring_model_version_unique"),
            models.UniqueConstraint(
                fields=["organization"], condition=models.Q(status="active"), name="scoring_model_one_active"
            ),
        ]
        ordering = ["-version"]

    def __str__(self) -> str:
        return f"Scoring model v{self.version}"


class ActivityEvent(models.Model):
    """Something a lead (or a not yet identified visitor) did; the stored event is the source of truth."""

    class Type(models.TextChoices):
        PAGE_VIEW = "page_view", "Page view"
        EMAIL_OPEN = "email_open", "Email open"
        EMAIL_CLICK = "email_click", "Email click"
        FORM_SUBMIT = "form_submit", "Form submit"
        CONTENT_DOWNLOAD = "content_download", "Content download"
        WEBINAR_REGISTERED = "webinar_registered", "Webinar registration"
        WEBINAR_ATTENDED = "webinar_attended", "Webinar attended"
        PRICING_VIEW = "pricing_view", "Pricing view"
        DEMO_REQUEST = "demo_request", "Demo request"
        TRIAL_SIGNUP = "trial_signup", "Trial sign-up"
        UNSUBSCRIBE = "unsubscribe", "Unsubscribe"

    id = models.BigAutoField(primary_key=True)
    # No single-column indexes of their own: every insert and every scoring pays for each index,
    # and event_client_id_unique_per_org / event_lead_occurred_idx start with these columns.
    # The organisation and the campaign are not database constraints (the lead is): an event is
    # written by ingestion for the organisation whose key sent it, with the campaign its UTM
    # values named, both read in that request; it goes away with its organisation through the
    # ORM, which cascades it, and loses its campaign through the ORM's SET_NULL. Each check cost
    # ≈ 3 µs of PostgreSQL an event at commit, where ingestion has ≈ 200 µs for everything
    # (bench/README.md). The lead's stays: a lead deleted or merged away while a request stores
    # its events must fail that request, not leave events that no scoring run can place. The
    # cost: an anonymous event stored while its organisation is being deleted can outlive it
    # (nothing reads those); a campaign goes only with its organisation today (no page or API
    # deletes one), and a campaign delete added later must lock out ingestion of its UTM values.
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False
    )
    lead = models.ForeignKey(
        Lead, on_delete=models.CASCADE, null=True, blank=True, related_name="events", db_index=False
    )
    anonymous_id = models.CharField(max_length=100, blank=True)
    client_event_id = models.CharField(max_length=100)
    event_type = models.CharField(max_length=30, choices=Type.choices)
    occurred_at = models.DateTimeField()
    received_at = models.DateTimeField(default=timezone.now)
    properties = models.JSONField(default=dict, blank=True)
    # Indexed whole, empty ones included (most events carry no campaign): with an index of only
    # the events that have one, PostgreSQL took that index for a lead's campaign events (the
    # touch's MIN/MAX, attribution's campaign__isnull=False) on estimates that made it look
    # small, and filtered every campaign event for each lead (1.2 s for 150 leads, bench/README).
    campaign = models.ForeignKey(
        Campaign, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", db_constraint=False
    )
    scored_at = models.DateTimeField(null=True, blank=True)
    points = models.IntegerField(null=True, blank=True, help_text="Engagement points it earned when scored.")

    objects = OrgQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "client_event_id"], name="event_client_id_unique_per_org"),
        ]
        indexes = [
            models.Index(fields=["lead", "-occurred_at"], name="event_lead_occurred_idx"),
            # What the scoring sweep looks for: events with a lead, not scored yet.
            models.Index(
                fields=["organization", "received_at"],
                condition=models.Q(scored_at=None, lead__isnull=False),
                name="event_pending_idx",
            ),
            models.Index(
                fields=["organization", "anonymous_id"], condition=models.Q(lead=None), name="event_anonymous_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} at {self.occurred_at:%Y-%m-%d %H:%M}"


class Visitor(models.Model):
    """A browser known by its anonymous id; once it identifies (a form), its events are the lead's."""

    # No index of its own: visitor_anonymous_id_unique starts with it.
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+", db_index=False)
    anonymous_id = models.CharField(max_length=100)
    # Indexed only where set (visitor_lead_idx): a visitor is anonymous until it identifies.
    lead = models.ForeignKey(
        Lead, on_delete=models.CASCADE, null=True, blank=True, related_name="visitors", db_index=False
    )
    first_seen_at = models.DateTimeField(default=timezone.now)
    identified_at = models.DateTimeField(null=True, blank=True)

    objects = OrgQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "anonymous_id"], name="visitor_anonymous_id_unique"),
        ]
        indexes = [models.Index(fields=["lead"], condition=models.Q(lead__isnull=False), name="visitor_lead_idx")]

    def __str__(self) -> str:
        return self.anonymous_id


class ScoreChange(models.Model):
    """A lead's score after a change, with why: "what was the score when it became MQL".

    History written in bulk (a scored batch, a million rows in a full rescore), read by lead.
    Its foreign keys are not database constraints: each would cost a check per row that locks
    the referenced row (FOR KEY SHARE: a WAL record on the wide lead row, and on the one
    organisation and model row every writer shares). Rows go away with their lead and
    organisation through the ORM, which cascades them; a scoring model is deleted only as a
    draft, which never scored anything.
    """

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="+", db_constraint=False, db_index=False
    )
    lead = models.ForeignKey(
        Lead, on_delete=models.CASCADE, related_name="score_changes", db_constraint=False, db_index=False
    )  # scorechange_lead_idx starts with it
    changed_at = models.DateTimeField(default=timezone.now)
    fit_score = models.IntegerField()
    engagement_score = models.IntegerField()
    total_score = models.IntegerField()
    delta = models.IntegerField(default=0)
    reason = models.CharField(max_length=300)
    scoring_model = models.ForeignKey(
        ScoringModel, on_delete=models.DO_NOTHING, null=True, related_name="+", db_constraint=False, db_index=False
    )

    objects = OrgQuerySet.as_manager()

    class Meta:
        indexes = [models.Index(fields=["lead", "-changed_at"], name="scorechange_lead_idx")]
        ordering = ["-changed_at", "-id"]

    def __str__(self) -> str:
        return f"{self.lead_id}: {self.total_score} ({self.delta:+d})"


class Job(models.Model):
    """Long work in the background (a CSV import, a full rescore), with progress people can watch."""

    class Kind(models.TextChoices):
        IMPORT = "import", "CSV import"
        RESCORE = "rescore", "Rescore"

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    created_by = models.ForeignKey("accounts.Membership", on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    total = models.PositiveIntegerField(null=True, blank=True, help_text="Units of work, when known.")
    done = models.PositiveIntegerField(default=0)
    # Kind-specific input (file, column mapping, scoring model id) and outcome (counts, messages).
    params = models.JSONField(default=dict, blank=True)
    result = models.JSONField(default=dict, blank=True)
    file = models.FileField(upload_to="jobs/%Y/%m/", blank=True, max_length=300)
    errors_file = models.FileField(upload_to="jobs/%Y/%m/", blank=True, max_length=300)
    error = models.TextField(blank=True)

    objects = OrgQuerySet.as_manager()

    class Meta:
        indexes = [models.Index(fields=["organization", "kind", "-created_at"], name="job_org_kind_created_idx")]
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk} ({self.status})"

    @property
    def percent(self) -> int | None:
        if not self.total:
            return 100 if self.status == self.Status.DONE else None
        return min(100, round(self.done * 100 / self.total))

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.DONE, self.Status.FAILED)


class WebForm(models.Model):
    """A marketer's form for a campaign, embedded on other sites; submissions become leads."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="web_forms")
    name = models.CharField(max_length=200)
    campaign = models.ForeignKey(Campaign, on_delete=models.SET_NULL, null=True, blank=True, related_name="web_forms")
    # Public identifier used in the embed snippet (not guessable, not the primary key).
    key = models.CharField(max_length=40, unique=True)
    # [{"name": "email", "label": "Work email", "attribute": "email", "required": true}, …]
    fields = models.JSONField(default=list)
    consent_text = models.CharField(max_length=500, blank=True)
    success_message = models.CharField(max_length=300, default="Thank you! We'll be in touch.")
    redirect_url = models.URLField(blank=True)
    created_by = models.ForeignKey("accounts.Membership", on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    archived_at = models.DateTimeField(null=True, blank=True)

    objects = OrgQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.name


_NOT_ASCII_DIGIT = re.compile(r"[^0-9]")


def phone_key_for(phone: str) -> str:
    """What two phone numbers are compared by: the last nine digits, ignoring formatting and
    country prefixes (+44 20 7946 0000 and 020 7946 0000 agree); "" under seven digits."""
    # ASCII (the usual case), where isdigit() means 0-9: one pass in C.
    digits = _NOT_ASCII_DIGIT.sub("", phone) if phone.isascii() else "".join(c for c in phone if c.isdigit())
    return digits[-9:] if len(digits) >= 7 else ""


class LeadEmailAlias(models.Model):
    """Another address of a lead's person: the email of a record merged into it. Events, web
    forms, imports and new leads with that address find this lead rather than make the duplicate
    again; undoing the merge removes it."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+", db_index=False)
    email = models.EmailField()
    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="email_aliases")
    merge = models.ForeignKey("leads.LeadMerge", on_delete=models.CASCADE, related_name="aliases")
    created_at = models.DateTimeField(default=timezone.now)

    objects = OrgQuerySet.as_manager()

    class Meta:
        # UPPER, like the lead's own: one address is one person, whichever table holds it.
        constraints = [models.UniqueConstraint(Upper("email"), "organization", name="lead_alias_email_ci_unique")]
        verbose_name_plural = "lead email aliases"

    def __str__(self) -> str:
        return self.email


class LeadMerge(models.Model):
    """Two records of one person made one: the older lead kept, the other's rows moved onto it.

    The dropped lead is deleted; its full row (``snapshot``), the ids of the rows moved per
    relation (``moved``) and the attributes filled on the kept lead (``filled``) make it undoable.
    """

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    kept = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="merges")
    dropped_lead_id = models.BigIntegerField(help_text="The deleted lead's id; undo recreates it with this id.")
    dropped_email = models.EmailField()
    snapshot = models.JSONField(encoder=DjangoJSONEncoder)
    # {"leads.ActivityEvent.lead": [ids…], …}
    moved = models.JSONField(encoder=DjangoJSONEncoder, default=dict)
    # {"phone": {"before": "", "after": "+44 …"}, …}; a stage the merge moved also names its
    # stage change: {"lifecycle_stage": {"before": "lead", "after": "mql", "stage_change": id}}
    filled = models.JSONField(encoder=DjangoJSONEncoder, default=dict)
    actor = models.ForeignKey("accounts.Membership", on_delete=models.SET_NULL, null=True, related_name="+")
    merged_at = models.DateTimeField(default=timezone.now)
    undone_at = models.DateTimeField(null=True, blank=True)
    undone_by = models.ForeignKey(
        "accounts.Membership", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    objects = OrgQuerySet.as_manager()

    class Meta:
        indexes = [models.Index(fields=["organization", "-merged_at"], name="leadmerge_org_merged_idx")]
        ordering = ["-merged_at", "-id"]

    def __str__(self) -> str:
        return f"{self.dropped_email} merged into lead {self.kept_id}"


class LeadDuplicateDismissal(models.Model):
    """A person said two leads flagged as likely duplicates are different people: don't flag them again."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    # The pair in id order, so (a, b) and (b, a) are one row.
    lead_low = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="+")
    lead_high = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="+")
    dismissed_by = models.ForeignKey("accounts.Membership", on_delete=models.SET_NULL, null=True, related_name="+")
    dismissed_at = models.DateTimeField(default=timezone.now)

    objects = OrgQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "lead_low", "lead_high"], name="duplicate_dismissal_unique"
            ),
            models.CheckConstraint(
                condition=models.Q(lead_low__lt=models.F("lead_high")), name="dismissal_pair_ordered"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.lead_low_id} ≠ {self.lead_high_id}"


# --- Routing and handoffs -------------------------------------------------------------------


class Team(models.Model):
    """A group of sales reps a routing rule can hand leads to, shared by capacity."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="teams")
    name = models.CharField(max_length=100)
    created_at = models.DateTimeField(default=timezone.now)

    objects = OrgQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(Lower("name"), "organization", name="team_name_ci_unique")]
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class TeamMember(models.Model):
    """A rep (or sales manager) in a team, with how many open handoffs they take at most."""

    DEFAULT_CAPACITY = 20

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="members")
    membership = models.ForeignKey("accounts.Membership", on_delete=models.CASCADE, related_name="team_memberships")
    capacity = models.PositiveSmallIntegerField(
        default=DEFAULT_CAPACITY, validators=[MinValueValidator(1)], help_text="Open (pending) handoffs at most."
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["team", "membership"], name="team_member_unique"),
            models.CheckConstraint(condition=models.Q(capacity__gte=1), name="team_member_capacity_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.membership} in {self.team}"

    def clean(self) -> None:
        from smarketing.accounts.models import Membership

        membership = self.membership
        if membership.organization_id != self.team.organization_id:
            raise ValidationError({"membership": "Not a member of this organisation."})
        if membership.role not in (Membership.Role.SALES_REP, Membership.Role.MANAGER):
            raise ValidationError({"membership": "Only sales reps and managers take handoffs."})


class Absence(models.Model):
    """A time a rep is away: routing skips them for it."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    membership = models.ForeignKey("accounts.Membership", on_delete=models.CASCADE, related_name="absences")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    note = models.CharField(max_length=200, blank=True)

    objects = OrgQuerySet.as_manager()

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ends_at__gt=models.F("starts_at")), name="absence_ends_after_start"
            )
        ]
        indexes = [models.Index(fields=["organization", "membership", "ends_at"], name="absence_org_member_ends_idx")]
        ordering = ["starts_at"]

    def __str__(self) -> str:
        return f"{self.membership} away {self.starts_at:%Y-%m-%d} – {self.ends_at:%Y-%m-%d}"

    def covers(self, moment) -> bool:
        return self.starts_at <= moment < self.ends_at


class RoutingRule(models.Model):
    """One rule of the ordered routing list: when a lead meets all its conditions, to a team or a rep.

    ``conditions`` holds any of ``persona_ids``, ``countries`` (ISO-2), ``company_size_min``,
    ``company_size_max``, ``channels`` (Channel values), ``campaign_ids`` and ``partner_id``;
    each is optional and every one given must hold. No conditions: every lead matches.
    """

    CONDITION_KEYS = frozenset(
        {"persona_ids", "countries", "company_size_min", "company_size_max", "channels", "campaign_ids", "partner_id"}
    )

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="routing_rules")
    position = models.PositiveIntegerField(default=0, help_text="Rules are tried in this order, lowest first.")
    name = models.CharField(max_length=100)
    active = models.BooleanField(default=True)
    conditions = models.JSONField(default=dict, blank=True)
    team = models.ForeignKey(Team, on_delete=models.CASCADE, null=True, blank=True, related_name="routing_rules")
    rep = models.ForeignKey(
        "accounts.Membership", on_delete=models.CASCADE, null=True, blank=True, related_name="routing_rules"
    )
    created_at = models.DateTimeField(default=timezone.now)

    objects = OrgQuerySet.as_manager()

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(team__isnull=False, rep__isnull=True) | models.Q(team__isnull=True, rep__isnull=False)
                ),
                name="routing_rule_one_target",
            ),
        ]
        indexes = [models.Index(fields=["organization", "position"], name="routingrule_org_position_idx")]
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        unknown = set(self.conditions or {}) - self.CONDITION_KEYS
        if unknown:
            raise ValidationError({"conditions": f"Unknown conditions: {', '.join(sorted(unknown))}."})
        for target in (self.team, self.rep):
            if target is not None and target.organization_id != self.organization_id:
                raise ValidationError("The rule's target belongs to another organisation.")


class Handoff(models.Model):
    """One MQL given to one rep, with a due time from the response window, and how it ended."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        ACCEPTED = "accepted", "Accepted"
        RETURNED = "returned", "Returned"
        REASSIGNED = "reassigned", "Reassigned"
        BREACHED = "breached", "Breached"

    # Waiting for the rep: a breached handoff can still be accepted, returned or reassigned.
    OPEN = (Status.PENDING, Status.BREACHED)

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="handoffs")
    rep = models.ForeignKey("accounts.Membership", on_delete=models.CASCADE, related_name="handoffs")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    created_at = models.DateTimeField(default=timezone.now)
    due_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    returned_at = models.DateTimeField(null=True, blank=True)
    return_reason = models.CharField(max_length=30, choices=ReturnReason.choices, blank=True)
    return_note = models.TextField(blank=True)
    first_touch_at = models.DateTimeField(null=True, blank=True)
    # The deadline checks (sla.deadlines): when it is at risk (a share of its window gone
    # untouched), when its rep was warned, and when it breached (kept after a late accept).
    at_risk_at = models.DateTimeField(null=True, blank=True)
    at_risk_notified_at = models.DateTimeField(null=True, blank=True)
    breached_at = models.DateTimeField(null=True, blank=True)
    # Breached: when it goes to someone else (the organisation's grace after the breach, in
    # business hours, as it was then); empty without a grace.
    reroute_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        "accounts.Membership",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="The marketer who sent it to sales; empty when scoring qualified the lead.",
    )
    note = models.TextField(blank=True)
    routing_rule = models.ForeignKey(
        RoutingRule, on_delete=models.SET_NULL, null=True, blank=True, related_name="handoffs"
    )
    # Why this rep: each rule tried and each rep skipped, with the reason ("why did I get this lead").
    routing_log = models.JSONField(default=list, blank=True, encoder=DjangoJSONEncoder)
    definitions_version = models.ForeignKey(
        "personas.DefinitionVersion", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    scoring_model = models.ForeignKey(ScoringModel, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    reassigned_to = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="reassigned_from"
    )

    objects = OrgQuerySet.as_manager()

    class Meta:
        constraints = [
            # At most one open (pending or breached) handoff per lead.
            models.UniqueConstraint(
                fields=["lead"], condition=models.Q(status__in=["pending", "breached"]), name="handoff_one_open"
            ),
        ]
        indexes = [
            # The rep's queue: their pending handoffs by due time.
            models.Index(fields=["organization", "rep", "status", "due_at"], name="handoff_rep_queue_idx"),
            # The deadline checks' breach step: untouched pending handoffs by due time.
            models.Index(
                fields=["due_at"],
                condition=models.Q(status="pending", first_touch_at=None),
                name="handoff_breach_due_idx",
            ),
            # A rep's queue (and the overview's card) in due order: their open handoffs only,
            # not the organisation's walked and the other reps' discarded.
            models.Index(
                fields=["organization", "rep", "due_at", "id"],
                condition=models.Q(status__in=["pending", "breached"]),
                name="handoff_rep_open_due_idx",
            ),
            # A manager's queue: the organisation's open handoffs by due time, whoever has them.
            models.Index(
                fields=["organization", "due_at", "id"],
                condition=models.Q(status__in=["pending", "breached"]),
                name="handoff_org_open_due_idx",
            ),
            # The deadline checks: untouched pending handoffs by when they are at risk, and
            # breached ones by when their grace ends.
            models.Index(
                fields=["at_risk_at"],
                condition=models.Q(status="pending", first_touch_at=None, at_risk_notified_at=None),
                name="handoff_at_risk_idx",
            ),
            models.Index(fields=["reroute_at"], condition=models.Q(status="breached"), name="handoff_reroute_idx"),
        ]
        ordering = ["due_at", "id"]

    def __str__(self) -> str:
        return f"Handoff of lead {self.lead_id} to {self.rep_id} ({self.status})"

    def is_overdue(self, now) -> bool:
        return self.is_open and self.first_touch_at is None and self.due_at <= now

    @property
    def is_open(self) -> bool:
        """Still waiting for its rep: pending, or breached (past due untouched) but not yet ended."""
        return self.status in self.OPEN


# --- Touches, opportunities and outcomes ----------------------------------------------


class Touch(models.Model):
    """One thing a rep did to reach a lead (a call, an email, a meeting …), with how it went.

    Every kind but a note is an attempt to reach the lead: the first attempt on a handoff stops
    its response clock. Content shared in a touch counts as the lead having consumed it.
    """

    class Kind(models.TextChoices):
        CALL = "call", "Call"
        EMAIL = "email", "Email"
        MEETING = "meeting", "Meeting"
        LINKEDIN = "linkedin", "LinkedIn message"
        NOTE = "note", "Note"

    class Outcome(models.TextChoices):
        CONNECTED = "connected", "Connected"
        LEFT_VOICEMAIL = "left_voicemail", "Left voicemail"
        NO_ANSWER = "no_answer", "No answer"
        MEETING_BOOKED = "meeting_booked", "Meeting booked"
        REPLIED = "replied", "Replied"
        NOT_INTERESTED = "not_interested", "Not interested"
        WRONG_CONTACT = "wrong_contact", "Wrong contact details"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="touches")
    handoff = models.ForeignKey(Handoff, on_delete=models.SET_NULL, null=True, blank=True, related_name="touches")
    rep = models.ForeignKey("accounts.Membership", on_delete=models.SET_NULL, null=True, related_name="touches")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    outcome = models.CharField(max_length=30, choices=Outcome.choices, blank=True)
    occurred_at = models.DateTimeField()
    note = models.TextField(blank=True)
    content = models.ForeignKey(
        "personas.ContentAsset",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="touches",
        help_text="An asset from the library shared with the lead.",
    )
    created_at = models.DateTimeField(default=timezone.now)

    objects = OrgQuerySet.as_manager()

    class Meta:
        indexes = [
            models.Index(fields=["lead", "-occurred_at"], name="touch_lead_occurred_idx"),
            models.Index(fields=["organization", "rep", "-occurred_at"], name="touch_org_rep_occurred_idx"),
        ]
        ordering = ["-occurred_at", "-id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} with lead {self.lead_id}"

    @property
    def is_attempt(self) -> bool:
        return self.kind != self.Kind.NOTE


class LostReason(models.TextChoices):
    """Why a deal was lost."""

    PRICE = "price", "Price"
    COMPETITOR = "competitor", "Competitor"
    NO_DECISION = "no_decision", "No decision"
    TIMING = "timing", "Timing"
    PRODUCT_FIT = "product_fit", "Product fit"
    OTHER = "other", "Other"


class Opportunity(models.Model):
    """A deal with a lead: new business from an SQL, or an upsell or renewal with a customer."""

    class Kind(models.TextChoices):
        NEW_BUSINESS = "new_business", "New business"
        UPSELL = "upsell", "Upsell"
        RENEWAL = "renewal", "Renewal"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        WON = "won", "Won"
        LOST = "lost", "Lost"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="opportunities")
    owner = models.ForeignKey(
        "accounts.Membership", on_delete=models.SET_NULL, null=True, blank=True, related_name="opportunities"
    )
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.NEW_BUSINESS)
    amount = models.DecimalField(
        max_digits=14, decimal_places=2, help_text="Expected while open; the final amount once won."
    )
    currency = models.CharField(max_length=3)
    expected_close_date = models.DateField()
    stage = models.CharField(max_length=50, help_text="One of the organisation's pipeline stages while open.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    handoff = models.ForeignKey(Handoff, on_delete=models.SET_NULL, null=True, blank=True, related_name="opportunities")
    created_by = models.ForeignKey("accounts.Membership", on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    closed_at = models.DateTimeField(null=True, blank=True, help_text="When it was recorded as won or lost.")
    close_date = models.DateField(null=True, blank=True, help_text="The day it was won or lost.")
    lost_reason = models.CharField(max_length=20, choices=LostReason.choices, blank=True)
    lost_note = models.TextField(blank=True)

    objects = OrgQuerySet.as_manager()

    class Meta:
        constraints = [
            models.CheckConstraint(condition=models.Q(amount__gte=0), name="opportunity_amount_not_negative"),
            models.CheckConstraint(
                condition=models.Q(status="open") | models.Q(close_date__isnull=False),
                name="opportunity_closed_has_date",
            ),
            models.CheckConstraint(
                condition=~models.Q(status="lost") | ~models.Q(lost_reason=""), name="opportunity_lost_has_reason"
            ),
        ]
        indexes = [
            models.Index(fields=["organization", "status", "-close_date"], name="opp_org_status_closed_idx"),
            models.Index(fields=["organization", "owner", "status"], name="opp_org_owner_status_idx"),
        ]
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "opportunities"

    def __str__(self) -> str:
        return self.name
