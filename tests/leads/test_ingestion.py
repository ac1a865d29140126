from __future__ import annotations

import json
import re
from datetime import timedelta
from unittest import mock

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from kombu.exceptions import OperationalError
from rest_framework.test import APIClient

from leads import scoring, tasks
from leads.ingestion import events_ingest
from leads.models import ActivityEvent, Lead, ScoreChange, ScoringModel, StageChange, Visitor
from leads.scoring import lead_explain, score_events
from leads.services import LeadInput, lead_create, lead_update
from leads.tasks import sweep_unscored_events
from smarketing.accounts import services as account_services
from tests.factories import CampaignFactory, LeadFactory

pytestmark = pytest.mark.django_db
URL = "/api/v1/events"


def event(i: int = 1, **overrides) -> dict:
    return {
        "id": f"evt-{i}",
        "type": "page_view",
        "occurred_at": timezone.now().isoformat(),
        "email": "ann@buyer.test",
        "properties": {"url": "https://site.test/blog"},
        **overrides,
    }


@pytest.fixture
def model(org):
    return ScoringModel.objects.create(
        organization=org,
        version=1,
        status="active",
        engagement_rules=[
            {"event_type": "page_view", "property": "url", "contains": "/pricing", "points": 30},
            {"event_type": "page_view", "points": 5},
            {"event_type": "unsubscribe", "points": -20},
        ],
        decay_half_life_days=30,
        mql_threshold=50,
        fast_lane_event_types=["demo_request"],
    )


@pytest.fixture
def post(api_key_client, django_capture_on_commit_callbacks):
    def _post(events, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return api_key_client.post(URL, {"events": events}, format="json", **kwargs)

    return _post


@pytest.fixture
def post_raw(api_key_client, django_capture_on_commit_callbacks):
    """POST a JSON text as it is (escapes such as \\ud800 that a Python str cannot encode)."""

    def _post(body: str):
        with django_capture_on_commit_callbacks(execute=True):
            return api_key_client.post(URL, body, content_type="application/json")

    return _post


def test_valid_batch_is_stored_and_scored(post, org, model):
    response = post([event(1), event(2, properties={"url": "https://site.test/pricing"})])
    assert response.status_code == 202
    assert response.json() == {"accepted": 2, "duplicates": 0, "errors": []}
    lead = Lead.objects.get(email="ann@buyer.test")
    assert lead.total_score == 35 and lead.lifecycle_stage == "lead"
    assert not ActivityEvent.objects.filter(scored_at=None).exists()
    assert ScoreChange.objects.get(lead=lead).total_score == 35


def test_each_event_keeps_its_own_properties(post, org):
    """A batch's properties are stored with their own events, whatever characters they hold."""
    odd = ['say "hi"', "back\\slash", "{braces},[brackets]", "naïve — ünïcode", "", "NULL", "tab\tnew\nline"]
    batch = [event(i, properties={"n": i, "text": odd[i % len(odd)], "nested": {"list": [i, None]}}) for i in range(40)]
    assert post(batch).json()["accepted"] == 40
    stored = dict(ActivityEvent.objects.filter(organization=org).values_list("client_event_id", "properties"))
    assert stored == {e["id"]: e["properties"] for e in batch}


def test_invalid_events_are_reported_by_index_and_valid_ones_kept(post, org):
    future = (timezone.now() + timedelta(hours=2)).isoformat()
    batch = [
        event(1),
        event(2, type="teleport"),
        event(3, email="", anonymous_id=""),
        event(4, occurred_at="yesterday"),
        event(5, occurred_at=future),
        event(6, properties={"blob": "x" * 9000}),
        event(7, email="not-an-email"),
        event(8, lead={"favourite_colour": "blue"}),
        "not an object",
        event(10),
    ]
    body = post(batch).json()
    assert body["accepted"] == 2
    errors = {e["index"]: e["error"] for e in body["errors"]}
    assert sorted(errors) == [1, 2, 3, 4, 5, 6, 7, 8]
    assert "Unknown type" in errors[1] and "email" in errors[2] and "ISO 8601" in errors[3]
    assert "future" in errors[4] and "8 KB" in errors[5] and "favourite_colour" in errors[7]
    assert set(ActivityEvent.objects.values_list("client_event_id", flat=True)) == {"evt-1", "evt-10"}


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"properties": {"note": "a\x00b"}}, "NUL"),
        ({"properties": {"a\x00b": 1}}, "NUL"),
        ({"properties": {"note": "\ud800"}}, "surrogate"),
        ({"id": "evt-\x00"}, "NUL"),
        ({"anonymous_id": "v-\x00"}, "NUL"),
        ({"lead": {"first_name": "A\x00n"}}, "NUL"),
    ],
)
def test_text_no_database_can_store_is_an_invalid_event_not_a_lost_batch(post_raw, org, bad, message):
    """A NUL character or half a surrogate pair: PostgreSQL refuses them in text and JSON."""
    body = post_raw(json.dumps({"events": [event(1), event(2, **bad), event(3)]})).json()
    assert body["accepted"] == 2
    assert [e["index"] for e in body["errors"]] == [1] and message in body["errors"][0]["error"]
    assert set(ActivityEvent.objects.values_list("client_event_id", flat=True)) == {"evt-1", "evt-3"}


