"""The one path to tenant data.

Every organisation-owned model uses ``OrgQuerySet`` and is read through
``Model.objects.for_org(org)``. Pages get ``request.org`` and ``request.membership`` from
``OrganizationMiddleware`` (the organisation chosen in the session among the user's active
memberships) and are guarded by ``@org_required``; the API gets them from the credential
(see ``authentication.py``). A missing organisation is a programming error, not an empty
result: ``for_org(None)`` raises.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache, wraps
from typing import TYPE_CHECKING, Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db import models
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect

if TYPE_CHECKING:
    from smarketing.accounts.models import Membership, Organization

SESSION_KEY = "organization_id"


class OrgQuerySet(models.QuerySet):
    def for_org(self, org: Organization) -> OrgQuerySet:
        if org is None or org.pk is None:
            raise ValueError("for_org() needs a saved organisation.")
        return self.filter(organization=org)


def get_for_org(queryset: models.QuerySet, *, org: Organization, **lookup: Any) -> models.Model:
    """One object of ``org``: another organisation's id and a missing id are the same 404.

    The object's ``organization`` is ``org`` itself, not read again when code follows it."""
    obj = get_object_or_404(queryset.for_org(org), **lookup)
    if "organization" not in obj._state.fields_cache:
        obj.organization = org
    return obj


def active_memberships(user) -> models.QuerySet[Membership]:
    from smarketing.accounts.models import Membership

    return (
        Membership.objects.filter(user=user, removed_at=None)
        .select_related("organization")
        .order_by("organization__name")
    )


@cache
def _active_memberships_read():
    """``active_memberships`` built once per process and prepared once per connection (every
    signed-in page reads it: ≈ 0.13 ms of Python against ≈ 0.75 for the ORM's join and sort)."""
    from smarketing.accounts.models import User
    from smarketing.prepared import PreparedRead

    return PreparedRead(active_memberships, user=User)


def _memberships_of(user) -> list[Membership]:
    return _active_memberships_read()(user=user)


def resolve_membership(request: HttpRequest) -> Membership | None:
    """The membership the signed-in user is acting as: the session's choice, else the first.

    Reads all of the user's active memberships in one query (a person belongs to a handful of
    organisations) and keeps them as ``request.memberships``: the header's organisation switcher
    lists them, so a page reads them once, not twice.
    """
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return None
    memberships = _memberships_of(user)
    request.memberships = memberships
    chosen = request.session.get(SESSION_KEY)
    membership = next((m for m in memberships if m.organization_id == chosen), None) if chosen is not None else None
    if membership is None and memberships:
        membership = memberships[0]
        request.session[SESSION_KEY] = membership.organization_id
    return membership


def request_memberships(request: HttpRequest) -> list[Membership]:
    """The signed-in user's active memberships, ordered by organisation name: those the middleware
    read for this request, else read now (a membership chosen since, e.g. a new organisation, is
    not among those read)."""
    memberships = getattr(request, "memberships", None)
    membership = getattr(request, "membership", None)
    if memberships is None or (membership is not None and membership not in memberships):
        memberships = request.memberships = _memberships_of(request.user)
    return memberships


def select_organization(request: HttpRequest, membership: Membership) -> None:
    request.session[SESSION_KEY] = membership.organization_id
    request.membership = membership
    request.org = membership.organization


class OrganizationMiddleware:
    """Sets ``request.membership`` and ``request.org`` once per request."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.membership = resolve_membership(request)
        request.org = request.membership.organization if request.membership else None
        return self.get_response(request)


def org_required(view: Callable | None = None, *, permission: str | None = None) -> Callable:
    """Guard a page: signed in, a member of an organisation, and (optionally) allowed by policy.

    Use as ``@org_required`` or ``@org_required(permission="members.manage")``.
    """
    from django.contrib.auth.views import redirect_to_login

    from smarketing.accounts.policy import can

    def decorator(view_func: Callable) -> Callable:
        @wraps(view_func)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if request.membership is None:
                messages.info(request, "Create an organisation, or ask an admin to invite you to one.")
                return redirect("accounts:organization_create")
            if permission is not None and not can(request.membership, permission):
                raise PermissionDenied(f"Your role cannot do this ({permission}).")
            return view_func(request, *args, **kwargs)

        return wrapper

    return decorator(view) if view is not None else decorator
