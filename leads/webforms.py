"""Web forms: a marketer's form for a campaign, embedded on the organisation's own sites.

The embed snippet loads ``static/tracking/sm.js``, which fetches the form's definition
(``webform_definition``), renders it and posts submissions back; the same script records
page views with an anonymous id. Both become events through ``leads.ingestion.events_ingest``
— the one path that stores events, creates leads for unknown emails and stitches a visitor's
earlier anonymous page views to the lead once a submission carries both.

Public endpoints only answer pages of the organisation's ``allowed_origins`` (``origin_allowed``);
a form is found by its public key, never by its id.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import parse_qsl, urlsplit

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator, validate_email
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from leads.ingestion import MAX_ID, events_ingest
from leads.models import ActivityEvent, Campaign, Seniority, WebForm
from smarketing.accounts.models import Membership, Organization
from smarketing.accounts.tenancy import get_for_org
from smarketing.errors import InvalidInput

NAME_MAX = WebForm._meta.get_field("name").max_length
CONSENT_MAX = WebForm._meta.get_field("consent_text").max_length
SUCCESS_MAX = WebForm._meta.get_field("success_message").max_length
REDIRECT_MAX = WebForm._meta.get_field("redirect_url").max_length
LABEL_MAX = 200
VALUE_MAX = 1_000  # any submitted value; most lead attributes are shorter still (see ATTRIBUTES)
URL_MAX = 2_000  # page addresses and referrers are kept, cut to this length
TITLE_MAX = 300
HONEYPOT = "website"  # a field people never see: only robots fill it in
RESERVED = frozenset({"consent", "anonymous_id", "page_url", HONEYPOT})
UTM_KEYS = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")


@dataclass(frozen=True)
class Attribute:
    """A lead attribute a form may ask for, and how a browser should ask for it."""

    label: str
    input_type: str = "text"
    max_length: int = VALUE_MAX
    autocomplete: str = ""
    choices: tuple[tuple[str, str], ...] = ()


# What a form may ask, in the order forms ask it. The names are ingestion's lead attributes;
# the lengths are the columns' (Lead, or Company for the company's domain and industry).
ATTRIBUTES: dict[str, Attribute] = {
    "email": Attribute("Work email", "email", 254, "email"),
    "first_name": Attribute("First name", max_length=100, autocomplete="given-name"),
    "last_name": Attribute("Last name", max_length=100, autocomplete="family-name"),
    "company_name": Attribute("Company", max_length=200, autocomplete="organization"),
    "company_domain": Attribute("Company website", max_length=200, autocomplete="url"),
    "title": Attribute("Job title", max_length=150, autocomplete="organization-title"),
    "seniority": Attribute("Seniority", "select", 20, choices=tuple(Seniority.choices)),
    "phone": Attribute("Phone", "tel", 40, "tel"),
    "industry": Attribute("Industry", max_length=100),
    "company_size": Attribute("Company size (employees)", "number", 9),
    "country": Attribute("Country (two-letter code, e.g. GB)", max_length=2, autocomplete="country"),
}


@dataclass
class WebFormInput:
    """Everything the form builder may set. ``fields``: [{"attribute", "label", "required"}, …]."""

    name: str
    campaign: Campaign | None = None
    fields: list[dict] = field(default_factory=list)
    consent_text: str = ""
    success_message: str = ""
    redirect_url: str = ""

    @classmethod
    def from_webform(cls, form: WebForm) -> WebFormInput:
        return cls(
            name=form.name,
            campaign=form.campaign,
            fields=[dict(f) for f in form.fields],
            consent_text=form.consent_text,
            success_message=form.success_message,
            redirect_url=form.redirect_url,
        )


class SubmissionInvalid(InvalidInput):
    """A submission with problems, reported per field to the person filling it in."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("Please correct the highlighted fields.", field=next(iter(errors)))
        self.errors = errors


# --- Writes (marketers) -----------------------------------------------------------------