def test_a_number_json_cannot_hold_is_an_invalid_event(post_raw, org):
    batch = json.dumps({"events": [event(1), event(2, properties={"size": 0})]})
    response = post_raw(batch.replace('"size": 0', '"size": 1e400'))  # a float of Python's: infinity
    assert response.status_code == 202
    body = response.json()
    assert body["accepted"] == 1 and [e["index"] for e in body["errors"]] == [1]
    assert "number" in body["errors"][0]["error"]


def test_resending_an_event_is_a_duplicate_never_a_second_event(post, org):
    post([event(1), event(2)])
    body = post([event(1), event(2), event(3), event(3)]).json()
    assert body == {"accepted": 1, "duplicates": 3, "errors": []}
    assert ActivityEvent.objects.count() == 3


def test_batch_over_the_limit_is_refused_whole(post):
    response = post([event(i) for i in range(1001)])
    assert response.status_code == 413 and "At most 1,000 events" in response.json()["detail"]
    assert not ActivityEvent.objects.exists()


@pytest.mark.parametrize(
    ("body", "detail"), [("{not json", "JSON parse error"), ('{"events": 3}', '{"events"'), ("[]", '{"events"')]
)
def test_malformed_bodies_get_400_with_a_message(api_key_client, body, detail):
    response = api_key_client.post(URL, body, content_type="application/json")
    assert response.status_code == 400 and detail in response.json()["detail"]


def test_revoked_key_is_401_and_a_key_only_writes_to_its_own_organisation(org, other_org, post):
    key, raw = account_services.api_key_create(organization=other_org, name="Other site")
    client = APIClient(headers={"Authorization": f"Api-Key {raw}"})
    assert client.post(URL, {"events": [event(1)]}, format="json").status_code == 202
    assert Lead.objects.get().organization == other_org
    account_services.api_key_revoke(api_key=key)
    assert client.post(URL, {"events": [event(2)]}, format="json").status_code == 401


def test_people_need_the_ingest_permission(api, marketer, rep):
    assert api(rep).post(URL, {"events": [event(1)]}, format="json").status_code == 403
    assert api(marketer).post(URL, {"events": [event(1)]}, format="json").status_code == 202


def test_unknown_email_creates_a_lead_with_the_given_attributes(post, org):
    post([event(1, email="New@Firm.test", lead={"first_name": "Nia", "title": "CTO", "country": "de"})])
    lead = Lead.objects.get()
    assert (lead.email, lead.first_name, lead.title, lead.company.country) == ("new@firm.test", "Nia", "CTO", "DE")
    assert lead.stage_changes.get().rule == "event:page_view"


def test_anonymous_visitor_is_stitched_when_identified(post, org, model):
    post([event(1, email="", anonymous_id="anon-7", properties={"url": "https://site.test/pricing"})])
    anonymous = ActivityEvent.objects.get()
    assert anonymous.lead is None and anonymous.scored_at is None
    post([event(2, type="form_submit", anonymous_id="anon-7")])
    lead = Lead.objects.get()
    assert set(ActivityEvent.objects.values_list("lead", flat=True)) == {lead.pk}
    assert lead.total_score == 30  # the earlier pricing view now counts
    post([event(3, email="", anonymous_id="anon-7")])
    assert ActivityEvent.objects.get(client_event_id="evt-3").lead == lead


def test_broker_down_still_accepts_and_the_sweep_scores_later(post, org, model):
    with mock.patch("leads.tasks.score_pending_events.apply_async", side_effect=OperationalError("down")):
        response = post([event(1, properties={"url": "/pricing"})])
    assert response.status_code == 202 and response.json()["accepted"] == 1
    assert ActivityEvent.objects.get().scored_at is None
    assert sweep_unscored_events() == 1
    assert Lead.objects.get().total_score == 30


