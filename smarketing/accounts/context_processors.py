from __future__ import annotations

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from smarketing.accounts.tenancy import request_memberships


def tenancy(request: HttpRequest) -> dict:
    """The current organisation, and (lazily) every organisation the user can switch to: those the
    middleware read with the current one (no second query)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {
        "org": getattr(request, "org", None),
        "membership": getattr(request, "membership", None),
        "my_memberships": SimpleLazyObject(lambda: request_memberships(request)),
    }
