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


def test_the_lead_change_form_shows_the_stage_but_a_post_does_not_change_it(client, mql):
    client = operator_login(client)
    url = reverse("admin:leads_lead_change", args=[mql.pk])
    page = client.get(url)
    body = page.content.decode()
    assert page.status_code == 200
    assert '<div class="readonly">MQL</div>' in body and 'name="lifecycle_stage"' not in body
    history = StageChange.objects.filter(lead=mql).count()

    data = change_form_data(page) | {"first_name": "Mina", "lifecycle_stage": Lead.Stage.CUSTOMER}
    response = client.post(url, data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    mql.refresh_from_db()
    assert mql.first_name == "Mina"  # the post was taken ...
    assert mql.lifecycle_stage == Lead.Stage.MQL  # ... but not its stage
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
