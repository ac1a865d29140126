"""Helpers shared by the HTML forms of every app."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from django import forms
from django.contrib import messages
from django.forms.models import ModelChoiceIterator
from django.http import HttpRequest

from smarketing.errors import DomainError

T = TypeVar("T")


def call_service(form: forms.Form, service: Callable[..., T], /, **kwargs: Any) -> T | None:
    """Run a service for a valid form; a domain error becomes an error on the form's field."""
    try:
        return service(**kwargs)
    except DomainError as exc:
        field = exc.field if exc.field in form.fields else None
        form.add_error(field, exc.message)
        return None


def call_action(request: HttpRequest, service: Callable[..., T], /, *, success: str, **kwargs: Any) -> T | None:
    """Run a service for a button (POST without a form); report the outcome as a message."""
    try:
        result = service(**kwargs)
    except DomainError as exc:
        messages.error(request, exc.message)
        return None
    messages.success(request, success)
    return result


class _ListedChoices(ModelChoiceIterator):
    def __iter__(self):
        if self.field.empty_label is not None:
            yield ("", self.field.empty_label)
        for obj in self.field.objects:
            yield self.choice(obj)

    def __len__(self) -> int:
        return len(self.field.objects) + (self.field.empty_label is not None)

    def __bool__(self) -> bool:
        return self.field.empty_label is not None or bool(self.field.objects)


class ListedChoiceField(forms.ModelChoiceField):
    """A model choice whose options are read once into ``objects`` (``set_objects``).

    A ``ModelChoiceField`` reads its queryset again each time it is rendered (on PostgreSQL
    through a server-side cursor) and once more to clean a value. The lead list's filter form
    also lends its campaigns and personas to the page's rows, so the list reads each once.
    """

    iterator = _ListedChoices

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.objects: list = []

    def set_objects(self, queryset, objects: list | None = None) -> None:
        """Options from ``queryset``, or ``objects`` when already read (e.g. by a prepared read)."""
        self.queryset = queryset
        self.objects = list(queryset) if objects is None else objects

    def to_python(self, value):
        if value in self.empty_values:
            return None
        found = next((obj for obj in self.objects if str(obj.pk) == str(value)), None)
        if found is None:
            raise forms.ValidationError(
                self.error_messages["invalid_choice"], code="invalid_choice", params={"value": value}
            )
        return found
