"""Web forms: the marketer's pages (list, build, embed snippet, archive) and the public endpoints.

Public endpoints (no login, no CSRF token: other sites call them; JSON in and out):

* ``GET  /f/<key>/``        the form's definition, for ``sm.js`` to render
* ``POST /f/<key>/submit``  a submission (JSON or form-encoded) → a lead and a ``form_submit`` event
* ``POST /t/<key>``         a page view of an anonymous visitor → a ``page_view`` event

Each answers only pages whose ``Origin`` is one of the organisation's allowed origins (or the
app itself), with ``Access-Control-Allow-Origin`` set to that exact origin, never ``*``. Posts
are rate limited per client address through the cache.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import wraps
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.cache import patch_vary_headers
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from rest_framework.throttling import BaseThrottle

from leads import webforms
from leads.models import Campaign, WebForm
from leads.webforms import ATTRIBUTES, WebFormInput
from smarketing.accounts.models import Organization
from smarketing.accounts.tenancy import org_required
from smarketing.errors import DomainError
from smarketing.forms import call_action, call_service

# --- Marketer pages -------------------------------------------------------------------


class WebFormForm(forms.Form):
    """Name, campaign, and per lead attribute: ask it?, its label, required? (email: always)."""

    name = forms.CharField(max_length=webforms.NAME_MAX, help_text="For you; visitors don't see it.")
    campaign = forms.ModelChoiceField(
        queryset=Campaign.objects.none(),
        required=False,
        empty_label="No campaign",
        help_text="Leads from this form are attributed to it (through its UTM values).",
    )
    consent_text = forms.CharField(
        max_length=webforms.CONSENT_MAX,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Shown next to a checkbox visitors must tick. Leave empty for no checkbox.",
    )
    success_message = forms.CharField(
        max_length=webforms.SUCCESS_MAX,
        required=False,
        help_text="Shown after a submission.",
    )
    redirect_url = forms.URLField(
        max_length=webforms.REDIRECT_MAX,
        required=False,
        label="Redirect to",
        assume_scheme="https",
        help_text="Instead of the message, send visitors to this page (e.g. a thank-you page).",
    )

    def __init__(self, *args, org: Organization, webform: WebForm | None = None, **kwargs) -> None:
        if webform is not None and "initial" not in kwargs:
            kwargs["initial"] = self.initial_for(webform)
        super().__init__(*args, **kwargs)
        self.fields["campaign"].queryset = Campaign.objects.for_org(org).order_by("name")
        if webform is None and not self.is_bound:
            self.initial.setdefault("success_message", WebForm._meta.get_field("success_message").default)
        for name, attribute in ATTRIBUTES.items():
            if name != "email":
                self.fields[f"{name}__ask"] = forms.BooleanField(required=False, label=f"Ask {attribute.label}")
                self.fields[f"{name}__required"] = forms.BooleanField(required=False, label="Required")
            self.fields[f"{name}__label"] = forms.CharField(
                max_length=webforms.LABEL_MAX,
                required=False,
                label="Label",
                widget=forms.TextInput(attrs={"placeholder": attribute.label}),
            )

    @staticmethod
    def initial_for(webform: WebForm) -> dict[str, Any]:
        initial = {
            name: getattr(webform, name)
            for name in ("name", "campaign", "consent_text", "success_message", "redirect_url")
        }
        for spec in webform.fields:
            name = spec["name"]
            initial.update({f"{name}__ask": True, f"{name}__required": spec.get("required", False)})
            if spec.get("label") != ATTRIBUTES.get(name, ATTRIBUTES["email"]).label:
                initial[f"{name}__label"] = spec.get("label", "")
        return initial

    def attribute_rows(self) -> list[dict[str, Any]]:
        """One row per lead attribute, for the template's table."""
        return [
            {
                "name": name,
                "default_label": attribute.label,
                "ask": self[f"{name}__ask"] if name != "email" else None,
                "required": self[f"{name}__required"] if name != "email" else None,
                "label": self[f"{name}__label"],
            }
            for name, attribute in ATTRIBUTES.items()
        ]

    def to_input(self) -> WebFormInput:
        data = self.cleaned_data
        fields = [
            {
                "attribute": name,
                "label": data[f"{name}__label"],
                "required": name == "email" or data[f"{name}__required"],
            }
            for name in ATTRIBUTES
            if name == "email" or data[f"{name}__ask"]
        ]
        return WebFormInput(
            name=data["name"],
            campaign=data["campaign"],
            fields=fields,
            consent_text=data["consent_text"],
            success_message=data["success_message"],
            redirect_url=data["redirect_url"],
        )


