from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from personas import services
from personas.glossary import default_terms
from personas.models import ContentAsset, ContentRequest, DefinitionVersion, Persona
from personas.services import AssetInput, DefinitionsInput, PersonaInput
from tests.factories import (
    ContentAssetFactory,
    ContentRequestFactory,
    LeadFactory,
    MembershipFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def mkt_manager(org):
    return MembershipFactory(organization=org, role="manager", side="marketing", user__email="mm@acme.test")


@pytest.fixture
def sales_manager(manager):
    return manager  # the root fixture's manager is sales-side


def persona_payload(**overrides):
    return {
        "name": "Marketing Mary",
        "industries": ["Software", "Fintech"],
        "title_keywords": ["marketing"],
        "seniorities": ["director", "vp"],
        "countries": ["gb", "DE"],
        "company_size_min": 50,
        "company_size_max": 500,
        "preferred_channels": ["email", "webinar"],
        "messaging": {"awareness": {"key_message": "Stop guessing which leads matter.", "proof_points": "A\nB"}},
        **overrides,
    }


def make_persona(org, name="Ops Oliver", **criteria):
    return services.persona_create(org=org, data=PersonaInput(name=name, **(criteria or {"industries": ["Retail"]})))


def propose(proposer, **overrides):
    data = {"terms": default_terms(), "mql_threshold": 60, "sql_criteria": "Need, authority, timing.", **overrides}
    return services.definitions_propose(proposer=proposer, data=DefinitionsInput(**data))


def activate(proposer, marketing, sales, **overrides):
    version = propose(proposer, **overrides)
    services.definitions_sign(version=version, signer=marketing)
    return services.definitions_sign(version=version, signer=sales)


def pdf(name="guide.pdf", data=b"%PDF-1.7 a guide"):
    return SimpleUploadedFile(name, data, content_type="application/pdf")


def make_asset(org, owner=None, **overrides):
    data = {"title": "Buyer's guide", "asset_type": "ebook", "buyer_stage": "consideration", "url": "https://x.test/g"}
    return services.asset_save(org=org, data=AssetInput(**{**data, **overrides}), owner=owner)


def make_request(requester, **overrides):
    data = {"question": "How do you compare with the incumbent?", "buyer_stage": "consideration", **overrides}
    return services.content_request_create(requester=requester, **data)


# --- Personas -------------------------------------------------------------------------


def test_marketer_creates_persona_with_criteria_and_messaging(api, marketer):
    client = api(marketer)
    response = client.post("/api/v1/personas", persona_payload(), format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["countries"] == ["GB", "DE"] and body["seniorities"] == ["director", "vp"]
    assert body["messaging"] == {
        "awareness": {"key_message": "Stop guessing which leads matter.", "proof_points": "A\nB"}
    }
    assert body["asset_count"] == 0 and body["archived_at"] is None
    assert Persona.objects.get().created_by == marketer
    detail = client.get(f"/api/v1/personas/{body['id']}").json()
    assert detail == body


def test_rep_reads_personas_but_cannot_create_them(api, rep, org):
    make_persona(org)
    client = api(rep)
    assert [p["name"] for p in client.get("/api/v1/personas").json()["results"]] == ["Ops Oliver"]
    response = client.post("/api/v1/personas", persona_payload(), format="json")
    assert response.status_code == 403
    assert Persona.objects.count() == 1


def test_api_key_cannot_read_personas(api_key_client, org):
    make_persona(org)
    assert api_key_client.get("/api/v1/personas").status_code == 403


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"company_size_min": 500, "company_size_max": 50}, "company_size_max"),
        ({"countries": ["United Kingdom"]}, "countries"),
        ({"messaging": {"purchase": {"key_message": "Buy"}}}, "messaging"),
    ],
)
def test_bad_persona_input_is_400_with_field(api, marketer, overrides, field):
    response = api(marketer).post("/api/v1/personas", persona_payload(**overrides), format="json")
    assert response.status_code == 400
    assert response.json()["field"] == field
    assert not Persona.objects.exists()


