from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.core.validators import validate_email
from django.utils import timezone
from rest_framework.test import APIClient

from leads.handoff_views import queue_row
from leads.models import Campaign, Handoff, Lead, Opportunity, StageChange, Touch
from personas.models import ContentAsset, ContentRequest, DefinitionVersion, Persona
from reporting.models import AttributionCredit, AttributionModel
from smarketing.accounts.models import Membership, Organization, User
from smarketing.demo import CONTENT_REQUESTS, DEMO_PASSWORD, seed_demo

pytestmark = pytest.mark.django_db


def test_create_api_key_prints_a_working_key(org):
    out = StringIO()
    call_command("create_api_key", "acme", "--name", "Importer", stdout=out, stderr=StringIO())
    raw = out.getvalue().strip()
    response = APIClient(headers={"Authorization": f"Api-Key {raw}"}).get("/api/v1/organization")
    assert response.status_code == 200 and response.json()["slug"] == "acme"
    assert org.api_keys.get().name == "Importer"


def test_create_api_key_for_unknown_organisation_fails(db):
    with pytest.raises(CommandError, match="No organisation"):
        call_command("create_api_key", "nope", stdout=StringIO(), stderr=StringIO())


def test_seed_demo_builds_every_role_once(client):
    call_command("seed_demo", "--leads", "300", stdout=StringIO())
    org = Organization.objects.get(slug="demo")
    roles = set(Membership.objects.for_org(org).values_list("role", flat=True))
    assert roles == set(Membership.Role.values)
    assert Lead.objects.for_org(org).count() == 300
    assert len(set(Lead.objects.values_list("lifecycle_stage", flat=True))) == len(Lead.Stage)
    for email in Lead.objects.values_list("email", flat=True):
        validate_email(email)
    for email in ["admin@demo.test", "manager@demo.test", "marketer@demo.test", "rep@demo.test", "rep2@demo.test"]:
        assert client.login(username=email, password=DEMO_PASSWORD)
    assert client.login(username="partner@demo.test", password=DEMO_PASSWORD)
    assert client.login(username="mkt-manager@demo.test", password=DEMO_PASSWORD)
    sides = set(Membership.objects.for_org(org).filter(role=Membership.Role.MANAGER).values_list("side", flat=True))
    assert sides == set(Membership.Side.values)  # definitions can be signed by both sides

    assert Persona.objects.for_org(org).count() >= 3
    assert Campaign.objects.for_org(org).exclude(target_persona=None).count() >= 3
    assert ContentAsset.objects.for_org(org).count() >= 20
    versions = DefinitionVersion.objects.for_org(org)
    assert sorted(versions.values_list("number", "status")) == [(1, "superseded"), (2, "active")]
    requests = ContentRequest.objects.for_org(org)
    assert set(requests.values_list("status", flat=True)) == set(ContentRequest.Status.values)
    assert all(r.delivered_asset_id for r in requests.filter(status="delivered"))
    assert all(r.decline_reason for r in requests.filter(status="declined"))
    assert any(r.is_overdue(timezone.now()) for r in requests)
    matched = Lead.objects.for_org(org).exclude(persona=None)
    assert 0 < matched.count() < 300 and matched.exclude(buyer_stage="").exists()

    out = StringIO()
    call_command("seed_demo", "--leads", "300", stdout=out)
    assert "already exists" in out.getvalue()
    assert Lead.objects.count() == 300 and User.objects.count() == 7
    assert Persona.objects.count() == Persona.objects.for_org(org).count()  # nothing seeded twice


def test_seed_demo_reset_rebuilds(db):
    call_command("seed_demo", "--leads", "10", stdout=StringIO())
    call_command("seed_demo", "--leads", "20", "--reset", stdout=StringIO())
    assert Organization.objects.count() == 1 and Lead.objects.count() == 20
    org = Organization.objects.get()
    assert Persona.objects.filter(organization=org).count() == Persona.objects.count() >= 3
    assert DefinitionVersion.objects.get(status="active").number == 2
    assert ContentRequest.objects.count() == len(CONTENT_REQUESTS)


