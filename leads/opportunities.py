"""Opportunities and their outcomes: open a deal from an SQL (or a customer's upsell or renewal),
move it through the pipeline, and record it won (revenue, attributed to campaigns) or lost (why).

Won new business makes the lead a customer; lost new business sends it to nurture for
marketing to recycle. Upsells and renewals leave a customer a customer either way.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from leads.models import Handoff, Lead, LostReason, Opportunity
from reporting.attribution import opportunity_credit
from smarketing.accounts.models import Membership, Organization
from smarketing.accounts.policy import can, can_work_lead, can_work_opportunity
from smarketing.errors import Conflict, Forbidden, InvalidInput, reason_and_note
from smarketing.notifications.services import notify


def _money(org: Organization, amount: Decimal, currency: str, *, positive: bool = False) -> Decimal:
    if currency != org.currency:
        raise InvalidInput(f"Deals are recorded in {org.currency}, the organisation's currency.", field="currency")
    amount = Decimal(amount)
    if amount < 0 or (positive and amount == 0):
        raise InvalidInput(
            "A won deal's amount must be more than zero." if positive else "The amount can't be negative.",
            field="amount",
        )
    return amount


def _stage(org: Organization, stage: str) -> str:
    if stage not in org.pipeline_stages:
        raise InvalidInput(f"Choose one of the pipeline's stages: {', '.join(org.pipeline_stages)}.", field="stage")
    return stage


def _owner(org: Organization, actor: Membership, owner: Membership | None) -> Membership:
    if owner is None or owner.pk == actor.pk:
        return actor
    if not can(actor, "opportunities.manage"):
        raise Forbidden("Only managers give a deal to someone else.")
    if owner.organization_id != org.pk or owner.removed_at is not None:
        raise InvalidInput("Unknown member.", field="owner")
    if owner.role not in (Membership.Role.SALES_REP, Membership.Role.MANAGER, Membership.Role.ADMIN):
        raise InvalidInput("Deals are owned by sales reps and managers.", field="owner")
    return owner


def _locked_lead(lead: Lead) -> Lead:
    return Lead.objects.select_for_update(of=("self",)).select_related("organization", "company").get(pk=lead.pk)


@transaction.atomic
def opportunity_create(
    *,
    lead: Lead,
    actor: Membership,
    amount: Decimal,
    currency: str,
    expected_close_date: date,
    name: str = "",
    kind: str = Opportunity.Kind.NEW_BUSINESS,
    stage: str = "",
    owner: Membership | None = None,
    now: datetime | None = None,
) -> Opportunity:
    """Open a deal. New business needs an SQL (which becomes an opportunity); a customer's deal
    is an upsell or a renewal."""
    from leads.services import lead_transition

    now = now or timezone.now()
    lead = _locked_lead(lead)
    org = lead.organization
    if not can_work_lead(actor, lead, action="opportunities.work"):
        raise Forbidden("Only the rep working this lead, or a manager, can open a deal for it.")
    if kind not in Opportunity.Kind.values:
        raise InvalidInput("Choose new business, upsell or renewal.", field="kind")
    stage_now = lead.lifecycle_stage
    if kind == Opportunity.Kind.NEW_BUSINESS:
        if stage_now == Lead.Stage.CUSTOMER:
            raise InvalidInput("The lead is already a customer: this is an upsell or a renewal.", field="kind")
        if stage_now not in (Lead.Stage.SQL, Lead.Stage.OPPORTUNITY):
            raise Conflict(
                f"The lead is {lead.get_lifecycle_stage_display()}: a deal starts from an SQL "
                "(accept the handoff first)."
            )
    elif stage_now != Lead.Stage.CUSTOMER:
        raise InvalidInput("Upsells and renewals are for existing customers.", field="kind")
    amount = _money(org, amount, currency)
    stage = _stage(org, stage or org.pipeline_stages[0])
    if expected_close_date is None:
        raise InvalidInput("When do you expect to close it?", field="expected_close_date")
    name = " ".join(name.split()) or f"{lead.company or lead.full_name or lead.email} — {Opportunity.Kind(kind).label}"
    opportunity = Opportunity.objects.create(
        organization=org,
        lead=lead,
        owner=_owner(org, actor, owner),
        name=name[:200],
        kind=kind,
        amount=amount,
        currency=currency,
        expected_close_date=expected_close_date,
        stage=stage,
        handoff=Handoff.objects.filter(lead=lead, status=Handoff.Status.ACCEPTED).order_by("-accepted_at").first(),
        created_by=actor,
        created_at=now,
    )
    if stage_now == Lead.Stage.SQL:
        lead_transition(lead=lead, to=Lead.Stage.OPPORTUNITY, actor=actor, reason=f"Deal opened: {name}", now=now)
    return opportunity


def _locked(opportunity: Opportunity, actor: Membership) -> Opportunity:
    opportunity = (
        Opportunity.objects.select_for_update(of=("self",))
        .select_related("organization", "lead")
        .get(pk=opportunity.pk)
    )
    if not can_work_opportunity(actor, opportunity):
        raise Forbidden("Only the deal's owner, or a manager, can change it.")
    if opportunity.status != Opportunity.Status.OPEN:
        raise Conflict(f"This deal is already {opportunity.get_status_display().lower()}.")
    return opportunity


@transaction.atomic
def opportunity_update(
    *,
    opportunity: Opportunity,
    actor: Membership,
    name: str | None = None,
    amount: Decimal | None = None,
    expected_close_date: date | None = None,
    stage: str | None = None,
    owner: Membership | None = None,
) -> Opportunity:
    """Change an open deal: what is given changes, the rest stays."""
    opportunity = _locked(opportunity, actor)
    org = opportunity.organization
    if name is not None:
        if not name.strip():
            raise InvalidInput("Name the deal.", field="name")
        opportunity.name = " ".join(name.split())[:200]
    if amount is not None:
        opportunity.amount = _money(org, amount, opportunity.currency)
    if expected_close_date is not None:
        opportunity.expected_close_date = expected_close_date
    if stage is not None:
        opportunity.stage = _stage(org, stage)
    if owner is not None:
        opportunity.owner = _owner(org, actor, owner)
    opportunity.save()
    return opportunity


@transaction.atomic
def opportunity_win(
    *,
    opportunity: Opportunity,
    actor: Membership,
    amount: Decimal,
    currency: str,
    close_date: date | None = None,
    now: datetime | None = None,
) -> Opportunity:
    """Record the deal won with its final amount: new business makes the lead a customer, the
    revenue is attributed to the campaigns that touched the lead, and both teams hear of it."""
    from leads.services import lead_transition

    now = now or timezone.now()
    opportunity = _locked(opportunity, actor)
    org = opportunity.organization
    amount = _money(org, amount, currency, positive=True)
    today = timezone.localdate(now, timezone=_zone(org))
    close_date = close_date or today
    if close_date > today:
        raise InvalidInput("A deal can't be won in the future.", field="close_date")
    opportunity.status, opportunity.amount = Opportunity.Status.WON, amount
    opportunity.close_date, opportunity.closed_at = close_date, now
    opportunity.save(update_fields=["status", "amount", "close_date", "closed_at"])
    lead = _locked_lead(opportunity.lead)
    if lead.lifecycle_stage == Lead.Stage.OPPORTUNITY:
        lead_transition(lead=lead, to=Lead.Stage.CUSTOMER, actor=actor, reason=f"Deal won: {opportunity}", now=now)
    opportunity_credit(opportunity)
    _celebrate(opportunity, actor=actor, now=now)
    return opportunity


@transaction.atomic
def opportunity_lose(
    *,
    opportunity: Opportunity,
    actor: Membership,
    reason: str,
    note: str = "",
    close_date: date | None = None,
    now: datetime | None = None,
) -> Opportunity:
    """Record the deal lost with why. Lost new business sends the lead to nurture (unless another
    new-business deal with it is still open)."""
    from leads.services import lead_transition

    now = now or timezone.now()
    reason, note = reason_and_note(reason, note, choices=LostReason, ask="Choose why the deal was lost.")
    opportunity = _locked(opportunity, actor)
    today = timezone.localdate(now, timezone=_zone(opportunity.organization))
    close_date = close_date or today
    if close_date > today:
        raise InvalidInput("A deal can't be lost in the future.", field="close_date")
    opportunity.status, opportunity.lost_reason, opportunity.lost_note = Opportunity.Status.LOST, reason, note
    opportunity.close_date, opportunity.closed_at = close_date, now
    opportunity.save(update_fields=["status", "lost_reason", "lost_note", "close_date", "closed_at"])
    lead = _locked_lead(opportunity.lead)
    still_open = (
        Opportunity.objects.filter(lead=lead, status=Opportunity.Status.OPEN, kind=Opportunity.Kind.NEW_BUSINESS)
        .exclude(pk=opportunity.pk)
        .exists()
    )
    if lead.lifecycle_stage == Lead.Stage.OPPORTUNITY and not still_open:
        label = LostReason(reason).label
        lead_transition(
            lead=lead,
            to=Lead.Stage.NURTURE,
            actor=actor,
            reason=f"Deal lost: {label}" + (f" — {note}" if note else ""),
            now=now,
        )
    return opportunity


def _zone(org: Organization):
    import zoneinfo

    return zoneinfo.ZoneInfo(org.time_zone)


def _celebrate(opportunity: Opportunity, *, actor: Membership, now: datetime) -> None:
    """Tell both sides: the deal's owner and the sales managers, the marketer who sent the lead,
    the owners of the campaigns credited and the marketing managers."""
    lead = opportunity.lead
    org_members = Membership.objects.filter(organization_id=opportunity.organization_id, removed_at=None)
    recipients = {m.pk: m for m in org_members.filter(role=Membership.Role.MANAGER)}
    ids = {opportunity.owner_id}
    ids |= set(Handoff.objects.filter(lead=lead, created_by__isnull=False).values_list("created_by_id", flat=True))
    ids |= set(org_members.filter(owned_campaigns__credits__opportunity=opportunity).values_list("pk", flat=True))
    recipients |= {m.pk: m for m in org_members.filter(pk__in=[i for i in ids if i])}
    amount = f"{opportunity.amount:,.2f} {opportunity.currency}"
    for member in recipients.values():
        notify(
            recipient=member,
            kind="deal.won",
            title=f"🎉 Deal won: {opportunity.name} ({amount})",
            body=f"{actor.user} won {amount} with {lead}. "
            "The revenue is credited to the campaigns that brought the lead in.",
            url=reverse("leads:lead_detail", args=[lead.pk]),
            now=now,
        )
