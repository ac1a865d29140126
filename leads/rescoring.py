"""Full rescore after a scoring-model change: set-based, in chunks of lead ids, constant memory.

The rules of a scoring model are compiled to SQL expressions (the same rules leads.scoring
evaluates in Python for incremental scoring). Each chunk is one transaction: record score
changes, update the leads' score rows (``leads_leadscore``, narrow: not the wide lead rows),
mark the chunk's pending events as scored; then leads that now qualify become MQLs in bulk
through the services.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from functools import reduce

from django.conf import settings
from django.db import connection, connections, transaction
from django.db.models import Case, DateTimeField, F, FloatField, Func, Q, Sum, Value, When
from django.db.models.functions import Power, Trunc
from django.utils import timezone

from leads.models import ActivityEvent, Lead, ScoringModel
from leads.scoring import QUALIFIABLE, RECYCLED, RECYCLED_SINCE_UNKNOWN

CHUNK = 20_000
# The statements below are composed from SQL that Django compiled (fragments without data);
# every value, including each rule's text, travels as a query parameter. Hence the S608 noqa.
FIELDS = {
    "title": "title",
    "seniority": "seniority",
    "industry": "company__industry",
    "company_size": "company__size",
    "country": "company__country",
    "persona": "persona__name",
}


class AgeDays(Func):
    """Days from a datetime column to ``now`` (a float), on PostgreSQL and SQLite."""

    output_field = FloatField()

    def __init__(self, column: str, now: datetime) -> None:
        super().__init__(Value(now), F(column))

    def as_postgresql(self, compiler, connection, **extra):
        now_sql, now_params = compiler.compile(self.source_expressions[0])
        col_sql, col_params = compiler.compile(self.source_expressions[1])
        # As a double: EXTRACT gives a numeric, and POWER() on numerics is ~8x slower over millions of events.
        return (
            f"(CAST(EXTRACT(EPOCH FROM ({now_sql} - {col_sql})) AS DOUBLE PRECISION) / 86400.0)",
            [*now_params, *col_params],
        )

    def as_sqlite(self, compiler, connection, **extra):
        now_sql, now_params = compiler.compile(self.source_expressions[0])
        col_sql, col_params = compiler.compile(self.source_expressions[1])
        return f"(julianday({now_sql}) - julianday({col_sql}))", [*now_params, *col_params]


def _rule_q(rule: dict) -> Q:
    """A fit rule as a condition on a lead (mirrors leads.scoring.rule_matches)."""
    attribute, operator, value = rule["attribute"], rule["operator"], rule.get("value")
    if attribute == "email_domain":
        options = value if isinstance(value, list) else [value]
        if operator == "is_set":
            return Q(pk__isnull=False)
        if operator == "contains":
            return Q(email__icontains=str(value).split("@")[-1]) & Q(email__contains="@")
        return reduce(lambda a, b: a | b, (Q(email__iendswith=f"@{str(o).strip()}") for o in options))
    field = FIELDS[attribute]
    if operator == "is_set":
        return (
            Q(**{f"{field}__isnull": False}) & ~Q(**{field: ""})
            if attribute != "company_size"
            else Q(**{f"{field}__isnull": False})
        )
    if operator in ("gte", "lte"):
        return Q(**{f"{field}__{operator}": float(value)})
    if operator == "contains":
        return Q(**{f"{field}__icontains": str(value)})
    if operator == "equals":
        return Q(**{f"{field}__iexact": str(value)})
    options = value if isinstance(value, list) else str(value).split(",")
    return reduce(lambda a, b: a | b, (Q(**{f"{field}__iexact": str(o).strip()}) for o in options))


def fit_expression(model: ScoringModel):
    """The fit score of a lead under ``model``, as one SQL expression."""
    terms = [Case(When(_rule_q(r), then=Value(int(r["points"]))), default=Value(0)) for r in model.fit_rules]
    if model.persona_match_points:
        terms.append(Case(When(persona__isnull=False, then=Value(model.persona_match_points)), default=Value(0)))
    return reduce(lambda a, b: a + b, terms, Value(0))


def rule_condition(rule: dict) -> Q:
    condition = Q(event_type=rule["event_type"])
    if rule.get("property") and rule.get("contains"):
        condition &= Q(**{f"properties__{rule['property']}__icontains": rule["contains"]})
    return condition


def points_expression(model: ScoringModel):
    """The engagement points of an event under ``model`` (first matching rule), as SQL, before caps."""
    whens = [When(rule_condition(rule), then=Value(int(rule["points"]))) for rule in model.engagement_rules]
    return Case(*whens, default=Value(0)) if whens else Value(0)


def rule_index_expression(model: ScoringModel):
    """The index of the engagement rule an event matches first (-1: none), as SQL."""
    rules = model.engagement_rules
    return Case(*(When(rule_condition(r), then=Value(i)) for i, r in enumerate(rules)), default=Value(-1))


def cap_period_expression(model: ScoringModel):
    """The start of the cap period (UTC day, week or month) an event falls in, for events whose
    first matching rule is capped (NULL otherwise), as SQL. Only capped rules are tried: an event
    an earlier uncapped rule matches has that rule's index, and its period is never read."""
    rules = model.engagement_rules
    capped = [r for r in rules if r.get("cap")]
    return Case(
        *(When(rule_condition(r), then=Trunc("occurred_at", r.get("cap_period") or "day", tzinfo=UTC)) for r in capped),
        default=Value(None),
        output_field=DateTimeField(),
    )


