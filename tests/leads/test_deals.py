"""Touches, opportunities and outcomes through the services, and the attribution of revenue."""

from __future__ import annotations

import re
from collections import Counter
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from leads.handoffs import handoff_accept, handoff_create
from leads.models import ActivityEvent, Handoff, Lead, Opportunity, Touch
from leads.opportunities import opportunity_create, opportunity_lose, opportunity_update, opportunity_win
from leads.touches import lead_consumed_asset_ids, touch_log
from personas.selectors import recommend_content
from reporting.attribution import CampaignTouch, campaign_revenue, split
from reporting.models import AttributionCredit
from smarketing.errors import Conflict, Forbidden, InvalidInput
from smarketing.notifications.models import Notification
from tests.factories import CampaignFactory, ContentAssetFactory, LeadFactory, MembershipFactory, PersonaFactory

pytestmark = pytest.mark.django_db
TODAY = date.today()


@pytest.fixture
def handoff(org, sales, marketer):
    campaign = CampaignFactory(organization=org, owner=marketer, name="Spring webinar")
    lead = LeadFactory(organization=org, first_campaign=campaign, latest_campaign=campaign)
    return handoff_create(lead=lead, actor=marketer, note="Wants a demo")


@pytest.fixture
def sql(handoff, rep):
    """A lead the rep accepted: an SQL they own."""
    handoff_accept(handoff=handoff, actor=rep)
    return Lead.objects.get(pk=handoff.lead_id)


def _deal(lead, actor, **kwargs) -> Opportunity:
    values = {"amount": Decimal("12000"), "currency": "USD", "expected_close_date": TODAY + timedelta(days=30)}
    return opportunity_create(lead=lead, actor=actor, **(values | kwargs))


# --- Touches ----------------------------------------------------------------------------


def test_the_first_call_stops_the_handoffs_response_clock_and_later_ones_do_not(handoff, rep):
    first_at = timezone.now()
    touch_log(lead=handoff.lead, actor=rep, kind="call", outcome="no_answer", occurred_at=first_at)
    touch_log(
        lead=handoff.lead, actor=rep, kind="email", outcome="replied", occurred_at=first_at + timedelta(minutes=1)
    )

    handoff.refresh_from_db()
    assert handoff.first_touch_at == first_at
    assert Touch.objects.filter(handoff=handoff).count() == 2


def test_a_note_is_not_an_attempt_and_does_not_stop_the_clock(handoff, rep):
    touch_log(lead=handoff.lead, actor=rep, kind="note", note="Researched the company", occurred_at=timezone.now())

    handoff.refresh_from_db()
    assert handoff.first_touch_at is None


def test_a_touch_dated_before_the_handoff_does_not_count_as_its_first_touch(handoff, rep):
    touch_log(
        lead=handoff.lead, actor=rep, kind="call", outcome="connected", occurred_at=handoff.created_at - timedelta(1)
    )
    handoff.refresh_from_db()
    assert handoff.first_touch_at is None


def test_a_touch_entered_for_the_minute_the_handoff_was_made_stops_its_clock(handoff, rep):
    """Pages enter times to the minute: a call logged at 10:42 on a handoff made at 10:42:35 counts."""
    minute = handoff.created_at.replace(second=0, microsecond=0)
    touch_log(lead=handoff.lead, actor=rep, kind="call", outcome="connected", occurred_at=minute)

    handoff.refresh_from_db()
    assert handoff.first_touch_at == handoff.created_at  # never before the handoff was made


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"kind": "call", "outcome": "connected", "occurred_at_offset": timedelta(hours=1)}, "occurred_at"),
        ({"kind": "call", "outcome": ""}, "outcome"),
        ({"kind": "note", "outcome": "connected", "note": "x"}, "outcome"),
        ({"kind": "note", "note": "  "}, "note"),
        ({"kind": "fax", "outcome": "connected"}, "kind"),
    ],
)
def test_bad_touches_are_refused_on_their_field_and_nothing_is_written(handoff, rep, values, field):
    offset = values.pop("occurred_at_offset", timedelta(0))
    with pytest.raises(InvalidInput) as exc:
        touch_log(lead=handoff.lead, actor=rep, occurred_at=timezone.now() + offset, **values)
    assert exc.value.field == field
    assert not Touch.objects.exists()
    handoff.refresh_from_db()
    assert handoff.first_touch_at is None


