"""Fixtures every test may use: an organisation with one member per role, and an outsider."""

from __future__ import annotations

import os

import pytest
from rest_framework.test import APIClient

from smarketing.accounts import services
from smarketing.accounts.models import Membership
from tests.factories import PASSWORD, MembershipFactory, OrganizationFactory

Role = Membership.Role


@pytest.fixture
def org(db):
    return OrganizationFactory(name="Acme Software", slug="acme")


@pytest.fixture
def admin(org):
    return MembershipFactory(organization=org, role=Role.ADMIN, side="", user__email="admin@acme.test")


@pytest.fixture
def manager(org):
    return MembershipFactory(organization=org, role=Role.MANAGER, side="sales", user__email="manager@acme.test")


@pytest.fixture
def marketer(org):
    return MembershipFactory(organization=org, role=Role.MARKETER, user__email="marketer@acme.test")


@pytest.fixture
def rep(org):
    return MembershipFactory(organization=org, role=Role.SALES_REP, user__email="rep@acme.test")


@pytest.fixture
def partner_user(org):
    return MembershipFactory(organization=org, role=Role.PARTNER, side="", user__email="partner@acme.test")


@pytest.fixture
def other_org(db):
    return OrganizationFactory(name="Globex", slug="globex")


@pytest.fixture
def outsider(other_org):
    """An admin of another organisation: every id of ``org`` must be a 404 to them."""
    return MembershipFactory(organization=other_org, role=Role.ADMIN, side="", user__email="admin@globex.test")


@pytest.fixture
def login(client):
    """``login(membership)``: a Django test client signed in and acting in that organisation."""

    def _login(membership: Membership):
        client.force_login(membership.user)
        session = client.session
        session["organization_id"] = membership.organization_id
        session.save()
        return client

    return _login


@pytest.fixture
def api():
    """``api(membership)``: an API client with a real bearer token for that membership."""

    def _api(membership: Membership) -> APIClient:
        _, raw = services.access_token_create(
            email=membership.user.email, password=PASSWORD, organization_slug=membership.organization.slug
        )
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
        return client

    return _api


@pytest.fixture
def api_key_client(org):
    _, raw = services.api_key_create(organization=org, name="Website")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw}")
    return client


def pytest_collection_modifyitems(config, items):
    """Tests needing a real worker or PostgreSQL are skipped, with the reason, where there is none."""
    from django.conf import settings

    no_worker = pytest.mark.skip(reason="needs REDIS_URL and a running Celery worker (CI starts one)")
    no_postgres = pytest.mark.skip(reason="needs PostgreSQL (set DATABASE_URL)")
    for item in items:
        if "celery_worker" in item.keywords and not os.environ.get("REDIS_URL"):
            item.add_marker(no_worker)
        if "postgres" in item.keywords and not settings.USING_POSTGRES:
            item.add_marker(no_postgres)


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Throttle counters live in the cache: each test starts with none."""
    from django.core.cache import cache

    cache.clear()
    yield


@pytest.fixture(scope="session", autouse=True)
def _json_support_probed(django_db_setup, django_db_blocker):
    """On SQLite, Django asks the database whether it supports JSON (one query) the first time a
    connection needs to know, e.g. for the handoff queue's ``JSONObject``: ask once up front, so an
    exact query count does not depend on which test happened to run first."""
    from django.db import connection

    with django_db_blocker.unblock():
        assert connection.features.supports_json_field
