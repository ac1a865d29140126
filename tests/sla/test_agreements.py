"""Agreements: drafting, the bad-input rules, both sides signing, renewal, and the window in force."""

from __future__ import annotations

import zoneinfo
from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal

import pytest

from leads.handoffs import handoff_create
from sla.agreements import (
    AgreementInput,
    agreement_draft,
    agreement_renew,
    agreement_sign,
    agreement_update,
    agreement_withdraw,
    period_bounds,
)
from sla.models import Agreement
from smarketing.errors import Conflict, Forbidden, InvalidInput
from tests.factories import LeadFactory, MembershipFactory, TeamFactory, TeamMemberFactory

pytestmark = pytest.mark.django_db
TERMS = AgreementInput(starts_on=date(2026, 12, 9), revenue_target=Decimal("250000"), response_hours=8, mql_target=120)


def _active(org, drafter, marketing_manager, sales_manager, terms=TERMS) -> Agreement:
    agreement = agreement_draft(org=org, actor=drafter, data=terms)
    agreement_sign(agreement=agreement, actor=marketing_manager, side="marketing")
    return agreement_sign(agreement=agreement, actor=sales_manager, side="sales")


def test_periods_are_whole_months_and_quarters():
    assert period_bounds("month", date(2026, 2, 14)) == (date(2026, 2, 1), date(2026, 2, 28))
    assert period_bounds("quarter", date(2026, 11, 25)) == (date(2026, 10, 1), date(2026, 12, 31))


def test_a_draft_is_normalised_to_its_period_and_waits_for_both_sides(org, manager, marketing_manager):
    agreement = agreement_draft(org=org, actor=manager, data=TERMS)
    assert (agreement.starts_on, agreement.ends_on, agreement.status) == (
        date(2026, 12, 1),
        date(2026, 12, 31),
        "draft",
    )
    agreement_sign(agreement=agreement, actor=marketing_manager, side="marketing")
    agreement.refresh_from_db()
    assert agreement.status == "draft" and agreement.marketing_signed_by == marketing_manager


def test_both_sides_signing_activates_it(org, manager, marketing_manager):
    agreement = _active(org, manager, marketing_manager, manager)
    assert agreement.status == "active" and agreement.activated_at is not None
    assert str(agreement) == "December 2026 · Everyone"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"revenue_target": Decimal("0")}, "revenue_target"),
        ({"revenue_target": Decimal("-5")}, "revenue_target"),
        ({"mql_target": 0}, "mql_target"),
        ({"mql_target": None, "sql_target": None}, "mql_target"),
        ({"response_hours": 0}, "response_hours"),
        ({"response_hours": 721}, "response_hours"),
        ({"min_acceptance_percent": 101}, "min_acceptance_percent"),
        ({"attempts_min": 0}, "attempts_min"),
        ({"period": "year"}, "period"),
    ],
)
def test_bad_terms_are_refused_on_their_field_and_nothing_is_drafted(org, manager, changes, field):
    with pytest.raises(InvalidInput) as exc:
        agreement_draft(org=org, actor=manager, data=replace(TERMS, **changes))
    assert exc.value.field == field
    assert not Agreement.objects.exists()


def test_a_period_overlapping_an_active_agreement_of_the_same_scope_is_refused(org, manager, marketing_manager):
    _active(org, manager, marketing_manager, manager)
    with pytest.raises(InvalidInput, match="already covers December 2026") as exc:
        agreement_draft(org=org, actor=manager, data=replace(TERMS, period="quarter"))
    assert exc.value.field == "starts_on"
    team = TeamFactory(organization=org)
    assert agreement_draft(org=org, actor=manager, data=replace(TERMS, team=team)).team == team  # another scope


def test_two_overlapping_drafts_cannot_both_become_active(org, manager, marketing_manager):
    first = agreement_draft(org=org, actor=manager, data=TERMS)
    second = agreement_draft(org=org, actor=manager, data=replace(TERMS, revenue_target=Decimal("1")))
    _active_first = agreement_sign(agreement=first, actor=marketing_manager, side="marketing")
    agreement_sign(agreement=_active_first, actor=manager, side="sales")
    agreement_sign(agreement=second, actor=marketing_manager, side="marketing")
    with pytest.raises(Conflict, match="already covers"):
        agreement_sign(agreement=second, actor=manager, side="sales")
    second.refresh_from_db()
    assert second.status == "draft" and second.sales_signed_by is None


