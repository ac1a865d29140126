"""Handoffs: one MQL given to one rep with a due time, and how it ends (accepted, returned, reassigned).

A handoff opens whenever a lead becomes MQL: ``lead_transition(…, to=MQL)`` and the bulk
qualification of a rescore both call in here, so every path (scoring, fast lane, a person
moving the lead, "send to sales") gets one. At most one handoff of a lead is pending.
"""

from __future__ import annotations

import zoneinfo
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime

from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from leads.models import Handoff, Lead, ReturnReason, ScoringModel
from leads.routing import Router, RoutingDecision
from personas.models import DefinitionVersion
from personas.selectors import definitions_in_force
from sla.agreements import response_hours_for
from smarketing.accounts.models import Membership, Organization
from smarketing.accounts.policy import can, can_work_handoff
from smarketing.business_time import calendar_for
from smarketing.errors import Conflict, Forbidden, InvalidInput, reason_and_note
from smarketing.notifications.services import notify

_UNSET = object()


def handoff_due_at(*, org: Organization, start: datetime, rep_id: int | None = None) -> datetime:
    """When a handoff to ``rep_id`` made at ``start`` is due: the response window of the
    agreement in force (or the organisation's setting) in the organisation's business hours."""
    return calendar_for(org).add_hours(start, response_hours_for(org=org, rep_id=rep_id, at=start))


def handoff_at_risk_at(*, org: Organization, start: datetime, rep_id: int | None = None) -> datetime:
    """When a handoff made at ``start`` is at risk if still untouched: that share of its window."""
    hours = response_hours_for(org=org, rep_id=rep_id, at=start) * org.handoff_at_risk_percent / 100
    return calendar_for(org).add_hours(start, hours)


def _notify_new(handoff: Handoff, *, email: bool = True) -> None:
    lead = handoff.lead
    due = handoff.due_at.astimezone(_tz(lead.organization))
    body = f"Due {due:%a %d %b %H:%M} ({lead.organization.time_zone})."
    if handoff.note:
        body += f"\n\n{handoff.note}"
    notify(
        recipient=handoff.rep,
        kind="handoff.new",
        title=f"New handoff: {lead}",
        body=body,
        url=reverse("leads:lead_detail", args=[lead.pk]),
        email=email,
        now=handoff.created_at,
    )


def _tz(org: Organization) -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(org.time_zone)


def _build(
    *,
    lead: Lead,
    decision: RoutingDecision,
    created_by: Membership | None,
    note: str,
    now: datetime,
    definitions: DefinitionVersion | None,
    scoring_model: ScoringModel | None,
) -> Handoff:
    return Handoff(
        organization_id=lead.organization_id,
        lead=lead,
        rep=decision.rep,
        created_at=now,
        due_at=handoff_due_at(org=lead.organization, start=now, rep_id=decision.rep.pk),
        at_risk_at=handoff_at_risk_at(org=lead.organization, start=now, rep_id=decision.rep.pk),
        created_by=created_by,
        note=note.strip(),
        routing_rule=decision.rule,
        routing_log=decision.log,
        definitions_version=definitions,
        scoring_model=scoring_model,
    )


def handoff_open_for_mql(
    *,
    lead: Lead,
    actor: Membership | None = None,
    note: str = "",
    now: datetime | None = None,
    definitions: DefinitionVersion | object | None = _UNSET,
    scoring_model: ScoringModel | object | None = _UNSET,
) -> Handoff | None:
    """Route a lead that just became MQL and open its handoff; called by ``lead_transition``.

    Returns None, leaving the lead an MQL without a handoff, when the lead already has a
    pending handoff or when routing finds nobody (no matching rule and no fallback owner).
    The caller's transaction holds the lead's row lock.
    """
    from leads.services import active_scoring_model

    now = now or timezone.now()
    if Handoff.objects.filter(lead=lead, status__in=Handoff.OPEN).exists():
        return None
    decision = Router(org=lead.organization, now=now).route(lead)
    if decision.rep is None:
        return None
    if definitions is _UNSET:
        definitions = definitions_in_force(org=lead.organization, at=now)
    if scoring_model is _UNSET:
        scoring_model = active_scoring_model(lead.organization)
    handoff = _build(
        lead=lead,
        decision=decision,
        created_by=actor,
        note=note,
        now=now,
        definitions=definitions,
        scoring_model=scoring_model,
    )
    handoff.save()
    _notify_new(handoff)
    return handoff


