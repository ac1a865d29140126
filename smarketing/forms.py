"""Helpers shared by the HTML forms of every app."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from django import forms
from django.contrib import messages
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
