"""Lead scoring: fit (explicit data) + engagement (implicit data, decaying), and MQL qualification.

Engagement decays with a half-life: an event worth ``p`` points ``t`` days ago is worth
``p * 0.5 ** (t / half_life)`` now. Decay is memoryless, so a lead's stored engagement
(``engagement_score`` as of ``engagement_scored_at``) is brought forward by multiplying, and
each new batch of events adds its decayed points: no event is read twice.

Scoring never moves a lead backwards; it moves ``subscriber``/``lead``/``nurture`` to ``mql``
when the total reaches the model's threshold (with the minimum fit), or at once on a
fast-lane event such as a demo request.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from django.db import transaction
from django.utils import timezone

from leads.models import ActivityEvent, Lead, ScoreChange, ScoringModel

FIT_ATTRIBUTES = ("title", "seniority", "industry", "company_size", "country", "email_domain", "persona")
FIT_OPERATORS = ("equals", "contains", "in", "gte", "lte", "is_set")
QUALIFIABLE = frozenset({Lead.Stage.SUBSCRIBER, Lead.Stage.LEAD, Lead.Stage.NURTURE})


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
    model: ScoringModel, capped: dict[int, tuple[int, str]], events: list[ActivityEvent]
) -> dict[tuple[int, int, datetime], int]:
    """How many already-scored events of each (lead, capped rule, period) the batch's events fall
    in, so a batch never pays more than the cap on top of what earlier batches paid."""
    keys: set[tuple[int, int, datetime]] = set()
    for event in events:
        index = matching_rule(event.event_type, event.properties, model)
        if index in capped:
            keys.add((event.lead_id, index, cap_period_start(event.occurred_at, capped[index][1])))
    counts: dict[tuple[int, int, datetime], int] = defaultdict(int)
    if not keys:
        return counts
    earliest = min(start for _, _, start in keys)
    types = {model.engagement_rules[i]["event_type"] for i in capped}
    earlier = ActivityEvent.objects.filter(
        lead_id__in={lead_id for lead_id, _, _ in keys},
        event_type__in=types,
        occurred_at__gte=earliest,
        scored_at__isnull=False,
    ).values_list("lead_id", "event_type", "properties", "occurred_at")
    for lead_id, event_type, properties, occurred_at in earlier.iterator():
        index = matching_rule(event_type, properties, model)
        if index in capped:
            key = (lead_id, index, cap_period_start(occurred_at, capped[index][1]))
            if key in keys:
                counts[key] += 1
    return counts


def lead_explain(lead: Lead, *, limit: int = 10) -> dict[str, list[dict]]:
    """Why the lead has its score, worked out now: the fit rules it passes under the active
    model, and its latest events that earned points (a set-based rescore keeps no per-lead text)."""
    from leads.services import active_scoring_model

    _, fit = fit_points(lead, active_scoring_model(lead.organization))
    events = (
        ActivityEvent.objects.filter(lead=lead, scored_at__isnull=False)
        .exclude(points=0)
        .exclude(points=None)
        .order_by("-occurred_at")[:limit]
    )
    engagement = [{"event": e.get_event_type_display(), "points": e.points, "at": e.occurred_at} for e in events]
    return {"fit": fit, "engagement": engagement}


def decay(points: float, age_days: float, half_life_days: int) -> float:
    return points * math.pow(0.5, max(age_days, 0) / half_life_days)


def _total(fit: int, engagement: float) -> int:
    return fit + round(engagement)


def lead_score_fit(lead: Lead, model: ScoringModel | None = None) -> None:
    """Recompute a lead's fit (unsaved): after its attributes or persona changed."""
    from leads.services import active_scoring_model

    model = model if model is not None else active_scoring_model(lead.organization)
    lead.fit_score, why = fit_points(lead, model)
    lead.score_explanation = {**(lead.score_explanation or {}), "fit": why}
    lead.total_score = _total(lead.fit_score, lead.engagement_score)


