"""REST interface of the notification centre: a person's own notifications, and marking one read."""

from __future__ import annotations

import django_filters
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response

from smarketing.accounts.models import Membership, Organization
from smarketing.api import OrgScopedMixin
from smarketing.notifications import selectors, services
from smarketing.notifications.models import Notification

# --- Serializers and filters ----------------------------------------------------------


class NotificationSerializer(serializers.ModelSerializer):
    class Meta:
        model = Notification
        fields = ["id", "kind", "title", "body", "url", "created_at", "read_at"]
        read_only_fields = fields


class NotificationFilter(django_filters.FilterSet):
    unread = django_filters.BooleanFilter(
        field_name="read_at", lookup_expr="isnull", label="true: only unread; false: only read."
    )

    class Meta:
        model = Notification
        fields = ["unread"]


# --- Views ----------------------------------------------------------------------------

# A person's credentials only: API keys are refused (403), so the schema does not offer them.
PERSONAL_AUTH = [{"bearerToken": []}, {"cookieAuth": []}]


class RecipientScopedMixin(OrgScopedMixin):
    """Notifications belong to a person: an API key gets 403, a member reads only their own."""

    queryset = Notification.objects.all()
    serializer_class = NotificationSerializer

    def check_permissions(self, request: Request) -> None:
        super().check_permissions(request)
        if not isinstance(self.actor, Membership):
            raise PermissionDenied("Notifications belong to people; use a personal token.")

    def get_org_queryset(self, org: Organization):
        return selectors.notification_list(membership=self.actor)


@extend_schema(auth=PERSONAL_AUTH)
class NotificationList(RecipientScopedMixin, generics.ListAPIView):
    """The caller's notifications, newest first; ``?unread=true`` for the unread ones only."""

    filterset_class = NotificationFilter
    ordering = "-id"


@extend_schema(auth=PERSONAL_AUTH)
class NotificationRead(RecipientScopedMixin, generics.GenericAPIView):
    """Mark one of the caller's notifications as read (again: no change)."""

    lookup_url_kwarg = "notification_id"

    @extend_schema(request=None, responses=NotificationSerializer, operation_id="notifications_read")
    def post(self, request: Request, notification_id: int) -> Response:
        notification = services.notification_mark_read(notification=self.get_object())
        return Response(self.get_serializer(notification).data)
