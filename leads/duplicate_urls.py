from django.urls import path

from leads import duplicate_views as views

app_name = "duplicates"

urlpatterns = [
    path("leads/duplicates/", views.duplicate_list, name="list"),
    path("leads/<int:lead_id>/merge/", views.lead_merge, name="merge"),
    path("leads/<int:lead_id>/not-duplicate/", views.duplicate_dismiss, name="dismiss"),
    path("leads/merges/<int:leadmerge_id>/undo/", views.merge_undo, name="undo"),
]