def _qualifies(lead: Lead, model: ScoringModel, fast_lane: str | None) -> str | None:
    """The rule that makes ``lead`` an MQL now, if any."""
    if lead.lifecycle_stage not in QUALIFIABLE:
        return None
    if fast_lane:
        return f"fast lane: {fast_lane}"
    if lead.total_score >= model.mql_threshold and lead.fit_score >= model.mql_min_fit:
        return f"score {lead.total_score} ≥ {model.mql_threshold}"
    return None


@transaction.atomic
def score_events(*, event_ids: Iterable[int], now: datetime | None = None) -> int:
    """Score a batch of stored events: update each lead's engagement, total and explanation,
    record the score change, and qualify leads to MQL. Idempotent: events already scored are
    skipped (claimed by ``scored_at``). Returns how many events were scored."""
    from leads.services import active_scoring_model, lead_transition

    now = now or timezone.now()
    events = list(
        ActivityEvent.objects.select_for_update(skip_locked=True)
        .filter(pk__in=list(event_ids), scored_at=None)
        .exclude(lead=None)
        .order_by("occurred_at")
    )
    if not events:
        return 0
    by_lead: dict[int, list[ActivityEvent]] = defaultdict(list)
    for event in events:
        by_lead[event.lead_id].append(event)
    model = active_scoring_model(events[0].organization)
    capped = _capped_rules(model) if model else {}
    cap_counts = _cap_counts(model, capped, events) if capped else {}
    leads = Lead.objects.select_for_update(of=("self",)).select_related("company", "persona").in_bulk(list(by_lead))
    for lead_id, lead_events in by_lead.items():
        lead = leads[lead_id]
        if model is None:
            for event in lead_events:
                event.points, event.scored_at = 0, now
            continue
        hl = model.decay_half_life_days
        previous = lead.engagement_scored_at or now
        engagement = decay(lead.engagement_score, (now - previous).total_seconds() / 86400, hl)
        earned, recent, fast_lane = 0, [], None
        for event in lead_events:
            points, label = event_points(event, model)
            index = matching_rule(event.event_type, event.properties, model) if capped else None
            if index in capped:
                cap, period = capped[index]
                key = (lead_id, index, cap_period_start(event.occurred_at, period))
                cap_counts[key] += 1
                if cap_counts[key] > cap:
                    points = 0  # over the cap for this period: stored, counted, earns nothing
            event.points, event.scored_at = points, now
            engagement += decay(points, (now - event.occurred_at).total_seconds() / 86400, hl)
            earned += points
            if points:
                recent.append({"event": label, "points": points, "at": event.occurred_at.isoformat()})
            if event.event_type in model.fast_lane_event_types and fast_lane is None:
                fast_lane = event.event_type
        before = lead.total_score
        lead.engagement_score, lead.engagement_scored_at = engagement, now
        lead.total_score = _total(lead.fit_score, engagement)
        explanation = lead.score_explanation or {}
        explanation["engagement"] = (recent + explanation.get("engagement", []))[:10]
        lead.score_explanation = explanation
        lead.updated_at = now
        lead.save(
            update_fields=["engagement_score", "engagement_scored_at", "total_score", "score_explanation", "updated_at"]
        )
        if lead.total_score != before:
            ScoreChange.objects.create(
                organization_id=lead.organization_id,
                lead=lead,
                changed_at=now,
                fit_score=lead.fit_score,
                engagement_score=round(engagement),
                total_score=lead.total_score,
                delta=lead.total_score - before,
                reason=f"{len(lead_events)} event(s), +{earned} points before decay",
                scoring_model=model,
            )
        rule = _qualifies(lead, model, fast_lane)
        if rule:
            lead_transition(lead=lead, to=Lead.Stage.MQL, rule=f"scoring v{model.version}: {rule}", now=now)
    ActivityEvent.objects.bulk_update(events, ["points", "scored_at"])
    return len(events)
