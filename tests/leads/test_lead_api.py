from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from leads.ingestion import events_ingest
from leads.models import Company, Lead, ScoringModel, StageChange
from leads.services import LeadInput, lead_create, lead_transition
from personas import services as persona_services
from personas.glossary import default_terms
from personas.services import DefinitionsInput
from tests.factories import CampaignFactory, LeadFactory, MembershipFactory, PersonaFactory

pytestmark = pytest.mark.django_db
URL = "/api/v1/leads"


def url(lead, action: str = "") -> str:
    return f"{URL}/{lead.pk}" + (f"/{action}" if action else "")


def emails(response) -> list[str]:
    assert response.status_code == 200, response.json()
    return [row["email"] for row in response.json()["results"]]


def lead_payload(**overrides) -> dict:
    data = {
        "email": "Ann.Lee@Northwind.example",
        "first_name": "Ann",
        "last_name": "Lee",
        "title": "Head of Marketing",
        "seniority": "director",
        "phone": "+44 20 7946 0000",
        "company_name": "Northwind",
        "industry": "Software",
        "company_size": 250,
        "country": "gb",
        "buyer_stage": "consideration",
    }
    return {**data, **overrides}


def make(org, email: str = "ann@buyer.test", actor=None, **data) -> Lead:
    return lead_create(org=org, data=LeadInput(email=email, **data), actor=actor, rule="" if actor else "test")


# --- List: filters, sorts, pages ------------------------------------------------------


@pytest.fixture
def three(org, marketer):
    """hot: an MQL at Acme from a webinar; cold: Smith from an email; mine: the marketer's."""
    persona = PersonaFactory(organization=org, name="Ops Oliver")
    webinar = CampaignFactory(organization=org, name="Ops webinar", channel="webinar")
    newsletter = CampaignFactory(organization=org, name="Newsletter", channel="email")
    now = timezone.now()
    LeadFactory(
        organization=org,
        email="hot@x.test",
        company_name="Acme",
        lifecycle_stage="mql",
        total_score=80,
        persona=persona,
        first_campaign=webinar,
        created_at=now - timedelta(days=1),
        updated_at=now - timedelta(days=1),
    )
    LeadFactory(
        organization=org,
        email="cold@x.test",
        last_name="Smith",
        company_name="Other",
        total_score=5,
        first_campaign=newsletter,
        created_at=now - timedelta(days=40),
        updated_at=now,
    )
    LeadFactory(
        organization=org,
        email="mine@x.test",
        last_name="Jones",
        company_name="Other",
        owner=marketer,
        total_score=10,
        created_at=now - timedelta(days=3),
        updated_at=now - timedelta(days=3),
    )
    return {"persona": persona, "webinar": webinar, "newsletter": newsletter, "marketer": marketer}


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, {"hot@x.test", "cold@x.test", "mine@x.test"}),
        ({"stage": "mql"}, {"hot@x.test"}),
        ({"stage": "lead"}, {"cold@x.test", "mine@x.test"}),
        ({"search": "ACME"}, {"hot@x.test"}),
        ({"search": "smith"}, {"cold@x.test"}),
        ({"search": "mine@x"}, {"mine@x.test"}),
        ({"score_min": 50}, {"hot@x.test"}),
        ({"score_max": 10}, {"cold@x.test", "mine@x.test"}),
        ({"score_min": 6, "score_max": 79}, {"mine@x.test"}),
        ({"owner": "none"}, {"hot@x.test", "cold@x.test"}),
        ({"owner": "marketer"}, {"mine@x.test"}),
        ({"campaign": "webinar"}, {"hot@x.test"}),
        ({"channel": "email"}, {"cold@x.test"}),
        ({"persona": "persona"}, {"hot@x.test"}),
        ({"stage": "lead", "owner": "none", "search": "other"}, {"cold@x.test"}),
    ],
)
def test_each_filter_of_the_page(api, org, rep, three, params, expected):
    query = {k: three[v].pk if isinstance(v, str) and v in three else v for k, v in params.items()}
    assert set(emails(api(rep).get(URL, query))) == expected