def _fields_clean(raw: list[dict]) -> list[dict]:
    """Known attributes once each, in ATTRIBUTES order, email always there and required."""
    chosen: dict[str, dict] = {}
    for spec in raw:
        attribute = spec.get("attribute") or spec.get("name")
        if attribute not in ATTRIBUTES:
            raise InvalidInput(f"A form can't ask for “{str(attribute)[:50]}”.", field="fields")
        label = str(spec.get("label") or "").strip() or ATTRIBUTES[attribute].label
        if len(label) > LABEL_MAX:
            raise InvalidInput(f"Keep field labels to {LABEL_MAX} characters.", field="fields")
        chosen[attribute] = {
            "name": attribute,
            "attribute": attribute,
            "label": label,
            "required": bool(spec.get("required")),
        }
    email = chosen.setdefault("email", {"name": "email", "attribute": "email", "label": ATTRIBUTES["email"].label})
    email["required"] = True  # a submission without an email identifies nobody
    return [chosen[name] for name in ATTRIBUTES if name in chosen]


def _webform_validate(org: Organization, data: WebFormInput) -> WebFormInput:
    data.name = data.name.strip()
    if not data.name:
        raise InvalidInput("Give the form a name, e.g. “Webinar sign-up”.", field="name")
    if len(data.name) > NAME_MAX:
        raise InvalidInput(f"Keep the name to {NAME_MAX} characters.", field="name")
    if data.campaign is not None and data.campaign.organization_id != org.pk:
        raise InvalidInput("Unknown campaign.", field="campaign")
    data.fields = _fields_clean(data.fields)
    data.consent_text = data.consent_text.strip()
    if len(data.consent_text) > CONSENT_MAX:
        raise InvalidInput(f"Keep the consent text to {CONSENT_MAX} characters.", field="consent_text")
    data.success_message = data.success_message.strip() or WebForm._meta.get_field("success_message").default
    if len(data.success_message) > SUCCESS_MAX:
        raise InvalidInput(f"Keep the success message to {SUCCESS_MAX} characters.", field="success_message")
    data.redirect_url = data.redirect_url.strip()
    if data.redirect_url:
        try:
            URLValidator(schemes=["http", "https"])(data.redirect_url)
        except ValidationError:
            raise InvalidInput(
                "Enter a full web address, e.g. https://example.com/thanks.", field="redirect_url"
            ) from None
        if len(data.redirect_url) > REDIRECT_MAX:
            raise InvalidInput(f"Keep the address to {REDIRECT_MAX} characters.", field="redirect_url")
    return data


def _values(data: WebFormInput) -> dict[str, object]:
    return {
        "name": data.name,
        "campaign": data.campaign,
        "fields": data.fields,
        "consent_text": data.consent_text,
        "success_message": data.success_message,
        "redirect_url": data.redirect_url,
    }


@transaction.atomic
def webform_create(
    *, org: Organization, data: WebFormInput, actor: Membership | None = None, now: datetime | None = None
) -> WebForm:
    """A new form with an unguessable public key for its embed snippet."""
    data = _webform_validate(org, data)
    return WebForm.objects.create(
        organization=org,
        key=secrets.token_urlsafe(18),  # 24 characters, 144 random bits
        created_by=actor,
        created_at=now or timezone.now(),
        **_values(data),
    )


@transaction.atomic
def webform_update(*, form: WebForm, data: WebFormInput) -> WebForm:
    """Replace the form's settings; its key (and so every embedded copy) stays the same."""
    form = WebForm.objects.select_for_update().get(pk=form.pk)
    data = _webform_validate(form.organization, data)
    for name, value in _values(data).items():
        setattr(form, name, value)
    form.save()
    return form


def webform_archive(*, form: WebForm, now: datetime | None = None) -> WebForm:
    """Stop the form: embedded copies no longer load or accept submissions. Its events stay."""
    WebForm.objects.filter(pk=form.pk, archived_at=None).update(archived_at=now or timezone.now())
    form.refresh_from_db(fields=["archived_at"])
    return form