def test_persona_with_another_personas_exact_criteria_is_refused(api, marketer, org):
    make_persona(org, "Ops Oliver", industries=["Retail"], countries=["GB"])
    payload = {"name": "Retail Rita", "industries": ["retail"], "countries": ["gb"]}
    response = api(marketer).post("/api/v1/personas", payload, format="json")
    assert response.status_code == 400
    assert response.json()["field"] == "industries" and "Ops Oliver" in response.json()["detail"]


def test_patch_changes_only_what_is_sent(api, marketer):
    client = api(marketer)
    persona_id = client.post("/api/v1/personas", persona_payload(), format="json").json()["id"]
    response = client.patch(
        f"/api/v1/personas/{persona_id}",
        {"name": "Demand-gen Dana", "messaging": {"awareness": {"key_message": "New line."}, "decision": {}}},
        format="json",
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["name"] == "Demand-gen Dana"
    assert body["industries"] == ["Software", "Fintech"] and body["company_size_max"] == 500
    assert body["messaging"]["awareness"] == {"key_message": "New line.", "proof_points": "A\nB"}
    assert body["messaging"]["decision"] == {"key_message": "", "proof_points": ""}


def test_patch_to_contradictory_sizes_is_refused(api, marketer, org):
    persona = make_persona(org, company_size_min=10, company_size_max=100)
    response = api(marketer).patch(f"/api/v1/personas/{persona.pk}", {"company_size_min": 1000}, format="json")
    assert response.status_code == 400 and response.json()["field"] == "company_size_max"


def test_delete_archives_the_persona(api, marketer, org):
    persona = make_persona(org)
    client = api(marketer)
    assert client.delete(f"/api/v1/personas/{persona.pk}").status_code == 204
    persona.refresh_from_db()
    assert persona.archived_at is not None
    assert client.get("/api/v1/personas").json()["results"] == []
    assert [p["id"] for p in client.get("/api/v1/personas?archived=true").json()["results"]] == [persona.pk]
    assert client.get(f"/api/v1/personas/{persona.pk}").json()["archived_at"] is not None
    assert client.delete(f"/api/v1/personas/{persona.pk}").status_code == 409


def test_match_names_the_persona_points_and_reasons(api, rep, org):
    mary = make_persona(org, "Marketing Mary", industries=["Software"], title_keywords=["marketing"])
    make_persona(org, "Finance Fred", industries=["Banking"])
    client = api(rep)
    response = client.post(
        "/api/v1/personas/match", {"title": "VP Marketing", "industry": "software", "company_size": 80}, format="json"
    )
    assert response.status_code == 200
    body = response.json()
    assert body["persona"] == {"id": mary.pk, "name": "Marketing Mary"} and body["fit_points"] == 40
    assert any("marketing" in reason for reason in body["reasons"])
    nobody = client.post("/api/v1/personas/match", {"industry": "Mining"}, format="json").json()
    assert nobody["persona"] is None and nobody["fit_points"] == 0 and nobody["reasons"]
    bad = client.post("/api/v1/personas/match", {"seniority": "boss"}, format="json")
    assert bad.status_code == 400 and bad.json()["field"] == "seniority"


def test_another_organisations_persona_is_404(api, outsider, org):
    persona = make_persona(org)
    client = api(outsider)
    assert client.get(f"/api/v1/personas/{persona.pk}").status_code == 404
    assert client.patch(f"/api/v1/personas/{persona.pk}", {"name": "Mine"}, format="json").status_code == 404
    assert client.get("/api/v1/personas").json()["results"] == []


def test_persona_list_queries_are_constant(api, rep, org, django_assert_max_num_queries):
    for i in range(20):
        make_persona(org, f"Persona {i}", industries=[f"Industry {i}"])
        services.persona_update(
            persona=Persona.objects.get(name=f"Persona {i}"),
            data=PersonaInput(name=f"Persona {i}", industries=[f"Industry {i}"], messaging={"decision": ("Go", "")}),
        )
    ContentAssetFactory.create_batch(3, organization=org)
    client = api(rep)
    with django_assert_max_num_queries(5):
        body = client.get("/api/v1/personas?page_size=20").json()
    assert len(body["results"]) == 20
    assert all(p["messaging"]["decision"]["key_message"] == "Go" for p in body["results"])


# --- Definitions ----------------------------------------------------------------------


def test_manager_proposes_from_the_default_glossary(api, mkt_manager):
    response = api(mkt_manager).post(
        "/api/v1/definitions",
        {"mql_threshold": 70, "sql_criteria": "Budget confirmed.", "summary": "First"},
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["number"] == 1 and body["status"] == "proposed" and body["proposed_by"] == "mm@acme.test"
    assert [t["key"] for t in body["terms"]] == [t["key"] for t in default_terms()]
    assert body["mql_threshold"] == 70 and body["mql_min_fit"] == 0 and body["signoffs"] == []


def test_first_proposal_must_set_the_thresholds(api, mkt_manager):
    response = api(mkt_manager).post("/api/v1/definitions", {"summary": "First"}, format="json")
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"mql_threshold", "sql_criteria"}
    assert not DefinitionVersion.objects.exists()


def test_proposal_without_terms_starts_from_the_active_version(api, mkt_manager, sales_manager):
    terms = [{**t, "wording": "Anyone we can email."} if t["key"] == "lead" else t for t in default_terms()]
    activate(mkt_manager, mkt_manager, sales_manager, terms=terms, mql_min_fit=25)
    response = api(mkt_manager).post("/api/v1/definitions", {"mql_threshold": 80}, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["number"] == 2 and body["mql_threshold"] == 80 and body["mql_min_fit"] == 25
    assert body["terms"][0] == {"key": "lead", "label": "Lead", "wording": "Anyone we can email."}


def test_proposal_missing_a_required_term_is_refused(api, mkt_manager):
    terms = [t for t in default_terms() if t["key"] != "mql"]
    payload = {"terms": terms, "mql_threshold": 60, "sql_criteria": "Need."}
    response = api(mkt_manager).post("/api/v1/definitions", payload, format="json")
    assert response.status_code == 400
    assert response.json()["field"] == "terms" and "mql" in response.json()["detail"]


def test_marketer_cannot_propose_or_sign(api, marketer, mkt_manager):
    version = propose(mkt_manager)
    client = api(marketer)
    assert (
        client.post("/api/v1/definitions", {"mql_threshold": 50, "sql_criteria": "x"}, format="json").status_code == 403
    )
    assert client.post(f"/api/v1/definitions/{version.pk}/sign").status_code == 403
    assert client.get(f"/api/v1/definitions/{version.pk}").json()["signoffs"] == []


def test_two_marketing_managers_do_not_activate(api, org, mkt_manager):
    second = MembershipFactory(organization=org, role="manager", side="marketing")
    version = propose(mkt_manager)
    assert api(mkt_manager).post(f"/api/v1/definitions/{version.pk}/sign").json()["status"] == "proposed"
    response = api(second).post(f"/api/v1/definitions/{version.pk}/sign")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "proposed" and [s["side"] for s in body["signoffs"]] == ["marketing", "marketing"]
    again = api(second).post(f"/api/v1/definitions/{version.pk}/sign")
    assert again.status_code == 409


def test_marketing_and_sales_sign_off_activates_and_supersedes(api, mkt_manager, sales_manager):
    first = activate(mkt_manager, mkt_manager, sales_manager)
    second = propose(sales_manager, summary="Higher bar")
    api(mkt_manager).post(f"/api/v1/definitions/{second.pk}/sign")
    response = api(sales_manager).post(f"/api/v1/definitions/{second.pk}/sign")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "active" and body["activated_at"]
    assert {(s["email"], s["side"]) for s in body["signoffs"]} == {
        ("mm@acme.test", "marketing"),
        ("manager@acme.test", "sales"),
    }
    first.refresh_from_db()
    assert first.status == "superseded"
    active = api(sales_manager).get("/api/v1/definitions/active").json()
    assert active["id"] == second.pk
    listed = api(sales_manager).get("/api/v1/definitions").json()["results"]
    assert [(v["number"], v["status"]) for v in listed] == [(2, "active"), (1, "superseded")]


def test_no_active_definitions_is_a_clear_404(api, rep):
    response = api(rep).get("/api/v1/definitions/active")
    assert response.status_code == 404 and "No definitions are active" in response.json()["detail"]


def test_withdraw_a_pending_proposal(api, mkt_manager, rep):
    version = propose(mkt_manager)
    assert api(rep).post(f"/api/v1/definitions/{version.pk}/withdraw").status_code == 403
    client = api(mkt_manager)
    response = client.post(f"/api/v1/definitions/{version.pk}/withdraw")
    assert response.status_code == 200 and response.json()["status"] == "withdrawn"
    assert client.post(f"/api/v1/definitions/{version.pk}/withdraw").status_code == 409


def test_diff_shows_a_changed_term_and_threshold(api, mkt_manager, sales_manager, rep):
    first = activate(mkt_manager, mkt_manager, sales_manager)
    terms = [{**t, "wording": "A lead that fits and engaged."} if t["key"] == "mql" else t for t in default_terms()]
    second = propose(mkt_manager, terms=terms, mql_threshold=75)
    client = api(rep)
    response = client.get(f"/api/v1/definitions/{second.pk}/diff")
    assert response.status_code == 200
    body = response.json()
    assert body["version"] == {"id": second.pk, "number": 2} and body["against"] == {"id": first.pk, "number": 1}
    changed = [t for t in body["terms"] if t["change"] != "same"]
    assert [(t["key"], t["change"], t["new"]) for t in changed] == [("mql", "changed", "A lead that fits and engaged.")]
    assert body["changed_count"] == 1
    assert body["settings"] == [{"name": "MQL threshold", "old": 60, "new": 75}]
    backwards = client.get(f"/api/v1/definitions/{first.pk}/diff?against={second.pk}").json()
    assert backwards["settings"] == [{"name": "MQL threshold", "old": 75, "new": 60}]


def test_diff_of_the_first_version_needs_a_version_to_compare(api, mkt_manager, outsider):
    version = propose(mkt_manager)
    client = api(mkt_manager)
    response = client.get(f"/api/v1/definitions/{version.pk}/diff")
    assert response.status_code == 400 and response.json()["field"] == "against"
    elsewhere = propose(MembershipFactory(organization=outsider.organization, role="manager", side="sales"))
    response = client.get(f"/api/v1/definitions/{version.pk}/diff?against={elsewhere.pk}")
    assert response.status_code == 400 and response.json()["field"] == "against"


def test_definition_list_queries_are_constant(api, rep, mkt_manager, sales_manager, django_assert_max_num_queries):
    for _ in range(20):
        activate(mkt_manager, mkt_manager, sales_manager)
    client = api(rep)
    with django_assert_max_num_queries(8):
        body = client.get("/api/v1/definitions?page_size=20").json()
    assert len(body["results"]) == 20 and all(len(v["signoffs"]) == 2 for v in body["results"])


# --- Content library ------------------------------------------------------------------


def test_marketer_adds_a_link_for_personas(api, marketer, org):
    mary, oliver = make_persona(org, "Marketing Mary"), make_persona(org, "Ops Oliver", industries=["Logistics"])
    payload = {
        "title": "Buyer's guide",
        "asset_type": "ebook",
        "buyer_stage": "consideration",
        "url": "https://content.acme.test/guide",
        "personas": [mary.pk, oliver.pk],
    }
    response = api(marketer).post("/api/v1/content", payload, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert sorted(p["name"] for p in body["personas"]) == ["Marketing Mary", "Ops Oliver"]
    assert body["owner"] == "marketer@acme.test" and body["file_url"] is None and body["campaign"] is None


def test_marketer_uploads_a_file_with_multipart(api, marketer, org):
    persona = make_persona(org)
    payload = {
        "title": "Pricing sheet",
        "asset_type": "white_paper",
        "buyer_stage": "decision",
        "personas": [persona.pk],
        "file": pdf("pricing.pdf"),
    }
    response = api(marketer).post("/api/v1/content", payload, format="multipart")
    assert response.status_code == 201, response.json()
    body = response.json()
    asset = ContentAsset.objects.get()
    assert body["file_name"] == "pricing.pdf" and asset.file.read().startswith(b"%PDF-")
    assert body["file_url"] == "http://testserver" + reverse("api:content-file", args=[asset.pk])
    assert body["personas"] == [{"id": persona.pk, "name": "Ops Oliver"}]


def test_executable_named_pdf_is_refused(api, marketer):
    payload = {
        "title": "Brochure",
        "asset_type": "ebook",
        "buyer_stage": "awareness",
        "file": pdf("brochure.pdf", b"MZ\x90\x00\x03\x00\x00\x00this program"),
    }
    response = api(marketer).post("/api/v1/content", payload, format="multipart")
    assert response.status_code == 400
    assert response.json()["field"] == "file" and "program" in response.json()["detail"]
    assert not ContentAsset.objects.exists()


def test_file_over_the_size_limit_is_refused(api, marketer, settings):
    settings.CONTENT_MAX_UPLOAD_MB = 1
    big = pdf("report.pdf", b"%PDF-1.7 " + b"0" * int(1.1 * 1024 * 1024))
    payload = {"title": "Report", "asset_type": "industry_report", "buyer_stage": "awareness", "file": big}
    response = api(marketer).post("/api/v1/content", payload, format="multipart")
    assert response.status_code == 400
    assert response.json()["field"] == "file" and "limit is 1 MB" in response.json()["detail"]


def test_asset_needs_a_link_or_a_file(api, marketer):
    payload = {"title": "Guide", "asset_type": "ebook", "buyer_stage": "awareness"}
    response = api(marketer).post("/api/v1/content", payload, format="json")
    assert response.status_code == 400 and response.json()["field"] == "url"


def test_another_organisations_persona_or_campaign_is_refused(api, marketer, other_org):
    theirs = make_persona(other_org)
    payload = {"title": "Guide", "asset_type": "ebook", "buyer_stage": "awareness", "url": "https://x.test/g"}
    response = api(marketer).post("/api/v1/content", {**payload, "personas": [theirs.pk]}, format="json")
    assert response.status_code == 400 and response.json()["field"] == "personas"
    assert not ContentAsset.objects.exists()


def test_rep_reads_content_but_cannot_add_it_and_partner_cannot_read(api, rep, partner_user, org):
    make_asset(org)
    assert api(rep).get("/api/v1/content").status_code == 200
    payload = {"title": "Mine", "asset_type": "ebook", "buyer_stage": "awareness", "url": "https://x.test/m"}
    assert api(rep).post("/api/v1/content", payload, format="json").status_code == 403
    assert api(partner_user).get("/api/v1/content").status_code == 403


def test_content_filters(api, rep, org, other_org):
    mary = make_persona(org, "Marketing Mary", industries=["Software"])
    guide = make_asset(org, title="Buyer's guide", personas=[mary], buyer_stage="consideration")
    make_asset(org, title="Pricing FAQ", asset_type="user_guide", buyer_stage="decision")
    webinar = make_asset(org, title="Intro", asset_type="webinar", buyer_stage="awareness", description="Pricing")
    client = api(rep)

    def titles(query):
        response = client.get(f"/api/v1/content?{query}")
        assert response.status_code == 200, response.json()
        return sorted(a["title"] for a in response.json()["results"])

    assert titles(f"persona={mary.pk}") == [guide.title]
    assert titles("buyer_stage=decision") == ["Pricing FAQ"]
    assert titles("asset_type=webinar") == [webinar.title]
    assert titles("search=pricing") == ["Intro", "Pricing FAQ"]
    theirs = make_persona(other_org)
    for query, field in (
        (f"persona={theirs.pk}", "persona"),
        ("persona=x", "persona"),
        ("buyer_stage=soon", "buyer_stage"),
    ):
        response = client.get(f"/api/v1/content?{query}")
        assert response.status_code == 400 and response.json()["field"] == field


def test_patch_and_delete_an_asset(api, marketer, org):
    persona = make_persona(org)
    asset = make_asset(org, personas=[persona])
    client = api(marketer)
    response = client.patch(f"/api/v1/content/{asset.pk}", {"title": "Buyer's guide, 2nd edition"}, format="json")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["title"] == "Buyer's guide, 2nd edition" and body["url"] == "https://x.test/g"
    assert body["personas"] == [{"id": persona.pk, "name": persona.name}]
    assert client.patch(f"/api/v1/content/{asset.pk}", {"url": ""}, format="json").json()["field"] == "url"
    assert client.delete(f"/api/v1/content/{asset.pk}").status_code == 204
    assert client.get(f"/api/v1/content/{asset.pk}").status_code == 404


def test_deleted_asset_leaves_the_delivered_request_readable(api, rep, marketer, org):
    asset = make_asset(org, title="Competitor comparison")
    content_request = make_request(rep)
    client = api(marketer)
    client.post(f"/api/v1/content-requests/{content_request.pk}/accept")
    client.post(f"/api/v1/content-requests/{content_request.pk}/deliver", {"asset": asset.pk}, format="json")
    assert client.delete(f"/api/v1/content/{asset.pk}").status_code == 204
    body = api(rep).get(f"/api/v1/content-requests/{content_request.pk}").json()
    assert body["status"] == "delivered"
    assert body["delivered_asset"] is None and body["delivered_asset_title"] == "Competitor comparison"


def test_content_list_queries_are_constant(api, rep, org, django_assert_max_num_queries):
    personas = [make_persona(org, f"Persona {i}", industries=[f"Industry {i}"]) for i in range(3)]
    owner = MembershipFactory(organization=org)
    for i in range(20):
        make_asset(org, owner=owner, title=f"Asset {i}", personas=personas[: i % 3 + 1])
    client = api(rep)
    with django_assert_max_num_queries(5):
        body = client.get("/api/v1/content?page_size=20").json()
    assert len(body["results"]) == 20 and all(a["owner"] == owner.user.email for a in body["results"])


# --- Content requests -----------------------------------------------------------------


def test_rep_files_a_content_request(api, rep, org):
    persona = make_persona(org)
    lead = LeadFactory(organization=org)
    payload = {
        "question": "Do you integrate with our ERP?",
        "buyer_stage": "decision",
        "persona": persona.pk,
        "lead": lead.pk,
        "urgency": "high",
    }
    response = api(rep).post("/api/v1/content-requests", payload, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["status"] == "new" and body["requested_by"] == "rep@acme.test" and body["overdue"] is False
    assert body["persona"] == {"id": persona.pk, "name": persona.name} and body["lead"] == lead.pk
    assert body["due_at"] and body["delivered_asset"] is None and body["delivered_asset_title"] == ""


@pytest.mark.parametrize("field", ["persona", "lead"])
def test_content_request_for_another_organisations_row_is_refused(api, rep, other_org, field):
    theirs = make_persona(other_org) if field == "persona" else LeadFactory(organization=other_org)
    payload = {"question": "Pricing?", "buyer_stage": "decision", field: theirs.pk}
    response = api(rep).post("/api/v1/content-requests", payload, format="json")
    assert response.status_code == 400 and response.json()["field"] == field
    assert not ContentRequest.objects.exists()


def test_marketer_cannot_file_and_rep_cannot_triage(api, rep, marketer):
    payload = {"question": "Pricing?", "buyer_stage": "decision"}
    assert api(marketer).post("/api/v1/content-requests", payload, format="json").status_code == 403
    content_request = make_request(rep)
    assert api(rep).post(f"/api/v1/content-requests/{content_request.pk}/accept").status_code == 403
    content_request.refresh_from_db()
    assert content_request.status == "new"


def test_marketing_works_a_request_to_delivery(api, rep, marketer, org, other_org):
    content_request = make_request(rep)
    asset = make_asset(org)
    client = api(marketer)
    url = f"/api/v1/content-requests/{content_request.pk}"
    accepted = client.post(f"{url}/accept").json()
    assert accepted["status"] == "accepted" and accepted["assignee"] == "marketer@acme.test"
    assert client.post(f"{url}/start").json()["status"] == "in_progress"
    theirs = make_asset(other_org)
    refused = client.post(f"{url}/deliver", {"asset": theirs.pk}, format="json")
    assert refused.status_code == 400 and refused.json()["field"] == "asset"
    delivered = client.post(f"{url}/deliver", {"asset": asset.pk}, format="json")
    assert delivered.status_code == 200
    assert delivered.json()["delivered_asset"] == {"id": asset.pk, "title": asset.title}
    assert delivered.json()["closed_at"] and delivered.json()["overdue"] is False
    assert client.post(f"{url}/decline", {"reason": "Too late"}, format="json").status_code == 409


def test_decline_needs_a_reason(api, rep, marketer):
    content_request = make_request(rep)
    client = api(marketer)
    url = f"/api/v1/content-requests/{content_request.pk}/decline"
    response = client.post(url, {}, format="json")
    assert response.status_code == 400 and response.json()["field"] == "reason"
    declined = client.post(url, {"reason": "Covered by the pricing FAQ."}, format="json").json()
    assert declined["status"] == "declined" and declined["decline_reason"] == "Covered by the pricing FAQ."


def test_content_request_filters_and_stats(api, rep, org, marketer):
    other_rep = MembershipFactory(organization=org, role="sales_rep")
    mine = make_request(rep)
    theirs = make_request(other_rep)
    services.content_request_transition(request=theirs, to="accepted", actor=marketer)
    client = api(rep)
    assert [r["id"] for r in client.get("/api/v1/content-requests?mine=true").json()["results"]] == [mine.pk]
    assert [r["id"] for r in client.get("/api/v1/content-requests?status=accepted").json()["results"]] == [theirs.pk]
    assert len(client.get("/api/v1/content-requests").json()["results"]) == 2
    assert client.get("/api/v1/content-requests?status=lost").status_code == 400
    stats = client.get("/api/v1/content-requests/stats").json()
    assert stats["open"] == 2 and stats["by_status"]["New"] == 1 and stats["by_status"]["Accepted"] == 1
    assert stats["overdue"] == 0


def test_content_request_list_queries_are_constant(api, rep, org, marketer, django_assert_max_num_queries):
    persona = make_persona(org)
    asset = make_asset(org)
    for i in range(20):
        content_request = make_request(rep, persona=persona)
        if i % 2:
            services.content_request_transition(request=content_request, to="accepted", actor=marketer)
            services.content_request_transition(request=content_request, to="delivered", actor=marketer, asset=asset)
    client = api(rep)
    with django_assert_max_num_queries(4):
        body = client.get("/api/v1/content-requests?page_size=20").json()
    assert len(body["results"]) == 20


def test_another_organisations_request_is_404(api, outsider, org):
    content_request = ContentRequestFactory(organization=org)
    client = api(outsider)
    assert client.get(f"/api/v1/content-requests/{content_request.pk}").status_code == 404
    assert client.post(f"/api/v1/content-requests/{content_request.pk}/accept").status_code == 404
    assert client.get("/api/v1/content-requests").json()["results"] == []


def test_uploaded_file_downloads_with_a_token(api, org, marketer, rep):
    from django.core.files.uploadedfile import SimpleUploadedFile

    created = (
        api(marketer)
        .post(
            "/api/v1/content",
            {
                "title": "Deck",
                "asset_type": "case_study",
                "buyer_stage": "decision",
                "file": SimpleUploadedFile("deck.pdf", b"%PDF-1.5 deck"),
            },
            format="multipart",
        )
        .json()
    )
    assert created["file_url"].endswith(f"/api/v1/content/{created['id']}/file")
    response = api(rep).get(f"/api/v1/content/{created['id']}/file")
    assert response.status_code == 200 and b"".join(response.streaming_content) == b"%PDF-1.5 deck"
