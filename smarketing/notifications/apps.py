from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "smarketing.notifications"
    label = "notifications"
    verbose_name = "Notifications"
