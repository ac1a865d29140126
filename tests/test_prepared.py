"""Reads and inserts with SQL built once (smarketing.prepared): the same rows and effects as the ORM."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.models.signals import post_save
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from leads.models import Company, Lead, StageChange
from personas.models import Persona
from smarketing.accounts import services
from smarketing.accounts.models import AccessToken, Organization, digest
from smarketing.prepared import PreparedInsert, PreparedInsertChain, PreparedRead
from tests.factories import PASSWORD, PersonaFactory

pytestmark = pytest.mark.django_db
URL = "/api/v1/leads"

token_by_digest = PreparedRead(
    lambda key_digest: AccessToken.objects.select_related("membership__organization", "membership__user").filter(
        key_digest=key_digest
    ),
    key_digest=str,
)
active_personas = PreparedRead(lambda org: Persona.objects.for_org(org).filter(archived_at=None), org=Organization)


def test_read_gives_the_rows_and_related_objects_the_orm_gives(marketer):
    _, raw = services.access_token_create(
        email=marketer.user.email, password=PASSWORD, organization_slug=marketer.organization.slug
    )
    expected = AccessToken.objects.get(key_digest=digest(raw))
    [token] = token_by_digest(key_digest=digest(raw))
    assert token == expected and token.created_at == expected.created_at and token.prefix == expected.prefix
    with CaptureQueriesContext(connection) as queries:  # joined in, not fetched
        assert token.membership.organization == marketer.organization
        assert token.membership.user.email == marketer.user.email
        assert token.membership.organization.working_days == marketer.organization.working_days  # JSON, decoded
    assert not queries.captured_queries
    assert token_by_digest(key_digest=digest(raw + "x")) == []


def test_read_is_scoped_to_the_organisation(org, other_org):
    mine = PersonaFactory(organization=org, name="Ops Oliver")
    PersonaFactory(organization=other_org, name="Theirs")
    PersonaFactory(organization=org, name="Archived", archived_at=timezone.now())
    assert active_personas(org=org) == [mine]


@pytest.mark.parametrize("org", [None, Organization(name="Unsaved")])
def test_read_without_a_saved_organisation_is_refused(org):
    with pytest.raises(ValueError):
        active_personas(org=org)


@pytest.mark.postgres
def test_read_is_prepared_once_a_connection_and_logs_its_sql(org):
    persona = PersonaFactory(organization=org)
    read = PreparedRead(lambda org: Persona.objects.for_org(org), org=Organization)
    with CaptureQueriesContext(connection) as queries:
        assert read(org=org) == [persona]
        assert read(org=org) == [persona]
    assert [q["sql"].split(" ", 1)[0] for q in queries.captured_queries] == ["EXECUTE", "EXECUTE"]
    assert all('FROM "personas_persona"' in q["sql"] for q in queries.captured_queries)


@override_settings(DB_PREPARED_STATEMENTS=False)
def test_read_runs_plain_sql_when_prepared_statements_are_off(org):
    persona = PersonaFactory(organization=org)
    read = PreparedRead(lambda org: Persona.objects.for_org(org), org=Organization)
    with CaptureQueriesContext(connection) as queries:
        assert read(org=org) == [persona]
    assert queries.captured_queries[0]["sql"].startswith("SELECT")


def test_company_domains_match_letter_for_letter_not_as_patterns(api, marketer):
    """The company lookup is ``iexact``: SQLite's is a LIKE, whose ``_`` matches any character."""
    client = api(marketer)
    # As a pattern, north_wind matches northXwind, made first.
    second = client.post(URL, {"email": "bob@b.example", "company_domain": "northXwind.example"}, format="json")
    first = client.post(URL, {"email": "ann@a.example", "company_domain": "north_wind.example"}, format="json")
    third = client.post(URL, {"email": "cy@c.example", "company_domain": "NORTH_WIND.example"}, format="json")
    assert (first.status_code, second.status_code, third.status_code) == (201, 201, 201)
    assert first.json()["company"]["id"] != second.json()["company"]["id"]
    assert third.json()["company"]["id"] == first.json()["company"]["id"]
    assert Company.objects.filter(organization=marketer.organization).count() == 2


