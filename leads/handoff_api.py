"""REST interface for handoffs, routing rules, the routing preview and teams.

Reads go through ``leads.selectors``; every write is one service call (``leads.handoffs`` for
handoffs, ``leads.routing`` for rules), whose domain errors map to 400/403/409 in one place
(``smarketing.api.exception_handler``). Another organisation's id is a 404.
"""

from __future__ import annotations

from django.db.models import QuerySet
from django.urls import reverse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_field, extend_schema_view
from rest_framework import generics, serializers, status
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response

from leads import handoffs, routing, selectors
from leads.models import Campaign, Channel, Handoff, Lead, ReturnReason, RoutingRule, Team
from leads.routing import RoutingDecision, RoutingFacts
from personas.api import InputSerializer, OrgRelatedField
from personas.models import Persona
from smarketing.accounts.models import Membership, Organization
from smarketing.accounts.policy import can_see_all_handoffs, can_view_handoff
from smarketing.api import OrgScopedMixin

# --- Output ---------------------------------------------------------------------------


class MemberRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    email = serializers.EmailField(source="user.email")
    name = serializers.CharField(source="user.full_name")


class RuleRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class HandoffLeadSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    email = serializers.EmailField()
    name = serializers.CharField(source="full_name")
    lifecycle_stage = serializers.ChoiceField(Lead.Stage.choices)
    total_score = serializers.IntegerField()


class HandoffRoutingSerializer(serializers.Serializer):
    rule = RuleRefSerializer(source="routing_rule", allow_null=True, help_text="Null: fallback owner or by hand.")
    log = serializers.JSONField(
        source="routing_log", help_text="Each rule tried and each rep skipped, with why (steps in order)."
    )


class HandoffSerializer(serializers.ModelSerializer):
    """A handoff as the list and the detail show it: what ``selectors.handoff_list`` joins in."""

    lead = HandoffLeadSerializer(read_only=True)
    rep = MemberRefSerializer(read_only=True)
    is_overdue = serializers.SerializerMethodField(help_text="Pending, untouched and past its due time.")
    routing = HandoffRoutingSerializer(source="*", read_only=True)
    created_by = serializers.IntegerField(
        source="created_by_id", read_only=True, allow_null=True, help_text="Who sent it to sales; null for scoring."
    )
    definitions_version = serializers.IntegerField(source="definitions_version_id", read_only=True, allow_null=True)
    scoring_model = serializers.IntegerField(source="scoring_model_id", read_only=True, allow_null=True)
    reassigned_to = serializers.IntegerField(
        source="reassigned_to_id", read_only=True, allow_null=True, help_text="The handoff that replaced this one."
    )

    class Meta:
        model = Handoff
        fields = [
            "id",
            "lead",
            "rep",
            "status",
            "created_at",
            "due_at",
            "is_overdue",
            "accepted_at",
            "returned_at",
            "return_reason",
            "return_note",
            "first_touch_at",
            "note",
            "created_by",
            "routing",
            "definitions_version",
            "scoring_model",
            "reassigned_to",
        ]
        read_only_fields = fields

    def get_is_overdue(self, handoff: Handoff) -> bool:
        if "now" not in self.context:
            self.context["now"] = timezone.now()  # one clock for the whole page
        return handoff.is_overdue(self.context["now"])


class TeamMemberSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="membership_id", help_text="The member id.")
    email = serializers.EmailField(source="membership.user.email")
    name = serializers.CharField(source="membership.user.full_name")
    capacity = serializers.IntegerField(help_text="Open (pending) handoffs at most.")


class TeamSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    members = TeamMemberSerializer(many=True, source="members.all")
    capacity = serializers.SerializerMethodField(help_text="The members' capacities added up.")

    def get_capacity(self, team: Team) -> int:
        return sum(m.capacity for m in team.members.all())


class RoutingRuleSerializer(serializers.ModelSerializer):
    team = RuleRefSerializer(read_only=True, allow_null=True)
    rep = MemberRefSerializer(read_only=True, allow_null=True)

    class Meta:
        model = RoutingRule
        fields = ["id", "position", "name", "active", "conditions", "team", "rep", "created_at"]
        read_only_fields = fields


class RoutingDecisionSerializer(serializers.Serializer):
    rep = MemberRefSerializer(allow_null=True, help_text="Who would get the lead; null: nobody.")
    rule = RuleRefSerializer(allow_null=True, help_text="The rule that placed it; null for the fallback owner.")
    log = serializers.JSONField(help_text="Each rule tried and each rep skipped, with why (steps in order).")


