from __future__ import annotations

from datetime import timedelta

import pytest
from django.db.models import ForeignKey
from django.urls import reverse
from django.utils import timezone

from leads.duplicates import (
    MOVED_RELATIONS,
    NOT_MOVED_RELATIONS,
    duplicate_dismiss,
    duplicate_queue_page,
    lead_duplicates,
    leads_merge,
    leads_merge_undo,
)
from leads.handoffs import handoff_accept, handoff_create
from leads.ingestion import events_ingest
from leads.models import (
    ActivityEvent,
    Handoff,
    Lead,
    LeadMerge,
    Opportunity,
    ScoreChange,
    StageChange,
    Touch,
    Visitor,
    phone_key_for,
)
from leads.opportunities import opportunity_create
from leads.services import LeadInput, lead_create, lead_transition
from leads.touches import touch_log
from smarketing.errors import Conflict, InvalidInput
from tests.factories import CampaignFactory, LeadFactory

pytestmark = pytest.mark.django_db


def make(org, email, *, days_ago=0, **attrs):
    return lead_create(
        org=org, data=LeadInput(email=email, **attrs), rule="test", now=timezone.now() - timedelta(days=days_ago)
    )


def event(lead, n, **kw):
    return ActivityEvent.objects.create(
        organization=lead.organization,
        lead=lead,
        client_event_id=f"e{lead.pk}-{n}",
        event_type=ActivityEvent.Type.PAGE_VIEW,
        **({"occurred_at": timezone.now()} | kw),
    )


@pytest.mark.parametrize(
    ("phone", "key"),
    [("+44 20 7946 0000", "079460000"), ("020-7946-0000", "079460000"), ("12 34", ""), ("", "")],
)
def test_phone_key_is_the_last_nine_digits(phone, key):
    assert phone_key_for(phone) == key


def test_same_name_at_same_company_is_flagged_whatever_the_case(org):
    older = make(org, "ada@initech.test", first_name="Ada", last_name="Lovelace", days_ago=3)
    newer = make(org, "a.lovelace@initech.test", first_name="ADA", last_name="lovelace")
    make(org, "ada@other.test", first_name="Ada", last_name="Lovelace")  # another company
    make(org, "bob@initech.test", first_name="Bob", last_name="Lovelace")  # another person

    assert [(o.pk, why) for o, why in lead_duplicates(lead=newer)] == [(older.pk, "Same name at Initech")]


def test_same_name_without_a_company_is_not_flagged(org):
    make(org, "ada@gmail.com", first_name="Ada", last_name="Lovelace")
    newer = make(org, "ada.l@hotmail.com", first_name="Ada", last_name="Lovelace")
    assert newer.company is None
    assert lead_duplicates(lead=newer) == []


def test_same_phone_in_other_formatting_is_flagged(org):
    older = make(org, "x@gmail.com", phone="+44 20 7946 0000", days_ago=1)
    newer = make(org, "y@hotmail.com", phone="020-7946-0000")
    make(org, "z@yahoo.com", phone="020-7946-0001")

    assert [(o.pk, why) for o, why in lead_duplicates(lead=newer)] == [(older.pk, "Same phone")]


def test_no_duplicates_across_organisations(org, other_org):
    make(other_org, "ada@initech.test", first_name="Ada", last_name="Lovelace", phone="020 7946 0000")
    lead = make(org, "ada@initech.test", first_name="Ada", last_name="Lovelace", phone="020 7946 0000")
    assert lead_duplicates(lead=lead) == []
    _, groups = duplicate_queue_page(org=org)
    assert groups == []


