"""Handoffs: opened on every new MQL, due in business hours, accepted, returned or reassigned."""

from __future__ import annotations

import zoneinfo
from datetime import datetime, timedelta

import pytest
from django.http import Http404
from django.utils import timezone

from leads import selectors
from leads.handoffs import (
    handoff_accept,
    handoff_create,
    handoff_reassign,
    handoff_record_first_touch,
    handoff_return,
)
from leads.models import ActivityEvent, Handoff, Lead, ScoringModel, StageChange
from leads.rescoring import rescore_organization
from leads.services import LeadInput, lead_create, lead_transition
from smarketing.api import exception_handler
from smarketing.errors import Conflict, DomainError, Forbidden, InvalidInput
from smarketing.notifications.models import Notification
from tests.concurrency import race
from tests.factories import (
    CampaignFactory,
    LeadFactory,
    MembershipFactory,
    TeamMemberFactory,
)

pytestmark = pytest.mark.django_db
LONDON = zoneinfo.ZoneInfo("Europe/London")


@pytest.fixture
def handoff(org, sales, marketer):
    return handoff_create(lead=LeadFactory(organization=org), actor=marketer, note="Asked for a demo at the fair")


def test_scoring_qualifying_a_lead_hands_it_to_the_routed_rep(
    org, sales, rep, api_key_client, django_capture_on_commit_callbacks
):
    model = ScoringModel.objects.create(
        organization=org,
        version=1,
        status="active",
        engagement_rules=[{"event_type": "page_view", "points": 30}],
        mql_threshold=50,
    )
    now = timezone.now().isoformat()
    events = [
        {"id": f"e{i}", "type": "page_view", "occurred_at": now, "email": "ann@buyer.test", "properties": {}}
        for i in range(2)
    ]
    with django_capture_on_commit_callbacks(execute=True):  # ingestion scores after commit
        assert api_key_client.post("/api/v1/events", {"events": events}, format="json").status_code == 202
    lead = Lead.objects.get(email="ann@buyer.test")
    assert lead.lifecycle_stage == "mql"
    handoff = Handoff.objects.get(lead=lead)
    assert (handoff.status, handoff.rep, handoff.routing_rule, handoff.created_by) == ("pending", rep, sales, None)
    assert handoff.scoring_model == model
    assert [e["step"] for e in handoff.routing_log] == ["rule", "assign"]
    notification = Notification.objects.get(recipient=rep)
    assert notification.kind == "handoff.new" and notification.url == f"/leads/{lead.pk}/"


def test_a_rescore_hands_off_every_lead_it_qualifies_with_one_notification_per_rep(org, sales, rep):
    leads = [lead_create(org=org, rule="t", data=LeadInput(email=f"l{i}@buyer.test")) for i in range(3)]
    for i, lead in enumerate(leads[:2]):
        ActivityEvent.objects.create(
            organization=org, lead=lead, client_event_id=f"d{i}", event_type="demo_request", occurred_at=timezone.now()
        )
    model = ScoringModel.objects.create(
        organization=org, version=1, status="active", mql_threshold=90, fast_lane_event_types=["demo_request"]
    )
    result = rescore_organization(model=model)
    assert result["qualified"] == 2
    handoffs = Handoff.objects.filter(status="pending")
    assert {h.lead_id for h in handoffs} == {leads[0].pk, leads[1].pk}
    assert {h.rep for h in handoffs} == {rep} and all(h.scoring_model == model for h in handoffs)
    assert Notification.objects.get(recipient=rep).title == "2 new handoffs"
    assert StageChange.objects.filter(to_stage="mql").count() == 2
    assert rescore_organization(model=model)["qualified"] == 0
    assert Handoff.objects.count() == 2


def test_friday_evening_mql_is_due_monday_1300_in_the_organisations_time_zone(org, sales):
    org.time_zone = "Europe/London"
    org.save()
    friday_evening = datetime(2026, 11, 27, 18, 30, tzinfo=LONDON)
    lead = lead_transition(lead=LeadFactory(organization=org), to="mql", rule="t", now=friday_evening)
    handoff = Handoff.objects.get(lead=lead)
    assert handoff.created_at == friday_evening
    assert handoff.due_at == datetime(2026, 11, 30, 13, 0, tzinfo=LONDON)


