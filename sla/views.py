"""Pages of the SLA: the agreements, their live compliance, drafting, signing and renewal.

Everyone on staff reads; managers draft, change, withdraw and renew; a manager signs for
their own side. Thin over ``sla.agreements`` and ``sla.compliance``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from sla import agreements, compliance, forecast, funnel, reviews
from sla.forms import ActionItemForm, AgreementForm, CalculatorForm, ReviewNotesForm
from sla.models import ActionItem, Agreement, Review
from smarketing.accounts.models import Membership
from smarketing.accounts.policy import can
from smarketing.accounts.tenancy import get_for_org, org_required
from smarketing.errors import DomainError, Forbidden
from smarketing.forms import call_service


def _get(request: HttpRequest, agreement_id: int) -> Agreement:
    return get_for_org(
        Agreement.objects.select_related(
            "team", "organization", "marketing_signed_by__user", "sales_signed_by__user", "created_by__user"
        ),
        org=request.org,
        pk=agreement_id,
    )


@org_required(permission="sla.view")
def agreement_list(request: HttpRequest) -> HttpResponse:
    current = [compliance.compliance(a) for a in compliance.current_agreements(request.org)]
    shown = {c.agreement.pk for c in current}
    others = (
        Agreement.objects.for_org(request.org)
        .exclude(pk__in=shown)
        .select_related("team", "marketing_signed_by__user", "sales_signed_by__user")
        .order_by("-starts_on", "team_id", "-id")[:50]
    )
    context = {"current": current, "others": others, "can_edit": can(request.membership, "sla.edit")}
    return render(request, "sla/agreement_list.html", context)


# What the calculator's "draft with these numbers" may prefill.
PREFILL = ("period", "starts_on", "mql_target", "sql_target", "revenue_target")


@org_required(permission="sla.edit")
def agreement_create(request: HttpRequest) -> HttpResponse:
    initial = {k: request.GET[k] for k in PREFILL if request.GET.get(k)}
    form = AgreementForm(request.POST or None, org=request.org, initial=initial)
    if request.method == "POST" and form.is_valid():
        agreement = call_service(
            form, agreements.agreement_draft, org=request.org, actor=request.membership, data=form.to_input()
        )
        if agreement is not None:
            messages.success(request, f"Agreement for {agreement} drafted: both sides sign it to make it active.")
            return redirect("sla:agreement_detail", agreement.pk)
    status = 400 if form.is_bound else 200
    return render(request, "sla/agreement_form.html", {"form": form}, status=status)


@org_required(permission="sla.edit")
def agreement_edit(request: HttpRequest, agreement_id: int) -> HttpResponse:
    agreement = _get(request, agreement_id)
    form = AgreementForm(request.POST or None, org=request.org, initial=AgreementForm.initial_of(agreement))
    if request.method == "POST" and form.is_valid():
        changed = call_service(
            form, agreements.agreement_update, agreement=agreement, actor=request.membership, data=form.to_input()
        )
        if changed is not None:
            messages.success(request, "Agreement changed; any signature given is withdrawn.")
            return redirect("sla:agreement_detail", agreement.pk)
    status = 400 if form.is_bound else 200
    return render(request, "sla/agreement_form.html", {"form": form, "agreement": agreement}, status=status)


@org_required(permission="sla.view")
def agreement_detail(request: HttpRequest, agreement_id: int) -> HttpResponse:
    agreement = _get(request, agreement_id)
    me = request.membership
    context = {
        "agreement": agreement,
        "figures": compliance.compliance(agreement) if agreement.status == Agreement.Status.ACTIVE else None,
        "forecast": forecast.forecast(agreement) if agreement.status == Agreement.Status.ACTIVE else None,
        "can_reassign": can(me, "handoffs.manage"),
        "can_edit": can(me, "sla.edit"),
        "sign_side": me.side
        if agreement.status == Agreement.Status.DRAFT
        and me.role == Membership.Role.MANAGER
        and me.side in Membership.Side.values
        and getattr(agreement, f"{me.side}_signed_by_id") is None
        else "",
    }
    return render(request, "sla/agreement_detail.html", context)


def _act(
    request: HttpRequest, agreement_id: int, service, success: Callable[[Agreement], str], **kwargs
) -> HttpResponse:
    agreement = _get(request, agreement_id)
    try:
        result = service(agreement=agreement, actor=request.membership, **kwargs)
    except Forbidden as exc:
        raise PermissionDenied(exc.message) from exc
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("sla:agreement_detail", agreement.pk)
    messages.success(request, success(result))
    return redirect("sla:agreement_detail", result.pk)


@org_required(permission="sla.view")
@require_POST
def agreement_sign(request: HttpRequest, agreement_id: int) -> HttpResponse:
    return _act(
        request,
        agreement_id,
        agreements.agreement_sign,
        lambda a: f"Signed. {a.get_status_display()}.",
        side=request.POST.get("side", ""),
    )


@org_required(permission="sla.edit")
@require_POST
def agreement_withdraw(request: HttpRequest, agreement_id: int) -> HttpResponse:
    return _act(request, agreement_id, agreements.agreement_withdraw, lambda a: "Draft withdrawn.")


@org_required(permission="sla.edit")
@require_POST
def agreement_renew(request: HttpRequest, agreement_id: int) -> HttpResponse:
    return _act(
        request,
        agreement_id,
        agreements.agreement_renew,
        lambda a: f"Renewed as a draft for {a.period_label}: review it and sign.",
    )


@org_required(permission="sla.view")
def calculator(request: HttpRequest) -> HttpResponse:
    """The reverse funnel: from the revenue target to MQLs, from the organisation's own history."""
    today = timezone.localdate()
    form = CalculatorForm(request.GET or None, initial={"starts_on": today, "window_days": 180})
    result, draft_query = None, ""
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        start, end = agreements.period_bounds(data["period"], data["starts_on"])
        try:
            result = funnel.reverse_funnel(
                org=request.org,
                revenue_target=data["revenue_target"],
                period_start=start,
                period_end=end,
                window_days=data["window_days"],
                entered=form.entered(),
            )
        except DomainError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            draft_query = urlencode(
                {
                    "period": data["period"],
                    "starts_on": start.isoformat(),
                    "mql_target": result.needed.mqls,
                    "sql_target": result.needed.sqls,
                    "revenue_target": data["revenue_target"],
                }
            )
    context = {
        "form": form,
        "result": result,
        "draft_query": draft_query,
        "can_edit": can(request.membership, "sla.edit"),
    }
    return render(request, "sla/calculator.html", context, status=400 if form.is_bound and form.errors else 200)