def test_merge_keeps_the_older_and_moves_the_persons_rows(org, manager):
    campaign = CampaignFactory(organization=org)
    older = make(org, "ada@initech.test", first_name="Ada", last_name="Lovelace", days_ago=10)
    newer = make(
        org,
        "a.lovelace@initech.test",
        first_name="Ada",
        last_name="Lovelace",
        title="CTO",
        phone="020 7946 0000",
        campaign=campaign,
        owner=manager,
    )
    lead_transition(lead=newer, to=Lead.Stage.MQL, actor=manager)
    events = [event(newer, i) for i in range(3)]
    visitor = Visitor.objects.create(organization=org, anonymous_id="anon-1", lead=newer)
    score = ScoreChange.objects.create(
        organization=org, lead=newer, fit_score=1, engagement_score=2, total_score=3, reason="test"
    )

    merge = leads_merge(keep=newer, drop=older, actor=manager)  # passed the wrong way round

    assert merge.kept_id == older.pk and merge.dropped_lead_id == newer.pk
    assert not Lead.objects.filter(pk=newer.pk).exists()
    older.refresh_from_db()
    assert set(older.events.values_list("pk", flat=True)) == {e.pk for e in events}
    assert StageChange.objects.filter(lead=older).count() == 3  # two creations and the MQL move
    assert ScoreChange.objects.get(pk=score.pk).lead_id == older.pk
    assert Visitor.objects.get(pk=visitor.pk).lead_id == older.pk
    # Empty attributes filled; the stage is only ever moved by lead_transition.
    assert (older.title, older.phone, older.phone_key, older.owner_id) == (
        "CTO",
        "020 7946 0000",
        "079460000",
        manager.pk,
    )
    assert older.first_campaign_id == campaign.pk
    assert older.lifecycle_stage == Lead.Stage.LEAD
    assert merge.snapshot["email"] == "a.lovelace@initech.test"
    assert merge.snapshot["lifecycle_stage"] == Lead.Stage.MQL
    assert set(merge.filled) >= {"title", "phone", "owner_id", "first_campaign_id"}
    assert merge.actor == manager


def test_undo_restores_the_dropped_lead_with_its_id_and_rows(org, manager):
    older = make(org, "ada@initech.test", first_name="Ada", last_name="Lovelace", days_ago=10)
    newer = make(org, "a.lovelace@initech.test", first_name="Ada", last_name="Lovelace", title="CTO")
    older_event, newer_event = event(older, 1), event(newer, 1)
    newer_history = set(StageChange.objects.filter(lead=newer).values_list("pk", flat=True))
    merge = leads_merge(keep=older, drop=newer, actor=manager)

    restored = leads_merge_undo(merge=merge, actor=manager)

    assert restored.pk == newer.pk
    restored.refresh_from_db()
    assert (restored.email, restored.title, restored.created_at) == (newer.email, "CTO", newer.created_at)
    assert list(restored.events.values_list("pk", flat=True)) == [newer_event.pk]
    assert set(StageChange.objects.filter(lead=restored).values_list("pk", flat=True)) == newer_history
    older.refresh_from_db()
    assert older.title == "" and list(older.events.values_list("pk", flat=True)) == [older_event.pk]
    merge.refresh_from_db()
    assert merge.undone_at is not None and merge.undone_by == manager


def test_undo_keeps_a_filled_attribute_changed_since(org, manager):
    older = make(org, "ada@initech.test", first_name="Ada", last_name="Lovelace", days_ago=1)
    newer = make(org, "a.lovelace@initech.test", first_name="Ada", last_name="Lovelace", title="CTO")
    merge = leads_merge(keep=older, drop=newer, actor=manager)
    Lead.objects.filter(pk=older.pk).update(title="CEO")
    leads_merge_undo(merge=merge, actor=manager)
    older.refresh_from_db()
    assert older.title == "CEO"


def test_second_undo_conflicts(org, manager):
    merge = leads_merge(keep=make(org, "a@initech.test"), drop=make(org, "b@initech.test"), actor=manager)
    leads_merge_undo(merge=merge, actor=manager)
    with pytest.raises(Conflict):
        leads_merge_undo(merge=merge, actor=manager)


def test_undo_conflicts_when_the_email_is_taken_meanwhile(org, manager):
    merge = leads_merge(keep=make(org, "a@initech.test"), drop=make(org, "b@initech.test"), actor=manager)
    make(org, "B@initech.test")
    with pytest.raises(Conflict):
        leads_merge_undo(merge=merge, actor=manager)
    assert LeadMerge.objects.get(pk=merge.pk).undone_at is None


def test_merge_across_organisations_is_refused(org, other_org, manager):
    mine, theirs = make(org, "a@initech.test"), make(other_org, "a@initech.test")
    with pytest.raises(InvalidInput):
        leads_merge(keep=mine, drop=theirs, actor=manager)
    with pytest.raises(InvalidInput):
        duplicate_dismiss(lead=mine, other=theirs, actor=manager)
    assert Lead.objects.filter(pk__in=[mine.pk, theirs.pk]).count() == 2


def test_merged_twice_then_undone_in_reverse_order(org, manager):
    a = make(org, "a@initech.test", days_ago=3)
    b = make(org, "b@initech.test", days_ago=2)
    c = make(org, "c@initech.test", days_ago=1)
    first = leads_merge(keep=b, drop=c, actor=manager)
    second = leads_merge(keep=a, drop=b, actor=manager)
    assert LeadMerge.objects.get(pk=first.pk).kept_id == a.pk  # b's merge history moved with it
    leads_merge_undo(merge=second, actor=manager)
    assert LeadMerge.objects.get(pk=first.pk).kept_id == b.pk
    leads_merge_undo(merge=LeadMerge.objects.get(pk=first.pk), actor=manager)
    assert set(Lead.objects.for_org(org).values_list("pk", flat=True)) == {a.pk, b.pk, c.pk}


