"""The handoff, routing-rule, routing-preview and team API: thin over the services and selectors."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from leads.handoffs import handoff_create
from leads.models import Handoff, Lead, RoutingRule
from smarketing.accounts.models import Membership
from tests.factories import (
    CampaignFactory,
    LeadFactory,
    MembershipFactory,
    PersonaFactory,
    RoutingRuleFactory,
    TeamFactory,
    TeamMemberFactory,
)

pytestmark = pytest.mark.django_db
URL = "/api/v1/handoffs"
RULES = "/api/v1/routing-rules"


def url(handoff, action: str = "") -> str:
    return f"{URL}/{handoff.pk}" + (f"/{action}" if action else "")


@pytest.fixture
def sales(sales):
    """The shared "Sales" team (tests/leads/conftest.py), its rep taking at most 5 handoffs."""
    sales.team.members.update(capacity=5)
    return sales


@pytest.fixture
def handoff(org, sales, marketer):
    return handoff_create(lead=LeadFactory(organization=org), actor=marketer, note="Asked for a demo")


# --- Handoffs: read -------------------------------------------------------------------


def test_detail_shows_the_lead_rep_routing_and_outcome(api, handoff, rep, sales):
    body = api(rep).get(url(handoff)).json()
    assert body["id"] == handoff.pk and body["status"] == "pending" and body["is_overdue"] is False
    assert body["lead"]["id"] == handoff.lead_id and body["lead"]["lifecycle_stage"] == "mql"
    assert body["rep"] == {"id": rep.pk, "email": "rep@acme.test", "name": rep.user.full_name}
    assert body["routing"]["rule"] == {"id": sales.pk, "name": "Everyone"}
    assert [step["step"] for step in body["routing"]["log"]] == ["rule", "assign"]
    assert body["note"] == "Asked for a demo" and body["reassigned_to"] is None


def test_list_filters_and_a_rep_sees_only_their_own(api, org, sales, handoff, rep, manager, marketer):
    other_rep = MembershipFactory(organization=org, role=Membership.Role.SALES_REP)
    theirs = handoff_create(lead=LeadFactory(organization=org), actor=marketer)
    Handoff.objects.filter(pk=theirs.pk).update(rep=other_rep)

    def ids(client, **params) -> list[int]:
        response = client.get(URL, params)
        assert response.status_code == 200, response.json()
        return [row["id"] for row in response.json()["results"]]

    assert ids(api(rep)) == [handoff.pk]
    assert ids(api(rep), rep=other_rep.pk) == []
    assert ids(api(manager)) == [theirs.pk, handoff.pk]  # newest first
    assert ids(api(marketer), rep=other_rep.pk) == [theirs.pk]
    assert ids(api(manager), rep="me") == []
    assert ids(api(manager), lead=handoff.lead_id) == [handoff.pk]
    assert ids(api(manager), status="accepted") == []
    assert api(rep).get(url(theirs)).status_code == 403


def test_pending_list_is_soonest_due_first(api, org, sales, manager, marketer):
    first = handoff_create(lead=LeadFactory(organization=org), actor=marketer)
    second = handoff_create(lead=LeadFactory(organization=org), actor=marketer)
    Handoff.objects.filter(pk=first.pk).update(due_at=second.due_at + (second.due_at - second.created_at))
    rows = api(manager).get(URL, {"status": "pending", "page_size": 1}).json()
    assert [r["id"] for r in rows["results"]] == [second.pk] and rows["next"]
    assert [r["id"] for r in api(manager).get(rows["next"]).json()["results"]] == [first.pk]


@pytest.mark.parametrize("params", [{"status": "lost"}, {"rep": "someone"}, {"lead": 999999}])
def test_bad_filters_are_400_with_the_field(api, manager, params):
    response = api(manager).get(URL, params)
    assert response.status_code == 400 and response.json()["field"] == next(iter(params))


@pytest.mark.parametrize("count", [3, 30])
def test_list_queries_do_not_grow_with_rows(api, org, sales, manager, count, django_assert_max_num_queries):
    TeamMemberFactory(team=sales.team, membership=manager, capacity=100)
    sales.team.members.update(capacity=100)
    for _ in range(count):
        handoff_create(lead=LeadFactory(organization=org), actor=manager)
    client = api(manager)
    # The credential (2: look up, record use) and the page.
    with django_assert_max_num_queries(3):
        body = client.get(URL, {"page_size": 100}).json()
    assert len(body["results"]) == count and body["results"][0]["rep"]["email"]


def test_another_organisations_handoff_is_404(api, handoff, outsider, other_org):
    outsider_rep = MembershipFactory(organization=other_org, role=Membership.Role.SALES_REP)
    assert api(outsider).get(url(handoff)).status_code == 404
    assert api(outsider_rep).post(url(handoff, "accept")).status_code == 404
    assert api(outsider).get(URL).json()["results"] == []


def test_partners_see_no_handoffs(api, handoff, partner_user):
    assert api(partner_user).get(URL).status_code == 403


# --- Handoffs: send to sales, accept, return, reassign -----------------------------------


def test_marketer_sends_a_lead_to_sales(api, org, sales, marketer, rep):
    lead = LeadFactory(organization=org)
    response = api(marketer).post(URL, {"lead": lead.pk, "note": "Hot from the fair"}, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert response["Location"] == f"{URL}/{body['id']}"
    assert body["rep"]["id"] == rep.pk and body["note"] == "Hot from the fair"
    assert Lead.objects.get(pk=lead.pk).lifecycle_stage == "mql"


def test_a_rep_cannot_send_to_sales(api, org, sales, rep):
    response = api(rep).post(URL, {"lead": LeadFactory(organization=org).pk}, format="json")
    assert response.status_code == 403 and not Handoff.objects.exists()


def test_sending_twice_conflicts_and_another_orgs_lead_is_a_field_error(api, handoff, marketer, other_org):
    again = api(marketer).post(URL, {"lead": handoff.lead_id}, format="json")
    assert again.status_code == 409
    foreign = api(marketer).post(URL, {"lead": LeadFactory(organization=other_org).pk}, format="json")
    assert foreign.status_code == 400 and foreign.json()["field"] == "lead"


def test_rep_accepts_and_a_second_accept_conflicts(api, handoff, rep):
    client = api(rep)
    response = client.post(url(handoff, "accept"))
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "accepted" and response.json()["lead"]["lifecycle_stage"] == "sql"
    assert Lead.objects.get(pk=handoff.lead_id).owner == rep
    assert client.post(url(handoff, "accept")).status_code == 409


def test_a_rep_cannot_accept_another_reps_handoff(api, org, handoff):
    other_rep = MembershipFactory(organization=org, role=Membership.Role.SALES_REP)
    response = api(other_rep).post(url(handoff, "accept"))
    assert response.status_code == 403
    assert Handoff.objects.get(pk=handoff.pk).status == "pending"


def test_a_marketer_cannot_accept(api, handoff, marketer):
    assert api(marketer).post(url(handoff, "accept")).status_code == 403


def test_return_with_a_reason_sends_the_lead_to_nurture(api, handoff, rep):
    response = api(rep).post(url(handoff, "return"), {"reason": "not_ready_nurture", "note": "Q3"}, format="json")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["status"], body["return_reason"], body["return_note"]) == ("returned", "not_ready_nurture", "Q3")
    assert body["lead"]["lifecycle_stage"] == "nurture"


def test_return_without_a_reason_is_400_with_the_field(api, handoff, rep):
    response = api(rep).post(url(handoff, "return"), {"note": "meh"}, format="json")
    assert response.status_code == 400 and response.json()["field"] == "reason"
    other = api(rep).post(url(handoff, "return"), {"reason": "other"}, format="json")
    assert other.status_code == 400 and other.json()["field"] == "note"  # the service's rule
    assert Handoff.objects.get(pk=handoff.pk).status == "pending"


def test_manager_reassigns_to_a_named_rep(api, org, handoff, manager):
    other_rep = MembershipFactory(organization=org, role=Membership.Role.SALES_REP)
    response = api(manager).post(url(handoff, "reassign"), {"to": other_rep.pk}, format="json")
    assert response.status_code == 201, response.json()
    new = response.json()
    assert new["rep"]["id"] == other_rep.pk and new["status"] == "pending"
    assert new["routing"]["log"][0]["step"] == "manual"
    old = api(manager).get(url(handoff)).json()
    assert (old["status"], old["reassigned_to"]) == ("reassigned", new["id"])


def test_reassign_without_a_name_routes_again_to_someone_else(api, handoff, manager):
    response = api(manager).post(url(handoff, "reassign"), {}, format="json")
    assert response.status_code == 201 and response.json()["rep"]["id"] == manager.pk  # the fallback owner


def test_reassign_by_a_rep_is_forbidden(api, handoff, rep):
    assert api(rep).post(url(handoff, "reassign"), {}, format="json").status_code == 403
    assert Handoff.objects.get(pk=handoff.pk).status == "pending"


def test_reassign_to_another_organisations_member_is_a_field_error(api, handoff, manager, outsider):
    response = api(manager).post(url(handoff, "reassign"), {"to": outsider.pk}, format="json")
    assert response.status_code == 400 and response.json()["field"] == "to"


# --- Routing rules ----------------------------------------------------------------------


def test_manager_creates_a_rule_appended_last_with_clean_conditions(api, org, sales, manager):
    team = TeamFactory(organization=org, name="UK")
    payload = {"name": "UK mid-market", "team": team.pk, "conditions": {"countries": ["gb"], "company_size_min": 50}}
    response = api(manager).post(RULES, payload, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["position"] == sales.position + 1 and body["team"] == {"id": team.pk, "name": "UK"}
    assert body["conditions"] == {"countries": ["GB"], "company_size_min": 50} and body["rep"] is None
    listed = api(manager).get(RULES).json()["results"]
    assert [r["name"] for r in listed] == ["Everyone", "UK mid-market"]


def test_rule_to_another_organisations_team_is_a_field_error(api, manager, other_org):
    foreign = TeamFactory(organization=other_org)
    response = api(manager).post(RULES, {"name": "Theirs", "team": foreign.pk}, format="json")
    assert response.status_code == 400 and response.json()["field"] == "team"
    assert not RoutingRule.objects.exists()


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"name": "Nobody"}, "team"),
        ({"name": "Both", "team": "TEAM", "rep": "REP"}, "team"),
        ({"name": "Bad", "team": "TEAM", "conditions": {"countries": ["Britain"]}}, "countries"),
        ({"name": "Bad", "team": "TEAM", "conditions": {"colour": "red"}}, "conditions"),
    ],
)
def test_rule_input_errors_name_the_field(api, org, sales, rep, manager, payload, field):
    ids = {"TEAM": sales.team_id, "REP": rep.pk}
    payload = {k: ids.get(v, v) if isinstance(v, str) else v for k, v in payload.items()}
    response = api(manager).post(RULES, payload, format="json")
    assert response.status_code == 400 and response.json()["field"] == field, response.json()


def test_rule_patch_switches_target_and_delete_removes_it(api, org, sales, rep, manager):
    client = api(manager)
    response = client.patch(f"{RULES}/{sales.pk}", {"rep": rep.pk, "active": False}, format="json")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["rep"]["id"] == rep.pk and body["team"] is None and body["active"] is False
    assert body["name"] == "Everyone"
    assert client.delete(f"{RULES}/{sales.pk}").status_code == 204
    assert not RoutingRule.objects.exists()


def test_reps_read_rules_but_cannot_write(api, sales, rep):
    client = api(rep)
    assert client.get(f"{RULES}/{sales.pk}").json()["name"] == "Everyone"
    assert client.patch(f"{RULES}/{sales.pk}", {"name": "Mine"}, format="json").status_code == 403
    assert client.post(RULES, {"name": "Mine", "rep": rep.pk}, format="json").status_code == 403


# --- Preview and teams --------------------------------------------------------------------


def test_preview_explains_the_choice_for_attributes(api, org, sales, rep, manager):
    persona = PersonaFactory(organization=org)
    uk = TeamFactory(organization=org, name="UK")
    uk_rep = MembershipFactory(organization=org, role=Membership.Role.SALES_REP)
    TeamMemberFactory(team=uk, membership=uk_rep)
    RoutingRule.objects.filter(pk=sales.pk).update(position=10)
    uk_rule = RoutingRuleFactory(organization=org, team=uk, name="UK", position=0, conditions={"countries": ["GB"]})
    client = api(rep)

    body = client.post("/api/v1/routing/preview", {"country": "de", "persona": persona.pk}, format="json").json()
    assert body["rep"]["id"] == rep.pk and body["rule"] == {"id": sales.pk, "name": "Everyone"}
    assert body["log"][0] == {
        "step": "rule",
        "rule": uk_rule.pk,
        "name": "UK",
        "matched": False,
        "why": "country DE not in GB",
    }

    body = client.post("/api/v1/routing/preview", {"country": "gb"}, format="json").json()
    assert body["rep"]["id"] == uk_rep.pk and body["log"][-1]["step"] == "assign"
    assert not Handoff.objects.exists()  # a preview changes nothing


def test_preview_of_a_saved_lead(api, org, sales, rep, manager):
    lead = LeadFactory(organization=org)
    body = api(manager).post("/api/v1/routing/preview", {"lead": lead.pk}, format="json").json()
    assert body["rep"]["id"] == rep.pk and body["rule"]["id"] == sales.pk


def test_preview_input_errors(api, org, manager, other_org):
    client = api(manager)
    foreign = CampaignFactory(organization=other_org)
    response = client.post("/api/v1/routing/preview", {"campaigns": [foreign.pk]}, format="json")
    assert response.status_code == 400 and response.json()["field"] == "campaigns"
    lead = LeadFactory(organization=org)
    both = client.post("/api/v1/routing/preview", {"lead": lead.pk, "country": "GB"}, format="json")
    assert both.status_code == 400 and both.json()["field"] == "lead"


def test_teams_list_members_and_capacity(api, org, sales, rep, manager, other_org):
    TeamFactory(organization=other_org, name="Theirs")
    body = api(rep).get("/api/v1/teams").json()
    assert body["results"] == [
        {
            "id": sales.team_id,
            "name": "Sales",
            "members": [{"id": rep.pk, "email": "rep@acme.test", "name": rep.user.full_name, "capacity": 5}],
            "capacity": 5,
        }
    ]


def test_schema_generates_without_warnings(tmp_path):
    call_command("spectacular", "--file", str(tmp_path / "schema.yml"), "--validate", "--fail-on-warn")
    assert "/api/v1/handoffs/{handoff_id}/accept" in (tmp_path / "schema.yml").read_text()
