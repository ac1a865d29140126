from django.urls import path

from leads import deal_views as views

app_name = "deals"

urlpatterns = [
    path("leads/<int:lead_id>/touches/", views.touch_log, name="touch_log"),
    path("leads/<int:lead_id>/deals/new/", views.opportunity_create, name="opportunity_create"),
    path("deals/", views.pipeline, name="pipeline"),
    path("deals/<int:opportunity_id>/", views.opportunity_detail, name="opportunity_detail"),
    path("deals/<int:opportunity_id>/edit/", views.opportunity_update, name="opportunity_update"),
    path("deals/<int:opportunity_id>/win/", views.opportunity_win, name="opportunity_win"),
    path("deals/<int:opportunity_id>/lose/", views.opportunity_lose, name="opportunity_lose"),
]
