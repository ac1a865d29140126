"""REST interface for touches and opportunities (deals), with win and lose.

Reads go through ``leads.selectors``; every write is one service call (``leads.touches``,
``leads.opportunities``) whose domain errors map to 400/403/409 in one place
(``smarketing.api.exception_handler``). Another organisation's id is a 404. Reps log touches
on and open deals for the leads they work, and change only their own deals; managers any.
"""

from __future__ import annotations

from django.db.models import QuerySet
from django.urls import reverse
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from leads import opportunities, selectors, touches
from leads.handoff_api import MemberRefSerializer, RepFilterField
from leads.models import Lead, LostReason, Opportunity, Touch
from personas.api import InputSerializer, OrgRelatedField
from personas.models import ContentAsset
from smarketing.accounts.models import Membership, Organization
from smarketing.api import OrgScopedMixin

# --- Output ---------------------------------------------------------------------------


class LeadRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    email = serializers.EmailField()
    name = serializers.CharField(source="full_name")
    lifecycle_stage = serializers.ChoiceField(Lead.Stage.choices)


class TouchSerializer(serializers.ModelSerializer):
    lead = serializers.IntegerField(source="lead_id", read_only=True)
    handoff = serializers.IntegerField(
        source="handoff_id", read_only=True, allow_null=True, help_text="The handoff it worked, if any."
    )
    rep = MemberRefSerializer(read_only=True, allow_null=True)
    content = serializers.IntegerField(
        source="content_id", read_only=True, allow_null=True, help_text="The library asset shared, if any."
    )

    class Meta:
        model = Touch
        fields = ["id", "lead", "handoff", "rep", "kind", "outcome", "occurred_at", "note", "content", "created_at"]
        read_only_fields = fields


class OpportunitySerializer(serializers.ModelSerializer):
    lead = LeadRefSerializer(read_only=True)
    owner = MemberRefSerializer(read_only=True, allow_null=True)
    handoff = serializers.IntegerField(source="handoff_id", read_only=True, allow_null=True)

    class Meta:
        model = Opportunity
        fields = [
            "id",
            "lead",
            "owner",
            "name",
            "kind",
            "amount",
            "currency",
            "expected_close_date",
            "stage",
            "status",
            "handoff",
            "created_at",
            "close_date",
            "closed_at",
            "lost_reason",
            "lost_note",
        ]
        read_only_fields = fields


# --- Input ----------------------------------------------------------------------------


class TouchFilterSerializer(serializers.Serializer):
    lead = OrgRelatedField(noun="lead", queryset=Lead.objects.all(), required=False)
    rep = RepFilterField(noun="member", queryset=Membership.objects.all(), required=False, help_text="Id or “me”.")


class TouchCreateSerializer(InputSerializer):
    """Log a touch; the first attempt (not a note) on a handoff stops its response clock."""

    output_class = TouchSerializer

    lead = OrgRelatedField(noun="lead", queryset=Lead.objects.select_related("organization"))
    kind = serializers.ChoiceField(Touch.Kind.choices)
    outcome = serializers.ChoiceField(
        Touch.Outcome.choices, allow_blank=True, default="", help_text="Required for all but a note."
    )
    occurred_at = serializers.DateTimeField(help_text="Not in the future.")
    note = serializers.CharField(max_length=5000, allow_blank=True, default="", help_text="Required for a note.")
    content = OrgRelatedField(
        noun="content asset", queryset=ContentAsset.objects.all(), required=False, allow_null=True, default=None
    )


class OpportunityFilterSerializer(serializers.Serializer):
    status = serializers.ChoiceField(Opportunity.Status.choices, required=False)
    owner = RepFilterField(noun="member", queryset=Membership.objects.all(), required=False, help_text="Id or “me”.")
    lead = OrgRelatedField(noun="lead", queryset=Lead.objects.all(), required=False)


