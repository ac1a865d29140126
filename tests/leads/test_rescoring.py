"""The set-based rescore must agree with incremental scoring (same rules, SQL vs Python)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from leads.models import ActivityEvent, Lead, ScoreChange, ScoringModel, StageChange
from leads.rescoring import rescore_organization, rescore_preview
from leads.scoring import fit_points, score_events
from leads.services import LeadInput, lead_create, lead_update
from personas import services as persona_services
from personas.services import PersonaInput
from tests.factories import LeadFactory

pytestmark = pytest.mark.django_db

FIT_RULES = [
    {"attribute": "title", "operator": "contains", "value": "head", "points": 10},
    {"attribute": "country", "operator": "in", "value": ["GB", "DE"], "points": 15},
    {"attribute": "company_size", "operator": "gte", "value": 50, "points": 10},
    {"attribute": "email_domain", "operator": "in", "value": ["competitor.test"], "points": -50},
    {"attribute": "industry", "operator": "equals", "value": "software", "points": 5},
    {"attribute": "seniority", "operator": "is_set", "points": 2},
]
ENGAGEMENT_RULES = [
    {"event_type": "page_view", "property": "url", "contains": "/pricing", "points": 30},
    {"event_type": "page_view", "points": 5},
    {"event_type": "demo_request", "points": 40},
]


def make_model(org, version=1, status="draft", **overrides):
    fields = {
        "fit_rules": FIT_RULES,
        "engagement_rules": ENGAGEMENT_RULES,
        "persona_match_points": 7,
        "decay_half_life_days": 30,
        "mql_threshold": 60,
        "mql_min_fit": 10,
        "fast_lane_event_types": ["demo_request"],
    }
    return ScoringModel.objects.create(organization=org, version=version, status=status, **(fields | overrides))


@pytest.fixture
def people(org):
    persona_services.persona_create(org=org, data=PersonaInput(name="Heads", title_keywords=["head"]))
    leads = [
        lead_create(
            org=org,
            rule="t",
            data=LeadInput(
                email="a@acme.test",
                title="Head of Ops",
                country="gb",
                company_size=200,
                industry="Software",
                seniority="director",
            ),
        ),
        lead_create(org=org, rule="t", data=LeadInput(email="b@competitor.test", title="Head of Sales")),
        lead_create(org=org, rule="t", data=LeadInput(email="c@gmail.com", title="Student")),
    ]
    now = timezone.now()
    for i, (lead, kind, url, age) in enumerate(
        [
            (leads[0], "page_view", "/pricing", 0),
            (leads[0], "page_view", "/blog", 15),
            (leads[1], "page_view", "/pricing", 60),
            (leads[2], "demo_request", "", 1),
        ]
    ):
        ActivityEvent.objects.create(
            organization=org,
            lead=lead,
            client_event_id=f"e{i}",
            event_type=kind,
            occurred_at=now - timedelta(days=age),
            properties={"url": url} if url else {},
        )
    return leads


def test_rescore_matches_python_scoring(org, people):
    model = make_model(org)
    now = timezone.now()
    result = rescore_organization(model=model, now=now)
    assert result["leads"] == 3
    for lead in Lead.objects.select_related("company", "persona"):
        expected_fit, _ = fit_points(lead, model)
        assert lead.fit_score == expected_fit
    a = Lead.objects.get(email="a@acme.test")
    # fit: head 10 + GB 15 + size 10 + software 5 + seniority 2 + persona 7 = 49
    assert a.fit_score == 49
    # engagement: 30 (today) + 5 * 0.5**(15/30)
    assert a.engagement_score == pytest.approx(30 + 5 * 0.5**0.5, rel=1e-4)
    assert a.total_score == 49 + round(30 + 5 * 0.5**0.5)
    b = Lead.objects.get(email="b@competitor.test")
    assert b.fit_score == 10 + 7 - 50 and b.engagement_score == pytest.approx(30 * 0.25, rel=1e-4)


def test_rescore_qualifies_in_bulk_records_history_and_is_repeatable(org, people):
    model = make_model(org, status="active")
    now = timezone.now()
    result = rescore_organization(model=model, now=now)
    a, c = Lead.objects.get(email="a@acme.test"), Lead.objects.get(email="c@gmail.com")
    assert a.lifecycle_stage == "mql"  # 84 >= 60 and fit 49 >= 10
    assert c.lifecycle_stage == "mql"  # fast lane: demo request
    assert Lead.objects.get(email="b@competitor.test").lifecycle_stage == "lead"
    assert result["qualified"] == 2
    change = StageChange.objects.get(lead=a, to_stage="mql")
    assert change.scoring_model == model and change.total_score == a.total_score
    assert ScoreChange.objects.filter(scoring_model=model).count() == 3
    assert not ActivityEvent.objects.filter(scored_at=None).exists()
    again = rescore_organization(model=model, now=now)
    assert again["qualified"] == 0 and ScoreChange.objects.filter(scoring_model=model).count() == 3


def test_after_a_rescore_new_events_are_not_counted_twice(org, people):
    model = make_model(org, status="active")
    now = timezone.now()
    rescore_organization(model=model, now=now)
    a = Lead.objects.get(email="a@acme.test")
    before = a.engagement_score
    new = ActivityEvent.objects.create(
        organization=org, lead=a, client_event_id="later", event_type="page_view", occurred_at=now, properties={}
    )
    score_events(event_ids=[new.pk], now=now)
    a.refresh_from_db()
    assert a.engagement_score == pytest.approx(before + 5)


def test_preview_counts_without_changing_anything(org, people):
    LeadFactory(organization=org, lifecycle_stage="mql")
    model = make_model(org)
    preview = rescore_preview(model=model)
    # a passes the threshold; c has a demo request (fast lane); b does neither.
    assert preview == {"mql_today": 1, "mql_under_model": 3, "newly_qualified": 2}
    stricter = make_model(org, version=2, mql_threshold=500, fast_lane_event_types=[])
    assert rescore_preview(model=stricter)["newly_qualified"] == 0
    assert not ScoreChange.objects.exists() and Lead.objects.filter(lifecycle_stage="mql").count() == 1


def test_progress_is_reported_per_chunk(org, people, monkeypatch):
    monkeypatch.setattr("leads.rescoring.CHUNK", 1)
    seen = []
    rescore_organization(model=make_model(org), progress=lambda done, total: seen.append((done, total)))
    assert seen[-1] == (3, 3) and len(seen) >= 3


CAPPED_RULES = [
    {"event_type": "page_view", "property": "url", "contains": "/pricing", "points": 10, "cap": 2, "cap_period": "day"},
    {"event_type": "page_view", "points": 1},
    {"event_type": "email_open", "points": 3, "cap": 1, "cap_period": "week"},
]


def _events(org, lead, specs, start=0):
    return [
        ActivityEvent.objects.create(
            organization=org,
            lead=lead,
            client_event_id=f"cap{start + i}",
            event_type=kind,
            occurred_at=at,
            properties={"url": url} if url else {},
        )
        for i, (kind, url, at) in enumerate(specs)
    ]


def test_a_capped_rule_pays_at_most_its_cap_per_period_in_batches_and_in_a_rescore(org):
    model = make_model(
        org, status="active", fit_rules=[], persona_match_points=0, engagement_rules=CAPPED_RULES, mql_threshold=500
    )
    lead = lead_create(org=org, rule="t", data=LeadInput(email="capped@acme.test"))
    now = timezone.now().replace(hour=12, minute=0)
    today, yesterday = now - timedelta(hours=1), now - timedelta(days=1)
    first = _events(
        org,
        lead,
        [("page_view", "/pricing", today - timedelta(minutes=m)) for m in range(3)]  # 3 today: 2 pay
        + [("page_view", "/pricing", yesterday)]  # another day: pays
        + [("page_view", "/blog", today)],  # the uncapped rule: pays
    )
    score_events(event_ids=[e.pk for e in first], now=now)
    # a later batch on the same day: the cap is already used up by the first batch
    second = _events(org, lead, [("page_view", "/pricing", today), ("email_open", "", today)], start=10)
    score_events(event_ids=[e.pk for e in second], now=now)
    points = dict(ActivityEvent.objects.filter(lead=lead).values_list("client_event_id", "points"))
    assert sorted(points[f"cap{i}"] for i in range(3)) == [0, 10, 10]
    assert points["cap3"] == 10 and points["cap4"] == 1 and points["cap10"] == 0 and points["cap11"] == 3
    lead.refresh_from_db()
    incremental = lead.engagement_score
    expected = 10 * 2 * 0.5 ** (1 / 24 / 30) + 10 * 0.5 ** (1 / 30) + (1 + 3) * 0.5 ** (1 / 24 / 30)
    assert incremental == pytest.approx(expected, rel=1e-3)

    rescore_organization(model=model, now=now)
    lead.refresh_from_db()
    assert lead.engagement_score == pytest.approx(incremental, rel=1e-6)
    capped_only = {"fit_rules": [], "persona_match_points": 0, "mql_min_fit": 0, "engagement_rules": CAPPED_RULES}
    at_threshold = make_model(org, version=2, mql_threshold=round(expected), **capped_only)
    assert rescore_preview(model=at_threshold, now=now)["newly_qualified"] == 1
    above = make_model(org, version=3, mql_threshold=round(expected) + 1, **capped_only)
    assert rescore_preview(model=above, now=now)["newly_qualified"] == 0


def test_the_rescore_marks_pending_events_with_their_capped_points(org):
    model = make_model(org, status="active", fit_rules=[], persona_match_points=0, engagement_rules=CAPPED_RULES)
    lead = lead_create(org=org, rule="t", data=LeadInput(email="weekly@acme.test"))
    monday = timezone.now().replace(hour=9, minute=0, second=0, microsecond=0) - timedelta(weeks=2)
    monday -= timedelta(days=monday.weekday())
    _events(org, lead, [("email_open", "", monday + timedelta(days=d)) for d in (0, 3, 7)])  # two weeks
    rescore_organization(model=model, now=timezone.now())
    points = list(ActivityEvent.objects.filter(lead=lead).order_by("occurred_at").values_list("points", flat=True))
    assert points == [3, 0, 3]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_chunks_rescored_in_parallel_connections_give_the_same_scores(org, monkeypatch, settings):
    leads = [lead_create(org=org, rule="t", data=LeadInput(email=f"p{i}@acme.test", title="Head")) for i in range(7)]
    now = timezone.now()
    noon = now.replace(hour=12, minute=0) - timedelta(days=1)  # events of one UTC day
    for i, lead in enumerate(leads):
        _events(org, lead, [("page_view", "/pricing", noon - timedelta(hours=h)) for h in range(i % 4)], start=10 * i)
    model = make_model(org, status="active", engagement_rules=CAPPED_RULES)
    monkeypatch.setattr("leads.rescoring.CHUNK", 2)  # four chunks over two connections
    settings.RESCORE_WORKERS = 2
    seen = []
    result = rescore_organization(model=model, now=now, progress=lambda done, total: seen.append(done))
    assert result["leads"] == 7 and sorted(seen) == seen and seen[-1] == 7 and len(seen) == 4
    parallel = dict(Lead.objects.values_list("email", "score__engagement"))
    for lead in leads:  # the same leads one by one, in this connection
        ActivityEvent.objects.filter(lead=lead).update(scored_at=None, points=None)
    settings.RESCORE_WORKERS = 1
    rescore_organization(model=model, now=now)
    assert dict(Lead.objects.values_list("email", "score__engagement")) == pytest.approx(parallel)
    assert 19 < parallel["p3@acme.test"] < 20  # three pricing views in a day, two paid (10 each, a day old)


def test_incremental_scoring_and_a_rescore_under_the_same_model_agree(org, people):
    """Scored event by event (with the model active from the start: fit on creation), then
    rescored at the same moment: the same fit, engagement and total for every lead, and no
    score change recorded by the rescore since nothing changed."""
    model = make_model(org, status="active", mql_threshold=1000, fast_lane_event_types=[])
    now = timezone.now()
    for lead in Lead.objects.all():
        lead_update(lead=lead, data=LeadInput())  # fit under the now active model
    score_events(event_ids=list(ActivityEvent.objects.values_list("pk", flat=True)), now=now)
    incremental = {
        email: (fit, engagement, total)
        for email, fit, engagement, total in Lead.objects.values_list(
            "email", "score__fit", "score__engagement", "score__total"
        )
    }
    changes = ScoreChange.objects.count()

    result = rescore_organization(model=model, now=now)

    rescored = {
        lead.email: (lead.fit_score, lead.engagement_score, lead.total_score)
        for lead in Lead.objects.select_related("score")
    }
    assert rescored.keys() == incremental.keys()
    for email, (fit, engagement, total) in incremental.items():
        assert rescored[email][0] == fit and rescored[email][2] == total
        assert rescored[email][1] == pytest.approx(engagement, rel=1e-6)
    assert ScoreChange.objects.count() == changes and result["qualified"] == 0


def test_a_rescore_leaves_returned_leads_in_nurture_unless_they_acted_since(org, people, rep):
    """Sales returned them to marketing for a reason: a model change does not send them back,
    only a fast-lane event after their return does. The preview counts what the rescore does."""
    from leads.services import lead_transition

    now = timezone.now()
    a, _, c = people  # a: 84 points under the model; c: a demo request a day ago
    returned = [
        lead_transition(lead=lead, to="nurture", actor=rep, reason="Not ready", now=now - timedelta(hours=12))
        for lead in (a, c)
    ]
    again = lead_create(org=org, rule="t", data=LeadInput(email="d@acme.test", title="Head of IT"))
    lead_transition(lead=again, to="nurture", actor=rep, reason="Call in Q3", now=now - timedelta(days=3))
    ActivityEvent.objects.create(
        organization=org,
        lead=again,
        client_event_id="after-return",
        event_type="demo_request",
        occurred_at=now - timedelta(hours=1),
    )
    model = make_model(org, status="active")
    preview = rescore_preview(model=model, now=now)

    result = rescore_organization(model=model, now=now)

    stages = dict(Lead.objects.values_list("email", "lifecycle_stage"))
    assert stages == {
        "a@acme.test": "nurture",
        "b@competitor.test": "lead",
        "c@gmail.com": "nurture",
        "d@acme.test": "mql",
    }
    assert result["qualified"] == preview["newly_qualified"] == 1
    assert [r.lifecycle_stage for r in returned] == ["nurture", "nurture"]
    change = StageChange.objects.get(lead=again, to_stage="mql")
    assert (change.from_stage, change.rule, change.scoring_model) == ("nurture", "scoring v1: rescore", model)


def test_one_lead_rescored_counts_the_events_moved_onto_it_and_qualifies_it(org, people):
    from leads.rescoring import rescore_lead

    model = make_model(org, status="active", mql_threshold=90)
    now = timezone.now()
    rescore_organization(model=model, now=now)
    a, b, _ = people
    a.refresh_from_db()
    b.refresh_from_db()
    assert (a.total_score, a.lifecycle_stage) == (49 + round(30 + 5 * 0.5**0.5), "lead")  # 83
    ActivityEvent.objects.filter(lead=b).update(lead=a)  # as a merge moves them

    rescore_lead(lead=a, now=now)

    a.refresh_from_db()
    assert a.engagement_score == pytest.approx(30 + 5 * 0.5**0.5 + 30 * 0.25, rel=1e-4)
    assert (a.total_score, a.lifecycle_stage) == (90, "mql")
    assert StageChange.objects.get(lead=a, to_stage="mql").rule == "scoring v1: rescore"
    assert Lead.objects.get(pk=b.pk).total_score == b.total_score  # the others untouched


def test_a_lead_returned_while_the_rescore_runs_stays_returned(org, people, rep, monkeypatch):
    """The rescore lists its candidates, then moves them in locked batches: a lead a rep returned
    in between is judged as it is when locked, not as it was listed."""
    from leads import services

    a = people[0]  # 84 points: a candidate under the model
    real = services.qualifying_leads
    calls = []

    class ListedThenReturned:
        """The candidates as listed; the rep returns ``a`` right after."""

        def __init__(self, queryset):
            self.queryset = queryset

        def values_list(self, *fields):
            rows = list(self.queryset.values_list(*fields))
            services.lead_transition(lead=a, to="nurture", actor=rep, reason="Not ready")
            return type("Rows", (), {"iterator": lambda self, chunk_size: iter(rows)})()

    def listed_then_returned(**kwargs):
        calls.append(kwargs)
        queryset = real(**kwargs)
        return ListedThenReturned(queryset) if len(calls) == 1 else queryset

    monkeypatch.setattr(services, "qualifying_leads", listed_then_returned)
    result = rescore_organization(model=make_model(org, status="active"), now=timezone.now())

    a.refresh_from_db()
    assert a.lifecycle_stage == "nurture" and not StageChange.objects.filter(lead=a, to_stage="mql").exists()
    assert result["qualified"] == 1  # c, by its demo request
