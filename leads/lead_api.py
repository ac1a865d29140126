"""REST interface for leads: the list with the page's filters, create, read, change, move, history.

Reads go through ``leads.selectors`` and writes through ``leads.services``; the list is keyset
paginated (``smarketing.pagination``) so a page costs the same on the millionth lead and the
table is never counted.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param

from leads import selectors, services
from leads.models import BuyerStage, Campaign, Channel, Lead, ScoreChange, Seniority, StageChange
from leads.scoring import lead_engagement_explained
from leads.search import MAX_WORDS
from leads.selectors import SORTS, LeadFilters
from leads.services import LeadInput
from personas.api import CampaignRefSerializer, InputSerializer, OrgRelatedField, PersonaRefSerializer
from personas.models import Persona
from smarketing.accounts.models import Membership
from smarketing.api import FieldsBuiltOnceMixin, FieldsCopiedMixin, OrgScopedMixin
from smarketing.links import path_with_id
from smarketing.pagination import keyset_page

PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
# The history shows the newest changes of each kind; scoring may write many score changes.
HISTORY_LIMIT = 200
TRANSITION_HINT = "The lifecycle stage changes only through POST /api/v1/leads/{id}/transition (with a reason)."

# --- Output ---------------------------------------------------------------------------


class LeadOwnerSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    email = serializers.EmailField(source="user.email")


class LeadCompanySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    domain = serializers.CharField()
    industry = serializers.CharField()
    size = serializers.IntegerField(allow_null=True, help_text="Employees.")
    country = serializers.CharField(help_text="Two-letter code, or empty.")


class RoundedIntegerField(serializers.IntegerField):
    """A float stored for precision (decayed engagement), shown as the nearest whole number."""

    def to_representation(self, value: float) -> int:
        return round(value)


class LeadRowSerializer(FieldsBuiltOnceMixin, serializers.ModelSerializer):
    """A lead as a list row: what ``selectors.lead_list`` joins in, nothing fetched per row."""

    company = LeadCompanySerializer(read_only=True, allow_null=True)
    owner = LeadOwnerSerializer(read_only=True, allow_null=True)
    persona = PersonaRefSerializer(read_only=True, allow_null=True)
    first_campaign = CampaignRefSerializer(read_only=True, allow_null=True, help_text="First touch.")
    partner = serializers.PrimaryKeyRelatedField(
        read_only=True, allow_null=True, help_text="The partner that brought the lead in or works it (id), if any."
    )
    # The score, from the lead's score row (0 when it has none).
    fit_score = serializers.IntegerField(read_only=True)
    engagement_score = RoundedIntegerField(read_only=True, help_text="Decayed engagement, rounded.")
    total_score = serializers.IntegerField(read_only=True)

    class Meta:
        model = Lead
        fields = [
            "id",
            "email",
            "first_name",
            "last_name",
            "title",
            "seniority",
            "phone",
            "company_name",
            "company",
            "lifecycle_stage",
            "buyer_stage",
            "persona",
            "owner",
            "first_campaign",
            "partner",
            "fit_score",
            "engagement_score",
            "total_score",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class LeadSerializer(LeadRowSerializer):
    """A lead with everything about it: the row plus latest touch and why it scores what it does."""

    latest_campaign = CampaignRefSerializer(read_only=True, allow_null=True, help_text="Latest touch.")
    score_explanation = serializers.SerializerMethodField(
        help_text="Fit rules passed (as of the lead's last change) and the latest events that earned points."
    )

    class Meta(LeadRowSerializer.Meta):
        fields = [*LeadRowSerializer.Meta.fields, "latest_campaign", "score_explanation"]
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_score_explanation(self, lead: Lead) -> dict:
        explanation = {"fit": lead.score_explanation.get("fit", []), "engagement": []}
        if lead.current_score.engagement_scored_at is not None:
            model = services.active_scoring_model(lead.organization)
            explanation["engagement"] = lead_engagement_explained(lead, model=model)
        return explanation


class LeadPageSerializer(serializers.Serializer):
    results = LeadRowSerializer(many=True)
    next = serializers.URLField(allow_null=True, help_text="The next page, or null on the last one.")


class StageChangeSerializer(serializers.ModelSerializer):
    # "from"/"to" are Python keywords: declared below through ``get_fields``.
    at = serializers.DateTimeField(source="changed_at")
    actor = serializers.EmailField(
        source="actor.user.email", allow_null=True, help_text="The person who moved it; null for a rule."
    )
    definitions_version = serializers.IntegerField(
        source="definitions_version.number", allow_null=True, help_text="Number of the definitions in force."
    )

    class Meta:
        model = StageChange
        fields = ["at", "actor", "rule", "reason", "total_score", "definitions_version"]
        read_only_fields = fields

    def get_fields(self) -> dict:
        fields = super().get_fields()
        return {
            "from": serializers.CharField(source="from_stage", read_only=True, help_text="Empty when it entered."),
            "to": serializers.CharField(source="to_stage", read_only=True),
            **fields,
        }


class ScoreChangeSerializer(serializers.ModelSerializer):
    at = serializers.DateTimeField(source="changed_at")
    scoring_model = serializers.IntegerField(
        source="scoring_model.version", allow_null=True, help_text="Version of the scoring model."
    )

    class Meta:
        model = ScoreChange
        fields = ["at", "fit_score", "engagement_score", "total_score", "delta", "reason", "scoring_model"]
        read_only_fields = fields


class LeadHistorySerializer(serializers.Serializer):
    stage_changes = StageChangeSerializer(many=True, help_text=f"Newest first, at most {HISTORY_LIMIT}.")
    score_changes = ScoreChangeSerializer(many=True, help_text=f"Newest first, at most {HISTORY_LIMIT}.")


# --- Input ----------------------------------------------------------------------------

STAGES = ", ".join(Lead.Stage.values)


class StageField(serializers.CharField):
    """A lifecycle stage given as a string: the schema's one stage enum is the lead's ``lifecycle_stage``.

    (A second ChoiceField over ``Lead.Stage`` under another name would need an
    ENUM_NAME_OVERRIDES entry in the schema settings.)
    """

    def to_internal_value(self, data) -> str:
        value = super().to_internal_value(data)
        if value and value not in Lead.Stage.values:
            raise serializers.ValidationError(f"Unknown lifecycle stage “{value}”; one of: {STAGES}.")
        return value


@extend_schema_field(OpenApiTypes.STR)
class OwnerFilterField(OrgRelatedField):
    """A member id of the caller's organisation, or ``none`` for leads nobody owns."""

    def to_internal_value(self, data):
        return "none" if data == "none" else super().to_internal_value(data)


