"""REST interface for personas, the agreed definitions, the content library and content requests."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet
from django.http import FileResponse
from django.urls import reverse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view, inline_serializer
from rest_framework import generics, serializers
from rest_framework.exceptions import NotFound
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from leads.models import BuyerStage, Campaign, Channel, Lead
from personas import selectors, services
from personas.glossary import default_terms
from personas.matching import match_persona
from personas.models import (
    ContentAsset,
    ContentRequest,
    DefinitionSignoff,
    DefinitionTerm,
    DefinitionVersion,
    Persona,
    PersonaMessage,
    Seniority,
)
from personas.services import AssetInput, DefinitionsInput, PersonaInput
from smarketing.accounts.models import Organization
from smarketing.api import OrgScopedMixin

# --- Shared fields --------------------------------------------------------------------


class OrgRelatedField(serializers.PrimaryKeyRelatedField):
    """The id of a row of the caller's organisation: another organisation's id is unknown (400).

    ``queryset`` names the model (and any filter, e.g. active personas); the caller's
    organisation is applied when the id is resolved, so a cross-tenant row is never attached.
    """

    def __init__(self, *, noun: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.error_messages["does_not_exist"] = f"No {noun} with id {{pk_value}} in your organisation."

    def get_queryset(self) -> QuerySet:
        return super().get_queryset().for_org(self.context["view"].org)


class InputSerializer(serializers.Serializer):
    """Validates a write; the response is shaped by ``output_class`` from the saved object."""

    output_class: type[serializers.BaseSerializer]

    def to_representation(self, instance):
        return self.output_class(instance, context=self.context).data


class PersonaRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


def _member_email(source: str) -> serializers.EmailField:
    """The email of a membership the row points at, or null once that membership is gone."""
    return serializers.EmailField(source=f"{source}.user.email", read_only=True, allow_null=True)


# --- Personas -------------------------------------------------------------------------


class PersonaMessageSerializer(serializers.Serializer):
    key_message = serializers.CharField(allow_blank=True, default="")
    proof_points = serializers.CharField(allow_blank=True, default="", help_text="One per line.")


class MessagingField(serializers.DictField):
    """``{buyer_stage: {"key_message", "proof_points"}}``, in and out."""

    def __init__(self, **kwargs) -> None:
        super().__init__(child=PersonaMessageSerializer(), **kwargs)

    def get_attribute(self, instance: Persona) -> dict[str, PersonaMessage]:
        return {m.buyer_stage: m for m in instance.messages.all()}


class PersonaSerializer(serializers.ModelSerializer):
    preferred_channels = serializers.ListField(child=serializers.ChoiceField(Channel.choices), required=False)
    industries = serializers.ListField(child=serializers.CharField(max_length=100), required=False)
    title_keywords = serializers.ListField(child=serializers.CharField(max_length=100), required=False)
    seniorities = serializers.ListField(child=serializers.ChoiceField(Seniority.choices), required=False)
    countries = serializers.ListField(
        child=serializers.CharField(), required=False, help_text="Two-letter codes, e.g. GB, DE."
    )
    company_size_min = serializers.IntegerField(min_value=0, allow_null=True, required=False)
    company_size_max = serializers.IntegerField(min_value=1, allow_null=True, required=False)
    messaging = MessagingField(required=False, help_text="Key message and proof points per buyer stage.")
    asset_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = Persona
        fields = [
            "id",
            "name",
            "summary",
            "goals",
            "pain_points",
            "objections",
            "preferred_channels",
            "industries",
            "company_size_min",
            "company_size_max",
            "title_keywords",
            "seniorities",
            "countries",
            "messaging",
            "asset_count",
            "created_at",
            "updated_at",
            "archived_at",
        ]
        read_only_fields = ["id", "created_at", "updated_at", "archived_at"]


def _persona_input(data: dict, persona: Persona | None = None) -> PersonaInput:
    """The full input for a persona service: ``data`` over the persona's current values (if any)."""
    fields = [name for name in PersonaInput.__dataclass_fields__ if name != "messaging"]
    current = {name: getattr(persona, name) for name in fields} if persona else {}
    messaging = {m.buyer_stage: (m.key_message, m.proof_points) for m in persona.messages.all()} if persona else {}
    for stage, message in data.get("messaging", {}).items():
        key_message, proof_points = messaging.get(stage, ("", ""))
        messaging[stage] = (message.get("key_message", key_message), message.get("proof_points", proof_points))
    values = {**current, **{name: data[name] for name in fields if name in data}}
    return PersonaInput(**values, messaging=messaging)


