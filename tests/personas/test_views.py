from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from personas import services
from personas.glossary import default_terms
from personas.models import ContentAsset, ContentRequest, DefinitionVersion, Persona
from personas.services import DefinitionsInput
from tests.factories import (
    ContentAssetFactory,
    ContentRequestFactory,
    LeadFactory,
    MembershipFactory,
    PersonaFactory,
)

pytestmark = pytest.mark.django_db


def persona_post(**overrides):
    data = {
        "name": "Marketing Mary",
        "summary": "Runs demand gen",
        "industries": "Software, SaaS",
        "company_size_min": "50",
        "company_size_max": "1000",
        "title_keywords": "marketing; demand gen",
        "countries": "gb, de",
        "seniorities": ["manager", "director"],
        "preferred_channels": ["webinar", "seo_content"],
        "awareness_key_message": "Pipeline you can trust",
        "awareness_proof_points": "3x MQLs\nSOC 2",
    }
    return {**data, **overrides}


def test_marketer_creates_a_persona_from_the_form(login, marketer):
    response = login(marketer).post(reverse("personas:persona_create"), persona_post(), follow=True)
    persona = Persona.objects.get()
    assert persona.industries == ["Software", "SaaS"] and persona.countries == ["GB", "DE"]
    assert persona.title_keywords == ["marketing", "demand gen"]
    body = response.content.decode()
    assert "Pipeline you can trust" in body and "SOC 2" in body


def test_contradictory_sizes_show_a_field_error(login, marketer):
    response = login(marketer).post(
        reverse("personas:persona_create"), persona_post(company_size_min="900", company_size_max="10")
    )
    assert "is above the maximum" in response.content.decode()
    assert not Persona.objects.exists()


@pytest.mark.parametrize("role", ["sales_rep", "partner"])
def test_reps_and_partners_read_but_do_not_edit_personas(login, org, role):
    persona = PersonaFactory(organization=org)
    client = login(MembershipFactory(organization=org, role=role))
    assert client.get(reverse("personas:persona_detail", args=[persona.pk])).status_code == 200
    assert client.get(reverse("personas:persona_create")).status_code == 403
    assert client.post(reverse("personas:persona_edit", args=[persona.pk]), persona_post()).status_code == 403
    assert client.post(reverse("personas:persona_archive", args=[persona.pk])).status_code == 403


def test_a_partner_reads_a_persona_without_its_content_or_sales_requests(login, org, rep, marketer, partner_user):
    """Partners may read personas, but content and sales' requests (which may name a lead) are staff's."""
    persona = services.persona_create(
        org=org, data=services.PersonaInput(name="Ops Oliver", title_keywords=["operations"])
    )
    services.asset_save(
        org=org,
        data=services.AssetInput(
            title="Internal ROI workbook",
            asset_type="ebook",
            buyer_stage="decision",
            url="https://content.example/roi",
            personas=[persona],
        ),
    )
    services.content_request_create(
        requester=rep, question="Globex asks how we beat the incumbent", buyer_stage="decision", persona=persona
    )
    url = reverse("personas:persona_detail", args=[persona.pk])
    staff = login(marketer).get(url).content.decode()
    assert "Internal ROI workbook" in staff and "Globex asks how we beat the incumbent" in staff

    response = login(partner_user).get(url)
    body = response.content.decode()
    assert response.status_code == 200 and "Ops Oliver" in body
    assert "Internal ROI workbook" not in body and 'data-testid="persona-content"' not in body
    assert "Globex asks" not in body and 'data-testid="persona-requests"' not in body
    listing = reverse("personas:persona_list")
    assert "1 content asset" in login(marketer).get(listing).content.decode()
    assert "content asset" not in login(partner_user).get(listing).content.decode()


def test_persona_list_queries_are_constant(login, org, marketer, django_assert_max_num_queries):
    PersonaFactory.create_batch(20, organization=org)
    client = login(marketer)
    with django_assert_max_num_queries(8):
        response = client.get(reverse("personas:persona_list"))
    assert len(response.context["personas"]) == 20