class LeadFilterSerializer(serializers.Serializer):
    """The lead list page's filters (``leads.forms.LeadFilterForm``), as query parameters."""

    stage = StageField(required=False, allow_blank=True, help_text=f"Lifecycle stage: {STAGES}.")
    owner = OwnerFilterField(
        noun="member",
        queryset=Membership.objects.filter(removed_at=None),
        required=False,
        help_text="A member id, or “none” for unowned leads.",
    )
    campaign = OrgRelatedField(
        noun="campaign", queryset=Campaign.objects.all(), required=False, help_text="First touch."
    )
    channel = serializers.ChoiceField(Channel.choices, required=False, help_text="Of the first-touch campaign.")
    persona = OrgRelatedField(noun="persona", queryset=Persona.objects.all(), required=False)
    score_min = serializers.IntegerField(required=False, help_text="Total score at least.")
    score_max = serializers.IntegerField(required=False, help_text="Total score at most.")
    created_from = serializers.DateField(required=False, help_text="Created on or after (organisation's time zone).")
    created_to = serializers.DateField(required=False, help_text="Created on or before (organisation's time zone).")
    moved_to = StageField(
        required=False, allow_blank=True, help_text=f"Moved to this lifecycle stage (any when empty): {STAGES}."
    )
    moved_since = serializers.DateField(
        required=False, help_text="Moved (to ``moved_to``) on or after (organisation's time zone)."
    )
    moved_until = serializers.DateField(
        required=False, help_text="Moved (to ``moved_to``) on or before (organisation's time zone)."
    )
    search = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=200,
        help_text=(
            "Words of the email, name and company, in any order, the last one as the beginning of a "
            "word (``acme gar`` finds María García at acme.com). A part written "
            f"with punctuation inside (``jane.doe@acme``) must appear as written. At most {MAX_WORDS} words count."
        ),
    )
    sort = serializers.ChoiceField(list(SORTS), default="newest")
    cursor = serializers.CharField(required=False, help_text="From the previous page's “next”.")
    page_size = serializers.IntegerField(
        min_value=1, default=PAGE_SIZE, help_text=f"Leads per page; at most {MAX_PAGE_SIZE}."
    )

    def validate(self, attrs: dict) -> dict:
        errors = LeadFilters.range_errors(attrs)
        if errors:
            raise serializers.ValidationError({field: [message] for field, message in errors.items()})
        return attrs

    def filters(self) -> LeadFilters:
        return LeadFilters.from_data(self.validated_data)


