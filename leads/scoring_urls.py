from django.urls import path

from leads import scoring_views as views

app_name = "scoring"

urlpatterns = [
    path("scoring/", views.scoring_home, name="home"),
    path("scoring/draft/", views.scoring_draft, name="draft"),
    path("scoring/<int:scoringmodel_id>/", views.scoring_detail, name="detail"),
    path("scoring/<int:scoringmodel_id>/preview/", views.scoring_preview, name="preview"),
    path("scoring/<int:scoringmodel_id>/activate/", views.scoring_activate, name="activate"),
    path("scoring/<int:scoringmodel_id>/discard/", views.scoring_discard, name="discard"),
    path("jobs/<int:job_id>/", views.job_detail, name="job"),
]
