from __future__ import annotations

import pytest
from django.core import mail

from smarketing.accounts import services as account_services
from smarketing.celery import check_visibility_timeout
from smarketing.notifications import services
from smarketing.notifications.models import Notification
from smarketing.notifications.tasks import send_notification_email

pytestmark = pytest.mark.django_db


def test_email_task_is_idempotent(rep):
    notification = services.notify(recipient=rep, kind="deal.won", title="Deal won", email=False)
    assert send_notification_email.delay(notification.pk).get() is True
    assert send_notification_email.delay(notification.pk).get() is False
    assert len(mail.outbox) == 1


def test_email_task_for_a_vanished_notification_does_nothing(db):
    assert send_notification_email.delay(999_999).get() is False
    assert mail.outbox == []


def test_email_task_for_a_removed_member_does_nothing(rep):
    notification = services.notify(recipient=rep, kind="sla.breach", title="SLA breached", email=False)
    account_services.membership_remove(membership=rep)
    assert send_notification_email.delay(notification.pk).get() is False
    assert mail.outbox == []


def test_failed_send_is_not_marked_sent_so_the_retry_sends_it(rep, monkeypatch):
    notification = services.notify(recipient=rep, kind="deal.won", title="Deal won", email=False)

    def unreachable(**kwargs):
        raise ConnectionRefusedError("SMTP server down")

    monkeypatch.setattr(services, "send_mail", unreachable)
    with pytest.raises(OSError):
        services.notification_send_email(notification_id=notification.pk)
    assert Notification.objects.get(pk=notification.pk).email_sent_at is None
    monkeypatch.undo()
    assert services.notification_send_email(notification_id=notification.pk) is True


def test_email_task_retries_network_errors_within_the_visibility_timeout():
    assert send_notification_email.autoretry_for == (OSError,)
    assert send_notification_email.max_retries == 8
    check_visibility_timeout()