class OpportunityCreateSerializer(InputSerializer):
    """Open a deal: new business from an SQL, or an upsell or renewal with a customer."""

    output_class = OpportunitySerializer

    lead = OrgRelatedField(noun="lead", queryset=Lead.objects.all())
    name = serializers.CharField(max_length=200, allow_blank=True, default="")
    kind = serializers.ChoiceField(Opportunity.Kind.choices, default=Opportunity.Kind.NEW_BUSINESS)
    amount = serializers.DecimalField(max_digits=14, decimal_places=2, help_text="Expected amount.")
    currency = serializers.CharField(max_length=3, help_text="The organisation's currency.")
    expected_close_date = serializers.DateField()
    stage = serializers.CharField(
        max_length=50, allow_blank=True, default="", help_text="A pipeline stage; default the first."
    )
    owner = OrgRelatedField(
        noun="member",
        queryset=Membership.objects.select_related("user"),
        required=False,
        allow_null=True,
        default=None,
        help_text="Managers only; default the caller.",
    )


class OpportunityUpdateSerializer(serializers.Serializer):
    """What an open deal may change; send only what changes."""

    name = serializers.CharField(max_length=200, required=False)
    amount = serializers.DecimalField(max_digits=14, decimal_places=2, required=False)
    expected_close_date = serializers.DateField(required=False)
    stage = serializers.CharField(max_length=50, required=False)
    owner = OrgRelatedField(
        noun="member", queryset=Membership.objects.select_related("user"), required=False, help_text="Managers only."
    )


class OpportunityWinSerializer(serializers.Serializer):
    amount = serializers.DecimalField(max_digits=14, decimal_places=2, help_text="The final amount, above zero.")
    currency = serializers.CharField(max_length=3)
    close_date = serializers.DateField(required=False, help_text="Default today; not in the future.")


class OpportunityLoseSerializer(serializers.Serializer):
    reason = serializers.ChoiceField(LostReason.choices)
    note = serializers.CharField(max_length=2000, allow_blank=True, default="", help_text="Required for “other”.")
    close_date = serializers.DateField(required=False, help_text="Default today; not in the future.")


# --- Touches ---------------------------------------------------------------------------


@extend_schema_view(
    get=extend_schema(parameters=[TouchFilterSerializer], responses=TouchSerializer(many=True)),
    post=extend_schema(request=TouchCreateSerializer, responses={201: TouchSerializer}),
)
class TouchList(OrgScopedMixin, generics.ListCreateAPIView):
    """Touches of the organisation, newest first; log one on a lead you work."""

    queryset = Touch.objects.all()
    permissions = {"GET": "leads.view", "*": "touches.log"}
    ordering = ("-occurred_at", "-id")

    def get_serializer_class(self):
        return TouchSerializer if self.request.method in ("GET", "HEAD") else TouchCreateSerializer

    def get_org_queryset(self, org: Organization) -> QuerySet[Touch]:
        query = TouchFilterSerializer(data=self.request.query_params, context=self.get_serializer_context())
        query.is_valid(raise_exception=True)
        qs = Touch.objects.for_org(org).select_related("rep__user")
        if lead := query.validated_data.get("lead"):
            qs = qs.filter(lead=lead)
        if rep := query.validated_data.get("rep"):
            qs = qs.filter(rep=rep)
        return qs

    def perform_create(self, serializer: TouchCreateSerializer) -> None:
        serializer.instance = touches.touch_log(actor=self.actor, **serializer.validated_data)


class TouchDetail(OrgScopedMixin, generics.RetrieveAPIView):
    queryset = Touch.objects.select_related("rep__user")
    lookup_url_kwarg = "touch_id"
    permission = "leads.view"
    serializer_class = TouchSerializer


# --- Opportunities ---------------------------------------------------------------------


