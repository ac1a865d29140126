from django.contrib import admin

from personas.models import (
    ContentAsset,
    ContentRequest,
    DefinitionSignoff,
    DefinitionTerm,
    DefinitionVersion,
    Persona,
    PersonaMessage,
)


class PersonaMessageInline(admin.TabularInline):
    model = PersonaMessage
    extra = 0
    exclude = ["organization"]


@admin.register(Persona)
class PersonaAdmin(admin.ModelAdmin):
    list_display = ["name", "organization", "company_size_min", "company_size_max", "archived_at"]
    list_filter = ["organization"]
    search_fields = ["name"]
    inlines = [PersonaMessageInline]

    def has_delete_permission(self, request, obj=None) -> bool:
        # Archived in the app instead, never deleted on its own: leads, campaigns and content
        # keep naming it, and the lead's persona is not a database constraint
        # (leads.models.Lead.company). Deleting its organisation, whose cascade the admin checks
        # against this, still takes it.
        match = getattr(request, "resolver_match", None)
        return match is not None and not (match.url_name or "").startswith("personas_persona_")


class ViewOnly:
    """An admin (or inline) that shows rows a service owns and changes none of them."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class DefinitionTermInline(ViewOnly, admin.TabularInline):
    model = DefinitionTerm
    extra = 0
    exclude = ["organization"]


class DefinitionSignoffInline(ViewOnly, admin.TabularInline):
    model = DefinitionSignoff
    extra = 0
    exclude = ["organization"]
    raw_id_fields = ["membership"]


@admin.register(DefinitionVersion)
class DefinitionVersionAdmin(admin.ModelAdmin):
    """Versions are proposed, signed by one manager of each side and activated by
    personas.services; the wording and thresholds in force are what both sides signed: view only."""

    list_display = ["__str__", "organization", "status", "mql_threshold", "proposed_at", "activated_at"]
    list_filter = ["status"]
    inlines = [DefinitionTermInline, DefinitionSignoffInline]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # stage changes and handoffs cite the version they were made under


@admin.register(ContentAsset)
class ContentAssetAdmin(admin.ModelAdmin):
    list_display = ["title", "asset_type", "buyer_stage", "organization", "created_at"]
    list_filter = ["asset_type", "buyer_stage"]
    search_fields = ["title"]
    filter_horizontal = ["personas"]


@admin.register(ContentRequest)
class ContentRequestAdmin(admin.ModelAdmin):
    list_display = ["__str__", "status", "urgency", "organization", "created_at", "due_at"]
    list_filter = ["status", "urgency"]
    raw_id_fields = ["requested_by", "assignee", "lead", "persona"]
    # Every status change goes through content_request_transition(), which sets these with it.
    readonly_fields = [
        "status",
        "accepted_at",
        "closed_at",
        "decline_reason",
        "delivered_asset",
        "delivered_asset_title",
    ]
