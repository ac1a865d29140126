"""Use cases of the agreement: draft, change, sign (both sides activate it), withdraw, renew,
and which agreement is in force for a handoff (its response window sets the due time)."""

from __future__ import annotations

import calendar
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from leads.models import Team, TeamMember
from sla.models import MAX_RESPONSE_HOURS, Agreement
from smarketing.accounts.models import Membership, Organization
from smarketing.accounts.policy import can
from smarketing.errors import Conflict, Forbidden, InvalidInput


@dataclass
class AgreementInput:
    """The terms of an agreement, as a form or the API gives them."""

    starts_on: date
    revenue_target: Decimal
    response_hours: int
    period: str = Agreement.Period.MONTH
    team: Team | None = None
    mql_target: int | None = None
    sql_target: int | None = None
    min_acceptance_percent: int | None = None
    attempts_min: int = 3
    attempts_days: int = 5
    notes: str = ""

    @classmethod
    def of(cls, agreement: Agreement) -> AgreementInput:
        return cls(**{f: getattr(agreement, f) for f in cls.__dataclass_fields__})


def period_bounds(period: str, day: date) -> tuple[date, date]:
    """The month or quarter ``day`` falls in: its first and last day."""
    if period == Agreement.Period.QUARTER:
        first_month = (day.month - 1) // 3 * 3 + 1
        start = date(day.year, first_month, 1)
        last_month = first_month + 2
    elif period == Agreement.Period.MONTH:
        start, last_month = date(day.year, day.month, 1), day.month
    else:
        raise InvalidInput("Choose a month or a quarter.", field="period")
    return start, date(day.year, last_month, calendar.monthrange(day.year, last_month)[1])


def _scope(qs, team: Team | None):
    return qs.filter(team=team) if team is not None else qs.filter(team__isnull=True)


def _overlapping_active(org: Organization, team: Team | None, start: date, end: date, exclude: int | None):
    qs = _scope(Agreement.objects.for_org(org), team).filter(
        status=Agreement.Status.ACTIVE, starts_on__lte=end, ends_on__gte=start
    )
    return qs.exclude(pk=exclude) if exclude else qs


def _clean(org: Organization, data: AgreementInput, *, exclude: int | None = None) -> AgreementInput:
    """The terms checked and normalised (the period from any day in it); a field error otherwise."""
    start, end = period_bounds(data.period, data.starts_on)
    if data.revenue_target is None or Decimal(data.revenue_target) <= 0:
        raise InvalidInput("The revenue target must be more than zero.", field="revenue_target")
    if data.mql_target is None and data.sql_target is None:
        raise InvalidInput("Marketing commits to a number of MQLs, of SQLs, or both.", field="mql_target")
    for name in ("mql_target", "sql_target"):
        value = getattr(data, name)
        if value is not None and value < 1:
            raise InvalidInput("A target must be at least 1.", field=name)
    if not 1 <= data.response_hours <= MAX_RESPONSE_HOURS:
        raise InvalidInput(
            f"The response window is 1 to {MAX_RESPONSE_HOURS} business hours (30 days).", field="response_hours"
        )
    if data.attempts_min < 1:
        raise InvalidInput("At least one attempt.", field="attempts_min")
    if data.attempts_days < 1:
        raise InvalidInput("At least one day for the attempts.", field="attempts_days")
    if data.min_acceptance_percent is not None and not 0 <= data.min_acceptance_percent <= 100:
        raise InvalidInput("A share between 0 and 100%.", field="min_acceptance_percent")
    if data.team is not None and data.team.organization_id != org.pk:
        raise InvalidInput("Unknown team.", field="team")
    clash = _overlapping_active(org, data.team, start, end, exclude).first()
    if clash is not None:
        raise InvalidInput(f"An active agreement already covers {clash}.", field="starts_on")
    return replace(data, starts_on=start, notes=data.notes.strip())


def _require_editor(actor: Membership, org: Organization) -> None:
    if actor.organization_id != org.pk or not can(actor, "sla.edit"):
        raise Forbidden("Only managers draft and change agreements.")


@transaction.atomic
def agreement_draft(
    *,
    org: Organization,
    actor: Membership,
    data: AgreementInput,
    renewed_from: Agreement | None = None,
    now: datetime | None = None,
) -> Agreement:
    """A new agreement, awaiting both sides' signatures."""
    _require_editor(actor, org)
    data = _clean(org, data)
    _, ends_on = period_bounds(data.period, data.starts_on)
    return Agreement.objects.create(
        organization=org,
        ends_on=ends_on,
        created_by=actor,
        created_at=now or timezone.now(),
        renewed_from=renewed_from,
        **vars(data),
    )


