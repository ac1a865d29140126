from __future__ import annotations

import pytest
from django.urls import reverse

from leads.models import ActivityEvent, Job, Lead, ScoringModel
from leads.scoring_models import DEFAULT_MODEL, ScoringModelInput, scoring_model_draft, scoring_model_update
from smarketing.errors import Conflict, InvalidInput
from tests.factories import LeadFactory

pytestmark = pytest.mark.django_db


def test_first_draft_starts_from_the_default_and_only_one_draft_at_a_time(org, marketer):
    draft = scoring_model_draft(org=org, actor=marketer)
    assert draft.version == 1 and draft.status == "draft" and draft.mql_threshold == DEFAULT_MODEL["mql_threshold"]
    with pytest.raises(Conflict, match="already a draft"):
        scoring_model_draft(org=org)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"fit_rules": [{"attribute": "shoe_size", "operator": "equals", "value": "9", "points": 5}]}, "attribute"),
        ({"fit_rules": [{"attribute": "company_size", "operator": "gte", "value": "many", "points": 5}]}, "number"),
        ({"fit_rules": [{"attribute": "title", "operator": "contains", "value": "", "points": 5}]}, "value"),
        ({"engagement_rules": [{"event_type": "page_view", "property": "url", "points": 5}]}, "both"),
        (
            {"engagement_rules": [{"event_type": "page_view", "property": "url__x", "contains": "a", "points": 1}]},
            "property name",
        ),
        ({"engagement_rules": [{"event_type": "page_view", "points": 1, "cap": 0}]}, "cap"),
        ({"engagement_rules": [{"event_type": "page_view", "points": 1, "cap": "5"}]}, "cap"),
        ({"engagement_rules": [{"event_type": "page_view", "points": 1, "cap": 5, "cap_period": "year"}]}, "per day"),
        ({"decay_half_life_days": 0}, "half-life"),
        ({"fast_lane_event_types": ["teleport"]}, "fast-lane"),
    ],
)
def test_invalid_rules_are_refused(org, data, message):
    draft = scoring_model_draft(org=org)
    with pytest.raises(InvalidInput, match=message):
        scoring_model_update(model=draft, data=ScoringModelInput(**data))


def test_marketer_edits_a_draft_through_the_page(login, org, marketer):
    draft = scoring_model_draft(org=org)
    data = {
        "persona_match_points": 10, "decay_half_life_days": 14, "mql_threshold": 40, "mql_min_fit": 0,
        "fast_lane_event_types": ["demo_request"],
        "fit-TOTAL_FORMS": 2, "fit-INITIAL_FORMS": 0,
        "fit-0-attribute": "country", "fit-0-operator": "in", "fit-0-value": "GB, DE", "fit-0-points": 15,
        "eng-TOTAL_FORMS": 2, "eng-INITIAL_FORMS": 0,
        "eng-0-event_type": "page_view", "eng-0-property": "url", "eng-0-contains": "/pricing", "eng-0-points": 30,
        "eng-1-event_type": "email_open", "eng-1-points": 2, "eng-1-cap": 3, "eng-1-cap_period": "week",
    }  # fmt: skip
    response = login(marketer).post(reverse("scoring:detail", args=[draft.pk]), data, follow=True)
    assert "Draft v1 saved" in response.content.decode()
    draft.refresh_from_db()
    assert draft.fit_rules == [{"attribute": "country", "operator": "in", "value": ["GB", "DE"], "points": 15}]
    assert draft.engagement_rules[0]["contains"] == "/pricing" and draft.mql_threshold == 40
    assert "cap" not in draft.engagement_rules[0]
    assert draft.engagement_rules[1] == {"event_type": "email_open", "points": 2, "cap": 3, "cap_period": "week"}
    page = login(marketer).get(reverse("scoring:detail", args=[draft.pk])).content.decode()
    assert 'name="eng-1-cap" value="3"' in page


def test_a_cap_out_of_range_on_the_page_is_a_field_error(login, org, marketer):
    draft = scoring_model_draft(org=org)
    data = {
        "persona_match_points": 0, "decay_half_life_days": 30, "mql_threshold": 60, "mql_min_fit": 0,
        "fit-TOTAL_FORMS": 0, "fit-INITIAL_FORMS": 0,
        "eng-TOTAL_FORMS": 1, "eng-INITIAL_FORMS": 0,
        "eng-0-event_type": "page_view", "eng-0-points": 1, "eng-0-cap": 0, "eng-0-cap_period": "day",
    }  # fmt: skip
    response = login(marketer).post(reverse("scoring:detail", args=[draft.pk]), data)
    assert response.status_code == 200 and "greater than or equal to 1" in response.content.decode()
    draft.refresh_from_db()
    assert draft.engagement_rules == DEFAULT_MODEL["engagement_rules"]


def test_preview_then_activate_rescores_in_the_background(login, org, marketer, django_capture_on_commit_callbacks):
    hot = LeadFactory(organization=org, email="hot@x.test")
    LeadFactory(organization=org, email="cold@x.test")
    ActivityEvent.objects.create(
        organization=org,
        lead=hot,
        client_event_id="d",
        event_type="demo_request",
        occurred_at=hot.created_at,
        properties={},
    )
    draft = scoring_model_draft(org=org)
    client = login(marketer)
    preview = client.get(reverse("scoring:preview", args=[draft.pk]), headers={"HX-Request": "true"})
    assert "1</strong> lead would be MQL" in preview.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("scoring:activate", args=[draft.pk]))
    job = Job.objects.get(kind="rescore")
    assert response["Location"] == reverse("scoring:job", args=[job.pk])
    assert (job.status, job.result["qualified"]) == ("done", 1)
    assert Lead.objects.get(email="hot@x.test").lifecycle_stage == "mql"
    assert ScoringModel.objects.get().status == "active"
    fragment = client.get(reverse("scoring:job", args=[job.pk]), headers={"HX-Request": "true"}).content.decode()
    assert "hx-trigger" not in fragment and "became MQL" in fragment


def test_a_running_job_keeps_polling(login, org, marketer):
    job = Job.objects.create(organization=org, kind="rescore", status="running", total=10, done=4)
    body = login(marketer).get(reverse("scoring:job", args=[job.pk])).content.decode()
    assert 'hx-trigger="every 1s"' in body and "4 of 10" in body and 'value="40"' in body


def test_reps_can_look_but_not_change_scoring(login, org, rep):
    draft = scoring_model_draft(org=org)
    client = login(rep)
    assert client.get(reverse("scoring:home")).status_code == 200
    assert client.post(reverse("scoring:draft")).status_code == 403
    assert client.post(reverse("scoring:activate", args=[draft.pk])).status_code == 403
    page = client.get(reverse("scoring:detail", args=[draft.pk])).content.decode()
    assert "Save draft" not in page


def test_only_the_scoring_section_is_current_in_the_navigation(login, org, marketer):
    page = login(marketer).get(reverse("scoring:home")).content.decode()
    assert 'aria-current="page">Scoring<' in page
    assert 'aria-current="page">Overview<' not in page
