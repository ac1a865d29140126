"""Lead scoring: fit (explicit data) + engagement (implicit data, decaying), and MQL qualification.

Engagement decays with a half-life: an event worth ``p`` points ``t`` days ago is worth
``p * 0.5 ** (t / half_life)`` now. Decay is memoryless, so a lead's stored engagement
(``engagement_score`` as of ``engagement_scored_at``) is brought forward by multiplying, and
each new batch of events adds its decayed points: no event is read twice.

Scoring never moves a lead backwards; it moves ``subscriber``/``lead`` to ``mql`` when the
total reaches the model's threshold (with the minimum fit), or at once on a fast-lane event
such as a demo request. A lead in ``nurture`` was returned or recycled by a person, for a
reason: what it did before does not send it back to sales. It qualifies again on what it does
after entering nurture: a fast-lane event that occurred since, or a batch of events that takes
its total across the threshold (``RECYCLED``).
"""

from __future__ import annotations

import json
import math
import operator
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from functools import reduce
from typing import NamedTuple

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from leads.bulk_sql import insert_rows, update_from_values, upsert_rows
from leads.models import ActivityEvent, Lead, LeadScore, LeadScoreExplanation, ScoreChange, ScoringModel
from smarketing.accounts.models import Organization
from smarketing.prepared import PreparedInsert

FIT_ATTRIBUTES = ("title", "seniority", "industry", "company_size", "country", "email_domain", "persona")
FIT_OPERATORS = ("equals", "contains", "in", "gte", "lte", "is_set")
QUALIFIABLE = frozenset({Lead.Stage.SUBSCRIBER, Lead.Stage.LEAD, Lead.Stage.NURTURE})
# Stages that qualify only on behaviour after the lead entered them (see the module's docstring).
RECYCLED = frozenset({Lead.Stage.NURTURE})
# A lead in nurture with no history of entering it (made around the services): any event counts.
RECYCLED_SINCE_UNKNOWN = datetime(1, 1, 1, tzinfo=UTC)


def _fit_value(lead: Lead, attribute: str):
    company = lead.company
    return {
        "title": lead.title,
        "seniority": lead.seniority,
        "industry": company.industry if company else "",
        "company_size": company.size if company else None,
        "country": company.country if company else "",
        "email_domain": lead.email.rsplit("@", 1)[-1],
        "persona": lead.persona.name if lead.persona_id and lead.persona else "",
    }[attribute]


def rule_matches(value, operator: str, expected) -> bool:
    if operator == "is_set":
        return value not in (None, "")
    if value in (None, ""):
        return False
    if operator in ("gte", "lte"):
        try:
            number, bound = float(value), float(expected)
        except (TypeError, ValueError):
            return False
        return number >= bound if operator == "gte" else number <= bound
    text = str(value).lower()
    if operator == "equals":
        return text == str(expected).lower()
    if operator == "contains":
        return str(expected).lower() in text
    if operator == "in":
        options = expected if isinstance(expected, list) else str(expected).split(",")
        return text in {str(o).strip().lower() for o in options}
    raise ValueError(f"Unknown operator {operator!r}")


def fit_points(lead: Lead, model: ScoringModel | None) -> tuple[int, list[dict]]:
    """Fit score and its explanation under ``model`` (no model: nothing scores)."""
    if model is None:
        return 0, []
    points, why = 0, []
    if model.persona_match_points and lead.persona_id:
        points += model.persona_match_points
        why.append({"rule": f"Matches persona {lead.persona.name}", "points": model.persona_match_points})
    for rule in model.fit_rules:
        if rule_matches(_fit_value(lead, rule["attribute"]), rule["operator"], rule.get("value")):
            points += int(rule["points"])
            label = rule.get("label") or f"{rule['attribute']} {rule['operator']} {rule.get('value', '')}".strip()
            why.append({"rule": label, "points": int(rule["points"])})
    return points, why


CAP_PERIODS = ("day", "week", "month")