def test_the_response_window_is_the_organisations_setting(org, sales):
    org.handoff_response_hours = 8
    org.save()
    monday_nine = datetime(2026, 11, 30, 9, 0, tzinfo=zoneinfo.ZoneInfo("UTC"))
    handoff = handoff_create(lead=LeadFactory(organization=org), now=monday_nine)
    assert handoff.due_at == datetime(2026, 11, 30, 17, 0, tzinfo=zoneinfo.ZoneInfo("UTC"))


def test_send_to_sales_moves_the_lead_to_mql_with_the_note(org, sales, marketer, rep, handoff):
    change = StageChange.objects.get(lead=handoff.lead, to_stage="mql")
    assert (change.actor, change.reason) == (marketer, "Asked for a demo at the fair")
    assert (handoff.created_by, handoff.note, handoff.rep) == (marketer, "Asked for a demo at the fair", rep)
    assert Handoff.objects.filter(lead=handoff.lead).count() == 1


def test_a_second_pending_handoff_conflicts(org, handoff, marketer):
    with pytest.raises(Conflict):
        handoff_create(lead=handoff.lead, actor=marketer)
    assert Handoff.objects.filter(lead=handoff.lead).count() == 1


def test_an_mql_without_a_handoff_can_be_sent_to_sales(org, sales, rep):
    lead = LeadFactory(organization=org, lifecycle_stage="mql")
    assert handoff_create(lead=lead).rep == rep


def test_sending_with_nobody_to_route_to_conflicts_and_changes_nothing(org, marketer):
    lead = LeadFactory(organization=org)
    with pytest.raises(Conflict, match="no fallback owner"):
        handoff_create(lead=lead, actor=marketer)
    lead.refresh_from_db()
    assert lead.lifecycle_stage == "lead" and not StageChange.objects.filter(lead=lead).exists()


def test_without_routing_a_new_mql_stays_mql_without_a_handoff(org):
    lead = lead_transition(lead=LeadFactory(organization=org), to="mql", rule="t")
    assert lead.lifecycle_stage == "mql" and not Handoff.objects.exists()


def test_a_lead_past_mql_cannot_be_sent_to_sales(org, sales, marketer):
    with pytest.raises(Conflict):
        handoff_create(lead=LeadFactory(organization=org, lifecycle_stage="sql"), actor=marketer)


def test_a_rep_cannot_send_leads_to_sales(org, sales, rep):
    with pytest.raises(Forbidden):
        handoff_create(lead=LeadFactory(organization=org), actor=rep)


def test_accept_makes_the_lead_sql_and_the_rep_its_owner(handoff, rep):
    accepted = handoff_accept(handoff=handoff, actor=rep)
    assert accepted.status == "accepted" and accepted.accepted_at is not None
    lead = Lead.objects.get(pk=handoff.lead_id)
    assert (lead.lifecycle_stage, lead.owner) == ("sql", rep)
    change = StageChange.objects.get(lead=lead, to_stage="sql")
    assert (change.actor, change.reason) == (rep, "Handoff accepted")


def test_second_accept_conflicts(handoff, rep, manager):
    handoff_accept(handoff=handoff, actor=rep)
    with pytest.raises(Conflict, match="already accepted"):
        handoff_accept(handoff=handoff, actor=manager)


def test_a_rep_accepting_another_reps_handoff_is_forbidden(org, handoff):
    other_rep = MembershipFactory(organization=org, role="sales_rep")
    with pytest.raises(Forbidden):
        handoff_accept(handoff=handoff, actor=other_rep)
    assert Handoff.objects.get(pk=handoff.pk).status == "pending"


def test_a_marketer_cannot_accept(handoff, marketer):
    with pytest.raises(Forbidden):
        handoff_accept(handoff=handoff, actor=marketer)