class PersonaQuerysetMixin(OrgScopedMixin):
    queryset = Persona.objects.all()

    def persona_queryset(self, org: Organization, *, include_archived: bool) -> QuerySet[Persona]:
        messages = PersonaMessage.objects.order_by("buyer_stage")
        return selectors.persona_list(org=org, include_archived=include_archived).prefetch_related(
            Prefetch("messages", queryset=messages)
        )

    def reread(self, persona: Persona) -> Persona:
        """The saved persona as a GET shows it (asset count, messaging)."""
        return self.persona_queryset(self.org, include_archived=True).get(pk=persona.pk)


@extend_schema_view(
    get=extend_schema(parameters=[OpenApiParameter("archived", bool, description="true: include archived personas.")])
)
class PersonaList(PersonaQuerysetMixin, generics.ListCreateAPIView):
    """The organisation's personas; a marketing editor creates one."""

    permissions = {"GET": "personas.view", "*": "personas.edit"}
    serializer_class = PersonaSerializer
    ordering = "id"

    def get_org_queryset(self, org: Organization) -> QuerySet[Persona]:
        archived = self.request.query_params.get("archived", "").lower() in ("1", "true")
        return self.persona_queryset(org, include_archived=archived)

    def perform_create(self, serializer: PersonaSerializer) -> None:
        persona = services.persona_create(
            org=self.org, data=_persona_input(serializer.validated_data), actor=self.actor
        )
        serializer.instance = self.reread(persona)


class PersonaDetail(PersonaQuerysetMixin, generics.RetrieveUpdateDestroyAPIView):
    """Read a persona (archived ones too); PATCH changes what is sent; DELETE archives it."""

    permissions = {"GET": "personas.view", "*": "personas.edit"}
    serializer_class = PersonaSerializer
    lookup_url_kwarg = "persona_id"
    http_method_names = ["get", "patch", "delete", "head", "options"]

    def get_org_queryset(self, org: Organization) -> QuerySet[Persona]:
        return self.persona_queryset(org, include_archived=True)

    def perform_update(self, serializer: PersonaSerializer) -> None:
        persona = serializer.instance
        persona = services.persona_update(persona=persona, data=_persona_input(serializer.validated_data, persona))
        serializer.instance = self.reread(persona)

    def perform_destroy(self, instance: Persona) -> None:
        services.persona_archive(persona=instance)


class PersonaMatchSerializer(serializers.Serializer):
    title = serializers.CharField(required=False, allow_blank=True)
    # A string checked below, not a second ChoiceField over Seniority: two enum fields with
    # different names over one choice set need an ENUM_NAME_OVERRIDES entry in the schema settings.
    seniority = serializers.CharField(
        required=False, allow_blank=True, help_text=f"One of: {', '.join(Seniority.values)}."
    )
    industry = serializers.CharField(required=False, allow_blank=True)
    company_size = serializers.IntegerField(min_value=1, required=False, allow_null=True)
    country = serializers.CharField(max_length=2, required=False, allow_blank=True, help_text="Two-letter code.")

    def validate_seniority(self, value: str) -> str:
        if value and value not in Seniority.values:
            raise serializers.ValidationError(f"Unknown seniority “{value}”.")
        return value


class PersonaMatchResultSerializer(serializers.Serializer):
    persona = PersonaRefSerializer(allow_null=True)
    fit_points = serializers.IntegerField()
    reasons = serializers.ListField(child=serializers.CharField())