def matching_rule(event_type: str, properties: dict, model: ScoringModel) -> int | None:
    """The index of the first engagement rule of ``model`` an event matches (None: no rule)."""
    for index, rule in enumerate(model.engagement_rules):
        if rule["event_type"] != event_type:
            continue
        prop, needle = rule.get("property"), rule.get("contains")
        if prop and needle and needle.lower() not in str(properties.get(prop, "")).lower():
            continue
        return index
    return None


def rule_label(rule: dict) -> str:
    if rule.get("label"):
        return rule["label"]
    prop = rule.get("property")
    return f"{rule['event_type']} ({prop} contains {rule.get('contains')})" if prop else rule["event_type"]


def event_points(event: ActivityEvent, model: ScoringModel) -> tuple[int, str]:
    """Engagement points one event earns under ``model`` (first matching rule), and the rule's
    label, before any cap (``score_events`` applies the caps, which depend on the lead's other events)."""
    index = matching_rule(event.event_type, event.properties, model)
    if index is None:
        return 0, ""
    rule = model.engagement_rules[index]
    return int(rule["points"]), rule_label(rule)


def cap_period_start(moment: datetime, period: str) -> datetime:
    """The start of the UTC calendar day, ISO week (Monday) or month that ``moment`` falls in:
    a capped rule pays at most ``cap`` events of a lead in each such period."""
    day = moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "week":
        return day - timedelta(days=day.weekday())
    if period == "month":
        return day.replace(day=1)
    return day


def _capped_rules(model: ScoringModel) -> dict[int, tuple[int, str]]:
    return {
        i: (int(rule["cap"]), rule.get("cap_period") or "day")
        for i, rule in enumerate(model.engagement_rules)
        if rule.get("cap")
    }


def _cap_counts(
    model: ScoringModel, capped: dict[int, tuple[int, str]], events: Iterable[_Event], rule_of: dict[int, int | None]
) -> dict[tuple[int, int, datetime], int]:
    """How many already-scored events of each (lead, capped rule, period) the batch's events fall
    in, so a batch never pays more than the cap on top of what earlier batches paid.

    Counted by the database in one grouped query, matching rules as the full rescore does
    (leads.rescoring): a busy lead has many events a period, and reading them all back to
    match them here was the slow part of scoring a batch.
    """
    from leads.rescoring import cap_period_expression, rule_index_expression  # the rules' SQL form

    keys: set[tuple[int, int, datetime]] = set()
    for event in events:
        index = rule_of[event.pk]
        if index in capped:
            keys.add((event.lead_id, index, cap_period_start(event.occurred_at, capped[index][1])))
    counts: dict[tuple[int, int, datetime], int] = defaultdict(int)
    if not keys:
        return counts
    rules = model.engagement_rules
    earliest: dict[str, datetime] = {}
    for _, index, start in keys:
        event_type = rules[index]["event_type"]
        earliest[event_type] = min(start, earliest.get(event_type, start))
    # Each capped type only as far back as its own periods reach (a weekly cap must not make
    # a daily one read the whole week).
    since = reduce(operator.or_, (Q(event_type=t, occurred_at__gte=start) for t, start in earliest.items()))
    grouped = (
        ActivityEvent.objects.filter(
            since, lead_id__any_of={lead_id for lead_id, _, _ in keys}, scored_at__isnull=False
        )
        .annotate(rule_index=rule_index_expression(model), period=cap_period_expression(model))
        .values("lead_id", "rule_index", "period")
        .annotate(n=Count("pk"))
        .values_list("lead_id", "rule_index", "period", "n")
        .order_by()
    )
    for lead_id, index, start, n in grouped:
        if start is None:
            continue
        # Inside a CASE the truncation comes back naive on PostgreSQL; it is UTC either way.
        key = (lead_id, index, start if start.tzinfo else start.replace(tzinfo=UTC))
        if key in keys:
            counts[key] = n
    return counts