def embed_snippet(form: WebForm) -> str:
    return (
        f'<div data-smarketing-form="{form.key}"></div>\n'
        f'<script src="{settings.SITE_URL}/static/tracking/sm.js" data-smarketing="{settings.SITE_URL}" async></script>'
    )


def tracking_snippet(form: WebForm) -> str:
    """For the site's other pages: page views only, no form."""
    return (
        f'<script src="{settings.SITE_URL}/static/tracking/sm.js" data-smarketing="{settings.SITE_URL}" '
        f'data-smarketing-site="{form.key}" async></script>'
    )


@org_required(permission="webforms.edit")
def webform_list(request: HttpRequest) -> HttpResponse:
    archived = request.GET.get("archived") == "1"
    context = {
        "webforms": webforms.webform_list(org=request.org, archived=archived),
        "archived": archived,
    }
    return render(request, "leads/webform_list.html", context)


@org_required(permission="webforms.edit")
def webform_create(request: HttpRequest) -> HttpResponse:
    initial = {"first_name__ask": True, "last_name__ask": True, "company_name__ask": True}
    form = WebFormForm(request.POST or None, org=request.org, initial=initial)
    if request.method == "POST" and form.is_valid():
        webform = call_service(
            form, webforms.webform_create, org=request.org, data=form.to_input(), actor=request.membership
        )
        if webform is not None:
            messages.success(request, f"Form “{webform.name}” created. Copy the snippet onto your site.")
            return redirect("webforms:webform_detail", webform.pk)
    return render(request, "leads/webform_form.html", {"form": form})


@org_required(permission="webforms.edit")
def webform_detail(request: HttpRequest, webform_id: int) -> HttpResponse:
    webform = webforms.webform_get(org=request.org, webform_id=webform_id)
    context = {
        "webform": webform,
        "definition": webforms.webform_definition(webform),
        "snippet": embed_snippet(webform),
        "tracking_snippet": tracking_snippet(webform),
        "allowed_origins": request.org.allowed_origins or [],
        "campaign_has_utm": bool(
            webform.campaign
            and any((webform.campaign.utm_source, webform.campaign.utm_medium, webform.campaign.utm_campaign))
        ),
    }
    return render(request, "leads/webform_detail.html", context)


@org_required(permission="webforms.edit")
def webform_edit(request: HttpRequest, webform_id: int) -> HttpResponse:
    webform = webforms.webform_get(org=request.org, webform_id=webform_id)
    form = WebFormForm(request.POST or None, org=request.org, webform=webform)
    if request.method == "POST" and form.is_valid():
        updated = call_service(form, webforms.webform_update, form=webform, data=form.to_input())
        if updated is not None:
            messages.success(
                request, f"Form “{updated.name}” saved. Embedded copies show the change on their next load."
            )
            return redirect("webforms:webform_detail", webform.pk)
    return render(request, "leads/webform_form.html", {"form": form, "webform": webform})


@org_required(permission="webforms.edit")
@require_POST
def webform_archive(request: HttpRequest, webform_id: int) -> HttpResponse:
    webform = webforms.webform_get(org=request.org, webform_id=webform_id)
    call_action(
        request,
        webforms.webform_archive,
        form=webform,
        success=f"Form “{webform.name}” archived: embedded copies no longer show or accept submissions.",
    )
    return redirect("webforms:webform_list")


# --- Public endpoints -----------------------------------------------------------------

CORS_MAX_AGE = 24 * 3600
_DURATIONS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _error(status: int, detail: str, **extra: Any) -> JsonResponse:
    return JsonResponse({"detail": detail, **extra}, status=status)


def _rate(scope: str) -> tuple[int, int]:
    """``"20/min"`` from REST_FRAMEWORK's throttle rates → (20 requests, 60 seconds)."""
    rate = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"][scope]
    count, period = rate.split("/")
    return int(count), _DURATIONS[period.strip()[0]]


for _scope in ("webform", "tracking"):
    try:
        _rate(_scope)
    except (KeyError, ValueError, IndexError):
        raise ImproperlyConfigured(
            f"REST_FRAMEWORK['DEFAULT_THROTTLE_RATES'][{_scope!r}] must be a rate such as 20/min."
        ) from None


