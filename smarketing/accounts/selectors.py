"""Reads for the accounts pages and API, always for one organisation."""

from __future__ import annotations

from datetime import datetime

from django.db.models import QuerySet

from smarketing.accounts.models import ApiKey, Invitation, Membership, Organization, User


def membership_list(*, org: Organization) -> QuerySet[Membership]:
    return (
        Membership.objects.for_org(org)
        .filter(removed_at=None)
        .select_related("user")
        .order_by("user__full_name", "user__email")
    )


def invitation_pending_list(*, org: Organization, now: datetime) -> QuerySet[Invitation]:
    return (
        Invitation.objects.for_org(org)
        .filter(status=Invitation.Status.PENDING, expires_at__gt=now)
        .select_related("invited_by__user")
    )


def api_key_list(*, org: Organization) -> QuerySet[ApiKey]:
    return ApiKey.objects.for_org(org).select_related("created_by__user")


def user_exists(*, email: str) -> bool:
    return User.objects.filter(email__iexact=email).exists()
