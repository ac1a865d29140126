"""Pages for personas, definitions, the content library and content requests."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from personas import selectors, services
from personas.forms import (
    AssetForm,
    ContentFilterForm,
    ContentRequestForm,
    ContentRequestTransitionForm,
    DefinitionsForm,
    PersonaForm,
    PersonaMatchForm,
)
from personas.glossary import default_terms
from personas.matching import match_persona
from personas.models import ContentAsset, ContentRequest, DefinitionVersion, Persona
from smarketing.accounts.models import Membership
from smarketing.accounts.policy import can
from smarketing.accounts.tenancy import get_for_org, org_required
from smarketing.forms import call_action, call_service

PAGE_SIZE = 25


# --- Personas -------------------------------------------------------------------------


@org_required(permission="personas.view")
def persona_list(request: HttpRequest) -> HttpResponse:
    show_archived = request.GET.get("archived") == "1"
    personas = selectors.persona_list(org=request.org, include_archived=show_archived)
    context = {
        "personas": personas,
        "show_archived": show_archived,
        "show_content": can(request.membership, "content.view"),  # not partners: content is staff's
    }
    return render(request, "personas/persona_list.html", context)


@org_required(permission="personas.edit")
def persona_create(request: HttpRequest) -> HttpResponse:
    form = PersonaForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        persona = call_service(
            form, services.persona_create, org=request.org, data=form.to_input(), actor=request.membership
        )
        if persona is not None:
            messages.success(request, f"Persona “{persona.name}” created.")
            return redirect("personas:persona_detail", persona.pk)
    return render(request, "personas/persona_form.html", {"form": form})


@org_required(permission="personas.view")
def persona_detail(request: HttpRequest, persona_id: int) -> HttpResponse:
    persona = selectors.persona_detail(org=request.org, persona_id=persona_id)
    # Every member may read a persona; its content and sales' requests (which may name a lead)
    # only those the policy lets see them.
    context = {
        "persona": persona,
        "messaging": selectors.persona_messaging(persona),
        "assets": selectors.content_list(org=request.org, persona=persona)[:12]
        if can(request.membership, "content.view")
        else None,
        "requests": selectors.content_request_list(org=request.org, open_only=True).filter(persona=persona)[:10]
        if can(request.membership, "content_requests.view")
        else None,
    }
    return render(request, "personas/persona_detail.html", context)


@org_required(permission="personas.edit")
def persona_edit(request: HttpRequest, persona_id: int) -> HttpResponse:
    persona = selectors.persona_detail(org=request.org, persona_id=persona_id)
    form = PersonaForm(request.POST or None, persona=persona)
    if request.method == "POST" and form.is_valid():
        if call_service(form, services.persona_update, persona=persona, data=form.to_input()) is not None:
            messages.success(request, f"Persona “{persona.name}” saved.")
            return redirect("personas:persona_detail", persona.pk)
    return render(request, "personas/persona_form.html", {"form": form, "persona": persona})


@org_required(permission="personas.edit")
@require_POST
def persona_archive(request: HttpRequest, persona_id: int) -> HttpResponse:
    persona = get_for_org(Persona.objects.all(), org=request.org, pk=persona_id)
    success = f"“{persona.name}” archived: it is no longer matched to new leads."
    call_action(request, services.persona_archive, persona=persona, success=success)
    return redirect("personas:persona_list")


@org_required(permission="personas.view")
def persona_match(request: HttpRequest) -> HttpResponse:
    """Try the matcher: which persona would a lead with these attributes be, and why."""
    form = PersonaMatchForm(request.GET or None)
    result = None
    if form.is_bound and form.is_valid():
        persona, points, reasons = match_persona(form.cleaned_data, org=request.org)
        result = {"persona": persona, "points": points, "reasons": reasons}
    return render(request, "personas/persona_match.html", {"form": form, "result": result})


# --- Definitions ----------------------------------------------------------------------


@org_required(permission="definitions.view")
def definitions(request: HttpRequest) -> HttpResponse:
    version = selectors.definitions_active(org=request.org)
    pending = DefinitionVersion.objects.for_org(request.org).filter(status=DefinitionVersion.Status.PROPOSED).first()
    return render(request, "personas/definitions.html", {"version": version, "pending": pending})


@org_required(permission="definitions.view")
def definition_versions(request: HttpRequest) -> HttpResponse:
    versions = selectors.definition_versions(org=request.org)
    return render(request, "personas/definition_versions.html", {"versions": versions})


@org_required(permission="definitions.view")
def definition_version(request: HttpRequest, definitionversion_id: int) -> HttpResponse:
    versions = selectors.definition_versions(org=request.org).prefetch_related("terms")
    version = get_for_org(versions, org=request.org, pk=definitionversion_id)
    against_id = request.GET.get("against")
    if against_id:
        against = get_for_org(versions, org=request.org, pk=against_id) if against_id.isdigit() else None
        if against is None:
            raise Http404("No such version.")
    else:
        against = versions.filter(number__lt=version.number).first()
    context = {
        "version": version,
        "against": against,
        "diff": selectors.definitions_diff(against, version) if against else None,
        "others": versions.exclude(pk=version.pk),
        "sides": [
            (label, [s for s in version.signoffs.all() if s.side == side]) for side, label in Membership.Side.choices
        ],
    }
    return render(request, "personas/definition_version.html", context)


@org_required(permission="definitions.propose")
def definitions_propose(request: HttpRequest) -> HttpResponse:
    active = selectors.definitions_active(org=request.org)
    terms = (
        [{"key": t.key, "label": t.label, "wording": t.wording} for t in active.terms.all()]
        if active
        else default_terms()
    )
    form = DefinitionsForm(request.POST or None, terms=terms, initial=DefinitionsForm.initial_from(active))
    if request.method == "POST" and form.is_valid():
        version = call_service(form, services.definitions_propose, proposer=request.membership, data=form.to_input())
        if version is not None:
            messages.success(
                request, f"Version {version.number} proposed. It becomes active once both sides' managers sign it."
            )
            return redirect("personas:definition_version", version.pk)
    return render(request, "personas/definitions_propose.html", {"form": form, "active": active})


@org_required(permission="definitions.sign")
@require_POST
def definition_sign(request: HttpRequest, definitionversion_id: int) -> HttpResponse:
    version = get_for_org(DefinitionVersion.objects.all(), org=request.org, pk=definitionversion_id)
    signed = call_action(
        request,
        services.definitions_sign,
        version=version,
        signer=request.membership,
        success=f"You signed version {version.number} for {request.membership.get_side_display().lower()}.",
    )
    if signed is not None and signed.status == DefinitionVersion.Status.ACTIVE:
        messages.success(request, f"Both sides have signed: version {signed.number} is now active.")
    return redirect("personas:definition_version", version.pk)


@org_required(permission="definitions.propose")
@require_POST
def definition_withdraw(request: HttpRequest, definitionversion_id: int) -> HttpResponse:
    version = get_for_org(DefinitionVersion.objects.all(), org=request.org, pk=definitionversion_id)
    call_action(request, services.definitions_withdraw, version=version, success=f"Version {version.number} withdrawn.")
    return redirect("personas:definition_versions")


# --- Content library ------------------------------------------------------------------


@org_required(permission="content.view")
def content_list(request: HttpRequest) -> HttpResponse:
    form = ContentFilterForm(request.GET or None, org=request.org)
    filters = form.cleaned_data if form.is_valid() else {}
    assets = selectors.content_list(
        org=request.org,
        persona=filters.get("persona"),
        buyer_stage=filters.get("buyer_stage", ""),
        asset_type=filters.get("asset_type", ""),
        search=filters.get("q", ""),
    )
    page = Paginator(assets, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {"form": form, "page": page, "query": query.urlencode(), "filtered": any(filters.values())}
    return render(request, "personas/content_list.html", context)


@org_required(permission="content.view")
def content_matrix(request: HttpRequest) -> HttpResponse:
    rows = selectors.content_matrix(org=request.org)
    gaps = sum(row.gaps for row in rows if row.persona is not None)
    return render(request, "personas/content_matrix.html", {"rows": rows, "gaps": gaps})


def _fulfilling(request: HttpRequest) -> ContentRequest | None:
    """The open content request a new asset is being made for (``?request=<id>``), if any."""
    request_id = request.GET.get("request") or request.POST.get("request")
    if not request_id or not str(request_id).isdigit():
        return None
    return get_for_org(ContentRequest.objects.filter(status__in=ContentRequest.OPEN), org=request.org, pk=request_id)


@org_required(permission="content.edit")
def content_create(request: HttpRequest) -> HttpResponse:
    fulfilling = _fulfilling(request)
    initial = {}
    if fulfilling is not None:
        initial = {
            "buyer_stage": fulfilling.buyer_stage,
            "personas": [fulfilling.persona] if fulfilling.persona else [],
        }
    form = AssetForm(request.POST or None, request.FILES or None, org=request.org, initial=initial)
    if request.method == "POST" and form.is_valid():
        asset = call_service(form, services.asset_save, org=request.org, data=form.to_input(), owner=request.membership)
        if asset is not None:
            messages.success(request, f"“{asset.title}” added to the library.")
            if fulfilling is not None:
                call_action(
                    request,
                    services.content_request_transition,
                    request=fulfilling,
                    to=ContentRequest.Status.DELIVERED,
                    actor=request.membership,
                    asset=asset,
                    success=f"Request delivered; {fulfilling.requested_by.user} has been notified.",
                )
                return redirect("personas:content_request_detail", fulfilling.pk)
            return redirect("personas:content_detail", asset.pk)
    return render(request, "personas/content_form.html", {"form": form, "fulfilling": fulfilling})


def _asset(request: HttpRequest, contentasset_id: int) -> ContentAsset:
    return get_for_org(
        ContentAsset.objects.select_related("owner__user", "campaign").prefetch_related("personas"),
        org=request.org,
        pk=contentasset_id,
    )


@org_required(permission="content.view")
def content_detail(request: HttpRequest, contentasset_id: int) -> HttpResponse:
    asset = _asset(request, contentasset_id)
    fulfilled = asset.fulfilled_requests.select_related("requested_by__user")
    return render(request, "personas/content_detail.html", {"asset": asset, "fulfilled": fulfilled})


@org_required(permission="content.edit")
def content_edit(request: HttpRequest, contentasset_id: int) -> HttpResponse:
    asset = _asset(request, contentasset_id)
    form = AssetForm(request.POST or None, request.FILES or None, org=request.org, asset=asset)
    if request.method == "POST" and form.is_valid():
        saved = call_service(form, services.asset_save, org=request.org, data=form.to_input(), asset=asset)
        if saved is not None:
            messages.success(request, f"“{saved.title}” saved.")
            return redirect("personas:content_detail", saved.pk)
    return render(request, "personas/content_form.html", {"form": form, "asset": asset})


@org_required(permission="content.edit")
@require_POST
def content_delete(request: HttpRequest, contentasset_id: int) -> HttpResponse:
    asset = _asset(request, contentasset_id)
    call_action(request, services.asset_delete, asset=asset, success=f"“{asset.title}” deleted.")
    return redirect("personas:content_list")


@org_required(permission="content.view")
def content_file(request: HttpRequest, contentasset_id: int) -> FileResponse:
    """Uploaded files are served through the app, so only the organisation's members get them."""
    asset = _asset(request, contentasset_id)
    if not asset.file:
        raise Http404("This asset has no uploaded file.")
    return FileResponse(asset.file.open("rb"), as_attachment=False, filename=asset.file_name or None)