def lead_explain(lead: Lead, *, limit: int = 10) -> dict[str, list[dict]]:
    """Why the lead has its score, worked out now: the fit rules it passes under the active
    model, and its latest events that earned points (a set-based rescore keeps no per-lead text)."""
    from leads.services import active_scoring_model

    model = active_scoring_model(lead.organization)
    _, fit = fit_points(lead, model)
    return {"fit": fit, "engagement": lead_engagement_explained(lead, model=model, limit=limit)}


def lead_engagement_explained(lead: Lead, *, model: ScoringModel | None, limit: int = 10) -> list[dict]:
    """The lead's latest events that earned (or cost) points, newest first, each with the rule
    it scored by under ``model``. Nothing to read for a lead never scored."""
    if lead.current_score.engagement_scored_at is None:
        return []
    events = (
        ActivityEvent.objects.filter(lead=lead, scored_at__isnull=False)
        .exclude(points=0)
        .exclude(points=None)
        .order_by("-occurred_at", "-pk")[:limit]
    )
    return [{"event": _event_label(e, model), "points": e.points, "at": e.occurred_at} for e in events]


def _event_label(event: ActivityEvent, model: ScoringModel | None) -> str:
    """The rule an event earned its points by under ``model`` (e.g. "page_view (url contains
    /pricing)"), else what kind of event it is."""
    index = matching_rule(event.event_type, event.properties, model) if model else None
    return rule_label(model.engagement_rules[index]) if index is not None else event.get_event_type_display()


def decay(points: float, age_days: float, half_life_days: int) -> float:
    return points * math.pow(0.5, max(age_days, 0) / half_life_days)


def _total(fit: int, engagement: float) -> int:
    return fit + round(engagement)


def lead_score_fit(lead: Lead, model: ScoringModel | None) -> None:
    """Recompute a lead's fit under ``model`` (the active one; None: the organisation has none)
    after its attributes or persona changed, on its score and
    explanation in memory (``lead.score``, ``lead.score_explanation_row``; the caller saves
    them, lead_score_save). Read the lead's score row locked first when it exists
    (lead_update): scoring changes its engagement meanwhile otherwise."""
    score = lead.current_score
    score.fit, why = fit_points(lead, model)
    score.total = _total(score.fit, score.engagement)
    lead.score = score
    lead.score_explanation_row = LeadScoreExplanation(explanation={**lead.score_explanation, "fit": why})


# A new lead's explanation: an INSERT built once per process (smarketing.prepared); its score
# row goes in with the lead (leads.services._insert_lead).
_insert_explanation = PreparedInsert(LeadScoreExplanation)


def lead_score_save(lead: Lead, *, created: bool) -> None:
    """Write what lead_score_fit worked out: the explanation when there is something to explain
    (a lead without one reads {}), and the score row unless ``created`` (a new lead's went in
    with the lead, ``leads.services._insert_lead``)."""
    score, explained = lead.score, lead.score_explanation_row
    if created:
        if any(explained.explanation.values()):
            _insert_explanation(explained)
        else:  # nothing explained, nothing stored: the lead reads {} as it will when read again
            Lead.score_explanation_row.related.set_cached_value(lead, None)
        return
    upsert_rows(  # a lead without a row (made around the services) gets one
        table=LeadScore._meta.db_table,
        columns=("lead_id", "organization_id", "fit", "engagement", "total"),
        rows=[(lead.pk, lead.organization_id, score.fit, score.engagement, score.total)],
        conflict="lead_id",
        update=("fit", "total"),
    )
    upsert_rows(
        table=LeadScoreExplanation._meta.db_table,
        columns=("lead_id", "explanation"),
        kinds=(None, "jsonb"),
        rows=[(lead.pk, json.dumps(explained.explanation, cls=DjangoJSONEncoder))],
        conflict="lead_id",
    )


