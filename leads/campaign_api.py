"""REST interface for campaigns: list, create, read and change; never delete."""

from __future__ import annotations

from dataclasses import replace

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import generics, serializers
from rest_framework.exceptions import MethodNotAllowed
from rest_framework.request import Request

from leads import campaigns
from leads.campaigns import CampaignInput
from leads.models import Campaign, Channel
from personas.api import InputSerializer, OrgRelatedField, PersonaRefSerializer
from personas.models import Persona
from smarketing.accounts.models import Membership, Organization
from smarketing.api import OrgScopedMixin


class CampaignOwnerSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    email = serializers.EmailField(source="user.email")


class CampaignSerializer(serializers.ModelSerializer):
    target_persona = PersonaRefSerializer(read_only=True, allow_null=True)
    owner = CampaignOwnerSerializer(read_only=True, allow_null=True)
    lead_count = serializers.IntegerField(read_only=True, help_text="Leads it brought in first (first touch).")
    cost_per_lead = serializers.DecimalField(
        max_digits=12,
        decimal_places=2,
        read_only=True,
        allow_null=True,
        help_text="Actual cost ÷ lead count; null without a cost or leads.",
    )

    class Meta:
        model = Campaign
        fields = [
            "id",
            "name",
            "channel",
            "starts_on",
            "ends_on",
            "budget",
            "actual_cost",
            "utm_source",
            "utm_medium",
            "utm_campaign",
            "target_persona",
            "owner",
            "lead_count",
            "cost_per_lead",
            "created_at",
        ]
        read_only_fields = fields


class CampaignInputSerializer(InputSerializer):
    """What a campaign may set; a PATCH sends only what changes."""

    output_class = CampaignSerializer

    name = serializers.CharField(max_length=200)
    channel = serializers.ChoiceField(Channel.choices)
    starts_on = serializers.DateField(allow_null=True, required=False)
    ends_on = serializers.DateField(allow_null=True, required=False)
    budget = serializers.DecimalField(max_digits=12, decimal_places=2, allow_null=True, required=False)
    actual_cost = serializers.DecimalField(max_digits=12, decimal_places=2, allow_null=True, required=False)
    utm_source = serializers.CharField(allow_blank=True, required=False)
    utm_medium = serializers.CharField(allow_blank=True, required=False)
    utm_campaign = serializers.CharField(
        allow_blank=True, required=False, help_text="No two campaigns may share source, medium and campaign."
    )
    target_persona = OrgRelatedField(noun="persona", queryset=Persona.objects.all(), allow_null=True, required=False)
    owner = OrgRelatedField(noun="member", queryset=Membership.objects.all(), allow_null=True, required=False)


class CampaignFilterSerializer(serializers.Serializer):
    channel = serializers.ChoiceField(Channel.choices, required=False)
    search = serializers.CharField(required=False, allow_blank=True, help_text="In the name.")


class CampaignMixin(OrgScopedMixin):
    queryset = Campaign.objects.all()
    lookup_url_kwarg = "campaign_id"
    permissions = {"GET": "campaigns.view", "*": "campaigns.edit"}

    def get_serializer_class(self):
        return CampaignSerializer if self.request.method in ("GET", "HEAD") else CampaignInputSerializer

    def get_org_queryset(self, org: Organization) -> QuerySet[Campaign]:
        return campaigns.campaign_list(org=org)

    def reread(self, campaign: Campaign) -> Campaign:
        """The saved campaign as a GET shows it (lead count, cost per lead)."""
        return campaigns.campaign_detail(org=self.org, campaign_id=campaign.pk)


@extend_schema_view(
    get=extend_schema(parameters=[CampaignFilterSerializer]),
    post=extend_schema(request=CampaignInputSerializer, responses={201: CampaignSerializer}),
)
class CampaignList(CampaignMixin, generics.ListCreateAPIView):
    """The organisation's campaigns, newest first; a marketing editor creates one."""

    ordering = "-id"

    def get_org_queryset(self, org: Organization) -> QuerySet[Campaign]:
        filters = CampaignFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        return campaigns.campaign_list(org=org, **filters.validated_data)

    def perform_create(self, serializer: CampaignInputSerializer) -> None:
        data = CampaignInput(**serializer.validated_data)
        serializer.instance = self.reread(campaigns.campaign_create(org=self.org, data=data, actor=self.actor))


@extend_schema_view(patch=extend_schema(request=CampaignInputSerializer, responses=CampaignSerializer))
class CampaignDetail(CampaignMixin, generics.RetrieveUpdateAPIView):
    """Read a campaign; PATCH changes what is sent. No DELETE: leads and outcomes are attributed to it."""

    http_method_names = ["get", "patch", "head", "options"]

    def perform_update(self, serializer: CampaignInputSerializer) -> None:
        campaign = serializer.instance
        data = replace(CampaignInput.from_campaign(campaign), **serializer.validated_data)
        serializer.instance = self.reread(campaigns.campaign_update(campaign=campaign, data=data))

    def http_method_not_allowed(self, request: Request, *args, **kwargs):
        if request.method == "DELETE":
            raise MethodNotAllowed(
                "DELETE", detail="Campaigns are not deleted: the leads and outcomes attributed to them would be lost."
            )
        return super().http_method_not_allowed(request, *args, **kwargs)