def test_created_range_is_in_the_organisations_time_zone(api, org, rep, three):
    org.time_zone = "Pacific/Auckland"
    org.save()
    today = timezone.localtime(timezone=ZoneInfo("Pacific/Auckland")).date()
    client = api(rep)
    recent = client.get(URL, {"created_from": today - timedelta(days=2)})
    assert set(emails(recent)) == {"hot@x.test"}
    older = client.get(URL, {"created_to": today - timedelta(days=2)})
    assert set(emails(older)) == {"cold@x.test", "mine@x.test"}
    window = client.get(URL, {"created_from": today - timedelta(days=50), "created_to": today - timedelta(days=30)})
    assert emails(window) == ["cold@x.test"]


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("newest", ["hot@x.test", "mine@x.test", "cold@x.test"]),
        ("oldest", ["cold@x.test", "mine@x.test", "hot@x.test"]),
        ("score", ["hot@x.test", "mine@x.test", "cold@x.test"]),
        ("lowest_score", ["cold@x.test", "mine@x.test", "hot@x.test"]),
        ("updated", ["cold@x.test", "hot@x.test", "mine@x.test"]),
    ],
)
def test_sorts(api, org, rep, three, sort, expected):
    assert emails(api(rep).get(URL, {"sort": sort})) == expected


def test_rows_carry_what_the_list_shows(api, org, rep, three):
    row = api(rep).get(URL, {"stage": "mql"}).json()["results"][0]
    assert row["persona"] == {"id": three["persona"].pk, "name": "Ops Oliver"}
    assert row["first_campaign"] == {"id": three["webinar"].pk, "name": "Ops webinar"}
    assert row["lifecycle_stage"] == "mql" and row["total_score"] == 80 and row["owner"] is None
    mine = api(rep).get(URL, {"owner": three["marketer"].pk}).json()["results"][0]
    assert mine["owner"] == {"id": three["marketer"].pk, "email": "marketer@acme.test"}


@pytest.mark.parametrize("sort", ["newest", "score"])
def test_cursor_walk_sees_every_lead_once(api, org, rep, sort):
    now = timezone.now()
    for i in range(120):  # many ties in the sort value: the id breaks them
        LeadFactory(
            organization=org, email=f"l{i}@x.test", created_at=now - timedelta(minutes=i % 7), total_score=i % 5
        )
    client = api(rep)
    seen, pages, next_url = [], 0, f"http://testserver{URL}?sort={sort}"
    while next_url:
        assert next_url.startswith("http://testserver/api/v1/leads?")
        body = client.get(next_url).json()
        seen += [row["id"] for row in body["results"]]
        next_url, pages = body["next"], pages + 1
    assert pages == 3 and len(seen) == 120 and len(set(seen)) == 120


def test_page_size_is_capped_and_a_bad_cursor_is_refused(api, org, rep):
    LeadFactory.create_batch(3, organization=org)
    client = api(rep)
    body = client.get(URL, {"page_size": 2}).json()
    assert len(body["results"]) == 2 and "cursor=" in body["next"] and "page_size=2" in body["next"]
    assert len(client.get(URL, {"page_size": 10_000}).json()["results"]) == 3
    assert client.get(URL, {"page_size": 0}).json()["field"] == "page_size"
    for cursor in ("garbage", body["next"].split("cursor=")[1].split("&")[0]):
        response = client.get(URL, {"cursor": cursor, "sort": "score"})
        assert response.status_code == 400 and response.json()["field"] == "cursor", cursor


