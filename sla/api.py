"""REST interface of the SLA: agreements, signing, renewal and live compliance.

Everyone on staff reads; managers draft, change, withdraw and renew; a manager signs for
their own side. Each write is one ``sla.agreements`` call; domain errors map to 400/403/409
in one place. Another organisation's id is a 404.
"""

from __future__ import annotations

from django.db.models import QuerySet
from django.urls import reverse
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from leads.models import Team
from personas.api import InputSerializer, OrgRelatedField
from sla import agreements, compliance, forecast
from sla.models import MAX_RESPONSE_HOURS, Agreement
from smarketing.accounts.models import Membership, Organization
from smarketing.accounts.tenancy import get_for_org
from smarketing.api import OrgScopedMixin


class AgreementSerializer(serializers.ModelSerializer):
    team = serializers.IntegerField(source="team_id", allow_null=True, read_only=True)
    marketing_signed_by = serializers.IntegerField(source="marketing_signed_by_id", allow_null=True, read_only=True)
    sales_signed_by = serializers.IntegerField(source="sales_signed_by_id", allow_null=True, read_only=True)
    renewed_from = serializers.IntegerField(source="renewed_from_id", allow_null=True, read_only=True)

    class Meta:
        model = Agreement
        fields = [
            "id",
            "period",
            "starts_on",
            "ends_on",
            "team",
            "status",
            "mql_target",
            "sql_target",
            "min_acceptance_percent",
            "response_hours",
            "attempts_min",
            "attempts_days",
            "revenue_target",
            "notes",
            "renewed_from",
            "created_at",
            "marketing_signed_by",
            "marketing_signed_at",
            "sales_signed_by",
            "sales_signed_at",
            "activated_at",
        ]
        read_only_fields = fields


class AgreementInputSerializer(InputSerializer):
    """The terms; ``starts_on`` may be any day of the period. A PATCH sends them all again."""

    output_class = AgreementSerializer

    period = serializers.ChoiceField(Agreement.Period.choices, default=Agreement.Period.MONTH)
    starts_on = serializers.DateField()
    team = OrgRelatedField(noun="team", queryset=Team.objects.all(), required=False, allow_null=True, default=None)
    mql_target = serializers.IntegerField(required=False, allow_null=True, default=None)
    sql_target = serializers.IntegerField(required=False, allow_null=True, default=None)
    min_acceptance_percent = serializers.IntegerField(required=False, allow_null=True, default=None)
    response_hours = serializers.IntegerField(help_text=f"1 to {MAX_RESPONSE_HOURS} business hours.")
    attempts_min = serializers.IntegerField(default=3)
    attempts_days = serializers.IntegerField(default=5)
    revenue_target = serializers.DecimalField(max_digits=14, decimal_places=2)
    notes = serializers.CharField(allow_blank=True, default="")

    def to_input(self) -> agreements.AgreementInput:
        return agreements.AgreementInput(**self.validated_data)


class SignSerializer(serializers.Serializer):
    side = serializers.ChoiceField(Membership.Side.choices, help_text="The signer's own side.")


class FigureSerializer(serializers.Serializer):
    label = serializers.CharField()
    actual = serializers.FloatField()
    target = serializers.FloatField(allow_null=True)
    pace = serializers.FloatField(allow_null=True, help_text="Where the figure should be by now, pro rata.")
    unit = serializers.CharField()
    numerator = serializers.IntegerField(allow_null=True)
    denominator = serializers.IntegerField(allow_null=True)
    met = serializers.BooleanField(allow_null=True, help_text="Null: no target, or nothing to measure yet.")
    has_data = serializers.BooleanField(help_text="False: nothing to measure yet (actual reads 0).")
    url = serializers.CharField(help_text="The page listing the records the figure counts (a path of this site).")


class RepFiguresSerializer(serializers.Serializer):
    rep = serializers.IntegerField(source="rep.pk")
    handoffs = serializers.IntegerField()
    decided = serializers.IntegerField(help_text="Touched, or past due untouched.")
    in_window = serializers.IntegerField()
    median_hours = serializers.FloatField(allow_null=True)
    attempts_due = serializers.IntegerField()
    attempts_met = serializers.IntegerField()
    accepted = serializers.IntegerField()
    returned = serializers.IntegerField()


class ComplianceSerializer(serializers.Serializer):
    agreement = serializers.IntegerField(source="agreement.pk")
    elapsed = serializers.FloatField(help_text="Share of the period gone, 0 to 1.")
    marketing = FigureSerializer(many=True)
    sales = FigureSerializer(many=True)
    revenue = FigureSerializer()
    reps = RepFiguresSerializer(many=True)


class AgreementMixin(OrgScopedMixin):
    queryset = Agreement.objects.all()
    permissions = {"GET": "sla.view", "*": "sla.edit"}

    def get_agreement(self) -> Agreement:
        return get_for_org(
            Agreement.objects.select_related("organization", "team"), org=self.org, pk=self.kwargs["agreement_id"]
        )

    def respond(self, agreement: Agreement, status_code: int = status.HTTP_200_OK) -> Response:
        return Response(AgreementSerializer(agreement).data, status=status_code)


