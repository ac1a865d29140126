from django.contrib import admin

from leads.models import Absence, Handoff, Lead, RoutingRule, Team, TeamMember


@admin.register(Lead)
class LeadAdmin(admin.ModelAdmin):
    list_display = ["email", "first_name", "last_name", "company_name", "lifecycle_stage", "organization", "created_at"]
    list_filter = ["lifecycle_stage", "organization"]
    search_fields = ["email", "first_name", "last_name", "company_name"]
    list_select_related = ["organization"]
    show_full_result_count = False

    # View only. A lead is created by lead_create (its score row and first stage change go in
    # with it), changed by lead_update (the checks, its company, persona and fit score again) and
    # moved by lead_transition (stage history, handoffs); its organisation, company, owner,
    # campaigns and partner are another tenant's rows for all a form here would check. Deleting
    # stays (the ORM's cascade takes its rows with it).
    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


class TeamMemberInline(admin.TabularInline):
    model = TeamMember
    raw_id_fields = ["membership"]
    extra = 0


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["name", "organization", "created_at"]
    list_filter = ["organization"]
    inlines = [TeamMemberInline]


@admin.register(Absence)
class AbsenceAdmin(admin.ModelAdmin):
    list_display = ["membership", "starts_at", "ends_at", "organization"]
    list_filter = ["organization"]
    raw_id_fields = ["membership"]


@admin.register(RoutingRule)
class RoutingRuleAdmin(admin.ModelAdmin):
    list_display = ["name", "position", "active", "team", "rep", "organization"]
    list_filter = ["organization", "active"]
    raw_id_fields = ["team", "rep"]


@admin.register(Handoff)
class HandoffAdmin(admin.ModelAdmin):
    list_display = ["lead", "rep", "status", "created_at", "due_at", "organization"]
    list_filter = ["status", "organization"]
    raw_id_fields = [
        "lead",
        "rep",
        "created_by",
        "routing_rule",
        "reassigned_to",
        "definitions_version",
        "scoring_model",
    ]
    list_select_related = ["lead", "rep__user", "organization"]
    show_full_result_count = False

    # Every field of a handoff is written by leads.handoffs and sla.deadlines (accept, return,
    # reassign, breach), each with the lead's stage change and notifications: view only here.
    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # an MQL would be left without its handoff; its SLA figures without it