@pytest.mark.parametrize("count", [5, 100])
def test_list_queries_do_not_grow_with_the_page(api, org, rep, marketer, count, django_assert_max_num_queries):
    persona = PersonaFactory(organization=org)
    campaign = CampaignFactory(organization=org)
    for i in range(count):
        make(org, f"l{i}@firm{i % 3}.example", owner=marketer, campaign=campaign, company_name=f"Firm {i % 3}")
    Lead.objects.update(persona=persona)
    client = api(rep)
    # The credential (2: look up, record use), the owner and the persona of the filters, the page,
    # and its leads' personas, campaigns and owners (one query each, by id).
    with django_assert_max_num_queries(8):
        body = client.get(URL, {"page_size": 100, "persona": persona.pk, "owner": marketer.pk}).json()
    assert len(body["results"]) == count and body["next"] is None
    assert body["results"][0]["company"]["domain"].startswith("firm")


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"stage": "hot"}, "stage"),
        ({"owner": "nobody"}, "owner"),
        ({"owner": 999_999}, "owner"),
        ({"campaign": 999_999}, "campaign"),
        ({"persona": 999_999}, "persona"),
        ({"channel": "fax"}, "channel"),
        ({"score_min": "high"}, "score_min"),
        ({"score_min": 50, "score_max": 10}, "score_max"),
        ({"created_from": "yesterday"}, "created_from"),
        ({"created_from": "2025-05-02", "created_to": "2025-05-01"}, "created_to"),
        ({"sort": "random"}, "sort"),
    ],
)
def test_bad_filters_are_400_with_the_field(api, org, rep, params, field):
    response = api(rep).get(URL, params)
    assert response.status_code == 400, response.json()
    assert response.json()["field"] == field


def test_another_organisations_ids_in_filters_are_400(api, org, other_org, rep, outsider):
    client = api(rep)
    foreign = {
        "campaign": CampaignFactory(organization=other_org).pk,
        "persona": PersonaFactory(organization=other_org).pk,
        "owner": outsider.pk,
    }
    for name, pk in foreign.items():
        response = client.get(URL, {name: pk})
        assert response.status_code == 400 and response.json()["field"] == name
        assert "in your organisation" in response.json()["detail"]


# --- Create ---------------------------------------------------------------------------


def test_create_resolves_the_company_and_records_who(api, org, marketer, rep):
    campaign = CampaignFactory(organization=org, name="Ops webinar")
    response = api(marketer).post(URL, lead_payload(owner=rep.pk, campaign=campaign.pk), format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert response["Location"] == f"{URL}/{body['id']}"
    assert body["email"] == "ann.lee@northwind.example" and body["lifecycle_stage"] == "lead"
    assert body["company"]["domain"] == "northwind.example" and body["company"]["country"] == "GB"
    assert body["company"]["size"] == 250 and body["seniority"] == "director"
    assert body["owner"] == {"id": rep.pk, "email": "rep@acme.test"}
    assert body["first_campaign"] == body["latest_campaign"] == {"id": campaign.pk, "name": "Ops webinar"}
    assert isinstance(body["engagement_score"], int) and "score_explanation" in body
    assert api(rep).get(f"{URL}/{body['id']}").json() == body
    entry = Lead.objects.get().stage_changes.get()
    assert (entry.to_stage, entry.actor) == ("lead", marketer)


def test_duplicate_email_in_any_case_is_409(api, org, marketer):
    make(org, "ann.lee@northwind.example")
    response = api(marketer).post(URL, lead_payload(email="ANN.LEE@northwind.EXAMPLE"), format="json")
    assert response.status_code == 409 and response.json()["field"] == "email"
    assert "already a lead" in response.json()["detail"]
    assert Lead.objects.count() == 1


def test_duplicate_email_writes_nothing_not_even_its_company(api, org, marketer):
    existing = make(org, "ann.lee@northwind.example")
    payload = lead_payload(email="ANN.LEE@northwind.example", company_domain="globex.example")
    response = api(marketer).post(URL, payload, format="json")
    assert response.status_code == 409 and f"(id {existing.pk})" in response.json()["detail"]
    assert not Company.objects.filter(domain="globex.example").exists()
    assert Lead.objects.count() == 1 and StageChange.objects.count() == 1


def test_create_costs_a_fixed_number_of_queries(api, org, marketer, django_assert_max_num_queries):
    """Token, company, scoring model, personas, definitions, the lead, its score row, its fit
    explanation and its stage change; the duplicate check is the unique index itself (the
    counted queries include test savepoints)."""
    client = api(marketer)
    PersonaFactory(organization=org, title_keywords=["marketing"])
    ScoringModel.objects.create(organization=org, version=1, status="active", persona_match_points=10)
    # The company exists as the lead describes it, as for most leads.
    make(org, "first@northwind.example", industry="Software", company_size=250, country="GB")
    client.get("/api/v1/me")  # the token's last use is recorded once a minute, not on every request
    with django_assert_max_num_queries(11):
        response = client.post(URL, lead_payload(), format="json")
    assert response.status_code == 201 and response.json()["persona"] is not None
    assert response.json()["fit_score"] == 10


def test_create_without_a_scoring_model_looks_for_one_once(api, org, marketer):
    client = api(marketer)
    client.get("/api/v1/me")
    with CaptureQueriesContext(connection) as queries:
        response = client.post(URL, lead_payload(email="nomodel@northwind.example"), format="json")
    assert response.status_code == 201 and response.json()["fit_score"] == 0
    assert sum('FROM "leads_scoringmodel"' in q["sql"] for q in queries.captured_queries) == 1


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"email": "not-an-email"}, "email"),
        ({"email": ""}, "email"),
        ({"seniority": "boss"}, "seniority"),
        ({"country": "Germany"}, "country"),
        ({"company_size": 0}, "company_size"),
        ({"company_size": 3_000_000_000}, "company_size"),  # more than its 32-bit column holds
        ({"buyer_stage": "ready"}, "buyer_stage"),
        ({"first_name": "x" * 101}, "first_name"),
        ({"owner": 999_999}, "owner"),
        ({"lifecycle_stage": "mql"}, "lifecycle_stage"),
    ],
)
def test_bad_input_is_400_with_the_field_and_nothing_is_created(api, org, marketer, overrides, field):
    response = api(marketer).post(URL, lead_payload(**overrides), format="json")
    assert response.status_code == 400, response.json()
    assert response.json()["field"] == field
    assert not Lead.objects.exists()


