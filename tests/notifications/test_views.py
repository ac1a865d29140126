from __future__ import annotations

import pytest
from django.urls import reverse

from smarketing.notifications import services
from smarketing.notifications.context_processors import notifications
from smarketing.notifications.models import Notification
from tests.factories import NotificationFactory

pytestmark = pytest.mark.django_db


def _notify(membership, title="Content request delivered", url=""):
    return services.notify(recipient=membership, kind="content_request.delivered", title=title, url=url, email=False)


def test_header_bell_shows_the_unread_count(login, rep, marketer):
    for _ in range(3):
        _notify(rep)
    services.notification_mark_read(notification=_notify(rep))
    _notify(marketer)
    body = login(rep).get(reverse("home")).content.decode()
    assert 'data-testid="unread-count" aria-hidden="true">3</span>' in body
    assert 'aria-label="Notifications (3 unread)"' in body


def test_header_bell_has_no_badge_when_all_is_read(login, rep):
    services.notification_mark_read(notification=_notify(rep))
    body = login(rep).get(reverse("home")).content.decode()
    assert 'data-testid="notification-bell"' in body and 'data-testid="unread-count"' not in body


def test_unread_count_is_counted_only_when_a_page_shows_it(rf, rep, django_assert_num_queries):
    _notify(rep)
    request = rf.get("/")
    request.membership = rep
    with django_assert_num_queries(0):
        context = notifications(request)
    with django_assert_num_queries(1):
        assert context["unread_notifications"] == 1


def test_list_shows_own_notifications_newest_first_in_pages(login, rep, marketer, django_assert_max_num_queries):
    for i in range(30):
        _notify(rep, title=f"Handoff {i:02d}")
    _notify(marketer, title="Marketer's own")
    client = login(rep)
    with django_assert_max_num_queries(8):
        response = client.get(reverse("notifications:list"))
    body = response.content.decode()
    assert body.count('class="notification unread"') == 25
    assert body.index("Handoff 29") < body.index("Handoff 05") and "Handoff 04" not in body
    assert "Marketer's own" not in body and "Page 1 of 2" in body
    assert "30 unread" in body and "Mark all as read" in body
    second = client.get(reverse("notifications:list"), {"page": 2}).content.decode()
    assert "Handoff 04" in second and "Handoff 00" in second and "Handoff 05" not in second


def test_read_notifications_are_not_highlighted(login, rep):
    services.notification_mark_read(notification=_notify(rep, title="Already seen"))
    body = login(rep).get(reverse("notifications:list")).content.decode()
    assert "Already seen" in body and "notification unread" not in body and "Mark all as read" not in body


def test_empty_list_says_all_caught_up(login, partner_user):
    body = login(partner_user).get(reverse("notifications:list")).content.decode()
    assert "You're all caught up" in body


def test_mark_all_as_read(login, rep, marketer):
    _notify(rep)
    _notify(rep)
    _notify(marketer)
    client = login(rep)
    response = client.post(reverse("notifications:read_all"), follow=True)
    assert response.redirect_chain[-1][0] == reverse("notifications:list")
    assert "Marked 2 notifications as read." in response.content.decode()
    assert not Notification.objects.filter(recipient=rep, read_at=None).exists()
    assert Notification.objects.filter(recipient=marketer, read_at=None).exists()


def test_mark_all_as_read_needs_post(login, rep):
    assert login(rep).get(reverse("notifications:read_all")).status_code == 405


def test_opening_marks_read_and_follows_the_link(login, rep):
    notification = _notify(rep, url="/home/?from=notification")
    response = login(rep).get(reverse("notifications:open", args=[notification.pk]))
    assert response.status_code == 302 and response["Location"] == "/home/?from=notification"
    notification.refresh_from_db()
    assert notification.read_at is not None


def test_opening_by_post_works_too(login, rep):
    notification = _notify(rep, url="/home/")
    assert login(rep).post(reverse("notifications:open", args=[notification.pk]))["Location"] == "/home/"


def test_opening_without_link_goes_to_the_list(login, rep):
    notification = _notify(rep)
    response = login(rep).get(reverse("notifications:open", args=[notification.pk]))
    assert response["Location"] == reverse("notifications:list")


@pytest.mark.parametrize("url", ["https://elsewhere.example/", "//elsewhere.example/", "/\\elsewhere.example"])
def test_opening_never_leaves_the_site(login, rep, url):
    notification = NotificationFactory(recipient=rep, url=url)  # notify() refuses these; rows may predate it
    response = login(rep).get(reverse("notifications:open", args=[notification.pk]))
    assert response["Location"] == reverse("notifications:list")


def test_member_cannot_open_another_members_notification(login, rep, marketer):
    notification = _notify(marketer)
    assert login(rep).get(reverse("notifications:open", args=[notification.pk])).status_code == 404
    notification.refresh_from_db()
    assert notification.read_at is None


def test_outsider_gets_404(login, rep, outsider):
    notification = _notify(rep)
    assert login(outsider).get(reverse("notifications:open", args=[notification.pk])).status_code == 404
    assert login(outsider).post(reverse("notifications:open", args=[notification.pk])).status_code == 404


def test_anonymous_visitor_is_sent_to_login(client, rep):
    notification = _notify(rep)
    for url in (reverse("notifications:list"), reverse("notifications:open", args=[notification.pk])):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith(reverse("accounts:login"))
