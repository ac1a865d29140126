from django.contrib import admin

from smarketing.notifications.models import Notification


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ["title", "kind", "recipient", "organization", "created_at", "read_at", "email_sent_at"]
    list_filter = ["kind"]
    list_select_related = ["recipient__user", "recipient__organization", "organization"]
    raw_id_fields = ["organization", "recipient"]
    search_fields = ["title", "recipient__user__email"]