def _capped_points_sql(model: ScoringModel, events, now: datetime) -> tuple[str, list]:
    """``events`` with ``id``, ``lead_id``, ``age`` (days before ``now``) and the points each earns after the
    caps: within a lead, a capped rule and one calendar period, the events in order of
    occurrence (then id) up to the cap earn the rule's points, the rest none (leads.scoring
    applies the same rule batch by batch).

    Each event's rule is matched once, in a subquery the planner may not flatten (``OFFSET 0``
    on PostgreSQL): flattened, the rules' ``CASE`` (JSON property tests included) was evaluated
    again for the window's partition and for the points."""
    rules = model.engagement_rules
    matched_sql, matched_params = _sql(
        events.annotate(
            rule_index=rule_index_expression(model),
            period=cap_period_expression(model),
            age=AgeDays("occurred_at", now),
        )
        .values("id", "lead_id", "occurred_at", "age", "rule_index", "period")
        .order_by()
    )
    fence = " OFFSET 0" if connection.vendor == "postgresql" else ""
    points = "CASE m.rule_index " + " ".join("WHEN %s THEN %s" for _ in rules) + " ELSE 0 END"
    points_params = [v for i, rule in enumerate(rules) for v in (i, int(rule["points"]))]
    over_cap = " OR ".join("(r.rule_index = %s AND r.n > %s)" for rule in rules if rule.get("cap"))
    caps = [v for i, rule in enumerate(rules) if rule.get("cap") for v in (i, int(rule["cap"]))]
    return (
        f"SELECT r.id, r.lead_id, r.age, CASE WHEN {over_cap} THEN 0 ELSE r.pts END AS pts FROM ("  # noqa: S608
        f"SELECT m.id, m.lead_id, m.age, m.rule_index, {points} AS pts, ROW_NUMBER() OVER "
        "(PARTITION BY m.lead_id, m.rule_index, m.period ORDER BY m.occurred_at, m.id) AS n "
        f"FROM ({matched_sql}{fence}) m) r",
        [*caps, *points_params, *matched_params],
    )


def _has_caps(model: ScoringModel) -> bool:
    return any(rule.get("cap") for rule in model.engagement_rules)