def test_a_run_scoring_a_stream_waits_for_the_next_batch_to_gather_and_a_handful_does_not(org, model):
    """Scoring lingers between partial batches of a busy stream (fewer, larger batches), never
    for the few events of a quiet organisation, and never with a full batch's backlog waiting."""
    lead = LeadFactory(organization=org)
    now = timezone.now()

    def store(n: int, start: int) -> None:
        ActivityEvent.objects.bulk_create(
            ActivityEvent(
                organization=org, lead=lead, client_event_id=f"s-{i}", event_type="email_open", occurred_at=now
            )
            for i in range(start, start + n)
        )

    store(3, 0)
    with mock.patch("leads.tasks.time.sleep") as sleep:
        assert tasks.score_pending_events(org.pk) == 3
    sleep.assert_not_called()
    store(tasks.LINGER_AFTER, 100)
    with mock.patch("leads.tasks.time.sleep") as sleep:
        assert tasks.score_pending_events(org.pk) == tasks.LINGER_AFTER
    sleep.assert_called_once_with(tasks.LINGER_S)
    store(5, 1000)
    with (
        mock.patch("leads.tasks.time.sleep") as sleep,
        mock.patch.object(tasks, "BATCH", 3),
        mock.patch.object(tasks, "LINGER_AFTER", 1),
    ):
        assert tasks.score_pending_events(org.pk) == 5
    sleep.assert_called_once_with(tasks.LINGER_S)  # after the partial batch of 2, not the full one of 3
    # A full claim of which some leads were busy in a concurrent run is a backlog too.
    runs = [scoring.ScoringRun(tasks.BATCH - 10, 10), scoring.ScoringRun(0, 0)]
    with mock.patch("leads.tasks.time.sleep") as sleep, mock.patch.object(scoring, "score_pending", side_effect=runs):
        tasks.score_pending_events(org.pk)
    sleep.assert_not_called()
    assert not ActivityEvent.objects.filter(scored_at=None).exists()


def test_threshold_and_fast_lane_make_mqls_but_never_move_backwards(post, org, model):
    post([event(i, properties={"url": "/pricing"}) for i in range(2)])
    lead = Lead.objects.get()
    assert lead.lifecycle_stage == "mql"
    assert StageChange.objects.get(lead=lead, to_stage="mql").rule == "scoring v1: score 60 ≥ 50"
    fast = LeadFactory(organization=org, email="fast@x.test")
    post([event(10, type="demo_request", email="fast@x.test")])
    fast.refresh_from_db()
    assert fast.lifecycle_stage == "mql" and "fast lane" in fast.stage_changes.get().rule
    sql = LeadFactory(organization=org, email="sql@x.test", lifecycle_stage="sql")
    post([event(20, type="demo_request", email="sql@x.test"), event(21, type="unsubscribe", email="sql@x.test")])
    sql.refresh_from_db()
    assert sql.lifecycle_stage == "sql" and sql.total_score == -20


def test_engagement_decays_with_the_half_life(org, model):
    lead = LeadFactory(organization=org)
    now = timezone.now()
    old = ActivityEvent.objects.create(
        organization=org,
        lead=lead,
        client_event_id="old",
        event_type="page_view",
        occurred_at=now - timedelta(days=30),
        properties={"url": "/pricing"},
    )
    assert score_events(event_ids=[old.pk], now=now) == 1
    lead.refresh_from_db()
    assert lead.engagement_score == pytest.approx(15)
    # Thirty days later, with nothing new, a fresh event finds 7.5 left and adds to it.
    later = now + timedelta(days=30)
    new = ActivityEvent.objects.create(
        organization=org, lead=lead, client_event_id="new", event_type="page_view", occurred_at=later, properties={}
    )
    score_events(event_ids=[new.pk], now=later)
    lead.refresh_from_db()
    assert lead.engagement_score == pytest.approx(7.5 + 5)
    assert score_events(event_ids=[old.pk, new.pk], now=later) == 0  # already scored: idempotent


def test_utm_properties_attribute_events_and_leads_to_campaigns(post, org):
    from tests.factories import CampaignFactory

    first = CampaignFactory(organization=org, utm_source="linkedin", utm_medium="paid_social", utm_campaign="q4")
    second = CampaignFactory(organization=org, utm_source="google", utm_medium="cpc", utm_campaign="brand")
    utm = {"utm_source": "LinkedIn", "utm_medium": "paid_social", "utm_campaign": "q4"}
    post([event(1, properties=utm)])
    post([event(2, properties={"utm_source": "google", "utm_medium": "cpc", "utm_campaign": "brand"})])
    lead = Lead.objects.get()
    assert (lead.first_campaign, lead.latest_campaign) == (first, second)
    assert ActivityEvent.objects.get(client_event_id="evt-1").campaign == first


# --- Lead attributes: checked before anything is stored -----------------------------------


def test_an_event_is_either_stored_or_reported_never_both(post, org):
    LeadFactory(organization=org, email="known@buyer.test")
    batch = [
        event(1, email="known@buyer.test", lead={"company_size": "lots"}),
        event(2, email="known@buyer.test", lead={"title": "CTO"}),
        event(3, email="new@buyer.test", lead={"country": "Germany"}),
        event(4, email="new@buyer.test"),
        event(5, email="known@buyer.test", lead={"company_size": 3_000_000_000}),  # over its 32-bit column
        event(6, email="known@buyer.test", lead={"first_name": 7}),
        event(2, email="known@buyer.test", lead={"title": "CTO"}),
    ]
    body = post(batch).json()
    assert body["accepted"] + body["duplicates"] + len(body["errors"]) == len(batch)
    assert (body["accepted"], body["duplicates"]) == (2, 1)
    errors = {e["index"]: e["error"] for e in body["errors"]}
    assert sorted(errors) == [0, 2, 4, 5]
    assert "whole number" in errors[0] and "two-letter" in errors[2] and "2,147,483,647" in errors[4]
    assert "text" in errors[5]
    assert set(ActivityEvent.objects.values_list("client_event_id", flat=True)) == {"evt-2", "evt-4"}
    known = Lead.objects.get(email="known@buyer.test")
    assert known.title == "CTO" and known.company is None
    assert Lead.objects.get(email="new@buyer.test").company.country == ""