def test_insert_sets_the_id_and_saves_what_save_would(org):
    lead = Lead(organization=org, email="ann@north.example", first_name="Ann", created_at=timezone.now())
    lead.updated_at = lead.created_at
    PreparedInsert(Lead)(lead)
    assert lead.pk is not None and not lead._state.adding
    stored = Lead.objects.get(pk=lead.pk)
    assert (stored.email, stored.first_name, stored.lifecycle_stage) == (
        "ann@north.example",
        "Ann",
        lead.lifecycle_stage,
    )


def test_insert_still_sends_save_signals_when_something_listens(org):
    lead = Lead.objects.create(organization=org, email="ann@north.example")
    heard = []

    def receiver(sender, instance, created, **kwargs):
        heard.append((instance.pk, created))

    post_save.connect(receiver, sender=StageChange)
    try:
        change = StageChange(organization=org, lead=lead, to_stage="lead", changed_at=timezone.now(), rule="test")
        PreparedInsert(StageChange)(change)
    finally:
        post_save.disconnect(receiver, sender=StageChange)
    assert heard == [(change.pk, True)]


def test_insert_refuses_a_row_that_exists(org):
    lead = Lead.objects.create(organization=org, email="ann@north.example")
    with pytest.raises(ValueError):
        PreparedInsert(Lead)(lead)


def test_insert_of_a_row_keyed_by_its_lead(org):
    from leads.models import LeadScore, LeadScoreExplanation

    lead = Lead.objects.create(organization=org, email="ann@north.example")
    PreparedInsert(LeadScore)(LeadScore(lead=lead, organization=org, fit=7, total=7))
    PreparedInsert(LeadScoreExplanation)(LeadScoreExplanation(lead=lead, explanation={"fit": [{"points": 7}]}))
    lead = Lead.objects.select_related("score", "score_explanation_row").get(pk=lead.pk)
    assert (lead.score.fit, lead.score.total) == (7, 7)
    assert lead.score_explanation_row.explanation == {"fit": [{"points": 7}]}


def chain_rows(org, email="ann@north.example"):
    from leads.models import LeadScore

    now = timezone.now()
    lead = Lead(organization=org, email=email, created_at=now, updated_at=now)
    score = LeadScore(organization=org, fit=12, engagement=3.0, total=15)
    change = StageChange(organization=org, to_stage="lead", changed_at=now, rule="test", reason="New lead")
    return lead, score, change


def test_chain_inserts_a_row_and_the_rows_that_refer_to_it(org):
    from leads.models import LeadScore

    lead, score, change = chain_rows(org)
    with CaptureQueriesContext(connection) as queries:
        PreparedInsertChain(Lead, LeadScore, StageChange)(lead, score, change)
    assert lead.pk and change.pk and not (lead._state.adding or score._state.adding or change._state.adding)
    assert (score.lead_id, change.lead_id, change.lead) == (lead.pk, lead.pk, lead)
    stored = Lead.objects.select_related("score").get(pk=lead.pk)
    assert (stored.email, stored.score.fit, stored.score.engagement, stored.score.total) == (
        "ann@north.example",
        12,
        3.0,
        15,
    )
    assert list(stored.stage_changes.values_list("pk", "to_stage", "reason")) == [(change.pk, "lead", "New lead")]
    # One statement on PostgreSQL (a data-modifying WITH); one INSERT a row elsewhere.
    inserts = [q["sql"] for q in queries.captured_queries if "INSERT" in q["sql"]]
    assert len(inserts) == (1 if connection.vendor == "postgresql" else 3)


