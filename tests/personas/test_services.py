from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from personas import selectors, services
from personas.glossary import default_terms
from personas.models import ContentAsset, ContentRequest, DefinitionVersion, Persona
from personas.services import AssetInput, DefinitionsInput, PersonaInput
from smarketing.business_time import add_business_days
from smarketing.errors import Conflict, InvalidInput
from smarketing.notifications.models import Notification
from tests.factories import ContentAssetFactory, LeadFactory, MembershipFactory, PersonaFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def mkt_manager(org):
    return MembershipFactory(organization=org, role="manager", side="marketing", user__email="mm@acme.test")


@pytest.fixture
def sales_manager(manager):
    return manager  # the root fixture's manager is sales-side


def propose(proposer, **overrides):
    data = {"terms": default_terms(), "mql_threshold": 60, "sql_criteria": "Need, authority, timing.", **overrides}
    return services.definitions_propose(proposer=proposer, data=DefinitionsInput(**data))


# --- Personas -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("criteria", "field", "message"),
    [
        ({"company_size_min": 500, "company_size_max": 50}, "company_size_max", "above the maximum"),
        ({"countries": ["United Kingdom"]}, "countries", "two-letter"),
        ({"seniorities": ["boss"]}, "seniorities", "Unknown seniority"),
        ({}, "industries", "at least one fit criterion"),
    ],
)
def test_contradictory_or_missing_criteria_are_refused(org, criteria, field, message):
    with pytest.raises(InvalidInput, match=message) as exc:
        services.persona_create(org=org, data=PersonaInput(name="P", **criteria))
    assert exc.value.field == field
    assert not Persona.objects.exists()


def test_persona_names_are_unique_per_organisation(org, other_org):
    services.persona_create(org=org, data=PersonaInput(name="Ops Oliver", industries=["Retail"]))
    services.persona_create(org=other_org, data=PersonaInput(name="Ops Oliver", industries=["Retail"]))
    with pytest.raises(InvalidInput, match="already a persona"):
        services.persona_create(org=org, data=PersonaInput(name="ops oliver", industries=["Banking"]))


def test_persona_update_keeps_messaging_per_stage(org):
    created = services.persona_create(
        org=org,
        data=PersonaInput(name="Mary", industries=["SaaS"], messaging={"awareness": ("Grow pipeline", "One\nTwo")}),
    )
    services.persona_update(
        persona=created,
        data=PersonaInput(name="Mary", industries=["SaaS"], messaging={"decision": ("Prove ROI", "")}),
    )
    messages = {m.buyer_stage: m for m in created.messages.all()}
    assert messages["awareness"].proof_point_list() == ["One", "Two"]
    assert messages["decision"].key_message == "Prove ROI"


# --- Definitions ----------------------------------------------------------------------


def test_version_activates_when_both_sides_sign(mkt_manager, sales_manager):
    version = propose(mkt_manager)
    services.definitions_sign(version=version, signer=mkt_manager)
    assert DefinitionVersion.objects.get().status == "proposed"
    services.definitions_sign(version=version, signer=sales_manager)
    version.refresh_from_db()
    assert version.status == "active" and version.activated_at is not None


def test_two_signatures_from_one_side_do_not_activate(org, mkt_manager):
    other_marketing = MembershipFactory(organization=org, role="manager", side="marketing")
    version = propose(mkt_manager)
    services.definitions_sign(version=version, signer=mkt_manager)
    services.definitions_sign(version=version, signer=other_marketing)
    version.refresh_from_db()
    assert version.status == "proposed" and version.signoffs.count() == 2
    with pytest.raises(Conflict, match="already signed"):
        services.definitions_sign(version=version, signer=mkt_manager)


@pytest.mark.parametrize("role", ["marketer", "sales_rep", "admin"])
def test_only_managers_sign(org, mkt_manager, role):
    version = propose(mkt_manager)
    with pytest.raises(InvalidInput, match="manager"):
        services.definitions_sign(version=version, signer=MembershipFactory(organization=org, role=role))


def test_new_active_version_supersedes_the_old_and_in_force_follows_time(mkt_manager, sales_manager):
    t0 = timezone.now() - timedelta(days=60)
    v1 = propose(mkt_manager)
    services.definitions_sign(version=v1, signer=mkt_manager, now=t0)
    services.definitions_sign(version=v1, signer=sales_manager, now=t0)
    t1 = t0 + timedelta(days=30)
    v2 = propose(sales_manager, mql_threshold=70)
    services.definitions_sign(version=v2, signer=mkt_manager, now=t1)
    services.definitions_sign(version=v2, signer=sales_manager, now=t1)
    v1.refresh_from_db()
    assert (v1.status, v1.superseded_at) == ("superseded", t1)
    org = mkt_manager.organization
    assert selectors.definitions_in_force(org=org, at=t0 + timedelta(days=1)) == v1
    assert selectors.definitions_in_force(org=org, at=t1 + timedelta(days=1)) == v2
    assert selectors.definitions_in_force(org=org, at=t0 - timedelta(days=1)) is None


