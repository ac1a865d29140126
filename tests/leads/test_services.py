from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from leads.models import Company, Lead, ScoringModel, StageChange
from leads.services import LeadInput, lead_create, lead_transition, lead_update, leads_bulk_transition
from personas import services as persona_services
from personas.glossary import default_terms
from personas.services import DefinitionsInput, PersonaInput
from smarketing.errors import Conflict, InvalidInput
from tests.factories import LeadFactory, MembershipFactory

pytestmark = pytest.mark.django_db


def create(org, **data):
    return lead_create(org=org, data=LeadInput(**{"email": "ann@buyer.test", **data}), rule="test")


def test_create_records_entry_into_the_funnel(org, marketer):
    lead = lead_create(org=org, data=LeadInput(email="Ann@Buyer.TEST", first_name="Ann"), actor=marketer)
    assert lead.email == "ann@buyer.test" and lead.lifecycle_stage == "lead"
    change = lead.stage_changes.get()
    assert (change.from_stage, change.to_stage, change.actor) == ("", "lead", marketer)


def test_same_email_in_other_case_is_a_conflict(org):
    create(org)
    with pytest.raises(Conflict, match="already a lead") as exc:
        create(org, email="ANN@buyer.test")
    assert exc.value.field == "email"
    assert Lead.objects.count() == 1


def test_conflict_names_the_existing_lead_and_rolls_back_a_new_company(org):
    first = create(org, email="ann@acme.example")
    with pytest.raises(Conflict, match=f"already a lead \\(id {first.pk}\\)"):
        create(org, email="Ann@ACME.example", company_domain="globex.example", company_name="Globex")
    assert list(Company.objects.values_list("domain", flat=True)) == ["acme.example"]
    assert StageChange.objects.count() == 1


def test_conflict_inside_a_callers_transaction_leaves_it_usable(org):
    create(org)
    with transaction.atomic():
        with pytest.raises(Conflict):
            create(org, email="ANN@buyer.test")
        create(org, email="bob@buyer.test")  # the caller carries on, as ingestion does
    assert Lead.objects.count() == 2


def test_new_company_is_written_with_what_the_lead_says(org, django_assert_max_num_queries):
    lead = create(org, email="a@initech.example", industry="Software", company_size=40, country="gb")
    company = Company.objects.get()
    assert (company.industry, company.size, company.country) == ("Software", 40, "GB")
    assert lead.company == company
    with django_assert_max_num_queries(10):  # an existing company is not written again unchanged
        create(org, email="b@initech.example", industry="Software", company_size=40, country="GB")


def test_same_email_in_another_organisation_is_fine(org, other_org):
    create(org)
    create(other_org)
    assert Lead.objects.count() == 2


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"email": "not-an-email"}, "email"),
        ({"seniority": "boss"}, "seniority"),
        ({"country": "Germany"}, "country"),
        ({"company_size": 0}, "company_size"),
        ({"title": "x" * 10_001}, "title"),
    ],
)
def test_bad_attributes_are_refused_and_nothing_is_written(org, data, field):
    with pytest.raises(InvalidInput) as exc:
        create(org, **data)
    assert exc.value.field == field
    assert not Lead.objects.exists() and not Company.objects.exists()


def test_company_is_resolved_by_domain_and_free_mail_is_ignored(org):
    a = create(org, email="a@acme.example", company_name="ACME Ltd", industry="Software", company_size=120)
    b = create(org, email="b@acme.example")
    assert a.company == b.company and a.company.industry == "Software" and a.company.size == 120
    personal = create(org, email="c@gmail.com")
    assert personal.company is None


def test_persona_is_matched_on_create_and_update(org):
    persona = persona_services.persona_create(
        org=org, data=PersonaInput(name="Ops Oliver", title_keywords=["operations"])
    )
    lead = create(org, title="Head of Sales")
    assert lead.persona is None
    lead = lead_update(lead=lead, data=LeadInput(title="VP Operations"))
    assert lead.persona == persona