def test_create_input_is_cleaned_as_drf_cleans_it(api, org, marketer):
    """Text is trimmed, blanks stay blank, numbers may come as strings: the same whether the
    input is JSON (validated by the fields built once) or a form (DRF's own path)."""
    payload = lead_payload(
        email="  Ann.Lee@Northwind.example ",
        first_name=" Ann ",
        title="   ",
        seniority="",
        phone="",
        company_size="12",
        buyer_stage="",
    )
    client = api(marketer)
    as_json = client.post(URL, payload, format="json")
    assert as_json.status_code == 201, as_json.json()
    body = as_json.json()
    assert (body["email"], body["first_name"], body["title"]) == ("ann.lee@northwind.example", "Ann", "")
    assert (body["seniority"], body["phone"], body["buyer_stage"], body["company"]["size"]) == ("", "", "", 12)
    as_form = client.post(URL, {**payload, "email": "ann.form@northwind.example"}, format="multipart")
    assert as_form.status_code == 201, as_form.json()
    different = {"id", "email", "created_at", "updated_at", "company"}
    assert {k: v for k, v in as_form.json().items() if k not in different} == {
        k: v for k, v in body.items() if k not in different
    }


def test_every_bad_field_is_reported_at_once_with_drfs_messages(api, org, marketer):
    payload = lead_payload(first_name="x" * 101, seniority="boss", company_size="many", title=None)
    response = api(marketer).post(URL, payload, format="json")
    assert response.status_code == 400
    assert response.json() == {
        "detail": "first_name: Ensure this field has no more than 100 characters.",
        "field": "first_name",
        "errors": {
            "first_name": ["Ensure this field has no more than 100 characters."],
            "title": ["This field may not be null."],
            "seniority": ['"boss" is not a valid choice.'],
            "company_size": ["A valid integer is required."],
        },
    }
    assert not Lead.objects.exists()


