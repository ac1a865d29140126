"""Races decided by row locks on PostgreSQL: exactly one of two concurrent requests wins."""

from __future__ import annotations

import pytest

from smarketing.accounts import services
from smarketing.accounts.models import Invitation, Membership
from smarketing.errors import DomainError
from tests.concurrency import race
from tests.factories import MembershipFactory


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_accepts_of_one_invitation_one_wins(admin, outsider):
    invitation = services.invitation_create(invited_by=admin, email=outsider.user.email, role="marketer")
    token = services.invitation_token(invitation)
    accept = lambda: services.invitation_accept(token=token, user=outsider.user)  # noqa: E731
    results = race(accept, accept)
    assert sum(isinstance(r, Membership) for r in results) == 1, results
    assert sum(isinstance(r, DomainError) for r in results) == 1, results
    assert Membership.objects.filter(organization=admin.organization, user=outsider.user).count() == 1
    assert Invitation.objects.get().status == Invitation.Status.ACCEPTED


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_admins_removing_each_other_at_once_leave_one_admin(admin, org):
    second = MembershipFactory(organization=org, role="admin", side="")
    results = race(
        lambda: services.membership_remove(membership=second), lambda: services.membership_remove(membership=admin)
    )
    assert Membership.objects.for_org(org).filter(role="admin", removed_at=None).count() == 1, results
    assert sum(isinstance(r, DomainError) for r in results) == 1, results
