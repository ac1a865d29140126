"""Use cases of the notification centre: notify a member, email them, mark as read.

Other apps call ``notify()`` for the events a person should hear about ("content request
delivered", "new handoff", "handoff returned", "SLA breach", "deal won").
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone

from smarketing.accounts.models import Membership
from smarketing.notifications.models import Notification


@dataclass(frozen=True)
class Notice:
    """One notification to make: for whom, what happened, and a link to it."""

    recipient: Membership
    kind: str
    title: str
    body: str = ""
    url: str = ""


@transaction.atomic
def notify(
    *,
    recipient: Membership,
    kind: str,
    title: str,
    body: str = "",
    url: str = "",
    email: bool = True,
    now: datetime | None = None,
) -> Notification | None:
    """Notify ``recipient`` in the app and, after commit, by email. A removed member gets nothing (None)."""
    made = notify_many([Notice(recipient, kind, title, body, url)], email=email, now=now)
    return made[0] if made else None


@transaction.atomic
def notify_many(notices: Iterable[Notice], *, email: bool = True, now: datetime | None = None) -> list[Notification]:
    """Make many notifications in three statements (a sweep may tell dozens of people at once);
    each is emailed after commit. Removed members are left out."""
    from smarketing.notifications.tasks import send_notification_email, send_notification_emails

    notices = list(notices)
    for notice in notices:
        if notice.url and not notice.url.startswith("/"):
            raise ValueError(f"A notification links to an in-app path such as /leads/12/, not {notice.url!r}.")
    if not notices:
        return []
    # Asked of the database: the caller's copy of a membership may predate a removal.
    active = set(
        Membership.objects.filter(pk__in={n.recipient.pk for n in notices}, removed_at=None).values_list(
            "pk", flat=True
        )
    )
    at = now or timezone.now()
    made = Notification.objects.bulk_create(
        Notification(
            organization_id=n.recipient.organization_id,
            recipient=n.recipient,
            kind=n.kind,
            # The title is also the email subject: one line, and it must fit the column.
            title=" ".join(n.title.split())[:200],
            body=n.body,
            url=n.url,
            created_at=at,
        )
        for n in notices
        if n.recipient.pk in active
    )
    if email and len(made) == 1:
        send_notification_email.delay_on_commit(made[0].pk)
    elif email and made:  # one message on the queue, not one per notification
        send_notification_emails.delay_on_commit([n.pk for n in made])
    return made


def notification_send_email(*, notification_id: int) -> bool:
    """Email a notification to its recipient. Returns False when there is nothing (left) to send."""
    notification = (
        Notification.objects.select_related("organization", "recipient__user").filter(pk=notification_id).first()
    )
    if notification is None or notification.email_sent_at is not None:
        return False
    recipient = notification.recipient
    if recipient.removed_at is not None or not recipient.user.is_active:
        return False
    context = {
        "notification": notification,
        "link": f"{settings.SITE_URL}{notification.url}" if notification.url else "",
    }
    send_mail(
        subject=notification.title,
        message=render_to_string("notifications/email.txt", context),
        from_email=None,
        recipient_list=[recipient.user.email],
    )
    Notification.objects.filter(pk=notification.pk, email_sent_at=None).update(email_sent_at=timezone.now())
    return True


def notification_mark_read(*, notification: Notification, now: datetime | None = None) -> Notification:
    """Mark as read; reading again keeps the first time it was read."""
    if notification.read_at is None:
        now = now or timezone.now()
        if Notification.objects.filter(pk=notification.pk, read_at=None).update(read_at=now):
            notification.read_at = now
        else:  # read meanwhile, in another tab or through the API
            notification.refresh_from_db(fields=["read_at"])
    return notification


def notifications_mark_all_read(*, membership: Membership, now: datetime | None = None) -> int:
    """Mark every unread notification of ``membership`` as read; returns how many were unread."""
    return (
        Notification.objects.for_org(membership.organization)
        .filter(recipient=membership, read_at=None)
        .update(read_at=now or timezone.now())
    )
