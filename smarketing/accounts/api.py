"""REST interface for tokens, the organisation, members, invitations and API keys."""

from __future__ import annotations

from django.utils import timezone
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import generics, serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from smarketing.accounts import selectors, services
from smarketing.accounts.authentication import api_actor
from smarketing.accounts.models import AccessToken, ApiKey, Invitation, Membership, Organization
from smarketing.accounts.policy import allowed_actions
from smarketing.api import OrgScopedMixin

# --- Serializers ----------------------------------------------------------------------


class TokenRequestSerializer(serializers.Serializer):
    email = serializers.EmailField()
    password = serializers.CharField(trim_whitespace=False)
    organization = serializers.SlugField(required=False, allow_blank=True, help_text="Needed when in several.")


class OrganizationSerializer(serializers.ModelSerializer):
    class Meta:
        model = Organization
        fields = ["id", "name", "slug", "time_zone", "currency", "pipeline_stages", "created_at"]


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField(help_text="Shown once. Send as “Authorization: Bearer <token>”.")
    expires_at = serializers.DateTimeField()
    organization = OrganizationSerializer()
    role = serializers.CharField()


class MembershipSerializer(serializers.ModelSerializer):
    email = serializers.EmailField(source="user.email", read_only=True)
    full_name = serializers.CharField(source="user.full_name", read_only=True)

    class Meta:
        model = Membership
        fields = ["id", "email", "full_name", "role", "side", "created_at"]
        read_only_fields = ["id", "email", "full_name", "created_at"]


class InvitationSerializer(serializers.ModelSerializer):
    class Meta:
        model = Invitation
        fields = ["id", "email", "role", "side", "status", "created_at", "expires_at", "email_sent_at"]
        read_only_fields = ["id", "status", "created_at", "expires_at", "email_sent_at"]
        extra_kwargs = {"side": {"required": False}}


class ApiKeySerializer(serializers.ModelSerializer):
    class Meta:
        model = ApiKey
        fields = ["id", "name", "prefix", "created_at", "last_used_at", "revoked_at"]
        read_only_fields = ["id", "prefix", "created_at", "last_used_at", "revoked_at"]


class ApiKeyCreatedSerializer(ApiKeySerializer):
    key = serializers.CharField(read_only=True, help_text="Shown once; store it now.")

    class Meta(ApiKeySerializer.Meta):
        fields = [*ApiKeySerializer.Meta.fields, "key"]


# --- Views ----------------------------------------------------------------------------


class TokenView(APIView):
    """Exchange email and password for a token acting in one organisation; DELETE revokes it."""

    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "auth"

    @extend_schema(request=TokenRequestSerializer, responses={201: TokenSerializer})
    def post(self, request: Request) -> Response:
        data = TokenRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        token, raw = services.access_token_create(
            email=data.validated_data["email"],
            password=data.validated_data["password"],
            organization_slug=data.validated_data.get("organization", ""),
        )
        body = {
            "token": raw,
            "expires_at": token.expires_at,
            "organization": token.membership.organization,
            "role": token.membership.role,
        }
        return Response(TokenSerializer(body).data, status=status.HTTP_201_CREATED)


class TokenRevokeView(APIView):
    """Revoke the token this request is made with (log out an API client)."""

    @extend_schema(request=None, responses={204: None})
    def delete(self, request: Request) -> Response:
        if isinstance(request.auth, AccessToken):
            services.access_token_revoke(token=request.auth)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeView(APIView):
    """Who the credential acts as: user (if a person), organisation, role and allowed actions."""

    @extend_schema(
        responses=inline_serializer(
            "Me",
            {
                "email": serializers.EmailField(allow_null=True),
                "role": serializers.CharField(allow_null=True),
                "side": serializers.CharField(allow_null=True),
                "organization": OrganizationSerializer(),
                "actions": serializers.ListField(child=serializers.CharField()),
            },
        )
    )
    def get(self, request: Request) -> Response:
        actor = api_actor(request)
        person = isinstance(actor, Membership)
        return Response(
            {
                "email": actor.user.email if person else None,
                "role": actor.role if person else None,
                "side": actor.side if person else None,
                "organization": OrganizationSerializer(actor.organization).data,
                "actions": sorted(allowed_actions(actor)),
            }
        )


class OrganizationView(OrgScopedMixin, APIView):
    permission = "organization.view"

    @extend_schema(responses=OrganizationSerializer)
    def get(self, request: Request) -> Response:
        return Response(OrganizationSerializer(self.org).data)


class MemberList(OrgScopedMixin, generics.ListAPIView):
    permission = "members.view"
    serializer_class = MembershipSerializer
    queryset = Membership.objects.all()
    ordering = "id"

    def get_org_queryset(self, org: Organization):
        return selectors.membership_list(org=org)


class MemberDetail(OrgScopedMixin, generics.RetrieveUpdateDestroyAPIView):
    """Read a member; an admin changes their role (PATCH) or removes them (DELETE)."""

    permissions = {"GET": "members.view", "*": "members.manage"}
    serializer_class = MembershipSerializer
    queryset = Membership.objects.select_related("user").filter(removed_at=None)
    lookup_url_kwarg = "membership_id"
    http_method_names = ["get", "patch", "delete", "head", "options"]

    def perform_update(self, serializer: MembershipSerializer) -> None:
        member = serializer.instance
        serializer.instance = services.membership_update(
            membership=member,
            role=serializer.validated_data.get("role", member.role),
            side=serializer.validated_data.get("side", member.side),
        )

    def perform_destroy(self, instance: Membership) -> None:
        services.membership_remove(membership=instance)


class InvitationList(OrgScopedMixin, generics.ListCreateAPIView):
    permission = "members.manage"
    serializer_class = InvitationSerializer
    queryset = Invitation.objects.all()
    ordering = "-id"

    def get_org_queryset(self, org: Organization):
        return selectors.invitation_pending_list(org=org, now=timezone.now())

    def perform_create(self, serializer: InvitationSerializer) -> None:
        serializer.instance = services.invitation_create(invited_by=self.actor, **serializer.validated_data)


class InvitationDetail(OrgScopedMixin, generics.RetrieveDestroyAPIView):
    """Read an invitation; DELETE revokes it (the row stays, as history)."""

    permission = "members.manage"
    serializer_class = InvitationSerializer
    queryset = Invitation.objects.all()
    lookup_url_kwarg = "invitation_id"

    def perform_destroy(self, instance: Invitation) -> None:
        services.invitation_revoke(invitation=instance)


class ApiKeyList(OrgScopedMixin, generics.ListCreateAPIView):
    permission = "api_keys.manage"
    queryset = ApiKey.objects.all()
    ordering = "-id"

    def get_serializer_class(self):
        return ApiKeyCreatedSerializer if self.request.method == "POST" else ApiKeySerializer

    def get_org_queryset(self, org: Organization):
        return selectors.api_key_list(org=org)

    def perform_create(self, serializer: ApiKeySerializer) -> None:
        api_key, raw = services.api_key_create(
            organization=self.org, name=serializer.validated_data["name"], created_by=self.actor
        )
        api_key.key = raw
        serializer.instance = api_key


class ApiKeyDetail(OrgScopedMixin, generics.RetrieveDestroyAPIView):
    """Read an API key's metadata; DELETE revokes it (clients using it get 401 from then on)."""

    permission = "api_keys.manage"
    serializer_class = ApiKeySerializer
    queryset = ApiKey.objects.all()
    lookup_url_kwarg = "apikey_id"

    def perform_destroy(self, instance: ApiKey) -> None:
        services.api_key_revoke(api_key=instance)
