"""Event ingestion: validate a batch, store what is valid, report the rest by index.

The stored event is the source of truth. The request path only validates and stores (and
creates leads for unknown emails, and stitches anonymous visitors who identify); scoring
happens in Celery. Enqueueing is best effort: if the broker is down the events are still
stored, and ``sweep_unscored_events`` (beat, every minute) scores them when it is back.

Limits (documented in the README): 1,000 events a request; ``properties`` at most 8 KB of
JSON; ids and anonymous ids at most 100 characters; ``occurred_at`` ISO 8601 (no offset means
UTC), not more than 5 minutes in the future nor older than 5 years.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models.functions import Upper
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from kombu.exceptions import OperationalError

from leads.models import ActivityEvent, Lead, Visitor
from leads.services import LeadInput, lead_create, lead_update
from smarketing.accounts.models import Organization
from smarketing.errors import DomainError

logger = logging.getLogger(__name__)

MAX_EVENTS = 1000
MAX_PROPERTIES_BYTES = 8 * 1024
MAX_ID = 100
FUTURE_TOLERANCE = timedelta(minutes=5)
OLDEST = timedelta(days=5 * 365)
LEAD_ATTRIBUTES = {
    "first_name", "last_name", "title", "seniority", "phone", "company_name", "company_domain", "industry",
    "company_size", "country", "buyer_stage",
}  # fmt: skip


class BatchTooLarge(DomainError):
    status_code = 413


@dataclass
class IngestResult:
    accepted: int = 0
    duplicates: int = 0
    errors: list[dict] = field(default_factory=list)
    event_ids: list[int] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"accepted": self.accepted, "duplicates": self.duplicates, "errors": self.errors}


@dataclass
class _Valid:
    index: int
    client_id: str
    event_type: str
    occurred_at: datetime
    email: str
    anonymous_id: str
    properties: dict
    lead_attributes: dict


def _clean(index: int, raw: object, now: datetime) -> _Valid:
    """One event checked; raises ValueError with the message reported for its index."""
    if not isinstance(raw, dict):
        raise ValueError("An event is a JSON object.")
    client_id = raw.get("id")
    if not isinstance(client_id, str) or not client_id.strip() or len(client_id) > MAX_ID:
        raise ValueError(f"“id” is required: your own unique id for the event, up to {MAX_ID} characters.")
    event_type = raw.get("type")
    if event_type not in ActivityEvent.Type.values:
        raise ValueError(f"Unknown type {str(event_type)[:50]!r}; one of: {', '.join(ActivityEvent.Type.values)}.")
    occurred_raw = raw.get("occurred_at")
    occurred_at = parse_datetime(occurred_raw) if isinstance(occurred_raw, str) else None
    if occurred_at is None:
        raise ValueError("“occurred_at” must be an ISO 8601 date and time, e.g. 2026-11-23T09:30:00Z.")
    if timezone.is_naive(occurred_at):
        occurred_at = occurred_at.replace(tzinfo=UTC)
    if occurred_at > now + FUTURE_TOLERANCE:
        raise ValueError("“occurred_at” is in the future; check the sender's clock.")
    if occurred_at < now - OLDEST:
        raise ValueError("“occurred_at” is more than 5 years old.")
    email = raw.get("email") or ""
    anonymous_id = raw.get("anonymous_id") or ""
    if not isinstance(email, str) or not isinstance(anonymous_id, str):
        raise ValueError("“email” and “anonymous_id” are strings.")
    if not email and not anonymous_id:
        raise ValueError("An event needs an “email” or an “anonymous_id”.")
    if email:
        try:
            validate_email(email)
        except ValidationError:
            raise ValueError(f"“{email[:100]}” is not a valid email address.") from None
    if len(anonymous_id) > MAX_ID:
        raise ValueError(f"“anonymous_id” is longer than {MAX_ID} characters.")
    properties = raw.get("properties") or {}
    if not isinstance(properties, dict):
        raise ValueError("“properties” is a JSON object.")
    if len(json.dumps(properties)) > MAX_PROPERTIES_BYTES:
        raise ValueError(f"“properties” is larger than {MAX_PROPERTIES_BYTES // 1024} KB.")
    attributes = raw.get("lead") or {}
    if not isinstance(attributes, dict):
        raise ValueError("“lead” is a JSON object of lead attributes.")
    unknown = set(attributes) - LEAD_ATTRIBUTES
    if unknown:
        raise ValueError(f"Unknown lead attribute(s): {', '.join(sorted(unknown))[:200]}.")
    return _Valid(
        index, client_id.strip(), event_type, occurred_at, email.strip().lower(), anonymous_id, properties, attributes
    )


class _CampaignsByUtm:
    """The campaign an event's utm_source/medium/campaign properties name, looked up once per batch."""

    def __init__(self, org: Organization) -> None:
        self.org, self.cache = org, {}

    def get(self, properties: dict):
        from leads.campaigns import campaign_by_utm

        utm = tuple(str(properties.get(f"utm_{k}") or "") for k in ("source", "medium", "campaign"))
        if not any(utm):
            return None
        if utm not in self.cache:
            self.cache[utm] = campaign_by_utm(org=self.org, source=utm[0], medium=utm[1], campaign=utm[2])
        return self.cache[utm]


def _lead_input(attributes: dict) -> LeadInput:
    data = {k: v for k, v in attributes.items() if v not in (None, "")}
    if "company_size" in data:
        data["company_size"] = int(data["company_size"])
    return LeadInput(**data)


