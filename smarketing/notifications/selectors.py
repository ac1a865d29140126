"""Reads for the notification centre: a member only ever sees their own notifications."""

from __future__ import annotations

from django.db.models import QuerySet

from smarketing.accounts.models import Membership
from smarketing.accounts.tenancy import get_for_org
from smarketing.notifications.models import Notification


def notification_list(*, membership: Membership) -> QuerySet[Notification]:
    return (
        Notification.objects.for_org(membership.organization)
        .filter(recipient=membership)
        .order_by("-created_at", "-id")
    )


def notification_get(*, membership: Membership, notification_id: int) -> Notification:
    """One of the member's notifications; another member's or organisation's id is a 404."""
    return get_for_org(
        Notification.objects.all(), org=membership.organization, recipient=membership, pk=notification_id
    )


def notification_unread_count(*, membership: Membership) -> int:
    return notification_list(membership=membership).filter(read_at=None).count()
