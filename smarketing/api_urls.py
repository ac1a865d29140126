"""Every API endpoint, under /api/v1/. Id kwargs are named ``<model_name>_id``."""

from django.urls import path

from smarketing.accounts import api as accounts_api
from smarketing.notifications import api as notifications_api

app_name = "api"

urlpatterns = [
    path("auth/token", accounts_api.TokenView.as_view(), name="token"),
    path("auth/token/current", accounts_api.TokenRevokeView.as_view(), name="token-current"),
    path("me", accounts_api.MeView.as_view(), name="me"),
    path("organization", accounts_api.OrganizationView.as_view(), name="organization"),
    path("members", accounts_api.MemberList.as_view(), name="member-list"),
    path("members/<int:membership_id>", accounts_api.MemberDetail.as_view(), name="member-detail"),
    path("invitations", accounts_api.InvitationList.as_view(), name="invitation-list"),
    path("invitations/<int:invitation_id>", accounts_api.InvitationDetail.as_view(), name="invitation-detail"),
    path("api-keys", accounts_api.ApiKeyList.as_view(), name="apikey-list"),
    path("api-keys/<int:apikey_id>", accounts_api.ApiKeyDetail.as_view(), name="apikey-detail"),
    path("notifications", notifications_api.NotificationList.as_view(), name="notification-list"),
    path(
        "notifications/<int:notification_id>/read",
        notifications_api.NotificationRead.as_view(),
        name="notification-read",
    ),
]