def rate_limited(request: HttpRequest, *, scope: str, key: str = "") -> bool:
    """Count this client's request (per ``key`` too); True once over the scope's rate.

    A window opens at the client's first request and lasts the rate's period. The client is
    identified as DRF's throttles identify it (``REST_FRAMEWORK["NUM_PROXIES"]``), so the
    sign-in throttle and this one agree about who is who behind a proxy.
    """
    limit, seconds = _rate(scope)
    cache_key = f"webform-rate:{scope}:{key}:{BaseThrottle().get_ident(request)}"
    if cache.add(cache_key, 1, timeout=seconds):
        return limit < 1
    try:
        return cache.incr(cache_key) > limit
    except ValueError:  # the window closed between add and incr: this request opens the next
        cache.add(cache_key, 1, timeout=seconds)
        return limit < 1


def _own_origins(request: HttpRequest) -> set[str]:
    """The app's own origin, as the request reached it and as SITE_URL names it."""
    return {f"{request.scheme}://{request.get_host()}".lower(), settings.SITE_URL.lower()}


def public_endpoint(*, methods: tuple[str, ...]) -> Callable:
    """Find the active form by its key (404), check the page's Origin (403), answer CORS
    preflights, and put ``Access-Control-Allow-Origin`` (that exact origin) on the answer."""
    allow = ", ".join((*methods, "OPTIONS"))

    def decorator(view: Callable[[HttpRequest, WebForm], HttpResponse]) -> Callable[..., HttpResponse]:
        @csrf_exempt
        @wraps(view)
        def wrapper(request: HttpRequest, form_key: str) -> HttpResponse:
            origin = request.headers.get("Origin", "")
            form = webforms.webform_by_key(key=form_key)
            allowed = False
            if request.method not in (*methods, "OPTIONS"):
                response = _error(405, f"Use {' or '.join(methods)}.")
                response["Allow"] = allow
            elif form is None:
                response = _error(404, "No such form.")
            elif origin and not webforms.origin_allowed(
                org=form.organization, origin=origin, own_origins=_own_origins(request)
            ):
                response = _error(
                    403, "This site may not use this form: add its origin in the organisation's settings."
                )
            elif request.method == "POST" and not origin:
                # Browsers send Origin with every POST: a post without one did not come from a page.
                response = _error(403, "Send the request from a web page (an Origin header is required).")
            else:
                allowed = bool(origin)
                if request.method == "OPTIONS":
                    response = HttpResponse(status=204)
                    response["Access-Control-Allow-Methods"] = allow
                    response["Access-Control-Allow-Headers"] = "Content-Type"
                    response["Access-Control-Max-Age"] = str(CORS_MAX_AGE)
                else:
                    response = view(request, form)
            if allowed:
                # The exact origin, never "*": only the organisation's own sites may read answers.
                response["Access-Control-Allow-Origin"] = origin
            patch_vary_headers(response, ["Origin"])
            response["Cache-Control"] = "no-store"
            return response

        return wrapper

    return decorator


def _payload(request: HttpRequest) -> dict[str, Any]:
    """JSON (any content type: the tracker sends text/plain to skip the preflight) or a form post."""
    if request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        return request.POST.dict()
    try:
        data = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError):
        raise DomainError("Send a JSON object or a form post.") from None
    if not isinstance(data, dict):
        raise DomainError("Send a JSON object.")
    return data


@public_endpoint(methods=("GET",))
def public_definition(request: HttpRequest, form: WebForm) -> HttpResponse:
    return JsonResponse(webforms.webform_definition(form))


@public_endpoint(methods=("POST",))
def public_submit(request: HttpRequest, form: WebForm) -> HttpResponse:
    if rate_limited(request, scope="webform", key=form.key):
        return _error(429, "Too many submissions from your network; please try again in a minute.")
    try:
        webforms.webform_submit(form=form, data=_payload(request))
    except webforms.SubmissionInvalid as exc:
        return _error(400, exc.message, field=exc.field, errors=exc.errors)
    except DomainError as exc:
        return _error(
            exc.status_code, exc.message, field=exc.field, errors={exc.field: exc.message} if exc.field else {}
        )
    # A honeypot catch gets the same answer: the robot learns nothing.
    return JsonResponse({"ok": True, "message": form.success_message, "redirect_url": form.redirect_url})


@public_endpoint(methods=("POST",))
def public_track(request: HttpRequest, form: WebForm) -> HttpResponse:
    if rate_limited(request, scope="tracking"):
        return _error(429, "Too many events; slow down.")
    try:
        webforms.page_view_track(form=form, data=_payload(request))
    except DomainError as exc:
        return _error(exc.status_code, exc.message, field=exc.field)
    return JsonResponse({"ok": True}, status=202)
