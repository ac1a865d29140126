from django.urls import path

from sla import views

app_name = "sla"

urlpatterns = [
    path("sla/", views.agreement_list, name="agreement_list"),
    path("sla/new/", views.agreement_create, name="agreement_create"),
    path("sla/calculator/", views.calculator, name="calculator"),
    path("sla/<int:agreement_id>/", views.agreement_detail, name="agreement_detail"),
    path("sla/<int:agreement_id>/edit/", views.agreement_edit, name="agreement_edit"),
    path("sla/<int:agreement_id>/sign/", views.agreement_sign, name="agreement_sign"),
    path("sla/<int:agreement_id>/withdraw/", views.agreement_withdraw, name="agreement_withdraw"),
    path("sla/<int:agreement_id>/renew/", views.agreement_renew, name="agreement_renew"),
]
