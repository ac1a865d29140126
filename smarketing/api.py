"""API plumbing shared by every app: the error shape and the organisation-scoped base view."""

from __future__ import annotations

import copy

from django.core.exceptions import ImproperlyConfigured
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models
from rest_framework import pagination, serializers, status
from rest_framework.exceptions import NotAuthenticated, ValidationError
from rest_framework.fields import SkipField, empty
from rest_framework.response import Response
from rest_framework.utils.serializer_helpers import BindingDict
from rest_framework.views import exception_handler as drf_exception_handler

from smarketing.accounts.authentication import api_actor
from smarketing.accounts.models import ApiKey, Membership, Organization
from smarketing.errors import DomainError


def exception_handler(exc: Exception, context: dict) -> Response | None:
    """Every error has one shape: ``{"detail": "...", "field": "..."}``.

    ``field`` names the input at fault when there is one. Serializer validation, which may
    find several faults at once, also lists them all under ``errors`` ({field: [messages]}).
    """
    if isinstance(exc, DomainError):
        body = {"detail": exc.message}
        if exc.field:
            body["field"] = exc.field
        return Response(body, status=exc.status_code)
    if isinstance(exc, ValidationError):
        return Response(_validation_body(exc.detail), status=exc.status_code)
    response = drf_exception_handler(exc, context)
    if isinstance(exc, NotAuthenticated) and response is not None:
        response.status_code = status.HTTP_401_UNAUTHORIZED
    return response


def _validation_body(detail) -> dict:
    if isinstance(detail, dict):
        errors = {
            field: [str(m) for m in (msgs if isinstance(msgs, list) else [msgs])] for field, msgs in detail.items()
        }
        field, messages = next(iter(errors.items()))
        first = messages[0] if messages else "Invalid input."
        body = {"detail": first if field == "non_field_errors" else f"{field}: {first}", "errors": errors}
        if field != "non_field_errors":
            body["field"] = field
        return body
    messages = [str(m) for m in (detail if isinstance(detail, list) else [detail])]
    return {"detail": " ".join(messages) or "Invalid input."}


class OrgScopedMixin:
    """For API views: ``self.org`` and ``self.actor`` from the credential; querysets via ``for_org``.

    Subclasses set ``queryset`` (a model with ``OrgQuerySet``) and may override
    ``get_org_queryset(org)`` to read through a selector; either way every object comes from
    the caller's organisation, so another organisation's id is a 404.
    """

    @property
    def actor(self) -> Membership | ApiKey:
        return api_actor(self.request)

    @property
    def org(self) -> Organization:
        return self.actor.organization

    def get_queryset(self) -> models.QuerySet:
        if getattr(self, "swagger_fake_view", False):  # schema generation: no request, no org
            return self.queryset.none()
        return self.get_org_queryset(self.org)

    def get_org_queryset(self, org: Organization) -> models.QuerySet:
        """Override to read through a selector; the default scopes ``queryset`` to ``org``."""
        return self.queryset.for_org(org)


class FieldsBuiltOnceMixin:
    """For output serializers whose fields read nothing from the context (no request, no view, no org).

    DRF builds a serializer's fields anew for every instance (deep copies of the declared fields,
    and a ModelSerializer inspects its model again): for a lead that costs more than turning it
    into JSON. Such fields keep no per-request state, so they are built once per class, bound to a
    context-free instance, and shared. Input serializers must not use this: ``OrgRelatedField``
    reads the caller's organisation from the context.
    """

    @property
    def fields(self) -> BindingDict:
        cls = type(self)
        shared = cls.__dict__.get("_shared_fields")
        if shared is None:
            template = cls()
            shared = BindingDict(template)
            for name, field in template.get_fields().items():
                shared[name] = field
            cls._shared_fields = shared  # built twice at worst by racing threads: same result
        return shared


# Fields whose validation of a given value reads nothing but the field itself (no parent
# serializer, no context, no request): exactly these classes, not subclasses.
_PLAIN_FIELDS = (serializers.CharField, serializers.EmailField, serializers.ChoiceField, serializers.IntegerField)


class FieldsCopiedMixin:
    """For input serializers on a hot path: each instance's fields are shallow copies of fields
    built once per class, instead of DRF's deep copies of every declared field (for a lead's 14
    fields, their querysets included, 0.2 ms a request).

    Binding a copy to this serializer sets its name, parent and source on the copy, so a field
    that reads the context (``OrgRelatedField``: the caller's organisation) reads this request's.
    What the copies share is what DRF sets up once per field and only reads afterwards (choices,
    validators, error messages, the queryset a related field starts from). So: plain fields only
    (a nested serializer's own fields would be shared, bound to the first instance), and no
    serializer may change a field's mutable parts per instance.

    Valid JSON input that only sets plain fields (text, email, choice, integer) is validated by
    those fields built once, without copying and binding any: each given value goes through its
    field's own ``run_validation``, as DRF's ``to_internal_value`` sends it, in the fields' order,
    then the serializer's ``validate``. Anything else (a related field such as ``owner``, a key
    that is not a field, a missing required field, a value its field refuses, a PATCH, form data)
    goes through DRF's validation from the start, so every error is DRF's own, all of them at once.
    Fields are the class's declared ones: a subclass that overrides ``get_fields``, or a field
    validator that needs the context (``UniqueValidator``), does not belong on this mixin.
    """

    def get_fields(self) -> dict:
        return {name: copy.copy(field) for name, field in self._built_fields().items()}

    @classmethod
    def _built_fields(cls) -> dict:
        built = cls.__dict__.get("_unbound_fields")
        if built is None:
            built = copy.deepcopy(cls._declared_fields)
            nested = [name for name, field in built.items() if isinstance(field, serializers.BaseSerializer)]
            if nested:
                raise ImproperlyConfigured(
                    f"{cls.__name__}: nested serializers ({', '.join(nested)}) need deep copies."
                )
            cls._unbound_fields = built  # built twice at worst by racing threads: same result
        return built

    @classmethod
    def _plain_fields(cls) -> tuple[dict, frozenset]:
        """The fields a value can be validated by without binding, and the names that must be given."""
        plain = cls.__dict__.get("_plain")
        if plain is None:
            fields = {
                name: field
                for name, field in cls._built_fields().items()
                if type(field) in _PLAIN_FIELDS
                and not field.read_only
                and field.source in (None, name)
                and not hasattr(cls, f"validate_{name}")
            }
            required = frozenset(name for name, field in cls._built_fields().items() if field.required)
            if any(field.default is not empty for field in cls._built_fields().values()):
                fields = {}  # DRF fills in defaults of fields not given: left to it
            plain = cls._plain = (fields, required)
        return plain

    def run_validation(self, data=empty):
        fields, required = self._plain_fields()
        if (
            type(data) is not dict
            or getattr(self, "partial", False)
            or self.validators  # Meta.validators, or those given to the serializer
            or not required <= data.keys()
            or not data.keys() <= fields.keys()
        ):
            return super().run_validation(data)
        try:
            value = {name: field.run_validation(data[name]) for name, field in fields.items() if name in data}
            return self.validate(value)
        except (ValidationError, DjangoValidationError, SkipField):
            return super().run_validation(data)  # DRF's errors, every one of them


class CursorPagination(pagination.CursorPagination):
    """Stable pages that never count the table; the view names its ``ordering`` (default ``-id``)."""

    ordering = "-id"
    page_size_query_param = "page_size"
    max_page_size = 200

    def get_ordering(self, request, queryset, view) -> tuple[str, ...]:
        ordering = getattr(view, "ordering", None) or self.ordering
        return (ordering,) if isinstance(ordering, str) else tuple(ordering)