def test_unknown_keys_are_ignored_as_drf_ignores_them(api, org, marketer):
    response = api(marketer).post(URL, lead_payload(nickname="Annie"), format="json")
    assert response.status_code == 201 and "nickname" not in response.json()


def test_missing_email_is_400(api, org, marketer):
    payload = lead_payload()
    del payload["email"]
    response = api(marketer).post(URL, payload, format="json")
    assert response.status_code == 400 and response.json()["field"] == "email"


def test_another_organisations_campaign_or_member_is_400(api, org, other_org, marketer, outsider):
    client = api(marketer)
    foreign = CampaignFactory(organization=other_org)
    response = client.post(URL, lead_payload(campaign=foreign.pk), format="json")
    assert response.status_code == 400 and response.json()["field"] == "campaign"
    response = client.post(URL, lead_payload(owner=outsider.pk), format="json")
    assert response.status_code == 400 and response.json()["field"] == "owner"
    assert not Lead.objects.exists()


# --- Read and change ------------------------------------------------------------------


def test_patch_changes_only_what_is_sent(api, org, rep):
    lead = make(org, "ann@northwind.example", first_name="Ann", title="Analyst", country="GB")
    client = api(rep)
    response = client.patch(url(lead), {"title": "VP Marketing", "owner": rep.pk}, format="json")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["title"] == "VP Marketing" and body["owner"]["id"] == rep.pk
    assert body["first_name"] == "Ann" and body["company"]["country"] == "GB" and body["lifecycle_stage"] == "lead"
    assert body["updated_at"] > body["created_at"]


@pytest.fixture
def company_fit(org):
    """A scoring model and a persona that read the company's country and industry."""
    ScoringModel.objects.create(
        organization=org,
        version=1,
        status="active",
        fit_rules=[
            {"attribute": "country", "operator": "in", "value": ["DE"], "points": 15},
            {"attribute": "industry", "operator": "equals", "value": "Retail", "points": 20},
        ],
    )
    return PersonaFactory(organization=org, name="Retail Rita", industries=["Retail"], countries=["DE"])


@pytest.mark.parametrize(
    ("email", "domain"),
    [("eve@gmail.com", "acme.example"), ("fay@fay-mail.example", "globex.example")],
    ids=["free-mail", "email-domain-differs"],
)
@pytest.mark.parametrize(
    ("change", "attribute", "value", "fit"),
    [({"country": "de"}, "country", "DE", 15), ({"industry": "Retail"}, "industry", "Retail", 20)],
    ids=["country", "industry"],
)
def test_patching_one_company_attribute_changes_the_leads_company(
    api, org, rep, company_fit, email, domain, change, attribute, value, fit
):
    lead = make(org, email, company_domain=domain, company_name="Acme", industry="Software", country="GB")
    company = lead.company
    assert company.domain == domain and lead.fit_score == 0 and lead.persona is None

    response = api(rep).patch(url(lead), change, format="json")

    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["company"]["id"], body["company"]["domain"], body["company"][attribute]) == (company.pk, domain, value)
    assert (body["fit_score"], body["persona"]["id"]) == (fit, company_fit.pk)
    assert Company.objects.count() == 1  # no company made from the email's domain


def test_patching_a_company_domain_moves_the_lead_and_a_name_alone_does_not(api, org, rep):
    lead = make(org, "fay@fay-mail.example", company_domain="globex.example", company_name="Globex")
    client = api(rep)

    body = client.patch(url(lead), {"company_name": "Globex Corp", "country": "DE"}, format="json").json()
    assert (body["company"]["domain"], body["company"]["country"], body["company_name"]) == (
        "globex.example",
        "DE",
        "Globex Corp",
    )

    body = client.patch(url(lead), {"company_domain": "initech.example", "industry": "Retail"}, format="json").json()
    assert (body["company"]["domain"], body["company"]["industry"]) == ("initech.example", "Retail")
    assert Company.objects.get(domain="globex.example").industry == ""