@pytest.mark.parametrize(
    ("role", "side", "signs_for"),
    [("manager", "sales", "marketing"), ("manager", "marketing", "sales"), ("sales_rep", "sales", "sales")],
)
def test_a_signature_from_the_wrong_side_is_refused(org, manager, role, side, signs_for):
    agreement = agreement_draft(org=org, actor=manager, data=TERMS)
    signer = MembershipFactory(organization=org, role=role, side=side)
    with pytest.raises(InvalidInput, match="-side manager signs") as exc:
        agreement_sign(agreement=agreement, actor=signer, side=signs_for)
    assert exc.value.field == "side"
    agreement.refresh_from_db()
    assert agreement.marketing_signed_by is None and agreement.sales_signed_by is None


def test_one_side_cannot_sign_twice_and_an_active_agreement_cannot_be_signed(org, manager, marketing_manager):
    agreement = agreement_draft(org=org, actor=manager, data=TERMS)
    agreement_sign(agreement=agreement, actor=manager, side="sales")
    with pytest.raises(Conflict, match="already signed"):
        agreement_sign(
            agreement=agreement, actor=MembershipFactory(organization=org, role="manager", side="sales"), side="sales"
        )
    agreement_sign(agreement=agreement, actor=marketing_manager, side="marketing")
    with pytest.raises(Conflict):
        agreement_sign(agreement=agreement, actor=marketing_manager, side="marketing")


def test_changing_a_draft_withdraws_its_signatures(org, manager, marketing_manager):
    agreement = agreement_draft(org=org, actor=manager, data=TERMS)
    agreement_sign(agreement=agreement, actor=marketing_manager, side="marketing")
    changed = agreement_update(agreement=agreement, actor=manager, data=replace(TERMS, mql_target=90))
    assert changed.mql_target == 90 and changed.marketing_signed_by is None


def test_only_managers_draft_and_an_active_agreement_is_not_changed(org, rep, manager, marketing_manager):
    with pytest.raises(Forbidden):
        agreement_draft(org=org, actor=rep, data=TERMS)
    agreement = _active(org, manager, marketing_manager, manager)
    with pytest.raises(Conflict, match="renew it"):
        agreement_update(agreement=agreement, actor=manager, data=TERMS)
    with pytest.raises(Conflict):
        agreement_withdraw(agreement=agreement, actor=manager)


def test_renewal_copies_the_terms_to_the_next_period_as_a_draft(org, manager, marketing_manager):
    december = _active(org, manager, marketing_manager, manager)
    january = agreement_renew(agreement=december, actor=manager)
    assert (january.starts_on, january.ends_on, january.status) == (date(2027, 1, 1), date(2027, 1, 31), "draft")
    assert (january.mql_target, january.response_hours, january.renewed_from) == (120, 8, december)
    with pytest.raises(Conflict, match="already has an agreement"):
        agreement_renew(agreement=december, actor=manager)


def test_the_agreement_in_force_sets_the_response_window_team_first(org, sales, rep, manager, marketing_manager):
    london = zoneinfo.ZoneInfo("UTC")
    _active(org, manager, marketing_manager, manager, replace(TERMS, response_hours=2))
    monday = datetime(2026, 12, 7, 9, 0, tzinfo=london)
    handoff = handoff_create(lead=LeadFactory(organization=org), now=monday)
    assert handoff.due_at == datetime(2026, 12, 7, 11, 0, tzinfo=london)  # the agreement's 2 hours, not 4

    team = TeamFactory(organization=org, name="Enterprise")
    TeamMemberFactory(team=team, membership=rep)
    _active(org, manager, marketing_manager, manager, replace(TERMS, response_hours=1, team=team))
    org.refresh_from_db()  # a fresh organisation object reads the agreements again
    handoff = handoff_create(lead=LeadFactory(organization=org), now=monday)
    assert handoff.rep == rep and handoff.due_at == datetime(2026, 12, 7, 10, 0, tzinfo=london)
