"""API plumbing against stock Django and DRF (cases found in review): import order, a dead connection,
negotiation, validators given to a serializer."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from unittest import mock

import pytest
from rest_framework import serializers
from rest_framework import views as _drf_views  # noqa: F401  (before smarketing.api: see the first test)
from rest_framework.renderers import JSONRenderer
from rest_framework.test import APIRequestFactory

pytestmark = pytest.mark.django_db


def test_smarketing_api_can_be_imported_first():
    """DEFAULT_CONTENT_NEGOTIATION_CLASS names a class of smarketing.api, which imports
    rest_framework.views, whose APIView body imports that setting: a process that imports
    smarketing.api before any DRF view module (``pytest tests/leads/test_handoffs.py`` alone, a
    shell, a script) gets ImportError: circular import. It worked before the merge."""
    code = "import django; django.setup(); import smarketing.api"
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=Path(__file__).resolve().parent.parent,
        env={"DJANGO_SETTINGS_MODULE": "smarketing.test_settings", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr.strip().splitlines()[-1]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_dead_connection_reported_as_plain_database_error_is_replaced(api, marketer):
    """Django's check (``is_usable``) treats *any* driver error of ``SELECT 1`` as a dead connection.
    psycopg2 raises a bare ``DatabaseError`` (no SQLSTATE) when libpq has not yet flagged the
    connection bad ("SSL SYSCALL error: EOF detected", "error with status PGRES_TUPLES_OK and no
    message from the libpq"); the credential read that replaced the check lets it through: a 500."""
    import psycopg2
    from django.db import DatabaseError, close_old_connections, connections

    from smarketing import prepared

    connection = connections["default"]
    client = api(marketer)
    assert client.get("/api/v1/me").status_code == 200
    with psycopg2.connect(**connection.get_connection_params()) as other, other.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [connection.connection.info.backend_pid])
    other.close()
    close_old_connections()  # start of the next request

    real, calls = prepared._execute, []

    def execute(*args):
        calls.append(1)
        if len(calls) == 1:  # the driver's report of the dead connection, as psycopg2 gives it without SQLSTATE
            raise DatabaseError("SSL SYSCALL error: EOF detected")
        return real(*args)

    with mock.patch.object(prepared, "_execute", execute):
        response = client.get("/api/v1/me")
    assert response.status_code == 200


def test_negotiation_shortcut_picks_the_renderer_drf_would_not():
    """Latent (no renderer here has parameters): for ``*/*`` DRF skips a renderer whose media type
    has parameters the Accept does not carry; the shortcut always takes the first."""

    class VersionedJSON(JSONRenderer):
        media_type = "application/json; version=2"

    renderers = [VersionedJSON(), JSONRenderer()]
    request = APIRequestFactory().get("/api/v1/leads", HTTP_ACCEPT="*/*")
    from rest_framework.request import Request

    from smarketing.negotiation import ContentNegotiation

    drf = ContentNegotiation.__mro__[1]().select_renderer(Request(request), renderers)
    ours = ContentNegotiation().select_renderer(Request(request), renderers)
    assert type(ours[0]) is type(drf[0]) and ours[1] == drf[1]


def test_fast_path_runs_validators_given_to_the_serializer():
    """Latent (no call site passes ``validators=``): DRF runs them; the fast path checks only
    ``get_validators()`` (Meta.validators), not ``self.validators``."""
    from leads.lead_api import LeadInputSerializer

    def no_example_domains(attrs):
        if attrs["email"].endswith("@example.com"):
            raise serializers.ValidationError("No example.com.")

    data = LeadInputSerializer(data={"email": "ann@example.com"}, validators=[no_example_domains])
    assert not data.is_valid()