class AgreementList(AgreementMixin, generics.ListAPIView):
    """The organisation's agreements, newest period first; a manager drafts one."""

    serializer_class = AgreementSerializer
    ordering = ("-starts_on", "-id")

    def get_org_queryset(self, org: Organization) -> QuerySet[Agreement]:
        return Agreement.objects.for_org(org)

    @extend_schema(request=AgreementInputSerializer, responses={201: AgreementSerializer})
    def post(self, request: Request) -> Response:
        data = AgreementInputSerializer(data=request.data, context=self.get_serializer_context())
        data.is_valid(raise_exception=True)
        agreement = agreements.agreement_draft(org=self.org, actor=self.actor, data=data.to_input())
        response = self.respond(agreement, status.HTTP_201_CREATED)
        response["Location"] = reverse("api:sla-detail", args=[agreement.pk])
        return response


class AgreementDetail(AgreementMixin, generics.GenericAPIView):
    """One agreement; PATCH replaces a draft's terms (and withdraws its signatures)."""

    serializer_class = AgreementSerializer

    def get(self, request: Request, agreement_id: int) -> Response:
        return self.respond(self.get_agreement())

    @extend_schema(request=AgreementInputSerializer, responses=AgreementSerializer)
    def patch(self, request: Request, agreement_id: int) -> Response:
        agreement = self.get_agreement()
        data = AgreementInputSerializer(data=request.data, context=self.get_serializer_context())
        data.is_valid(raise_exception=True)
        return self.respond(agreements.agreement_update(agreement=agreement, actor=self.actor, data=data.to_input()))


class AgreementSign(AgreementMixin, generics.GenericAPIView):
    """Sign for your side (managers); the second side's signature makes it active."""

    permissions = {"*": "sla.view"}
    serializer_class = SignSerializer

    @extend_schema(request=SignSerializer, responses=AgreementSerializer)
    def post(self, request: Request, agreement_id: int) -> Response:
        agreement = self.get_agreement()
        data = self.get_serializer(data=request.data)
        data.is_valid(raise_exception=True)
        return self.respond(agreements.agreement_sign(agreement=agreement, actor=self.actor, **data.validated_data))


class AgreementWithdraw(AgreementMixin, generics.GenericAPIView):
    """Withdraw a draft."""

    serializer_class = AgreementSerializer

    @extend_schema(request=None, responses=AgreementSerializer)
    def post(self, request: Request, agreement_id: int) -> Response:
        return self.respond(agreements.agreement_withdraw(agreement=self.get_agreement(), actor=self.actor))


class AgreementRenew(AgreementMixin, generics.GenericAPIView):
    """Draft the same terms for the next period ("vow renewal")."""

    serializer_class = AgreementSerializer

    @extend_schema(request=None, responses={201: AgreementSerializer})
    def post(self, request: Request, agreement_id: int) -> Response:
        renewal = agreements.agreement_renew(agreement=self.get_agreement(), actor=self.actor)
        response = self.respond(renewal, status.HTTP_201_CREATED)
        response["Location"] = reverse("api:sla-detail", args=[renewal.pk])
        return response


class AgreementCompliance(AgreementMixin, generics.GenericAPIView):
    """How it is going: each side's figures against the agreement, per rep, and revenue."""

    serializer_class = ComplianceSerializer

    def get(self, request: Request, agreement_id: int) -> Response:
        return Response(ComplianceSerializer(compliance.compliance(self.get_agreement())).data)


class ProjectionSerializer(serializers.Serializer):
    label = serializers.CharField()
    actual = serializers.FloatField()
    projected = serializers.FloatField(help_text="At the pace so far, by the end of the period.")
    target = serializers.FloatField(allow_null=True)
    on_track = serializers.BooleanField(allow_null=True)


class PredictedBreachSerializer(serializers.Serializer):
    handoff = serializers.IntegerField(source="handoff.pk")
    rep = serializers.IntegerField(source="handoff.rep_id")
    due_at = serializers.DateTimeField(source="handoff.due_at")
    expected_at = serializers.DateTimeField(help_text="When the rep is expected to reach the lead.")
    position = serializers.IntegerField(help_text="Place in the rep's queue, soonest due first.")
    rate = serializers.FloatField(help_text="The rep's first touches per business hour lately.")


class ForecastSerializer(serializers.Serializer):
    elapsed = serializers.FloatField()
    projections = ProjectionSerializer(many=True)
    predicted = PredictedBreachSerializer(many=True, help_text="Open handoffs expected to breach.")


class AgreementForecast(AgreementMixin, generics.GenericAPIView):
    """Where the period ends at the current pace, and the handoffs predicted to breach."""

    serializer_class = ForecastSerializer

    def get(self, request: Request, agreement_id: int) -> Response:
        return Response(ForecastSerializer(forecast.forecast(self.get_agreement())).data)
