"""Celery interface of accounts: thin adapters that take ids and call one service."""

from __future__ import annotations

from celery import shared_task

from smarketing.accounts import services


@shared_task(autoretry_for=(OSError,), retry_backoff=30, retry_backoff_max=600, max_retries=8)
def send_invitation_email(invitation_id: int) -> bool:
    """Email an invitation link. Safe to run twice: a sent invitation is not sent again."""
    return services.invitation_send_email(invitation_id=invitation_id)


@shared_task
def expire_invitations() -> int:
    return services.invitations_expire()
