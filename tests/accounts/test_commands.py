from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.core.validators import validate_email
from rest_framework.test import APIClient

from leads.models import Lead
from smarketing.accounts.models import Membership, Organization, User
from smarketing.demo import DEMO_PASSWORD

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

    out = StringIO()
    call_command("seed_demo", "--leads", "300", stdout=out)
    assert "already exists" in out.getvalue()
    assert Lead.objects.count() == 300 and User.objects.count() == 6


def test_seed_demo_reset_rebuilds(db):
    call_command("seed_demo", "--leads", "10", stdout=StringIO())
    call_command("seed_demo", "--leads", "20", "--reset", stdout=StringIO())
    assert Organization.objects.count() == 1 and Lead.objects.count() == 20