def test_patch_cannot_change_the_stage(api, org, rep):
    lead = make(org)
    response = api(rep).patch(url(lead), {"lifecycle_stage": "customer", "title": "CEO"}, format="json")
    assert response.status_code == 400 and response.json()["field"] == "lifecycle_stage"
    assert "/transition" in response.json()["detail"]
    lead.refresh_from_db()
    assert (lead.lifecycle_stage, lead.title) == ("lead", "")


def test_patch_to_another_leads_email_is_409(api, org, rep):
    make(org, "taken@buyer.test")
    lead = make(org)
    response = api(rep).patch(url(lead), {"email": "Taken@Buyer.test"}, format="json")
    assert response.status_code == 409 and response.json()["field"] == "email"


def test_patch_with_another_organisations_campaign_is_400(api, org, other_org, rep):
    lead = make(org)
    response = api(rep).patch(url(lead), {"campaign": CampaignFactory(organization=other_org).pk}, format="json")
    assert response.status_code == 400 and response.json()["field"] == "campaign"


# --- Transition and history -----------------------------------------------------------


def test_transition_moves_the_lead(api, org, rep):
    lead = make(org)
    response = api(rep).post(url(lead, "transition"), {"to": "mql"}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["lifecycle_stage"] == "mql"
    lead.refresh_from_db()
    assert lead.lifecycle_stage == "mql" and lead.stage_changes.filter(to_stage="mql", actor=rep).exists()


def test_disallowed_move_is_409(api, org, rep):
    lead = make(org)
    response = api(rep).post(url(lead, "transition"), {"to": "customer"}, format="json")
    assert response.status_code == 409 and "can't move from Lead to Customer" in response.json()["detail"]
    assert api(rep).post(url(lead, "transition"), {"to": "lead"}, format="json").status_code == 409


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"to": "nurture"}, "reason"),
        ({"to": "disqualified", "reason": "  "}, "reason"),
        ({"to": "hot"}, "to"),
        ({}, "to"),
    ],
)
def test_bad_transition_is_400_with_the_field(api, org, rep, body, field):
    lead = make(org)
    response = api(rep).post(url(lead, "transition"), body, format="json")
    assert response.status_code == 400 and response.json()["field"] == field
    lead.refresh_from_db()
    assert lead.lifecycle_stage == "lead"


def test_history_lists_stage_and_score_changes(api, org, manager, rep, django_capture_on_commit_callbacks):
    marketing_manager = MembershipFactory(organization=org, role="manager", side="marketing")
    version = persona_services.definitions_propose(
        proposer=marketing_manager, data=DefinitionsInput(terms=default_terms(), mql_threshold=60, sql_criteria="x")
    )
    then = timezone.now() - timedelta(days=1)
    persona_services.definitions_sign(version=version, signer=marketing_manager, now=then)
    persona_services.definitions_sign(version=version, signer=manager, now=then)
    ScoringModel.objects.create(
        organization=org,
        version=3,
        status="active",
        engagement_rules=[{"event_type": "pricing_view", "points": 30}],
        mql_threshold=25,
    )
    lead = make(org, actor=rep)
    event = {"id": "e1", "type": "pricing_view", "occurred_at": timezone.now().isoformat(), "email": lead.email}
    with django_capture_on_commit_callbacks(execute=True):
        events_ingest(org=org, payload={"events": [event]})
    lead_transition(lead=lead, to="nurture", actor=rep, reason="No budget this year")

    body = api(rep).get(url(lead, "history")).json()
    stages = [(c["from"], c["to"], c["actor"], c["rule"][:10], c["reason"]) for c in body["stage_changes"]]
    assert stages == [
        ("mql", "nurture", "rep@acme.test", "", "No budget this year"),
        ("lead", "mql", None, "scoring v3", ""),
        ("", "lead", "rep@acme.test", "", "New lead"),
    ]
    assert {c["definitions_version"] for c in body["stage_changes"]} == {version.number}
    [score] = body["score_changes"]
    assert (score["total_score"], score["delta"], score["scoring_model"]) == (30, 30, 3)


# --- Who may ------------------------------------------------------------------------------