# --- Reads (marketers) ------------------------------------------------------------------


def webform_list(*, org: Organization, archived: bool = False) -> QuerySet[WebForm]:
    return (
        WebForm.objects.for_org(org)
        .filter(archived_at__isnull=not archived)
        .select_related("campaign", "created_by__user")
        .order_by("-created_at", "-id")
    )


def webform_get(*, org: Organization, webform_id: int) -> WebForm:
    return get_for_org(WebForm.objects.select_related("campaign", "organization"), org=org, pk=webform_id)


# --- Public: the embedded form and tracking ---------------------------------------------


def webform_by_key(*, key: str) -> WebForm | None:
    """The active form with this public key: an archived and an unknown key are both None."""
    return WebForm.objects.select_related("organization", "campaign").filter(key=key, archived_at=None).first()


def origin_allowed(*, org: Organization, origin: str, own_origins: set[str]) -> bool:
    """May a page at ``origin`` (a request's Origin header) use the organisation's forms?

    Yes for the origins the organisation lists (stored normalised, see OrganizationForm) and
    for the app's own pages (``own_origins``). A missing or opaque (``null``) origin: no.
    """
    origin = origin.strip().lower()
    if not origin or origin == "null":
        return False
    return origin in own_origins or origin in {o.lower() for o in org.allowed_origins or []}


def webform_definition(form: WebForm) -> dict:
    """What the script needs to render the form: fields in order, labels, consent text."""
    fields = []
    for spec in form.fields:
        attribute = ATTRIBUTES.get(spec.get("attribute") or spec.get("name"))
        if attribute is None:
            continue
        item = {
            "name": spec["name"],
            "label": spec.get("label") or attribute.label,
            "type": attribute.input_type,
            "required": bool(spec.get("required")),
            "max_length": min(attribute.max_length, VALUE_MAX),
            "autocomplete": attribute.autocomplete,
        }
        if attribute.choices:
            item["options"] = [{"value": v, "label": label} for v, label in attribute.choices]
        fields.append(item)
    return {
        "key": form.key,
        "fields": fields,
        "consent_text": form.consent_text,
        "success_message": form.success_message,
        "redirect_url": form.redirect_url,
        "honeypot": HONEYPOT,
    }


@dataclass
class Submission:
    """The outcome of a submission: ``stored`` is False for one caught by the honeypot."""

    stored: bool
    event_id: str = ""
    email: str = ""


def _text(value: object) -> str | None:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else ""
    if isinstance(value, (str, int, float)):
        return str(value).strip()
    return None  # objects and lists are not a form value


def _truthy(value: object) -> bool:
    return value is True or (isinstance(value, str) and value.strip().lower() in {"1", "true", "on", "yes"})


def _attribute_error(name: str, value: str) -> str | None:
    if name == "email":
        try:
            validate_email(value)
        except ValidationError:
            return "Enter a valid email address."
    elif name == "company_size":
        if not value.isdigit() or int(value) < 1:
            return "Enter the number of employees, e.g. 250."
    elif name == "country":
        if len(value) != 2 or not value.isalpha():
            return "Use a two-letter country code, e.g. GB."
    elif name == "seniority" and value not in Seniority.values:
        return "Choose one of the options."
    return None


def _utm_from(url: str) -> dict[str, str]:
    try:
        query = urlsplit(url).query
    except ValueError:
        return {}
    return {k: v[:100] for k, v in parse_qsl(query) if k in UTM_KEYS and v}


def _anonymous_id(value: object) -> str:
    """A usable anonymous id, or none: a bad one must not cost the visitor their submission."""
    return value.strip() if isinstance(value, str) and 0 < len(value.strip()) <= MAX_ID else ""


def _url(value: object, limit: int = URL_MAX) -> str:
    return value.strip()[:limit] if isinstance(value, str) else ""


