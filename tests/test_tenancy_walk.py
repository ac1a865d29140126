"""Every URL that takes an object reference, walked as another organisation: always 404.

The walk reads the URL configuration itself, so a new page or endpoint is covered the day it
is added. Id kwargs are named ``<model_name>_id`` (``membership_id``, ``apikey_id`` …); a
kwarg this test does not know fails the test until it is added to ``REFERENCES`` below.
Each pattern is also requested by a member of the owning organisation, to prove the ids are
real (a walk with wrong ids would pass vacuously).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from smarketing.accounts import services
from smarketing.accounts.models import Membership
from tests.factories import InvitationFactory, LeadFactory, MembershipFactory

# Namespaces outside the tenant model, with the reason.
EXCLUDED_NAMESPACES = {
    "admin": "Django admin is for the operator's staff and spans all organisations by design.",
}
# Kwargs that are not references to a tenant's rows, with the reason.
NOT_TENANT_REFERENCES = {
    "token": "A signed invitation link is itself the credential; it is tested in test_views.",
}
METHODS = ("get", "post", "patch", "delete")


@dataclass(frozen=True)
class Route:
    name: str
    kwargs: tuple[str, ...]

    def __str__(self) -> str:
        return self.name


def _walk(patterns, namespace: str = "", kwargs: tuple[str, ...] = ()) -> Iterator[Route]:
    for p in patterns:
        names = tuple(p.pattern.converters) if hasattr(p.pattern, "converters") else ()
        if isinstance(p, URLResolver):
            ns = f"{namespace}:{p.namespace}" if namespace and p.namespace else (p.namespace or namespace)
            yield from _walk(p.url_patterns, ns, kwargs + names)
        elif isinstance(p, URLPattern) and p.name and (kwargs + names):
            yield Route(f"{namespace}:{p.name}" if namespace else p.name, kwargs + names)


def routes_with_references() -> list[Route]:
    routes = []
    for route in _walk(get_resolver().url_patterns):
        if route.name.split(":")[0] in EXCLUDED_NAMESPACES:
            continue
        if all(k in NOT_TENANT_REFERENCES for k in route.kwargs):
            continue
        routes.append(route)
    return routes


@pytest.fixture
def world(org, admin):
    """One row of every tenant model in ``org``, keyed by the URL kwarg that refers to it."""
    member = MembershipFactory(organization=org, role=Membership.Role.SALES_REP)
    invitation = InvitationFactory(organization=org, invited_by=admin)
    api_key, _ = services.api_key_create(organization=org, name="Site")
    lead = LeadFactory(organization=org)
    return {
        "membership_id": member.pk,
        "invitation_id": invitation.pk,
        "apikey_id": api_key.pk,
        "lead_id": lead.pk,
        "organization_slug": org.slug,
    }


def _clients(route: Route, login, api) -> Callable:
    if route.name.startswith("api:"):
        return api
    return login


def test_walk_finds_the_id_routes():
    names = {r.name for r in routes_with_references()}
    assert {"accounts:member_edit", "api:member-detail", "api:apikey-detail"} <= names


@pytest.mark.parametrize("route", routes_with_references(), ids=str)
def test_other_organisations_ids_are_404(route, world, outsider, admin, login, api):
    unknown = [k for k in route.kwargs if k not in world and k not in NOT_TENANT_REFERENCES]
    assert not unknown, (
        f"{route.name} takes {unknown}: name id kwargs <model_name>_id and add the model to the walk's world"
    )
    url = reverse(route.name, kwargs={k: world[k] for k in route.kwargs})
    make_client = _clients(route, login, api)

    outsider_client = make_client(outsider)
    statuses = {method: getattr(outsider_client, method)(url).status_code for method in METHODS}
    assert set(statuses.values()) <= {404, 405}, f"{url} as another organisation: {statuses}"
    found_404 = [m for m, s in statuses.items() if s == 404]
    assert found_404, f"{url}: no method answered 404 ({statuses})"

    # The same URL for the owning organisation reaches the object (safe method first).
    owner_client = make_client(admin)
    method = "get" if "get" in found_404 else found_404[0]
    assert getattr(owner_client, method)(url).status_code != 404, f"{url} is 404 for its own organisation too"