def test_matcher_page_explains_the_match(login, org, rep):
    services.persona_create(org=org, data=services.PersonaInput(name="Founder Fiona", company_size_max=50))
    body = login(rep).get(reverse("personas:persona_match"), {"company_size": 12}).content.decode()
    assert "Founder Fiona" in body and "Company size 12 is within 0–50" in body


def test_definitions_page_empty_state_and_proposal_by_manager(login, org, manager):
    client = login(manager)
    assert "No agreed definitions yet" in client.get(reverse("personas:definitions")).content.decode()
    form = client.get(reverse("personas:definitions_propose")).context["form"]
    data = {name: field.initial for name, field in form.fields.items() if field.initial is not None}
    data |= {"mql_threshold": 55, "mql_min_fit": 10, "sql_criteria": "Budget confirmed", "summary": "First"}
    response = client.post(reverse("personas:definitions_propose"), data, follow=True)
    assert "awaiting" in response.content.decode().lower()
    version = DefinitionVersion.objects.get()
    assert version.terms.count() == len(default_terms()) and version.mql_threshold == 55


def test_marketer_cannot_sign_and_sees_no_sign_button(login, org, manager):
    version = services.definitions_propose(
        proposer=manager, data=DefinitionsInput(terms=default_terms(), mql_threshold=60, sql_criteria="x")
    )
    marketer = MembershipFactory(organization=org, role="marketer")
    client = login(marketer)
    page = client.get(reverse("personas:definition_version", args=[version.pk])).content.decode()
    assert "Sign for" not in page
    assert client.post(reverse("personas:definition_sign", args=[version.pk])).status_code == 403


def test_both_managers_sign_through_the_page_and_badges_show_the_wording(client, login, org, manager):
    mkt = MembershipFactory(organization=org, role="manager", side="marketing")
    version = services.definitions_propose(
        proposer=mkt, data=DefinitionsInput(terms=default_terms(), mql_threshold=60, sql_criteria="x")
    )
    login(mkt).post(reverse("personas:definition_sign", args=[version.pk]))
    response = login(manager).post(reverse("personas:definition_sign", args=[version.pk]), follow=True)
    assert "now active" in response.content.decode()
    LeadFactory(organization=org, lifecycle_stage="mql")
    home = client.get(reverse("home")).content.decode()
    assert 'title="A lead whose fit and engagement reached the agreed MQL threshold' in home
    assert reverse("personas:definitions") + "#stage-mql" in home


def test_content_list_filters_and_constant_queries(login, org, rep, django_assert_max_num_queries):
    persona = PersonaFactory(organization=org)
    for i in range(30):
        asset = ContentAssetFactory(organization=org, buyer_stage="decision" if i % 2 else "awareness")
        asset.personas.add(persona)
    client = login(rep)
    with django_assert_max_num_queries(10):
        response = client.get(reverse("personas:content_list"), {"persona": persona.pk, "buyer_stage": "decision"})
    assert response.context["page"].paginator.count == 15
    assert len(response.context["page"].object_list) == 15


def test_content_list_empty_states(login, org, marketer):
    client = login(marketer)
    assert "The library is empty" in client.get(reverse("personas:content_list")).content.decode()
    ContentAssetFactory(organization=org)
    body = client.get(reverse("personas:content_list"), {"q": "nothing-like-this"}).content.decode()
    assert "No content matches these filters" in body


def test_upload_of_a_program_is_refused_with_a_field_error(login, marketer):
    response = login(marketer).post(
        reverse("personas:content_create"),
        {
            "title": "Guide",
            "asset_type": "ebook",
            "buyer_stage": "awareness",
            "file": SimpleUploadedFile("guide.pdf", b"MZ\x90\x00evil"),
        },
    )
    assert "program or script" in response.content.decode()
    assert not ContentAsset.objects.exists()