class _Candidate(NamedTuple):
    """A lead of the batch that may qualify: its engagement just before the batch (decayed to
    now), what each of the batch's events added to it (occurred at, decayed points), the points
    the batch earned, and its latest fast-lane event (type, occurred at) if any."""

    engagement_before: float
    gains: list[tuple[datetime, float]]
    earned: int
    fast_lane: tuple[str, datetime] | None


def _qualifying_rule(
    lead: _LeadScore, model: ScoringModel, candidate: _Candidate, stage: str, since: datetime | None
) -> str | None:
    """The rule by which this batch makes ``lead`` (in ``stage``) an MQL, or None.

    ``since``: when a lead in a ``RECYCLED`` stage entered it (None when not known: any time).
    """
    threshold = model.mql_threshold
    if lead.fit_score < model.mql_min_fit and not candidate.fast_lane:
        return None
    if stage in RECYCLED:
        since = since or RECYCLED_SINCE_UNKNOWN
        if candidate.fast_lane and candidate.fast_lane[1] > since:
            return f"fast lane: {candidate.fast_lane[0]}"
        # Across the threshold by what it did since it entered nurture (events that happened
        # before, delivered late, don't count), from where its score had decayed to.
        before = _total(lead.fit_score, candidate.engagement_before)
        after = _total(lead.fit_score, candidate.engagement_before + sum(g for at, g in candidate.gains if at > since))
        if lead.fit_score >= model.mql_min_fit and before < threshold <= after:
            return f"score {lead.total_score} ≥ {threshold}"
        return None
    if stage not in QUALIFIABLE:
        return None
    if candidate.fast_lane:
        return f"fast lane: {candidate.fast_lane[0]}"
    # A batch whose events take points away (an unsubscribe) never qualifies.
    if lead.total_score >= threshold and candidate.earned >= 0:
        return f"score {lead.total_score} ≥ {threshold}"
    return None


def _recycled_since(lead_ids: list[int]) -> dict[int, datetime]:
    """When each of ``lead_ids`` last entered a ``RECYCLED`` stage (its stage history)."""
    from django.db.models import Max

    from leads.models import StageChange

    return dict(
        StageChange.objects.filter(lead_id__in=lead_ids, to_stage__in=RECYCLED)
        .values("lead_id")
        .annotate(at=Max("changed_at"))
        .values_list("lead_id", "at")
        .order_by()
    )


class _Event(NamedTuple):
    """What scoring reads of an event (no model instances: a batch is thousands of rows)."""

    pk: int
    lead_id: int
    organization_id: int
    event_type: str
    properties: dict
    occurred_at: datetime


@dataclass
class _LeadScore:
    """A lead's scoring state, read once per batch with its score row locked."""

    pk: int
    engagement_score: float
    engagement_scored_at: datetime | None
    fit_score: int
    total_score: int


_EVENT_FIELDS = ("pk", "lead_id", "organization_id", "event_type", "properties", "occurred_at")
# _LeadScore's fields as read from the score row (not the lead's: its stage is read only for
# the few leads whose score would qualify them, not for every lead of the batch).
_LEAD_FIELDS = ("lead_id", "engagement", "engagement_scored_at", "fit", "total")
assert len(_LEAD_FIELDS) == len(fields(_LeadScore))
_SCORE_CHANGE_COLUMNS = (
    "organization_id", "lead_id", "changed_at", "fit_score", "engagement_score", "total_score", "delta", "reason",
    "scoring_model_id",
)  # fmt: skip


def score_events(*, event_ids: Iterable[int], now: datetime | None = None) -> int:
    """Score a batch of stored events: update each lead's engagement and total (the explanation
    is worked out when read, ``lead_explain``; the events keep the points they earned),
    record the score change, and qualify leads to MQL. Idempotent: events already scored are
    skipped (claimed by ``scored_at``). Returns how many events were scored."""
    pending = ActivityEvent.objects.filter(pk__in=list(event_ids), scored_at=None).exclude(lead=None)
    return _score(pending.select_for_update(skip_locked=True, no_key=True), now=now).scored


