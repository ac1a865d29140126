from django.urls import path

from leads import handoff_list_views
from leads import handoff_views as views

app_name = "handoffs"

urlpatterns = [
    path("handoffs/", views.handoff_queue, name="queue"),
    path("handoffs/history/", handoff_list_views.handoff_history, name="history"),
    path("handoffs/<int:handoff_id>/accept/", views.handoff_accept, name="accept"),
    path("handoffs/<int:handoff_id>/return/", views.handoff_return, name="return"),
    path("handoffs/<int:handoff_id>/reassign/", views.handoff_reassign, name="reassign"),
    path("handoffs/send/<int:lead_id>/", views.handoff_send, name="send"),
]
