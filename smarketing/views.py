"""Project-level pages: the landing page, where a member starts, and the overview."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from leads import selectors as lead_selectors
from reporting.charts import BarChart
from smarketing.accounts import selectors as account_selectors
from smarketing.accounts.models import Membership
from smarketing.accounts.policy import can
from smarketing.accounts.tenancy import org_required
from smarketing.links import start_url


def index(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect(start_url(request.membership))
    return render(request, "landing.html")


@org_required
def home(request: HttpRequest) -> HttpResponse:
    """The organisation overview. Every member may open it, so each section is built only for a
    role the policy lets see what it shows: a partner sees none of the organisation's leads,
    deals or team, only what they can do here."""
    membership = request.membership
    context = {
        "can_view_leads": can(membership, "leads.view"),
        "member_count": account_selectors.membership_list(org=request.org).count()
        if can(membership, "members.view")
        else None,
        "wins": list(lead_selectors.recent_wins(org=request.org)) if can(membership, "opportunities.view") else [],
        # A sales rep's day starts with their handoff queue: a card linking to it.
        "queue": lead_selectors.handoff_queue_summary(org=request.org, rep=membership)
        if membership.role == Membership.Role.SALES_REP
        else None,
    }
    if context["can_view_leads"]:
        stages = lead_selectors.lead_stage_counts(org=request.org)
        context |= {
            "stage_chart": BarChart.build(
                "Leads by lifecycle stage", [(s["label"], s["count"], f"stage-{s['stage']}") for s in stages]
            ),
            "lead_total": sum(s["count"] for s in stages),
            "recent_leads": lead_selectors.lead_recent_list(org=request.org),
        }
    return render(request, "home.html", context)
