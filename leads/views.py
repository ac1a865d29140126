"""Pages for leads: the list with filters and bulk actions, the lead page, create and edit."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from html import escape as _e

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import dateformat, timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_POST

from leads import deal_views, duplicate_views, handoff_views, selectors, services
from leads.exports import lead_csv_lines
from leads.forms import BulkForm, LeadFilterForm, LeadForm, TransitionForm
from leads.models import Lead
from leads.scoring import lead_explain
from leads.touches import lead_consumed_asset_ids
from personas.selectors import persona_messaging, recommend_content
from personas.templatetags.definitions import stage_badge_html
from smarketing.accounts.models import Membership
from smarketing.accounts.policy import can
from smarketing.accounts.tenancy import org_required
from smarketing.forms import call_service
from smarketing.links import back_link, days_text, path_with_id
from smarketing.pagination import KeysetPage, keyset_page

PAGE_SIZE = 50


@org_required(permission="leads.view")
def lead_list(request: HttpRequest) -> HttpResponse:
    form = LeadFilterForm(request.GET or None, org=request.org)
    page = selectors_page(request, form)
    query = request.GET.copy()
    query.pop("cursor", None)
    filters = form.filters()
    can_manage = can(request.membership, "leads.manage")
    context = {
        "form": form,
        "page": page,
        "query": query.urlencode(),
        "filtered": not filters.is_empty(),
        "moved": _moved_text(filters) if filters.moved else "",
        "back": back_link(request),
        "members": form.members,
        "stages": Lead.Stage.choices,
        "can_manage": can_manage,
        "rows": lead_rows_html(request, page.rows, can_manage=can_manage),
    }
    return render(request, "leads/lead_list.html", context)


def lead_rows_html(request: HttpRequest, leads: list[Lead], *, can_manage: bool) -> str:
    """The list's table rows, made here once rather than by a template loop: its url and badge
    tags and filters per row were about a third of the page's time at 1,000,000 leads
    (bench/lead_list.py). Every value from the database is escaped by ``_e`` (``html.escape``, as
    Django's ``escape`` without its check for lazy strings)."""
    parts = []
    for lead in leads:
        name, email = lead.full_name, _e(lead.email)
        score = lead.current_score
        parts.append(
            "<tr>"
            + (
                f'<td><input type="checkbox" name="leads" value="{lead.pk}" aria-label="Select {email}"></td>'
                if can_manage
                else ""
            )
            + f'<td><a href="{_e(path_with_id("leads:lead_detail", lead.pk))}">{_e(name) if name else email}</a>'
            + (f'<br><span class="muted small">{email}</span>' if name else "")
            + f"</td><td>{_e(lead.company_name or (lead.company.name if lead.company else '') or '—')}</td>"
            f"<td>{stage_badge_html(request, lead.lifecycle_stage)}</td>"
            f'<td title="fit {score.fit} + engagement {_whole(score.engagement)}">'
            f"<strong>{score.total}</strong></td>"
            f"<td>{_e(str(lead.persona) if lead.persona else '—')}</td>"
            f"<td>{_e(str(lead.owner.user) if lead.owner else '—')}</td>"
            f"<td>{_e(str(lead.first_campaign) if lead.first_campaign else '—')}</td>"
            f"<td>{dateformat.format(timezone.localtime(lead.created_at), 'j M Y')}</td></tr>"
        )
    return mark_safe("".join(parts))  # noqa: S308 - values escaped above; the badge is format_html's


def _whole(value: float) -> str:
    """``value|floatformat:0``: rounded half away from zero, as Django's filter does."""
    return str(int(Decimal(repr(value)).to_integral_value(ROUND_HALF_UP)))


def _moved_text(f: selectors.LeadFilters) -> str:
    """``Leads moved to MQL in March 2026``: the SLA's "MQLs delivered" opens the list so."""
    stage = Lead.Stage(f.moved_to).label if f.moved_to else "any stage"
    return f"Leads moved to {stage} {days_text(f.moved_since, f.moved_until)}".strip()


def selectors_page(request: HttpRequest, form: LeadFilterForm) -> KeysetPage:
    order = form.order()
    leads = selectors.lead_list(org=request.org, filters=form.filters(), order=order, related=False)
    page = keyset_page(leads, order=order, cursor=request.GET.get("cursor"), size=PAGE_SIZE)
    selectors.attach_list_related(
        page.rows,
        org=request.org,
        personas=form.fields["persona"].objects,
        campaigns=form.fields["campaign"].objects,
        members=form.members,
    )
    return page


def _csv_response(leads, name: str) -> StreamingHttpResponse:
    response = StreamingHttpResponse(lead_csv_lines(leads.iterator(chunk_size=2000)), content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="{name}-{timezone.now():%Y%m%d-%H%M}.csv"'
    return response


@org_required(permission="leads.manage")
def lead_export(request: HttpRequest) -> HttpResponse:
    """The filtered list as CSV (every matching lead, not only the page on screen).

    Filters that do not validate export nothing: ``filters()`` of an invalid form is "any", which
    would export every lead. The list is shown again with the same filters and their errors."""
    form = LeadFilterForm(request.GET or None, org=request.org)
    if form.is_bound and not form.is_valid():
        errors = " ".join(e for field_errors in form.errors.values() for e in field_errors)
        messages.error(request, f"Nothing was exported: correct the filters first. {errors}")
        return redirect(f"{reverse('leads:lead_list')}?{request.GET.urlencode()}")
    leads = selectors.lead_list(org=request.org, filters=form.filters()).order_by("-created_at", "-pk")
    return _csv_response(leads, "leads")


@org_required(permission="leads.manage")
@require_POST
def lead_bulk(request: HttpRequest) -> HttpResponse:
    form = BulkForm(request.POST)
    back = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        back = reverse("leads:lead_list")
    if not form.is_valid():
        messages.error(request, " ".join(e for errors in form.errors.values() for e in errors))
        return redirect(back)
    data = form.cleaned_data
    ids = data["leads"]
    if data["action"] == "export":
        return _csv_response(selectors.lead_list(org=request.org).filter(pk__in=ids).order_by("pk"), "leads-selection")
    if data["action"] == "assign":
        owner = None
        if data["owner"] not in ("", "none"):
            owner = Membership.objects.for_org(request.org).filter(pk=data["owner"], removed_at=None).first()
            if owner is None:
                messages.error(request, "Choose an owner from your team.")
                return redirect(back)
        changed = services.leads_assign_owner(org=request.org, lead_ids=ids, owner=owner)
        who = owner.user if owner else "nobody"
        messages.success(request, f"{changed} lead{'s' if changed != 1 else ''} now owned by {who}.")
        return redirect(back)
    if not data["to"]:
        messages.error(request, "Choose the stage to move the leads to.")
        return redirect(back)
    moved, problems = services.leads_bulk_transition(
        org=request.org, lead_ids=ids, to=data["to"], actor=request.membership, reason=data["reason"]
    )
    if moved:
        messages.success(request, f"{moved} lead{'s' if moved != 1 else ''} moved to {Lead.Stage(data['to']).label}.")
    for problem in problems[:10]:
        messages.warning(request, problem)
    if len(problems) > 10:
        messages.warning(request, f"… and {len(problems) - 10} more could not move.")
    return redirect(back)


@org_required(permission="leads.view")
def lead_detail(request: HttpRequest, lead_id: int) -> HttpResponse:
    lead = selectors.lead_detail(org=request.org, lead_id=lead_id)
    allowed = Lead.TRANSITIONS[lead.lifecycle_stage]
    transition_form = TransitionForm()
    transition_form.fields["to"].choices = [(s, label) for s, label in Lead.Stage.choices if s in allowed]
    touches = selectors.lead_touches(org=request.org, lead_id=lead.pk)
    sales = handoff_views.lead_page_context(request, lead)
    context = {
        "lead": lead,
        "timeline": selectors.lead_timeline(lead=lead, touches=touches),
        "explanation": lead_explain(lead),
        "recommended": recommend_content(lead, consumed_asset_ids=lead_consumed_asset_ids(lead)),
        "messaging": _messaging(lead),
        "transition_form": transition_form,
        "can_edit": can(request.membership, "leads.edit"),
        # Addresses of records merged into this one (read only once the organisation has any).
        "other_emails": list(lead.email_aliases.values_list("email", flat=True))
        if request.org.has_email_aliases
        else [],
        **duplicate_views.lead_page_context(request.membership, lead),
        **sales,
        **deal_views.lead_page_context(request.membership, lead, lead_touches=touches, handoffs=sales["handoffs"]),
    }
    return render(request, "leads/lead_detail.html", context)


def _messaging(lead: Lead):
    """The persona's message for the lead's buyer stage: what a rep should say next."""
    if lead.persona is None or not lead.buyer_stage:
        return None
    return dict(persona_messaging(lead.persona)).get(lead.get_buyer_stage_display())


@org_required(permission="leads.edit")
def lead_create(request: HttpRequest) -> HttpResponse:
    form = LeadForm(request.POST or None, org=request.org)
    if request.method == "POST" and form.is_valid():
        lead = call_service(form, services.lead_create, org=request.org, data=form.to_input(), actor=request.membership)
        if lead is not None:
            messages.success(request, f"Lead {lead.email} created.")
            return redirect("leads:lead_detail", lead.pk)
    return render(request, "leads/lead_form.html", {"form": form})


@org_required(permission="leads.edit")
def lead_edit(request: HttpRequest, lead_id: int) -> HttpResponse:
    lead = selectors.lead_detail(org=request.org, lead_id=lead_id)
    form = LeadForm(request.POST or None, org=request.org, lead=lead)
    if request.method == "POST" and form.is_valid():
        if call_service(form, services.lead_update, lead=lead, data=form.to_input()) is not None:
            messages.success(request, "Lead saved.")
            return redirect("leads:lead_detail", lead.pk)
    return render(request, "leads/lead_form.html", {"form": form, "lead": lead})


@org_required(permission="leads.edit")
@require_POST
def lead_move(request: HttpRequest, lead_id: int) -> HttpResponse:
    lead = selectors.lead_detail(org=request.org, lead_id=lead_id)
    form = TransitionForm(request.POST)
    if form.is_valid():
        to = form.cleaned_data["to"]
        moved = call_service(
            form,
            services.lead_transition,
            lead=lead,
            to=to,
            actor=request.membership,
            reason=form.cleaned_data["reason"],
        )
        if moved is not None:
            messages.success(request, f"Moved to {Lead.Stage(to).label}.")
        else:
            messages.error(request, " ".join(form.non_field_errors() or [e for es in form.errors.values() for e in es]))
    else:
        messages.error(request, "Choose a stage.")
    return redirect("leads:lead_detail", lead.pk)
