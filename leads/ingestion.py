"""Event ingestion: validate a batch, store what is valid, report the rest by index.

The stored event is the source of truth. The request path only validates and stores (and
creates leads for unknown emails, and stitches anonymous visitors who identify); scoring
happens in Celery. Enqueueing is best effort: if the broker is down the events are still
stored, and ``sweep_unscored_events`` (beat, every minute) scores them when it is back.

Limits (documented in the README): 1,000 events a request; ``properties`` at most 8 KB of
JSON; ids and anonymous ids at most 100 characters; ``occurred_at`` ISO 8601 (no offset means
UTC), not more than 5 minutes in the future nor older than 5 years; no NUL character or lone
surrogate in any text, no number JSON cannot hold (PostgreSQL refuses them: one such event
would fail its whole batch).
"""

from __future__ import annotations

import json
import logging
from contextlib import suppress
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import connection, transaction
from django.db.models.functions import Upper
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from kombu.exceptions import OperationalError

from leads.bulk_sql import pg_array_of, update_from_values
from leads.campaigns import CampaignTouches, campaign_touches_after, campaigns_by_utm
from leads.models import ActivityEvent, Lead, Visitor
from leads.services import LeadInput, _validate, alias_lead_ids, lead_create, lead_update
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
    properties_json: str
    lead_attributes: dict
    lead_input: LeadInput | None  # the attributes, checked by the lead rules (None: none given)


_EVENT_TYPES = frozenset(ActivityEvent.Type.values)


def _unstorable(text: str) -> str | None:
    """What in ``text`` no database here can store (PostgreSQL refuses both in text and JSON), or None."""
    if "\x00" in text:
        return "a NUL character (\\u0000)"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # json.loads joins the halves of a pair: any surrogate left is alone
        return "half of a surrogate pair (a lone \\ud800–\\udfff)"
    return None


def _unstorable_in(value: object) -> str | None:
    """_unstorable for every key and string of a decoded JSON value."""
    if isinstance(value, str):
        return _unstorable(value)
    if isinstance(value, dict):
        return next((p for k, v in value.items() if (p := _unstorable(k) or _unstorable_in(v))), None)
    if isinstance(value, list):
        return next((p for v in value if (p := _unstorable_in(v))), None)
    return None


def _clean(org: Organization, index: int, raw: object, now: datetime, emails_checked: set[str]) -> _Valid:
    """One event checked, its lead attributes by the rules of a lead (before anything is stored:
    an event is either stored or reported); raises ValueError with the message reported for its index.

    ``emails_checked`` holds the addresses of this batch already found valid: a batch is
    usually a few leads' events, and the email check is the slowest one here.
    """
    if not isinstance(raw, dict):
        raise ValueError("An event is a JSON object.")
    client_id = raw.get("id")
    if not isinstance(client_id, str) or not client_id.strip() or len(client_id) > MAX_ID:
        raise ValueError(f"“id” is required: your own unique id for the event, up to {MAX_ID} characters.")
    if problem := _unstorable(client_id):
        raise ValueError(f"“id” contains {problem}, which cannot be stored.")
    event_type = raw.get("type")
    if event_type not in _EVENT_TYPES:
        raise ValueError(f"Unknown type {str(event_type)[:50]!r}; one of: {', '.join(ActivityEvent.Type.values)}.")
    occurred_raw = raw.get("occurred_at")
    try:
        occurred_at = parse_datetime(occurred_raw) if isinstance(occurred_raw, str) else None
    except ValueError:  # well formed but out of range, e.g. 2026-13-45T00:00:00
        occurred_at = None
    if occurred_at is None:
        raise ValueError("“occurred_at” must be an ISO 8601 date and time, e.g. 2026-11-23T09:30:00Z.")
    if occurred_at.tzinfo is None:
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
    for name, value in (("email", email), ("anonymous_id", anonymous_id)):
        if problem := _unstorable(value):
            raise ValueError(f"“{name}” contains {problem}, which cannot be stored.")
    if email and email not in emails_checked:
        try:
            validate_email(email)
        except ValidationError:
            raise ValueError(f"“{email[:100]}” is not a valid email address.") from None
        emails_checked.add(email)
    if len(anonymous_id) > MAX_ID:
        raise ValueError(f"“anonymous_id” is longer than {MAX_ID} characters.")
    properties = raw.get("properties") or {}
    if not isinstance(properties, dict):
        raise ValueError("“properties” is a JSON object.")
    # Serialised once: for the size limit here and as the stored value (the INSERT takes it as is).
    try:
        properties_json = json.dumps(properties, allow_nan=False)
    except ValueError:  # 1e400 reads as infinity: JSON has no such number, PostgreSQL refuses it
        raise ValueError("“properties” holds a number too large for JSON (infinite or not a number).") from None
    # Escaped as \u0000 or \udxxx in the serialised text (also an emoji's pair): only then looked for.
    if ("\\u0000" in properties_json or "\\ud" in properties_json) and (problem := _unstorable_in(properties)):
        raise ValueError(f"“properties” contains {problem}, which cannot be stored.")
    if len(properties_json) > MAX_PROPERTIES_BYTES:
        raise ValueError(f"“properties” is larger than {MAX_PROPERTIES_BYTES // 1024} KB.")
    attributes = raw.get("lead") or {}
    if not isinstance(attributes, dict):
        raise ValueError("“lead” is a JSON object of lead attributes.")
    if attributes and not LEAD_ATTRIBUTES.issuperset(attributes):
        unknown = set(attributes) - LEAD_ATTRIBUTES
        raise ValueError(f"Unknown lead attribute(s): {', '.join(sorted(unknown))[:200]}.")
    lead_input = _lead_input(attributes) if attributes else None
    if lead_input is not None:
        try:
            _validate(org, lead_input)
        except DomainError as exc:
            raise ValueError(exc.message) from None
    return _Valid(
        index,
        client_id.strip(),
        event_type,
        occurred_at,
        email.strip().lower(),
        anonymous_id,
        properties,
        properties_json,
        attributes,
        lead_input,
    )