def test_merge_keeps_the_touches_and_deals_of_the_dropped_lead_and_undo_takes_them_back(
    org, sales, marketer, rep, manager
):
    older = make(org, "ada@initech.test", first_name="Ada", days_ago=2)
    newer = make(org, "a.lovelace@initech.test", first_name="Ada")
    handoff_accept(handoff=handoff_create(lead=newer, actor=marketer), actor=rep)
    newer.refresh_from_db()  # the rep's SQL now
    touch = touch_log(lead=newer, actor=rep, kind="call", outcome="connected", occurred_at=timezone.now())
    deal = opportunity_create(
        lead=newer, actor=rep, amount=5000, currency="USD", expected_close_date=timezone.now().date()
    )

    merge = leads_merge(keep=older, drop=newer, actor=manager)
    assert Touch.objects.get(pk=touch.pk).lead_id == older.pk
    assert Opportunity.objects.get(pk=deal.pk).lead_id == older.pk

    leads_merge_undo(merge=merge, actor=manager)
    assert Touch.objects.get(pk=touch.pk).lead_id == newer.pk
    assert Opportunity.objects.get(pk=deal.pk).lead_id == newer.pk


def _with_sales(org, email, marketer, *, days_ago=0) -> tuple[Lead, Handoff]:
    """A lead sent to sales: MQL with a pending handoff (through handoff_create)."""
    lead = make(org, email, first_name="Ada", last_name="Lovelace", days_ago=days_ago)
    handoff = handoff_create(lead=lead, actor=marketer)
    return Lead.objects.get(pk=lead.pk), handoff


def test_merging_into_an_older_lead_hands_it_the_newer_ones_handoff_which_the_rep_accepts(
    login, org, sales, marketer, rep
):
    older = make(org, "ada@initech.test", first_name="Ada", last_name="Lovelace", days_ago=5)
    newer, handoff = _with_sales(org, "a.lovelace@initech.test", marketer)

    response = login(marketer).post(reverse("duplicates:merge", args=[newer.pk]), {"other": older.pk})
    assert response.status_code == 302 and response.url == reverse("leads:lead_detail", args=[older.pk])

    older.refresh_from_db()
    assert older.lifecycle_stage == Lead.Stage.MQL
    assert list(Handoff.objects.filter(lead=older).values_list("pk", "status")) == [(handoff.pk, "pending")]
    move = StageChange.objects.filter(lead=older).latest("pk")
    assert (move.from_stage, move.to_stage, move.rule, move.actor) == ("lead", "mql", f"merge:{newer.pk}", marketer)

    response = login(rep).post(reverse("handoffs:accept", args=[handoff.pk]))

    assert response.status_code == 302
    older.refresh_from_db()
    assert (older.lifecycle_stage, older.owner) == (Lead.Stage.SQL, rep)
    assert Handoff.objects.get(pk=handoff.pk).status == Handoff.Status.ACCEPTED


def test_undoing_that_merge_gives_the_handoff_back_and_the_older_lead_its_stage(org, sales, marketer, rep, manager):
    older = make(org, "ada@initech.test", first_name="Ada", last_name="Lovelace", days_ago=5)
    older_history = list(StageChange.objects.filter(lead=older).values_list("pk", flat=True))
    newer, handoff = _with_sales(org, "a.lovelace@initech.test", marketer)
    merge = leads_merge(keep=older, drop=newer, actor=manager)

    restored = leads_merge_undo(merge=merge, actor=manager)

    older.refresh_from_db()
    assert older.lifecycle_stage == Lead.Stage.LEAD
    assert list(StageChange.objects.filter(lead=older).values_list("pk", flat=True)) == older_history
    assert Handoff.objects.get(pk=handoff.pk).lead_id == restored.pk
    assert Lead.objects.get(pk=restored.pk).lifecycle_stage == Lead.Stage.MQL
    handoff_accept(handoff=handoff, actor=rep)
    assert Lead.objects.get(pk=restored.pk).lifecycle_stage == Lead.Stage.SQL


