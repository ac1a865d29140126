"""Pages for likely duplicate leads: the queue, merge, undo a merge, and "not a duplicate"."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from leads import duplicates, selectors
from leads.models import Lead
from smarketing.accounts.models import Membership
from smarketing.accounts.policy import can
from smarketing.accounts.tenancy import get_for_org, org_required
from smarketing.forms import call_action


class OtherLeadForm(forms.Form):
    other = forms.IntegerField(min_value=1)


def lead_page_context(membership: Membership, lead: Lead) -> dict:
    """What the lead page's "Possible duplicates" card shows (everyone sees it; managers act)."""
    return {
        "duplicates": duplicates.lead_duplicates(lead=lead),
        "merges": duplicates.lead_merges(lead=lead),
        "can_merge": can(membership, "leads.manage"),
    }


def _back(request: HttpRequest, default: str) -> str:
    back = request.POST.get("next", "")
    return back if url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}) else default


def _other(request: HttpRequest) -> Lead | None:
    form = OtherLeadForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose the other lead.")
        return None
    return get_for_org(Lead.objects.all(), org=request.org, pk=form.cleaned_data["other"])


@org_required(permission="leads.view")
def duplicate_list(request: HttpRequest) -> HttpResponse:
    page, groups = duplicates.duplicate_queue_page(org=request.org, page_number=request.GET.get("page"))
    context = {"page": page, "groups": groups, "can_merge": can(request.membership, "leads.manage")}
    return render(request, "leads/duplicates.html", context)


@org_required(permission="leads.manage")
@require_POST
def lead_merge(request: HttpRequest, lead_id: int) -> HttpResponse:
    lead = selectors.lead_detail(org=request.org, lead_id=lead_id)
    back = _back(request, reverse("leads:lead_detail", args=[lead.pk]))
    other = _other(request)
    if other is None:
        return redirect(back)
    merge = call_action(
        request,
        duplicates.leads_merge,
        keep=lead,
        drop=other,
        actor=request.membership,
        success="Leads merged into the older one. You can undo the merge from its page.",
    )
    if merge is None:
        return redirect(back)
    if request.POST.get("next"):
        return redirect(back)
    return redirect("leads:lead_detail", merge.kept_id)


@org_required(permission="leads.manage")
@require_POST
def merge_undo(request: HttpRequest, leadmerge_id: int) -> HttpResponse:
    merge = duplicates.merge_get(org=request.org, merge_id=leadmerge_id)
    call_action(
        request,
        duplicates.leads_merge_undo,
        merge=merge,
        actor=request.membership,
        success=f"Merge undone: {merge.dropped_email} is a lead of its own again.",
    )
    return redirect("leads:lead_detail", merge.kept_id)


@org_required(permission="leads.manage")
@require_POST
def duplicate_dismiss(request: HttpRequest, lead_id: int) -> HttpResponse:
    lead = selectors.lead_detail(org=request.org, lead_id=lead_id)
    back = _back(request, reverse("leads:lead_detail", args=[lead.pk]))
    other = _other(request)
    if other is not None:
        call_action(
            request,
            duplicates.duplicate_dismiss,
            lead=lead,
            other=other,
            actor=request.membership,
            success="Marked as not a duplicate.",
        )
    return redirect(back)
