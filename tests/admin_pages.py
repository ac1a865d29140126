"""The Django admin as the operator's staff use it: signed in as a superuser, posting a change
form back as the browser would."""

from __future__ import annotations

from django.test import Client

from smarketing.accounts.models import User
from tests.factories import PASSWORD


def operator_login(client: Client) -> Client:
    """``client`` signed in as a staff superuser (no membership: the admin spans organisations)."""
    client.force_login(User.objects.create_superuser("ops@smarketing.test", PASSWORD))
    return client


def change_form_data(response) -> dict[str, str | list[str]]:
    """The values a change form page would post back untouched: its editable fields only (the
    read-only ones are not in the form)."""
    form = response.context["adminform"].form
    data: dict[str, str | list[str]] = {}
    for name, field in form.fields.items():
        value = form[name].value()
        if hasattr(field.widget, "widgets"):  # a date and time in two inputs
            for i, part in enumerate(field.widget.decompress(value)):
                data[f"{name}_{i}"] = "" if part is None else str(part)
        elif isinstance(value, bool):
            if value:
                data[name] = "on"
        elif isinstance(value, list | tuple):
            data[name] = [str(v) for v in value]
        else:
            data[name] = "" if value is None else str(value)
    return data
