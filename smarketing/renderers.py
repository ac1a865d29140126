"""The form renderer: Django's own, with the common widgets written out in Python.

Django renders every widget, and every ``<option>`` of a select, through a template include.
On the lead list's filter form (14 fields, selects of stages, channels, campaigns and
personas) those includes were 15% of the page's profiled time at 1,000,000 leads
(bench/lead_list.py). ``FastRenderer`` makes the same markup for the templates below, byte for
byte (tests/test_renderers.py compares it with Django's renderer), and leaves any other
template, a custom option template included, to Django.
"""

from __future__ import annotations

from collections.abc import Callable

from django.forms.renderers import DjangoTemplates
from django.utils.formats import localize
from django.utils.html import conditional_escape
from django.utils.safestring import mark_safe
from django.utils.timezone import template_localtime

_W = "django/forms/widgets/"
_OPTION = f"{_W}select_option.html"


def _text(value: object) -> str:
    """``{{ value }}`` in a template: in the current time zone, localized, then escaped unless safe."""
    return conditional_escape(localize(template_localtime(value)))


def _attrs(attrs: dict) -> str:
    """``attrs.html``: ``True`` writes the bare name, ``False`` leaves the attribute out."""
    parts = []
    for name, value in attrs.items():
        if value is False:
            continue
        if value is True:
            parts.append(f" {conditional_escape(name)}")
        else:
            parts.append(f' {conditional_escape(name)}="{conditional_escape(value)}"')
    return "".join(parts)


def _input(widget: dict) -> str:
    value = widget["value"]
    value_attr = "" if value is None else f' value="{conditional_escape(value)}"'
    return f'<input type="{_text(widget["type"])}" name="{_text(widget["name"])}"{value_attr}{_attrs(widget["attrs"])}>'


def _textarea(widget: dict) -> str:
    value = widget["value"]
    text = _text(value) if value else ""
    return f'<textarea name="{_text(widget["name"])}"{_attrs(widget["attrs"])}>\n{text}</textarea>'


def _select(widget: dict) -> str | None:
    parts = [f'<select name="{_text(widget["name"])}"{_attrs(widget["attrs"])}>']
    for group_name, options, _index in widget["optgroups"]:
        if group_name:
            parts.append(f'\n  <optgroup label="{_text(group_name)}">')
        for option in options:
            if option["template_name"] != _OPTION:
                return None  # a custom option template: Django renders the whole select
            parts.append(
                f'\n  <option value="{conditional_escape(option["value"])}"{_attrs(option["attrs"])}>'
                f"{_text(option['label'])}</option>\n"  # select_option.html ends in a newline
            )
        if group_name:
            parts.append("\n  </optgroup>")
    parts.append("\n</select>")
    return "".join(parts)


# Each of these templates is ``{% include "django/forms/widgets/input.html" %}`` in Django 5.2.
_INPUTS = (
    "input",
    "text",
    "number",
    "email",
    "url",
    "password",
    "hidden",
    "date",
    "datetime",
    "time",
    "checkbox",
    "search",
    "tel",
    "color",
)
WRITERS: dict[str, Callable[[dict], str | None]] = {
    **{f"{_W}{name}.html": _input for name in _INPUTS},
    f"{_W}textarea.html": _textarea,
    f"{_W}select.html": _select,
}


class FastRenderer(DjangoTemplates):
    """Django's default form renderer, with ``WRITERS`` for the widgets they cover."""

    def render(self, template_name, context, request=None):
        writer = WRITERS.get(template_name)
        if writer is not None and "widget" in context:
            html = writer(context["widget"])
            if html is not None:
                return mark_safe(html.strip())  # noqa: S308 - every value in it is escaped by the writers
        return super().render(template_name, context, request=request)