# The lengths of the columns the attributes are stored in (leads_lead, leads_company).
COLUMN_LENGTHS = {
    "first_name": 100,
    "last_name": 100,
    "title": 150,
    "phone": 40,
    "company_name": 200,
    "company_domain": 200,
    "industry": 100,
}


def _text(length: int) -> str:
    return "a" * (length - len(".example")) + ".example"


@pytest.mark.parametrize("attribute", sorted(COLUMN_LENGTHS))
def test_an_attribute_longer_than_its_column_is_reported_and_the_rest_of_the_batch_stored(post, org, attribute):
    """On PostgreSQL the database itself refuses longer values: a refusal there would roll back
    and lose the whole batch."""
    LeadFactory(organization=org, email="known@buyer.test")
    limit = COLUMN_LENGTHS[attribute]
    batch = [
        event(1, email="known@buyer.test", lead={attribute: _text(limit)}),
        event(2, email="known@buyer.test", lead={attribute: _text(limit + 1)}),
        event(3, email="new@buyer.test", lead={attribute: _text(limit + 1)}),
        event(4, email="new@buyer.test"),
    ]
    response = post(batch)
    assert response.status_code == 202
    body = response.json()
    assert (body["accepted"], body["duplicates"], [e["index"] for e in body["errors"]]) == (2, 0, [1, 2])
    assert all(f"the limit is {limit}." in e["error"] for e in body["errors"])
    assert set(ActivityEvent.objects.values_list("client_event_id", flat=True)) == {"evt-1", "evt-4"}
    known = Lead.objects.select_related("company").get(email="known@buyer.test")
    on_company = {"company_domain": "domain", "industry": "industry"}
    if attribute in on_company:
        assert getattr(known.company, on_company[attribute]) == _text(limit)
    else:
        assert getattr(known, attribute) == _text(limit)


def test_an_events_company_attribute_describes_the_company_the_lead_has(post, org):
    fay = lead_create(
        org=org, data=LeadInput(email="fay@fay-mail.example", company_domain="globex.example"), rule="test"
    )
    eve = lead_create(org=org, data=LeadInput(email="eve@gmail.com", company_domain="acme.example"), rule="test")
    post([event(1, email=fay.email, lead={"industry": "Retail"}), event(2, email=eve.email, lead={"country": "de"})])
    fay.refresh_from_db()
    eve.refresh_from_db()
    assert (fay.company.domain, fay.company.industry) == ("globex.example", "Retail")
    assert (eve.company.domain, eve.company.country) == ("acme.example", "DE")


# --- Campaign touches: first and latest by when they happened -----------------------------


def utm(campaign) -> dict:
    return {"utm_source": campaign.utm_source, "utm_medium": campaign.utm_medium, "utm_campaign": campaign.utm_campaign}


def campaign(org, name: str):
    return CampaignFactory(organization=org, name=name, utm_source=name.lower(), utm_medium="cpc", utm_campaign="q4")


def days_ago(days: float) -> str:
    return (timezone.now() - timedelta(days=days)).isoformat()


def test_a_visitors_campaign_before_it_identified_is_its_first_touch(post, org):
    ads, webinar = campaign(org, "Search ads"), campaign(org, "Webinar")
    post([event(1, email="", anonymous_id="anon-3", occurred_at=days_ago(3), properties=utm(ads))])
    post([event(2, type="form_submit", anonymous_id="anon-3", properties=utm(webinar))])
    lead = Lead.objects.get()
    assert (lead.first_campaign, lead.latest_campaign) == (ads, webinar)


def test_a_known_leads_earlier_first_touch_stays_when_a_visitor_identifies(post, org):
    fair, ads, webinar = campaign(org, "Fair"), campaign(org, "Search ads"), campaign(org, "Webinar")
    post([event(1, occurred_at=days_ago(10), properties=utm(fair))])
    post([event(2, email="", anonymous_id="anon-3", occurred_at=days_ago(3), properties=utm(ads))])
    post([event(3, type="form_submit", anonymous_id="anon-3", occurred_at=days_ago(4), properties=utm(webinar))])
    lead = Lead.objects.get()
    assert (lead.first_campaign, lead.latest_campaign) == (fair, ads)


