"""Fixtures the SLA tests share: the handoff tests' "Sales" team, a marketing-side manager, and
agreements active from the start (drafted by the sales manager, signed by both sides)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from sla.agreements import AgreementInput, agreement_draft, agreement_sign
from sla.models import Agreement
from tests.factories import MembershipFactory
from tests.leads.conftest import sales  # noqa: F401


@pytest.fixture
def marketing_manager(org):
    return MembershipFactory(organization=org, role="manager", side="marketing")


@pytest.fixture
def signed_agreement(org, manager, marketing_manager):
    """``signed_agreement(starts_on, revenue_target, **terms)``: an active agreement (1 MQL and 4
    business hours unless given)."""

    def make(starts_on: date, revenue_target: str | Decimal, **terms) -> Agreement:
        terms = {"response_hours": 4, "mql_target": 1} | terms
        draft = agreement_draft(
            org=org,
            actor=manager,
            data=AgreementInput(starts_on=starts_on, revenue_target=Decimal(revenue_target), **terms),
        )
        agreement_sign(agreement=draft, actor=marketing_manager, side="marketing")
        return agreement_sign(agreement=draft, actor=manager, side="sales")

    return make