def _utm(properties: dict) -> tuple[str, str, str] | None:
    """An event's utm_source/medium/campaign properties, or None without any."""
    if not properties:
        return None
    utm = tuple(str(properties.get(f"utm_{k}") or "") for k in ("source", "medium", "campaign"))
    return utm if any(utm) else None


def _lead_input(attributes: dict) -> LeadInput:
    """An event's lead attributes as LeadInput (null and empty ones left out); ValueError if one
    is not of its type (text, or a whole number for the company size)."""
    data = {}
    for name, value in attributes.items():
        if value is None or value == "":
            continue
        if name == "company_size":
            value = _company_size(value)
        elif not isinstance(value, str):
            raise ValueError(f"Lead attribute “{name}” is text.")
        elif problem := _unstorable(value):
            raise ValueError(f"Lead attribute “{name}” contains {problem}, which cannot be stored.")
        data[name] = value
    return LeadInput(**data)


def _company_size(value: object) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        with suppress(ValueError):
            return int(value)
    raise ValueError("Lead attribute “company_size” is a whole number of employees.")


def events_ingest(*, org: Organization, payload: object, now: datetime | None = None) -> IngestResult:
    """Store the valid events of ``payload`` ({"events": [...]}) for ``org``; report the others.

    Re-sending an event id already stored counts as a duplicate, never a second event. A batch
    of events about known leads costs a fixed number of SQL statements whatever its size;
    each unknown email (a new lead) and each event carrying lead attributes adds the
    statements of ``lead_create``/``lead_update``, the one place leads are written.
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
    # Leads are looked up first: an address that is already a lead's was checked when the lead
    # was made, so only new addresses go through the (slow) email validator.
    given = [raw["email"] for raw in raw_events if isinstance(raw, dict) and isinstance(raw.get("email"), str)]
    lead_ids = _known_lead_ids(org, {email.strip().lower() for email in given if email})
    emails_checked = {email for email in given if email.lower() in lead_ids}
    for index, raw in enumerate(raw_events):
        try:
            event = _clean(org, index, raw, now, emails_checked)
        except ValueError as exc:
            result.errors.append({"index": index, "error": str(exc)})
            continue
        if event.client_id in seen:
            result.duplicates += 1
            continue
        seen.add(event.client_id)
        valid.append(event)
    if valid:
        _store(org, valid, lead_ids, result, now)
        result.errors.sort(key=lambda error: error["index"])
    return result


@transaction.atomic
def _store(
    org: Organization, valid: list[_Valid], lead_ids: dict[str, int], result: IngestResult, now: datetime
) -> None:
    # Events that change more than themselves (create or update a lead, identify a visitor)
    # must not do it again when re-sent: those few are checked against the stored ids first.
    # Plain events rely on the INSERT's ON CONFLICT alone.
    effects = [e for e in valid if e.email and (e.lead_attributes or e.anonymous_id or e.email not in lead_ids)]
    if effects:
        stored = set(
            ActivityEvent.objects.for_org(org)
            .filter(client_event_id__in=[e.client_id for e in effects])
            .values_list("client_event_id", flat=True)
        )
        if stored:
            valid = [e for e in valid if e.client_id not in stored]
            result.duplicates += len(stored)
    failed = _leads_create_or_update(org, valid, lead_ids, result, now)
    if failed:  # reported by index: neither stored nor identifying a visitor
        valid = [e for e in valid if e.index not in failed]
    visitors, stitched = _visitors_for(org, valid, lead_ids, now)
    utms = [_utm(e.properties) for e in valid]
    campaigns = campaigns_by_utm(org=org, utms={utm for utm in utms if utm})
    rows = []
    for e, utm in zip(valid, utms, strict=True):
        lead_id = lead_ids[e.email] if e.email else visitors.get(e.anonymous_id)
        rows.append((e, lead_id, campaigns[utm] if utm else None))
    inserted = _events_insert(org, rows, now)
    result.accepted = len(inserted)
    result.duplicates += len(rows) - len(inserted)
    # Campaign touches: the stored events with a campaign, and the anonymous ones with a campaign
    # that just became an identified visitor's lead's.
    for e, lead_id, campaign_id in rows:
        if campaign_id and lead_id and e.client_id in inserted:
            stitched.setdefault(lead_id, []).append((e.occurred_at, campaign_id))
    _campaigns_touch(stitched)
    transaction.on_commit(lambda: enqueue_scoring(org.pk))


def _known_lead_ids(org: Organization, emails: set[str]) -> dict[str, int]:
    """Lead id by (lower-case) email, one query through the UPPER(email) unique index."""
    if not emails:
        return {}
    found = (
        Lead.objects.for_org(org)
        .alias(email_key=Upper("email"))
        .filter(email_key__any_of={e.upper() for e in emails})
        .values_list("email", "pk")
    )
    known = {email.lower(): pk for email, pk in found}
    # Another address of a lead (a record merged into it) is that lead, not a new one.
    return known | alias_lead_ids(org, emails - known.keys())


def _leads_create_or_update(
    org: Organization, events: list[_Valid], lead_ids: dict[str, int], result: IngestResult, now: datetime
) -> set[int]:
    """Unknown emails become leads and given attributes update them, through the lead services
    (persona match, fit score, company, stage history). Existing leads are updated in id order,
    the order scoring locks them in, so the two never wait on each other in a cycle.

    Returns the indexes of the events whose lead could not be written (reported in ``result``):
    rare, the attributes having been checked already (e.g. a lead made meanwhile by another request).
    """
    failed: set[int] = set()
    work = [e for e in events if e.email and (e.email not in lead_ids or e.lead_input is not None)]
    work.sort(key=lambda e: lead_ids.get(e.email, 0))  # stable: one lead's events keep their order
    for e in work:
        try:
            if e.email not in lead_ids:
                data = replace(e.lead_input, email=e.email) if e.lead_input else LeadInput(email=e.email)
                lead = lead_create(org=org, data=data, rule=f"event:{e.event_type}", now=now)
                lead_ids[e.email] = lead.pk
            elif e.lead_input is not None:  # (not a later event of a lead just created, without any)
                lead_update(lead=Lead(pk=lead_ids[e.email]), data=e.lead_input, now=now)
        except DomainError as exc:
            result.errors.append({"index": e.index, "error": exc.message})
            failed.add(e.index)
    return failed


def _visitors_for(
    org: Organization, events: list[_Valid], lead_ids: dict[str, int], now: datetime
) -> tuple[dict[str, int | None], dict[int, list[tuple[datetime, int]]]]:
    """Anonymous id -> lead id (None while unidentified), and the campaign touches (occurred at,
    campaign) of the anonymous events that became a lead's here, by lead. An event with both an
    email and an anonymous id identifies the visitor: its earlier anonymous events become the
    lead's."""
    ids = {e.anonymous_id for e in events if e.anonymous_id}
    if not ids:
        return {}, {}
    known = dict(Visitor.objects.for_org(org).filter(anonymous_id__in=ids).values_list("anonymous_id", "lead_id"))
    Visitor.objects.bulk_create(
        [Visitor(organization=org, anonymous_id=i, first_seen_at=now) for i in ids - set(known)],
        ignore_conflicts=True,
    )
    identified = {
        e.anonymous_id: lead_ids[e.email] for e in events if e.anonymous_id and e.email and e.email in lead_ids
    }
    touches: dict[int, list[tuple[datetime, int]]] = {}
    if identified:
        at = connection.ops.adapt_datetimefield_value(now)
        rows = sorted(identified.items())
        update_from_values(
            table="leads_visitor",
            columns=("anonymous_id", "lead"),
            rows=rows,
            join="anonymous_id",
            assignments="lead_id = v.lead, identified_at = %s",
            where="leads_visitor.organization_id = %s",
            params=(at, org.pk),
        )
        # The visitors' anonymous events (event_anonymous_idx: a visitor's few) become the leads';
        # the campaign touches are those of the rows this statement moved, not of a read before
        # it, which missed any a concurrent request stored in between. Those with a campaign are
        # picked here, not in SQL: asked for `campaign_id IS NOT NULL`, PostgreSQL walked the
        # campaign index through every campaign event (25 ms a batch at 22,000 of them, growing).
        moved = update_from_values(
            table="leads_activityevent",
            columns=("anonymous_id", "lead"),
            rows=rows,
            join="anonymous_id",
            assignments="lead_id = v.lead",
            where="leads_activityevent.organization_id = %s AND leads_activityevent.lead_id IS NULL",
            params=(org.pk,),
            returning="leads_activityevent.lead_id, leads_activityevent.campaign_id, leads_activityevent.occurred_at",
        )
        parse = connection.ops.convert_datetimefield_value if connection.vendor == "sqlite" else None
        for lead_id, campaign_id, occurred_at in moved:
            if campaign_id is not None:
                if parse is not None:  # SQLite returns the stored text
                    occurred_at = parse(occurred_at, None, connection)
                touches.setdefault(lead_id, []).append((occurred_at, campaign_id))
        known.update(identified)
    return {i: known.get(i) for i in ids}, touches