def test_only_one_proposal_at_a_time_and_withdraw(mkt_manager):
    version = propose(mkt_manager)
    with pytest.raises(Conflict, match="awaiting sign-off"):
        propose(mkt_manager)
    services.definitions_withdraw(version=version)
    assert propose(mkt_manager).number == 2
    with pytest.raises(Conflict):
        services.definitions_withdraw(version=version)


def test_every_term_must_be_worded(mkt_manager):
    terms = [t for t in default_terms() if t["key"] != "mql"]
    with pytest.raises(InvalidInput, match="mql"):
        propose(mkt_manager, terms=terms)
    blank = [{**t, "wording": " "} if t["key"] == "sql" else t for t in default_terms()]
    with pytest.raises(InvalidInput, match="empty"):
        propose(mkt_manager, terms=blank)
    assert not DefinitionVersion.objects.exists()


def test_diff_shows_changed_terms_and_thresholds(mkt_manager, sales_manager):
    v1 = propose(mkt_manager)
    services.definitions_sign(version=v1, signer=mkt_manager)
    services.definitions_sign(version=v1, signer=sales_manager)
    terms = [{**t, "wording": "Score 70 or a demo request."} if t["key"] == "mql" else t for t in default_terms()]
    v2 = propose(mkt_manager, terms=terms, mql_threshold=70)
    diff = selectors.definitions_diff(v1, v2)
    changed = [c for c in diff["terms"] if c.change != "same"]
    assert [c.key for c in changed] == ["mql"]
    assert "<ins>" in changed[0].diff_html() and "<del>" in changed[0].diff_html()
    assert ("MQL threshold", 60, 70) in diff["settings"]


def test_stage_wording_comes_from_the_active_version(org, mkt_manager, sales_manager):
    assert selectors.stage_wording(org=org) == {}
    version = propose(mkt_manager)
    services.definitions_sign(version=version, signer=mkt_manager)
    services.definitions_sign(version=version, signer=sales_manager)
    assert "threshold" in selectors.stage_wording(org=org)["mql"]


# --- Content --------------------------------------------------------------------------


def pdf(name="guide.pdf", data=b"%PDF-1.7 hello"):
    return SimpleUploadedFile(name, data, content_type="application/pdf")


def test_asset_with_uploaded_file(org, marketer):
    persona = PersonaFactory(organization=org)
    asset = services.asset_save(
        org=org,
        owner=marketer,
        data=AssetInput(title="Guide", asset_type="ebook", buyer_stage="awareness", personas=[persona], file=pdf()),
    )
    assert asset.file_name == "guide.pdf" and asset.file.read() == b"%PDF-1.7 hello"
    assert list(asset.personas.all()) == [persona]


def test_asset_needs_a_link_or_a_file(org):
    with pytest.raises(InvalidInput, match="link") as exc:
        services.asset_save(org=org, data=AssetInput(title="X", asset_type="ebook", buyer_stage="decision"))
    assert exc.value.field == "url"


def test_asset_refuses_another_organisations_persona(org, other_org):
    foreign = PersonaFactory(organization=other_org)
    with pytest.raises(InvalidInput, match="Unknown persona"):
        services.asset_save(
            org=org,
            data=AssetInput(
                title="X", asset_type="ebook", buyer_stage="decision", url="https://x.test", personas=[foreign]
            ),
        )
    assert not ContentAsset.objects.exists()


def test_deleted_asset_leaves_delivered_request_readable(org, rep, marketer, django_capture_on_commit_callbacks):
    asset = ContentAssetFactory(organization=org, title="Pricing FAQ")
    request = services.content_request_create(requester=rep, question="Price?", buyer_stage="decision")
    services.content_request_transition(request=request, to="accepted", actor=marketer)
    services.content_request_transition(request=request, to="delivered", actor=marketer, asset=asset)
    services.asset_delete(asset=asset)
    request.refresh_from_db()
    assert request.delivered_asset is None and request.delivered_asset_title == "Pricing FAQ"


# --- Content requests -----------------------------------------------------------------


def test_request_is_due_after_turnaround_business_days(org, rep):
    org.time_zone, org.content_request_turnaround_days = "Europe/London", 2
    org.save()
    friday = datetime(2026, 11, 20, 16, 0, tzinfo=ZoneInfo("Europe/London"))
    request = services.content_request_create(requester=rep, question="Q?", buyer_stage="awareness", now=friday)
    assert request.due_at == datetime(2026, 11, 24, 16, 0, tzinfo=ZoneInfo("Europe/London"))  # Tuesday