class ScoringRun(NamedTuple):
    scored: int
    # Events left pending because their lead was locked by a concurrent run (or a lead update):
    # scored by a later batch.
    deferred: int


def score_pending(*, org_id: int, limit: int, now: datetime | None = None) -> ScoringRun:
    """Score up to ``limit`` of the organisation's oldest unscored events. Concurrent callers
    claim disjoint batches (skip locked), so several workers share the backlog."""
    pending = (
        ActivityEvent.objects.filter(organization_id=org_id, scored_at=None, lead__isnull=False)
        .order_by("received_at")
        .select_for_update(skip_locked=True, no_key=True)
    )
    return _score(pending[:limit], now=now)


@transaction.atomic
def _score(pending: QuerySet[ActivityEvent], *, now: datetime | None) -> ScoringRun:
    """The set-based scoring of the events ``pending`` (a skip-locked select) claims, in one transaction and a fixed
    number of statements whatever the batch size (plus lead_transition for each new MQL).

    Locks: events are claimed skip-locked, so a concurrent run scores others. Leads are locked
    skip-locked too: a lead a concurrent run is scoring keeps its events of this batch pending
    for a later one, instead of this run waiting for that one to commit (with thousands of leads
    a batch, two runs almost always share a few, and waiting serialised them). FOR NO KEY
    UPDATE does not conflict with the key-share locks of event inserts referencing the leads.
    """
    now = now or timezone.now()
    events = [_Event(*row) for row in pending.values_list(*_EVENT_FIELDS)]
    if not events:
        return ScoringRun(0, 0)
    events.sort(key=lambda e: (e.occurred_at, e.pk))
    by_org: dict[int, list[_Event]] = defaultdict(list)
    for event in events:
        by_org[event.organization_id].append(event)
    scored = sum(_score_org(org_id, org_events, now) for org_id, org_events in by_org.items())
    return ScoringRun(scored, len(events) - scored)


