"""Show the agreed wording wherever a lifecycle stage appears."""

from __future__ import annotations

from django import template
from django.urls import reverse
from django.utils.html import format_html

from leads.models import Lead
from personas.selectors import stage_wording

register = template.Library()


@register.simple_tag(takes_context=True)
def stage_badge(context, stage: str):
    """A stage badge whose tooltip is the active definition, linking to the glossary entry."""
    request = context.get("request")
    org = getattr(request, "org", None)
    if org is None:
        return format_html('<span class="stage stage-{}">{}</span>', stage, Lead.Stage(stage).label)
    if not hasattr(request, "_stage_wording"):  # one query per page, however many badges
        request._stage_wording = stage_wording(org=org)
    wording = request._stage_wording.get(stage, "No agreed definition yet.")
    return format_html(
        '<a class="stage stage-{}" title="{}" href="{}#stage-{}">{}</a>',
        stage,
        wording,
        reverse("personas:definitions"),
        stage,
        Lead.Stage(stage).label,
    )