def test_merging_a_newer_lead_into_an_older_one_with_sales_keeps_its_handoff(org, sales, marketer, rep, manager):
    older, handoff = _with_sales(org, "ada@initech.test", marketer, days_ago=5)
    newer = make(org, "a.lovelace@initech.test", first_name="Ada", last_name="Lovelace", title="CTO")

    merge = leads_merge(keep=newer, drop=older, actor=manager)  # passed the wrong way round

    assert merge.kept_id == older.pk and "lifecycle_stage" not in merge.filled
    assert Lead.objects.get(pk=older.pk).lifecycle_stage == Lead.Stage.MQL
    assert list(Handoff.objects.filter(lead=older).values_list("pk", flat=True)) == [handoff.pk]
    leads_merge_undo(merge=merge, actor=manager)  # undone and merged again: still acceptable
    leads_merge(keep=older, drop=Lead.objects.get(pk=newer.pk), actor=manager)
    handoff_accept(handoff=handoff, actor=rep)
    assert Lead.objects.get(pk=older.pk).lifecycle_stage == Lead.Stage.SQL


def test_merge_is_refused_when_the_older_lead_cant_take_over_the_newer_ones_handoff(org, sales, marketer, manager):
    older = make(org, "ada@initech.test", first_name="Ada", last_name="Lovelace", days_ago=5)
    lead_transition(lead=older, to=Lead.Stage.DISQUALIFIED, actor=manager, reason="Student")
    newer, handoff = _with_sales(org, "a.lovelace@initech.test", marketer)

    with pytest.raises(Conflict, match="older one is Disqualified, which can't become an MQL"):
        leads_merge(keep=older, drop=newer, actor=manager)

    assert Lead.objects.filter(pk__in=[older.pk, newer.pk]).count() == 2
    assert Handoff.objects.get(pk=handoff.pk).lead_id == newer.pk
    assert Lead.objects.get(pk=older.pk).lifecycle_stage == Lead.Stage.DISQUALIFIED


def test_merge_is_refused_when_the_older_lead_is_with_sales_and_the_newer_already_accepted(
    org, sales, marketer, rep, manager
):
    older, _ = _with_sales(org, "ada@initech.test", marketer, days_ago=5)
    newer, newer_handoff = _with_sales(org, "a.lovelace@initech.test", marketer)
    handoff_accept(handoff=newer_handoff, actor=rep)

    with pytest.raises(Conflict, match="newer one is already SQL: accept or return the handoff first"):
        leads_merge(keep=older, drop=newer, actor=manager)
    assert Lead.objects.filter(pk__in=[older.pk, newer.pk]).count() == 2


def test_undo_is_refused_once_the_handoff_taken_over_was_accepted(org, sales, marketer, rep, manager):
    older = make(org, "ada@initech.test", first_name="Ada", last_name="Lovelace", days_ago=5)
    newer, handoff = _with_sales(org, "a.lovelace@initech.test", marketer)
    merge = leads_merge(keep=older, drop=newer, actor=manager)
    handoff_accept(handoff=handoff, actor=rep)

    with pytest.raises(Conflict, match="has been accepted since the merge; the merge can't be undone"):
        leads_merge_undo(merge=merge, actor=manager)

    assert LeadMerge.objects.get(pk=merge.pk).undone_at is None
    assert Lead.objects.get(pk=older.pk).lifecycle_stage == Lead.Stage.SQL


def test_merge_gives_the_older_lead_the_newer_ones_further_stage_one_move_away(org, manager):
    older = make(org, "ada@initech.test", days_ago=5)
    lead_transition(lead=older, to=Lead.Stage.MQL, actor=manager)  # nobody to route to: no handoff
    newer = make(org, "a.lovelace@initech.test")
    lead_transition(lead=newer, to=Lead.Stage.MQL, actor=manager)
    lead_transition(lead=newer, to=Lead.Stage.SQL, actor=manager)

    merge = leads_merge(keep=older, drop=newer, actor=manager)

    assert Lead.objects.get(pk=older.pk).lifecycle_stage == Lead.Stage.SQL
    lead_transition(lead=older, to=Lead.Stage.OPPORTUNITY, actor=manager)
    with pytest.raises(Conflict, match="moved on since the merge made it SQL \\(it is Opportunity now\\)"):
        leads_merge_undo(merge=merge, actor=manager)


def test_undo_of_a_merge_that_moved_the_stage_puts_it_back(org, manager):
    older = make(org, "ada@initech.test", days_ago=5)
    lead_transition(lead=older, to=Lead.Stage.MQL, actor=manager)
    newer = make(org, "a.lovelace@initech.test")
    lead_transition(lead=newer, to=Lead.Stage.MQL, actor=manager)
    lead_transition(lead=newer, to=Lead.Stage.SQL, actor=manager)
    merge = leads_merge(keep=older, drop=newer, actor=manager)

    restored = leads_merge_undo(merge=merge, actor=manager)

    assert Lead.objects.get(pk=older.pk).lifecycle_stage == Lead.Stage.MQL
    assert Lead.objects.get(pk=restored.pk).lifecycle_stage == Lead.Stage.SQL
    assert not StageChange.objects.filter(rule=f"merge:{newer.pk}").exists()


