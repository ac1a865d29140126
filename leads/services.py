"""Use cases of leads: create, update, and move through the lifecycle (one transition function)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator
from django.db import IntegrityError, transaction
from django.db.backends.base.operations import BaseDatabaseOperations
from django.db.models import QuerySet, Value
from django.db.models.functions import Upper
from django.utils import timezone

from leads.models import (
    BuyerStage,
    Campaign,
    Company,
    Handoff,
    Lead,
    LeadEmailAlias,
    LeadScore,
    ScoringModel,
    Seniority,
    StageChange,
    phone_key_for,
)
from leads.scoring import lead_score_save
from personas.matching import LeadAttributes, match_persona
from personas.models import DefinitionVersion, Persona
from personas.selectors import definitions_in_force
from smarketing.accounts.models import Membership, Organization
from smarketing.errors import Conflict, InvalidInput
from smarketing.prepared import PreparedInsertChain, PreparedRead

# Personal addresses say nothing about the company a lead works for.
FREE_MAIL_DOMAINS = frozenset(
    [
        "gmail.com",
        "googlemail.com",
        "yahoo.com",
        "yahoo.co.uk",
        "hotmail.com",
        "hotmail.co.uk",
        "outlook.com",
        "live.com",
        "msn.com",
        "icloud.com",
        "me.com",
        "aol.com",
        "gmx.de",
        "gmx.net",
        "web.de",
        "proton.me",
        "protonmail.com",
        "mail.com",
        "yandex.ru",
    ]
)
# Moves that hand a lead back or drop it need a reason a person can read later.
REASON_REQUIRED = frozenset({Lead.Stage.NURTURE, Lead.Stage.DISQUALIFIED})
NEW_LEAD_STAGES = frozenset({Lead.Stage.SUBSCRIBER, Lead.Stage.LEAD})

MAX_FIELD = 10_000


def _max_length(model: type, name: str) -> int:
    return model._meta.get_field(name).max_length


COMPANY_DOMAIN_MAX = _max_length(Company, "domain")


# At most one is active (scoring_model_one_active): no ORDER BY to build or run. Read on every
# lead creation and change: SQL built once per process (smarketing.prepared).
_active_scoring_model = PreparedRead(
    lambda org: ScoringModel.objects.for_org(org).filter(status=ScoringModel.Status.ACTIVE).order_by()[:1],
    org=Organization,
)
_active_personas = PreparedRead(lambda org: Persona.objects.for_org(org).filter(archived_at=None), org=Organization)
# The domain <> '' condition lets PostgreSQL use the partial unique index on UPPER(domain); the
# index is unique (company_domain_ci_unique): [:1] spares .first()'s ORDER BY.
_company_by_domain = PreparedRead(
    lambda org, domain: Company.objects.for_org(org).exclude(domain="").filter(domain__iexact=domain)[:1],
    org=Organization,
    domain=str,
)

# A new lead's row with its score row and first stage change: one INSERT built once per process.
_insert_lead = PreparedInsertChain(Lead, LeadScore, StageChange)


def active_scoring_model(org: Organization) -> ScoringModel | None:
    return next(iter(_active_scoring_model(org=org)), None)


def alias_lead_ids(org: Organization, emails: Iterable[str]) -> dict[str, int]:
    """Lead id by lower-case email, for those of ``emails`` that are another address of a lead
    (``LeadEmailAlias``: a record merged into it). Nothing is read while the organisation has none."""
    keys = {email.upper() for email in emails}
    if not keys or not org.has_email_aliases:
        return {}
    found = LeadEmailAlias.objects.for_org(org).alias(key=Upper("email")).filter(key__in=keys)
    return {email.lower(): lead_id for email, lead_id in found.values_list("email", "lead_id")}


def _refuse_an_alias(org: Organization, email: str, *, lead: Lead | None = None) -> None:
    other = alias_lead_ids(org, [email]).get(email)
    if other is not None and (lead is None or other != lead.pk):
        raise Conflict(f"{email} is another address of lead {other} (a record merged into it).", field="email")


def stage_move_refusal(from_stage: str, to: str) -> str | None:
    """Why a lead can't move from ``from_stage`` to ``to`` (None: it can). A new lead (no stage yet)
    starts as a subscriber or a lead. The allowed moves are ``Lead.TRANSITIONS``."""
    if to not in Lead.Stage.values:
        return f"Unknown lifecycle stage “{to}”."
    if not from_stage:
        return None if to in NEW_LEAD_STAGES else "A new lead starts as a subscriber or a lead."
    if from_stage == to:
        return f"The lead is already {Lead.Stage(to).label}."
    if to not in Lead.TRANSITIONS[from_stage]:
        allowed = ", ".join(sorted(Lead.Stage(s).label for s in Lead.TRANSITIONS[from_stage]))
        return (
            f"A lead can't move from {Lead.Stage(from_stage).label} to {Lead.Stage(to).label}; "
            f"from here it can go to {allowed}."
        )
    return None


def stage_change_row(
    *,
    org_id: int,
    lead_id: int | None,
    from_stage: str,
    to: str,
    at: datetime,
    actor: Membership | None = None,
    rule: str = "",
    reason: str = "",
    total_score: int | None,
    definitions: DefinitionVersion | None,
    model: ScoringModel | None,
) -> StageChange:
    """The history row of one move, checked: every path that sets a lifecycle stage builds its
    row here (``lead_transition``, a new lead, the rescore's bulk qualification), so the allowed
    moves and what a move records are in one place. Raises ``ValueError`` on a move that is not
    allowed (callers check first, with ``stage_move_refusal``, to say why)."""
    refusal = stage_move_refusal(from_stage, to)
    if refusal:
        raise ValueError(refusal)
    if actor is None and not rule:
        raise ValueError("A stage change is made by a person (actor) or a named rule.")
    return StageChange(
        organization_id=org_id,
        lead_id=lead_id,
        from_stage=from_stage,
        to_stage=to,
        changed_at=at,
        actor=actor,
        rule=rule,
        reason=reason,
        total_score=total_score,
        definitions_version=definitions,
        scoring_model=model,
    )


@transaction.atomic
def lead_transition(
    *,
    lead: Lead,
    to: str,
    actor: Membership | None = None,
    rule: str = "",
    reason: str = "",
    now: datetime | None = None,
) -> Lead:
    """Move ``lead`` to stage ``to``: the only way a lifecycle stage changes.

    Enforces the allowed moves, records who (``actor``) or what (``rule``) moved it and why,
    and the definitions version and scoring model in force, so reports can say which
    agreement a number was produced under.
    """
    now = now or timezone.now()
    # The lead row locked, its score read with it (the history records it).
    lead = Lead.objects.select_for_update(of=("self",)).select_related("score").get(pk=lead.pk)
    if to not in Lead.Stage.values:
        raise InvalidInput(f"Unknown lifecycle stage “{to}”.", field="lifecycle_stage")
    refusal = stage_move_refusal(lead.lifecycle_stage, to)
    if refusal:
        raise Conflict(refusal)
    if lead.lifecycle_stage == Lead.Stage.MQL and lead.handoffs.filter(status__in=Handoff.OPEN).exists():
        # A lead with sales leaves MQL through its handoff (accept, return), never around it.
        raise Conflict("The lead is with sales: accept or return its open handoff instead.")
    if to in REASON_REQUIRED and not reason.strip():
        raise InvalidInput(f"Say why the lead goes to {Lead.Stage(to).label.lower()}.", field="reason")
    definitions, model = definitions_in_force(org=lead.organization, at=now), active_scoring_model(lead.organization)
    stage_change_row(
        org_id=lead.organization_id,
        lead_id=lead.pk,
        from_stage=lead.lifecycle_stage,
        to=to,
        at=now,
        actor=actor,
        rule=rule,
        reason=reason.strip(),
        total_score=lead.total_score,
        definitions=definitions,
        model=model,
    ).save()
    lead.lifecycle_stage, lead.updated_at = to, now
    lead.save(update_fields=["lifecycle_stage", "updated_at"])
    if to == Lead.Stage.MQL:
        # Every new MQL goes to sales, whatever moved it (scoring, fast lane, a person).
        from leads.handoffs import handoff_open_for_mql

        handoff_open_for_mql(lead=lead, actor=actor, note=reason, now=now, definitions=definitions, scoring_model=model)
    return lead


@dataclass
class LeadInput:
    """Lead attributes from a page, the API, a form or an import; None means "leave as is"."""

    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    title: str | None = None
    seniority: str | None = None
    phone: str | None = None
    company_name: str | None = None
    company_domain: str | None = None
    industry: str | None = None
    company_size: int | None = None
    country: str | None = None
    buyer_stage: str | None = None
    owner: Membership | None = None
    campaign: Campaign | None = None

    def given(self) -> dict[str, object]:
        # The instance's dict holds the fields in declaration order (imports call this a million times).
        return {name: value for name, value in self.__dict__.items() if value is not None}


def company_domain_for(data: LeadInput, email: str) -> str:
    """The company domain a lead belongs to: the given one, else its email's unless free-mail
    (or longer than a company's domain column: an email's domain may be, a given one may not)."""
    domain = (data.company_domain or "").strip().lower().removeprefix("www.")
    if not domain:
        domain = email.rsplit("@", 1)[-1].lower()
        if domain in FREE_MAIL_DOMAINS or len(domain) > COMPANY_DOMAIN_MAX:
            domain = ""
    return domain


def _compiled(lazy_pattern) -> re.Pattern:
    return re.compile(lazy_pattern.pattern, lazy_pattern.flags)


class _EmailValidator(EmailValidator):
    """Django's email validator with its patterns compiled up front: Django's are lazy objects,
    and going through their proxies took three quarters of a check (10.2 µs an address
    against 2.7 µs; a CSV import checks a million). Same patterns, rules and messages."""

    user_regex = _compiled(EmailValidator.user_regex)
    domain_regex = _compiled(EmailValidator.domain_regex)
    literal_regex = _compiled(EmailValidator.literal_regex)


validate_email = _EmailValidator()
SENIORITIES = frozenset(Seniority.values)  # a choices' .values builds a new list at every call
BUYER_STAGES = frozenset(BuyerStage.values)


# Each text attribute of LeadInput, how a message names it, and the length of the column it is
# stored in: the database refuses longer (PostgreSQL with an error that would lose the whole
# request or batch). Seniority, buyer stage and country have stricter checks of their own below
# and only the cap on any text here. Built once: _validate runs for every lead and CSV row.
TEXT_LIMITS: tuple[tuple[str, str, int], ...] = tuple(
    (name, name.replace("_", " ").capitalize(), limit)
    for name, limit in (
        ("email", _max_length(Lead, "email")),
        ("first_name", _max_length(Lead, "first_name")),
        ("last_name", _max_length(Lead, "last_name")),
        ("title", _max_length(Lead, "title")),
        ("seniority", MAX_FIELD),
        ("phone", _max_length(Lead, "phone")),
        ("company_name", _max_length(Lead, "company_name")),
        ("company_domain", COMPANY_DOMAIN_MAX),
        ("industry", _max_length(Company, "industry")),
        ("country", MAX_FIELD),
        ("buyer_stage", MAX_FIELD),
    )
)
# Company.size is a 32-bit integer column (2,147,483,647 on PostgreSQL, whose error would be a 500).
COMPANY_SIZE_MAX = BaseDatabaseOperations.integer_field_ranges[Company._meta.get_field("size").get_internal_type()][1]


def _validate(org: Organization, data: LeadInput) -> None:
    """Check ``data`` against the rules of a lead, whatever the interface it came through (page,
    API, event, web form, CSV row); raises InvalidInput naming the first field at fault."""
    values = data.__dict__  # not given(), nor getattr per field: a CSV import checks a million rows
    for name, label, limit in TEXT_LIMITS:
        value = values[name]
        # Values are stored stripped: surrounding spaces don't count.
        if value is not None and len(value) > limit and len(value := value.strip()) > limit:
            raise InvalidInput(f"{label} is {len(value)} characters; the limit is {limit}.", field=name)
    if data.email is not None:
        try:
            validate_email(data.email.strip())
        except ValidationError:
            raise InvalidInput(f"“{data.email[:100]}” is not a valid email address.", field="email") from None
    if data.seniority and data.seniority not in SENIORITIES:
        raise InvalidInput(f"Unknown seniority “{data.seniority}”.", field="seniority")
    if data.buyer_stage and data.buyer_stage not in BUYER_STAGES:
        raise InvalidInput(f"Unknown buyer stage “{data.buyer_stage}”.", field="buyer_stage")
    if data.country and (len(data.country.strip()) != 2 or not data.country.strip().isalpha()):
        raise InvalidInput("Use a two-letter country code, e.g. GB.", field="country")
    if data.company_size is not None and not 1 <= data.company_size <= COMPANY_SIZE_MAX:
        raise InvalidInput(
            f"Company size is a number of employees, from 1 to {COMPANY_SIZE_MAX:,}.", field="company_size"
        )
    for related, name in ((data.owner, "owner"), (data.campaign, "campaign")):
        if related is not None and related.organization_id != org.pk:
            raise InvalidInput(f"Unknown {name}.", field=name)


def _company_facts(data: LeadInput) -> dict[str, object]:
    """What ``data`` says about the lead's company, as the Company fields it sets (empty: nothing)."""
    facts: dict[str, object] = {}
    if data.industry and (industry := data.industry.strip()):
        facts["industry"] = industry
    if data.company_size is not None:
        facts["size"] = data.company_size
    if data.country and (country := data.country.strip()):
        facts["country"] = country.upper()
    return facts


def _company_facts_save(company: Company, facts: dict[str, object]) -> None:
    changed = [attr for attr, value in facts.items() if getattr(company, attr) != value]
    for attr in changed:
        setattr(company, attr, facts[attr])
    if changed:
        company.save(update_fields=changed)


def _company_for(org: Organization, data: LeadInput, email: str) -> Company | None:
    """The account a lead belongs to, by the given domain or else the email's (not free-mail);
    without a domain, a new company of the given name (else none). It takes what ``data`` says
    about it (industry, size, country)."""
    domain = company_domain_for(data, email)
    if not domain and not data.company_name:
        return None
    facts = _company_facts(data)
    company = next(iter(_company_by_domain(org=org, domain=domain)), None) if domain else None
    if company is None:
        name = (data.company_name or domain.split(".")[0].title()).strip()[:200]
        try:
            with transaction.atomic():
                # Created with what the lead says about it: one INSERT, not an INSERT and an UPDATE.
                return Company.objects.create(organization=org, name=name, domain=domain, **facts)
        except IntegrityError:  # created meanwhile by a concurrent request
            company = Company.objects.for_org(org).exclude(domain="").get(domain__iexact=domain)
    _company_facts_save(company, facts)
    return company


def finds_company_anew(data: LeadInput, company: Company | None) -> bool:
    """Whether a change ``data`` to a lead with ``company`` finds its company again (by domain,
    else name, as a new lead's is found) rather than describing the one it has.

    With a company, only an input that says which company the lead works for does: a company
    domain (how companies are recognised), or, for a company known only by its name (no domain:
    a free-mail lead's), another name. A blank domain says nothing: the lead page sends one for
    a company without a domain. Industry, size or country alone describe the company as it is
    (never the email's: the two may differ). Without a company, anything said of one finds it.
    """
    if company is None:
        return any(
            v is not None
            for v in (data.company_domain, data.company_name, data.industry, data.company_size, data.country)
        )
    if data.company_domain and data.company_domain.strip():
        return True
    name = data.company_name.strip() if data.company_name else ""
    return bool(name) and not company.domain and name != company.name


def lead_attributes(lead: Lead) -> LeadAttributes:
    company = lead.company
    return {
        "title": lead.title,
        "seniority": lead.seniority,
        "industry": company.industry if company else "",
        "company_size": company.size if company else None,
        "country": company.country if company else "",
    }


def _apply(lead: Lead, data: LeadInput) -> None:
    for name in ("first_name", "last_name", "title", "seniority", "phone", "company_name", "buyer_stage"):
        value = getattr(data, name)
        if value is not None:
            setattr(lead, name, value.strip())
    lead.phone_key = phone_key_for(lead.phone)
    if data.owner is not None:
        lead.owner = data.owner
    if data.campaign is not None:
        lead.first_campaign = lead.first_campaign or data.campaign
        lead.latest_campaign = data.campaign


def _rematch(lead: Lead, model: ScoringModel | None) -> None:
    """Match the lead to a persona and work out its fit under ``model`` (the organisation's
    active one, None when it has none)."""
    from leads.scoring import lead_score_fit

    persona, _, _ = match_persona(lead_attributes(lead), personas=_active_personas(org=lead.organization))
    lead.persona = persona
    lead_score_fit(lead, model)


def lead_create(
    *,
    org: Organization,
    data: LeadInput,
    actor: Membership | None = None,
    rule: str = "",
    stage: str = Lead.Stage.LEAD,
    now: datetime | None = None,
) -> Lead:
    """A new lead, matched to a persona and fit-scored, entering the funnel at ``stage``.

    An email the organisation already has (in any case) is a ``Conflict`` and nothing is written.
    """
    if not data.email:
        raise InvalidInput("A lead needs an email address.", field="email")
    _validate(org, data)
    if stage not in NEW_LEAD_STAGES:
        raise InvalidInput("A new lead starts as a subscriber or a lead.", field="lifecycle_stage")
    email = data.email.strip().lower()
    _refuse_an_alias(org, email)
    try:
        return _lead_insert(org=org, data=data, email=email, actor=actor, rule=rule, stage=stage, now=now)
    except IntegrityError:
        # The unique index on (UPPER(email), organization) is the duplicate check: its probe in the
        # INSERT replaces a SELECT before it (creation is a hot path). The transaction has been rolled
        # back by now, a company made for the lead included, so the existing lead can be looked up.
        existing = Lead.objects.for_org(org).filter(email__iexact=email).values_list("pk", flat=True).first()
        if existing is None:
            raise  # not a duplicate email: some other integrity problem
        raise Conflict(f"{email} is already a lead (id {existing}).", field="email") from None


@transaction.atomic
def _lead_insert(
    *,
    org: Organization,
    data: LeadInput,
    email: str,
    actor: Membership | None,
    rule: str,
    stage: str,
    now: datetime | None,
) -> Lead:
    now = now or timezone.now()
    lead = Lead(organization=org, email=email, lifecycle_stage=stage, created_at=now, updated_at=now)
    _apply(lead, data)
    lead.company = _company_for(org, data, email)
    model = active_scoring_model(org)  # once: fit scoring and the stage change both name it
    _rematch(lead, model)
    change = stage_change_row(
        org_id=org.pk,
        lead_id=None,  # the chain's INSERT gives it the new lead's id
        from_stage="",
        to=stage,
        at=now,
        actor=actor,
        rule=rule or ("" if actor else "created"),
        reason="New lead",
        total_score=lead.total_score,
        definitions=definitions_in_force(org=org, at=now),
        model=model,
    )
    change.organization = org
    # The lead, its score row and its first stage change: one statement on PostgreSQL.
    _insert_lead(lead, lead.score, change)  # the score row lead_score_fit worked out
    lead_score_save(lead, created=True)
    return lead


@transaction.atomic
def lead_update(*, lead: Lead, data: LeadInput, now: datetime | None = None) -> Lead:
    """Change a lead's attributes (not its stage: that is lead_transition); re-match and re-score fit."""
    lead = (
        Lead.objects.select_for_update(of=("self",)).select_related("company", "score_explanation_row").get(pk=lead.pk)
    )
    # Its score row locked as well: scoring changes the engagement (and the explanation) otherwise.
    lead.score = LeadScore.objects.select_for_update().filter(lead=lead).first()
    _validate(lead.organization, data)
    if data.email is not None and data.email.strip().lower() != lead.email:
        email = data.email.strip().lower()
        if Lead.objects.for_org(lead.organization).filter(email__iexact=email).exclude(pk=lead.pk).exists():
            raise Conflict(f"{email} is already another lead.", field="email")
        _refuse_an_alias(lead.organization, email, lead=lead)
        lead.email = email
    campaigns = (lead.first_campaign_id, lead.latest_campaign_id)
    _apply(lead, data)
    if finds_company_anew(data, lead.company):
        lead.company = _company_for(lead.organization, data, lead.email)
    elif lead.company is not None:
        _company_facts_save(lead.company, _company_facts(data))
    _rematch(lead, active_scoring_model(lead.organization))
    lead.updated_at = now or timezone.now()
    # A campaign set by hand touches the lead as it is set (a first one only fills an empty
    # first: the lead has no campaign event, so it counts from its creation). Later touches
    # compare with that (leads.campaigns.campaign_touches_after).
    if lead.first_campaign_id != campaigns[0]:
        lead.first_campaign_at = None
    if lead.latest_campaign_id != campaigns[1]:
        lead.latest_campaign_at = lead.updated_at
    lead.save()
    lead_score_save(lead, created=False)
    return lead


def leads_assign_owner(*, org: Organization, lead_ids: list[int], owner: Membership | None) -> int:
    """Bulk: give the selected leads an owner (or none). Returns how many changed."""
    if owner is not None and owner.organization_id != org.pk:
        raise InvalidInput("Unknown owner.", field="owner")
    return Lead.objects.for_org(org).filter(pk__in=lead_ids).update(owner=owner, updated_at=timezone.now())


def leads_bulk_transition(
    *, org: Organization, lead_ids: list[int], to: str, actor: Membership, reason: str
) -> tuple[int, list[str]]:
    """Bulk: move the selected leads; each that can't move is reported, the others move."""
    moved, problems = 0, []
    for lead in Lead.objects.for_org(org).filter(pk__in=lead_ids).order_by("pk"):
        try:
            lead_transition(lead=lead, to=to, actor=actor, reason=reason)
            moved += 1
        except (Conflict, InvalidInput) as exc:
            problems.append(f"{lead.email}: {exc.message}")
    return moved, problems


def leads_qualify_bulk(*, org: Organization, model: ScoringModel, now: datetime | None = None) -> int:
    """Make MQLs, in bulk, of the leads that pass ``model`` after a full rescore.

    The set-based counterpart of lead_transition(…, to=MQL): the same candidates as
    ``qualifying_leads`` (which the model editor's preview counts), each move's history row built
    by ``stage_change_row`` as lead_transition builds it, and each new MQL handed to sales
    (routed in memory per batch of 5,000: a few queries, not a few per lead).
    """
    now = now or timezone.now()
    candidates = qualifying_leads(org=org, model=model).values_list("pk", "lifecycle_stage", "score__total")
    definitions = definitions_in_force(org=org, at=now)
    qualified = 0
    batch: list[tuple[int, str, int]] = []

    def flush() -> int:
        from leads.handoffs import handoffs_create_bulk

        with transaction.atomic():
            # Locked, then read again through the same rules: a lead a person moved meanwhile (a
            # rep returned it to nurture) is judged, and its history written, as it is now.
            ids = list(
                Lead.objects.select_for_update()
                .filter(pk__in=[pk for pk, _, _ in batch])
                .order_by("pk")
                .values_list("pk", flat=True)
            )
            rows = list(
                qualifying_leads(org=org, model=model)
                .filter(pk__in=ids)
                .values_list("pk", "lifecycle_stage", "score__total")
            )
            ids = {pk for pk, _, _ in rows}
            moved = Lead.objects.filter(pk__in=ids).update(lifecycle_stage=Lead.Stage.MQL, updated_at=now)
            StageChange.objects.bulk_create(
                stage_change_row(
                    org_id=org.pk,
                    lead_id=pk,
                    from_stage=stage,
                    to=Lead.Stage.MQL,
                    at=now,
                    rule=f"scoring v{model.version}: rescore",
                    reason="Qualified when the scoring model changed",
                    total_score=total,
                    definitions=definitions,
                    model=model,
                )
                for pk, stage, total in rows
            )
            handoffs_create_bulk(org=org, lead_ids=ids, now=now, scoring_model=model, definitions=definitions)
        return moved

    for row in candidates.iterator(chunk_size=5000):
        batch.append(row)
        if len(batch) >= 5000:
            qualified += flush()
            batch = []
    if batch:
        qualified += flush()
    return qualified


def qualifying_leads(*, org: Organization, model: ScoringModel) -> QuerySet[Lead]:
    """The leads a full rescore under ``model`` makes MQLs, by their stored scores.

    A subscriber or lead qualifies when its total reaches the threshold (with the minimum fit),
    or it has a fast-lane event. A lead in nurture was returned or recycled by a person: the
    model changing does not send it back to sales; only a fast-lane event that occurred after it
    entered nurture does (as in ``leads.scoring``).
    """
    from django.db.models import Exists, OuterRef, Q, Subquery
    from django.db.models.functions import Coalesce

    from leads.models import ActivityEvent
    from leads.scoring import QUALIFIABLE, RECYCLED, RECYCLED_SINCE_UNKNOWN

    assert all(Lead.Stage.MQL in Lead.TRANSITIONS[s] for s in QUALIFIABLE)
    fresh = Q(lifecycle_stage__in=QUALIFIABLE - RECYCLED)
    passes = fresh & Q(score__total__gte=model.mql_threshold, score__fit__gte=model.mql_min_fit)
    if model.fast_lane_event_types:
        fast_lane = ActivityEvent.objects.filter(lead=OuterRef("pk"), event_type__in=model.fast_lane_event_types)
        since = Subquery(
            StageChange.objects.filter(lead=OuterRef(OuterRef("pk")), to_stage__in=RECYCLED)
            .order_by("-changed_at")
            .values("changed_at")[:1]
        )
        passes |= fresh & Exists(fast_lane)
        passes |= Q(lifecycle_stage__in=RECYCLED) & Exists(
            fast_lane.filter(occurred_at__gt=Coalesce(since, Value(RECYCLED_SINCE_UNKNOWN)))
        )
    return Lead.objects.for_org(org).filter(passes)