def _score_org(org_id: int, events: list[_Event], now: datetime) -> int:
    from leads.services import active_scoring_model, lead_transition

    model = active_scoring_model(Organization(pk=org_id))
    if model is None:
        _mark_scored([(e.pk, 0) for e in events], now)
        return len(events)
    wanted = {e.lead_id for e in events}
    leads = _lock_scores(wanted)
    if len(leads) < len(wanted):
        # Locked by a concurrent run (left for a later batch), or a lead without a score row
        # (made around the services): that one gets its row now.
        rowless = list(Lead.objects.filter(pk__in=wanted - leads.keys(), score=None).values_list("pk", flat=True))
        if rowless:
            LeadScore.objects.bulk_create(
                [LeadScore(lead_id=pk, organization_id=org_id) for pk in rowless], ignore_conflicts=True
            )
            leads |= _lock_scores(set(rowless))
    by_lead: dict[int, list[_Event]] = defaultdict(list)
    for event in events:
        if event.lead_id in leads:
            by_lead[event.lead_id].append(event)
    events = [e for lead_events in by_lead.values() for e in lead_events]
    # Counted with the score rows locked: no run scoring the same leads is still uncommitted
    # (it would hold their locks), so every earlier event counts towards the caps.
    capped = _capped_rules(model)
    rule_of = {e.pk: matching_rule(e.event_type, e.properties, model) for e in events}
    cap_counts = _cap_counts(model, capped, events, rule_of) if capped else {}
    hl = model.decay_half_life_days
    at = connection.ops.adapt_datetimefield_value(now)
    points_by_event, lead_rows, changes, candidates = [], [], [], {}
    for lead_id, lead_events in by_lead.items():
        lead = leads[lead_id]
        previous = lead.engagement_scored_at or now
        engagement = engagement_before = decay(lead.engagement_score, (now - previous).total_seconds() / 86400, hl)
        earned, fast_lane, gains = 0, None, []
        for event in lead_events:
            index = rule_of[event.pk]
            points = int(model.engagement_rules[index]["points"]) if index is not None else 0
            if index in capped:
                cap, period = capped[index]
                key = (lead_id, index, cap_period_start(event.occurred_at, period))
                cap_counts[key] += 1
                if cap_counts[key] > cap:
                    points = 0  # over the cap for this period: stored, counted, earns nothing
            points_by_event.append((event.pk, points))
            gain = decay(points, (now - event.occurred_at).total_seconds() / 86400, hl)
            engagement += gain
            gains.append((event.occurred_at, gain))
            earned += points
            if event.event_type in model.fast_lane_event_types:
                fast_lane = (event.event_type, event.occurred_at)  # events are in time order: the latest
        before = lead.total_score
        lead.engagement_score, lead.total_score = engagement, _total(lead.fit_score, engagement)
        lead_rows.append((lead_id, engagement, lead.total_score))
        if lead.total_score != before:
            changes.append(
                (
                    org_id,
                    lead_id,
                    at,
                    lead.fit_score,
                    round(engagement),
                    lead.total_score,
                    lead.total_score - before,
                    f"{len(lead_events)} event(s), +{earned} points before decay",
                    model.pk,
                )
            )
        if fast_lane or (lead.total_score >= model.mql_threshold and lead.fit_score >= model.mql_min_fit):
            candidates[lead_id] = _Candidate(engagement_before, gains, earned, fast_lane)
    qualify = {}
    if candidates:  # their stages read only now: few leads of a batch get here
        stages = dict(Lead.objects.filter(pk__in=list(candidates)).values_list("pk", "lifecycle_stage"))
        recycled = [pk for pk, stage in stages.items() if stage in RECYCLED]
        since = _recycled_since(recycled) if recycled else {}
        for lead_id, candidate in candidates.items():
            rule = _qualifying_rule(leads[lead_id], model, candidate, stages.get(lead_id, ""), since.get(lead_id))
            if rule:
                qualify[lead_id] = rule
    update_from_values(
        table=LeadScore._meta.db_table,
        columns=("lead_id", "engagement", "total"),
        kinds=(None, "float", None),
        pg_types=("bigint", "float8", "integer"),
        rows=lead_rows,
        join="lead_id",
        assignments="engagement = v.engagement, total = v.total, engagement_scored_at = %s",
        params=(at,),
    )
    insert_rows(table=ScoreChange._meta.db_table, columns=_SCORE_CHANGE_COLUMNS, rows=changes)
    _mark_scored(points_by_event, now)
    # The few leads that become MQLs go through the one transition function (history, rules).
    for lead_id, rule in sorted(qualify.items()):
        lead_transition(lead=Lead(pk=lead_id), to=Lead.Stage.MQL, rule=f"scoring v{model.version}: {rule}", now=now)
    return len(events)


def _lock_scores(lead_ids: set[int]) -> dict[int, _LeadScore]:
    """The scoring state of those of ``lead_ids`` whose score row this run could lock (skip
    locked: a lead a concurrent run is scoring keeps its events for a later batch). FOR NO KEY
    UPDATE of the score row only: the lead row is neither locked nor rewritten."""
    locked = (
        LeadScore.objects.filter(lead_id__any_of=lead_ids)
        .select_for_update(no_key=True, skip_locked=True, of=("self",))
        .order_by("lead_id")
        .values_list(*_LEAD_FIELDS)
    )
    return {row[0]: _LeadScore(*row) for row in locked}


def _mark_scored(points_by_event: list[tuple[int, int]], now: datetime) -> None:
    at = connection.ops.adapt_datetimefield_value(now)
    update_from_values(
        table="leads_activityevent",
        columns=("id", "points"),
        pg_types=("bigint", "integer"),
        rows=points_by_event,
        assignments="points = v.points, scored_at = %s",
        params=(at,),
    )