class OpportunityMixin(OrgScopedMixin):
    queryset = Opportunity.objects.all()

    def get_opportunity(self) -> Opportunity:
        """The deal of the URL; another organisation's id is a 404 before any input error."""
        return selectors.opportunity_get(org=self.org, opportunity_id=self.kwargs["opportunity_id"])

    def respond(self, deal: Opportunity, status_code: int = status.HTTP_200_OK) -> Response:
        deal = selectors.opportunity_get(org=self.org, opportunity_id=deal.pk)
        return Response(OpportunitySerializer(deal, context=self.get_serializer_context()).data, status=status_code)


@extend_schema_view(
    get=extend_schema(parameters=[OpportunityFilterSerializer], responses=OpportunitySerializer(many=True)),
)
class OpportunityList(OpportunityMixin, generics.ListAPIView):
    """The organisation's deals, newest first; open one for a lead you work."""

    permissions = {"GET": "opportunities.view", "*": "opportunities.work"}
    ordering = ("-created_at", "-id")

    def get_serializer_class(self):
        return OpportunitySerializer if self.request.method in ("GET", "HEAD") else OpportunityCreateSerializer

    def get_org_queryset(self, org: Organization) -> QuerySet[Opportunity]:
        query = OpportunityFilterSerializer(data=self.request.query_params, context=self.get_serializer_context())
        query.is_valid(raise_exception=True)
        data = query.validated_data
        lead = data.get("lead")
        return selectors.opportunity_list(
            org=org, status=data.get("status", ""), owner=data.get("owner"), lead_id=lead.pk if lead else None
        )

    @extend_schema(request=OpportunityCreateSerializer, responses={201: OpportunitySerializer})
    def post(self, request: Request) -> Response:
        data = OpportunityCreateSerializer(data=request.data, context=self.get_serializer_context())
        data.is_valid(raise_exception=True)
        deal = opportunities.opportunity_create(actor=self.actor, **data.validated_data)
        response = self.respond(deal, status.HTTP_201_CREATED)
        response["Location"] = reverse("api:opportunity-detail", args=[deal.pk])
        return response


class OpportunityDetail(OpportunityMixin, generics.GenericAPIView):
    """One deal; PATCH changes an open deal (its owner, or a manager)."""

    permissions = {"GET": "opportunities.view", "*": "opportunities.work"}
    serializer_class = OpportunitySerializer

    def get(self, request: Request, opportunity_id: int) -> Response:
        return Response(self.get_serializer(self.get_opportunity()).data)

    @extend_schema(request=OpportunityUpdateSerializer, responses=OpportunitySerializer)
    def patch(self, request: Request, opportunity_id: int) -> Response:
        deal = self.get_opportunity()
        data = OpportunityUpdateSerializer(data=request.data, context=self.get_serializer_context())
        data.is_valid(raise_exception=True)
        return self.respond(opportunities.opportunity_update(opportunity=deal, actor=self.actor, **data.validated_data))


class OpportunityWin(OpportunityMixin, generics.GenericAPIView):
    """Record the deal won with its final amount: new business makes the lead a customer."""

    permission = "opportunities.work"
    serializer_class = OpportunityWinSerializer

    @extend_schema(request=OpportunityWinSerializer, responses=OpportunitySerializer)
    def post(self, request: Request, opportunity_id: int) -> Response:
        deal = self.get_opportunity()
        data = self.get_serializer(data=request.data)
        data.is_valid(raise_exception=True)
        return self.respond(opportunities.opportunity_win(opportunity=deal, actor=self.actor, **data.validated_data))


class OpportunityLose(OpportunityMixin, generics.GenericAPIView):
    """Record the deal lost with why: lost new business sends the lead to nurture."""

    permission = "opportunities.work"
    serializer_class = OpportunityLoseSerializer

    @extend_schema(request=OpportunityLoseSerializer, responses=OpportunitySerializer)
    def post(self, request: Request, opportunity_id: int) -> Response:
        deal = self.get_opportunity()
        data = self.get_serializer(data=request.data)
        data.is_valid(raise_exception=True)
        return self.respond(opportunities.opportunity_lose(opportunity=deal, actor=self.actor, **data.validated_data))