def events_ingest(*, org: Organization, payload: object, now: datetime | None = None) -> IngestResult:
    """Store the valid events of ``payload`` ({"events": [...]}) for ``org``; report the others.

    Re-sending an event id already stored counts as a duplicate, never a second event.
    """
    now = now or timezone.now()
    if not isinstance(payload, dict) or not isinstance(payload.get("events"), list):
        raise DomainError('Send a JSON object {"events": [ … ]}.', field="events")
    raw_events = payload["events"]
    if len(raw_events) > MAX_EVENTS:
        raise BatchTooLarge(
            f"At most {MAX_EVENTS:,} events per request; this one has {len(raw_events):,}.", field="events"
        )
    result = IngestResult()
    valid: list[_Valid] = []
    seen: set[str] = set()
    for index, raw in enumerate(raw_events):
        try:
            event = _clean(index, raw, now)
        except ValueError as exc:
            result.errors.append({"index": index, "error": str(exc)})
            continue
        if event.client_id in seen:
            result.duplicates += 1
            continue
        seen.add(event.client_id)
        valid.append(event)
    if valid:
        _store(org, valid, result, now)
    return result


@transaction.atomic
def _store(org: Organization, valid: list[_Valid], result: IngestResult, now: datetime) -> None:
    stored = set(
        ActivityEvent.objects.for_org(org)
        .filter(client_event_id__in=[e.client_id for e in valid])
        .values_list("client_event_id", flat=True)
    )
    fresh = [e for e in valid if e.client_id not in stored]
    result.duplicates += len(valid) - len(fresh)
    leads = _leads_for(org, fresh, result, now)
    visitors = _visitors_for(org, fresh, leads, now)
    campaigns = _CampaignsByUtm(org)
    rows, touched = [], {}
    for e in fresh:
        lead = leads.get(e.email) if e.email else visitors.get(e.anonymous_id)
        if e.email and lead is None:
            continue  # its lead could not be created: reported by index in _leads_for
        campaign = campaigns.get(e.properties)
        if campaign is not None and lead is not None:
            touched[lead.pk] = campaign
        rows.append(
            ActivityEvent(
                organization=org,
                lead=lead,
                anonymous_id=e.anonymous_id,
                client_event_id=e.client_id,
                event_type=e.event_type,
                occurred_at=e.occurred_at,
                received_at=now,
                properties=e.properties,
                campaign=campaign,
            )
        )
    for lead_id, campaign in touched.items():
        # Campaign touches: the first stays first; the latest is the newest.
        Lead.objects.filter(pk=lead_id, first_campaign=None).update(first_campaign=campaign)
        Lead.objects.filter(pk=lead_id).update(latest_campaign=campaign)
    # ignore_conflicts: a concurrent request with the same event id stores it once.
    ActivityEvent.objects.bulk_create(rows, batch_size=1000, ignore_conflicts=True)
    result.accepted = len(rows)
    transaction.on_commit(lambda: enqueue_scoring(org.pk))


def _leads_for(org: Organization, events: list[_Valid], result: IngestResult, now: datetime) -> dict[str, Lead]:
    """Leads by email for the batch: existing ones in one query, unknown emails created."""
    emails = {e.email for e in events if e.email}
    # Through the UPPER(email) unique index: one indexed probe per email.
    found = Lead.objects.for_org(org).alias(email_key=Upper("email")).filter(email_key__in=[e.upper() for e in emails])
    leads = {lead.email.lower(): lead for lead in found}
    for e in events:
        if not e.email:
            continue
        try:
            if e.email not in leads:
                leads[e.email] = lead_create(
                    org=org,
                    data=_lead_input({**e.lead_attributes, "email": e.email})
                    if e.lead_attributes
                    else LeadInput(email=e.email),
                    rule=f"event:{e.event_type}",
                    now=now,
                )
            elif e.lead_attributes:
                leads[e.email] = lead_update(lead=leads[e.email], data=_lead_input(e.lead_attributes), now=now)
        except (DomainError, ValueError, TypeError) as exc:
            message = exc.message if isinstance(exc, DomainError) else "Invalid lead attributes."
            result.errors.append({"index": e.index, "error": message})
    return leads


def _visitors_for(
    org: Organization, events: list[_Valid], leads: dict[str, Lead], now: datetime
) -> dict[str, Lead | None]:
    """Anonymous id -> lead (None while unidentified). An event with both an email and an
    anonymous id identifies the visitor: its earlier anonymous events become the lead's."""
    ids = {e.anonymous_id for e in events if e.anonymous_id}
    if not ids:
        return {}
    known = {v.anonymous_id: v for v in Visitor.objects.for_org(org).filter(anonymous_id__in=ids)}
    Visitor.objects.bulk_create(
        [Visitor(organization=org, anonymous_id=i, first_seen_at=now) for i in ids - set(known)],
        ignore_conflicts=True,
    )
    for e in events:
        lead = leads.get(e.email) if e.email else None
        if lead is not None and e.anonymous_id:
            Visitor.objects.for_org(org).filter(anonymous_id=e.anonymous_id).update(lead=lead, identified_at=now)
            ActivityEvent.objects.for_org(org).filter(anonymous_id=e.anonymous_id, lead=None).update(lead=lead)
            known[e.anonymous_id] = Visitor(anonymous_id=e.anonymous_id, lead=lead)
    return {i: (known[i].lead if i in known else None) for i in ids}


def enqueue_scoring(org_id: int) -> bool:
    """Ask a worker to score the organisation's pending events; never fails the caller.

    If the broker can't be reached the events wait, stored, for the periodic sweep.
    """
    from leads.tasks import score_pending_events

    try:
        score_pending_events.apply_async(args=[org_id], retry=False)
    except (OperationalError, OSError):  # the broker is down: the sweep will pick the events up
        logger.warning("Could not enqueue scoring for organisation %s; the sweep will score it.", org_id)
        return False
    return True
