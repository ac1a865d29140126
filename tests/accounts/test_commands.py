from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.core.validators import validate_email
from django.utils import timezone
from rest_framework.test import APIClient

from leads.models import Campaign, Lead
from personas.models import ContentAsset, ContentRequest, DefinitionVersion, Persona
from smarketing.accounts.models import Membership, Organization, User
from smarketing.demo import CONTENT_REQUESTS, DEMO_PASSWORD

pytestmark = pytest.mark.django_db


def test_create_api_key_prints_a_working_key(org):
    out = StringIO()
    call_command("create_api_key", "acme", "--name", "Importer", stdout=out, stderr=StringIO())
    raw = out.getvalue().strip()
    response = APIClient(headers={"Authorization": f"Api-Key {raw}"}).get("/api/v1/organization")
    assert response.status_code == 200 and response.json()["slug"] == "acme"
    assert org.api_keys.get().name == "Importer"


def test_create_api_key_for_unknown_organisation_fails(db):
    with pytest.raises(CommandError, match="No organisation"):
        call_command("create_api_key", "nope", stdout=StringIO(), stderr=StringIO())


def test_seed_demo_builds_every_role_once(client):
    call_command("seed_demo", "--leads", "300", stdout=StringIO())
    org = Organization.objects.get(slug="demo")
    roles = set(Membership.objects.for_org(org).values_list("role", flat=True))
    assert roles == set(Membership.Role.values)
    assert Lead.objects.for_org(org).count() == 300
    assert len(set(Lead.objects.values_list("lifecycle_stage", flat=True))) == len(Lead.Stage)
    for email in Lead.objects.values_list("email", flat=True):
        validate_email(email)
    for email in ["admin@demo.test", "manager@demo.test", "marketer@demo.test", "rep@demo.test", "rep2@demo.test"]:
        assert client.login(username=email, password=DEMO_PASSWORD)
    assert client.login(username="partner@demo.test", password=DEMO_PASSWORD)
    assert client.login(username="mkt-manager@demo.test", password=DEMO_PASSWORD)
    sides = set(Membership.objects.for_org(org).filter(role=Membership.Role.MANAGER).values_list("side", flat=True))
    assert sides == set(Membership.Side.values)  # definitions can be signed by both sides

    assert Persona.objects.for_org(org).count() >= 3
    assert Campaign.objects.for_org(org).exclude(target_persona=None).count() >= 3
    assert ContentAsset.objects.for_org(org).count() >= 20
    versions = DefinitionVersion.objects.for_org(org)
    assert sorted(versions.values_list("number", "status")) == [(1, "superseded"), (2, "active")]
    requests = ContentRequest.objects.for_org(org)
    assert set(requests.values_list("status", flat=True)) == set(ContentRequest.Status.values)
    assert all(r.delivered_asset_id for r in requests.filter(status="delivered"))
    assert all(r.decline_reason for r in requests.filter(status="declined"))
    assert any(r.is_overdue(timezone.now()) for r in requests)
    matched = Lead.objects.for_org(org).exclude(persona=None)
    assert 0 < matched.count() < 300 and matched.exclude(buyer_stage="").exists()

    out = StringIO()
    call_command("seed_demo", "--leads", "300", stdout=out)
    assert "already exists" in out.getvalue()
    assert Lead.objects.count() == 300 and User.objects.count() == 7
    assert Persona.objects.count() == Persona.objects.for_org(org).count()  # nothing seeded twice


def test_seed_demo_reset_rebuilds(db):
    call_command("seed_demo", "--leads", "10", stdout=StringIO())
    call_command("seed_demo", "--leads", "20", "--reset", stdout=StringIO())
    assert Organization.objects.count() == 1 and Lead.objects.count() == 20
    org = Organization.objects.get()
    assert Persona.objects.filter(organization=org).count() == Persona.objects.count() >= 3
    assert DefinitionVersion.objects.get(status="active").number == 2
    assert ContentRequest.objects.count() == len(CONTENT_REQUESTS)