def engagement_sql(model: ScoringModel, events, now: datetime) -> tuple[str, list]:
    """``SELECT lead_id, eng``: each lead's decayed engagement under ``model`` from ``events``."""
    if not _has_caps(model):
        decayed = points_expression(model) * Power(Value(0.5), AgeDays("occurred_at", now) / model.decay_half_life_days)
        return _sql(events.values("lead_id").annotate(eng=Sum(decayed, output_field=FloatField())).order_by())
    points_sql, points_params = _capped_points_sql(model, events, now)
    return (
        f"SELECT p.lead_id, SUM(p.pts * POWER(0.5, p.age / %s)) AS eng FROM ({points_sql}) p GROUP BY p.lead_id",  # noqa: S608
        [model.decay_half_life_days, *points_params],
    )


def _sql(queryset) -> tuple[str, list]:
    sql, params = queryset.query.sql_with_params()
    return sql, list(params)


def _rescore_chunk(model: ScoringModel, low: int, high: int, now: datetime) -> tuple[int, int]:
    """Rescore the leads with ids in [low, high): one transaction. The new scores are computed
    once into a temporary table, from which the score changes, the leads and the chunk's
    pending events are written. Returns the chunk's leads and how many of them changed."""
    org = model.organization
    with transaction.atomic(), connection.cursor() as cursor:
        max_event_id = (
            ActivityEvent.objects.filter(organization=org).order_by("-pk").values_list("pk", flat=True).first() or 0
        )
        events = ActivityEvent.objects.filter(
            organization=org, lead_id__gte=low, lead_id__lt=high, pk__lte=max_event_id
        )
        lead_sql, lead_params = _sql(
            Lead.objects.filter(organization=org, pk__gte=low, pk__lt=high)
            .annotate(new_fit=fit_expression(model))
            .values("pk", "new_fit")
            .order_by()
        )
        cursor.execute("DROP TABLE IF EXISTS rescore_points")
        cursor.execute("DROP TABLE IF EXISTS rescore_scores")
        if _has_caps(model):
            # Each event's capped points once: the engagement sums them, the pending events get them.
            points_sql, points_params = _capped_points_sql(model, events, now)
            cursor.execute(f"CREATE TEMPORARY TABLE rescore_points AS {points_sql}", points_params)
            event_sql = "SELECT lead_id, SUM(pts * POWER(0.5, age / %s)) AS eng FROM rescore_points GROUP BY lead_id"
            event_params: list = [model.decay_half_life_days]
        else:
            event_sql, event_params = engagement_sql(model, events, now)
        cursor.execute(
            "CREATE TEMPORARY TABLE rescore_scores AS "  # noqa: S608
            "SELECT n.pk AS id, n.new_fit AS fit, COALESCE(e.eng, 0) AS eng, "
            "n.new_fit + CAST(ROUND(COALESCE(e.eng, 0)) AS INTEGER) AS total "
            f"FROM ({lead_sql}) n LEFT JOIN ({event_sql}) e ON e.lead_id = n.pk",
            [*lead_params, *event_params],
        )
        if connection.vendor == "postgresql":
            cursor.execute("ANALYZE rescore_scores")  # a temporary table has no statistics: plan the joins
        # Leads made around the services have no score row yet: a zero one, so they are rescored too.
        cursor.execute(
            "INSERT INTO leads_leadscore (lead_id, organization_id, fit, engagement, total) "
            "SELECT s.id, %s, 0, 0, 0 FROM rescore_scores s "
            "WHERE NOT EXISTS (SELECT 1 FROM leads_leadscore x WHERE x.lead_id = s.id)",
            [org.pk],
        )
        cursor.execute(
            "INSERT INTO leads_scorechange (organization_id, lead_id, changed_at, fit_score, engagement_score, "
            "total_score, delta, reason, scoring_model_id) "
            "SELECT l.organization_id, l.lead_id, %s, s.fit, CAST(ROUND(s.eng) AS INTEGER), s.total, "
            "s.total - l.total, %s, %s "
            "FROM leads_leadscore l JOIN rescore_scores s ON s.id = l.lead_id WHERE s.total <> l.total "
            # The chunk's range on the score rows too: else a merge join reads the primary key from
            # the first lead up to the chunk, and the rescore grows with the square of the leads.
            "AND l.lead_id >= %s AND l.lead_id < %s",
            [now, f"Rescored under scoring model v{model.version}", model.pk, low, high],
        )
        cursor.execute(
            "UPDATE leads_leadscore SET fit = s.fit, engagement = s.eng, engagement_scored_at = %s, "
            "total = s.total FROM rescore_scores s WHERE leads_leadscore.lead_id = s.id "
            "AND leads_leadscore.lead_id >= %s AND leads_leadscore.lead_id < %s "
            # A row that would not change is not rewritten: e.g. no engagement before or after,
            # same fit. Anything with engagement changes by decay.
            "AND (leads_leadscore.fit <> s.fit OR leads_leadscore.total <> s.total "
            "OR leads_leadscore.engagement <> s.eng)",
            [now, low, high],
        )
        updated = cursor.rowcount
        # Usually nothing of the chunk is pending (scoring keeps up): one probe, not a pass over its events.
        pending = events.filter(scored_at=None).exists()
        if pending and _has_caps(model):
            cursor.execute(
                "UPDATE leads_activityevent SET points = p.pts, scored_at = %s FROM rescore_points p "
                "WHERE leads_activityevent.id = p.id AND leads_activityevent.scored_at IS NULL "
                # the chunk's range too, so the planner reads the chunk's events, not the whole table
                "AND leads_activityevent.lead_id >= %s AND leads_activityevent.lead_id < %s",
                [now, low, high],
            )
        elif pending:
            events.filter(scored_at=None).update(points=points_expression(model), scored_at=now)
        if _has_caps(model):
            cursor.execute("DROP TABLE rescore_points")
        cursor.execute("SELECT COUNT(*) FROM rescore_scores")
        in_chunk = cursor.fetchone()[0]
        cursor.execute("DROP TABLE rescore_scores")
    return in_chunk, updated