class LeadInputSerializer(FieldsCopiedMixin, InputSerializer):
    """What a lead may set; a PATCH sends only what changes. The service checks the rules."""

    output_class = LeadSerializer

    email = serializers.EmailField(max_length=254)
    first_name = serializers.CharField(max_length=100, allow_blank=True, required=False)
    last_name = serializers.CharField(max_length=100, allow_blank=True, required=False)
    title = serializers.CharField(max_length=150, allow_blank=True, required=False)
    seniority = serializers.ChoiceField(Seniority.choices, allow_blank=True, required=False)
    phone = serializers.CharField(max_length=40, allow_blank=True, required=False)
    company_name = serializers.CharField(max_length=200, allow_blank=True, required=False)
    company_domain = serializers.CharField(
        max_length=200, allow_blank=True, required=False, help_text="Default: the email's domain (not free mail)."
    )
    industry = serializers.CharField(max_length=100, allow_blank=True, required=False)
    company_size = serializers.IntegerField(min_value=1, required=False, help_text="Employees.")
    # Checked by the service (two letters), which says how to write it.
    country = serializers.CharField(allow_blank=True, required=False, help_text="Two-letter code, e.g. GB.")
    buyer_stage = serializers.ChoiceField(BuyerStage.choices, allow_blank=True, required=False)
    owner = OrgRelatedField(
        noun="member", queryset=Membership.objects.filter(removed_at=None).select_related("user"), required=False
    )
    campaign = OrgRelatedField(
        noun="campaign", queryset=Campaign.objects.all(), required=False, help_text="The campaign that brought it in."
    )

    def validate(self, attrs: dict) -> dict:
        if "lifecycle_stage" in self.initial_data:
            raise serializers.ValidationError({"lifecycle_stage": [TRANSITION_HINT]})
        return attrs

    def to_input(self) -> LeadInput:
        return LeadInput(**self.validated_data)


class LeadTransitionSerializer(serializers.Serializer):
    to = StageField(help_text=f"The lifecycle stage to move to: {STAGES}.")
    reason = serializers.CharField(
        max_length=1000, allow_blank=True, default="", help_text="Required for nurture and disqualified."
    )


# --- Views ----------------------------------------------------------------------------


class LeadMixin(OrgScopedMixin):
    queryset = Lead.objects.all()
    permissions = {"GET": "leads.view", "*": "leads.edit"}

    def get_lead(self) -> Lead:
        """The lead of the URL, with what the detail shows joined in; another organisation's is a 404."""
        return selectors.lead_detail(org=self.org, lead_id=self.kwargs["lead_id"])

    def lead_response(self, lead: Lead) -> Response:
        """The lead as a GET shows it after a write (re-read: the service returns it without its relations)."""
        lead = selectors.lead_detail(org=self.org, lead_id=lead.pk)
        return Response(LeadSerializer(lead, context=self.get_serializer_context()).data)


