from django.urls import path

from personas import views

app_name = "personas"

urlpatterns = [
    path("personas/", views.persona_list, name="persona_list"),
    path("personas/new/", views.persona_create, name="persona_create"),
    path("personas/match/", views.persona_match, name="persona_match"),
    path("personas/<int:persona_id>/", views.persona_detail, name="persona_detail"),
    path("personas/<int:persona_id>/edit/", views.persona_edit, name="persona_edit"),
    path("personas/<int:persona_id>/archive/", views.persona_archive, name="persona_archive"),
    path("definitions/", views.definitions, name="definitions"),
    path("definitions/versions/", views.definition_versions, name="definition_versions"),
    path("definitions/propose/", views.definitions_propose, name="definitions_propose"),
    path("definitions/versions/<int:definitionversion_id>/", views.definition_version, name="definition_version"),
    path("definitions/versions/<int:definitionversion_id>/sign/", views.definition_sign, name="definition_sign"),
    path(
        "definitions/versions/<int:definitionversion_id>/withdraw/",
        views.definition_withdraw,
        name="definition_withdraw",
    ),
    path("content/", views.content_list, name="content_list"),
    path("content/matrix/", views.content_matrix, name="content_matrix"),
    path("content/new/", views.content_create, name="content_create"),
    path("content/<int:contentasset_id>/", views.content_detail, name="content_detail"),
    path("content/<int:contentasset_id>/edit/", views.content_edit, name="content_edit"),
    path("content/<int:contentasset_id>/delete/", views.content_delete, name="content_delete"),
    path("content/<int:contentasset_id>/file/", views.content_file, name="content_file"),
    path("content-requests/", views.content_request_list, name="content_request_list"),
    path("content-requests/new/", views.content_request_create, name="content_request_create"),
    path("content-requests/<int:contentrequest_id>/", views.content_request_detail, name="content_request_detail"),
    path(
        "content-requests/<int:contentrequest_id>/transition/",
        views.content_request_transition,
        name="content_request_transition",
    ),
]
