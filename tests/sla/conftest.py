"""The SLA tests use the handoff tests' "Sales" team."""

from tests.leads.conftest import sales  # noqa: F401