# --- Content requests -----------------------------------------------------------------


@org_required(permission="content_requests.view")
def content_request_list(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status", "")
    status = status if status in ContentRequest.Status.values else ""
    mine = request.GET.get("mine") == "1"
    requests = selectors.content_request_list(
        org=request.org, status=status, requester=request.membership if mine else None
    )
    page = Paginator(requests, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "page": page,
        "query": query.urlencode(),
        "status": status,
        "mine": mine,
        "statuses": ContentRequest.Status.choices,
        "stats": selectors.content_request_open_stats(org=request.org, now=timezone.now()),
        "now": timezone.now(),
    }
    return render(request, "personas/content_request_list.html", context)


@org_required(permission="content_requests.create")
def content_request_create(request: HttpRequest) -> HttpResponse:
    form = ContentRequestForm(request.POST or None, org=request.org)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        created = call_service(
            form,
            services.content_request_create,
            requester=request.membership,
            question=data["question"],
            buyer_stage=data["buyer_stage"],
            persona=data["persona"],
            lead=data["lead_email"],
            urgency=data["urgency"],
        )
        if created is not None:
            days = request.org.content_request_turnaround_days
            messages.success(request, f"Request filed; marketing's turnaround is {days} business days.")
            return redirect("personas:content_request_detail", created.pk)
    return render(request, "personas/content_request_form.html", {"form": form})


@org_required(permission="content_requests.view")
def content_request_detail(request: HttpRequest, contentrequest_id: int) -> HttpResponse:
    content_request = get_for_org(
        selectors.content_request_list(org=request.org), org=request.org, pk=contentrequest_id
    )
    allowed = ContentRequest.TRANSITIONS[content_request.status]
    context = {
        "req": content_request,
        "can_triage": can(request.membership, "content_requests.triage"),
        "allowed": {s: s in allowed for s in ContentRequest.Status.values},
        "assets": selectors.content_list(org=request.org, buyer_stage=content_request.buyer_stage)[:50],
        "overdue": content_request.is_overdue(timezone.now()),
    }
    return render(request, "personas/content_request_detail.html", context)


@org_required(permission="content_requests.triage")
@require_POST
def content_request_transition(request: HttpRequest, contentrequest_id: int) -> HttpResponse:
    content_request = get_for_org(ContentRequest.objects.all(), org=request.org, pk=contentrequest_id)
    form = ContentRequestTransitionForm(request.POST, org=request.org)
    if not form.is_valid():
        messages.error(request, "Choose a valid next step.")
        return redirect("personas:content_request_detail", content_request.pk)
    to = form.cleaned_data["to"]
    call_action(
        request,
        services.content_request_transition,
        request=content_request,
        to=to,
        actor=request.membership,
        asset=form.cleaned_data["asset"],
        reason=form.cleaned_data["reason"],
        success=f"Request marked {ContentRequest.Status(to).label.lower()}.",
    )
    return redirect(reverse("personas:content_request_detail", args=[content_request.pk]))
