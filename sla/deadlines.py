"""The response-time deadline checks, run every minute by Celery beat (``sla.tasks.check_deadlines``).

One sweep, for every organisation:

1. **At risk**: a pending handoff still untouched once its ``at_risk_at`` passed (a share of
   its window, ``Organization.handoff_at_risk_percent``) warns its rep, once.
2. **Breach**: a pending handoff untouched at its due time becomes ``breached``, once; its rep
   and their managers are told. A breached handoff stays open: the rep can still accept or
   return it, a manager reassign it.
3. **Re-route**: a handoff breached longer than the organisation's grace
   (``handoff_breach_grace_hours`` business hours; none: never) is routed to someone else.

Exactly once, whatever runs at the same time: rows are claimed with ``FOR UPDATE SKIP
LOCKED`` and changed in the same transaction as their notifications, so a second sweep
(two beats, a retried task) skips what the first holds and no longer matches what it
changed. Each step reads a partial index (``handoff_at_risk_idx``, ``handoff_breach_due_idx``,
``handoff_reroute_idx``) up to ``batch`` rows at a time: an idle tick is three index probes.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import prefetch_related_objects
from django.urls import reverse
from django.utils import timezone

from leads.handoffs import handoffs_reroute
from leads.models import Handoff
from smarketing.accounts.models import Membership, Organization
from smarketing.business_time import calendar_for
from smarketing.notifications.services import Notice, notify_many

BATCH = 500


@dataclass
class SweepResult:
    at_risk: int = 0
    breached: int = 0
    rerouted: int = 0


def check_deadlines(*, now: datetime | None = None, batch: int = BATCH) -> SweepResult:
    """Warn, breach and re-route what is due at ``now`` (default: the current time)."""
    now = now or timezone.now()
    result = SweepResult()
    while True:  # a full batch may have more behind it
        claimed = _warn_at_risk(now, batch)
        result.at_risk += claimed
        if claimed < batch:
            break
    while True:
        claimed = _breach(now, batch)
        result.breached += claimed
        if claimed < batch:
            break
    result.rerouted = _reroute(now)
    return result


def _claim(qs, batch: int, *, order: str) -> list[Handoff]:
    """Lock up to ``batch`` rows of ``qs`` others don't hold, in the order of the partial index
    that serves it (ordered by id, PostgreSQL walked the primary key and filtered every row).

    Their leads, reps and organisations are read by id afterwards: joined into the claim,
    PostgreSQL hashed them and scanned every lead to find a handful. Read by id, handoffs of one
    organisation share one organisation object, and so one calendar (one holiday query)."""
    handoffs = list(qs.select_for_update(skip_locked=True).order_by(order, "id")[:batch])
    prefetch_related_objects(handoffs, "lead", "rep__user", "organization")
    return handoffs


@transaction.atomic
def _warn_at_risk(now: datetime, batch: int) -> int:
    handoffs = _claim(
        Handoff.objects.filter(
            status=Handoff.Status.PENDING,
            first_touch_at=None,
            at_risk_notified_at=None,
            at_risk_at__lte=now,
            due_at__gt=now,  # past due it is a breach, not a warning
        ),
        batch,
        order="at_risk_at",
    )
    Handoff.objects.filter(pk__in=[h.pk for h in handoffs]).update(at_risk_notified_at=now)
    notify_many(
        [_to_rep(h, "handoff.at_risk", "At risk: {lead} is due {due:%a %H:%M}", AT_RISK_BODY) for h in handoffs],
        now=now,
    )
    return len(handoffs)


def _lead_path(lead_id: int) -> str:
    return reverse("leads:lead_detail", args=[lead_id])


AT_RISK_BODY = "Nobody has reached this lead yet. Log your first call or email before it is due."
BREACH_BODY = "The response window passed with no touch. Reach the lead now, or return it."


def _to_rep(handoff: Handoff, kind: str, title: str, body: str) -> Notice:
    """A notice to the handoff's rep; ``title`` may name ``{lead}`` and ``{due}`` (local time)."""
    due = handoff.due_at.astimezone(calendar_for(handoff.organization).tz)
    return Notice(
        recipient=handoff.rep,
        kind=kind,
        title=title.format(lead=handoff.lead, due=due),
        body=body,
        url=_lead_path(handoff.lead_id),
    )


@transaction.atomic
def _breach(now: datetime, batch: int) -> int:
    handoffs = _claim(
        Handoff.objects.filter(status=Handoff.Status.PENDING, first_touch_at=None, due_at__lte=now),
        batch,
        order="due_at",
    )
    if not handoffs:
        return 0
    for h in handoffs:
        org = h.organization
        h.status, h.breached_at = Handoff.Status.BREACHED, now
        if org.handoff_breach_grace_hours is not None:
            h.reroute_at = calendar_for(org).add_hours(now, org.handoff_breach_grace_hours)
    Handoff.objects.bulk_update(handoffs, ["status", "breached_at", "reroute_at"])
    managers = _managers_of({h.rep for h in handoffs})
    notices = []
    for h in handoffs:
        notices.append(_to_rep(h, "handoff.breached", "Breached: {lead} was due {due:%a %d %b %H:%M}", BREACH_BODY))
        notices.extend(
            Notice(
                recipient=manager,
                kind="handoff.breached",
                title=f"Breached: {h.rep.user} did not reach {h.lead} in time",
                body="Reassign it from the queue, or let the grace period re-route it.",
                url=_lead_path(h.lead_id),
            )
            for manager in managers.get(h.rep_id, ())
            if manager.pk != h.rep_id
        )
    notify_many(notices, now=now)
    return len(handoffs)


def _managers_of(reps: set[Membership]) -> dict[int, list[Membership]]:
    """Each rep's managers: the managers in their teams, else their organisation's sales managers,
    else all its managers."""
    found: dict[int, list[Membership]] = defaultdict(list)
    if not reps:
        return found
    by_org: dict[int, list[Membership]] = defaultdict(list)
    active = Membership.objects.filter(role=Membership.Role.MANAGER, removed_at=None).select_related("user")
    for m in active.filter(organization_id__in={r.organization_id for r in reps}):
        by_org[m.organization_id].append(m)
    in_teams = active.filter(team_memberships__team__members__membership__in=reps).values_list(
        "team_memberships__team__members__membership", "pk"
    )
    managers = {m.pk: m for ms in by_org.values() for m in ms}
    for rep_id, manager_id in in_teams:
        if manager_id in managers and managers[manager_id] not in found[rep_id]:
            found[rep_id].append(managers[manager_id])
    for rep in reps:
        if not found[rep.pk]:
            org_managers = by_org.get(rep.organization_id, [])
            found[rep.pk] = [m for m in org_managers if m.side == Membership.Side.SALES] or org_managers
    return found


def _reroute(now: datetime) -> int:
    """Route handoffs whose grace after the breach has ended to someone else (``reroute_at``,
    set at the breach from the organisation's grace in its business hours), one routing
    state per organisation. One nobody else can take waits for a manager, tried again each
    sweep."""
    due: dict[int, list[int]] = defaultdict(list)
    for pk, org_id in Handoff.objects.filter(status=Handoff.Status.BREACHED, reroute_at__lte=now).values_list(
        "pk", "organization_id"
    ):
        due[org_id].append(pk)
    orgs = Organization.objects.in_bulk(list(due))
    return sum(len(handoffs_reroute(org=orgs[org_id], handoff_ids=ids, now=now)) for org_id, ids in due.items())