def test_every_relation_to_a_lead_is_moved_or_listed_as_not_moved():
    """A merge deletes the dropped lead: a relation in neither list would be lost with it."""
    relations = {
        (rel.related_model, rel.field.name)
        for rel in Lead._meta.get_fields(include_hidden=True)  # related_name="+" ones too
        if rel.auto_created and not rel.concrete and isinstance(rel.field, ForeignKey)
    }
    assert relations == set(MOVED_RELATIONS) | set(NOT_MOVED_RELATIONS)


# Pages -------------------------------------------------------------------------------------


def test_lead_page_flags_duplicates_and_merges_and_undoes(login, org, marketer):
    older = make(org, "ada@initech.test", first_name="Ada", last_name="Lovelace", days_ago=2)
    newer = make(org, "a.lovelace@initech.test", first_name="Ada", last_name="Lovelace")
    client = login(marketer)
    page = client.get(reverse("leads:lead_detail", args=[newer.pk])).content.decode()
    assert 'data-testid="duplicate"' in page and "Same name at Initech" in page
    assert reverse("duplicates:merge", args=[newer.pk]) in page

    response = client.post(reverse("duplicates:merge", args=[newer.pk]), {"other": older.pk})

    assert response.status_code == 302 and response.url == reverse("leads:lead_detail", args=[older.pk])
    merge = LeadMerge.objects.get(kept=older)
    page = client.get(response.url).content.decode()
    assert "a.lovelace@initech.test" in page and reverse("duplicates:undo", args=[merge.pk]) in page
    client.post(reverse("duplicates:undo", args=[merge.pk]))
    assert Lead.objects.filter(pk=newer.pk).exists()


def test_rep_sees_the_flags_but_may_not_merge(login, org, rep):
    older = make(org, "x@gmail.com", phone="020 7946 0000", days_ago=1)
    newer = make(org, "y@gmail.com", phone="+44 20 7946 0000")
    client = login(rep)
    page = client.get(reverse("leads:lead_detail", args=[newer.pk])).content.decode()
    assert "Same phone" in page and reverse("duplicates:merge", args=[newer.pk]) not in page
    assert client.post(reverse("duplicates:merge", args=[newer.pk]), {"other": older.pk}).status_code == 403
    assert client.post(reverse("duplicates:dismiss", args=[newer.pk]), {"other": older.pk}).status_code == 403
    assert Lead.objects.filter(pk=newer.pk).exists()


def test_merge_with_another_organisations_lead_is_404(login, org, other_org, marketer):
    mine, theirs = make(org, "a@initech.test"), make(other_org, "b@initech.test")
    response = login(marketer).post(reverse("duplicates:merge", args=[mine.pk]), {"other": theirs.pk})
    assert response.status_code == 404
    assert Lead.objects.filter(pk=theirs.pk).exists()


def test_outsider_gets_404_on_undo(login, org, marketer, outsider):
    merge = leads_merge(keep=make(org, "a@initech.test"), drop=make(org, "b@initech.test"), actor=marketer)
    assert login(outsider).post(reverse("duplicates:undo", args=[merge.pk])).status_code == 404


@pytest.mark.parametrize("groups", [2, 12])
def test_queue_lists_groups_with_a_bounded_number_of_queries(
    login, org, marketer, django_assert_max_num_queries, groups
):
    for i in range(groups):
        make(org, f"p{i}a@gmail.com", phone=f"0207946{i:04d}")
        make(org, f"p{i}b@gmail.com", phone=f"+44 207946{i:04d}")
        make(org, f"n{i}a@co{i}.test", first_name="Ada", last_name=f"L{i}")
        make(org, f"n{i}b@co{i}.test", first_name="ada", last_name=f"l{i}")
    client = login(marketer)
    with django_assert_max_num_queries(10):
        response = client.get(reverse("duplicates:list"))
    shown = response.context["groups"]
    assert len(shown) == min(2 * groups, 25)
    assert {g.kind for g in shown} == {"name", "phone"}
    assert all(len(g.pairs) == 1 and len(g.leads) == 2 for g in shown)
    assert b"Merge into older" in response.content


