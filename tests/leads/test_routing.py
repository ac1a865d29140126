"""Routing: rules in order, weighted round-robin within a team, skips logged, fallback owner."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from leads.models import Handoff, Lead, Partner
from leads.routing import Router, RoutingFacts, route_lead, routing_preview
from tests.factories import (
    AbsenceFactory,
    CampaignFactory,
    HandoffFactory,
    LeadFactory,
    MembershipFactory,
    PersonaFactory,
    RoutingRuleFactory,
    TeamFactory,
    TeamMemberFactory,
)

pytestmark = pytest.mark.django_db


def rep_in(team, capacity=20, **kwargs):
    return TeamMemberFactory(team=team, capacity=capacity, membership__organization=team.organization, **kwargs)


def open_handoffs(rep, n, *, at=None):
    for _ in range(n):
        HandoffFactory(rep=rep, created_at=at or timezone.now() - timedelta(days=3))


def skips(decision):
    return {(e["rep"], e["why"].split(" ")[0]) for e in decision.log if e["step"] == "skip"}


def test_team_rule_gives_the_lead_to_the_rep_with_the_lowest_share_of_capacity(org):
    team = TeamFactory(organization=org)
    small, big = rep_in(team, capacity=10), rep_in(team, capacity=20)
    open_handoffs(small.membership, 2)  # 2/10
    open_handoffs(big.membership, 3)  # 3/20: lower share, though more handoffs
    rule = RoutingRuleFactory(organization=org, team=team)
    decision = route_lead(lead=LeadFactory(organization=org))
    assert decision.rep == big.membership and decision.rule == rule
    assert decision.log[-1]["step"] == "assign" and decision.log[-1]["rep"] == big.membership.pk


def test_ties_go_to_the_never_assigned_then_the_least_recently_assigned_then_the_lowest_id(org):
    team = TeamFactory(organization=org)
    yesterday, last_week, never = rep_in(team), rep_in(team), rep_in(team)
    now = timezone.now()
    HandoffFactory(rep=yesterday.membership, status=Handoff.Status.ACCEPTED, created_at=now - timedelta(days=1))
    HandoffFactory(rep=last_week.membership, status=Handoff.Status.ACCEPTED, created_at=now - timedelta(days=7))
    rule = RoutingRuleFactory(organization=org, team=team)
    assert route_lead(lead=LeadFactory(organization=org)).rep == never.membership
    never.delete()
    assert route_lead(lead=LeadFactory(organization=org)).rep == last_week.membership
    twins = TeamFactory(organization=org)
    twin_a, twin_b = rep_in(twins), rep_in(twins)
    rule.team = twins
    rule.save()
    assert route_lead(lead=LeadFactory(organization=org)).rep.pk == min(twin_a.membership.pk, twin_b.membership.pk)


def test_a_batch_alternates_between_equal_reps_counting_its_own_assignments(org):
    team = TeamFactory(organization=org)
    a, b = rep_in(team, capacity=2), rep_in(team, capacity=4)
    RoutingRuleFactory(organization=org, team=team)
    router = Router(org=org)
    reps = [router.route(LeadFactory(organization=org)).rep for _ in range(6)]
    # Weighted by capacity: b (4) takes twice a's (2); a is full after two, b after four.
    assert reps.count(a.membership) == 2 and reps.count(b.membership) == 4
    assert reps[:2] == sorted([a.membership, b.membership], key=lambda m: m.pk)


def test_reps_at_capacity_are_skipped_and_logged(org, manager):
    team = TeamFactory(organization=org)
    full, free = rep_in(team, capacity=2), rep_in(team, capacity=2)
    open_handoffs(full.membership, 2)
    open_handoffs(free.membership, 1)
    RoutingRuleFactory(organization=org, team=team)
    decision = route_lead(lead=LeadFactory(organization=org))
    assert decision.rep == free.membership
    assert skips(decision) == {(full.membership.pk, "at")}
    assert "at capacity (2/2 open)" in [e["why"] for e in decision.log if e["step"] == "skip"]


def test_accepted_and_returned_handoffs_do_not_count_against_capacity(org):
    team = TeamFactory(organization=org)
    member = rep_in(team, capacity=1)
    HandoffFactory(rep=member.membership, status=Handoff.Status.ACCEPTED)
    HandoffFactory(rep=member.membership, status=Handoff.Status.RETURNED)
    RoutingRuleFactory(organization=org, team=team)
    assert route_lead(lead=LeadFactory(organization=org)).rep == member.membership


def test_away_reps_are_skipped_only_while_away(org):
    team = TeamFactory(organization=org)
    away, here = rep_in(team), rep_in(team)
    open_handoffs(here.membership, 5)  # busier, but present
    now = timezone.now()
    absence = AbsenceFactory(
        membership=away.membership, starts_at=now - timedelta(hours=1), ends_at=now + timedelta(days=2)
    )
    RoutingRuleFactory(organization=org, team=team)
    decision = route_lead(lead=LeadFactory(organization=org), now=now)
    assert decision.rep == here.membership
    assert skips(decision) == {(away.membership.pk, "away")}
    assert route_lead(lead=LeadFactory(organization=org), now=absence.ends_at).rep == away.membership


def test_removed_members_and_people_no_longer_in_sales_are_skipped(org):
    team = TeamFactory(organization=org)
    removed, moved_to_marketing, active = rep_in(team), rep_in(team), rep_in(team)
    open_handoffs(active.membership, 3)
    removed.membership.removed_at = timezone.now()
    removed.membership.save()
    moved_to_marketing.membership.role = "marketer"
    moved_to_marketing.membership.save()
    RoutingRuleFactory(organization=org, team=team)
    decision = route_lead(lead=LeadFactory(organization=org))
    assert decision.rep == active.membership
    assert skips(decision) == {(removed.membership.pk, "removed"), (moved_to_marketing.membership.pk, "is")}


def test_an_empty_team_falls_through_to_the_next_rule(org):
    empty = TeamFactory(organization=org, name="Empty")
    RoutingRuleFactory(organization=org, team=empty, position=1)
    member = rep_in(TeamFactory(organization=org))
    second = RoutingRuleFactory(organization=org, team=member.team, position=2)
    decision = route_lead(lead=LeadFactory(organization=org))
    assert decision.rep == member.membership and decision.rule == second
    assert {"step": "team", "rule": empty.routing_rules.get().pk, "team": "Empty", "why": "team has no members"} in (
        decision.log
    )


def test_a_rep_target_who_is_away_falls_through_to_the_next_rule(org, rep):
    AbsenceFactory(membership=rep)
    first = RoutingRuleFactory(organization=org, team=None, rep=rep, position=1)
    member = rep_in(TeamFactory(organization=org))
    RoutingRuleFactory(organization=org, team=member.team, position=2)
    decision = route_lead(lead=LeadFactory(organization=org))
    assert decision.rep == member.membership
    assert [e["step"] for e in decision.log] == ["rule", "skip", "rule", "assign"]
    assert decision.log[1]["rule"] == first.pk and decision.log[1]["why"].startswith("away until")


def test_a_rep_target_at_capacity_falls_through_and_takes_their_team_capacity(org, rep, manager):
    TeamMemberFactory(team=TeamFactory(organization=org), membership=rep, capacity=1)
    open_handoffs(rep, 1)
    RoutingRuleFactory(organization=org, team=None, rep=rep)
    org.routing_fallback = manager
    org.save()
    decision = route_lead(lead=LeadFactory(organization=org))
    assert decision.rep == manager and decision.rule is None
    assert decision.log[1]["why"] == "at capacity (1/1 open)"


def test_rules_are_tried_in_position_order_and_every_condition_given_must_hold(org):
    persona = PersonaFactory(organization=org)
    webinar = CampaignFactory(organization=org, channel="webinar")
    team = rep_in(TeamFactory(organization=org)).team
    RoutingRuleFactory(organization=org, team=team, position=1, name="Inactive", active=False)
    enterprise = RoutingRuleFactory(
        organization=org,
        team=team,
        position=2,
        name="Enterprise DACH",
        conditions={"countries": ["de", "AT"], "company_size_min": 500},
    )
    webinars = RoutingRuleFactory(
        organization=org,
        team=team,
        position=3,
        name="Webinar personas",
        conditions={"persona_ids": [persona.pk], "channels": ["webinar"], "campaign_ids": [webinar.pk]},
    )
    catch_all = RoutingRuleFactory(organization=org, team=team, position=4, name="Everyone")

    def rule_for(**facts):
        return routing_preview(org=org, facts=RoutingFacts(**facts)).rule

    assert rule_for(country="DE", company_size=800) == enterprise
    assert rule_for(country="DE", company_size=100) == catch_all
    assert rule_for(country="FR", company_size=800) == catch_all
    assert rule_for(country="DE") == catch_all  # size unknown: the condition fails
    hit = {"persona_id": persona.pk, "channels": frozenset({"webinar"}), "campaign_ids": frozenset({webinar.pk})}
    assert rule_for(**hit) == webinars
    assert rule_for(**(hit | {"persona_id": None})) == catch_all
    decision = routing_preview(org=org, facts=RoutingFacts(country="DE", company_size=100))
    assert [(e["name"], e["matched"], e.get("why")) for e in decision.log if e["step"] == "rule"] == [
        ("Enterprise DACH", False, "company size 100 below 500"),
        ("Webinar personas", False, "lead has no persona"),
        ("Everyone", True, None),
    ]


def test_a_saved_leads_company_and_campaigns_are_its_facts(org):
    team = rep_in(TeamFactory(organization=org)).team
    rule = RoutingRuleFactory(organization=org, team=team, conditions={"countries": ["GB"], "channels": ["event"]})
    from leads.services import LeadInput, lead_create

    lead = lead_create(
        org=org,
        rule="t",
        data=LeadInput(email="a@bigco.test", country="gb", campaign=CampaignFactory(organization=org, channel="event")),
    )
    assert route_lead(lead=Lead.objects.get(pk=lead.pk)).rule == rule


def test_nothing_matching_goes_to_the_fallback_owner_and_says_so(org, manager):
    RoutingRuleFactory(
        organization=org, team=rep_in(TeamFactory(organization=org)).team, conditions={"countries": ["JP"]}
    )
    org.routing_fallback = manager
    org.save()
    decision = route_lead(lead=LeadFactory(organization=org))
    assert decision.rep == manager and decision.rule is None
    assert decision.log[-1] == {
        "step": "fallback",
        "rep": manager.pk,
        "name": str(manager.user),
        "why": "no rule matched: fallback owner",
    }


def test_everyone_skipped_goes_to_the_fallback_owner(org, manager):
    member = rep_in(TeamFactory(organization=org))
    AbsenceFactory(membership=member.membership)
    RoutingRuleFactory(organization=org, team=member.team)
    org.routing_fallback = manager
    org.save()
    decision = route_lead(lead=LeadFactory(organization=org))
    assert decision.rep == manager
    assert decision.log[-1]["why"] == "nobody available under a matching rule: fallback owner"


def test_without_a_fallback_owner_nobody_gets_it_and_the_log_says_why(org):
    decision = route_lead(lead=LeadFactory(organization=org))
    assert decision.rep is None and decision.rule is None
    assert decision.log == [{"step": "fallback", "rep": None, "why": "no routing rules; no fallback owner"}]


def test_a_removed_fallback_owner_gets_nothing(org, manager):
    org.routing_fallback = manager
    org.save()
    manager.removed_at = timezone.now()
    manager.save()
    decision = route_lead(lead=LeadFactory(organization=org))
    assert decision.rep is None and "fallback owner is removed" in decision.log[-1]["why"]


def test_routing_reads_a_team_in_the_same_number_of_queries_whatever_its_size(org, django_assert_max_num_queries):
    small, large = TeamFactory(organization=org), TeamFactory(organization=org)
    rep_in(small)
    for _ in range(8):
        open_handoffs(rep_in(large).membership, 1)
    RoutingRuleFactory(organization=org, team=small, conditions={"countries": ["GB"]})
    RoutingRuleFactory(organization=org, team=large)
    lead = Lead.objects.select_related("organization", "company", "first_campaign", "latest_campaign").get(
        pk=LeadFactory(organization=org).pk
    )
    # Rules, team members, open counts and last assignments, absences: four queries.
    with django_assert_max_num_queries(4):
        assert route_lead(lead=lead).rep is not None


def test_routing_preview_of_another_organisations_lead_is_refused(org, other_org):
    with pytest.raises(ValueError):
        routing_preview(org=org, lead=LeadFactory(organization=other_org))


def test_rules_of_another_organisation_never_apply(org, other_org, rep):
    outsider_rep = MembershipFactory(organization=other_org, role="sales_rep")
    RoutingRuleFactory(organization=other_org, team=None, rep=outsider_rep)
    assert route_lead(lead=LeadFactory(organization=org)).rep is None


def test_routing_conditions_are_validated_and_normalised(org, other_org):
    from leads.routing import routing_conditions_clean
    from smarketing.errors import InvalidInput

    persona = PersonaFactory(organization=org)
    assert routing_conditions_clean(
        {"countries": ["gb", "DE", "gb"], "persona_ids": [persona.pk], "channels": [], "company_size_min": 10},
        org=org,
    ) == {"countries": ["DE", "GB"], "persona_ids": [persona.pk], "company_size_min": 10}
    for bad in (
        {"colour": ["red"]},
        {"countries": ["GBR"]},
        {"countries": "GB"},
        {"channels": ["carrier_pigeon"]},
        {"persona_ids": [PersonaFactory(organization=other_org).pk]},
        {"campaign_ids": ["1"]},
        {"company_size_min": 0},
        {"company_size_min": 500, "company_size_max": 50},
        {"partner_id": Partner.objects.create(organization=other_org, name="Their reseller").pk},
    ):
        with pytest.raises(InvalidInput):
            routing_conditions_clean(bad, org=org)


def test_a_partner_rule_takes_the_partners_leads_only(org, api, marketer):
    reseller = Partner.objects.create(organization=org, name="Northwind Resellers")
    partner_team = rep_in(TeamFactory(organization=org, name="Channel")).team
    direct_team = rep_in(TeamFactory(organization=org, name="Direct")).team
    channel = RoutingRuleFactory(
        organization=org, team=partner_team, position=1, conditions={"partner_id": reseller.pk}
    )
    direct = RoutingRuleFactory(organization=org, team=direct_team, position=2)
    partnered = LeadFactory(organization=org, partner=reseller)
    direct_lead = LeadFactory(organization=org)

    assert route_lead(lead=partnered).rule == channel
    assert route_lead(lead=direct_lead).rule == direct
    client = api(marketer)
    assert client.get(f"/api/v1/leads/{partnered.pk}").json()["partner"] == reseller.pk
    assert client.get(f"/api/v1/leads/{direct_lead.pk}").json()["partner"] is None
