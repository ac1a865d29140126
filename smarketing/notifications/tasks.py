"""Celery interface of notifications: thin adapters that take ids and call one service."""

from __future__ import annotations

from celery import shared_task

from smarketing.notifications import services


@shared_task(autoretry_for=(OSError,), retry_backoff=30, retry_backoff_max=600, max_retries=8)
def send_notification_email(notification_id: int) -> bool:
    """Email a notification. Safe to run twice: a sent notification is not sent again."""
    return services.notification_send_email(notification_id=notification_id)


@shared_task(autoretry_for=(OSError,), retry_backoff=30, retry_backoff_max=600, max_retries=8)
def send_notification_emails(notification_ids: list[int]) -> int:
    """Email several notifications (one message on the queue for a sweep's worth). Safe to run
    again after a failure: the ones already sent are skipped. Returns how many were sent."""
    return sum(services.notification_send_email(notification_id=i) for i in notification_ids)
