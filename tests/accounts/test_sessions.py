"""Sessions and the signed-in user, read by prepared statements (smarketing.sessions, accounts.backends)."""

from __future__ import annotations

import importlib
from datetime import timedelta

import pytest
from django.apps import apps
from django.contrib.sessions.models import Session
from django.utils import timezone

pytestmark = pytest.mark.django_db

HOME = "/home/"


def test_a_signed_in_member_stays_signed_in_and_an_expired_or_unknown_session_is_anonymous(client, marketer):
    client.force_login(marketer.user)
    assert client.get(HOME).status_code == 200

    Session.objects.update(expire_date=timezone.now() - timedelta(seconds=1))
    assert client.get(HOME).status_code == 302  # to the sign-in page

    client.force_login(marketer.user)
    client.cookies["sessionid"] = "not-a-session-key-at-all"
    assert client.get(HOME).status_code == 302


def test_a_disabled_user_is_signed_out(client, marketer):
    client.force_login(marketer.user)
    marketer.user.is_active = False
    marketer.user.save()
    assert client.get(HOME).status_code == 302


def test_a_session_signed_in_before_the_backend_moved_stays_signed_in(client, marketer):
    client.force_login(marketer.user, backend="django.contrib.auth.backends.ModelBackend")
    assert client.get(HOME).status_code == 302  # that backend is no longer listed: nobody signed in

    migration = importlib.import_module("smarketing.accounts.migrations.0008_sessions_signed_in_by_the_new_backend")
    migration.forwards(apps, None)

    assert client.get(HOME).status_code == 200
    migration.backwards(apps, None)
    assert client.get(HOME).status_code == 302
