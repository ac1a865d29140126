"""The SLA API: draft, sign by side, compliance, role rules and other organisations' ids."""

from __future__ import annotations

import pytest
from django.utils import timezone

from sla.models import Agreement
from tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def terms():
    return {
        "period": "month",
        "starts_on": timezone.localdate().isoformat(),
        "mql_target": 30,
        "response_hours": 4,
        "revenue_target": "40000",
    }


def test_draft_sign_both_sides_and_read_compliance(api, org, manager, rep, terms):
    marketing = MembershipFactory(organization=org, role="manager", side="marketing")
    created = api(manager).post("/api/v1/slas", terms, format="json")
    assert created.status_code == 201, created.json()
    url = created["Location"]
    assert api(manager).post(f"{url}/sign", {"side": "sales"}, format="json").json()["status"] == "draft"
    signed = api(marketing).post(f"{url}/sign", {"side": "marketing"}, format="json")
    assert signed.status_code == 200 and signed.json()["status"] == "active"

    figures = api(rep).get(f"{url}/compliance").json()
    assert figures["marketing"][0]["label"] == "MQLs delivered" and figures["marketing"][0]["target"] == 30
    assert figures["revenue"]["target"] == 40000.0 and figures["revenue"]["met"] is False
    forecast = api(rep).get(f"{url}/forecast").json()
    assert forecast["projections"][0]["label"] == "MQLs" and forecast["predicted"] == []


@pytest.mark.parametrize(
    ("changes", "field"),
    [({"revenue_target": "-1"}, "revenue_target"), ({"response_hours": 721}, "response_hours")],
)
def test_bad_terms_are_400_on_their_field(api, manager, terms, changes, field):
    response = api(manager).post("/api/v1/slas", terms | changes, format="json")
    assert response.status_code == 400 and field in str(response.json())
    assert not Agreement.objects.exists()


def test_a_wrong_side_signature_is_400_and_a_rep_cannot_draft(api, manager, rep, terms):
    url = api(manager).post("/api/v1/slas", terms, format="json")["Location"]
    response = api(manager).post(f"{url}/sign", {"side": "marketing"}, format="json")
    assert response.status_code == 400 and "marketing-side manager" in str(response.json())
    assert api(rep).post("/api/v1/slas", terms, format="json").status_code == 403


def test_another_organisations_agreement_is_404(api, manager, outsider, terms):
    url = api(manager).post("/api/v1/slas", terms, format="json")["Location"]
    for method, suffix in [
        ("get", ""),
        ("patch", ""),
        ("post", "/sign"),
        ("get", "/compliance"),
        ("get", "/forecast"),
        ("post", "/renew"),
    ]:
        assert getattr(api(outsider), method)(f"{url}{suffix}", {}, format="json").status_code == 404