def test_first_and_latest_touch_follow_when_events_happened_not_the_order_they_came_in(post, org):
    fair, ads, newsletter, webinar = (campaign(org, n) for n in ("Fair", "Search ads", "Newsletter", "Webinar"))
    body = post(
        [
            event(1, occurred_at=days_ago(0), properties=utm(webinar)),
            event(2, occurred_at=days_ago(3), properties=utm(ads)),
            event(3, occurred_at=days_ago(1), properties=utm(newsletter)),
        ]
    ).json()
    assert body["accepted"] == 3
    lead = Lead.objects.get()
    assert (lead.first_campaign, lead.latest_campaign) == (ads, webinar)
    # Late arrivals: an earlier touch becomes the first; one before the latest leaves it.
    post(
        [
            event(4, occurred_at=days_ago(5), properties=utm(fair)),
            event(5, occurred_at=days_ago(2), properties=utm(ads)),
        ]
    )
    lead.refresh_from_db()
    assert (lead.first_campaign, lead.latest_campaign) == (fair, webinar)


def test_the_campaign_a_lead_was_created_with_is_replaced_only_by_an_earlier_touch(post, org):
    trade_show, ads = campaign(org, "Trade show"), campaign(org, "Search ads")
    created = timezone.now() - timedelta(days=1)
    lead = lead_create(org=org, data=LeadInput(email="ann@buyer.test", campaign=trade_show), rule="test", now=created)
    post([event(1, properties=utm(ads))])  # after the lead came in
    lead.refresh_from_db()
    assert (lead.first_campaign, lead.latest_campaign) == (trade_show, ads)
    post([event(2, occurred_at=days_ago(2), properties=utm(ads))])  # before it (delivered late)
    lead.refresh_from_db()
    assert (lead.first_campaign, lead.latest_campaign) == (ads, ads)


def test_a_touch_inside_the_span_its_campaign_already_covers_writes_no_lead_row(post, org):
    ads, fair = campaign(org, "Search ads"), campaign(org, "Fair")
    post(
        [event(1, occurred_at=days_ago(3), properties=utm(ads)), event(2, occurred_at=days_ago(1), properties=utm(ads))]
    )
    lead = Lead.objects.get()
    assert (lead.first_campaign, lead.latest_campaign) == (ads, ads)
    with CaptureQueriesContext(connection) as queries:
        body = post([event(3, occurred_at=days_ago(2), properties=utm(ads))]).json()
    assert body["accepted"] == 1
    assert not [q for q in queries if re.search(r'UPDATE "?leads_lead"? ', q["sql"])]
    assert ActivityEvent.objects.filter(lead=lead, campaign=ads).count() == 3  # the event is stored all the same
    post([event(4, occurred_at=days_ago(0), properties=utm(fair))])  # another campaign still moves the latest
    lead.refresh_from_db()
    assert (lead.first_campaign, lead.latest_campaign) == (ads, fair)


def test_a_later_touch_by_the_latest_campaign_moves_when_it_touched_the_lead(post, org):
    ads, fair = campaign(org, "Search ads"), campaign(org, "Fair")
    post([event(1, occurred_at=days_ago(3), properties=utm(ads))])
    post([event(2, occurred_at=days_ago(1), properties=utm(ads))])
    # Delivered late: the fair touched the lead before the search ads' second touch.
    post([event(3, occurred_at=days_ago(2), properties=utm(fair))])
    lead = Lead.objects.get()
    assert (lead.first_campaign, lead.latest_campaign) == (ads, ads)
    # And an earlier touch by the first campaign moves its time back: the fair's is no longer earlier.
    post([event(4, occurred_at=days_ago(5), properties=utm(ads))])
    post([event(5, occurred_at=days_ago(4), properties=utm(fair))])
    lead.refresh_from_db()
    assert (lead.first_campaign, lead.latest_campaign) == (ads, ads)


def test_a_campaign_set_on_a_lead_by_hand_touches_it_when_it_is_set(post, org):
    ads, fair, webinar = campaign(org, "Search ads"), campaign(org, "Fair"), campaign(org, "Webinar")
    post([event(1, occurred_at=days_ago(3), properties=utm(ads))])
    post([event(2, occurred_at=days_ago(1), properties=utm(fair))])
    lead = Lead.objects.get()
    lead_update(lead=lead, data=LeadInput(campaign=ads))  # by hand, now
    post([event(3, occurred_at=days_ago(0.5), properties=utm(webinar))])  # before that, delivered late
    lead.refresh_from_db()
    assert (lead.first_campaign, lead.latest_campaign) == (ads, ads)
    post([event(4, properties=utm(webinar))])  # after it
    lead.refresh_from_db()
    assert lead.latest_campaign == webinar


