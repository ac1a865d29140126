from django.contrib import admin

from leads.models import Lead


@admin.register(Lead)
class LeadAdmin(admin.ModelAdmin):
    list_display = ["email", "first_name", "last_name", "company_name", "lifecycle_stage", "organization", "created_at"]
    list_filter = ["lifecycle_stage", "organization"]
    search_fields = ["email", "first_name", "last_name", "company_name"]
    list_select_related = ["organization"]
    show_full_result_count = False