def test_full_workflow_notifies_the_requester_once_delivered(org, rep, marketer, django_capture_on_commit_callbacks):
    request = services.content_request_create(requester=rep, question="ROI?", buyer_stage="decision")
    asset = ContentAssetFactory(organization=org, title="ROI calculator")
    for step in ("accepted", "in_progress"):
        services.content_request_transition(request=request, to=step, actor=marketer)
    assert not Notification.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        request = services.content_request_transition(request=request, to="delivered", actor=marketer, asset=asset)
    assert (request.status, request.assignee, request.delivered_asset) == ("delivered", marketer, asset)
    note = Notification.objects.get()
    assert note.recipient == rep and "ROI calculator" in note.title
    assert [m.to for m in mail.outbox] == [[rep.user.email]]


@pytest.mark.parametrize(
    ("start", "to"),
    [("new", "delivered"), ("new", "in_progress"), ("delivered", "accepted"), ("declined", "new")],
)
def test_disallowed_moves_conflict(org, rep, marketer, start, to):
    request = services.content_request_create(requester=rep, question="Q?", buyer_stage="awareness")
    ContentRequest.objects.filter(pk=request.pk).update(status=start)
    with pytest.raises(Conflict):
        services.content_request_transition(
            request=request, to=to, actor=marketer, asset=ContentAssetFactory(organization=org)
        )


def test_decline_needs_a_reason_and_tells_the_rep(rep, marketer):
    request = services.content_request_create(requester=rep, question="Q?", buyer_stage="awareness")
    with pytest.raises(InvalidInput, match="why"):
        services.content_request_transition(request=request, to="declined", actor=marketer, reason=" ")
    services.content_request_transition(request=request, to="declined", actor=marketer, reason="Already exists")
    assert Notification.objects.get().body.endswith("Why: Already exists")


def test_open_request_stats(org, rep):
    now = timezone.now()
    old = services.content_request_create(
        requester=rep, question="Old", buyer_stage="awareness", now=now - timedelta(days=30)
    )
    services.content_request_create(requester=rep, question="New", buyer_stage="awareness", now=now - timedelta(days=2))
    stats = selectors.content_request_open_stats(org=org, now=now)
    assert stats["open"] == 2 and stats["overdue"] == 1
    assert stats["oldest_age_days"] == 30.0 and stats["median_age_days"] == 16.0
    assert old.is_overdue(now)


def test_recommendations_skip_consumed_and_other_stages(org):
    persona = PersonaFactory(organization=org)
    lead = LeadFactory(organization=org, persona=persona, buyer_stage="consideration")
    fits = [ContentAssetFactory(organization=org, buyer_stage="consideration") for _ in range(3)]
    for asset in fits:
        asset.personas.add(persona)
    other_stage = ContentAssetFactory(organization=org, buyer_stage="decision")
    other_stage.personas.add(persona)
    ContentAssetFactory(organization=org, buyer_stage="consideration")  # aimed at no persona
    found = selectors.recommend_content(lead, consumed_asset_ids=[fits[0].pk])
    assert set(found) == {fits[1], fits[2]}


def test_recommendations_for_a_lead_without_persona_use_general_content(org):
    general = ContentAssetFactory(organization=org, buyer_stage="awareness")
    PersonaFactory(organization=org).content_assets.add(ContentAssetFactory(organization=org))
    assert selectors.recommend_content(LeadFactory(organization=org, buyer_stage="awareness")) == [general]
    assert selectors.recommend_content(LeadFactory(organization=org)) == []


def test_matrix_shows_gaps(org):
    persona = PersonaFactory(organization=org)
    ContentAssetFactory(organization=org, buyer_stage="awareness").personas.add(persona)
    rows = selectors.content_matrix(org=org)
    assert rows[0].persona == persona and rows[0].cells == [("awareness", 1), ("consideration", 0), ("decision", 0)]
    assert rows[0].gaps == 2 and rows[-1].persona is None


def test_add_business_days_across_weekend_and_dst():
    london = ZoneInfo("Europe/London")
    # Friday 23 Oct 2026, clocks go back on Sunday 25 Oct: 1 business day later is Monday, same wall time.
    start = datetime(2026, 10, 23, 9, 30, tzinfo=london)
    assert add_business_days(start, 1, time_zone="Europe/London") == datetime(2026, 10, 26, 9, 30, tzinfo=london)
    saturday = datetime(2026, 10, 24, 15, 0, tzinfo=london)
    assert add_business_days(saturday, 1, time_zone="Europe/London") == datetime(2026, 10, 27, 0, 0, tzinfo=london)


def test_organisation_with_signoffs_and_requests_can_be_deleted(org, mkt_manager, sales_manager, rep):
    version = propose(mkt_manager)
    services.definitions_sign(version=version, signer=mkt_manager)
    services.content_request_create(requester=rep, question="Q?", buyer_stage="awareness")
    org.delete()
    assert not DefinitionVersion.objects.exists() and not ContentRequest.objects.exists()