def test_a_manager_accepts_for_the_rep_who_becomes_owner(handoff, manager, rep):
    handoff_accept(handoff=handoff, actor=manager)
    assert Lead.objects.get(pk=handoff.lead_id).owner == rep


def test_forbidden_is_a_403_in_the_api():
    assert exception_handler(Forbidden("no"), {}).status_code == 403


@pytest.mark.parametrize(("reason", "note"), [("", ""), ("bored", ""), ("other", "  ")])
def test_return_requires_a_known_reason_and_a_note_for_other(handoff, rep, reason, note):
    with pytest.raises(InvalidInput):
        handoff_return(handoff=handoff, actor=rep, reason=reason, note=note)
    assert Handoff.objects.get(pk=handoff.pk).status == "pending"


def test_return_not_a_fit_disqualifies_and_tells_the_marketer_who_sent_it(handoff, rep, marketer):
    returned = handoff_return(handoff=handoff, actor=rep, reason="not_a_fit", note="Student")
    assert (returned.status, returned.return_reason, returned.return_note) == ("returned", "not_a_fit", "Student")
    lead = Lead.objects.get(pk=handoff.lead_id)
    assert lead.lifecycle_stage == "disqualified"
    assert (
        StageChange.objects.get(lead=lead, to_stage="disqualified").reason == "Returned by sales: Not a fit — Student"
    )
    notification = Notification.objects.get(recipient=marketer)
    assert notification.kind == "handoff.returned" and "Not a fit" in notification.title


def test_other_returns_go_to_nurture_and_tell_the_first_campaigns_owner(org, sales, rep, marketer):
    campaign = CampaignFactory(organization=org, owner=marketer)
    lead = lead_transition(lead=LeadFactory(organization=org, first_campaign=campaign), to="mql", rule="t")
    handoff = Handoff.objects.get(lead=lead)
    handoff_return(handoff=handoff, actor=rep, reason="other", note="Asked us to call in spring")
    assert Lead.objects.get(pk=lead.pk).lifecycle_stage == "nurture"
    assert Notification.objects.get(recipient=marketer).kind == "handoff.returned"


def test_returning_an_accepted_handoff_conflicts(handoff, rep):
    handoff_accept(handoff=handoff, actor=rep)
    with pytest.raises(Conflict):
        handoff_return(handoff=handoff, actor=rep, reason="duplicate")


def test_reassign_by_a_rep_is_forbidden(org, handoff, rep):
    with pytest.raises(Forbidden):
        handoff_reassign(handoff=handoff, actor=rep, to=MembershipFactory(organization=org, role="sales_rep"))


def test_a_manager_reassigns_to_a_named_rep_with_a_fresh_due_time(org, handoff, manager, marketer):
    later = handoff.created_at + timedelta(days=2)
    other = MembershipFactory(organization=org, role="sales_rep")
    new = handoff_reassign(handoff=handoff, actor=manager, to=other, now=later)
    old = Handoff.objects.get(pk=handoff.pk)
    assert (old.status, old.reassigned_to) == ("reassigned", new)
    assert (new.status, new.rep, new.created_at, new.created_by) == ("pending", other, later, marketer)
    assert new.due_at > later and new.routing_log[0]["step"] == "manual"
    assert Notification.objects.get(recipient=other).kind == "handoff.new"


def test_reassigning_without_a_target_reroutes_to_someone_else(org, sales, handoff, rep):
    second = TeamMemberFactory(team=sales.team, membership__organization=org).membership
    new = handoff_reassign(handoff=handoff, actor=MembershipFactory(organization=org, role="admin", side=""))
    assert new.rep == second
    assert {"rep": rep.pk, "why": "the rep it is being taken from"}.items() <= new.routing_log[1].items()


def test_accepting_a_reassigned_handoff_conflicts(org, handoff, manager, rep):
    handoff_reassign(handoff=handoff, actor=manager, to=MembershipFactory(organization=org, role="sales_rep"))
    with pytest.raises(Conflict, match="already reassigned"):
        handoff_accept(handoff=handoff, actor=rep)


