from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from smarketing.accounts import services as account_services
from smarketing.notifications import selectors, services
from smarketing.notifications.models import Notification

pytestmark = pytest.mark.django_db


def test_notify_creates_the_row_and_emails_after_commit(rep, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        notification = services.notify(
            recipient=rep,
            kind="handoff.created",
            title="New handoff: Ada Lovelace",
            body="Marketing handed you an MQL from the webinar campaign.",
            url="/leads/12/",
        )
        assert mail.outbox == [], "the email waits for the commit"
    assert notification.organization == rep.organization and notification.read_at is None
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [rep.user.email] and message.subject == "New handoff: Ada Lovelace"
    assert "webinar campaign" in message.body and "http://testserver/leads/12/" in message.body
    notification.refresh_from_db()
    assert notification.email_sent_at is not None


def test_notify_without_email_only_notifies_in_the_app(rep, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        services.notify(recipient=rep, kind="deal.won", title="Deal won", email=False)
    assert callbacks == [] and mail.outbox == []
    assert Notification.objects.filter(recipient=rep).count() == 1


def test_email_without_url_has_no_link(rep, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        services.notify(recipient=rep, kind="deal.won", title="Deal won", body="Globex signed.")
    assert "http" not in mail.outbox[0].body and "Globex signed." in mail.outbox[0].body


def test_removed_member_gets_nothing(rep, django_capture_on_commit_callbacks):
    account_services.membership_remove(membership=rep)
    with django_capture_on_commit_callbacks(execute=True):
        assert services.notify(recipient=rep, kind="sla.breach", title="SLA breached") is None
    assert not Notification.objects.exists() and mail.outbox == []


def test_member_removed_before_the_email_goes_out_gets_no_email(rep, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        services.notify(recipient=rep, kind="sla.breach", title="SLA breached")
    account_services.membership_remove(membership=rep)
    for callback in callbacks:
        callback()
    assert mail.outbox == []


def test_title_is_one_line_because_it_is_the_email_subject(rep):
    notification = services.notify(recipient=rep, kind="deal.won", title="Deal won:\n Globex", email=False)
    assert notification.title == "Deal won: Globex"


@pytest.mark.parametrize("url", ["https://elsewhere.example/", "leads/12/"])
def test_links_are_in_app_paths(rep, url):
    with pytest.raises(ValueError, match="in-app path"):
        services.notify(recipient=rep, kind="deal.won", title="Deal won", url=url)


def test_mark_read_is_idempotent(rep):
    notification = services.notify(recipient=rep, kind="deal.won", title="Deal won", email=False)
    first = timezone.now()
    services.notification_mark_read(notification=notification, now=first)
    services.notification_mark_read(notification=notification, now=first + timedelta(hours=1))
    notification.refresh_from_db()
    assert notification.read_at == first


def test_mark_read_of_a_stale_copy_keeps_the_first_read(rep):
    notification = services.notify(recipient=rep, kind="deal.won", title="Deal won", email=False)
    stale = Notification.objects.get(pk=notification.pk)
    first = timezone.now()
    services.notification_mark_read(notification=notification, now=first)
    assert services.notification_mark_read(notification=stale, now=first + timedelta(hours=1)).read_at == first


def test_mark_all_read_touches_only_the_members_own(rep, marketer):
    for i in range(3):
        services.notify(recipient=rep, kind="handoff.created", title=f"Handoff {i}", email=False)
    services.notify(recipient=marketer, kind="handoff.returned", title="Handoff returned", email=False)
    assert selectors.notification_unread_count(membership=rep) == 3
    assert services.notifications_mark_all_read(membership=rep) == 3
    assert services.notifications_mark_all_read(membership=rep) == 0
    assert selectors.notification_unread_count(membership=rep) == 0
    assert selectors.notification_unread_count(membership=marketer) == 1


def test_notify_many_makes_them_at_once_skips_removed_members_and_emails_each_once(
    rep, marketer, manager, django_capture_on_commit_callbacks
):
    manager.removed_at = timezone.now()
    manager.save()
    notices = [
        services.Notice(recipient=member, kind="handoff.breached", title=f"Breached for {member.user.email}")
        for member in (rep, marketer, manager)
    ]
    with django_capture_on_commit_callbacks(execute=True):
        made = services.notify_many(notices)
    assert {n.recipient for n in made} == {rep, marketer}
    assert sorted(m.to[0] for m in mail.outbox) == sorted([rep.user.email, marketer.user.email])
    with django_capture_on_commit_callbacks(execute=True):  # a retried batch sends nothing twice
        from smarketing.notifications.tasks import send_notification_emails

        assert send_notification_emails([n.pk for n in made]) == 0
    assert len(mail.outbox) == 2