@transaction.atomic
def handoff_create(
    *, lead: Lead, actor: Membership | None = None, note: str = "", now: datetime | None = None
) -> Handoff:
    """Send ``lead`` to sales: route it and open a pending handoff, due in business hours.

    A lead not yet MQL (a marketer's "send to sales") is first moved to MQL, with ``note`` as
    the reason; that move opens the handoff. A lead with a pending handoff is a Conflict, and
    so is a lead nobody can be given to (no matching rule, no fallback owner).
    """
    from leads.services import lead_transition

    now = now or timezone.now()
    if actor is not None:
        if actor.organization_id != lead.organization_id or not can(actor, "handoffs.create"):
            raise Forbidden("Only marketing and managers send leads to sales.")
    lead = Lead.objects.select_for_update(of=("self",)).select_related("organization").get(pk=lead.pk)
    if Handoff.objects.filter(lead=lead, status__in=Handoff.OPEN).exists():
        raise Conflict("This lead already has an open handoff.")
    if lead.lifecycle_stage == Lead.Stage.MQL:
        handoff = handoff_open_for_mql(lead=lead, actor=actor, note=note, now=now)
    elif Lead.Stage.MQL in Lead.TRANSITIONS[lead.lifecycle_stage]:
        lead_transition(
            lead=lead,
            to=Lead.Stage.MQL,
            actor=actor,
            rule="" if actor else "handoff",
            reason=note or "Sent to sales",
            now=now,
        )
        handoff = Handoff.objects.filter(lead=lead, status__in=Handoff.OPEN).first()
    else:
        raise Conflict(f"A lead at {lead.get_lifecycle_stage_display()} can't be sent to sales.")
    if handoff is None:
        raise Conflict(
            "Nobody to hand this lead to: no routing rule places it and the organisation has no fallback owner."
        )
    return handoff


def handoffs_create_bulk(
    *,
    org: Organization,
    lead_ids: Iterable[int],
    now: datetime | None = None,
    scoring_model: ScoringModel | object | None = _UNSET,
    definitions: DefinitionVersion | object | None = _UNSET,
    email: bool = True,
) -> list[Handoff]:
    """Open handoffs for many new MQLs at once (a rescore's bulk qualification, the demo).

    One routing state for the whole batch (a handful of queries, then in memory), one
    insert, and one notification per rep rather than one per lead. Leads that already have
    a pending handoff, or that nobody can be given to, get none. Call inside a transaction.
    """
    from leads.services import active_scoring_model

    now = now or timezone.now()
    ids = set(lead_ids)
    if not ids:
        return []
    ids -= set(Handoff.objects.filter(lead_id__in=ids, status__in=Handoff.OPEN).values_list("lead_id", flat=True))
    router = Router(org=org, now=now)
    if not router.rules and router.fallback is None:
        return []  # nobody to give them to: don't read the leads
    if definitions is _UNSET:
        definitions = definitions_in_force(org=org, at=now)
    if scoring_model is _UNSET:
        scoring_model = active_scoring_model(org)
    leads = (
        Lead.objects.for_org(org)
        .filter(pk__in=ids)
        .select_related("company", "first_campaign", "latest_campaign")
        .order_by("pk")
    )
    handoffs = []
    for lead in leads.iterator(chunk_size=2000):
        lead.organization = org
        decision = router.route(lead)
        if decision.rep is not None:
            handoffs.append(
                _build(
                    lead=lead,
                    decision=decision,
                    created_by=None,
                    note="",
                    now=now,
                    definitions=definitions,
                    scoring_model=scoring_model,
                )
            )
    Handoff.objects.bulk_create(handoffs, batch_size=2000)
    _notify_new_many(handoffs, org=org, email=email, now=now)
    return handoffs


def _notify_new_many(handoffs: list[Handoff], *, org: Organization, email: bool, now: datetime) -> None:
    """Tell each rep of their new handoffs: one notification per rep, not one per lead."""
    by_rep: dict[int, list[Handoff]] = defaultdict(list)
    for handoff in handoffs:
        by_rep[handoff.rep_id].append(handoff)
    for rep_handoffs in by_rep.values():
        if len(rep_handoffs) == 1:
            _notify_new(rep_handoffs[0], email=email)
        else:
            first_due = min(h.due_at for h in rep_handoffs).astimezone(_tz(org))
            notify(
                recipient=rep_handoffs[0].rep,
                kind="handoff.new",
                title=f"{len(rep_handoffs)} new handoffs",
                body=f"The first is due {first_due:%a %d %b %H:%M} ({org.time_zone}).",
                url=reverse("handoffs:queue"),
                email=email,
                now=now,
            )