class LeadList(LeadMixin, generics.GenericAPIView):
    """The organisation's leads with the lead page's filters and sorts; anyone on the team adds one."""

    serializer_class = LeadInputSerializer

    @extend_schema(operation_id="leads_list", parameters=[LeadFilterSerializer], responses=LeadPageSerializer)
    def get(self, request: Request) -> Response:
        query = LeadFilterSerializer(data=request.query_params, context=self.get_serializer_context())
        query.is_valid(raise_exception=True)
        params = query.validated_data
        order = SORTS[params["sort"]]
        leads = selectors.lead_list(org=self.org, filters=query.filters(), order=order)
        cursor = params.get("cursor")
        try:
            page = keyset_page(leads, order=order, cursor=cursor, size=min(params["page_size"], MAX_PAGE_SIZE))
        except (ValueError, TypeError, DjangoValidationError):  # a cursor made for another sort
            page = None
        if cursor and (page is None or page.is_first):
            raise serializers.ValidationError({"cursor": ["Not a cursor of this list; start again without it."]})
        next_url = None
        if page.next_cursor:
            next_url = replace_query_param(request.build_absolute_uri(), "cursor", page.next_cursor)
        rows = LeadRowSerializer(page.rows, many=True, context=self.get_serializer_context()).data
        return Response({"results": rows, "next": next_url})

    @extend_schema(request=LeadInputSerializer, responses={201: LeadSerializer})
    def post(self, request: Request) -> Response:
        data = self.get_serializer(data=request.data)
        data.is_valid(raise_exception=True)
        lead = services.lead_create(org=self.org, data=data.to_input(), actor=self.actor)
        # The new lead holds every relation it was given or matched (company, persona, owner with
        # its user, campaign): shown as it is, without re-reading it (creation is a hot path).
        body = LeadSerializer(lead, context=self.get_serializer_context()).data
        return Response(
            body, status=status.HTTP_201_CREATED, headers={"Location": path_with_id("api:lead-detail", lead.pk)}
        )


class LeadDetail(LeadMixin, generics.GenericAPIView):
    """Read a lead; PATCH changes the attributes sent (not the stage: see ``/transition``)."""

    serializer_class = LeadInputSerializer
    http_method_names = ["get", "patch", "head", "options"]

    @extend_schema(responses=LeadSerializer)
    def get(self, request: Request, lead_id: int) -> Response:
        return Response(LeadSerializer(self.get_lead(), context=self.get_serializer_context()).data)

    @extend_schema(request=LeadInputSerializer, responses=LeadSerializer)
    def patch(self, request: Request, lead_id: int) -> Response:
        lead = self.get_lead()  # another organisation's id is a 404 before any input error
        data = self.get_serializer(lead, data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        return self.lead_response(services.lead_update(lead=lead, data=data.to_input()))


class LeadTransition(LeadMixin, generics.GenericAPIView):
    """Move the lead to another lifecycle stage; the allowed moves and the reasons are the service's."""

    serializer_class = LeadTransitionSerializer

    @extend_schema(request=LeadTransitionSerializer, responses=LeadSerializer)
    def post(self, request: Request, lead_id: int) -> Response:
        lead = self.get_lead()
        move = self.get_serializer(data=request.data)
        move.is_valid(raise_exception=True)
        lead = services.lead_transition(
            lead=lead, to=move.validated_data["to"], actor=self.actor, reason=move.validated_data["reason"]
        )
        return self.lead_response(lead)


def _history(lead: Lead) -> dict[str, list]:
    """The lead's newest stage and score changes (a reader of one lead's rows, scoped by the lead)."""
    stages = StageChange.objects.filter(lead=lead).select_related("actor__user", "definitions_version")
    scores = ScoreChange.objects.filter(lead=lead).select_related("scoring_model")
    return {"stage_changes": stages[:HISTORY_LIMIT], "score_changes": scores[:HISTORY_LIMIT]}


class LeadHistory(LeadMixin, generics.GenericAPIView):
    """How the lead moved through the funnel (who or which rule, why, under which definitions) and scored."""

    serializer_class = LeadHistorySerializer

    @extend_schema(responses=LeadHistorySerializer)
    def get(self, request: Request, lead_id: int) -> Response:
        lead = self.get_lead()
        return Response(LeadHistorySerializer(_history(lead)).data)