# --- Input ----------------------------------------------------------------------------


@extend_schema_field(OpenApiTypes.STR)
class RepFilterField(OrgRelatedField):
    """A member id of the caller's organisation, or ``me``."""

    def to_internal_value(self, data):
        return self.context["view"].actor if data == "me" else super().to_internal_value(data)


class HandoffFilterSerializer(serializers.Serializer):
    status = serializers.ChoiceField(Handoff.Status.choices, required=False, help_text="Pending: soonest due first.")
    rep = RepFilterField(
        noun="member", queryset=Membership.objects.all(), required=False, help_text="A member id, or “me”."
    )
    lead = OrgRelatedField(noun="lead", queryset=Lead.objects.all(), required=False)


class HandoffCreateSerializer(InputSerializer):
    """Send a lead to sales: a lead not yet MQL becomes one, and routing picks the rep."""

    output_class = HandoffSerializer

    lead = OrgRelatedField(noun="lead", queryset=Lead.objects.all())
    note = serializers.CharField(
        max_length=2000, allow_blank=True, default="", help_text="What the rep should know; shown to them."
    )


class HandoffReturnSerializer(serializers.Serializer):
    reason = serializers.ChoiceField(ReturnReason.choices)
    note = serializers.CharField(
        max_length=2000, allow_blank=True, default="", help_text="Required when the reason is “other”."
    )


class HandoffReassignSerializer(serializers.Serializer):
    to = OrgRelatedField(
        noun="member",
        queryset=Membership.objects.select_related("user"),
        required=False,
        allow_null=True,
        help_text="A rep or manager; leave out to route the lead again to someone else.",
    )


class RoutingRuleInputSerializer(InputSerializer):
    """What a rule may set; a PATCH sends only what changes. Exactly one of ``team`` and ``rep``."""

    output_class = RoutingRuleSerializer

    name = serializers.CharField(max_length=100)
    position = serializers.IntegerField(min_value=0, required=False, help_text="Default: after the last rule.")
    active = serializers.BooleanField(required=False)
    conditions = serializers.DictField(
        required=False,
        help_text="Any of persona_ids, countries, company_size_min, company_size_max, channels, campaign_ids, "
        "partner_id; every one given must hold.",
    )
    team = OrgRelatedField(noun="team", queryset=Team.objects.all(), required=False, allow_null=True)
    rep = OrgRelatedField(
        noun="member", queryset=Membership.objects.filter(removed_at=None), required=False, allow_null=True
    )


class RoutingPreviewSerializer(serializers.Serializer):
    """A saved lead, or the attributes of one (all optional)."""

    lead = OrgRelatedField(
        noun="lead",
        queryset=Lead.objects.select_related("company", "first_campaign", "latest_campaign", "organization"),
        required=False,
    )
    persona = OrgRelatedField(noun="persona", queryset=Persona.objects.all(), required=False)
    country = serializers.CharField(required=False, allow_blank=True, max_length=2, help_text="Two-letter code.")
    company_size = serializers.IntegerField(required=False, min_value=1, help_text="Employees.")
    channels = serializers.ListField(child=serializers.ChoiceField(Channel.choices), required=False)
    campaigns = serializers.ListField(child=serializers.IntegerField(), required=False, help_text="Campaign ids.")
    partner_id = serializers.IntegerField(required=False)

    def validate(self, attrs: dict) -> dict:
        if "lead" in attrs and len(attrs) > 1:
            raise serializers.ValidationError({"lead": ["Give a lead or its attributes, not both."]})
        if campaign_ids := attrs.get("campaigns"):
            org = self.context["view"].org
            if Campaign.objects.for_org(org).filter(pk__in=campaign_ids).count() != len(set(campaign_ids)):
                raise serializers.ValidationError({"campaigns": ["Unknown campaign."]})
        return attrs

    def facts(self) -> RoutingFacts:
        data = self.validated_data
        return RoutingFacts(
            persona_id=data["persona"].pk if data.get("persona") else None,
            country=data.get("country", "").upper(),
            company_size=data.get("company_size"),
            channels=frozenset(data.get("channels", [])),
            campaign_ids=frozenset(data.get("campaigns", [])),
            partner_id=data.get("partner_id"),
        )


# --- Handoffs -------------------------------------------------------------------------