@pytest.mark.parametrize("failing", ["lead", "stage change"])
def test_chain_fails_whole_when_a_row_fails(org, failing):
    from django.db import IntegrityError, transaction

    from leads.models import LeadScore

    existing = Lead.objects.create(organization=org, email="ann@north.example")
    lead, score, change = chain_rows(org, email="ANN@north.example" if failing == "lead" else "bob@north.example")
    if failing == "stage change":
        change.to_stage = None  # NOT NULL: the last row of the statement fails
    with pytest.raises(IntegrityError), transaction.atomic():
        PreparedInsertChain(Lead, LeadScore, StageChange)(lead, score, change)
    assert list(Lead.objects.filter(organization=org)) == [existing]
    assert not StageChange.objects.filter(organization=org).exists()
    assert not LeadScore.objects.filter(organization=org).exists()


def test_chain_goes_row_by_row_when_a_receiver_listens(org):
    from leads.models import LeadScore

    heard = []

    def receiver(sender, instance, created, **kwargs):
        heard.append((instance.lead_id, created))

    lead, score, change = chain_rows(org)
    post_save.connect(receiver, sender=StageChange)
    try:
        PreparedInsertChain(Lead, LeadScore, StageChange)(lead, score, change)
    finally:
        post_save.disconnect(receiver, sender=StageChange)
    assert heard == [(lead.pk, True)]
    assert LeadScore.objects.get(lead=lead).fit == 12


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_statement_a_migration_made_stale_is_prepared_again(org):
    """A column it returns changed type: PostgreSQL refuses the old plan ("cached plan must not
    change result type"); outside a transaction the read prepares itself again at once, inside
    one it fails that transaction and works in the next."""
    from django.db import DatabaseError, transaction

    persona = PersonaFactory(organization=org, name="Ops Oliver")
    read = PreparedRead(lambda org: Persona.objects.for_org(org), org=Organization)
    assert read(org=org) == [persona]
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE personas_persona ALTER COLUMN name TYPE varchar(300)")
    try:
        assert read(org=org) == [persona]
        with connection.cursor() as cursor:
            cursor.execute("ALTER TABLE personas_persona ALTER COLUMN name TYPE varchar(100)")
        with pytest.raises(DatabaseError), transaction.atomic():
            read(org=org)
        with transaction.atomic():
            assert read(org=org) == [persona]
    finally:
        with connection.cursor() as cursor:
            cursor.execute("ALTER TABLE personas_persona ALTER COLUMN name TYPE varchar(100)")


@pytest.mark.django_db(transaction=True)
def test_a_thread_that_ends_leaves_no_connection_held(org):
    import gc
    import threading
    import weakref

    from django.db import connections

    PersonaFactory(organization=org)
    held = []

    def work():
        active_personas(org=org)
        PreparedInsert(Company)  # built, not used
        held.append(weakref.ref(connections["default"]))

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    gc.collect()
    assert held and held[0]() is None


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_credential_read_is_the_health_check_and_a_dropped_connection_is_replaced(api, marketer):
    """A request's first read (the credential) stands in for Django's health-check ``SELECT 1``: on a
    healthy connection no check is sent, and a connection the server dropped between requests is
    replaced and the request answered, as the ``SELECT 1`` check did."""
    from unittest import mock

    import psycopg2
    from django.db import close_old_connections, connections

    connection = connections["default"]
    client = api(marketer)
    assert client.get("/api/v1/me").status_code == 200
    assert connection.health_check_enabled  # CONN_HEALTH_CHECKS, as in production

    close_old_connections()  # what the start of a request does (the test client skips it)
    with mock.patch.object(type(connection), "is_usable", autospec=True, side_effect=lambda conn: True) as is_usable:
        assert client.get("/api/v1/me").status_code == 200
    assert not is_usable.called

    backend_pid = connection.connection.info.backend_pid
    params = connection.get_connection_params()
    with psycopg2.connect(**params) as other, other.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [backend_pid])
    other.close()
    close_old_connections()
    response = client.post(URL, {"email": "after.restart@example.com"}, format="json")
    assert response.status_code == 201
    assert connection.connection.info.backend_pid != backend_pid
    assert Lead.objects.filter(email="after.restart@example.com").exists()