def test_a_rep_cannot_log_touches_on_a_lead_they_do_not_work(org, handoff):
    other_rep = MembershipFactory(organization=org, role="sales_rep")
    with pytest.raises(Forbidden):
        touch_log(lead=handoff.lead, actor=other_rep, kind="call", outcome="connected", occurred_at=timezone.now())


def test_a_manager_logs_touches_on_any_lead(handoff, manager):
    touch = touch_log(
        lead=handoff.lead, actor=manager, kind="meeting", outcome="meeting_booked", occurred_at=timezone.now()
    )
    assert touch.rep == manager


def test_content_shared_in_a_touch_counts_as_consumed_and_is_no_longer_recommended(org, handoff, rep):
    persona = PersonaFactory(organization=org)
    shared, other = (ContentAssetFactory(organization=org, buyer_stage="decision") for _ in range(2))
    for asset in (shared, other):
        asset.personas.add(persona)
    lead = handoff.lead
    Lead.objects.filter(pk=lead.pk).update(persona=persona, buyer_stage="decision")
    lead.refresh_from_db()

    touch_log(lead=lead, actor=rep, kind="email", outcome="replied", occurred_at=timezone.now(), content=shared)

    assert lead_consumed_asset_ids(lead) == {shared.pk}
    assert recommend_content(lead, consumed_asset_ids=lead_consumed_asset_ids(lead)) == [other]


def test_content_of_another_organisation_cannot_be_shared(handoff, rep, other_org):
    with pytest.raises(InvalidInput) as exc:
        touch_log(
            lead=handoff.lead,
            actor=rep,
            kind="email",
            outcome="replied",
            occurred_at=timezone.now(),
            content=ContentAssetFactory(organization=other_org),
        )
    assert exc.value.field == "content"


# --- Opportunities ----------------------------------------------------------------------


def test_a_deal_opened_from_an_sql_makes_the_lead_an_opportunity(sql, rep, handoff):
    deal = _deal(sql, rep, stage="Proposal")

    sql.refresh_from_db()
    assert sql.lifecycle_stage == Lead.Stage.OPPORTUNITY
    assert (deal.owner, deal.stage, deal.status, deal.handoff) == (rep, "Proposal", "open", handoff)
    assert deal.name.endswith("New business")


def test_a_deal_needs_an_accepted_lead(handoff, manager):
    with pytest.raises(Conflict, match="starts from an SQL"):
        _deal(handoff.lead, manager)
    assert not Opportunity.objects.exists()


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"amount": Decimal("-1")}, "amount"),
        ({"currency": "EUR"}, "currency"),
        ({"stage": "Closed won"}, "stage"),
        ({"kind": "upsell"}, "kind"),
    ],
)
def test_bad_deals_are_refused_on_their_field(sql, rep, values, field):
    with pytest.raises(InvalidInput) as exc:
        _deal(sql, rep, **values)
    assert exc.value.field == field
    sql.refresh_from_db()
    assert sql.lifecycle_stage == Lead.Stage.SQL
    assert not Opportunity.objects.exists()


def test_another_rep_cannot_open_a_deal_on_my_lead(org, sql):
    with pytest.raises(Forbidden):
        _deal(sql, MembershipFactory(organization=org, role="sales_rep"))


def test_only_managers_give_a_deal_to_someone_else(org, sql, rep, manager):
    other = MembershipFactory(organization=org, role="sales_rep")
    with pytest.raises(Forbidden):
        _deal(sql, rep, owner=other)
    assert _deal(sql, manager, owner=rep).owner == rep