class PersonaMatch(OrgScopedMixin, APIView):
    """Which persona a lead with these attributes would be, its fit points, and why."""

    permission = "personas.view"

    @extend_schema(request=PersonaMatchSerializer, responses=PersonaMatchResultSerializer)
    def post(self, request: Request) -> Response:
        attributes = PersonaMatchSerializer(data=request.data)
        attributes.is_valid(raise_exception=True)
        persona, points, reasons = match_persona(attributes.validated_data, org=self.org)
        return Response(
            PersonaMatchResultSerializer({"persona": persona, "fit_points": points, "reasons": reasons}).data
        )


# --- Definitions ----------------------------------------------------------------------


class DefinitionTermSerializer(serializers.ModelSerializer):
    class Meta:
        model = DefinitionTerm
        fields = ["key", "label", "wording"]


class DefinitionSignoffSerializer(serializers.ModelSerializer):
    email = _member_email("membership")

    class Meta:
        model = DefinitionSignoff
        fields = ["membership", "email", "side", "signed_at"]


class DefinitionVersionSerializer(serializers.ModelSerializer):
    proposed_by = _member_email("proposed_by")
    signoffs = DefinitionSignoffSerializer(many=True, read_only=True)
    terms = DefinitionTermSerializer(many=True, read_only=True)

    class Meta:
        model = DefinitionVersion
        fields = [
            "id",
            "number",
            "status",
            "summary",
            "mql_threshold",
            "mql_min_fit",
            "sql_criteria",
            "proposed_by",
            "proposed_at",
            "activated_at",
            "superseded_at",
            "signoffs",
            "terms",
        ]
        read_only_fields = fields


class TermInputSerializer(serializers.Serializer):
    key = serializers.SlugField(max_length=60)
    label = serializers.CharField(max_length=100)
    wording = serializers.CharField(allow_blank=True)


class DefinitionsProposeSerializer(InputSerializer):
    """What a proposal may set; what it leaves out starts from the active version."""

    output_class = DefinitionVersionSerializer

    terms = TermInputSerializer(
        many=True,
        required=False,
        help_text="Every term, in order. Omitted: the active version's terms (or the default glossary).",
    )
    mql_threshold = serializers.IntegerField(min_value=0, required=False, help_text="Omitted: the active version's.")
    mql_min_fit = serializers.IntegerField(
        min_value=0, required=False, help_text="Omitted: the active version's, or 0."
    )
    sql_criteria = serializers.CharField(allow_blank=True, required=False, help_text="Omitted: the active version's.")
    summary = serializers.CharField(max_length=300, allow_blank=True, default="", help_text="What changes.")

    def validate(self, attrs: dict) -> dict:
        active = selectors.definitions_active(org=self.context["view"].org)
        if active is None:
            start = {"terms": default_terms(), "mql_min_fit": 0}
        else:
            start = {
                "terms": [{"key": t.key, "label": t.label, "wording": t.wording} for t in active.terms.all()],
                "mql_threshold": active.mql_threshold,
                "mql_min_fit": active.mql_min_fit,
                "sql_criteria": active.sql_criteria,
            }
        attrs = {**start, **attrs}
        missing = [name for name in ("mql_threshold", "sql_criteria") if name not in attrs]
        if missing:
            message = "No version is active to start from, so the first proposal sets this."
            raise serializers.ValidationError({name: [message] for name in missing})
        return attrs


def _version_queryset(org: Organization) -> QuerySet[DefinitionVersion]:
    return selectors.definition_versions(org=org).prefetch_related("terms")


class DefinitionVersionMixin(OrgScopedMixin):
    queryset = DefinitionVersion.objects.all()
    serializer_class = DefinitionVersionSerializer
    lookup_url_kwarg = "definitionversion_id"

    def get_org_queryset(self, org: Organization) -> QuerySet[DefinitionVersion]:
        return _version_queryset(org)


@extend_schema_view(
    post=extend_schema(request=DefinitionsProposeSerializer, responses={201: DefinitionVersionSerializer})
)
class DefinitionList(DefinitionVersionMixin, generics.ListCreateAPIView):
    """Every version of the definitions, newest first; a manager proposes the next one."""

    permissions = {"GET": "definitions.view", "POST": "definitions.propose"}
    ordering = "-number"

    def get_serializer_class(self):
        return DefinitionsProposeSerializer if self.request.method == "POST" else DefinitionVersionSerializer

    def perform_create(self, serializer: DefinitionsProposeSerializer) -> None:
        version = services.definitions_propose(proposer=self.actor, data=DefinitionsInput(**serializer.validated_data))
        serializer.instance = self.get_queryset().get(pk=version.pk)