def test_not_a_duplicate_hides_the_pair(login, org, marketer):
    older = make(org, "x@gmail.com", phone="020 7946 0000", days_ago=1)
    newer = make(org, "y@gmail.com", phone="020 7946 0000")
    client = login(marketer)
    response = client.post(
        reverse("duplicates:dismiss", args=[newer.pk]), {"other": older.pk, "next": reverse("duplicates:list")}
    )
    assert response.url == reverse("duplicates:list")
    assert client.get(reverse("duplicates:list")).context["groups"] == []
    assert lead_duplicates(lead=newer) == [] and lead_duplicates(lead=older) == []


def test_queue_merge_returns_to_the_queue(login, org, marketer):
    older = make(org, "x@gmail.com", phone="020 7946 0000", days_ago=1)
    newer = make(org, "y@gmail.com", phone="020 7946 0000")
    client = login(marketer)
    response = client.post(
        reverse("duplicates:merge", args=[older.pk]), {"other": newer.pk, "next": reverse("duplicates:list")}
    )
    assert response.url == reverse("duplicates:list")
    assert not Lead.objects.filter(pk=newer.pk).exists()


def test_lead_list_links_to_the_queue_for_managers_only(login, org, marketer, rep):
    LeadFactory(organization=org)
    assert b'data-testid="duplicates"' in login(marketer).get(reverse("leads:lead_list")).content
    assert b'data-testid="duplicates"' not in login(rep).get(reverse("leads:lead_list")).content


def _scored(org, lead, *, points: int, threshold: int = 1000) -> Lead:
    """The lead after one scored page view worth ``points`` (through the scoring service), under
    an active model paying each of those page views what its URL says."""
    from leads.models import ScoringModel
    from leads.scoring import score_events

    model = ScoringModel.objects.for_org(org).filter(status="active").first() or ScoringModel.objects.create(
        organization=org, version=1, status="active", mql_threshold=threshold, engagement_rules=[]
    )
    rule = {"event_type": "page_view", "property": "url", "contains": f"/p{points}", "points": points}
    model.engagement_rules = [*model.engagement_rules, rule]
    model.save()
    e = event(lead, f"s{points}", properties={"url": f"/p{points}"})
    score_events(event_ids=[e.pk])
    return Lead.objects.select_related("score").get(pk=lead.pk)


def test_a_merge_rescores_the_kept_lead_with_the_moved_events_and_undo_rescores_both(org, manager):
    older = _scored(org, make(org, "ada@initech.test", first_name="Ada", last_name="Lovelace", days_ago=10), points=7)
    newer = _scored(org, make(org, "a.lovelace@initech.test", first_name="Ada", last_name="Lovelace"), points=30)
    assert (older.total_score, newer.total_score) == (7, 30)

    merge = leads_merge(keep=older, drop=newer, actor=manager)

    older.refresh_from_db()
    assert older.total_score == 37  # both records' page views count for the person
    assert merge.snapshot["score"]["total"] == 30

    restored = leads_merge_undo(merge=merge, actor=manager)

    restored = Lead.objects.get(pk=restored.pk)
    assert (restored.total_score, round(restored.engagement_score)) == (30, 30)
    older.refresh_from_db()
    assert older.total_score == 7


def test_a_merged_person_whose_activity_together_passes_qualifies_with_their_next_event(org, manager, sales):
    from leads.models import ScoringModel
    from leads.scoring import score_events

    older = _scored(org, make(org, "ada@initech.test", first_name="Ada", last_name="Lovelace", days_ago=10), points=25)
    newer = _scored(org, make(org, "a.lovelace@initech.test", first_name="Ada", last_name="Lovelace"), points=30)
    ScoringModel.objects.filter(organization=org).update(mql_threshold=50)
    assert (older.lifecycle_stage, newer.lifecycle_stage) == ("lead", "lead")

    merge = leads_merge(keep=older, drop=newer, actor=manager)

    older.refresh_from_db()
    assert (older.total_score, older.lifecycle_stage) == (55, "lead")  # no handoff the undo can't take back
    restored = leads_merge_undo(merge=merge, actor=manager)
    assert Lead.objects.get(pk=restored.pk).total_score == 30
    merge = leads_merge(keep=older, drop=Lead.objects.get(pk=restored.pk), actor=manager)

    score_events(event_ids=[event(older, "next", properties={"url": "/blog"}).pk])

    older.refresh_from_db()
    assert (older.total_score, older.lifecycle_stage) == (55, "mql")
    assert older.handoffs.filter(status="pending").count() == 1


