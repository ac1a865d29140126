from django.urls import path

from leads import webform_views as views

app_name = "webforms"

urlpatterns = [
    path("forms/", views.webform_list, name="webform_list"),
    path("forms/new/", views.webform_create, name="webform_create"),
    path("forms/<int:webform_id>/", views.webform_detail, name="webform_detail"),
    path("forms/<int:webform_id>/edit/", views.webform_edit, name="webform_edit"),
    path("forms/<int:webform_id>/archive/", views.webform_archive, name="webform_archive"),
    # Public: called by sm.js from the organisation's sites (no login; origin-checked).
    path("f/<str:form_key>/", views.public_definition, name="public_definition"),
    path("f/<str:form_key>/submit", views.public_submit, name="public_submit"),
    path("t/<str:form_key>", views.public_track, name="public_track"),
]
