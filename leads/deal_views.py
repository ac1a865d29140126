"""Pages for the sales side after the handoff: touches, deals (opportunities), the pipeline.

Thin over ``leads/touches.py`` and ``leads/opportunities.py``: a refusal is a 403 page, any
other domain error an error on the form, shown again with status 400.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from leads import opportunities, selectors, touches
from leads.deal_forms import (
    DealPeriodForm,
    OpportunityForm,
    OpportunityLoseForm,
    OpportunityUpdateForm,
    OpportunityWinForm,
    TouchForm,
)
from leads.models import Lead, Opportunity
from smarketing.accounts.models import Membership
from smarketing.accounts.policy import can, can_work_lead, can_work_opportunity
from smarketing.accounts.tenancy import org_required
from smarketing.errors import DomainError, Forbidden
from smarketing.links import back_link, days_text

PAGE_SIZE = 50


def _run(form, service: Callable[..., Any], /, **kwargs) -> Any:
    """Run a service for a valid form: a refusal is a 403, another domain error goes on the form."""
    try:
        return service(**kwargs)
    except Forbidden as exc:
        raise PermissionDenied(exc.message) from exc
    except DomainError as exc:
        form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        return None


def _owners(request: HttpRequest):
    """Whom a deal can be given to: only managers choose (everyone else owns what they open)."""
    return selectors.handoff_reps(org=request.org) if can(request.membership, "opportunities.manage") else None


# --- Touches ---------------------------------------------------------------------------


@org_required(permission="touches.log")
def touch_log(request: HttpRequest, lead_id: int) -> HttpResponse:
    lead = selectors.lead_detail(org=request.org, lead_id=lead_id)
    if not can_work_lead(request.membership, lead, action="touches.log"):
        raise PermissionDenied("Only the rep working this lead, or a manager, can log touches on it.")
    form = TouchForm(request.POST or None, org=request.org)
    if request.method == "POST" and form.is_valid():
        touch = _run(form, touches.touch_log, lead=lead, actor=request.membership, **form.cleaned_data)
        if touch is not None:
            messages.success(request, f"{touch.get_kind_display()} logged.")
            return redirect("leads:lead_detail", lead.pk)
    status = 400 if form.is_bound else 200
    return render(request, "leads/touch_form.html", {"lead": lead, "form": form}, status=status)


# --- Opportunities ---------------------------------------------------------------------


@org_required(permission="opportunities.work")
def opportunity_create(request: HttpRequest, lead_id: int) -> HttpResponse:
    lead = selectors.lead_detail(org=request.org, lead_id=lead_id)
    if not can_work_lead(request.membership, lead, action="opportunities.work"):
        raise PermissionDenied("Only the rep working this lead, or a manager, can open a deal for it.")
    kind = Opportunity.Kind.UPSELL if lead.lifecycle_stage == Lead.Stage.CUSTOMER else Opportunity.Kind.NEW_BUSINESS
    form = OpportunityForm(request.POST or None, org=request.org, owners=_owners(request), initial={"kind": kind})
    if request.method == "POST" and form.is_valid():
        deal = _run(form, opportunities.opportunity_create, lead=lead, actor=request.membership, **form.cleaned_data)
        if deal is not None:
            messages.success(request, f"Deal “{deal.name}” opened.")
            return redirect("deals:opportunity_detail", deal.pk)
    status = 400 if form.is_bound else 200
    return render(request, "leads/opportunity_form.html", {"lead": lead, "form": form}, status=status)


def _detail(request: HttpRequest, deal: Opportunity, status: int = 200, **forms) -> HttpResponse:
    org = request.org
    can_work = deal.status == Opportunity.Status.OPEN and can_work_opportunity(request.membership, deal)
    initial = {
        "name": deal.name,
        "amount": deal.amount,
        "expected_close_date": deal.expected_close_date,
        "stage": deal.stage,
    }
    context = {
        "deal": deal,
        "can_work": can_work,
        "update_form": forms.get("update_form") or OpportunityUpdateForm(org=org, initial=initial),
        "win_form": forms.get("win_form")
        or OpportunityWinForm(initial={"amount": deal.amount, "currency": deal.currency}),
        "lose_form": forms.get("lose_form") or OpportunityLoseForm(),
        "credits": deal.credits.select_related("campaign").order_by("model", "-amount"),
    }
    return render(request, "leads/opportunity_detail.html", context, status=status)


@org_required(permission="opportunities.view")
def opportunity_detail(request: HttpRequest, opportunity_id: int) -> HttpResponse:
    return _detail(request, selectors.opportunity_get(org=request.org, opportunity_id=opportunity_id))


def _act(request: HttpRequest, opportunity_id: int, form_class, name: str, service, success: str, **form_kwargs):
    deal = selectors.opportunity_get(org=request.org, opportunity_id=opportunity_id)
    form = form_class(request.POST, **form_kwargs)
    if form.is_valid() and _run(form, service, opportunity=deal, actor=request.membership, **form.cleaned_data):
        messages.success(request, success.format(deal=deal))
        return redirect("deals:opportunity_detail", deal.pk)
    deal.refresh_from_db()
    return _detail(request, deal, status=400, **{name: form})


@org_required(permission="opportunities.work")
@require_POST
def opportunity_update(request: HttpRequest, opportunity_id: int) -> HttpResponse:
    return _act(
        request,
        opportunity_id,
        OpportunityUpdateForm,
        "update_form",
        opportunities.opportunity_update,
        "Deal saved.",
        org=request.org,
    )


@org_required(permission="opportunities.work")
@require_POST
def opportunity_win(request: HttpRequest, opportunity_id: int) -> HttpResponse:
    return _act(
        request,
        opportunity_id,
        OpportunityWinForm,
        "win_form",
        opportunities.opportunity_win,
        "🎉 Won! “{deal.name}” is recorded and credited to its campaigns.",
    )


@org_required(permission="opportunities.work")
@require_POST
def opportunity_lose(request: HttpRequest, opportunity_id: int) -> HttpResponse:
    return _act(
        request,
        opportunity_id,
        OpportunityLoseForm,
        "lose_form",
        opportunities.opportunity_lose,
        "Deal recorded as lost; the reason goes back to marketing.",
    )


@org_required(permission="opportunities.view")
def pipeline(request: HttpRequest) -> HttpResponse:
    """The pipeline: open deals by stage, then every deal (a rep's own by default), newest first."""
    me = request.membership
    reps = list(selectors.handoff_reps(org=request.org))
    own_default = can(me, "opportunities.work") and not can(me, "opportunities.manage")
    wanted = request.GET.get("owner", "me" if own_default else "")
    owner = me if wanted == "me" else next((r for r in reps if str(r.pk) == wanted), None)
    status = request.GET.get("status", "")
    if status not in Opportunity.Status.values:
        status = ""
    closed = DealPeriodForm(request.GET, org=request.org)
    period = closed.cleaned_data if closed.is_valid() else {}
    deals = selectors.opportunity_list(org=request.org, status=status, owner=owner, **period)
    page = Paginator(deals, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "page": page,
        "stages": selectors.pipeline_summary(org=request.org, owner=owner),
        "reps": reps,
        "owner": owner,
        "wanted": wanted,
        "status": status,
        "statuses": Opportunity.Status.choices,
        "closed": closed,
        "period": _period_text(status, period),
        "back": back_link(request),
        "query": urlencode({k: v for k, v in request.GET.items() if k != "page"}),
    }
    return render(request, "leads/pipeline.html", context)


def _period_text(status: str, period: dict) -> str:
    """``Won deals closed in March 2026 by team Sales``: the SLA's won revenue opens the list so."""
    if not period:
        return ""
    noun = {"won": "Won deals", "lost": "Lost deals"}.get(status, "Deals")
    text = f"{noun} closed {days_text(period.get('closed_from'), period.get('closed_to'))}".strip()
    return f"{text} by team {period['team'].name}" if period.get("team") else text


def lead_page_context(membership: Membership, lead: Lead, *, lead_touches: list, handoffs: list) -> dict:
    """What the lead page's "Touches" and "Deals" cards show, and who may add to them.

    ``lead_touches`` and ``handoffs`` are what the page already read (the timeline, the Sales card).
    """
    org = membership.organization
    pending = {h.rep_id for h in handoffs if h.is_open}
    can_touch = can_work_lead(membership, lead, action="touches.log", pending_reps=pending)
    can_deal = can_work_lead(
        membership, lead, action="opportunities.work", pending_reps=pending
    ) and lead.lifecycle_stage in (Lead.Stage.SQL, Lead.Stage.OPPORTUNITY, Lead.Stage.CUSTOMER)
    return {
        "touches": lead_touches,
        "deals": selectors.lead_opportunities(org=org, lead_id=lead.pk),
        "can_touch": can_touch,
        "touch_form": TouchForm(org=org) if can_touch else None,
        "can_deal": can_deal,
    }
