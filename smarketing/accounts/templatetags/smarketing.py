from __future__ import annotations

from django import template

from smarketing.accounts import policy

register = template.Library()


@register.filter
def can(actor, action: str) -> bool:
    """``{% if membership|can:"members.manage" %}``: the policy module, in templates."""
    return policy.can(actor, action)
