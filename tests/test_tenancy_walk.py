"""Every URL that takes an object reference, walked as another organisation: always 404.

The walk reads the URL configuration itself, so a new page or endpoint is covered the day it
is added. Id kwargs are named ``<model_name>_id`` (``membership_id``, ``apikey_id`` …); a
kwarg this test does not know fails the test until it is added to ``REFERENCES`` below.
The walk is done with every role of the other organisation: a role the policy refuses gets
403 whatever the id (that reveals nothing), and at least one role must reach the lookup and
get 404. The same role in the owning organisation must then not get 404, which proves the
ids are real (a walk with wrong ids would pass vacuously).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date

import pytest
from django.core.files.base import ContentFile
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from leads.duplicates import leads_merge
from leads.models import Job, Opportunity, ScoringModel, Touch
from personas.glossary import default_terms
from personas.services import DefinitionsInput, definitions_propose
from sla.models import ActionItem, Agreement, Review
from smarketing.accounts import services
from smarketing.accounts.models import Holiday, Membership
from tests.factories import (
    CampaignFactory,
    ContentAssetFactory,
    ContentRequestFactory,
    HandoffFactory,
    InvitationFactory,
    LeadFactory,
    MembershipFactory,
    NotificationFactory,
    PersonaFactory,
    RoutingRuleFactory,
    WebFormFactory,
)

# Namespaces outside the tenant model, with the reason.
EXCLUDED_NAMESPACES = {
    "admin": "Django admin is for the operator's staff and spans all organisations by design.",
}
# Kwargs that are not references to a tenant's rows, with the reason.
NOT_TENANT_REFERENCES = {
    "token": "A signed invitation link is itself the credential; it is tested in test_views.",
    "form_key": "A web form's public key is published in its embed snippet; those endpoints check the Origin instead.",
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


ROLES = [
    ("admin", ""),
    ("manager", "marketing"),
    ("manager", "sales"),
    ("marketer", "marketing"),
    ("sales_rep", "sales"),
    ("partner", ""),
]


def members_by_role(org) -> list[Membership]:
    return [MembershipFactory(organization=org, role=role, side=side) for role, side in ROLES]


@pytest.fixture
def owners(org, admin):
    return [admin, *members_by_role(org)[1:]]


@pytest.fixture
def outsiders(other_org):
    return members_by_role(other_org)


@pytest.fixture
def world(org, owners):
    """One row of every tenant model in ``org``, keyed by the URL kwarg that refers to it."""
    admin, marketing_manager = owners[0], owners[1]
    member = MembershipFactory(organization=org, role=Membership.Role.SALES_REP)
    invitation = InvitationFactory(organization=org, invited_by=admin)
    api_key, _ = services.api_key_create(organization=org, name="Site")
    lead = LeadFactory(organization=org)
    persona = PersonaFactory(organization=org)
    campaign = CampaignFactory(organization=org)
    version = definitions_propose(
        proposer=marketing_manager,
        data=DefinitionsInput(terms=default_terms(), mql_threshold=60, sql_criteria="Need confirmed."),
    )
    asset = ContentAssetFactory(
        organization=org, file=ContentFile(b"%PDF-1.4 guide", name="guide.pdf"), file_name="guide.pdf"
    )
    content_request = ContentRequestFactory(organization=org, requested_by=owners[4])
    # Each owner has a notification: a notification is only ever its recipient's.
    notifications = {m.pk: NotificationFactory(recipient=m).pk for m in owners}
    return {
        "membership_id": member.pk,
        "invitation_id": invitation.pk,
        "apikey_id": api_key.pk,
        "lead_id": lead.pk,
        "persona_id": persona.pk,
        "campaign_id": campaign.pk,
        "definitionversion_id": version.pk,
        "contentasset_id": asset.pk,
        "contentrequest_id": content_request.pk,
        "notification_id": notifications,
        "organization_slug": org.slug,
        "webform_id": WebFormFactory(organization=org).pk,
        "scoringmodel_id": ScoringModel.objects.create(organization=org, version=1).pk,  # a draft
        "job_id": Job.objects.create(organization=org, kind=Job.Kind.IMPORT).pk,
        "handoff_id": HandoffFactory(rep=owners[4]).pk,  # the sales rep's
        "routingrule_id": RoutingRuleFactory(organization=org).pk,
        "agreement_id": Agreement.objects.create(
            organization=org,
            starts_on=date(2026, 12, 1),
            ends_on=date(2026, 12, 31),
            response_hours=4,
            revenue_target=1000,
            mql_target=10,
        ).pk,
        "review_id": (
            review := Review.objects.create(organization=org, starts_on=date(2026, 11, 1), ends_on=date(2026, 11, 30))
        ).pk,
        "actionitem_id": ActionItem.objects.create(
            organization=org, review=review, text="Do it", owner=owners[4], due_on=date(2026, 12, 1)
        ).pk,
        "holiday_id": Holiday.objects.create(organization=org, date=lead.created_at.date(), name="Day off").pk,
        "touch_id": Touch.objects.create(
            organization=org, lead=lead, rep=owners[4], kind="call", outcome="connected", occurred_at=lead.created_at
        ).pk,
        "opportunity_id": Opportunity.objects.create(
            organization=org,
            lead=lead,
            owner=owners[4],  # the sales rep's
            name="Deal",
            amount=1000,
            currency=org.currency,
            expected_close_date=lead.created_at.date(),
            stage=org.pipeline_stages[0],
        ).pk,
        "leadmerge_id": leads_merge(
            keep=LeadFactory(organization=org), drop=LeadFactory(organization=org), actor=admin
        ).pk,
    }


def _clients(route: Route, login, api) -> Callable:
    if route.name.startswith("api:"):
        return api
    return login


def test_walk_finds_the_id_routes():
    names = {r.name for r in routes_with_references()}
    assert {"accounts:member_edit", "api:member-detail", "api:apikey-detail"} <= names


def _url(route: Route, world: dict, owner: Membership) -> str:
    kwargs = {}
    for k in route.kwargs:
        value = world[k]
        kwargs[k] = value[owner.pk] if isinstance(value, dict) else value
    return reverse(route.name, kwargs=kwargs)


@pytest.mark.parametrize("route", routes_with_references(), ids=str)
def test_other_organisations_ids_are_404(route, world, owners, outsiders, client, login, api):
    unknown = [k for k in route.kwargs if k not in world and k not in NOT_TENANT_REFERENCES]
    assert not unknown, (
        f"{route.name} takes {unknown}: name id kwargs <model_name>_id and add the model to the walk's world"
    )
    make_client = _clients(route, login, api)
    reached = None
    for owner, outsider in zip(owners, outsiders, strict=True):
        url = _url(route, world, owner)
        outsider_client = make_client(outsider)
        statuses = {method: getattr(outsider_client, method)(url).status_code for method in METHODS}
        assert set(statuses.values()) <= {403, 404, 405}, f"{url} as another organisation's {outsider.role}: {statuses}"
        found_404 = [m for m, s in statuses.items() if s == 404]
        if found_404 and reached is None:
            reached = (owner, url, "get" if "get" in found_404 else found_404[0])
        client.logout()
    assert reached, f"{route.name}: no role of another organisation reached the lookup (never 404)"

    # The same role of the owning organisation reaches the object (safe method first).
    owner, url, method = reached
    assert getattr(make_client(owner), method)(url).status_code != 404, f"{url} is 404 for its own {owner.role}"
