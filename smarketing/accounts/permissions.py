"""DRF permission: the caller acts for an organisation, and the policy allows the view's action."""

from __future__ import annotations

from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from smarketing.accounts.authentication import api_actor
from smarketing.accounts.policy import can


def required_action(view, method: str) -> str | None:
    """A view declares ``permission = "action"`` or ``permissions = {"GET": ..., "POST": ...}``."""
    by_method = getattr(view, "permissions", None)
    if by_method:
        return by_method.get(method, by_method.get("*"))
    return getattr(view, "permission", None)


class IsOrganizationMember(BasePermission):
    message = "You are not a member of an organisation."

    def has_permission(self, request: Request, view) -> bool:
        actor = api_actor(request)
        if actor is None:
            return False
        action = required_action(view, request.method)
        if action is not None and not can(actor, action):
            self.message = f"Your role cannot do this ({action})."
            return False
        return True