def test_a_batch_with_the_held_campaigns_own_touches_compares_with_them(post, org):
    """The campaign a lead holds counts from its events, those of the same batch included: the
    lead came in with the trade show (set by hand, counting from its creation until it has an
    event), whose first event arrives together with an earlier ad click."""
    trade_show, ads = campaign(org, "Trade show"), campaign(org, "Search ads")
    created = timezone.now() - timedelta(days=5)
    lead_create(org=org, data=LeadInput(email="ann@buyer.test", campaign=trade_show), rule="test", now=created)
    post(
        [
            event(1, occurred_at=days_ago(4), properties=utm(ads)),
            event(2, occurred_at=days_ago(3), properties=utm(trade_show)),
        ]
    )
    lead = Lead.objects.get()
    # The ad click (4 days ago) is earlier than the trade show's first event (3 days ago).
    assert (lead.first_campaign, lead.latest_campaign) == (ads, trade_show)
    assert lead.first_campaign_at < lead.latest_campaign_at


def test_of_two_touches_at_once_the_held_campaign_stays_first(post, org):
    other, held = campaign(org, "Fair"), campaign(org, "Webinar")  # the other's id is the lower
    post([event(1, occurred_at=days_ago(2), properties=utm(held))])
    at = days_ago(5)
    post([event(2, occurred_at=at, properties=utm(other)), event(3, occurred_at=at, properties=utm(held))])
    lead = Lead.objects.get()
    assert lead.first_campaign == held


def test_campaign_touches_cost_the_same_statements_whatever_the_batch_size(org):
    """Stored events with campaigns and visitors identified, with campaigns of their own."""
    for i in range(5):
        LeadFactory(organization=org, email=f"known{i}@buyer.test")
    counts = []
    # A campaign of its own each round: the leads' latest campaign changes in both.
    for size, start, source in ((10, 0, "linkedin"), (1000, 1000, "newsletter")):
        tagged = CampaignFactory(organization=org, utm_source=source)
        visitor = f"v{start}-"  # new visitors each round, each with a campaign-tagged visit to stitch
        anonymous = [
            event(i, email="", anonymous_id=f"{visitor}{i % 5}", properties=utm(tagged))
            for i in range(start, start + 5)
        ]
        events_ingest(org=org, payload={"events": anonymous})
        batch = _batch(size, start=start + 5, visitor=visitor, source=source)
        with CaptureQueriesContext(connection) as queries:
            body = events_ingest(org=org, payload={"events": batch}).as_dict()
        assert body == {"accepted": size, "duplicates": 0, "errors": []}
        counts.append(len(queries))
    assert counts[0] == counts[1]
    identified = list(Visitor.objects.exclude(lead=None).values_list("anonymous_id", flat=True))
    assert {i.split("-")[0] for i in identified} == {"v0", "v1000"}  # stitching happened in both rounds
    assert not ActivityEvent.objects.filter(lead=None, anonymous_id__in=identified).exists()


# --- Set-based ingestion and scoring ----------------------------------------------------


def _batch(size: int, *, start: int = 0, leads: int = 5, visitor: str = "v-", source: str = "linkedin") -> list[dict]:
    """``size`` events about ``leads`` known leads, some identifying visitors, some with UTM values."""
    events = []
    for i in range(start, start + size):
        extra = {"anonymous_id": f"{visitor}{i % leads}"} if i % 7 == 0 else {}
        properties = {"url": "/pricing", "utm_source": source} if i % 3 == 0 else {"url": "/blog"}
        events.append(event(i, email=f"known{i % leads}@buyer.test", properties=properties, **extra))
    return events


@pytest.mark.parametrize("size", [10, 1000])
def test_a_batch_costs_a_bounded_number_of_queries_whatever_its_size(
    post, org, model, size, django_assert_max_num_queries
):
    from tests.factories import CampaignFactory

    CampaignFactory(organization=org, utm_source="linkedin")
    # No new MQLs here: each costs the statements of lead_transition (covered above).
    ScoringModel.objects.filter(pk=model.pk).update(mql_threshold=10**6)
    for i in range(5):
        LeadFactory(organization=org, email=f"known{i}@buyer.test")
    post([event(9999, email="", anonymous_id="v-0")])  # a visitor the batch identifies
    # Key, key use, leads, stored ids, visitors (read, create), stitching (2), campaign, INSERT,
    # touches (lock, update), savepoints; then the scoring run: events, model, lead locks, caps,
    # leads, score changes, events, and the look that finds nothing left.
    with django_assert_max_num_queries(25):
        body = post(_batch(size)).json()
    assert body == {"accepted": size, "duplicates": 0, "errors": []}
    assert not ActivityEvent.objects.filter(scored_at=None).exists()
    assert ActivityEvent.objects.get(client_event_id="evt-9999").lead.email == "known0@buyer.test"