class HandoffMixin(OrgScopedMixin):
    queryset = Handoff.objects.all()

    def get_handoff(self) -> Handoff:
        """The handoff of the URL; another organisation's id is a 404 before any input error."""
        return selectors.handoff_get(org=self.org, handoff_id=self.kwargs["handoff_id"])

    def handoff_response(self, handoff: Handoff, status_code: int = status.HTTP_200_OK) -> Response:
        """The handoff as a GET shows it after a write (re-read with its lead, rep and rule)."""
        handoff = selectors.handoff_get(org=self.org, handoff_id=handoff.pk)
        body = HandoffSerializer(handoff, context=self.get_serializer_context()).data
        return Response(body, status=status_code)


@extend_schema_view(
    get=extend_schema(parameters=[HandoffFilterSerializer], responses=HandoffSerializer(many=True)),
)
class HandoffList(HandoffMixin, generics.ListAPIView):
    """The organisation's handoffs (a rep's own only), newest first, or soonest due for ``status=pending``."""

    permissions = {"GET": "handoffs.view", "*": "handoffs.create"}

    def get_serializer_class(self):
        return HandoffSerializer if self.request.method in ("GET", "HEAD") else HandoffCreateSerializer

    @property
    def ordering(self) -> tuple[str, ...]:
        filters = getattr(self, "filters", {})
        return ("due_at", "id") if filters.get("status") == Handoff.Status.PENDING else ("-id",)

    def get_org_queryset(self, org: Organization) -> QuerySet[Handoff]:
        query = HandoffFilterSerializer(data=self.request.query_params, context=self.get_serializer_context())
        query.is_valid(raise_exception=True)
        self.filters = query.validated_data
        rep = self.filters.get("rep")
        if not can_see_all_handoffs(self.actor):
            if rep is not None and rep.pk != self.actor.pk:
                return Handoff.objects.none()
            rep = self.actor
        lead = self.filters.get("lead")
        return selectors.handoff_list(
            org=org, status=self.filters.get("status", ""), rep=rep, lead_id=lead.pk if lead else None
        )

    @extend_schema(request=HandoffCreateSerializer, responses={201: HandoffSerializer})
    def post(self, request: Request) -> Response:
        data = HandoffCreateSerializer(data=request.data, context=self.get_serializer_context())
        data.is_valid(raise_exception=True)
        handoff = handoffs.handoff_create(
            lead=data.validated_data["lead"], actor=self.actor, note=data.validated_data["note"]
        )
        response = self.handoff_response(handoff, status.HTTP_201_CREATED)
        response["Location"] = reverse("api:handoff-detail", args=[handoff.pk])
        return response


class HandoffDetail(HandoffMixin, generics.GenericAPIView):
    """One handoff: the lead, the rep, how it was routed and how it ended."""

    permission = "handoffs.view"
    serializer_class = HandoffSerializer

    def get(self, request: Request, handoff_id: int) -> Response:
        handoff = self.get_handoff()
        if not can_view_handoff(self.actor, handoff):
            raise PermissionDenied("A sales rep sees only the handoffs given to them.")
        return Response(self.get_serializer(handoff).data)


class HandoffAccept(HandoffMixin, generics.GenericAPIView):
    """The rep (or a manager for them) takes the lead: it becomes SQL and the rep its owner."""

    permission = "handoffs.work"
    serializer_class = HandoffSerializer

    @extend_schema(request=None, responses=HandoffSerializer)
    def post(self, request: Request, handoff_id: int) -> Response:
        handoff = handoffs.handoff_accept(handoff=self.get_handoff(), actor=self.actor)
        return self.handoff_response(handoff)


class HandoffReturn(HandoffMixin, generics.GenericAPIView):
    """Hand the lead back to marketing with a reason: not a fit is disqualified, else nurture."""

    permission = "handoffs.work"
    serializer_class = HandoffReturnSerializer

    @extend_schema(request=HandoffReturnSerializer, responses=HandoffSerializer)
    def post(self, request: Request, handoff_id: int) -> Response:
        handoff = self.get_handoff()
        data = self.get_serializer(data=request.data)
        data.is_valid(raise_exception=True)
        handoff = handoffs.handoff_return(handoff=handoff, actor=self.actor, **data.validated_data)
        return self.handoff_response(handoff)