# The PostgreSQL types of the inserted columns, in _events_insert's order. The properties
# ("jsonb") go as one JSON array of the events' objects, unpacked in order, not as an array
# literal: their serialised JSON joins into one without the quote escaping an array literal
# needs (the longest strings of a batch: a tenth of the request's own Python time, by py-spy).
_EVENT_COLUMN_TYPES = ("bigint", "bigint", "text", "text", "text", "timestamptz", "timestamptz", "jsonb", "bigint")
_JSON_ARRAY_IN_ORDER = "ARRAY(SELECT p FROM jsonb_array_elements(%s::jsonb) WITH ORDINALITY AS a (p, i) ORDER BY i)"
_EVENT_COLUMN_ARRAYS = ", ".join(_JSON_ARRAY_IN_ORDER if t == "jsonb" else f"%s::{t}[]" for t in _EVENT_COLUMN_TYPES)
_EVENT_COLUMNS_UNNESTED = f"SELECT * FROM unnest({_EVENT_COLUMN_ARRAYS})"  # noqa: S608 (types from code)


def _events_insert(org: Organization, rows: list[tuple[_Valid, int | None, int | None]], now: datetime) -> set[str]:
    """One multi-row INSERT; an id already stored (or stored meanwhile by a concurrent request)
    is skipped by ON CONFLICT. Returns the client ids actually inserted."""
    if not rows:
        return set()
    ops = connection.ops
    received = ops.adapt_datetimefield_value(now)
    params: list[object] = []
    for e, lead_id, campaign_id in rows:
        params += (
            org.pk,
            lead_id,
            e.anonymous_id,
            e.client_id,
            e.event_type,
            ops.adapt_datetimefield_value(e.occurred_at),
            received,
            e.properties_json,
            campaign_id,
        )
    if connection.vendor == "postgresql":
        # A column a parameter: a 1,000-event VALUES list took longer to parse than to insert.
        n = len(_EVENT_COLUMN_TYPES)
        columns = [
            "[" + ",".join(params[i::n]) + "]" if pg_type == "jsonb" else pg_array_of(pg_type, params[i::n])
            for i, pg_type in enumerate(_EVENT_COLUMN_TYPES)
        ]
        values, params = _EVENT_COLUMNS_UNNESTED, columns
    else:
        values = "VALUES " + ", ".join(["(%s, %s, %s, %s, %s, %s, %s, %s, %s)"] * len(rows))
    sql = (
        "INSERT INTO leads_activityevent (organization_id, lead_id, anonymous_id, client_event_id, event_type, "
        f"occurred_at, received_at, properties, campaign_id) {values} "
        "ON CONFLICT (organization_id, client_event_id) DO NOTHING RETURNING client_event_id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return {client_id for (client_id,) in cursor.fetchall()}


_TOUCH_ASSIGNMENTS = (
    "first_campaign_id = v.first_id, first_campaign_at = v.first_at, "
    "latest_campaign_id = v.latest_id, latest_campaign_at = v.latest_at"
)


def _campaigns_touch(touches: dict[int, list[tuple[datetime, int]]]) -> None:
    """Set leads' first and latest campaign from the campaign events (occurred at, campaign) they
    got in this batch (``leads.campaigns.campaign_touches_after``). At most two statements
    whatever the number of leads, and none of their events read: each lead keeps when its
    campaigns touched it (``first_campaign_at``, ``latest_campaign_at``). Reading that from
    the lead's events instead (``MIN``/``MAX`` over its events of its current campaigns) was
    most of the touches' PostgreSQL time in a campaign-tagged batch (bench/README.md)."""
    if not touches:
        return
    # Locked in id order first, as scoring does, so the UPDATE never waits in a cycle with it.
    held = {
        pk: (CampaignTouches(*touched), created_at)
        for pk, created_at, *touched in Lead.objects.filter(pk__any_of=set(touches))
        .select_for_update(no_key=True)
        .order_by("pk")
        .values_list(
            "pk", "created_at", "first_campaign_id", "first_campaign_at", "latest_campaign_id", "latest_campaign_at"
        )
    }
    adapt = connection.ops.adapt_datetimefield_value
    rows = []
    for lead_id, seen in sorted(touches.items()):
        if lead_id not in held:
            continue  # deleted meanwhile: its events went with it
        before, created_at = held[lead_id]
        after = campaign_touches_after(before, created_at, seen)
        # Nothing new (a touch inside the span its campaign already covers): no row written.
        if after != before:
            first_id, first_at, latest_id, latest_at = after
            rows.append((lead_id, first_id, adapt(first_at), latest_id, adapt(latest_at)))
    update_from_values(
        table="leads_lead",
        columns=("id", "first_id", "first_at", "latest_id", "latest_at"),
        rows=rows,
        kinds=(None, None, "timestamptz", None, "timestamptz"),
        pg_types=("bigint", "bigint", "timestamptz", "bigint", "timestamptz"),
        assignments=_TOUCH_ASSIGNMENTS,
    )


# Set while a scoring run of the organisation is queued and not yet started: the requests
# meanwhile need not queue another, that run will see their events (it clears the flag first).
_ENQUEUED_KEY = "leads:scoring-enqueued:{}"
# A run lost with its flag set only delays the next enqueue this long (and the sweep runs anyway).
ENQUEUED_TTL_S = 30


def enqueue_scoring(org_id: int) -> bool:
    """Ask a worker to score the organisation's pending events; never fails the caller.

    At most one run per organisation waits in the queue: a busy ingestion sends dozens of
    requests a second, and each would otherwise queue a run that finds nothing left to do.
    If the broker can't be reached the events wait, stored, for the periodic sweep.
    """
    from leads.tasks import score_pending_events

    key = _ENQUEUED_KEY.format(org_id)
    try:
        if not cache.add(key, 1, ENQUEUED_TTL_S):
            return True
    except Exception:  # the cache is an optimisation: unreachable, queue the run anyway
        logger.warning("Cache unreachable; enqueueing scoring for organisation %s regardless.", org_id)
    try:
        score_pending_events.apply_async(args=[org_id], retry=False)
    except (OperationalError, OSError):  # the broker is down: the sweep will pick the events up
        logger.warning("Could not enqueue scoring for organisation %s; the sweep will score it.", org_id)
        scoring_enqueued_clear(org_id)
        return False
    return True


def scoring_enqueued_clear(org_id: int) -> None:
    """Called by a scoring run as it starts: events stored after this enqueue a new run."""
    try:
        cache.delete(_ENQUEUED_KEY.format(org_id))
    except Exception:  # unreachable cache: the flag expires on its own
        logger.warning("Cache unreachable; the scoring flag of organisation %s will expire.", org_id)
