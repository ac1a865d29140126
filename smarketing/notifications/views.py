"""Pages of the notification centre: the member's own notifications, and opening one."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST

from smarketing.accounts.tenancy import org_required
from smarketing.notifications import selectors, services

PAGE_SIZE = 25


@org_required
def notification_list(request: HttpRequest) -> HttpResponse:
    paginator = Paginator(selectors.notification_list(membership=request.membership), PAGE_SIZE)
    page = paginator.get_page(request.GET.get("page"))
    return render(request, "notifications/list.html", {"page_obj": page})


@org_required
@require_POST
def notification_read_all(request: HttpRequest) -> HttpResponse:
    count = services.notifications_mark_all_read(membership=request.membership)
    if count:
        messages.success(request, f"Marked {count} notification{'s' if count != 1 else ''} as read.")
    return redirect("notifications:list")


@org_required
@require_http_methods(["GET", "POST"])
def notification_open(request: HttpRequest, notification_id: int) -> HttpResponse:
    """Follow a notification's link, marking it read on the way."""
    notification = selectors.notification_get(membership=request.membership, notification_id=notification_id)
    services.notification_mark_read(notification=notification)
    if _is_local_path(notification.url):
        return redirect(notification.url)
    return redirect("notifications:list")


def _is_local_path(url: str) -> bool:
    # Only paths of this site: a stored link must never send a member elsewhere.
    return url.startswith("/") and url_has_allowed_host_and_scheme(url, allowed_hosts=None)