class HandoffReassign(HandoffMixin, generics.GenericAPIView):
    """A manager gives a pending or breached handoff to ``to``, or routes it again; returns the new handoff."""

    permission = "handoffs.manage"
    serializer_class = HandoffReassignSerializer

    @extend_schema(request=HandoffReassignSerializer, responses={201: HandoffSerializer})
    def post(self, request: Request, handoff_id: int) -> Response:
        handoff = self.get_handoff()
        data = self.get_serializer(data=request.data)
        data.is_valid(raise_exception=True)
        new = handoffs.handoff_reassign(handoff=handoff, actor=self.actor, to=data.validated_data.get("to"))
        response = self.handoff_response(new, status.HTTP_201_CREATED)
        response["Location"] = reverse("api:handoff-detail", args=[new.pk])
        return response


# --- Routing rules, preview, teams ----------------------------------------------------


class RoutingRuleMixin(OrgScopedMixin):
    queryset = RoutingRule.objects.all()
    lookup_url_kwarg = "routingrule_id"
    permissions = {"GET": "routing.view", "*": "routing.edit"}

    def get_serializer_class(self):
        return RoutingRuleSerializer if self.request.method in ("GET", "HEAD") else RoutingRuleInputSerializer

    def get_org_queryset(self, org: Organization) -> QuerySet[RoutingRule]:
        return selectors.routing_rule_list(org=org)

    def reread(self, rule: RoutingRule) -> RoutingRule:
        return selectors.routing_rule_get(org=self.org, rule_id=rule.pk)


@extend_schema_view(post=extend_schema(request=RoutingRuleInputSerializer, responses={201: RoutingRuleSerializer}))
class RoutingRuleList(RoutingRuleMixin, generics.ListCreateAPIView):
    """The organisation's routing rules in the order they are tried; a manager adds one."""

    ordering = ("position", "id")

    def perform_create(self, serializer: RoutingRuleInputSerializer) -> None:
        rule = routing.routing_rule_create(org=self.org, **serializer.validated_data)
        serializer.instance = self.reread(rule)


@extend_schema_view(patch=extend_schema(request=RoutingRuleInputSerializer, responses=RoutingRuleSerializer))
class RoutingRuleDetail(RoutingRuleMixin, generics.RetrieveUpdateDestroyAPIView):
    """Read a rule; PATCH changes what is sent (sending ``team`` clears ``rep`` and back); DELETE removes it."""

    http_method_names = ["get", "patch", "delete", "head", "options"]

    def perform_update(self, serializer: RoutingRuleInputSerializer) -> None:
        rule: RoutingRule = serializer.instance
        changes = serializer.validated_data
        team, rep = changes.get("team", rule.team), changes.get("rep", rule.rep)
        # One target at a time: naming one (alone) replaces the other; naming both is the service's 400.
        if changes.get("team") is not None and "rep" not in changes:
            rep = None
        if changes.get("rep") is not None and "team" not in changes:
            team = None
        rule = routing.routing_rule_update(
            rule=rule,
            name=changes.get("name", rule.name),
            team=team,
            rep=rep,
            conditions=changes.get("conditions", rule.conditions or {}),
            active=changes.get("active", rule.active),
            position=changes.get("position", rule.position),
        )
        serializer.instance = self.reread(rule)

    def perform_destroy(self, instance: RoutingRule) -> None:
        routing.routing_rule_delete(rule=instance)


class RoutingPreview(OrgScopedMixin, generics.GenericAPIView):
    """Who would get a lead (a saved one, or one with these attributes) and why; changes nothing."""

    permission = "routing.view"
    serializer_class = RoutingPreviewSerializer

    @extend_schema(request=RoutingPreviewSerializer, responses=RoutingDecisionSerializer)
    def post(self, request: Request) -> Response:
        data = self.get_serializer(data=request.data)
        data.is_valid(raise_exception=True)
        lead = data.validated_data.get("lead")
        decision: RoutingDecision = routing.routing_preview(
            org=self.org, lead=lead, facts=None if lead else data.facts()
        )
        return Response(RoutingDecisionSerializer(decision).data)


class TeamList(OrgScopedMixin, generics.ListAPIView):
    """The organisation's sales teams with their members and capacities (read-only)."""

    queryset = Team.objects.all()
    permission = "routing.view"
    serializer_class = TeamSerializer
    ordering = ("name", "id")

    def get_org_queryset(self, org: Organization) -> QuerySet[Team]:
        return selectors.team_list(org=org)
