"""API credentials: people use ``Authorization: Bearer <token>``, machines ``Api-Key <key>``.

Either way the request ends up acting as one organisation, resolved here once:
``api_actor(request)`` is the membership (token or browser session) or the API key.
"""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from smarketing.accounts.models import AccessToken, ApiKey, Credential, Membership, Organization, digest
from smarketing.prepared import PreparedRead

LAST_USED_RESOLUTION = timedelta(minutes=1)


class MachineClient:
    """The ``request.user`` of a request made with an API key: no person, one organisation."""

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = False
    pk = None

    def __init__(self, api_key: ApiKey) -> None:
        self.api_key = api_key

    def __str__(self) -> str:
        return f"API key {self.api_key.name}"


class _CredentialAuthentication(authentication.BaseAuthentication):
    keyword = ""
    model: type[Credential]
    label = ""

    def authenticate(self, request: Request):
        parts = authentication.get_authorization_header(request).split()
        if not parts or parts[0].decode(errors="replace").lower() != self.keyword.lower():
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed(f"Send the {self.label} as “{self.keyword} <{self.label}>”.")
        raw = parts[1].decode(errors="replace")
        credential = self.lookup(raw)
        if credential is None:
            raise exceptions.AuthenticationFailed(f"This {self.label} is not valid.")
        now = timezone.now()
        problem = credential.problem(now)
        if problem:
            raise exceptions.AuthenticationFailed(f"This {self.label} {problem}.")
        self.check(credential)
        # Record use at most once a minute: ingestion must not write a row per request. The row read
        # above says whether it is due, so most requests send no UPDATE at all; the condition in the
        # UPDATE keeps concurrent requests from writing it twice.
        stale = now - LAST_USED_RESOLUTION
        if credential.last_used_at is None or credential.last_used_at <= stale:
            type(credential).objects.filter(pk=credential.pk).exclude(last_used_at__gt=stale).update(last_used_at=now)
        return self.principal(credential), credential

    def authenticate_header(self, request: Request) -> str:
        return self.keyword

    def lookup(self, raw: str) -> Credential | None:
        raise NotImplementedError

    def check(self, credential: Credential) -> None:
        """Further reasons to refuse a credential that is neither revoked nor expired."""

    def principal(self, credential: Credential):
        raise NotImplementedError


# Every API request reads its credential: SQL built once per process (key_digest is unique: no
# ORDER BY, the model's or .first()'s).
_token_by_digest = PreparedRead(
    lambda key_digest: (
        AccessToken.objects.select_related("membership__organization", "membership__user")
        .order_by()
        .filter(key_digest=key_digest)[:1]
    ),
    key_digest=str,
)
_api_key_by_digest = PreparedRead(
    lambda key_digest: ApiKey.objects.select_related("organization").order_by().filter(key_digest=key_digest)[:1],
    key_digest=str,
)


class AccessTokenAuthentication(_CredentialAuthentication):
    keyword = "Bearer"
    model = AccessToken
    label = "token"

    def lookup(self, raw: str) -> AccessToken | None:
        return next(iter(_token_by_digest(key_digest=digest(raw))), None)

    def check(self, credential: AccessToken) -> None:
        membership = credential.membership
        if membership.removed_at is not None:
            raise exceptions.AuthenticationFailed("This token's user is no longer a member of the organisation.")
        if not membership.user.is_active:
            raise exceptions.AuthenticationFailed("This token's user account is disabled.")

    def principal(self, credential: AccessToken):
        return credential.membership.user


class ApiKeyAuthentication(_CredentialAuthentication):
    keyword = "Api-Key"
    model = ApiKey
    label = "API key"

    def lookup(self, raw: str) -> ApiKey | None:
        return next(iter(_api_key_by_digest(key_digest=digest(raw))), None)

    def principal(self, credential: ApiKey) -> MachineClient:
        return MachineClient(credential)


def api_actor(request: Request) -> Membership | ApiKey | None:
    """Who is acting: the token's membership, the API key, or the browser session's membership."""
    if isinstance(request.auth, AccessToken):
        return request.auth.membership
    if isinstance(request.auth, ApiKey):
        return request.auth
    return getattr(request._request, "membership", None)


def api_organization(request: Request) -> Organization | None:
    actor = api_actor(request)
    return actor.organization if actor is not None else None


class AccessTokenScheme(OpenApiAuthenticationExtension):
    target_class = AccessTokenAuthentication
    name = "bearerToken"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "description": "From POST /api/v1/auth/token."}


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = ApiKeyAuthentication
    name = "apiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "“Api-Key <key>”; keys are created in Settings → API keys.",
        }