def test_uploaded_file_is_served_to_members(login, marketer, rep):
    login(marketer).post(
        reverse("personas:content_create"),
        {
            "title": "Guide",
            "asset_type": "ebook",
            "buyer_stage": "awareness",
            "file": SimpleUploadedFile("g.pdf", b"%PDF-1.4 x"),
        },
    )
    asset = ContentAsset.objects.get()
    response = login(rep).get(reverse("personas:content_file", args=[asset.pk]))
    assert response.status_code == 200 and b"".join(response.streaming_content) == b"%PDF-1.4 x"


def test_matrix_page_counts_gaps(login, org, rep):
    PersonaFactory(organization=org, name="Ops Oliver")
    body = login(rep).get(reverse("personas:content_matrix")).content.decode()
    assert "3 gaps" in body and "Ops Oliver" in body


def test_rep_files_a_request_and_it_is_listed(login, org, rep, django_assert_max_num_queries):
    persona = PersonaFactory(organization=org)
    lead = LeadFactory(organization=org, email="ann@buyer.test")
    client = login(rep)
    response = client.post(
        reverse("personas:content_request_create"),
        {
            "question": "Do you integrate with SAP?",
            "persona": persona.pk,
            "buyer_stage": "consideration",
            "urgency": "high",
            "lead_email": "ANN@buyer.test",
        },
        follow=True,
    )
    assert "business days" in response.content.decode()
    request = ContentRequest.objects.get()
    assert (request.lead, request.requested_by, request.status) == (lead, rep, "new")
    ContentRequestFactory.create_batch(20, organization=org)
    with django_assert_max_num_queries(10):
        listing = client.get(reverse("personas:content_request_list"))
    assert listing.context["stats"]["open"] == 21


def test_request_for_unknown_lead_shows_error(login, rep):
    response = login(rep).post(
        reverse("personas:content_request_create"),
        {"question": "Q", "buyer_stage": "decision", "urgency": "normal", "lead_email": "nobody@x.test"},
    )
    assert "No lead with the email" in response.content.decode()
    assert not ContentRequest.objects.exists()


def test_marketer_cannot_file_but_rep_cannot_triage(login, org, rep, marketer):
    assert login(marketer).get(reverse("personas:content_request_create")).status_code == 403
    request = ContentRequestFactory(organization=org, requested_by=rep)
    client = login(rep)
    assert (
        'data-testid="triage"'
        not in client.get(reverse("personas:content_request_detail", args=[request.pk])).content.decode()
    )
    response = client.post(reverse("personas:content_request_transition", args=[request.pk]), {"to": "accepted"})
    assert response.status_code == 403


def test_marketer_delivers_with_a_new_asset(login, org, rep, marketer, django_capture_on_commit_callbacks):
    request = services.content_request_create(requester=rep, question="SAP?", buyer_stage="consideration")
    client = login(marketer)
    client.post(reverse("personas:content_request_transition", args=[request.pk]), {"to": "accepted"})
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("personas:content_create") + f"?request={request.pk}",
            {
                "title": "SAP integration guide",
                "asset_type": "user_guide",
                "buyer_stage": "consideration",
                "url": "https://docs.example/sap",
                "request": request.pk,
            },
            follow=True,
        )
    request.refresh_from_db()
    assert request.status == "delivered" and request.delivered_asset.title == "SAP integration guide"
    assert "has been notified" in response.content.decode()
    assert rep.notifications.get().url == reverse("personas:content_request_detail", args=[request.pk])


def test_transition_with_invalid_step_keeps_request(login, org, rep, marketer):
    request = ContentRequestFactory(organization=org, requested_by=rep)
    response = login(marketer).post(
        reverse("personas:content_request_transition", args=[request.pk]), {"to": "delivered"}, follow=True
    )
    assert "A request that is new can&#x27;t become delivered." in response.content.decode()
    request.refresh_from_db()
    assert request.status == "new"
