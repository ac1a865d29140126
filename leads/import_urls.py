from django.urls import path

from leads import import_views as views

app_name = "imports"

urlpatterns = [
    path("leads/import/", views.import_upload, name="upload"),
    path("leads/import/<int:job_id>/", views.import_progress, name="progress"),
    path("leads/import/<int:job_id>/progress/", views.import_progress_partial, name="progress_partial"),
    path("leads/import/<int:job_id>/map/", views.import_map, name="map"),
    path("leads/import/<int:job_id>/preview/", views.import_preview, name="preview"),
    path("leads/import/<int:job_id>/errors.csv", views.import_errors, name="errors"),
]