def test_winning_makes_the_lead_a_customer_credits_campaigns_and_tells_both_teams(org, sql, rep, marketer, manager):
    webinar = sql.first_campaign
    retargeting = CampaignFactory(organization=org, name="Retargeting")
    ActivityEvent.objects.create(
        organization=org,
        lead=sql,
        client_event_id="e1",
        event_type="page_view",
        occurred_at=timezone.now(),
        campaign=retargeting,
    )
    deal = _deal(sql, rep)

    won = opportunity_win(opportunity=deal, actor=rep, amount=Decimal("10000.01"), currency="USD")

    sql.refresh_from_db()
    assert sql.lifecycle_stage == Lead.Stage.CUSTOMER
    assert (won.status, won.amount, won.close_date) == ("won", Decimal("10000.01"), timezone.localdate())
    revenue = campaign_revenue(org=org)
    assert revenue[webinar.pk] == {"first_touch": Decimal("10000.01"), "linear": Decimal("5000.01")}
    assert revenue[retargeting.pk] == {"last_touch": Decimal("10000.01"), "linear": Decimal("5000.00")}
    told = set(Notification.objects.filter(kind="deal.won").values_list("recipient", flat=True))
    assert told == {rep.pk, marketer.pk, manager.pk}


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"amount": Decimal("-5")}, "amount"),
        ({"amount": Decimal("0")}, "amount"),
        ({"currency": "GBP"}, "currency"),
        ({"close_date": TODAY + timedelta(days=2)}, "close_date"),
    ],
)
def test_bad_wins_are_refused_and_change_nothing(sql, rep, values, field):
    deal = _deal(sql, rep)
    with pytest.raises(InvalidInput) as exc:
        opportunity_win(opportunity=deal, actor=rep, **({"amount": Decimal("1"), "currency": "USD"} | values))
    assert exc.value.field == field
    deal.refresh_from_db()
    sql.refresh_from_db()
    assert (deal.status, sql.lifecycle_stage) == ("open", Lead.Stage.OPPORTUNITY)
    assert not AttributionCredit.objects.exists()


def test_losing_needs_a_reason_and_sends_the_lead_to_nurture(sql, rep):
    deal = _deal(sql, rep)
    with pytest.raises(InvalidInput):
        opportunity_lose(opportunity=deal, actor=rep, reason="")
    with pytest.raises(InvalidInput) as exc:
        opportunity_lose(opportunity=deal, actor=rep, reason="other", note=" ")
    assert exc.value.field == "note"

    opportunity_lose(opportunity=deal, actor=rep, reason="competitor", note="Went with the incumbent")

    deal.refresh_from_db()
    sql.refresh_from_db()
    assert (deal.status, deal.lost_reason, sql.lifecycle_stage) == ("lost", "competitor", Lead.Stage.NURTURE)
    assert sql.stage_changes.first().reason == "Deal lost: Competitor — Went with the incumbent"


def test_a_won_deal_cannot_be_lost_or_won_again(sql, rep):
    deal = opportunity_win(opportunity=_deal(sql, rep), actor=rep, amount=Decimal("5"), currency="USD")
    with pytest.raises(Conflict, match="already won"):
        opportunity_lose(opportunity=deal, actor=rep, reason="price")
    with pytest.raises(Conflict):
        opportunity_win(opportunity=deal, actor=rep, amount=Decimal("5"), currency="USD")
    with pytest.raises(Conflict):
        opportunity_update(opportunity=deal, actor=rep, stage="Proposal")
    assert AttributionCredit.objects.filter(model="first_touch").count() == 1


def test_losing_one_of_two_open_deals_keeps_the_lead_an_opportunity(sql, rep):
    first, _second = _deal(sql, rep), _deal(sql, rep)
    opportunity_lose(opportunity=first, actor=rep, reason="timing")
    sql.refresh_from_db()
    assert sql.lifecycle_stage == Lead.Stage.OPPORTUNITY


