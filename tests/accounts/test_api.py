from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from smarketing.accounts import services
from smarketing.accounts.models import AccessToken, ApiKey, Invitation, Membership
from tests.factories import PASSWORD, MembershipFactory

pytestmark = pytest.mark.django_db


def test_token_for_email_and_password(rep):
    response = APIClient().post("/api/v1/auth/token", {"email": "rep@acme.test", "password": PASSWORD}, format="json")
    assert response.status_code == 201
    body = response.json()
    assert body["organization"]["slug"] == "acme" and body["role"] == "sales_rep"
    me = APIClient(headers={"Authorization": f"Bearer {body['token']}"}).get("/api/v1/me")
    assert me.json()["email"] == "rep@acme.test"
    assert "members.view" in me.json()["actions"] and "members.manage" not in me.json()["actions"]


@pytest.mark.parametrize(
    ("payload", "status", "detail"),
    [
        ({"email": "rep@acme.test", "password": "wrong"}, 400, "incorrect"),
        ({"email": "rep@acme.test", "password": PASSWORD, "organization": "globex"}, 400, "not a member"),
        ({"email": "not-an-email"}, 400, None),
    ],
)
def test_bad_token_requests_get_json_errors(rep, payload, status, detail):
    response = APIClient().post("/api/v1/auth/token", payload, format="json")
    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    if detail:
        assert detail in response.json()["detail"]
    assert not AccessToken.objects.exists()


def test_missing_credentials_are_401(db):
    response = APIClient().get("/api/v1/me")
    assert response.status_code == 401 and "detail" in response.json()


def test_token_of_removed_member_is_refused_with_reason(api, rep):
    client = api(rep)
    Membership.objects.filter(pk=rep.pk).update(removed_at=timezone.now())  # removed by another path
    response = client.get("/api/v1/me")
    assert response.status_code == 401
    assert "no longer a member" in response.json()["detail"]


def test_token_of_removed_member_via_service_is_revoked(api, rep):
    client = api(rep)
    services.membership_remove(membership=rep)
    response = client.get("/api/v1/me")
    assert response.status_code == 401 and "revoked" in response.json()["detail"]


def test_expired_token_is_refused(api, rep):
    client = api(rep)
    AccessToken.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert "expired" in client.get("/api/v1/me").json()["detail"]


def test_logging_out_revokes_the_token(api, rep):
    client = api(rep)
    assert client.delete("/api/v1/auth/token/current").status_code == 204
    assert client.get("/api/v1/me").status_code == 401


def test_token_use_is_recorded_at_most_once_a_minute(api, rep, django_assert_max_num_queries):
    client = api(rep)
    client.get("/api/v1/me")
    recorded = AccessToken.objects.get().last_used_at
    assert recorded is not None
    with django_assert_max_num_queries(5) as queries:
        assert client.get("/api/v1/me").status_code == 200
    assert not [q for q in queries.captured_queries if q["sql"].startswith("UPDATE")]
    assert AccessToken.objects.get().last_used_at == recorded
    AccessToken.objects.update(last_used_at=timezone.now() - timedelta(minutes=2))
    client.get("/api/v1/me")
    assert AccessToken.objects.get().last_used_at > recorded


def test_api_key_reads_its_organisation(api_key_client, org):
    response = api_key_client.get("/api/v1/organization")
    assert response.status_code == 200 and response.json()["slug"] == org.slug
    assert ApiKey.objects.get().last_used_at is not None


def test_api_key_cannot_administer(api_key_client):
    assert api_key_client.get("/api/v1/members").status_code == 403
    assert api_key_client.post("/api/v1/api-keys", {"name": "x"}).status_code == 403


@pytest.mark.parametrize(
    ("header", "detail"),
    [("Api-Key smk_nonsense", "not valid"), ("Api-Key", "Send the API key as"), ("Bearer smt_nope", "not valid")],
)
def test_malformed_or_unknown_credentials(db, header, detail):
    response = APIClient(headers={"Authorization": header}).get("/api/v1/organization")
    assert response.status_code == 401 and detail in response.json()["detail"]


