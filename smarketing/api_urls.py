"""Every API endpoint, under /api/v1/. Id kwargs are named ``<model_name>_id``."""

from django.urls import path

from leads import api as leads_api
from leads import campaign_api, deal_api, handoff_api, lead_api
from personas import api as personas_api
from sla import api as sla_api
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
    path("personas", personas_api.PersonaList.as_view(), name="persona-list"),
    path("personas/match", personas_api.PersonaMatch.as_view(), name="persona-match"),
    path("personas/<int:persona_id>", personas_api.PersonaDetail.as_view(), name="persona-detail"),
    path("definitions", personas_api.DefinitionList.as_view(), name="definition-list"),
    path("definitions/active", personas_api.DefinitionActive.as_view(), name="definition-active"),
    path("definitions/<int:definitionversion_id>", personas_api.DefinitionDetail.as_view(), name="definition-detail"),
    path("definitions/<int:definitionversion_id>/sign", personas_api.DefinitionSign.as_view(), name="definition-sign"),
    path(
        "definitions/<int:definitionversion_id>/withdraw",
        personas_api.DefinitionWithdraw.as_view(),
        name="definition-withdraw",
    ),
    path("definitions/<int:definitionversion_id>/diff", personas_api.DefinitionDiff.as_view(), name="definition-diff"),
    path("content", personas_api.ContentList.as_view(), name="content-list"),
    path("content/<int:contentasset_id>", personas_api.ContentDetail.as_view(), name="content-detail"),
    path("content/<int:contentasset_id>/file", personas_api.ContentFile.as_view(), name="content-file"),
    path("content-requests", personas_api.ContentRequestList.as_view(), name="content-request-list"),
    path("content-requests/stats", personas_api.ContentRequestStats.as_view(), name="content-request-stats"),
    path(
        "content-requests/<int:contentrequest_id>",
        personas_api.ContentRequestDetail.as_view(),
        name="content-request-detail",
    ),
    path(
        "content-requests/<int:contentrequest_id>/accept",
        personas_api.ContentRequestAccept.as_view(),
        name="content-request-accept",
    ),
    path(
        "content-requests/<int:contentrequest_id>/start",
        personas_api.ContentRequestStart.as_view(),
        name="content-request-start",
    ),
    path(
        "content-requests/<int:contentrequest_id>/deliver",
        personas_api.ContentRequestDeliver.as_view(),
        name="content-request-deliver",
    ),
    path(
        "content-requests/<int:contentrequest_id>/decline",
        personas_api.ContentRequestDecline.as_view(),
        name="content-request-decline",
    ),
    path("campaigns", campaign_api.CampaignList.as_view(), name="campaign-list"),
    path("campaigns/<int:campaign_id>", campaign_api.CampaignDetail.as_view(), name="campaign-detail"),
    path("events", leads_api.EventIngest.as_view(), name="event-ingest"),
    path("leads", lead_api.LeadList.as_view(), name="lead-list"),
    path("leads/<int:lead_id>", lead_api.LeadDetail.as_view(), name="lead-detail"),
    path("leads/<int:lead_id>/transition", lead_api.LeadTransition.as_view(), name="lead-transition"),
    path("leads/<int:lead_id>/history", lead_api.LeadHistory.as_view(), name="lead-history"),
    path("handoffs", handoff_api.HandoffList.as_view(), name="handoff-list"),
    path("handoffs/<int:handoff_id>", handoff_api.HandoffDetail.as_view(), name="handoff-detail"),
    path("handoffs/<int:handoff_id>/accept", handoff_api.HandoffAccept.as_view(), name="handoff-accept"),
    path("handoffs/<int:handoff_id>/return", handoff_api.HandoffReturn.as_view(), name="handoff-return"),
    path("handoffs/<int:handoff_id>/reassign", handoff_api.HandoffReassign.as_view(), name="handoff-reassign"),
    path("routing-rules", handoff_api.RoutingRuleList.as_view(), name="routing-rule-list"),
    path("routing-rules/<int:routingrule_id>", handoff_api.RoutingRuleDetail.as_view(), name="routing-rule-detail"),
    path("routing/preview", handoff_api.RoutingPreview.as_view(), name="routing-preview"),
    path("teams", handoff_api.TeamList.as_view(), name="team-list"),
    path("slas", sla_api.AgreementList.as_view(), name="sla-list"),
    path("slas/<int:agreement_id>", sla_api.AgreementDetail.as_view(), name="sla-detail"),
    path("slas/<int:agreement_id>/sign", sla_api.AgreementSign.as_view(), name="sla-sign"),
    path("slas/<int:agreement_id>/withdraw", sla_api.AgreementWithdraw.as_view(), name="sla-withdraw"),
    path("slas/<int:agreement_id>/renew", sla_api.AgreementRenew.as_view(), name="sla-renew"),
    path("slas/<int:agreement_id>/compliance", sla_api.AgreementCompliance.as_view(), name="sla-compliance"),
    path("slas/<int:agreement_id>/forecast", sla_api.AgreementForecast.as_view(), name="sla-forecast"),
    path("touches", deal_api.TouchList.as_view(), name="touch-list"),
    path("touches/<int:touch_id>", deal_api.TouchDetail.as_view(), name="touch-detail"),
    path("opportunities", deal_api.OpportunityList.as_view(), name="opportunity-list"),
    path("opportunities/<int:opportunity_id>", deal_api.OpportunityDetail.as_view(), name="opportunity-detail"),
    path("opportunities/<int:opportunity_id>/win", deal_api.OpportunityWin.as_view(), name="opportunity-win"),
    path("opportunities/<int:opportunity_id>/lose", deal_api.OpportunityLose.as_view(), name="opportunity-lose"),
]
