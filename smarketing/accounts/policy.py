"""Who may do what: the one place role rules live, used by pages and the API alike.

``can(actor, action)`` answers for a membership (a person acting in an organisation) or an
API key (a machine acting for one). Issues that add features add their actions here.
"""

from __future__ import annotations

from smarketing.accounts.models import ApiKey, Membership

Role = Membership.Role
EVERYONE = frozenset(Role)
STAFF = EVERYONE - {Role.PARTNER}  # partners see only their own partner's records

ROLE_RULES: dict[str, frozenset[str]] = {
    "organization.view": EVERYONE,
    "organization.manage": frozenset({Role.ADMIN}),
    "members.view": STAFF,
    "members.manage": frozenset({Role.ADMIN}),
    "api_keys.manage": frozenset({Role.ADMIN}),
    "leads.view": EVERYONE,
}

# Machine clients act for the organisation but never administer it.
API_KEY_ACTIONS: frozenset[str] = frozenset({"organization.view"})


def can(actor: Membership | ApiKey | None, action: str) -> bool:
    if action not in ROLE_RULES:
        raise KeyError(f"Unknown action {action!r}: add it to ROLE_RULES.")
    if isinstance(actor, ApiKey):
        return action in API_KEY_ACTIONS
    if isinstance(actor, Membership) and actor.is_active:
        return actor.role in ROLE_RULES[action]
    return False


def allowed_actions(actor: Membership | ApiKey | None) -> frozenset[str]:
    return frozenset(action for action in ROLE_RULES if can(actor, action))
