from __future__ import annotations

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from smarketing.notifications import selectors


def notifications(request: HttpRequest) -> dict:
    """The member's unread count for the header bell, counted only if a template uses it."""
    membership = getattr(request, "membership", None)
    if membership is None:
        return {}
    return {
        "unread_notifications": SimpleLazyObject(lambda: selectors.notification_unread_count(membership=membership))
    }