def test_scoring_a_batch_sums_each_leads_events_into_one_change(post, org, model):
    post([event(1), event(2, properties={"url": "/pricing"}), event(3, email="bo@buyer.test")])
    ann, bo = Lead.objects.get(email="ann@buyer.test"), Lead.objects.get(email="bo@buyer.test")
    assert (ann.total_score, bo.total_score) == (35, 5)
    change = ScoreChange.objects.get(lead=ann)
    assert (change.delta, change.reason) == (35, "2 event(s), +35 points before decay")
    # Why, newest first, by the rule each event scored under.
    assert [(e["event"], e["points"]) for e in lead_explain(ann)["engagement"]] == [
        ("page_view (url contains /pricing)", 30),
        ("page_view", 5),
    ]
    assert dict(ActivityEvent.objects.values_list("client_event_id", "points")) == {"evt-1": 5, "evt-2": 30, "evt-3": 5}


def test_the_explanation_keeps_the_ten_latest_events(post, org, model):
    post([event(i) for i in range(8)])
    post([event(i, properties={"url": "/pricing"}) for i in range(10, 14)])
    lead = Lead.objects.get()
    engagement = lead_explain(lead)["engagement"]
    assert len(engagement) == 10 and [e["points"] for e in engagement[:4]] == [30] * 4


def test_a_type_capped_rule_pays_its_cap_a_day_across_batches(post, org):
    ScoringModel.objects.create(
        organization=org,
        version=1,
        status="active",
        engagement_rules=[{"event_type": "email_open", "points": 2, "cap": 3, "cap_period": "day"}],
        decay_half_life_days=30,
        mql_threshold=100,
    )
    now = timezone.now()
    yesterday = (now - timedelta(days=1)).isoformat()
    post([event(i, type="email_open", occurred_at=now.isoformat()) for i in range(2)])
    post([event(i, type="email_open", occurred_at=now.isoformat()) for i in range(2, 4)])
    post([event(9, type="email_open", occurred_at=yesterday)])  # another day: pays
    points = dict(ActivityEvent.objects.values_list("client_event_id", "points"))
    assert sorted(points[f"evt-{i}"] for i in range(4)) == [0, 2, 2, 2] and points["evt-9"] == 2


def test_resending_an_identifying_event_with_attributes_changes_nothing(post, org):
    post([event(1, email="", anonymous_id="anon-1")])
    post([event(2, anonymous_id="anon-1", lead={"title": "CTO"})])
    lead = Lead.objects.get()
    lead.title = "CEO"
    lead.save(update_fields=["title"])
    body = post([event(2, anonymous_id="anon-1", lead={"title": "CTO"})]).json()
    assert body == {"accepted": 0, "duplicates": 1, "errors": []}
    lead.refresh_from_db()
    assert lead.title == "CEO" and ActivityEvent.objects.count() == 2


def test_a_batch_identifies_its_own_anonymous_events_too(post, org):
    body = post(
        [
            event(1, email="", anonymous_id="anon-9"),
            event(2, anonymous_id="anon-9"),
            event(3, email="", anonymous_id="anon-9"),
        ]
    ).json()
    assert body["accepted"] == 3
    lead = Lead.objects.get()
    assert set(ActivityEvent.objects.values_list("lead", flat=True)) == {lead.pk}


def test_a_known_address_in_capitals_is_the_lead_and_a_new_bad_one_is_an_error(post, org):
    LeadFactory(organization=org, email="ann@buyer.test")
    body = post([event(1, email="Ann@Buyer.test"), event(2, email="bad@"), event(3, email=" ann@buyer.test")]).json()
    assert body["accepted"] == 1 and [e["index"] for e in body["errors"]] == [1, 2]
    assert ActivityEvent.objects.get().lead.email == "ann@buyer.test"


def test_busy_ingestion_queues_one_scoring_run_at_a_time():
    from leads.ingestion import enqueue_scoring, scoring_enqueued_clear

    with mock.patch("leads.tasks.score_pending_events.apply_async") as apply_async:
        assert enqueue_scoring(1) and enqueue_scoring(1) and enqueue_scoring(2)
        assert [c.kwargs["args"] for c in apply_async.call_args_list] == [[1], [2]]
        scoring_enqueued_clear(1)  # the run starts: events stored from now on need another
        enqueue_scoring(1)
        assert apply_async.call_count == 3


def test_any_text_in_ids_and_properties_is_stored_as_sent(post, org, model):
    """Quotes, backslashes, braces, commas, tabs, newlines and non-ASCII survive the bulk insert."""
    awkward = 'a "quoted" \\ back\\slash, {braces}\ttab\nline — ünï NULL'
    properties = {"url": "/pricing?q=" + awkward, "nested": {"list": [1, None, awkward]}, "empty": ""}
    body = post([event(1, id=f"id {awkward}", anonymous_id=awkward, properties=properties)]).json()
    assert body == {"accepted": 1, "duplicates": 0, "errors": []}
    stored = ActivityEvent.objects.get()
    assert (stored.client_event_id, stored.anonymous_id, stored.properties) == (f"id {awkward}", awkward, properties)
    assert post([event(1, id=f"id {awkward}")]).json()["duplicates"] == 1


