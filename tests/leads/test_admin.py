"""The Django admin shows leads and handoffs but moves no lead's stage: only lead_transition does."""

from __future__ import annotations

import pytest
from django.urls import reverse

from leads.handoffs import handoff_create
from leads.models import Handoff, Lead, StageChange
from leads.services import LeadInput, lead_create, lead_transition
from tests.admin_pages import change_form_data, operator_login

pytestmark = pytest.mark.django_db


@pytest.fixture
def mql(org, marketer):
    lead = lead_create(org=org, data=LeadInput(email="mia@client.test", first_name="Mia"), actor=marketer)
    return lead_transition(lead=lead, to=Lead.Stage.MQL, actor=marketer, reason="Asked for a demo")


def test_a_lead_is_shown_but_not_changed_in_the_admin(client, mql):
    client = operator_login(client)
    url = reverse("admin:leads_lead_change", args=[mql.pk])
    page = client.get(url)
    body = page.content.decode()
    assert page.status_code == 200
    assert '<div class="readonly">MQL</div>' in body and 'name="lifecycle_stage"' not in body
    assert 'name="organization"' not in body and 'name="first_name"' not in body
    history = StageChange.objects.filter(lead=mql).count()

    response = client.post(url, change_form_data(page) | {"first_name": "Mina", "lifecycle_stage": "customer"})

    assert response.status_code == 403
    mql.refresh_from_db()
    assert (mql.first_name, mql.lifecycle_stage) == ("Mia", Lead.Stage.MQL)
    assert StageChange.objects.filter(lead=mql).count() == history


def test_the_admin_adds_no_lead(client, org):
    client = operator_login(client)
    assert client.get(reverse("admin:leads_lead_add")).status_code == 403
    response = client.post(
        reverse("admin:leads_lead_add"), {"organization": org.pk, "email": "x@y.test", "lifecycle_stage": "customer"}
    )
    assert response.status_code == 403 and not Lead.objects.exists()


def test_a_handoff_is_shown_but_not_changed_in_the_admin(client, org, sales, marketer):
    lead = lead_create(org=org, data=LeadInput(email="mia@client.test"), actor=marketer)
    handoff = handoff_create(lead=lead, actor=marketer, note="Asked for a demo")  # moves it to MQL
    client = operator_login(client)
    url = reverse("admin:leads_handoff_change", args=[handoff.pk])
    page = client.get(url)
    assert page.status_code == 200 and "mia@client.test" in page.content.decode()

    response = client.post(url, {"status": Handoff.Status.ACCEPTED, "lead": handoff.lead_id, "rep": handoff.rep_id})

    assert response.status_code == 403
    handoff.refresh_from_db()
    lead.refresh_from_db()
    assert handoff.status == Handoff.Status.PENDING and lead.lifecycle_stage == Lead.Stage.MQL
    assert client.get(reverse("admin:leads_handoff_add")).status_code == 403
    assert client.post(reverse("admin:leads_handoff_delete", args=[handoff.pk]), {"post": "yes"}).status_code == 403
    assert Handoff.objects.filter(pk=handoff.pk).exists()
