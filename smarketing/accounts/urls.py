from django.contrib.auth.views import LogoutView
from django.urls import path

from smarketing.accounts import views

app_name = "accounts"

urlpatterns = [
    path("accounts/login/", views.SmarketingLoginView.as_view(), name="login"),
    path("accounts/logout/", LogoutView.as_view(), name="logout"),
    path("accounts/signup/", views.signup, name="signup"),
    path("orgs/new/", views.organization_create, name="organization_create"),
    path("orgs/<slug:organization_slug>/switch/", views.organization_switch, name="organization_switch"),
    path("invitations/<str:token>/", views.invitation_accept, name="invitation_accept"),
    path("settings/organization/", views.organization_settings, name="organization_settings"),
    path("settings/holidays/", views.holiday_add, name="holiday_add"),
    path("settings/holidays/<int:holiday_id>/delete/", views.holiday_delete, name="holiday_delete"),
    path("settings/members/", views.members, name="members"),
    path("settings/members/<int:membership_id>/", views.member_edit, name="member_edit"),
    path("settings/members/<int:membership_id>/remove/", views.member_remove, name="member_remove"),
    path("settings/invitations/<int:invitation_id>/revoke/", views.invitation_revoke, name="invitation_revoke"),
    path("settings/api-keys/", views.api_keys, name="api_keys"),
    path("settings/api-keys/<int:apikey_id>/revoke/", views.api_key_revoke, name="api_key_revoke"),
]