def _locked(handoff: Handoff) -> Handoff:
    return Handoff.objects.select_for_update(of=("self",)).select_related("lead__organization").get(pk=handoff.pk)


@transaction.atomic
def handoff_accept(*, handoff: Handoff, actor: Membership, now: datetime | None = None) -> Handoff:
    """The rep (or a manager for them) takes the lead: it becomes SQL and the rep its owner."""
    from leads.services import lead_transition

    now = now or timezone.now()
    handoff = _locked(handoff)  # two accepts at once: one waits here, then sees it accepted
    if not can_work_handoff(actor, handoff):
        raise Forbidden("Only the rep it was handed to, or a manager, can accept this handoff.")
    if not handoff.is_open:
        raise Conflict(f"This handoff was already {handoff.get_status_display().lower()}.")
    handoff.status, handoff.accepted_at = Handoff.Status.ACCEPTED, now
    handoff.save(update_fields=["status", "accepted_at"])
    lead_transition(lead=handoff.lead, to=Lead.Stage.SQL, actor=actor, reason="Handoff accepted", now=now)
    Lead.objects.filter(pk=handoff.lead_id).update(owner=handoff.rep_id, updated_at=now)
    return handoff


@transaction.atomic
def handoff_return(
    *, handoff: Handoff, actor: Membership, reason: str, note: str = "", now: datetime | None = None
) -> Handoff:
    """Sales hands the lead back with a reason: not a fit is disqualified, anything else goes to nurture.

    The marketer who sent it (or else the owner of the lead's first campaign) is told.
    """
    from leads.services import lead_transition

    now = now or timezone.now()
    reason, note = reason_and_note(
        reason, note, choices=ReturnReason, ask="Choose why the lead goes back to marketing."
    )
    handoff = _locked(handoff)
    if not can_work_handoff(actor, handoff):
        raise Forbidden("Only the rep it was handed to, or a manager, can return this handoff.")
    if not handoff.is_open:
        raise Conflict(f"This handoff was already {handoff.get_status_display().lower()}.")
    handoff.status, handoff.returned_at = Handoff.Status.RETURNED, now
    handoff.return_reason, handoff.return_note = reason, note
    handoff.save(update_fields=["status", "returned_at", "return_reason", "return_note"])
    label = ReturnReason(reason).label
    to = Lead.Stage.DISQUALIFIED if reason == ReturnReason.NOT_A_FIT else Lead.Stage.NURTURE
    lead = lead_transition(
        lead=handoff.lead,
        to=to,
        actor=actor,
        reason=f"Returned by sales: {label}" + (f" — {note}" if note else ""),
        now=now,
    )
    recipient = handoff.created_by
    if recipient is None and lead.first_campaign_id:
        recipient = Membership.objects.filter(owned_campaigns=lead.first_campaign_id).first()
    if recipient is not None:
        notify(
            recipient=recipient,
            kind="handoff.returned",
            title=f"Returned by sales: {lead} ({label})",
            body=f"{actor.user} returned the lead: {label}." + (f"\n\n{note}" if note else ""),
            url=reverse("leads:lead_detail", args=[lead.pk]),
            now=now,
        )
    return handoff


@transaction.atomic
def handoff_reassign(
    *, handoff: Handoff, actor: Membership, to: Membership | None = None, now: datetime | None = None
) -> Handoff:
    """A manager gives a pending (or breached) handoff to ``to``, or re-routes it to someone else.

    The old handoff is marked reassigned and points at the new one, which has a fresh due time.
    Returns the new handoff.
    """
    now = now or timezone.now()
    if actor.organization_id != handoff.organization_id or not can(actor, "handoffs.manage"):
        raise Forbidden("Only managers reassign handoffs.")
    handoff = _locked(handoff)
    if not handoff.is_open:
        raise Conflict(f"This handoff was already {handoff.get_status_display().lower()}.")
    if to is not None:
        if to.organization_id != handoff.organization_id or to.removed_at is not None:
            raise InvalidInput("Unknown member.", field="to")
        if to.role not in (Membership.Role.SALES_REP, Membership.Role.MANAGER):
            raise InvalidInput("Only sales reps and managers take handoffs.", field="to")
        if to.pk == handoff.rep_id:
            raise InvalidInput("The handoff is already theirs.", field="to")
        decision = RoutingDecision(
            rep=to,
            rule=None,
            log=[{"step": "manual", "rep": to.pk, "name": str(to.user), "why": f"reassigned by {actor.user}"}],
        )
    else:
        decision = _route_again(handoff, now)
        if decision.rep is None:
            raise Conflict("Nobody else to give this lead to: name the rep.")
    return _hand_over(handoff, decision, now)