def test_fit_score_follows_the_active_model(org):
    ScoringModel.objects.create(
        organization=org,
        version=1,
        status="active",
        fit_rules=[{"attribute": "country", "operator": "in", "value": ["GB", "DE"], "points": 15}],
    )
    lead = create(org, email="x@firm.example", country="gb")
    assert (lead.fit_score, lead.total_score) == (15, 15)
    assert lead.score_explanation["fit"][0]["points"] == 15


def test_transition_enforces_allowed_moves(org, rep):
    lead = create(org)
    with pytest.raises(Conflict, match="can't move from Lead to Customer"):
        lead_transition(lead=lead, to="customer", actor=rep)
    with pytest.raises(Conflict, match="already"):
        lead_transition(lead=lead, to="lead", actor=rep)
    lead_transition(lead=lead, to="mql", actor=rep)
    lead_transition(lead=lead, to="sql", actor=rep)
    assert list(lead.stage_changes.values_list("to_stage", flat=True)) == ["sql", "mql", "lead"]


def test_nurture_and_disqualified_need_a_reason(org, rep):
    lead = create(org)
    with pytest.raises(InvalidInput, match="Say why"):
        lead_transition(lead=lead, to="disqualified", actor=rep)
    lead_transition(lead=lead, to="disqualified", actor=rep, reason="Student")
    assert StageChange.objects.filter(to_stage="disqualified").get().reason == "Student"


def test_a_change_needs_a_person_or_a_rule(org):
    with pytest.raises(ValueError):
        lead_transition(lead=create(org), to="mql")


def test_mql_transition_records_the_definitions_version_in_force(org, manager):
    mkt = MembershipFactory(organization=org, role="manager", side="marketing")
    version = persona_services.definitions_propose(
        proposer=mkt, data=DefinitionsInput(terms=default_terms(), mql_threshold=60, sql_criteria="x")
    )
    then = timezone.now() - timedelta(days=1)
    persona_services.definitions_sign(version=version, signer=mkt, now=then)
    persona_services.definitions_sign(version=version, signer=manager, now=then)
    lead = create(org)
    lead_transition(lead=lead, to="mql", rule="scoring v1: score 70 ≥ 60")
    change = lead.stage_changes.get(to_stage="mql")
    assert change.definitions_version == version and change.rule.startswith("scoring")


def test_history_outlives_a_deleted_actor_and_definitions_version(org, manager):
    # Neither is a database constraint (migration 0020): the ORM clears them on delete.
    mkt = MembershipFactory(organization=org, role="manager", side="marketing")
    version = persona_services.definitions_propose(
        proposer=mkt, data=DefinitionsInput(terms=default_terms(), mql_threshold=60, sql_criteria="x")
    )
    persona_services.definitions_sign(version=version, signer=mkt, now=timezone.now() - timedelta(days=1))
    persona_services.definitions_sign(version=version, signer=manager, now=timezone.now() - timedelta(days=1))
    actor = MembershipFactory(organization=org)
    lead = lead_create(org=org, data=LeadInput(email="ann@buyer.test"), actor=actor)
    lead_transition(lead=lead, to="mql", actor=actor)
    assert {(c.actor_id, c.definitions_version_id) for c in lead.stage_changes.all()} == {(actor.pk, version.pk)}

    if connection.vendor == "postgresql":  # no constraint to check them at commit (0020)
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_constraint WHERE conrelid = 'leads_stagechange'::regclass AND contype = 'f'"
            )
            assert cursor.fetchone()[0] == 0
    actor.delete()
    version.delete()

    changes = list(lead.stage_changes.values_list("to_stage", "actor_id", "definitions_version_id"))
    assert sorted(changes) == [("lead", None, None), ("mql", None, None)]
    org.delete()
    assert not StageChange.objects.filter(lead_id=lead.pk).exists()


def test_bulk_transition_moves_what_it_can_and_reports_the_rest(org, rep):
    movable = LeadFactory(organization=org, lifecycle_stage="lead")
    stuck = LeadFactory(organization=org, lifecycle_stage="customer")
    moved, problems = leads_bulk_transition(
        org=org, lead_ids=[movable.pk, stuck.pk], to="nurture", actor=rep, reason="Not now"
    )
    assert moved == 1 and len(problems) == 1 and stuck.email in problems[0]
    movable.refresh_from_db()
    assert movable.lifecycle_stage == "nurture"
