from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from smarketing import views

urlpatterns = [
    # First: an API request is resolved without trying every page pattern before it (no page
    # path starts with "api/").
    path("api/v1/", include("smarketing.api_urls")),
    path("", views.index, name="index"),
    path("home/", views.home, name="home"),
    path("", include("smarketing.accounts.urls")),
    path("", include("personas.urls")),
    path("", include("leads.campaign_urls")),
    path("", include("leads.urls")),
    path("", include("leads.handoff_urls")),
    path("", include("leads.deal_urls")),
    path("", include("sla.urls")),
    path("", include("leads.import_urls")),
    path("", include("leads.scoring_urls")),
    path("", include("leads.duplicate_urls")),
    path("", include("leads.webform_urls")),
    path("", include("smarketing.notifications.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("admin/", admin.site.urls),
]