@pytest.fixture
def returned(post, org, model, sales, rep):
    """ann@buyer.test made an MQL by score (60), then returned by the rep: "not ready"."""
    from leads.handoffs import handoff_return
    from leads.models import Handoff

    post([event(i, properties={"url": "/pricing"}) for i in range(2)])
    handoff_return(handoff=Handoff.objects.get(), actor=rep, reason="not_ready_nurture")
    lead = Lead.objects.get()
    assert (lead.lifecycle_stage, lead.total_score) == ("nurture", 60)
    return lead


def test_a_returned_lead_is_not_sent_back_by_its_old_score(post, returned):
    post([event(10)])  # 5 points: still over the threshold, but nothing it did says "ready"
    returned.refresh_from_db()
    assert (returned.lifecycle_stage, returned.total_score) == ("nurture", 65)
    assert returned.handoffs.count() == 1


def test_a_returned_lead_qualifies_again_on_a_fast_lane_event_after_its_return(post, returned):
    before_return = (returned.stage_changes.get(to_stage="nurture").changed_at - timedelta(hours=1)).isoformat()
    post([event(10, type="demo_request", occurred_at=before_return)])  # late news of an old request
    returned.refresh_from_db()
    assert returned.lifecycle_stage == "nurture"

    post([event(11, type="demo_request")])
    returned.refresh_from_db()
    assert returned.lifecycle_stage == "mql"
    assert returned.stage_changes.order_by("changed_at", "pk").last().rule == "scoring v1: fast lane: demo_request"
    assert returned.handoffs.filter(status="pending").count() == 1


def test_a_returned_lead_qualifies_again_when_new_activity_takes_it_across_the_threshold(post, org, model, sales, rep):
    from leads.services import lead_transition

    lead = LeadFactory(organization=org, email="ann@buyer.test")
    lead_transition(lead=lead, to="nurture", actor=rep, reason="Call in Q3")
    post([event(1)])  # 5 points: under 50
    lead.refresh_from_db()
    assert lead.lifecycle_stage == "nurture"
    post([event(2, properties={"url": "/pricing"}), event(3, properties={"url": "/pricing"})])
    lead.refresh_from_db()
    assert (lead.lifecycle_stage, lead.total_score) == ("mql", lead.fit_score + 65)


def test_a_batch_that_lowers_a_score_never_qualifies(post, org, model):
    lead = LeadFactory(organization=org, email="ann@buyer.test")
    lead.score.engagement, lead.score.total, lead.score.engagement_scored_at = 80, lead.fit_score + 80, timezone.now()
    lead.score.save()
    post([event(1, type="unsubscribe")])
    lead.refresh_from_db()
    assert lead.lifecycle_stage == "lead" and lead.total_score == lead.fit_score + 60
    post([event(2)])
    lead.refresh_from_db()
    assert lead.lifecycle_stage == "mql"


def _stored_score(lead, engagement: float, days_ago: float) -> None:
    """The lead's score row as scoring left it ``days_ago`` (its engagement decays from there)."""
    lead.score.engagement, lead.score.total = engagement, lead.fit_score + round(engagement)
    lead.score.engagement_scored_at = timezone.now() - timedelta(days=days_ago)
    lead.score.save()


def test_a_returned_lead_whose_old_score_decayed_qualifies_again_when_new_activity_crosses(
    post, org, model, sales, rep
):
    from leads.services import lead_transition

    lead = LeadFactory(organization=org, email="ann@buyer.test")
    _stored_score(lead, 80, days_ago=60)  # 80 two half-lives ago: 20 now
    lead_transition(lead=lead, to="nurture", actor=rep, reason="Not ready", now=timezone.now() - timedelta(days=50))
    post([event(1, properties={"url": "/pricing"}), event(2, properties={"url": "/pricing"})])
    lead.refresh_from_db()
    assert lead.lifecycle_stage == "mql" and lead.total_score == lead.fit_score + 80


def test_events_from_before_a_return_delivered_late_do_not_send_it_back(post, org, model, rep):
    from leads.services import lead_transition

    lead = LeadFactory(organization=org, email="ann@buyer.test")
    lead_transition(lead=lead, to="nurture", actor=rep, reason="Not ready", now=timezone.now() - timedelta(days=1))
    two_days_ago = (timezone.now() - timedelta(days=2)).isoformat()
    post([event(i, properties={"url": "/pricing"}, occurred_at=two_days_ago) for i in range(2)])
    lead.refresh_from_db()
    assert lead.lifecycle_stage == "nurture" and lead.total_score >= 50


def test_a_lead_over_the_threshold_after_decay_qualifies_on_its_next_event(post, org, model):
    lead = LeadFactory(organization=org, email="ann@buyer.test")
    _stored_score(lead, 120, days_ago=30)  # 60 now: still over 50, under what was stored
    post([event(1)])
    lead.refresh_from_db()
    assert lead.lifecycle_stage == "mql" and lead.total_score == lead.fit_score + 65
