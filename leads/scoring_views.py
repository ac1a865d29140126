"""Pages for scoring models (draft, edit, preview, activate) and background job progress."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from leads import scoring_models as services
from leads.models import Job, ScoringModel
from leads.rescoring import rescore_preview
from leads.scoring_forms import ATTRIBUTE_LABELS, OPERATOR_LABELS, model_forms, to_input
from smarketing.accounts.policy import can
from smarketing.accounts.tenancy import get_for_org, org_required
from smarketing.errors import DomainError
from smarketing.forms import call_action


@org_required(permission="scoring.view")
def scoring_home(request: HttpRequest) -> HttpResponse:
    models = ScoringModel.objects.for_org(request.org).select_related("created_by__user")
    active = next((m for m in models if m.status == ScoringModel.Status.ACTIVE), None)
    draft = next((m for m in models if m.status == ScoringModel.Status.DRAFT), None)
    jobs = Job.objects.for_org(request.org).filter(kind=Job.Kind.RESCORE)[:5]
    context = {"models": models, "active": active, "draft": draft, "jobs": jobs, **_labels()}
    return render(request, "leads/scoring_home.html", context)


def _labels() -> dict:
    return {"attribute_labels": ATTRIBUTE_LABELS, "operator_labels": OPERATOR_LABELS}


@org_required(permission="scoring.edit")
@require_POST
def scoring_draft(request: HttpRequest) -> HttpResponse:
    try:
        draft = services.scoring_model_draft(org=request.org, actor=request.membership)
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("scoring:home")
    return redirect("scoring:detail", draft.pk)


@org_required(permission="scoring.view")
def scoring_detail(request: HttpRequest, scoringmodel_id: int) -> HttpResponse:
    model = get_for_org(ScoringModel.objects.all(), org=request.org, pk=scoringmodel_id)
    editable = model.status == ScoringModel.Status.DRAFT and can(request.membership, "scoring.edit")
    settings, fit, engagement = model_forms(model, request.POST if request.method == "POST" and editable else None)
    if request.method == "POST" and editable:
        if settings.is_valid() and fit.is_valid() and engagement.is_valid():
            try:
                services.scoring_model_update(model=model, data=to_input(settings, fit, engagement))
            except DomainError as exc:
                settings.add_error(None, exc.message)
            else:
                messages.success(request, f"Draft v{model.version} saved. Preview it, then activate it.")
                return redirect("scoring:detail", model.pk)
    context = {
        "model": model,
        "editable": editable,
        "settings_form": settings,
        "fit": fit,
        "engagement": engagement,
        **_labels(),
    }
    return render(request, "leads/scoring_detail.html", context)


@org_required(permission="scoring.view")
def scoring_preview(request: HttpRequest, scoringmodel_id: int) -> HttpResponse:
    """An htmx fragment: how many leads would be MQL under this version, against today."""
    model = get_for_org(ScoringModel.objects.all(), org=request.org, pk=scoringmodel_id)
    return render(request, "leads/_scoring_preview.html", {"model": model, "preview": rescore_preview(model=model)})


@org_required(permission="scoring.edit")
@require_POST
def scoring_activate(request: HttpRequest, scoringmodel_id: int) -> HttpResponse:
    model = get_for_org(ScoringModel.objects.all(), org=request.org, pk=scoringmodel_id)
    job = call_action(
        request,
        services.scoring_model_activate,
        model=model,
        actor=request.membership,
        success=f"Version {model.version} is active; every lead is being rescored.",
    )
    return redirect("scoring:job", job.pk) if job else redirect("scoring:detail", model.pk)


@org_required(permission="scoring.edit")
@require_POST
def scoring_discard(request: HttpRequest, scoringmodel_id: int) -> HttpResponse:
    model = get_for_org(ScoringModel.objects.all(), org=request.org, pk=scoringmodel_id)
    call_action(request, services.scoring_model_discard, model=model, success=f"Draft v{model.version} discarded.")
    return redirect("scoring:home")


@org_required(permission="scoring.view")
def job_detail(request: HttpRequest, job_id: int) -> HttpResponse:
    job = get_for_org(Job.objects.select_related("created_by__user"), org=request.org, pk=job_id)
    template = "leads/_job_progress.html" if request.htmx else "leads/job_detail.html"
    return render(request, template, {"job": job})
