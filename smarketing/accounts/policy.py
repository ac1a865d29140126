"""Who may do what: the one place role rules live, used by pages and the API alike.

``can(actor, action)`` answers for a membership (a person acting in an organisation) or an
API key (a machine acting for one). Issues that add features add their actions here.
"""

from __future__ import annotations

from collections.abc import Callable

from smarketing.accounts.models import ApiKey, Membership

Role = Membership.Role
Side = Membership.Side
EVERYONE = frozenset(Role)
STAFF = EVERYONE - {Role.PARTNER}  # partners see only their own partner's records
MARKETING_EDITORS = frozenset({Role.ADMIN, Role.MANAGER, Role.MARKETER})


def _manager_with_side(m: Membership) -> bool:
    """Sign-offs are by a manager speaking for one side of the revenue team."""
    return m.role == Role.MANAGER and m.side in Side.values


def _marketing_side(m: Membership) -> bool:
    return m.role in (Role.ADMIN, Role.MARKETER) or (m.role == Role.MANAGER and m.side == Side.MARKETING)


# An action is allowed for a set of roles, or by a rule on the membership.
ROLE_RULES: dict[str, frozenset[str] | Callable[[Membership], bool]] = {
    "organization.view": EVERYONE,
    "organization.manage": frozenset({Role.ADMIN}),
    "members.view": STAFF,
    "members.manage": frozenset({Role.ADMIN}),
    "api_keys.manage": frozenset({Role.ADMIN}),
    # Partners see no leads until the partner channel scopes them to their own (partner issue).
    "leads.view": STAFF,
    "leads.edit": STAFF,
    "leads.manage": MARKETING_EDITORS | {Role.MANAGER},  # bulk owner changes and exports
    "leads.import": MARKETING_EDITORS | {Role.MANAGER},  # CSV import
    "webforms.edit": MARKETING_EDITORS,
    "events.ingest": frozenset({Role.ADMIN, Role.MARKETER}),
    "scoring.view": STAFF,
    "scoring.edit": MARKETING_EDITORS,
    "personas.view": EVERYONE,
    "personas.edit": MARKETING_EDITORS,
    "definitions.view": EVERYONE,
    "definitions.propose": frozenset({Role.MANAGER}),
    "definitions.sign": _manager_with_side,
    "content.view": STAFF,
    "content.edit": MARKETING_EDITORS,
    "content_requests.view": STAFF,
    "content_requests.create": frozenset({Role.ADMIN, Role.MANAGER, Role.SALES_REP}),
    "content_requests.triage": _marketing_side,
    "campaigns.view": STAFF,
    "campaigns.edit": MARKETING_EDITORS,
    "handoffs.view": STAFF,
    "handoffs.create": MARKETING_EDITORS,  # "send to sales"
    "handoffs.work": frozenset({Role.ADMIN, Role.MANAGER, Role.SALES_REP}),  # accept or return (own, for reps)
    "handoffs.manage": frozenset({Role.ADMIN, Role.MANAGER}),  # any handoff; reassign
    "routing.view": STAFF,
    "routing.edit": frozenset({Role.ADMIN, Role.MANAGER}),
    "touches.log": frozenset({Role.ADMIN, Role.MANAGER, Role.SALES_REP}),  # on their own leads, for reps
    "opportunities.view": STAFF,
    "opportunities.work": frozenset({Role.ADMIN, Role.MANAGER, Role.SALES_REP}),  # own deals, for reps
    "opportunities.manage": frozenset({Role.ADMIN, Role.MANAGER}),  # any deal; set its owner
    "sla.view": STAFF,
    "sla.edit": frozenset({Role.ADMIN, Role.MANAGER}),  # draft, change, withdraw, renew (signing: managers by side)
}

# Machine clients act for the organisation but never administer it.
API_KEY_ACTIONS: frozenset[str] = frozenset({"organization.view", "events.ingest"})


def can(actor: Membership | ApiKey | None, action: str) -> bool:
    if action not in ROLE_RULES:
        raise KeyError(f"Unknown action {action!r}: add it to ROLE_RULES.")
    if isinstance(actor, ApiKey):
        return action in API_KEY_ACTIONS
    if isinstance(actor, Membership) and actor.is_active:
        rule = ROLE_RULES[action]
        return rule(actor) if callable(rule) else actor.role in rule
    return False


def can_work_handoff(actor: Membership | ApiKey | None, handoff) -> bool:
    """Accept or return ``handoff``: its own rep, or a manager or admin of its organisation."""
    if not isinstance(actor, Membership) or actor.organization_id != handoff.organization_id:
        return False
    if can(actor, "handoffs.manage"):
        return True
    return can(actor, "handoffs.work") and handoff.rep_id == actor.pk


def can_see_all_handoffs(actor: Membership | ApiKey | None) -> bool:
    """Managers, admins and marketing see every handoff of the organisation; a rep only their own."""
    return can(actor, "handoffs.manage") or can(actor, "handoffs.create")


def can_view_handoff(actor: Membership | ApiKey | None, handoff) -> bool:
    """Read ``handoff``: anyone who sees all handoffs, or the rep it was handed to."""
    if not isinstance(actor, Membership) or actor.organization_id != handoff.organization_id:
        return False
    return can_see_all_handoffs(actor) or (can(actor, "handoffs.view") and handoff.rep_id == actor.pk)


def allowed_actions(actor: Membership | ApiKey | None) -> frozenset[str]:
    return frozenset(action for action in ROLE_RULES if can(actor, action))


def can_work_lead(actor: Membership | ApiKey | None, lead, *, action: str, pending_reps=None) -> bool:
    """Log a touch on, or open a deal for, ``lead``: a manager or admin, or the rep who works it.

    A rep works the leads they own and the ones handed to them that are still pending
    (``pending_reps``: the member ids the lead's pending handoffs are with, when the caller
    has them at hand; else they are looked up).
    """
    if not isinstance(actor, Membership) or actor.organization_id != lead.organization_id:
        return False
    if not can(actor, action):
        return False
    if can(actor, "handoffs.manage") or lead.owner_id == actor.pk:
        return True
    if pending_reps is not None:
        return actor.pk in pending_reps
    return lead.handoffs.filter(rep=actor, status__in=("pending", "breached")).exists()


def can_work_opportunity(actor: Membership | ApiKey | None, opportunity) -> bool:
    """Change, win or lose ``opportunity``: its owner, or a manager or admin."""
    if not isinstance(actor, Membership) or actor.organization_id != opportunity.organization_id:
        return False
    if can(actor, "opportunities.manage"):
        return True
    return can(actor, "opportunities.work") and opportunity.owner_id == actor.pk
