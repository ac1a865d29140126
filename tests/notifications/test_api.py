from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from smarketing.notifications import services
from smarketing.notifications.models import Notification

pytestmark = pytest.mark.django_db


def _notify(membership, title="New handoff"):
    return services.notify(recipient=membership, kind="handoff.created", title=title, email=False)


def test_list_returns_only_the_callers_own(api, rep, marketer, outsider):
    mine = _notify(rep, "Mine")
    _notify(marketer, "The marketer's")
    _notify(outsider, "Another organisation's")
    response = api(rep).get("/api/v1/notifications")
    assert response.status_code == 200
    results = response.json()["results"]
    assert [n["id"] for n in results] == [mine.pk]
    assert set(results[0]) == {"id", "kind", "title", "body", "url", "created_at", "read_at"}


def test_unread_filter(api, rep):
    read, unread = _notify(rep, "Read"), _notify(rep, "Unread")
    services.notification_mark_read(notification=read)
    client = api(rep)
    assert [n["id"] for n in client.get("/api/v1/notifications?unread=true").json()["results"]] == [unread.pk]
    assert [n["id"] for n in client.get("/api/v1/notifications?unread=false").json()["results"]] == [read.pk]
    assert len(client.get("/api/v1/notifications").json()["results"]) == 2


def test_list_paginates_newest_first_with_constant_queries(api, rep, django_assert_max_num_queries):
    created = [_notify(rep, f"Handoff {i}") for i in range(30)]
    client = api(rep)
    with django_assert_max_num_queries(5):
        body = client.get("/api/v1/notifications?page_size=20").json()
    assert [n["id"] for n in body["results"]] == [n.pk for n in reversed(created)][:20]
    assert len(client.get(body["next"]).json()["results"]) == 10


def test_mark_read_is_idempotent(api, rep):
    notification = _notify(rep)
    client = api(rep)
    first = client.post(f"/api/v1/notifications/{notification.pk}/read")
    assert first.status_code == 200 and first.json()["read_at"] is not None
    second = client.post(f"/api/v1/notifications/{notification.pk}/read")
    assert second.status_code == 200 and second.json()["read_at"] == first.json()["read_at"]
    assert client.get("/api/v1/notifications?unread=true").json()["results"] == []


def test_another_members_notification_is_404(api, rep, marketer):
    notification = _notify(marketer)
    assert api(rep).post(f"/api/v1/notifications/{notification.pk}/read").status_code == 404
    assert Notification.objects.get(pk=notification.pk).read_at is None


def test_outsider_gets_404(api, rep, outsider):
    notification = _notify(rep)
    assert api(outsider).post(f"/api/v1/notifications/{notification.pk}/read").status_code == 404


def test_api_key_gets_403_because_notifications_belong_to_people(api_key_client, rep):
    notification = _notify(rep)
    response = api_key_client.get("/api/v1/notifications")
    assert response.status_code == 403 and "personal token" in response.json()["detail"]
    assert api_key_client.post(f"/api/v1/notifications/{notification.pk}/read").status_code == 403


def test_browser_session_reads_the_members_own(login, rep):
    mine = _notify(rep)
    response = login(rep).get("/api/v1/notifications")
    assert response.status_code == 200 and [n["id"] for n in response.json()["results"]] == [mine.pk]


def test_missing_credentials_are_401(db):
    assert APIClient().get("/api/v1/notifications").status_code == 401


def test_schema_documents_the_unread_filter(client):
    schema = client.get("/api/schema/").content.decode()
    assert "/api/v1/notifications/{notification_id}/read" in schema and "unread" in schema