def rescore_lead(*, lead: Lead, now: datetime | None = None, qualify: bool = True) -> None:
    """Recompute one lead's fit and engagement from all its events under its organisation's active
    model, and (``qualify``) qualify it as a full rescore would (``qualifying_leads``, through
    lead_transition).

    Incremental scoring only adds a batch's new events to the stored engagement: when events move
    onto a lead from elsewhere (a merge, or its undo) they were scored for the other lead, and
    this is what counts them for this one. The rescore's SQL, restricted to the lead's id.
    """
    from leads.services import active_scoring_model, lead_transition, qualifying_leads

    now = now or timezone.now()
    model = active_scoring_model(lead.organization)
    if model is None:
        return
    model.organization = lead.organization
    _rescore_chunk(model, lead.pk, lead.pk + 1, now)
    if qualify and qualifying_leads(org=lead.organization, model=model).filter(pk=lead.pk).exists():
        lead_transition(lead=lead, to=Lead.Stage.MQL, rule=f"scoring v{model.version}: rescore", now=now)


def _workers(chunks: int) -> int:
    """Chunks rescored at once: on PostgreSQL a chunk is CPU-bound in its own server process, so
    two connections use two cores. Not inside a transaction (its rows would be invisible to the
    other connections, e.g. a test's) and not on SQLite (one writer at a time)."""
    if connection.vendor != "postgresql" or connection.in_atomic_block or chunks < 2:
        return 1
    return max(1, min(settings.RESCORE_WORKERS, chunks))