def test_an_upsell_on_a_customer_keeps_them_a_customer_won_or_lost(sql, rep):
    opportunity_win(opportunity=_deal(sql, rep), actor=rep, amount=Decimal("100"), currency="USD")
    with pytest.raises(InvalidInput):
        _deal(sql, rep)  # new business with a customer
    upsell = _deal(sql, rep, kind="upsell")
    renewal = _deal(sql, rep, kind="renewal")
    opportunity_lose(opportunity=upsell, actor=rep, reason="price")
    opportunity_win(opportunity=renewal, actor=rep, amount=Decimal("50"), currency="USD")

    sql.refresh_from_db()
    assert sql.lifecycle_stage == Lead.Stage.CUSTOMER
    assert upsell.kind == "upsell"


def test_the_deals_owner_moves_it_through_the_pipeline(sql, rep, org):
    deal = opportunity_update(
        opportunity=_deal(sql, rep), actor=rep, stage="Negotiation", amount=Decimal("15000"), name="Big one"
    )
    deal.refresh_from_db()
    assert (deal.stage, deal.amount, deal.name) == ("Negotiation", Decimal("15000"), "Big one")
    with pytest.raises(Forbidden):
        opportunity_update(
            opportunity=deal, actor=MembershipFactory(organization=org, role="sales_rep"), stage="Proposal"
        )


def test_a_handoff_returned_leaves_no_way_to_open_a_deal(handoff, rep):
    from leads.handoffs import handoff_return

    handoff_return(handoff=handoff, actor=rep, reason="not_ready_nurture")
    assert Handoff.objects.get(pk=handoff.pk).status == "returned"
    with pytest.raises(Forbidden):  # no longer theirs to work
        _deal(handoff.lead, rep)


# --- Attribution ------------------------------------------------------------------------


def _touch(cid: int, first: int, last: int | None = None) -> CampaignTouch:
    now = timezone.now()
    return CampaignTouch(cid, now + timedelta(days=first), now + timedelta(days=last if last is not None else first))


def test_split_first_last_and_linear_add_up_to_the_amount_to_the_cent():
    touches = [_touch(1, 0), _touch(2, 1, 5), _touch(3, 2)]

    shares = split(touches, Decimal("100.00"))

    assert shares["first_touch"] == {1: Decimal("100.00")}
    assert shares["last_touch"] == {2: Decimal("100.00")}  # touched last, though it came in second
    assert shares["linear"] == {1: Decimal("33.34"), 2: Decimal("33.33"), 3: Decimal("33.33")}
    assert sum(shares["linear"].values()) == Decimal("100.00")


def test_split_without_touches_attributes_nothing():
    assert split([], Decimal("10")) == {"first_touch": {}, "last_touch": {}, "linear": {}}


def test_events_after_the_win_do_not_earn_credit(org, sql, rep):
    deal = opportunity_win(opportunity=_deal(sql, rep), actor=rep, amount=Decimal("900"), currency="USD")
    late = CampaignFactory(organization=org)
    ActivityEvent.objects.create(
        organization=org,
        lead=sql,
        client_event_id="late",
        event_type="email_click",
        occurred_at=timezone.now() + timedelta(minutes=1),
        campaign=late,
    )
    from reporting.attribution import opportunity_credit

    opportunity_credit(deal)
    assert late.pk not in campaign_revenue(org=org)


# --- Pages ------------------------------------------------------------------------------


def test_each_form_on_the_deal_page_labels_its_own_fields(login, sql, rep):
    """The move, win and lose forms share field names (amount, close date …); their ids must differ,
    or "Final amount" in the win form labels the move form's amount."""
    deal = _deal(sql, rep)
    page = login(rep).get(f"/deals/{deal.pk}/").content.decode()

    ids = Counter(re.findall(r'\sid="([^"]+)"', page))
    assert [i for i, n in ids.items() if n > 1] == []
    win = page[page.index('data-testid="deal-win"') :]
    win = win[: win.index("</form>")]
    label_for = re.search(r'<label for="([^"]+)">Final amount', win).group(1)
    assert f'id="{label_for}"' in win  # the field it labels is in the same form