def test_reassigning_to_someone_outside_sales_or_the_organisation_is_refused(org, handoff, manager, marketer, outsider):
    for target in (marketer, outsider, handoff.rep):
        with pytest.raises(InvalidInput):
            handoff_reassign(handoff=handoff, actor=manager, to=target)
    assert Handoff.objects.get(pk=handoff.pk).status == "pending"


def test_the_first_touch_is_recorded_once(handoff):
    first = timezone.now()
    assert handoff_record_first_touch(handoff=handoff, now=first).first_touch_at == first
    again = handoff_record_first_touch(handoff=handoff, now=first + timedelta(hours=1))
    assert again.first_touch_at == first
    assert not again.is_overdue(first + timedelta(days=30))


def test_handoff_of_another_organisation_is_a_404(handoff, other_org):
    assert selectors.handoff_get(org=handoff.lead.organization, handoff_id=handoff.pk) == handoff
    with pytest.raises(Http404):
        selectors.handoff_get(org=other_org, handoff_id=handoff.pk)


def test_an_actor_of_another_organisation_cannot_act_on_a_handoff(handoff, outsider):
    for act in (
        lambda: handoff_accept(handoff=handoff, actor=outsider),
        lambda: handoff_return(handoff=handoff, actor=outsider, reason="duplicate"),
        lambda: handoff_reassign(handoff=handoff, actor=outsider),
    ):
        with pytest.raises(Forbidden):
            act()


def test_the_queue_lists_a_reps_pending_handoffs_soonest_due_first(org, sales, rep):
    now = timezone.now()
    later = handoff_create(lead=LeadFactory(organization=org), now=now)
    sooner = handoff_create(lead=LeadFactory(organization=org), now=now - timedelta(days=3))
    handoff_accept(handoff=handoff_create(lead=LeadFactory(organization=org), now=now), actor=rep)
    assert list(selectors.handoff_queue(org=org, rep=rep)) == [sooner, later]
    assert sooner.is_overdue(now)
    assert list(selectors.lead_handoffs(org=org, lead_id=later.lead_id)) == [later]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_accepts_one_wins(org, sales, rep, manager):
    handoff = handoff_create(lead=LeadFactory(organization=org))
    results = race(
        lambda: handoff_accept(handoff=handoff, actor=rep), lambda: handoff_accept(handoff=handoff, actor=manager)
    )
    assert sum(isinstance(r, Handoff) for r in results) == 1, results
    assert sum(isinstance(r, Conflict) for r in results) == 1, results
    assert all(isinstance(r, Handoff | DomainError) for r in results)
    assert Handoff.objects.get(pk=handoff.pk).status == "accepted"
    assert StageChange.objects.filter(lead=handoff.lead, to_stage="sql").count() == 1


def test_a_merge_moves_the_dropped_leads_handoffs_but_not_two_pending_ones(org, sales, marketer):
    from leads.duplicates import leads_merge

    older = handoff_create(lead=LeadFactory(organization=org, email="ann@buyer.test"))
    newer_lead = LeadFactory(organization=org, email="ann.b@buyer.test")
    newer = handoff_create(lead=newer_lead)
    with pytest.raises(Conflict, match="Both leads are with sales"):
        leads_merge(keep=older.lead, drop=newer_lead, actor=marketer)
    handoff_return(handoff=newer, actor=marketer.organization.routing_fallback, reason="duplicate")
    leads_merge(keep=older.lead, drop=newer_lead, actor=marketer)
    assert set(Handoff.objects.filter(lead=older.lead)) == {older, newer}


def test_a_lead_with_a_pending_handoff_leaves_mql_only_through_the_handoff(handoff, manager):
    for to, reason in (("sql", ""), ("nurture", "Not now"), ("disqualified", "Spam")):
        with pytest.raises(Conflict, match="accept or return its open handoff"):
            lead_transition(lead=handoff.lead, to=to, actor=manager, reason=reason)
    handoff_return(handoff=handoff, actor=manager, reason="not_ready_nurture")
    assert Lead.objects.get(pk=handoff.lead_id).lifecycle_stage == "nurture"