# --- The monthly review ------------------------------------------------------------------


@org_required(permission="sla.view")
def review_list(request: HttpRequest) -> HttpResponse:
    today = timezone.localdate()
    last_month = today.replace(day=1) - timedelta(days=1)
    context = {
        "reviews": Review.objects.for_org(request.org)[:36],
        "can_edit": can(request.membership, "sla.edit"),
        "months": [today, last_month],
    }
    return render(request, "sla/review_list.html", context)


@org_required(permission="sla.edit")
@require_POST
def review_generate(request: HttpRequest) -> HttpResponse:
    try:
        day = date.fromisoformat(request.POST.get("day", ""))
    except ValueError:
        messages.error(request, "Choose a month.")
        return redirect("sla:review_list")
    review = reviews.review_generate(org=request.org, day=day)
    messages.success(request, f"{review} generated from today's figures.")
    return redirect("sla:review_detail", review.pk)


def _review(request: HttpRequest, review_id: int) -> Review:
    return get_for_org(Review.objects.all(), org=request.org, pk=review_id)


@org_required(permission="sla.view")
def review_detail(request: HttpRequest, review_id: int, *, status: int = 200, **forms) -> HttpResponse:
    review = _review(request, review_id)
    context = {
        "review": review,
        "f": review.figures,
        "actions": review.actions.select_related("owner__user"),
        "can_edit": can(request.membership, "sla.edit"),
        "notes_form": forms.get("notes_form") or ReviewNotesForm(initial={"notes": review.notes}),
        "action_form": forms.get("action_form") or ActionItemForm(org=request.org),
    }
    return render(request, "sla/review_detail.html", context, status=status)


@org_required(permission="sla.edit")
@require_POST
def review_notes(request: HttpRequest, review_id: int) -> HttpResponse:
    review = _review(request, review_id)
    form = ReviewNotesForm(request.POST)
    if not form.is_valid():
        return review_detail(request, review_id, status=400, notes_form=form)
    reviews.review_update_notes(review=review, notes=form.cleaned_data["notes"])
    messages.success(request, "Notes saved.")
    return redirect("sla:review_detail", review.pk)


@org_required(permission="sla.edit")
@require_POST
def action_add(request: HttpRequest, review_id: int) -> HttpResponse:
    review = _review(request, review_id)
    form = ActionItemForm(request.POST, org=request.org)
    if form.is_valid() and call_service(
        form, reviews.action_add, review=review, actor=request.membership, **form.cleaned_data
    ):
        messages.success(request, "Action added.")
        return redirect("sla:review_detail", review.pk)
    return review_detail(request, review_id, status=400, action_form=form)


@org_required(permission="sla.view")
@require_POST
def action_done(request: HttpRequest, actionitem_id: int) -> HttpResponse:
    action = get_for_org(ActionItem.objects.all(), org=request.org, pk=actionitem_id)
    if action.owner_id != request.membership.pk and not can(request.membership, "sla.edit"):
        raise PermissionDenied("Only its owner or a manager marks an action done.")
    try:
        reviews.action_done(action=action)
    except DomainError as exc:
        messages.error(request, exc.message)
    return redirect("sla:review_detail", action.review_id)