def rescore_organization(
    *, model: ScoringModel, now: datetime | None = None, progress: Callable[[int, int], None] | None = None
) -> dict[str, int]:
    """Recompute every lead's fit and engagement under ``model``; qualify those who now pass.

    Returns counts. ``progress(done, total)`` is called after each chunk.
    """
    from leads.services import leads_qualify_bulk

    now = now or timezone.now()
    org = model.organization
    leads = Lead.objects.for_org(org)
    total = leads.count()
    first = leads.order_by("pk").values_list("pk", flat=True).first()
    last = leads.order_by("-pk").values_list("pk", flat=True).first()
    ranges = [] if first is None else [(low, low + CHUNK) for low in range(first, last + 1, CHUNK)]
    counts = {"done": 0, "rescored": 0}
    lock = threading.Lock()

    def rescore(bounds: tuple[int, int]) -> None:
        in_chunk, updated = _rescore_chunk(model, *bounds, now)
        with lock:
            counts["done"] += in_chunk
            counts["rescored"] += updated
            if progress:
                progress(counts["done"], total)

    def rescore_in_own_connection(bounds: tuple[int, int]) -> None:
        try:
            rescore(bounds)
        finally:
            connections.close_all()  # this thread's connections only

    workers = _workers(len(ranges))
    if workers > 1:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(rescore_in_own_connection, ranges))
    else:
        for bounds in ranges:
            rescore(bounds)
    qualified = leads_qualify_bulk(org=org, model=model, now=now)
    return {"leads": total, "rescored": counts["rescored"], "qualified": qualified}


def rescore_preview(*, model: ScoringModel, now: datetime | None = None) -> dict[str, int]:
    """How many leads would be MQL (or beyond qualification) under ``model``, against today.

    "Would be": leads now MQL, plus those the rescore would qualify (``qualifying_leads``: a
    subscriber or lead whose score under ``model`` reaches its threshold or with a fast-lane
    event; a lead in nurture only with a fast-lane event since it entered nurture). Computed in
    the database, without changing anything.
    """
    now = now or timezone.now()
    org = model.organization
    (lead_sql, lead_params), (event_sql, event_params) = (
        _sql(
            Lead.objects.filter(organization=org)
            .annotate(new_fit=fit_expression(model))
            .values("pk", "new_fit")
            .order_by()
        ),
        engagement_sql(model, ActivityEvent.objects.filter(organization=org, lead__isnull=False), now),
    )
    # The candidates of leads.services.qualifying_leads (what the rescore will qualify), with the
    # scores computed under ``model`` instead of read: tests hold the two to the same count.
    fresh, recycled = sorted(QUALIFIABLE - RECYCLED), sorted(RECYCLED)
    passes = (
        f"(l.lifecycle_stage IN ({', '.join('%s' for _ in fresh)}) AND "
        "n.new_fit + CAST(ROUND(COALESCE(e.eng, 0)) AS INTEGER) >= %s AND n.new_fit >= %s)"
    )
    passes_params: list = [*fresh, model.mql_threshold, model.mql_min_fit]
    if model.fast_lane_event_types:
        kinds = ", ".join("%s" for _ in model.fast_lane_event_types)
        fast_lane = f"SELECT 1 FROM leads_activityevent f WHERE f.lead_id = l.id AND f.event_type IN ({kinds})"  # noqa: S608
        in_recycled = ", ".join("%s" for _ in recycled)
        passes = (
            f"({passes} "  # noqa: S608
            f"OR (l.lifecycle_stage IN ({', '.join('%s' for _ in fresh)}) AND EXISTS ({fast_lane})) "
            f"OR (l.lifecycle_stage IN ({in_recycled}) AND EXISTS ({fast_lane} AND f.occurred_at > COALESCE("
            f"(SELECT MAX(s.changed_at) FROM leads_stagechange s WHERE s.lead_id = l.id "
            f"AND s.to_stage IN ({in_recycled})), %s))))"
        )
        passes_params += [
            *fresh,
            *model.fast_lane_event_types,
            *recycled,
            *model.fast_lane_event_types,
            *recycled,
            connection.ops.adapt_datetimefield_value(RECYCLED_SINCE_UNKNOWN),
        ]
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT COUNT(*) FROM leads_lead l JOIN ({lead_sql}) n ON n.pk = l.id "  # noqa: S608
            f"LEFT JOIN ({event_sql}) e ON e.lead_id = l.id "
            f"WHERE {passes}",
            [*lead_params, *event_params, *passes_params],
        )
        newly = cursor.fetchone()[0]
    today = Lead.objects.for_org(org).filter(lifecycle_stage=Lead.Stage.MQL).count()
    return {"mql_today": today, "mql_under_model": today + newly, "newly_qualified": newly}
