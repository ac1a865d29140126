from __future__ import annotations

from collections.abc import Callable

from django import template
from django.urls import ResolverMatch
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from smarketing.accounts import policy
from smarketing.links import path_of, start_url

register = template.Library()


@register.filter
def can(actor, action: str) -> bool:
    """``{% if membership|can:"members.manage" %}``: the policy module, in templates."""
    return policy.can(actor, action)


def _app(name: str) -> Callable[[ResolverMatch], bool]:
    return lambda match: match.app_name == name


def _url_name(match: ResolverMatch) -> str:
    return match.url_name or ""


# The header's menu: (label, URL name, the permission that shows it, whether a page is its section).
MAIN_NAV: list[tuple[str, str, str | None, Callable[[ResolverMatch], bool]]] = [
    ("Overview", "home", None, lambda m: m.view_name == "home"),
    ("Queue", "handoffs:queue", "handoffs.work", _app("handoffs")),
    ("Deals", "deals:pipeline", "opportunities.view", _app("deals")),
    ("SLA", "sla:agreement_list", "sla.view", _app("sla")),
    ("Leads", "leads:lead_list", "leads.view", _app("leads")),
    ("Forms", "webforms:webform_list", "webforms.edit", _app("webforms")),
    ("Campaigns", "campaigns:campaign_list", "campaigns.view", _app("campaigns")),
    ("Personas", "personas:persona_list", "personas.view", lambda m: _app("personas")(m) and "persona" in _url_name(m)),
    ("Content", "personas:content_list", "content.view", lambda m: m.url_name in ("content_list", "content_matrix")),
    ("Requests", "personas:content_request_list", "content_requests.view", lambda m: "content_request" in _url_name(m)),
    ("Scoring", "scoring:home", "scoring.view", _app("scoring")),
    ("Definitions", "personas:definitions", "definitions.view", lambda m: "definition" in _url_name(m)),
    ("Team", "accounts:members", "members.view", lambda m: m.url_name == "members"),
]


@register.simple_tag
def url_of(name: str) -> str:
    """``{% url_of 'home' %}``: ``{% url 'home' %}`` for a URL without arguments, reversed once."""
    return path_of(name)


@register.simple_tag
def start_path(membership) -> str:
    """``{% start_path membership %}``: where the logo takes a member (``links.start_url``)."""
    return start_url(membership)


@register.simple_tag(takes_context=True)
def main_nav(context: template.Context) -> SafeString:
    """The header's menu for the member: the sections their role may see, the current one marked."""
    membership = context.get("membership")
    if not membership:
        return mark_safe("")
    request = context.get("request")
    match = getattr(request, "resolver_match", None)
    links = []
    for label, name, permission, current in MAIN_NAV:
        if permission is not None and not policy.can(membership, permission):
            continue
        here = ' aria-current="page"' if match is not None and current(match) else ""
        links.append(f'<a href="{escape(path_of(name))}"{here}>{label}</a>')
    return mark_safe("\n".join(links))  # noqa: S308 - paths escaped, labels are constants