def _route_again(handoff: Handoff, now: datetime) -> RoutingDecision:
    lead = Lead.objects.select_related("company", "first_campaign", "latest_campaign", "organization")
    return Router(org=handoff.lead.organization, now=now).route(lead.get(pk=handoff.lead_id), exclude={handoff.rep_id})


@transaction.atomic
def handoffs_reroute(
    *,
    org: Organization,
    handoff_ids: Iterable[int],
    now: datetime | None = None,
    why: str = "breached and not taken within the grace",
    untouched_pending: bool = False,
) -> list[Handoff]:
    """Route handoffs to someone else with no person acting: breached ones once the grace is
    over (the deadline checks), or, with ``untouched_pending``, pending ones predicted to breach
    (the forecast, when the organisation asks for it). One routing state for all of them, bulk
    writes, one notification per new rep. Handoffs whose state changed meanwhile, or held by a
    concurrent run, are left alone; one nobody else can take stays as it is. Returns the new ones."""
    from leads.services import active_scoring_model

    now = now or timezone.now()
    state = (
        {"status": Handoff.Status.PENDING, "first_touch_at": None}
        if untouched_pending
        else {"status": Handoff.Status.BREACHED}
    )
    old = list(
        Handoff.objects.for_org(org)
        .filter(pk__in=list(handoff_ids), **state)
        .select_for_update(skip_locked=True, of=("self",))
        .select_related("lead__company", "lead__first_campaign", "lead__latest_campaign", "created_by")
        .order_by("pk")
    )
    if not old:
        return []
    router = Router(org=org, now=now)
    definitions, scoring_model = definitions_in_force(org=org, at=now), active_scoring_model(org)
    moved, new = [], []
    for handoff in old:
        handoff.lead.organization = org
        decision = router.route(handoff.lead, exclude={handoff.rep_id})
        if decision.rep is None:
            continue
        decision.log.append({"step": "rerouted", "why": why})
        handoff.status = Handoff.Status.REASSIGNED
        moved.append(handoff)
        new.append(
            _build(
                lead=handoff.lead,
                decision=decision,
                created_by=handoff.created_by,
                note=handoff.note,
                now=now,
                definitions=definitions,
                scoring_model=scoring_model,
            )
        )
    Handoff.objects.bulk_update(moved, ["status"])  # first: at most one open handoff per lead
    Handoff.objects.bulk_create(new)
    for handoff, successor in zip(moved, new, strict=True):
        handoff.reassigned_to = successor
    Handoff.objects.bulk_update(moved, ["reassigned_to"])
    _notify_new_many(new, org=org, email=True, now=now)
    return new


def _hand_over(handoff: Handoff, decision: RoutingDecision, now: datetime) -> Handoff:
    """End ``handoff`` as reassigned and open its successor for ``decision.rep``; returns the new one."""
    from leads.services import active_scoring_model

    lead = handoff.lead
    handoff.status = Handoff.Status.REASSIGNED
    handoff.save(update_fields=["status"])  # first: at most one open handoff per lead
    new = _build(
        lead=lead,
        decision=decision,
        created_by=handoff.created_by,  # who sent it to sales hears if it comes back
        note=handoff.note,
        now=now,
        definitions=definitions_in_force(org=lead.organization, at=now),
        scoring_model=active_scoring_model(lead.organization),
    )
    new.save()
    handoff.reassigned_to = new
    handoff.save(update_fields=["reassigned_to"])
    _notify_new(new)
    return new


def handoff_record_first_touch(*, handoff: Handoff, now: datetime) -> Handoff:
    """The rep's first touch stops the response clock; later touches change nothing."""
    if Handoff.objects.filter(pk=handoff.pk, first_touch_at=None).update(first_touch_at=now):
        handoff.first_touch_at = now
    else:
        handoff.refresh_from_db(fields=["first_touch_at"])
    return handoff
