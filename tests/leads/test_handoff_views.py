"""Handoff pages: the rep's queue, accept / return / reassign, and the lead page's "Sales" card."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from leads.handoffs import handoff_create
from leads.models import Handoff, Lead
from smarketing.accounts.models import Membership
from tests.factories import (
    HandoffFactory,
    LeadFactory,
    MembershipFactory,
)

pytestmark = pytest.mark.django_db
QUEUE = reverse("handoffs:queue")


@pytest.fixture
def rep2(org):
    return MembershipFactory(organization=org, role=Membership.Role.SALES_REP, user__email="rep2@acme.test")


@pytest.fixture
def handoff(org, sales, marketer):
    """A pending handoff to ``rep``, made the way the product makes them."""
    return handoff_create(lead=LeadFactory(organization=org, email="ann@buyer.test"), actor=marketer, note="Demo ask")


def queue_ids(response) -> list[int]:
    return [row.handoff.pk for row in response.context["rows"]]


def texts(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_rep_sees_own_pending_handoffs_soonest_due_first(login, rep, rep2):
    now = timezone.now()
    later = HandoffFactory(rep=rep, due_at=now + timedelta(hours=5))
    sooner = HandoffFactory(rep=rep, due_at=now + timedelta(hours=1))
    HandoffFactory(rep=rep, status=Handoff.Status.ACCEPTED)
    HandoffFactory(rep=rep2)
    response = login(rep).get(QUEUE)
    assert response.status_code == 200
    assert queue_ids(response) == [sooner.pk, later.pk]
    assert b'data-testid="rep-filter"' not in response.content


def test_manager_sees_every_pending_handoff_and_filters_by_rep(login, manager, rep, rep2):
    now = timezone.now()
    mine = HandoffFactory(rep=rep, due_at=now + timedelta(hours=2))
    theirs = HandoffFactory(rep=rep2, due_at=now + timedelta(hours=1))
    client = login(manager)
    assert queue_ids(client.get(QUEUE)) == [theirs.pk, mine.pk]
    assert queue_ids(client.get(QUEUE, {"rep": rep.pk})) == [mine.pk]
    assert queue_ids(client.get(QUEUE, {"rep": "nonsense"})) == [theirs.pk, mine.pk]


def test_manager_rows_name_the_rep_and_who_sent_it_with_the_note(login, manager, rep, rep2, marketer):
    rep.user.full_name, marketer.user.full_name = "Rita Rep", "Mark <Eting>"
    rep.user.save(), marketer.user.save()
    HandoffFactory(rep=rep, created_by=marketer, note="Asked for <b>pricing</b> " + "x" * 100)
    body = login(manager).get(QUEUE).content.decode()
    row = re.search(r'<tr class="handoff[^"]*" data-testid="handoff-row".*?</tr>', body, re.S).group(0)
    assert "<td>Rita Rep</td>" in row  # the rep column
    assert "“Asked for &lt;b&gt;pricing&lt;/b&gt; xxx" in row and "x…” — Mark &lt;Eting&gt;" in row
    assert 'data-testid="reassign"' in row and f'<option value="{rep2.pk}">' in row
    assert f'<option value="{rep.pk}">' not in row  # not to the rep who has it


def test_rows_show_why_and_countdown_with_at_risk_and_overdue_classes(login, rep):
    now = timezone.now()
    overdue = HandoffFactory(
        rep=rep, created_at=now - timedelta(hours=4), due_at=now - timedelta(minutes=15, seconds=20)
    )
    at_risk = HandoffFactory(rep=rep, created_at=now - timedelta(hours=4), due_at=now + timedelta(minutes=30))
    fine = HandoffFactory(rep=rep, created_at=now, due_at=now + timedelta(hours=2, minutes=10, seconds=30))
    response = login(rep).get(QUEUE)
    rows = {row.handoff.pk: row for row in response.context["rows"]}
    assert (rows[overdue.pk].state, rows[overdue.pk].due_text) == ("overdue", "overdue by 15 min")
    assert rows[at_risk.pk].state == "at-risk"
    assert (rows[fine.pk].state, rows[fine.pk].due_text) == ("", "due in 2 h 10 min")
    body = response.content.decode()
    assert 'class="handoff overdue"' in body and 'class="handoff at-risk"' in body
    assert "overdue by 15 min" in body and "due in 2 h 10 min" in body
    assert f'data-due="{fine.due_at.isoformat()}"'[:25] in body
    assert "/static/js/handoffs.js" in body
    lead = fine.lead
    assert lead.email in body and str(lead.total_score) in body


@pytest.mark.parametrize("count", [3, 30])
@pytest.mark.parametrize(("role", "queries"), [("rep", 6), ("manager", 7)])
def test_queue_query_count_is_constant(
    login, request, rep, manager, marketer, django_assert_num_queries, count, role, queries
):
    for _ in range(count):
        HandoffFactory(rep=rep, created_by=marketer, note="Hot")
    client = login(request.getfixturevalue(role))
    # Session, user, memberships, the page, its reps and senders (one query), the unread count;
    # a manager's page also lists the reps to filter by.
    with django_assert_num_queries(queries):
        response = client.get(QUEUE)
    assert len(response.context["rows"]) == count


def test_a_reps_queue_without_notes_reads_no_one_else(login, rep, marketer, django_assert_num_queries):
    HandoffFactory.create_batch(3, rep=rep, created_by=marketer, note="")
    client = login(rep)
    # Session, user, memberships, the page, the unread count: the rep is the one signed in, and a
    # sender is named only beside a note.
    with django_assert_num_queries(5):
        body = client.get(QUEUE).content.decode()
    assert body.count('data-testid="handoff-row"') == 3


def test_a_rows_lead_fields_are_escaped(login, org, rep):
    lead = LeadFactory(organization=org, first_name="<b>Ann</b>", last_name="O'Hara", company_name="A & <i>B</i>")
    HandoffFactory(rep=rep, lead=lead)
    body = login(rep).get(QUEUE).content.decode()
    assert "&lt;b&gt;Ann&lt;/b&gt; O&#x27;Hara" in body and "A &amp; &lt;i&gt;B&lt;/i&gt;" in body
    assert "<b>Ann" not in body and "<i>B" not in body


def test_queue_is_capped_at_50_rows_and_says_so(login, rep):
    HandoffFactory.create_batch(51, rep=rep)
    response = login(rep).get(QUEUE)
    assert len(response.context["rows"]) == 50 and response.context["more"]
    assert "the 50 soonest due" in response.content.decode()


def test_empty_queue(login, rep):
    response = login(rep).get(QUEUE)
    assert b'data-testid="queue-empty"' in response.content
    assert "No handoffs waiting — new MQLs appear here" in response.content.decode()


def test_accept_from_the_queue_makes_the_lead_sql_and_a_second_accept_says_who(login, handoff, rep, manager):
    response = login(rep).post(reverse("handoffs:accept", args=[handoff.pk]), {"next": QUEUE})
    assert response.status_code == 302 and response.url == QUEUE
    lead = Lead.objects.get(pk=handoff.lead_id)
    assert (lead.lifecycle_stage, lead.owner) == ("sql", rep)
    response = login(manager).post(reverse("handoffs:accept", args=[handoff.pk]))
    assert response.status_code == 302
    assert texts(response)[-1] == f"This handoff was already accepted by {rep.user}."


def test_accept_ignores_an_offsite_next(login, handoff, rep):
    response = login(rep).post(reverse("handoffs:accept", args=[handoff.pk]), {"next": "https://evil.test/"})
    assert response.url == QUEUE


def test_return_needs_a_reason_and_changes_nothing_without_one(login, handoff, rep):
    client = login(rep)
    url = reverse("handoffs:return", args=[handoff.pk])
    response = client.post(url, {"reason": "", "note": "hm"})
    assert response.status_code == 400
    assert "Choose why the lead goes back to marketing." in response.content.decode()
    handoff.refresh_from_db()
    assert handoff.status == "pending" and Lead.objects.get(pk=handoff.lead_id).lifecycle_stage == "mql"

    response = client.post(url, {"reason": "other", "note": ""})  # the service's rule: "other" needs a note
    assert response.status_code == 400 and "Say why in a note" in response.content.decode()

    response = client.post(url, {"reason": "not_a_fit", "note": "Too small", "next": QUEUE})
    assert response.status_code == 302 and response.url == QUEUE
    handoff.refresh_from_db()
    assert (handoff.status, handoff.return_reason, handoff.return_note) == ("returned", "not_a_fit", "Too small")
    assert Lead.objects.get(pk=handoff.lead_id).lifecycle_stage == "disqualified"


def test_a_rep_cannot_act_on_another_reps_handoff(login, handoff, rep2):
    client = login(rep2)
    assert client.post(reverse("handoffs:accept", args=[handoff.pk])).status_code == 403
    assert client.post(reverse("handoffs:return", args=[handoff.pk]), {"reason": "duplicate"}).status_code == 403
    assert client.post(reverse("handoffs:reassign", args=[handoff.pk]), {"to": rep2.pk}).status_code == 403
    handoff.refresh_from_db()
    assert handoff.status == "pending" and handoff.rep != rep2
    assert queue_ids(client.get(QUEUE)) == []


def test_another_organisations_handoff_is_404_for_every_action(login, handoff, outsider):
    client = login(outsider)
    for name, data in [("accept", {}), ("return", {"reason": "duplicate"}), ("reassign", {})]:
        assert client.post(reverse(f"handoffs:{name}", args=[handoff.pk]), data).status_code == 404, name
    assert client.post(reverse("handoffs:send", args=[handoff.lead_id])).status_code == 404
    handoff.refresh_from_db()
    assert handoff.status == "pending"


def test_actions_are_csrf_protected(handoff, rep):
    client = Client(enforce_csrf_checks=True)
    client.force_login(rep.user)
    assert client.post(reverse("handoffs:accept", args=[handoff.pk])).status_code == 403
    handoff.refresh_from_db()
    assert handoff.status == "pending"


def test_manager_reassigns_to_a_chosen_rep(login, handoff, manager, rep2):
    response = login(manager).post(reverse("handoffs:reassign", args=[handoff.pk]), {"to": rep2.pk, "next": QUEUE})
    assert response.status_code == 302
    handoff.refresh_from_db()
    assert handoff.status == "reassigned" and handoff.reassigned_to.rep == rep2
    assert texts(response) == [f"{handoff.lead} is now with {rep2.user}."]


def test_send_to_sales_from_the_lead_page_then_the_button_is_gone(login, org, sales, marketer, rep):
    lead = LeadFactory(organization=org, lifecycle_stage=Lead.Stage.LEAD)
    client = login(marketer)
    page = reverse("leads:lead_detail", args=[lead.pk])
    assert b'data-testid="send-to-sales"' in client.get(page).content
    response = client.post(reverse("handoffs:send", args=[lead.pk]), {"note": "Asked for pricing"})
    assert response.status_code == 302 and response.url == page
    handoff = Handoff.objects.get(lead=lead)
    assert (handoff.status, handoff.rep, handoff.note, handoff.created_by) == (
        "pending",
        rep,
        "Asked for pricing",
        marketer,
    )
    body = client.get(page).content.decode()
    assert 'data-testid="send-to-sales"' not in body
    assert f"Waiting for <strong>{rep.user}</strong>" in body
    assert 'data-testid="accept"' not in body  # a marketer cannot work it


def test_lead_page_shows_the_handoffs_and_the_reps_buttons(login, handoff, rep, marketer):
    handoff_page = reverse("leads:lead_detail", args=[handoff.lead_id])
    body = login(rep).get(handoff_page).content.decode()
    assert 'data-testid="accept"' in body and 'data-testid="return"' in body
    assert 'data-testid="send-to-sales"' not in body  # reps don't send, and one is pending
    login(rep).post(reverse("handoffs:return", args=[handoff.pk]), {"reason": "duplicate", "note": "Same as Ann B."})
    body = login(marketer).get(handoff_page).content.decode()
    assert "Returned" in body and "Duplicate — Same as Ann B." in body
    assert 'data-testid="send-to-sales"' in body  # nurture: it can be sent again


@pytest.mark.parametrize("count", [1, 8])
def test_lead_page_query_count_does_not_grow_with_handoffs(
    login, org, rep, marketer, django_assert_max_num_queries, count
):
    lead = LeadFactory(organization=org, lifecycle_stage=Lead.Stage.MQL)
    for _ in range(count - 1):
        HandoffFactory(rep=rep, lead=lead, status=Handoff.Status.RETURNED, created_by=marketer)
    HandoffFactory(rep=rep, lead=lead, created_by=marketer)
    client = login(rep)
    # 15 before the "Sales" card, which adds one; the Touches and Deals cards add five (touches,
    # deals, content consumed: shared and downloaded, the content to choose from).
    with django_assert_max_num_queries(21):
        response = client.get(reverse("leads:lead_detail", args=[lead.pk]))
    assert len(response.context["handoffs"]) == count


def test_queue_link_and_the_reps_overview(login, rep, marketer):
    HandoffFactory(rep=rep, due_at=timezone.now() + timedelta(hours=1))
    HandoffFactory(rep=rep, due_at=timezone.now() + timedelta(hours=3))
    body = login(rep).get(reverse("home")).content.decode()
    assert f'href="{QUEUE}"' in body and ">Queue</a>" in body
    assert 'data-testid="queue-summary"' in body and "<strong>2</strong> handoffs waiting" in body
    body = login(marketer).get(reverse("home")).content.decode()
    assert ">Queue</a>" not in body and 'data-testid="queue-summary"' not in body


def test_the_queue_says_which_rule_qualified_the_lead_and_what_it_did_last(org, sales, login, rep):
    from leads.models import ActivityEvent, ScoringModel
    from leads.scoring import score_pending

    ScoringModel.objects.create(
        organization=org, version=3, status="active", fast_lane_event_types=["demo_request"], mql_threshold=90
    )
    lead = LeadFactory(organization=org)
    ActivityEvent.objects.create(
        organization=org, lead=lead, client_event_id="d1", event_type="demo_request", occurred_at=timezone.now()
    )
    score_pending(org_id=org.pk, limit=100)

    body = login(rep).get(QUEUE).content.decode()

    assert "scoring v3: fast lane: demo_request" in body
    assert "Last: Demo request, 0 min ago" in body