@transaction.atomic
def agreement_update(*, agreement: Agreement, actor: Membership, data: AgreementInput) -> Agreement:
    """New terms for a draft; a signature already given is withdrawn (it was for other terms)."""
    _require_editor(actor, agreement.organization)
    agreement = Agreement.objects.select_for_update().get(pk=agreement.pk)
    if agreement.status != Agreement.Status.DRAFT:
        raise Conflict(f"This agreement is {agreement.get_status_display().lower()}: renew it for changes.")
    data = _clean(agreement.organization, data, exclude=agreement.pk)
    for name, value in vars(data).items():
        setattr(agreement, name, value)
    agreement.ends_on = period_bounds(data.period, data.starts_on)[1]
    agreement.marketing_signed_by = agreement.marketing_signed_at = None
    agreement.sales_signed_by = agreement.sales_signed_at = None
    agreement.save()
    return agreement


@transaction.atomic
def agreement_sign(*, agreement: Agreement, actor: Membership, side: str, now: datetime | None = None) -> Agreement:
    """Sign for ``side``: only a manager of that side may. Both sides signed: it is active."""
    now = now or timezone.now()
    agreement = (
        Agreement.objects.select_for_update(of=("self",)).select_related("organization", "team").get(pk=agreement.pk)
    )
    if actor.organization_id != agreement.organization_id:
        raise Forbidden("Not a member of this organisation.")
    if side not in Membership.Side.values:
        raise InvalidInput("Sign for marketing or for sales.", field="side")
    if actor.role != Membership.Role.MANAGER or actor.side != side:
        label = Membership.Side(side).label.lower()
        raise InvalidInput(f"Only a {label}-side manager signs for {label}.", field="side")
    if agreement.status != Agreement.Status.DRAFT:
        raise Conflict(f"This agreement is {agreement.get_status_display().lower()}; it can't be signed.")
    if getattr(agreement, f"{side}_signed_by_id") is not None:
        raise Conflict(f"{Membership.Side(side).label} has already signed.")
    setattr(agreement, f"{side}_signed_by", actor)
    setattr(agreement, f"{side}_signed_at", now)
    if agreement.marketing_signed_by_id and agreement.sales_signed_by_id:
        clash = _overlapping_active(
            agreement.organization, agreement.team, agreement.starts_on, agreement.ends_on, agreement.pk
        ).first()
        if clash is not None:
            raise Conflict(f"An active agreement already covers {clash}: withdraw this draft or change its period.")
        agreement.status, agreement.activated_at = Agreement.Status.ACTIVE, now
    agreement.save()
    return agreement


@transaction.atomic
def agreement_withdraw(*, agreement: Agreement, actor: Membership) -> Agreement:
    _require_editor(actor, agreement.organization)
    if not Agreement.objects.filter(pk=agreement.pk, status=Agreement.Status.DRAFT).update(
        status=Agreement.Status.WITHDRAWN
    ):
        raise Conflict("Only a draft can be withdrawn.")
    agreement.refresh_from_db()
    return agreement


@transaction.atomic
def agreement_renew(*, agreement: Agreement, actor: Membership, now: datetime | None = None) -> Agreement:
    """ "Vow renewal": the same terms for the next period, as a draft to review and sign."""
    next_start = agreement.ends_on + timedelta(days=1)
    taken = _scope(Agreement.objects.for_org(agreement.organization), agreement.team).filter(
        starts_on=next_start, status__in=[Agreement.Status.DRAFT, Agreement.Status.ACTIVE]
    )
    if taken.exists():
        raise Conflict("The next period already has an agreement: open it instead.")
    data = replace(AgreementInput.of(agreement), starts_on=next_start)
    return agreement_draft(org=agreement.organization, actor=actor, data=data, renewed_from=agreement, now=now)


def agreements_in_force(org: Organization, day: date) -> list[Agreement]:
    """The active agreements covering ``day``: the organisation's and its teams'."""
    return list(
        Agreement.objects.for_org(org).filter(status=Agreement.Status.ACTIVE, starts_on__lte=day, ends_on__gte=day)
    )


def response_hours_for(*, org: Organization, rep_id: int | None, at: datetime) -> int:
    """The response window of a handoff to ``rep_id`` made ``at``: the active agreement of the
    rep's team, else the organisation's, else the organisation's setting. Read once per
    organisation object and day (a bulk routing pays two queries)."""
    day = timezone.localdate(at)
    cache = getattr(org, "_sla_in_force", None)
    if cache is None or cache[0] != day:
        agreements = agreements_in_force(org, day)
        team_of: dict[int, set[int]] = {}
        if any(a.team_id for a in agreements):
            for member_id, team_id in TeamMember.objects.filter(team__organization=org).values_list(
                "membership_id", "team_id"
            ):
                team_of.setdefault(member_id, set()).add(team_id)
        cache = (day, agreements, team_of)
        org._sla_in_force = cache
    _, agreements, team_of = cache
    teams = team_of.get(rep_id, set())
    for agreement in agreements:
        if agreement.team_id and agreement.team_id in teams:
            return agreement.response_hours
    for agreement in agreements:
        if agreement.team_id is None:
            return agreement.response_hours
    return org.handoff_response_hours