class DefinitionActive(OrgScopedMixin, APIView):
    """The version in force now: the wording both teams signed."""

    permission = "definitions.view"

    @extend_schema(responses=DefinitionVersionSerializer)
    def get(self, request: Request) -> Response:
        version = _version_queryset(self.org).filter(status=DefinitionVersion.Status.ACTIVE).first()
        if version is None:
            raise NotFound(
                "No definitions are active yet: a manager proposes a version, and it becomes active once a "
                "marketing-side and a sales-side manager have both signed it."
            )
        return Response(DefinitionVersionSerializer(version).data)


class DefinitionDetail(DefinitionVersionMixin, generics.RetrieveAPIView):
    permission = "definitions.view"


class DefinitionAction(DefinitionVersionMixin, generics.GenericAPIView):
    """POST acts on one version; the response is the version afterwards."""

    def act(self, version: DefinitionVersion) -> DefinitionVersion:
        raise NotImplementedError

    @extend_schema(request=None, responses=DefinitionVersionSerializer)
    def post(self, request: Request, definitionversion_id: int) -> Response:
        version = self.act(self.get_object())
        return Response(self.get_serializer(self.get_queryset().get(pk=version.pk)).data)


class DefinitionSign(DefinitionAction):
    """Sign a proposed version for your side; the second side's signature activates it."""

    permission = "definitions.sign"

    def act(self, version: DefinitionVersion) -> DefinitionVersion:
        return services.definitions_sign(version=version, signer=self.actor)


class DefinitionWithdraw(DefinitionAction):
    """Withdraw a version that is still awaiting sign-off."""

    permission = "definitions.propose"

    def act(self, version: DefinitionVersion) -> DefinitionVersion:
        return services.definitions_withdraw(version=version)


class DefinitionDiffQuerySerializer(serializers.Serializer):
    against = OrgRelatedField(
        noun="definitions version",
        queryset=DefinitionVersion.objects.all(),
        required=False,
        help_text="The version to compare with; default: the one numbered just before.",
    )


class DefinitionVersionRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    number = serializers.IntegerField()


class DefinitionDiffSerializer(serializers.Serializer):
    version = DefinitionVersionRefSerializer()
    against = DefinitionVersionRefSerializer()
    terms = inline_serializer(
        "DefinitionTermChange",
        {
            "key": serializers.CharField(),
            "label": serializers.CharField(),
            "change": serializers.ChoiceField(["added", "removed", "changed", "same"]),
            "old": serializers.CharField(),
            "new": serializers.CharField(),
        },
        many=True,
    )
    changed_count = serializers.IntegerField()
    settings = inline_serializer(
        "DefinitionSettingChange",
        {"name": serializers.CharField(), "old": serializers.JSONField(), "new": serializers.JSONField()},
        many=True,
    )


class DefinitionDiff(DefinitionVersionMixin, generics.GenericAPIView):
    """What a version changes from another: each term (added, removed, changed, same) and the thresholds."""

    permission = "definitions.view"

    @extend_schema(parameters=[DefinitionDiffQuerySerializer], responses=DefinitionDiffSerializer)
    def get(self, request: Request, definitionversion_id: int) -> Response:
        version = self.get_object()
        query = DefinitionDiffQuerySerializer(data=request.query_params, context=self.get_serializer_context())
        query.is_valid(raise_exception=True)
        against = query.validated_data.get("against")
        if against is None:
            against = self.get_queryset().filter(number__lt=version.number).order_by("-number").first()
            if against is None:
                raise serializers.ValidationError(
                    {"against": [f"Version {version.number} is the first; say which version to compare it with."]}
                )
        else:
            against = self.get_queryset().get(pk=against.pk)  # with its terms
        diff = selectors.definitions_diff(against, version)
        body = {
            "version": version,
            "against": against,
            "terms": diff["terms"],
            "changed_count": diff["changed_count"],
            "settings": [{"name": name, "old": old, "new": new} for name, old, new in diff["settings"]],
        }
        return Response(DefinitionDiffSerializer(body).data)


