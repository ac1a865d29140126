"""The touches and opportunities API: role rules, bad input, win and lose, and no N+1."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from leads.handoffs import handoff_accept, handoff_create
from leads.models import Handoff, Lead, Opportunity, Touch
from reporting.models import AttributionCredit
from tests.factories import CampaignFactory, LeadFactory, MembershipFactory

pytestmark = pytest.mark.django_db
IN_A_MONTH = (date.today() + timedelta(days=30)).isoformat()


@pytest.fixture
def handoff(org, sales, marketer):
    campaign = CampaignFactory(organization=org, owner=marketer)
    return handoff_create(lead=LeadFactory(organization=org, first_campaign=campaign), actor=marketer)


@pytest.fixture
def sql(handoff, rep):
    handoff_accept(handoff=handoff, actor=rep)
    return Lead.objects.get(pk=handoff.lead_id)


def _open(client, lead, **values):
    body = {"lead": lead.pk, "amount": "2500.00", "currency": "USD", "expected_close_date": IN_A_MONTH} | values
    return client.post("/api/v1/opportunities", body, format="json")


def test_a_rep_logs_a_call_and_it_stops_the_clock(api, rep, handoff):
    now = timezone.now()
    response = api(rep).post(
        "/api/v1/touches",
        {"lead": handoff.lead_id, "kind": "call", "outcome": "connected", "occurred_at": now.isoformat()},
        format="json",
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["kind"], body["handoff"], body["rep"]["id"]) == ("call", handoff.pk, rep.pk)
    assert Handoff.objects.get(pk=handoff.pk).first_touch_at is not None
    listed = api(rep).get(f"/api/v1/touches?lead={handoff.lead_id}").json()["results"]
    assert [t["id"] for t in listed] == [body["id"]]


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"kind": "call", "outcome": "connected", "occurred_at": "2999-01-01T00:00:00Z"}, "occurred_at"),
        ({"kind": "call", "outcome": "", "occurred_at": "2026-01-01T00:00:00Z"}, "outcome"),
        ({"kind": "call", "outcome": "shrug", "occurred_at": "2026-01-01T00:00:00Z"}, "outcome"),
        ({"kind": "call", "outcome": "connected"}, "occurred_at"),
    ],
)
def test_bad_touches_are_400_on_their_field(api, rep, handoff, values, field):
    response = api(rep).post("/api/v1/touches", {"lead": handoff.lead_id, **values}, format="json")
    assert response.status_code == 400, response.json()
    assert field in str(response.json())
    assert not Touch.objects.exists()


def test_touch_rules_by_role(api, org, handoff, marketer):
    other_rep = MembershipFactory(organization=org, role="sales_rep")
    body = {"lead": handoff.lead_id, "kind": "call", "outcome": "connected", "occurred_at": timezone.now().isoformat()}
    assert api(other_rep).post("/api/v1/touches", body, format="json").status_code == 403
    assert api(marketer).post("/api/v1/touches", body, format="json").status_code == 403


def test_another_organisations_lead_is_unknown(api, outsider, handoff):
    body = {"lead": handoff.lead_id, "kind": "call", "outcome": "connected", "occurred_at": timezone.now().isoformat()}
    response = api(outsider).post("/api/v1/touches", body, format="json")
    assert response.status_code == 400
    assert not Touch.objects.exists()


def test_the_deal_lifecycle_over_the_api(api, rep, sql):
    client = api(rep)
    created = _open(client, sql, stage="Discovery")
    assert created.status_code == 201, created.json()
    deal = created.json()
    assert created["Location"].endswith(f"/api/v1/opportunities/{deal['id']}")
    assert (deal["status"], deal["lead"]["lifecycle_stage"], deal["owner"]["id"]) == ("open", "opportunity", rep.pk)

    moved = client.patch(f"/api/v1/opportunities/{deal['id']}", {"stage": "Negotiation"}, format="json")
    assert moved.status_code == 200 and moved.json()["stage"] == "Negotiation"

    won = client.post(f"/api/v1/opportunities/{deal['id']}/win", {"amount": "3000", "currency": "USD"}, format="json")
    assert won.status_code == 200, won.json()
    assert (won.json()["status"], won.json()["amount"], won.json()["lead"]["lifecycle_stage"]) == (
        "won",
        "3000.00",
        "customer",
    )
    assert AttributionCredit.objects.filter(opportunity_id=deal["id"]).count() == 3

    lost = client.post(f"/api/v1/opportunities/{deal['id']}/lose", {"reason": "price"}, format="json")
    assert lost.status_code == 409
    assert Opportunity.objects.get(pk=deal["id"]).status == "won"


@pytest.mark.parametrize(
    ("path", "values", "field"),
    [
        ("win", {"amount": "-10", "currency": "USD"}, "amount"),
        ("win", {"amount": "10", "currency": "EUR"}, "currency"),
        ("lose", {"reason": ""}, "reason"),
        ("lose", {"reason": "other", "note": ""}, "note"),
    ],
)
def test_bad_outcomes_are_400_and_change_nothing(api, rep, sql, path, values, field):
    deal = _open(api(rep), sql).json()
    response = api(rep).post(f"/api/v1/opportunities/{deal['id']}/{path}", values, format="json")
    assert response.status_code == 400
    assert field in str(response.json())
    assert Opportunity.objects.get(pk=deal["id"]).status == "open"
    assert Lead.objects.get(pk=sql.pk).lifecycle_stage == "opportunity"


def test_opening_a_deal_for_an_mql_is_a_conflict(api, manager, handoff):
    response = _open(api(manager), handoff.lead)
    assert response.status_code == 409
    assert "SQL" in str(response.json())


def test_another_rep_cannot_win_my_deal_but_a_manager_can(api, org, rep, manager, sql):
    deal = _open(api(rep), sql).json()
    other = MembershipFactory(organization=org, role="sales_rep")
    url = f"/api/v1/opportunities/{deal['id']}/win"
    assert api(other).post(url, {"amount": "1", "currency": "USD"}, format="json").status_code == 403
    assert api(manager).post(url, {"amount": "1", "currency": "USD"}, format="json").status_code == 200


def test_a_marketer_reads_deals_but_cannot_open_them(api, marketer, rep, sql):
    _open(api(rep), sql)
    assert api(marketer).get("/api/v1/opportunities?status=open").json()["results"][0]["lead"]["id"] == sql.pk
    assert _open(api(marketer), sql).status_code == 403


def test_another_organisations_deal_is_404(api, rep, outsider, sql):
    deal = _open(api(rep), sql).json()
    for method, path in [("get", ""), ("patch", ""), ("post", "/win"), ("post", "/lose")]:
        response = getattr(api(outsider), method)(f"/api/v1/opportunities/{deal['id']}{path}", {}, format="json")
        assert response.status_code == 404, (method, path)


def test_the_deal_list_query_count_does_not_grow_with_the_page(api, org, manager, rep):
    client = api(manager)

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get("/api/v1/opportunities").status_code == 200
        return len(queries)

    def add(n: int) -> None:
        for _ in range(n):
            lead = LeadFactory(organization=org, lifecycle_stage="sql", owner=rep)
            Opportunity.objects.create(
                organization=org,
                lead=lead,
                owner=rep,
                name="D",
                amount=1,
                currency="USD",
                expected_close_date=date.today(),
                stage="Discovery",
            )

    add(2)
    count()  # the first call also records the token's last use
    few = count()
    add(10)
    assert count() == few
