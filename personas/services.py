"""Use cases of personas, definitions, the content library and content requests."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import Max
from django.urls import reverse
from django.utils import timezone

from leads.models import BuyerStage, Campaign, Channel, Lead
from personas.glossary import REQUIRED_KEYS
from personas.models import (
    ContentAsset,
    ContentRequest,
    DefinitionSignoff,
    DefinitionTerm,
    DefinitionVersion,
    Persona,
    PersonaMessage,
    Seniority,
)
from personas.uploads import validate_upload
from smarketing.accounts.models import Membership, Organization
from smarketing.accounts.policy import can
from smarketing.business_time import add_business_days
from smarketing.errors import Conflict, InvalidInput

COUNTRY_CODE = re.compile(r"^[A-Z]{2}$")


# --- Personas -------------------------------------------------------------------------


@dataclass
class PersonaInput:
    """Everything a persona form or API call may set; lists are already split."""

    name: str
    summary: str = ""
    goals: str = ""
    pain_points: str = ""
    objections: str = ""
    preferred_channels: list[str] = field(default_factory=list)
    industries: list[str] = field(default_factory=list)
    company_size_min: int | None = None
    company_size_max: int | None = None
    title_keywords: list[str] = field(default_factory=list)
    seniorities: list[str] = field(default_factory=list)
    countries: list[str] = field(default_factory=list)
    # buyer stage -> (key message, proof points)
    messaging: dict[str, tuple[str, str]] = field(default_factory=dict)


def _clean_list(values: Iterable[str]) -> list[str]:
    seen: dict[str, str] = {}
    for value in values:
        value = value.strip()
        if value and value.lower() not in seen:
            seen[value.lower()] = value
    return list(seen.values())


def _persona_validate(org: Organization, data: PersonaInput, persona: Persona | None) -> PersonaInput:
    data.name = data.name.strip()
    if not data.name:
        raise InvalidInput("Give the persona a name, e.g. “Marketing Mary”.", field="name")
    data.industries = _clean_list(data.industries)
    data.title_keywords = _clean_list(data.title_keywords)
    data.countries = _clean_list(c.upper() for c in data.countries)
    data.seniorities = _clean_list(data.seniorities)
    data.preferred_channels = _clean_list(data.preferred_channels)
    bad = [c for c in data.countries if not COUNTRY_CODE.match(c)]
    if bad:
        raise InvalidInput(f"Use two-letter country codes (e.g. GB, DE); not {', '.join(bad)}.", field="countries")
    bad = [s for s in data.seniorities if s not in Seniority.values]
    if bad:
        raise InvalidInput(f"Unknown seniority {', '.join(bad)}.", field="seniorities")
    bad = [c for c in data.preferred_channels if c not in Channel.values]
    if bad:
        raise InvalidInput(f"Unknown channel {', '.join(bad)}.", field="preferred_channels")
    low, high = data.company_size_min, data.company_size_max
    if (low is not None and low < 0) or (high is not None and high < 1):
        raise InvalidInput("Company sizes are counts of employees, 1 or more.", field="company_size_min")
    if low is not None and high is not None and low > high:
        raise InvalidInput(f"The minimum company size ({low}) is above the maximum ({high}).", field="company_size_max")
    if not (data.industries or data.title_keywords or data.seniorities or data.countries or low or high):
        raise InvalidInput(
            "Set at least one fit criterion (industry, company size, title keyword, seniority or country), "
            "so leads can be matched to this persona.",
            field="industries",
        )
    bad = [s for s in data.messaging if s not in BuyerStage.values]
    if bad:
        raise InvalidInput(f"Unknown buyer stage {', '.join(bad)}.", field="messaging")
    others = Persona.objects.for_org(org).filter(archived_at=None).exclude(pk=getattr(persona, "pk", None))
    if others.filter(name__iexact=data.name).exists():
        raise InvalidInput(f"There is already a persona called “{data.name}”.", field="name")
    candidate = Persona(**_persona_fields(data))
    for other in others:
        if other.criteria() == candidate.criteria():
            raise InvalidInput(
                f"“{other.name}” has exactly these fit criteria, so every lead would tie between the two. "
                "Make the criteria differ, or edit that persona instead.",
                field="industries",
            )
    return data


def _persona_fields(data: PersonaInput) -> dict[str, object]:
    return {
        "name": data.name,
        "summary": data.summary.strip(),
        "goals": data.goals.strip(),
        "pain_points": data.pain_points.strip(),
        "objections": data.objections.strip(),
        "preferred_channels": data.preferred_channels,
        "industries": data.industries,
        "company_size_min": data.company_size_min,
        "company_size_max": data.company_size_max,
        "title_keywords": data.title_keywords,
        "seniorities": data.seniorities,
        "countries": data.countries,
    }


def _persona_messages_save(persona: Persona, messaging: Mapping[str, tuple[str, str]]) -> None:
    for stage, (key_message, proof_points) in messaging.items():
        PersonaMessage.objects.update_or_create(
            persona=persona,
            buyer_stage=stage,
            defaults={
                "organization": persona.organization,
                "key_message": key_message.strip(),
                "proof_points": proof_points.strip(),
            },
        )


@transaction.atomic
def persona_create(
    *, org: Organization, data: PersonaInput, actor: Membership | None = None, now: datetime | None = None
) -> Persona:
    data = _persona_validate(org, data, None)
    now = now or timezone.now()
    persona = Persona.objects.create(
        organization=org, created_by=actor, created_at=now, updated_at=now, **_persona_fields(data)
    )
    _persona_messages_save(persona, data.messaging)
    return persona


@transaction.atomic
def persona_update(*, persona: Persona, data: PersonaInput) -> Persona:
    persona = Persona.objects.select_for_update().get(pk=persona.pk)
    data = _persona_validate(persona.organization, data, persona)
    for name, value in _persona_fields(data).items():
        setattr(persona, name, value)
    persona.updated_at = timezone.now()
    persona.save()
    _persona_messages_save(persona, data.messaging)
    return persona


def persona_archive(*, persona: Persona, now: datetime | None = None) -> Persona:
    """Archive: no longer matched to new leads; leads and content keep pointing at it."""
    now = now or timezone.now()
    if not Persona.objects.filter(pk=persona.pk, archived_at=None).update(archived_at=now):
        raise Conflict(f"“{persona.name}” is already archived.")
    persona.archived_at = now
    return persona


# --- Definitions ----------------------------------------------------------------------


@dataclass
class DefinitionsInput:
    terms: list[dict[str, str]]  # key, label, wording
    mql_threshold: int
    sql_criteria: str
    mql_min_fit: int = 0
    summary: str = ""


@transaction.atomic
def definitions_propose(
    *, proposer: Membership, data: DefinitionsInput, now: datetime | None = None
) -> DefinitionVersion:
    """A manager proposes the next version; it is active only once both sides have signed."""
    org = proposer.organization
    if not can(proposer, "definitions.propose"):
        raise InvalidInput("Only a manager can propose definitions.")
    Organization.objects.select_for_update().filter(pk=org.pk).first()  # one numbering at a time
    pending = DefinitionVersion.objects.for_org(org).filter(status=DefinitionVersion.Status.PROPOSED).first()
    if pending:
        raise Conflict(f"Version {pending.number} is awaiting sign-off; sign or withdraw it before proposing another.")
    keys = [t["key"] for t in data.terms]
    missing = REQUIRED_KEYS - set(keys)
    if missing:
        raise InvalidInput(f"Every version must word these terms too: {', '.join(sorted(missing))}.", field="terms")
    empty = [t["label"] for t in data.terms if not t["wording"].strip()]
    if empty:
        raise InvalidInput(f"Word every term; empty: {', '.join(empty)}.", field="terms")
    if len(set(keys)) != len(keys):
        raise InvalidInput("A term appears twice.", field="terms")
    if data.mql_threshold < 1:
        raise InvalidInput("The MQL threshold is a score of 1 or more.", field="mql_threshold")
    if not data.sql_criteria.strip():
        raise InvalidInput("Say what sales checks before accepting a lead as an SQL.", field="sql_criteria")
    number = (DefinitionVersion.objects.for_org(org).aggregate(n=Max("number"))["n"] or 0) + 1
    version = DefinitionVersion.objects.create(
        organization=org,
        number=number,
        summary=data.summary.strip()[:300],
        mql_threshold=data.mql_threshold,
        mql_min_fit=data.mql_min_fit,
        sql_criteria=data.sql_criteria.strip(),
        proposed_by=proposer,
        proposed_at=now or timezone.now(),
    )
    DefinitionTerm.objects.bulk_create(
        DefinitionTerm(
            organization=org,
            version=version,
            key=t["key"],
            label=t["label"].strip(),
            wording=t["wording"].strip(),
            position=i,
        )
        for i, t in enumerate(data.terms)
    )
    return version


@transaction.atomic
def definitions_sign(
    *, version: DefinitionVersion, signer: Membership, now: datetime | None = None
) -> DefinitionVersion:
    """Sign for the signer's side; the second side's signature activates the version."""
    now = now or timezone.now()
    version = DefinitionVersion.objects.select_for_update().get(pk=version.pk)
    if version.status != DefinitionVersion.Status.PROPOSED:
        raise Conflict(f"Version {version.number} is {version.get_status_display().lower()}; it can't be signed.")
    if not can(signer, "definitions.sign"):
        raise InvalidInput("Only a marketing-side or sales-side manager can sign definitions.")
    signoffs = list(version.signoffs.all())
    if any(s.membership_id == signer.pk for s in signoffs):
        raise Conflict("You have already signed this version.")
    sides = {s.side for s in signoffs}
    if signer.side in sides:
        # Recorded, but a second signature from the same side activates nothing.
        DefinitionSignoff.objects.create(
            organization=version.organization, version=version, membership=signer, side=signer.side, signed_at=now
        )
        return version
    DefinitionSignoff.objects.create(
        organization=version.organization, version=version, membership=signer, side=signer.side, signed_at=now
    )
    if sides | {signer.side} >= set(Membership.Side.values):
        DefinitionVersion.objects.for_org(version.organization).filter(status=DefinitionVersion.Status.ACTIVE).update(
            status=DefinitionVersion.Status.SUPERSEDED, superseded_at=now
        )
        version.status, version.activated_at = DefinitionVersion.Status.ACTIVE, now
        version.save(update_fields=["status", "activated_at"])
    return version


def definitions_withdraw(*, version: DefinitionVersion) -> DefinitionVersion:
    updated = DefinitionVersion.objects.filter(pk=version.pk, status=DefinitionVersion.Status.PROPOSED).update(
        status=DefinitionVersion.Status.WITHDRAWN
    )
    if not updated:
        raise Conflict(f"Only a version awaiting sign-off can be withdrawn; v{version.number} is not.")
    version.refresh_from_db()
    return version


# --- Content library ------------------------------------------------------------------


@dataclass
class AssetInput:
    title: str
    asset_type: str
    buyer_stage: str
    url: str = ""
    description: str = ""
    personas: list[Persona] = field(default_factory=list)
    campaign: Campaign | None = None
    file: UploadedFile | None = None


def _asset_validate(org: Organization, data: AssetInput, asset: ContentAsset | None) -> None:
    if not data.title.strip():
        raise InvalidInput("Give the asset a title.", field="title")
    if data.asset_type not in ContentAsset.Type.values:
        raise InvalidInput(f"Unknown content type “{data.asset_type}”.", field="asset_type")
    if data.buyer_stage not in BuyerStage.values:
        raise InvalidInput(f"Unknown buyer stage “{data.buyer_stage}”.", field="buyer_stage")
    has_file = data.file is not None or (asset is not None and asset.file)
    if not data.url and not has_file:
        raise InvalidInput("Give a link to the content or upload its file.", field="url")
    if any(p.organization_id != org.pk for p in data.personas):
        raise InvalidInput("Unknown persona.", field="personas")
    if data.campaign is not None and data.campaign.organization_id != org.pk:
        raise InvalidInput("Unknown campaign.", field="campaign")


@transaction.atomic
def asset_save(
    *,
    org: Organization,
    data: AssetInput,
    owner: Membership | None = None,
    asset: ContentAsset | None = None,
    now: datetime | None = None,
) -> ContentAsset:
    """Create (``asset`` None) or update a content asset; an uploaded file is checked first."""
    _asset_validate(org, data, asset)
    file_name = validate_upload(data.file) if data.file is not None else None
    asset = asset or ContentAsset(organization=org, owner=owner, created_at=now or timezone.now())
    asset.title = data.title.strip()
    asset.asset_type = data.asset_type
    asset.buyer_stage = data.buyer_stage
    asset.url = data.url.strip()
    asset.description = data.description.strip()
    asset.campaign = data.campaign
    if data.file is not None:
        asset.file.save(file_name, data.file, save=False)
        asset.file_name = file_name
    asset.save()
    asset.personas.set(data.personas)
    return asset


@transaction.atomic
def asset_delete(*, asset: ContentAsset) -> None:
    """Delete an asset; requests it fulfilled keep its title (their link becomes empty)."""
    ContentRequest.objects.filter(delivered_asset=asset, delivered_asset_title="").update(
        delivered_asset_title=asset.title
    )
    stored = asset.file.name if asset.file else None
    storage = asset.file.storage if asset.file else None
    asset.delete()
    if stored:
        transaction.on_commit(lambda: storage.delete(stored))


# --- Content requests -----------------------------------------------------------------


@transaction.atomic
def content_request_create(
    *,
    requester: Membership,
    question: str,
    buyer_stage: str,
    persona: Persona | None = None,
    lead: Lead | None = None,
    urgency: str = ContentRequest.Urgency.NORMAL,
    now: datetime | None = None,
) -> ContentRequest:
    org = requester.organization
    now = now or timezone.now()
    if not question.strip():
        raise InvalidInput("Write down the question or objection prospects raise.", field="question")
    if buyer_stage not in BuyerStage.values:
        raise InvalidInput("Choose the buyer stage where the question comes up.", field="buyer_stage")
    if urgency not in ContentRequest.Urgency.values:
        raise InvalidInput(f"Unknown urgency “{urgency}”.", field="urgency")
    for related, label in ((persona, "persona"), (lead, "lead")):
        if related is not None and related.organization_id != org.pk:
            raise InvalidInput(f"Unknown {label}.", field=label)
    return ContentRequest.objects.create(
        organization=org,
        requested_by=requester,
        question=question.strip(),
        persona=persona,
        buyer_stage=buyer_stage,
        lead=lead,
        urgency=urgency,
        created_at=now,
        due_at=add_business_days(now, org.content_request_turnaround_days, time_zone=org.time_zone),
    )


@transaction.atomic
def content_request_transition(
    *,
    request: ContentRequest,
    to: str,
    actor: Membership,
    asset: ContentAsset | None = None,
    reason: str = "",
    now: datetime | None = None,
    email: bool = True,
) -> ContentRequest:
    """Move a request along new → accepted → in progress → delivered, or to declined.

    Delivering links an asset and notifies the requester (in the app, and by email unless
    ``email`` is off, e.g. when back-filling history); declining needs a reason.
    """
    from smarketing.notifications.services import notify

    now = now or timezone.now()
    request = ContentRequest.objects.select_for_update().select_related("requested_by").get(pk=request.pk)
    if to not in ContentRequest.TRANSITIONS[request.status]:
        raise Conflict(
            f"A request that is {request.get_status_display().lower()} can't become "
            f"{ContentRequest.Status(to).label.lower()}."
        )
    if to == ContentRequest.Status.DECLINED and not reason.strip():
        raise InvalidInput("Say why the request is declined; the rep will read it.", field="reason")
    if to == ContentRequest.Status.DELIVERED:
        if asset is None or asset.organization_id != request.organization_id:
            raise InvalidInput("Choose the asset that answers the request.", field="asset")
        request.delivered_asset, request.delivered_asset_title = asset, asset.title
    if to == ContentRequest.Status.ACCEPTED:
        request.accepted_at, request.assignee = now, actor
    if request.assignee is None:
        request.assignee = actor
    if to in (ContentRequest.Status.DELIVERED, ContentRequest.Status.DECLINED):
        request.closed_at = now
    request.status = to
    request.decline_reason = reason.strip() if to == ContentRequest.Status.DECLINED else request.decline_reason
    request.save()
    if to in (ContentRequest.Status.DELIVERED, ContentRequest.Status.DECLINED):
        url = reverse("personas:content_request_detail", args=[request.pk])
        if to == ContentRequest.Status.DELIVERED:
            title, body = f"Your content request was delivered: {asset.title}", f"For: {request.question}"
        else:
            title, body = "Your content request was declined", f"{request.question}\n\nWhy: {request.decline_reason}"
        notify(
            recipient=request.requested_by,
            kind=f"content_request.{to}",
            title=title,
            body=body,
            url=url,
            email=email,
            now=now,
        )
    return request