def test_seed_demo_tells_six_months_of_sales_follow_up(client):
    now = datetime(2026, 11, 25, 11, 30, tzinfo=UTC)  # a Wednesday morning in London
    org = seed_demo(leads=600, now=now).organization
    manager = Membership.objects.get(organization=org, user__email="manager@demo.test")

    handoffs = Handoff.objects.for_org(org).select_related("lead")
    assert set(handoffs.values_list("status", flat=True)) == set(Handoff.Status.values)
    open_ = handoffs.filter(status__in=Handoff.OPEN)
    assert {queue_row(h, actor=manager, now=now).state for h in open_} == {"", "at-risk", "overdue"}
    pending = handoffs.filter(status=Handoff.Status.PENDING)
    assert pending.exclude(first_touch_at=None).exists()  # tried, not yet accepted
    assert all(h.due_at > now for h in pending)  # past due, the deadline checks breached it
    assert all(h.at_risk_notified_at == h.at_risk_at for h in pending.filter(at_risk_at__lte=now, first_touch_at=None))
    returned = handoffs.filter(status=Handoff.Status.RETURNED)
    assert returned.values("return_reason").distinct().count() >= 5
    for h in returned.filter(return_reason="not_a_fit"):
        assert h.lead.lifecycle_stage == "disqualified"
    for h in handoffs.filter(status=Handoff.Status.REASSIGNED):
        assert h.reassigned_to.lead_id == h.lead_id and h.reassigned_to.rep_id != h.rep_id
        assert h.breached_at == h.due_at <= h.reassigned_to.created_at  # it breached first
    breached = handoffs.filter(status=Handoff.Status.BREACHED)
    assert breached.exclude(first_touch_at=None).exists()  # reached too late
    for h in breached:  # due now at the latest: the deadline checks breach a handoff at its due time (lte)
        assert h.breached_at == h.due_at <= now and (h.first_touch_at is None or h.first_touch_at > h.due_at)

    # The first attempt stopped each worked handoff's clock, at times that vary.
    touches = Touch.objects.for_org(org)
    assert {"call", "email", "meeting"} <= set(touches.values_list("kind", flat=True))
    assert touches.exclude(content=None).exists() and touches.exclude(outcome="").count() > 100
    accepted = handoffs.filter(status=Handoff.Status.ACCEPTED)
    for h in accepted:
        first = touches.filter(handoff=h).exclude(kind="note").order_by("occurred_at").first()
        assert first.occurred_at == h.first_touch_at <= h.due_at and h.first_touch_at <= h.accepted_at
        assert h.breached_at is None
        assert h.lead.lifecycle_stage != "mql"
    responses = {round((h.first_touch_at - h.created_at).total_seconds() / 600) for h in accepted}
    assert len(responses) > 20

    # Deals won and lost over the past months, their revenue credited to campaigns.
    deals = Opportunity.objects.for_org(org)
    won, lost = deals.filter(status="won"), deals.filter(status="lost")
    closed = sorted(deals.exclude(status="open").values_list("close_date", flat=True))
    assert won.count() > 10 and lost.count() > 10 and deals.filter(status="open").exists()
    assert now.date() - timedelta(days=183) <= closed[0] and closed[-1] <= now.date()
    assert (closed[-1] - closed[0]).days > 100
    assert lost.values("lost_reason").distinct().count() >= 4
    assert deals.exclude(kind="new_business").filter(lead__lifecycle_stage="customer").exists()
    for deal in won.filter(kind="new_business"):
        assert deal.lead.lifecycle_stage == "customer"
        assert StageChange.objects.filter(lead=deal.lead, to_stage="customer", reason=f"Deal won: {deal}").exists()
    credited = 0
    for deal in won.prefetch_related("credits"):
        for model in AttributionModel.values:
            shares = [c.amount for c in deal.credits.all() if c.model == model]
            assert not shares or sum(shares) == deal.amount
        credited += bool(deal.credits.all())
    assert credited > 10 and AttributionCredit.objects.for_org(org).count() >= 3 * credited

    # A campaign whose leads were won shows the revenue on its page.
    best = Campaign.objects.for_org(org).filter(first_touch_leads__opportunities__status="won").first()
    client.force_login(User.objects.get(email="marketer@demo.test"))
    page = client.get(f"/campaigns/{best.pk}/").content.decode()
    revenue = re.search(r'data-testid="won-revenue"><span class="stat-value">([^<]+)<', page).group(1)
    assert revenue not in ("0", "0.00")


def test_seed_demo_has_a_met_a_missed_and_an_active_agreement_and_last_months_review(client):
    from sla.compliance import compliance
    from sla.models import Agreement, Review

    now = datetime(2026, 11, 25, 11, 30, tzinfo=UTC)
    org = seed_demo(leads=600, now=now).organization

    september, october, november = Agreement.objects.for_org(org).order_by("starts_on")
    assert {a.status for a in (september, october, november)} == {"active"}
    assert compliance(september, now=now).marketing[0].met is True
    assert compliance(october, now=now).marketing[0].met is False
    assert september.marketing_result and october.marketing_result and november.marketing_result is None
    review = Review.objects.get(organization=org)
    assert (review.starts_on.month, review.actions.count()) == (10, 2) and review.notes
    client.force_login(User.objects.get(email="manager@demo.test"))
    # The agreement's own page (the list shows the periods around today's date, not the seed's).
    page = client.get(f"/sla/{november.pk}/").content.decode()
    assert "November 2026" in page and "MQLs delivered" in page
