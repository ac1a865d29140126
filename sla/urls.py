from django.urls import path

from sla import views

app_name = "sla"

urlpatterns = [
    path("sla/", views.agreement_list, name="agreement_list"),
    path("sla/new/", views.agreement_create, name="agreement_create"),
    path("sla/calculator/", views.calculator, name="calculator"),
    path("sla/reviews/", views.review_list, name="review_list"),
    path("sla/reviews/generate/", views.review_generate, name="review_generate"),
    path("sla/reviews/<int:review_id>/", views.review_detail, name="review_detail"),
    path("sla/reviews/<int:review_id>/notes/", views.review_notes, name="review_notes"),
    path("sla/reviews/<int:review_id>/actions/", views.action_add, name="action_add"),
    path("sla/actions/<int:actionitem_id>/done/", views.action_done, name="action_done"),
    path("sla/<int:agreement_id>/", views.agreement_detail, name="agreement_detail"),
    path("sla/<int:agreement_id>/edit/", views.agreement_edit, name="agreement_edit"),
    path("sla/<int:agreement_id>/sign/", views.agreement_sign, name="agreement_sign"),
    path("sla/<int:agreement_id>/withdraw/", views.agreement_withdraw, name="agreement_withdraw"),
    path("sla/<int:agreement_id>/renew/", views.agreement_renew, name="agreement_renew"),
]