def test_undo_of_a_merge_recorded_before_scores_had_their_own_table(org, manager):
    older = make(org, "ada@initech.test", first_name="Ada", last_name="Lovelace", days_ago=10)
    newer = make(org, "a.lovelace@initech.test", first_name="Ada", last_name="Lovelace")
    merge = leads_merge(keep=older, drop=newer, actor=manager)
    # Such a merge kept the score as lead columns of the snapshot.
    snapshot = {k: v for k, v in merge.snapshot.items() if k not in ("score", "score_explanation")}
    snapshot |= {"fit_score": 12, "engagement_score": 8.4, "engagement_scored_at": None, "total_score": 20}
    snapshot["score_explanation"] = {"fit": [{"rule": "old", "points": 12}]}
    LeadMerge.objects.filter(pk=merge.pk).update(snapshot=snapshot)

    restored = Lead.objects.get(pk=leads_merge_undo(merge=LeadMerge.objects.get(pk=merge.pk), actor=manager).pk)

    assert (restored.fit_score, restored.engagement_score, restored.total_score) == (12, 8.4, 20)
    assert restored.score_explanation == {"fit": [{"rule": "old", "points": 12}]}


def test_a_merge_keeps_the_partner_of_either_record_and_undo_gives_it_back(org, manager):
    from leads.models import Partner

    reseller = Partner.objects.create(organization=org, name="Northwind Resellers")
    older = make(org, "ada@initech.test", first_name="Ada", last_name="Lovelace", days_ago=10)
    newer = make(org, "a.lovelace@initech.test", first_name="Ada", last_name="Lovelace")
    Lead.objects.filter(pk=newer.pk).update(partner=reseller)

    merge = leads_merge(keep=older, drop=Lead.objects.get(pk=newer.pk), actor=manager)
    assert Lead.objects.get(pk=older.pk).partner == reseller

    restored = leads_merge_undo(merge=merge, actor=manager)
    assert Lead.objects.get(pk=older.pk).partner is None and Lead.objects.get(pk=restored.pk).partner == reseller


# --- The dropped address stays the person's -------------------------------------------------


@pytest.fixture
def merged(org, manager):
    """ada@initech.test kept; a.lovelace@initech.test merged into her."""
    older = make(org, "ada@initech.test", first_name="Ada", last_name="Lovelace", days_ago=10)
    newer = make(org, "a.lovelace@initech.test", first_name="Ada", last_name="Lovelace")
    return older, leads_merge(keep=older, drop=newer, actor=manager)


def test_after_a_merge_the_dropped_address_finds_the_kept_lead_everywhere(
    org, merged, api, marketer, login, api_key_client, django_capture_on_commit_callbacks
):
    from tests.leads.test_imports import run_import

    kept, _ = merged
    with django_capture_on_commit_callbacks(execute=True):
        body = {"events": [{"id": "x1", "type": "page_view", "occurred_at": timezone.now().isoformat(),
                            "email": "A.Lovelace@initech.test"}]}  # fmt: skip
        assert api_key_client.post("/api/v1/events", body, format="json").json()["accepted"] == 1
    assert ActivityEvent.objects.get(client_event_id="x1").lead_id == kept.pk

    response = api(marketer).post("/api/v1/leads", {"email": "a.lovelace@initech.test"}, format="json")
    assert response.status_code == 409 and f"lead {kept.pk}" in response.json()["detail"]

    job = run_import(
        org, marketer, b"Email,Job Title\na.lovelace@initech.test,CTO\n", mode="update",
        capture=django_capture_on_commit_callbacks,
    )  # fmt: skip
    assert (job.result["created"], job.result["updated"]) == (0, 1)
    assert Lead.objects.get(pk=kept.pk).title == "CTO" and Lead.objects.count() == 1

    page = login(marketer).get(reverse("leads:lead_detail", args=[kept.pk])).content.decode()
    assert "Also a.lovelace@initech.test (merged records)" in page


def test_undo_gives_the_address_back_to_its_own_lead(org, merged, manager):
    from leads.services import alias_lead_ids

    _, merge = merged
    restored = leads_merge_undo(merge=merge, actor=manager)
    org.refresh_from_db()
    assert alias_lead_ids(org, ["a.lovelace@initech.test"]) == {}
    assert lead_create(org=org, data=LeadInput(email="someone@else.test"), rule="t")  # no alias in the way
    with pytest.raises(Conflict):
        lead_create(org=org, data=LeadInput(email="a.lovelace@initech.test"), rule="t")  # it is a lead again
    assert Lead.objects.get(pk=restored.pk).email == "a.lovelace@initech.test"