# --- Content library ------------------------------------------------------------------


class CampaignRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class ContentAssetSerializer(serializers.ModelSerializer):
    personas = PersonaRefSerializer(many=True, read_only=True)
    campaign = CampaignRefSerializer(read_only=True, allow_null=True)
    owner = _member_email("owner")
    file_url = serializers.SerializerMethodField(help_text="Download link of the uploaded file, if any.")

    class Meta:
        model = ContentAsset
        fields = [
            "id",
            "title",
            "asset_type",
            "buyer_stage",
            "description",
            "url",
            "file_name",
            "file_url",
            "personas",
            "campaign",
            "owner",
            "created_at",
        ]
        read_only_fields = fields

    def get_file_url(self, asset: ContentAsset) -> str | None:
        if not asset.file:
            return None
        path = reverse("api:content-file", args=[asset.pk])
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request else path


class ContentFile(OrgScopedMixin, generics.GenericAPIView):
    """Download an asset's uploaded file with a token or API key (pages use the session route)."""

    permission = "content.view"
    queryset = ContentAsset.objects.all()
    lookup_url_kwarg = "contentasset_id"

    @extend_schema(responses={(200, "application/octet-stream"): OpenApiTypes.BINARY})
    def get(self, request: Request, contentasset_id: int) -> FileResponse:
        asset = self.get_object()
        if not asset.file:
            raise NotFound("This asset has no uploaded file; it is a link.")
        return FileResponse(asset.file.open("rb"), filename=asset.file_name or None)


class ContentAssetInputSerializer(InputSerializer):
    """JSON with a ``url``, or multipart with a ``file`` (and optionally a ``url`` too)."""

    output_class = ContentAssetSerializer

    title = serializers.CharField(max_length=200)
    asset_type = serializers.ChoiceField(ContentAsset.Type.choices)
    buyer_stage = serializers.ChoiceField(BuyerStage.choices)
    description = serializers.CharField(allow_blank=True, required=False)
    url = serializers.URLField(max_length=500, allow_blank=True, required=False)
    file = serializers.FileField(required=False, help_text="Multipart only; checked for size and type.")
    personas = OrgRelatedField(
        noun="active persona", queryset=Persona.objects.filter(archived_at=None), many=True, required=False
    )
    campaign = OrgRelatedField(noun="campaign", queryset=Campaign.objects.all(), allow_null=True, required=False)


def _asset_input(data: dict, asset: ContentAsset | None = None) -> AssetInput:
    """The full input for ``asset_save``: ``data`` over the asset's current values (if any)."""
    current = {}
    if asset is not None:
        current = {
            "title": asset.title,
            "asset_type": asset.asset_type,
            "buyer_stage": asset.buyer_stage,
            "url": asset.url,
            "description": asset.description,
            "personas": list(asset.personas.all()),
            "campaign": asset.campaign,
        }
    return AssetInput(**{**current, **data})


class ContentFilterSerializer(serializers.Serializer):
    persona = OrgRelatedField(noun="persona", queryset=Persona.objects.all(), required=False)
    buyer_stage = serializers.ChoiceField(BuyerStage.choices, required=False)
    asset_type = serializers.ChoiceField(ContentAsset.Type.choices, required=False)
    search = serializers.CharField(required=False, allow_blank=True, help_text="In the title or description.")


class ContentQuerysetMixin(OrgScopedMixin):
    queryset = ContentAsset.objects.all()
    parser_classes = [JSONParser, MultiPartParser, FormParser]

    def get_serializer_class(self):
        return ContentAssetSerializer if self.request.method in ("GET", "HEAD") else ContentAssetInputSerializer

    def reread(self, asset: ContentAsset) -> ContentAsset:
        return selectors.content_list(org=self.org).get(pk=asset.pk)


