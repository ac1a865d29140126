from __future__ import annotations

import time

import pytest
from django.core import mail
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

from smarketing.accounts import services
from smarketing.accounts.models import Invitation
from smarketing.accounts.tasks import expire_invitations, send_invitation_email
from smarketing.celery import app, check_visibility_timeout
from tests.factories import InvitationFactory


def test_celery_never_loses_a_task_to_a_dying_worker():
    assert app.conf.task_acks_late is True
    assert app.conf.task_reject_on_worker_lost is True
    assert app.conf.worker_prefetch_multiplier == 1


def test_start_up_refuses_a_visibility_timeout_shorter_than_retries(settings):
    check_visibility_timeout()  # the shipped configuration is consistent
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 60}
    with pytest.raises(ImproperlyConfigured, match="visibility_timeout"):
        check_visibility_timeout()


def test_beat_schedule_names_real_tasks(settings):
    for entry in settings.CELERY_BEAT_SCHEDULE.values():
        assert entry["task"] in app.tasks


@pytest.mark.django_db
def test_invitation_task_runs_eagerly_and_is_idempotent(admin):
    invitation = InvitationFactory(organization=admin.organization, invited_by=admin)
    assert send_invitation_email.delay(invitation.pk).get() is True
    assert send_invitation_email.delay(invitation.pk).get() is False
    assert len(mail.outbox) == 1 and invitation.email in mail.outbox[0].to


@pytest.mark.django_db
def test_invitation_task_for_a_vanished_invitation_does_nothing(admin):
    assert send_invitation_email.delay(999_999).get() is False
    assert mail.outbox == []


@pytest.mark.django_db
def test_expire_invitations_task(org):
    InvitationFactory(organization=org, expires_at=timezone.now())
    assert expire_invitations.delay().get() == 1
    assert Invitation.objects.get().status == Invitation.Status.EXPIRED


@pytest.fixture
def real_broker():
    """Send tasks to Redis for a worker process to run, instead of running them in-process."""
    app.conf.task_always_eager = False
    yield app
    app.conf.task_always_eager = True


@pytest.mark.celery_worker
@pytest.mark.django_db(transaction=True)
def test_worker_sends_the_invitation_email(admin, real_broker):
    invitation = services.invitation_create(invited_by=admin, email="via-worker@acme.test", role="marketer")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        invitation.refresh_from_db()
        if invitation.email_sent_at is not None:
            break
        time.sleep(0.2)
    assert invitation.email_sent_at is not None, "the Celery worker did not send the invitation within 30 s"