def test_revoked_and_expired_api_keys_are_refused(org):
    key, raw = services.api_key_create(organization=org, name="Site")
    client = APIClient(headers={"Authorization": f"Api-Key {raw}"})
    ApiKey.objects.filter(pk=key.pk).update(expires_at=timezone.now())
    assert "expired" in client.get("/api/v1/organization").json()["detail"]
    services.api_key_revoke(api_key=key)
    response = client.get("/api/v1/organization")
    assert response.status_code == 401 and "revoked" in response.json()["detail"]


def test_member_list_paginates_with_constant_queries(api, admin, django_assert_max_num_queries):
    MembershipFactory.create_batch(30, organization=admin.organization)
    client = api(admin)
    with django_assert_max_num_queries(6):
        response = client.get("/api/v1/members?page_size=20")
    body = response.json()
    assert len(body["results"]) == 20 and body["next"]
    assert len(client.get(body["next"]).json()["results"]) == 11


def test_admin_changes_role_and_removes_member(api, admin, rep):
    client = api(admin)
    response = client.patch(f"/api/v1/members/{rep.pk}", {"role": "manager", "side": "sales"}, format="json")
    assert response.status_code == 200 and response.json()["role"] == "manager"
    assert client.delete(f"/api/v1/members/{rep.pk}").status_code == 204
    assert client.get(f"/api/v1/members/{rep.pk}").status_code == 404


def test_domain_rule_violations_are_409_with_message(api, admin):
    response = api(admin).delete(f"/api/v1/members/{admin.pk}")
    assert response.status_code == 409 and "at least one admin" in response.json()["detail"]


def test_rep_cannot_change_roles(api, rep, marketer):
    response = api(rep).patch(f"/api/v1/members/{marketer.pk}", {"role": "admin"}, format="json")
    assert response.status_code == 403
    marketer.refresh_from_db()
    assert marketer.role == "marketer"


def test_invitations_over_the_api(api, admin, rep):
    client = api(admin)
    response = client.post("/api/v1/invitations", {"email": "new@acme.test", "role": "marketer"}, format="json")
    assert response.status_code == 201 and response.json()["side"] == "marketing"
    duplicate = client.post("/api/v1/invitations", {"email": rep.user.email, "role": "marketer"}, format="json")
    assert duplicate.status_code == 400
    assert duplicate.json() == {"detail": f"{rep.user.email} is already a member of Acme Software.", "field": "email"}
    invitation_id = response.json()["id"]
    assert client.delete(f"/api/v1/invitations/{invitation_id}").status_code == 204
    assert Invitation.objects.get().status == Invitation.Status.REVOKED
    assert client.delete(f"/api/v1/invitations/{invitation_id}").status_code == 409


def test_api_key_created_over_the_api_is_shown_once(api, admin):
    client = api(admin)
    created = client.post("/api/v1/api-keys", {"name": "Website"}, format="json").json()
    assert created["key"].startswith("smk_")
    listed = client.get("/api/v1/api-keys").json()["results"]
    assert "key" not in listed[0]
    using_it = APIClient(headers={"Authorization": f"Api-Key {created['key']}"})
    assert using_it.get("/api/v1/organization").status_code == 200


def test_schema_and_docs_are_served_without_cdn(client):
    schema = client.get("/api/schema/")
    assert schema.status_code == 200 and b"/api/v1/auth/token" in schema.content
    docs = client.get("/api/docs/").content.decode()
    assert "cdn" not in docs.lower() and "/static/drf_spectacular_sidecar/" in docs


def test_password_guessing_is_throttled(rep, settings):
    client = APIClient()
    codes = [
        client.post(
            "/api/v1/auth/token", {"email": "rep@acme.test", "password": f"guess{i}"}, format="json"
        ).status_code
        for i in range(11)
    ]
    assert codes[:10] == [400] * 10
    assert codes[10] == 429


def test_validation_errors_have_the_common_shape(db):
    response = APIClient().post("/api/v1/auth/token", {"email": "not-an-email"}, format="json")
    body = response.json()
    assert response.status_code == 400
    assert body["field"] == "email" and body["detail"].startswith("email: ")
    assert set(body["errors"]) == {"email", "password"}
