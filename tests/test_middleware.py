"""Middleware that sets up less for requests that do not use it (smarketing.middleware)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_a_message_added_on_one_page_is_shown_on_the_next(client):
    client.force_login(UserFactory())  # signed in, a member of no organisation
    response = client.get("/home/", follow=True)
    assert response.redirect_chain[-1][0] == reverse("accounts:organization_create")
    assert "Create an organisation, or ask an admin to invite you to one." in response.content.decode()
    again = client.get(response.redirect_chain[-1][0])
    assert "Create an organisation, or ask an admin to invite you to one." not in again.content.decode()


def test_an_api_request_leaves_no_message_or_session_cookie(api, marketer):
    response = api(marketer).post("/api/v1/leads", {"email": "ann@northwind.example"}, format="json")
    assert response.status_code == 201
    assert not response.cookies
