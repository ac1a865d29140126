"""Touches: what a rep did to reach a lead, and the first one stopping the handoff's response clock."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from leads.handoffs import handoff_record_first_touch
from leads.models import Handoff, Lead, Touch
from personas.models import ContentAsset
from smarketing.accounts.models import Membership
from smarketing.accounts.policy import can_work_lead
from smarketing.errors import Forbidden, InvalidInput

# A phone's clock may run a little ahead of the server's; more than this is a typo.
CLOCK_SKEW = timedelta(minutes=5)
# Handoffs a touch can be on: the one the rep is working (or was late on).
WORKED_STATUSES = (Handoff.Status.PENDING, Handoff.Status.ACCEPTED, Handoff.Status.BREACHED)


@transaction.atomic
def touch_log(
    *,
    lead: Lead,
    actor: Membership,
    kind: str,
    occurred_at: datetime,
    outcome: str = "",
    note: str = "",
    content: ContentAsset | None = None,
    now: datetime | None = None,
) -> Touch:
    """Record a touch by ``actor`` on ``lead``.

    An attempt (anything but a note) needs an outcome; a note has none. A touch can't be dated
    in the future. The first attempt after the lead's current handoff was made stops its
    response clock (``first_touch_at``). Content shared counts as the lead having consumed it.
    """
    now = now or timezone.now()
    if not can_work_lead(actor, lead, action="touches.log"):
        raise Forbidden("Only the rep working this lead, or a manager, can log touches on it.")
    if kind not in Touch.Kind.values:
        raise InvalidInput("Choose what kind of touch it was.", field="kind")
    if occurred_at > now + CLOCK_SKEW:
        raise InvalidInput("A touch can't be in the future.", field="occurred_at")
    note = note.strip()
    if kind == Touch.Kind.NOTE:
        if outcome:
            raise InvalidInput("A note has no outcome.", field="outcome")
        if not note:
            raise InvalidInput("Write the note.", field="note")
    elif outcome not in Touch.Outcome.values:
        raise InvalidInput("Choose how it went.", field="outcome")
    if content is not None and content.organization_id != lead.organization_id:
        raise InvalidInput("Unknown content.", field="content")
    handoff = Handoff.objects.filter(lead=lead, status__in=WORKED_STATUSES).order_by("-created_at", "-id").first()
    touch = Touch.objects.create(
        organization_id=lead.organization_id,
        lead=lead,
        handoff=handoff,
        rep=actor,
        kind=kind,
        outcome=outcome,
        occurred_at=min(occurred_at, now),
        note=note,
        content=content,
        created_at=now,
    )
    # Pages enter times to the minute: a touch in the minute the handoff was made came after it.
    if (
        handoff is not None
        and touch.is_attempt
        and handoff.first_touch_at is None
        and touch.occurred_at >= handoff.created_at.replace(second=0, microsecond=0)
    ):
        handoff_record_first_touch(handoff=handoff, now=max(touch.occurred_at, handoff.created_at))
    return touch


def lead_consumed_asset_ids(lead: Lead) -> set[int]:
    """Library assets the lead has had: shared in a touch, or downloaded (``asset_id`` on the event)."""
    shared = set(Touch.objects.filter(lead=lead, content__isnull=False).values_list("content_id", flat=True))
    downloaded = {
        int(value)
        for value in lead.events.filter(event_type="content_download", properties__has_key="asset_id")
        .values_list("properties__asset_id", flat=True)
        .order_by()
        if str(value).isdigit()
    }
    return shared | downloaded
