"""Use cases of scoring models: draft, edit, preview and activate (which rescores everyone)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from leads.models import ActivityEvent, Job, ScoringModel
from leads.scoring import CAP_PERIODS, FIT_ATTRIBUTES, FIT_OPERATORS
from smarketing.accounts.models import Membership, Organization
from smarketing.errors import Conflict, InvalidInput

PROPERTY_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,40}$")
MAX_CAP = 1000

# A sensible start for an organisation without a model: B2B fit, buying signals, decay.
DEFAULT_MODEL = {
    "fit_rules": [
        {"attribute": "seniority", "operator": "in", "value": ["director", "vp", "c_level", "owner"], "points": 15},
        {"attribute": "company_size", "operator": "gte", "value": 50, "points": 10},
        {"attribute": "title", "operator": "contains", "value": "student", "points": -30},
        {
            "attribute": "email_domain",
            "operator": "in",
            "value": ["gmail.com", "yahoo.com", "hotmail.com"],
            "points": -5,
        },
    ],
    "persona_match_points": 20,
    "engagement_rules": [
        {"event_type": "demo_request", "points": 50},
        {"event_type": "trial_signup", "points": 40},
        {"event_type": "pricing_view", "points": 15},
        {"event_type": "page_view", "property": "url", "contains": "/pricing", "points": 10},
        {"event_type": "webinar_attended", "points": 15},
        {"event_type": "content_download", "points": 10},
        {"event_type": "form_submit", "points": 10},
        {"event_type": "webinar_registered", "points": 5},
        {"event_type": "email_click", "points": 3},
        {"event_type": "page_view", "points": 1, "cap": 5, "cap_period": "day"},
        {"event_type": "email_open", "points": 1, "cap": 3, "cap_period": "week"},
        {"event_type": "unsubscribe", "points": -25},
    ],
    "decay_half_life_days": 30,
    "mql_threshold": 60,
    "mql_min_fit": 15,
    "fast_lane_event_types": ["demo_request"],
}


@dataclass
class ScoringModelInput:
    fit_rules: list[dict] = field(default_factory=list)
    engagement_rules: list[dict] = field(default_factory=list)
    persona_match_points: int = 0
    decay_half_life_days: int = 30
    mql_threshold: int = 60
    mql_min_fit: int = 0
    fast_lane_event_types: list[str] = field(default_factory=list)


def _validate(data: ScoringModelInput) -> ScoringModelInput:
    for i, rule in enumerate(data.fit_rules, start=1):
        if rule.get("attribute") not in FIT_ATTRIBUTES:
            raise InvalidInput(f"Fit rule {i}: unknown attribute “{rule.get('attribute')}”.", field="fit_rules")
        if rule.get("operator") not in FIT_OPERATORS:
            raise InvalidInput(f"Fit rule {i}: unknown operator “{rule.get('operator')}”.", field="fit_rules")
        if rule["operator"] != "is_set" and rule.get("value") in (None, "", []):
            raise InvalidInput(f"Fit rule {i}: give a value to compare with.", field="fit_rules")
        if rule["operator"] in ("gte", "lte"):
            try:
                float(rule["value"])
            except (TypeError, ValueError):
                raise InvalidInput(f"Fit rule {i}: “{rule['value']}” is not a number.", field="fit_rules") from None
        if not isinstance(rule.get("points"), int):
            raise InvalidInput(f"Fit rule {i}: points are a whole number (negative for a penalty).", field="fit_rules")
    for i, rule in enumerate(data.engagement_rules, start=1):
        if rule.get("event_type") not in ActivityEvent.Type.values:
            raise InvalidInput(f"Engagement rule {i}: unknown event type.", field="engagement_rules")
        prop, needle = rule.get("property") or "", rule.get("contains") or ""
        if bool(prop) != bool(needle):
            raise InvalidInput(
                f"Engagement rule {i}: a property condition needs both the property and the text.",
                field="engagement_rules",
            )
        # The name becomes part of an ORM lookup path: a plain identifier, no "__".
        if prop and (not PROPERTY_NAME.match(prop) or "__" in prop):
            raise InvalidInput(f"Engagement rule {i}: “{prop}” is not a property name.", field="engagement_rules")
        if not isinstance(rule.get("points"), int):
            raise InvalidInput(f"Engagement rule {i}: points are a whole number.", field="engagement_rules")
        cap = rule.get("cap")
        if cap is not None and (not isinstance(cap, int) or isinstance(cap, bool) or not 1 <= cap <= MAX_CAP):
            raise InvalidInput(
                f"Engagement rule {i}: the cap is a whole number of events from 1 to {MAX_CAP} (or none).",
                field="engagement_rules",
            )
        if rule.get("cap_period") not in (None, "", *CAP_PERIODS):
            raise InvalidInput(
                f"Engagement rule {i}: a cap is per {', '.join(CAP_PERIODS[:-1])} or {CAP_PERIODS[-1]}.",
                field="engagement_rules",
            )
    if data.decay_half_life_days < 1:
        raise InvalidInput("The half-life is at least one day.", field="decay_half_life_days")
    if data.mql_threshold < 1:
        raise InvalidInput("The MQL threshold is at least 1.", field="mql_threshold")
    unknown = set(data.fast_lane_event_types) - set(ActivityEvent.Type.values)
    if unknown:
        raise InvalidInput(f"Unknown fast-lane event type {', '.join(unknown)}.", field="fast_lane_event_types")
    return data


def _fields(data: ScoringModelInput) -> dict:
    return {name: getattr(data, name) for name in ScoringModelInput.__dataclass_fields__}


@transaction.atomic
def scoring_model_draft(*, org: Organization, actor: Membership | None = None) -> ScoringModel:
    """A new draft version, starting from the active model (or the default one)."""
    Organization.objects.select_for_update().filter(pk=org.pk).first()
    if ScoringModel.objects.for_org(org).filter(status=ScoringModel.Status.DRAFT).exists():
        raise Conflict("There is already a draft; edit or discard it first.")
    active = ScoringModel.objects.for_org(org).filter(status=ScoringModel.Status.ACTIVE).first()
    start = (
        {name: getattr(active, name) for name in ScoringModelInput.__dataclass_fields__} if active else DEFAULT_MODEL
    )
    version = (ScoringModel.objects.for_org(org).aggregate(v=Max("version"))["v"] or 0) + 1
    return ScoringModel.objects.create(organization=org, version=version, created_by=actor, **start)


def scoring_model_update(*, model: ScoringModel, data: ScoringModelInput) -> ScoringModel:
    if model.status != ScoringModel.Status.DRAFT:
        raise Conflict(f"Version {model.version} is {model.get_status_display().lower()}; only a draft can change.")
    for name, value in _fields(_validate(data)).items():
        setattr(model, name, value)
    model.save()
    return model


def scoring_model_discard(*, model: ScoringModel) -> None:
    if model.status != ScoringModel.Status.DRAFT:
        raise Conflict("Only a draft can be discarded.")
    model.delete()


@transaction.atomic
def scoring_model_activate(*, model: ScoringModel, actor: Membership | None = None, now: datetime | None = None) -> Job:
    """Make ``model`` the active one and rescore every lead under it in the background."""
    from leads.tasks import rescore_job

    now = now or timezone.now()
    model = ScoringModel.objects.select_for_update().get(pk=model.pk)
    if model.status != ScoringModel.Status.DRAFT:
        raise Conflict(f"Version {model.version} is not a draft.")
    _validate(ScoringModelInput(**{name: getattr(model, name) for name in ScoringModelInput.__dataclass_fields__}))
    ScoringModel.objects.for_org(model.organization).filter(status=ScoringModel.Status.ACTIVE).update(
        status=ScoringModel.Status.RETIRED
    )
    model.status, model.activated_at = ScoringModel.Status.ACTIVE, now
    model.save(update_fields=["status", "activated_at"])
    job = Job.objects.create(
        organization=model.organization, kind=Job.Kind.RESCORE, created_by=actor, params={"scoring_model": model.pk}
    )
    rescore_job.delay_on_commit(job.pk)
    return job


def scoring_model_ensure_default(*, org: Organization, now: datetime | None = None) -> ScoringModel:
    """The active model, creating the default one (active, version 1) when there is none."""
    active = ScoringModel.objects.for_org(org).filter(status=ScoringModel.Status.ACTIVE).first()
    if active:
        return active
    version = (ScoringModel.objects.for_org(org).aggregate(v=Max("version"))["v"] or 0) + 1
    return ScoringModel.objects.create(
        organization=org,
        version=version,
        status=ScoringModel.Status.ACTIVE,
        activated_at=now or timezone.now(),
        **DEFAULT_MODEL,
    )