@extend_schema_view(
    get=extend_schema(parameters=[ContentFilterSerializer]),
    post=extend_schema(request=ContentAssetInputSerializer, responses={201: ContentAssetSerializer}),
)
class ContentList(ContentQuerysetMixin, generics.ListCreateAPIView):
    """The content library, filtered by persona, buyer stage, type or words; an editor adds to it."""

    permissions = {"GET": "content.view", "*": "content.edit"}
    ordering = "-id"

    def get_org_queryset(self, org: Organization) -> QuerySet[ContentAsset]:
        filters = ContentFilterSerializer(data=self.request.query_params, context=self.get_serializer_context())
        filters.is_valid(raise_exception=True)
        return selectors.content_list(org=org, **filters.validated_data)

    def perform_create(self, serializer: ContentAssetInputSerializer) -> None:
        asset = services.asset_save(org=self.org, data=_asset_input(serializer.validated_data), owner=self.actor)
        serializer.instance = self.reread(asset)


@extend_schema_view(patch=extend_schema(request=ContentAssetInputSerializer, responses=ContentAssetSerializer))
class ContentDetail(ContentQuerysetMixin, generics.RetrieveUpdateDestroyAPIView):
    """Read an asset; PATCH changes what is sent; DELETE removes it (requests it fulfilled keep its title)."""

    permissions = {"GET": "content.view", "*": "content.edit"}
    lookup_url_kwarg = "contentasset_id"
    http_method_names = ["get", "patch", "delete", "head", "options"]

    def get_org_queryset(self, org: Organization) -> QuerySet[ContentAsset]:
        return selectors.content_list(org=org)

    def perform_update(self, serializer: ContentAssetInputSerializer) -> None:
        asset = serializer.instance
        asset = services.asset_save(org=self.org, data=_asset_input(serializer.validated_data, asset), asset=asset)
        serializer.instance = self.reread(asset)

    def perform_destroy(self, instance: ContentAsset) -> None:
        services.asset_delete(asset=instance)


# --- Content requests -----------------------------------------------------------------


class AssetRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField()


class ContentRequestSerializer(serializers.ModelSerializer):
    persona = PersonaRefSerializer(read_only=True, allow_null=True)
    lead = serializers.IntegerField(source="lead_id", read_only=True, allow_null=True)
    requested_by = _member_email("requested_by")
    assignee = _member_email("assignee")
    delivered_asset = AssetRefSerializer(read_only=True, allow_null=True)
    overdue = serializers.SerializerMethodField(help_text="Still open after its due time.")

    class Meta:
        model = ContentRequest
        fields = [
            "id",
            "question",
            "persona",
            "buyer_stage",
            "lead",
            "urgency",
            "status",
            "requested_by",
            "assignee",
            "decline_reason",
            "delivered_asset",
            "delivered_asset_title",
            "created_at",
            "due_at",
            "overdue",
            "accepted_at",
            "closed_at",
        ]
        read_only_fields = fields

    def get_overdue(self, content_request: ContentRequest) -> bool:
        return content_request.is_overdue(timezone.now())


class ContentRequestInputSerializer(InputSerializer):
    output_class = ContentRequestSerializer

    question = serializers.CharField()
    buyer_stage = serializers.ChoiceField(BuyerStage.choices)
    persona = OrgRelatedField(
        noun="active persona", queryset=Persona.objects.filter(archived_at=None), allow_null=True, required=False
    )
    lead = OrgRelatedField(noun="lead", queryset=Lead.objects.all(), allow_null=True, required=False)
    urgency = serializers.ChoiceField(ContentRequest.Urgency.choices, default=ContentRequest.Urgency.NORMAL)


class ContentRequestFilterSerializer(serializers.Serializer):
    status = serializers.ChoiceField(ContentRequest.Status.choices, required=False)
    mine = serializers.BooleanField(required=False, default=False, help_text="true: only the ones you asked for.")


class ContentRequestMixin(OrgScopedMixin):
    queryset = ContentRequest.objects.all()
    serializer_class = ContentRequestSerializer
    lookup_url_kwarg = "contentrequest_id"

    def get_org_queryset(self, org: Organization) -> QuerySet[ContentRequest]:
        return selectors.content_request_list(org=org)

    def reread(self, content_request: ContentRequest) -> ContentRequest:
        return selectors.content_request_list(org=self.org).get(pk=content_request.pk)