def test_addresses_merged_earlier_go_with_their_lead_and_come_back_on_undo(org, merged, manager):
    from leads.services import alias_lead_ids

    kept, _ = merged  # ada, holding a.lovelace@
    oldest = make(org, "lovelace@initech.test", first_name="Ada", last_name="Lovelace", days_ago=20)
    again = leads_merge(keep=oldest, drop=kept, actor=manager)
    org.refresh_from_db()
    assert alias_lead_ids(org, ["ada@initech.test", "a.lovelace@initech.test"]) == {
        "ada@initech.test": oldest.pk,
        "a.lovelace@initech.test": oldest.pk,
    }
    leads_merge_undo(merge=again, actor=manager)
    assert alias_lead_ids(org, ["ada@initech.test", "a.lovelace@initech.test"]) == {"a.lovelace@initech.test": kept.pk}


def test_an_email_change_to_another_leads_address_is_refused(org, merged):
    from leads.services import lead_update

    other = make(org, "bob@initech.test")
    org.refresh_from_db()
    with pytest.raises(Conflict, match="another address of lead"):
        lead_update(lead=Lead.objects.get(pk=other.pk), data=LeadInput(email="a.lovelace@initech.test"))


def test_a_merge_keeps_the_persons_earliest_first_touch_and_latest_touch(org, manager):
    webinar, ads, newsletter = (CampaignFactory(organization=org, name=n) for n in ("Webinar", "Ads", "Newsletter"))
    older = make(org, "ada@initech.test", first_name="Ada", last_name="Lovelace", days_ago=10, campaign=webinar)
    newer = make(org, "a.lovelace@initech.test", first_name="Ada", last_name="Lovelace", days_ago=5, campaign=ads)
    # The newer record's ad click happened before the older record was made; its latest touch is older.
    clicked = timezone.now() - timedelta(days=30)
    event(newer, "ad", campaign=ads, occurred_at=clicked)
    Lead.objects.filter(pk=newer.pk).update(first_campaign_at=clicked, latest_campaign_at=clicked)  # as ingestion does
    Lead.objects.filter(pk=older.pk).update(latest_campaign=newsletter)

    merge = leads_merge(keep=older, drop=newer, actor=manager)

    kept = Lead.objects.get(pk=older.pk)
    assert (kept.first_campaign, kept.latest_campaign) == (ads, newsletter)
    leads_merge_undo(merge=merge, actor=manager)
    kept.refresh_from_db()
    assert (kept.first_campaign, kept.latest_campaign) == (webinar, newsletter)


def test_touches_after_a_merge_and_its_undo_compare_with_the_events_each_lead_then_holds(org, manager):
    webinar, ads, fair = (
        CampaignFactory(organization=org, name=n, utm_source=n.lower()) for n in ("Webinar", "Ads", "Fair")
    )
    older = make(org, "ada@initech.test", first_name="Ada", last_name="Lovelace", days_ago=10, campaign=webinar)
    newer = make(org, "a.lovelace@initech.test", first_name="Ada", last_name="Lovelace", days_ago=5, campaign=ads)
    clicked = timezone.now() - timedelta(days=30)
    event(newer, "ad", campaign=ads, occurred_at=clicked)
    Lead.objects.filter(pk=newer.pk).update(first_campaign_at=clicked, latest_campaign_at=clicked)  # as ingestion does

    def fair_visit(email: str, n: int) -> None:
        at = (timezone.now() - timedelta(days=20)).isoformat()
        properties = {"utm_source": fair.utm_source, "utm_medium": fair.utm_medium, "utm_campaign": fair.utm_campaign}
        event = {"id": f"fair-{n}", "type": "page_view", "occurred_at": at, "email": email, "properties": properties}
        assert events_ingest(org=org, payload={"events": [event]}).accepted == 1

    merge = leads_merge(keep=older, drop=newer, actor=manager)
    # The person's first touch is the ad click of 30 days ago, which the merge brought over: a
    # fair visit of 20 days ago, delivered late, is not earlier (nor later than the webinar the
    # kept record came in with, 10 days ago).
    fair_visit("ada@initech.test", 1)
    kept = Lead.objects.get(pk=older.pk)
    assert (kept.first_campaign, kept.latest_campaign) == (ads, webinar)
    restored = leads_merge_undo(merge=merge, actor=manager)
    # The restored record has its ad click back, and with it when the ads touched it: the fair's
    # visit is later (its latest touch), not earlier.
    fair_visit("a.lovelace@initech.test", 2)
    restored.refresh_from_db()
    assert (restored.first_campaign, restored.latest_campaign) == (ads, fair)
