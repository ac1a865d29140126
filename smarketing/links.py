"""Links between pages: where a member starts, the way back to where a filtered list was opened
from, and periods in words.

The SLA's figures open the lead, handoff and deal lists with ``back=/sla/<id>/``; those lists
offer the way back. ``back`` must be a path of this site (as ``next`` is for the buttons).
"""

from __future__ import annotations

import calendar
from datetime import date

from django.http import HttpRequest
from django.urls import Resolver404, get_script_prefix, resolve, reverse
from django.utils.http import url_has_allowed_host_and_scheme

from smarketing.accounts.models import Membership


def start_url(membership: Membership | None) -> str:
    """Where a member starts (after logging in, switching organisation, or from the logo).

    A sales rep's day is their handoff queue: what is due, accept or return, open the lead; the
    organisation overview (``home``) stays one click away in the menu. Everyone else starts on
    the overview.
    """
    if membership is not None and membership.role == Membership.Role.SALES_REP:
        return path_of("handoffs:queue")
    return path_of("home")


_paths: dict[tuple[str, ...], str] = {}


def path_of(name: str) -> str:
    """``reverse(name)`` of a URL without arguments, reversed once per process (and script prefix):
    the header reverses its ~18 links on every page."""
    key = (get_script_prefix(), name)
    path = _paths.get(key)
    if path is None:
        path = _paths[key] = reverse(name)
    return path


def path_with_id(name: str, pk: int) -> str:
    """``reverse(name, args=[pk])`` for a URL taking one id: reversed once per process (and script
    prefix), then filled in per row (reversing for each row of a 50-row list took a quarter of
    its rendering)."""
    key = (get_script_prefix(), name, "{}")
    pattern = _paths.get(key)
    if pattern is None:
        path = reverse(name, args=[_ID_MARK]).replace("{", "{{").replace("}", "}}")
        pattern = _paths[key] = path.replace(str(_ID_MARK), "{}")
    return pattern.format(pk)


_ID_MARK = 7_340_912_785  # an id no path contains otherwise, wherever it sits in the path


# Where a list may send its reader back to, by URL namespace, and how the link reads.
BACK_LABELS = {"sla": "Back to the SLA"}


def back_link(request: HttpRequest) -> tuple[str, str] | None:
    """``(path, label)`` of the page the list was opened from, when ``back`` is one of ours."""
    back = request.GET.get("back", "")
    if not back.startswith("/") or not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        return None
    try:
        namespace = resolve(back.split("?", 1)[0]).namespace
    except Resolver404:
        return None
    return back, BACK_LABELS.get(namespace, "Back")


def days_text(start: date | None, end: date | None) -> str:
    """``in March 2026``, ``in Q1 2026``, ``from 3 Mar 2026 to 9 Mar 2026``, ``on 3 Mar 2026``, ``since …``."""
    if start and end:
        if start.day == 1 and end == date(end.year, end.month, calendar.monthrange(end.year, end.month)[1]):
            if (start.year, start.month) == (end.year, end.month):
                return f"in {start:%B %Y}"
            if start.year == end.year and start.month % 3 == 1 and end.month == start.month + 2:
                return f"in Q{(start.month - 1) // 3 + 1} {start.year}"
        if start == end:
            return f"on {start:%-d %b %Y}"
        return f"from {start:%-d %b %Y} to {end:%-d %b %Y}"
    if start:
        return f"since {start:%-d %b %Y}"
    if end:
        return f"until {end:%-d %b %Y}"
    return ""