@extend_schema_view(
    get=extend_schema(parameters=[ContentRequestFilterSerializer]),
    post=extend_schema(request=ContentRequestInputSerializer, responses={201: ContentRequestSerializer}),
)
class ContentRequestList(ContentRequestMixin, generics.ListCreateAPIView):
    """Content requests, newest first; sales files one for a question prospects keep asking."""

    permissions = {"GET": "content_requests.view", "POST": "content_requests.create"}
    ordering = "-id"

    def get_serializer_class(self):
        return ContentRequestInputSerializer if self.request.method == "POST" else ContentRequestSerializer

    def get_org_queryset(self, org: Organization) -> QuerySet[ContentRequest]:
        filters = ContentRequestFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        mine = filters.validated_data["mine"]
        return selectors.content_request_list(
            org=org, status=filters.validated_data.get("status", ""), requester=self.actor if mine else None
        )

    def perform_create(self, serializer: ContentRequestInputSerializer) -> None:
        content_request = services.content_request_create(requester=self.actor, **serializer.validated_data)
        serializer.instance = self.reread(content_request)


class ContentRequestDetail(ContentRequestMixin, generics.RetrieveAPIView):
    permission = "content_requests.view"


class ContentRequestStats(OrgScopedMixin, APIView):
    """Open requests: how many, by status, how many overdue, and their ages in days."""

    permission = "content_requests.view"

    @extend_schema(
        responses=inline_serializer(
            "ContentRequestStats",
            {
                "open": serializers.IntegerField(),
                "by_status": serializers.DictField(child=serializers.IntegerField()),
                "overdue": serializers.IntegerField(),
                "oldest_age_days": serializers.FloatField(allow_null=True),
                "median_age_days": serializers.FloatField(allow_null=True),
            },
        )
    )
    def get(self, request: Request) -> Response:
        return Response(selectors.content_request_open_stats(org=self.org, now=timezone.now()))


class ContentRequestDeliverSerializer(serializers.Serializer):
    asset = OrgRelatedField(noun="content asset", queryset=ContentAsset.objects.all())


class ContentRequestDeclineSerializer(serializers.Serializer):
    reason = serializers.CharField(allow_blank=True, default="", help_text="Why; the requester reads it.")


class ContentRequestTransition(ContentRequestMixin, generics.GenericAPIView):
    """Move a request to ``to``; the response is the request afterwards."""

    permission = "content_requests.triage"
    to: str
    input_class: type[serializers.Serializer] | None = None

    @extend_schema(request=None, responses=ContentRequestSerializer)
    def post(self, request: Request, contentrequest_id: int) -> Response:
        content_request = self.get_object()  # another organisation's id is a 404 before any input error
        data = {}
        if self.input_class is not None:
            body = self.input_class(data=request.data, context=self.get_serializer_context())
            body.is_valid(raise_exception=True)
            data = body.validated_data
        content_request = services.content_request_transition(
            request=content_request, to=self.to, actor=self.actor, **data
        )
        return Response(self.get_serializer(self.reread(content_request)).data)


class ContentRequestAccept(ContentRequestTransition):
    """Marketing takes the request on (and becomes its assignee)."""

    to = ContentRequest.Status.ACCEPTED


class ContentRequestStart(ContentRequestTransition):
    """Work on the content has started."""

    to = ContentRequest.Status.IN_PROGRESS


@extend_schema_view(post=extend_schema(request=ContentRequestDeliverSerializer))
class ContentRequestDeliver(ContentRequestTransition):
    """Link the asset that answers the request; the requester is notified."""

    to = ContentRequest.Status.DELIVERED
    input_class = ContentRequestDeliverSerializer


@extend_schema_view(post=extend_schema(request=ContentRequestDeclineSerializer))
class ContentRequestDecline(ContentRequestTransition):
    """Decline the request with a reason; the requester is notified."""

    to = ContentRequest.Status.DECLINED
    input_class = ContentRequestDeclineSerializer
