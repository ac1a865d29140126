"""Fixtures the handoff and routing tests share."""

from __future__ import annotations

import pytest

from tests.factories import RoutingRuleFactory, TeamFactory, TeamMemberFactory


@pytest.fixture
def sales(org, rep, manager):
    """A "Sales" team of ``rep`` taking every lead, the sales manager as fallback owner."""
    team = TeamFactory(organization=org, name="Sales")
    TeamMemberFactory(team=team, membership=rep)
    org.routing_fallback = manager
    org.save()
    return RoutingRuleFactory(organization=org, team=team, name="Everyone")