def test_partner_and_api_key_get_403(api, api_key_client, org, partner_user):
    lead = make(org)
    partner = api(partner_user)
    for client in (partner, api_key_client):
        assert client.get(URL).status_code == 403
        assert client.post(URL, lead_payload(), format="json").status_code == 403
        assert client.get(url(lead)).status_code == 403
        assert client.patch(url(lead), {"title": "CEO"}, format="json").status_code == 403
        assert client.post(url(lead, "transition"), {"to": "mql"}, format="json").status_code == 403
        assert client.get(url(lead, "history")).status_code == 403
    assert partner.get(URL).json()["detail"].endswith("(leads.view).")


def test_rep_reads_creates_and_patches(api, org, rep):
    lead = make(org)
    client = api(rep)
    assert client.get(url(lead)).json()["email"] == "ann@buyer.test"
    assert client.get(url(lead, "history")).status_code == 200
    assert client.patch(url(lead), {"phone": "+1 555 0100"}, format="json").json()["phone"] == "+1 555 0100"
    assert client.post(URL, lead_payload(), format="json").status_code == 201


def test_another_organisations_lead_is_404(api, org, outsider):
    lead = make(org)
    client = api(outsider)
    assert client.get(url(lead)).status_code == 404
    assert client.patch(url(lead), {"lifecycle_stage": "mql"}, format="json").status_code == 404
    assert client.post(url(lead, "transition"), {}, format="json").status_code == 404
    assert client.get(url(lead, "history")).status_code == 404
    assert client.get(URL).json()["results"] == []


def test_leads_are_not_deleted_through_the_api(api, org, rep):
    lead = make(org)
    assert api(rep).delete(url(lead)).status_code == 405
    assert Lead.objects.filter(pk=lead.pk).exists()


def test_a_lead_without_a_score_row_reads_zero_and_gets_one_when_scored(api, login, org, marketer):
    """Services create the score row with the lead; one made around them (here: its row
    removed) still reads 0 everywhere, and scoring its first event gives it a row."""
    from leads.models import ActivityEvent, LeadScore, ScoringModel
    from leads.scoring import score_events

    lead = LeadFactory(organization=org, email="rowless@x.test", total_score=40)
    LeadScore.objects.filter(lead=lead).delete()

    body = api(marketer).get(f"{URL}/{lead.pk}").json()
    assert (body["fit_score"], body["engagement_score"], body["total_score"], body["score_explanation"]) == (
        0,
        0,
        0,
        {"fit": [], "engagement": []},
    )
    listed = api(marketer).get(URL, {"sort": "newest"}).json()["results"]
    assert [(r["email"], r["total_score"]) for r in listed] == [("rowless@x.test", 0)]
    page = login(marketer).get(f"/leads/{lead.pk}/")
    assert page.status_code == 200 and 'data-testid="total-score">0<' in page.content.decode()

    ScoringModel.objects.create(
        organization=org, version=1, status="active", engagement_rules=[{"event_type": "page_view", "points": 5}]
    )
    e = ActivityEvent.objects.create(
        organization=org, lead=lead, client_event_id="e1", event_type="page_view", occurred_at=timezone.now()
    )
    assert score_events(event_ids=[e.pk]) == 1
    assert api(marketer).get(f"{URL}/{lead.pk}").json()["total_score"] == 5


@pytest.mark.parametrize(
    ("accept", "query", "content_type"),
    [
        (None, "", "application/json"),
        ("*/*", "", "application/json"),
        ("application/json", "", "application/json"),
        ("text/html", "", "text/html; charset=utf-8"),
        ("*/*", "?format=api", "text/html; charset=utf-8"),
        (None, "?format=json", "application/json"),
    ],
)
def test_the_answer_is_json_unless_the_browsable_api_is_asked_for(api, org, marketer, accept, query, content_type):
    headers = {"HTTP_ACCEPT": accept} if accept else {}
    response = api(marketer).get(f"{URL}{query}", **headers)
    assert response.status_code == 200
    assert response["Content-Type"] == content_type
    assert "Accept" in response["Vary"]
