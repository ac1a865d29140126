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
    return stage_badge_html(context.get("request"), stage)


def stage_badge_html(request, stage: str) -> str:
    """``{% stage_badge %}`` for code that builds rows in Python (the lead list)."""
    org = getattr(request, "org", None)
    if org is None:
        return format_html('<span class="stage stage-{}">{}</span>', stage, Lead.Stage(stage).label)
    # A page of leads shows the same few badges many times: one query and one rendering per stage.
    badges = getattr(request, "_stage_badges", None)
    if badges is None:
        badges = request._stage_badges = {"": stage_wording(org=org)}
    if stage not in badges:
        badges[stage] = format_html(
            '<a class="stage stage-{}" title="{}" href="{}#stage-{}">{}</a>',
            stage,
            badges[""].get(stage, "No agreed definition yet."),
            reverse("personas:definitions"),
            stage,
            Lead.Stage(stage).label,
        )
    return badges[stage]
