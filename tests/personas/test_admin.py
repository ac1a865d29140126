"""The Django admin shows definitions and content requests but changes nothing their services own:
a version's status, wording and signatures, a request's status."""

from __future__ import annotations

import pytest
from django.urls import reverse

from personas import services
from personas.glossary import default_terms
from personas.models import ContentRequest, DefinitionSignoff, DefinitionVersion, Persona
from tests.admin_pages import change_form_data, operator_login

pytestmark = pytest.mark.django_db


def test_a_definitions_version_is_shown_but_not_changed_or_signed_in_the_admin(client, manager):
    version = services.definitions_propose(
        proposer=manager,
        data=services.DefinitionsInput(terms=default_terms(), mql_threshold=60, sql_criteria="Budget confirmed."),
    )
    client = operator_login(client)
    url = reverse("admin:personas_definitionversion_change", args=[version.pk])
    page = client.get(url)
    assert page.status_code == 200 and "Budget confirmed." in page.content.decode()

    response = client.post(
        url,
        {
            "status": DefinitionVersion.Status.ACTIVE,
            "mql_threshold": 1,
            "signoffs-TOTAL_FORMS": 1,
            "signoffs-INITIAL_FORMS": 0,
            "signoffs-0-membership": manager.pk,
            "signoffs-0-side": "marketing",
        },
    )

    assert response.status_code == 403
    version.refresh_from_db()
    assert (version.status, version.mql_threshold) == (DefinitionVersion.Status.PROPOSED, 60)
    assert not DefinitionSignoff.objects.exists()
    assert client.get(reverse("admin:personas_definitionversion_add")).status_code == 403


def test_a_content_requests_status_is_shown_but_not_changed_in_the_admin(client, rep):
    request = services.content_request_create(
        requester=rep, question="How do we compare with the incumbent?", buyer_stage="decision"
    )
    client = operator_login(client)
    url = reverse("admin:personas_contentrequest_change", args=[request.pk])
    page = client.get(url)
    assert page.status_code == 200 and '<div class="readonly">New</div>' in page.content.decode()

    data = change_form_data(page) | {
        "urgency": "high",
        "status": "delivered",
        "closed_at_0": "2026-01-01",
        "closed_at_1": "12:00",
    }
    response = client.post(url, data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    request.refresh_from_db()
    assert request.urgency == "high"  # the post was taken ...
    assert (request.status, request.closed_at) == (ContentRequest.Status.NEW, None)  # ... but not the status


def test_a_persona_is_archived_not_deleted_so_the_admin_cannot_delete_one(client, org):
    from tests.factories import PersonaFactory

    persona = PersonaFactory(organization=org)
    client = operator_login(client)
    assert client.get(reverse("admin:personas_persona_change", args=[persona.pk])).status_code == 200
    assert client.post(reverse("admin:personas_persona_delete", args=[persona.pk]), {"post": "yes"}).status_code == 403
    changelist = reverse("admin:personas_persona_changelist")
    response = client.post(changelist, {"action": "delete_selected", "_selected_action": [persona.pk], "post": "yes"})
    assert response.status_code in (200, 302)
    assert Persona.objects.filter(pk=persona.pk).exists()


def test_deleting_an_organisation_in_the_admin_takes_its_personas(client, org):
    from smarketing.accounts.models import Organization
    from tests.factories import PersonaFactory

    persona = PersonaFactory(organization=org)
    client = operator_login(client)
    response = client.post(reverse("admin:accounts_organization_delete", args=[org.pk]), {"post": "yes"})
    assert response.status_code == 302
    assert not Organization.objects.filter(pk=org.pk).exists()
    assert not Persona.objects.filter(pk=persona.pk).exists()