def webform_submit(*, form: WebForm, data: Mapping[str, object], now: datetime | None = None) -> Submission:
    """Validate a submission and store it as one ``form_submit`` event (creating or updating the lead).

    The event carries the visitor's anonymous id, so the page views it made before are
    stitched to the lead, and the form's campaign's UTM values, so ingestion attributes the
    lead to that campaign. Without a campaign, UTM values in the page's address are used.
    A filled-in honeypot is accepted silently and stores nothing.
    """
    now = now or timezone.now()
    if _text(data.get(HONEYPOT)):
        return Submission(stored=False)
    errors: dict[str, str] = {}
    values: dict[str, str] = {}
    for spec in form.fields:
        name = spec["name"]
        attribute = ATTRIBUTES.get(spec.get("attribute") or name)
        if attribute is None:
            continue
        value = _text(data.get(name))
        limit = min(attribute.max_length, VALUE_MAX)
        if value is None:
            errors[name] = "Send this field as text."
        elif not value:
            if spec.get("required") or name == "email":
                errors[name] = "This field is required."
        elif len(value) > VALUE_MAX:
            errors[name] = f"Keep this to {limit:,} characters (it has {len(value):,})."
        elif message := _attribute_error(name, value):
            errors[name] = message
        elif len(value) > limit:
            errors[name] = f"Keep this to {limit:,} characters (it has {len(value):,})."
        else:
            values[name] = value.upper() if name == "country" else value
    consent = _truthy(data.get("consent"))
    if form.consent_text and not consent:
        errors["consent"] = "Please tick the box to agree."
    if errors:
        raise SubmissionInvalid(errors)

    page_url = _url(data.get("page_url"))
    properties: dict[str, object] = {"form": form.key, "page_url": page_url, "consent": consent}
    campaign = form.campaign
    if campaign is not None and any((campaign.utm_source, campaign.utm_medium, campaign.utm_campaign)):
        # The form belongs to a campaign: that is the touch to attribute, whichever page it is on.
        properties.update(
            utm_source=campaign.utm_source, utm_medium=campaign.utm_medium, utm_campaign=campaign.utm_campaign
        )
    else:
        properties.update(_utm_from(page_url))
    email = values.pop("email").lower()
    event = {
        "id": f"form-{form.key}-{uuid.uuid4()}",
        "type": ActivityEvent.Type.FORM_SUBMIT,
        "occurred_at": now.isoformat(),
        "email": email,
        "anonymous_id": _anonymous_id(data.get("anonymous_id")),
        "properties": properties,
        "lead": values,
    }
    result = events_ingest(org=form.organization, payload={"events": [event]}, now=now)
    if result.errors:
        # Checked above, so unexpected: report it to the visitor rather than lose it silently.
        raise InvalidInput(result.errors[0]["error"])
    return Submission(stored=True, event_id=event["id"], email=email)


def page_view_track(*, form: WebForm, data: Mapping[str, object], now: datetime | None = None) -> str:
    """Store a ``page_view`` of an anonymous visitor on a page carrying the form's snippet."""
    now = now or timezone.now()
    anonymous_id = _anonymous_id(data.get("anonymous_id"))
    if not anonymous_id:
        raise InvalidInput(f"“anonymous_id” is required, up to {MAX_ID} characters.", field="anonymous_id")
    url = _url(data.get("url"))
    properties = {
        "url": url,
        "referrer": _url(data.get("referrer")),
        "title": _url(data.get("title"), TITLE_MAX),
        "form": form.key,
        **_utm_from(url),
    }
    event_id = f"pv-{uuid.uuid4()}"
    event = {
        "id": event_id,
        "type": ActivityEvent.Type.PAGE_VIEW,
        "occurred_at": now.isoformat(),
        "anonymous_id": anonymous_id,
        "properties": properties,
    }
    result = events_ingest(org=form.organization, payload={"events": [event]}, now=now)
    if result.errors:
        raise InvalidInput(result.errors[0]["error"])
    return event_id
