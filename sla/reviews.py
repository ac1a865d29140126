"""The monthly review: generated for a period, emailed to the managers at its end, kept.

``review_generate`` takes a snapshot (so the record of a meeting does not change as data
does): each agreement's results for both sides, the wins to celebrate, the best and worst
sources by won revenue and by acceptance rate, the top return reasons and the open content
requests. The meeting adds notes and action items (owner, due date, done).
``period_end_check`` (beat, daily) records each ended agreement's marketing result and
generates and emails the review of a month that just ended, once.
"""

from __future__ import annotations

import zoneinfo
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import Count, Q, Sum
from django.urls import reverse
from django.utils import timezone

from leads.models import Handoff, Opportunity, ReturnReason
from personas.models import ContentRequest
from reporting.models import AttributionCredit, AttributionModel
from sla.agreements import period_bounds
from sla.compliance import compliance
from sla.models import ActionItem, Agreement, Review
from smarketing.accounts.models import Membership, Organization
from smarketing.errors import Conflict, InvalidInput
from smarketing.notifications.services import Notice, notify_many


def _range(org: Organization, start: date, end: date) -> tuple[datetime, datetime]:
    tz = zoneinfo.ZoneInfo(org.time_zone)
    return datetime.combine(start, time(0), tzinfo=tz), datetime.combine(end + timedelta(days=1), time(0), tzinfo=tz)


def review_figures(org: Organization, start: date, end: date, *, now: datetime | None = None) -> dict:
    """The review's snapshot: plain JSON, as the page and the email show it."""
    since, until = _range(org, start, end)
    agreements = []
    for agreement in (
        Agreement.objects.for_org(org)
        .filter(status=Agreement.Status.ACTIVE, starts_on__lte=end, ends_on__gte=start)
        .select_related("team", "organization")
    ):
        c = compliance(agreement, now=min(now or timezone.now(), until))
        agreements.append(
            {
                "id": agreement.pk,
                "name": str(agreement),
                "marketing": [_figure(f) for f in c.marketing],
                "sales": [_figure(f) for f in c.sales],
                "revenue": _figure(c.revenue),
            }
        )
    won = (
        Opportunity.objects.for_org(org)
        .filter(status=Opportunity.Status.WON, close_date__gte=start, close_date__lte=end)
        .select_related("owner__user", "lead")
        .order_by("-amount")
    )
    wins = [
        {"name": o.name, "amount": _money(o.amount), "owner": str(o.owner.user) if o.owner else "", "lead": str(o.lead)}
        for o in won[:10]
    ]
    revenue = (
        AttributionCredit.objects.for_org(org)
        .filter(model=AttributionModel.LINEAR, won_on__gte=start, won_on__lte=end)
        .values("campaign__name")
        .annotate(total=Sum("amount"))
        .order_by("-total")
    )
    by_revenue = [{"campaign": r["campaign__name"], "revenue": _money(r["total"])} for r in revenue]
    ended = Handoff.objects.for_org(org).filter(
        Q(accepted_at__gte=since, accepted_at__lt=until) | Q(returned_at__gte=since, returned_at__lt=until),
        lead__first_campaign__isnull=False,
    )
    acceptance = [
        {
            "campaign": r["lead__first_campaign__name"],
            "accepted": r["accepted"],
            "ended": r["ended"],
            "rate": round(100 * r["accepted"] / r["ended"], 1),
        }
        for r in ended.values("lead__first_campaign__name")
        .annotate(ended=Count("id"), accepted=Count("id", filter=Q(status=Handoff.Status.ACCEPTED)))
        .order_by()
    ]
    acceptance.sort(key=lambda r: (-r["rate"], -r["ended"]))
    reasons = (
        Handoff.objects.for_org(org)
        .filter(status=Handoff.Status.RETURNED, returned_at__gte=since, returned_at__lt=until)
        .values("return_reason")
        .annotate(n=Count("id"))
        .order_by("-n")[:5]
    )
    requests = ContentRequest.objects.for_org(org).filter(status__in=ContentRequest.OPEN).order_by("due_at")
    return {
        "period": f"{start:%d %b %Y} – {end:%d %b %Y}",
        "currency": org.currency,
        "agreements": agreements,
        "wins": wins,
        "won_total": _money(won.aggregate(total=Sum("amount"))["total"] or 0),
        "best_sources": by_revenue[:3],
        "worst_sources": by_revenue[::-1][:3] if len(by_revenue) > 3 else [],
        "acceptance_best": acceptance[:3],
        "acceptance_worst": acceptance[::-1][:3] if len(acceptance) > 3 else [],
        "return_reasons": [{"reason": ReturnReason(r["return_reason"]).label, "count": r["n"]} for r in reasons],
        "open_content_requests": [
            {"question": r.question[:200], "due": f"{r.due_at:%d %b}", "status": r.get_status_display()}
            for r in requests[:10]
        ],
        "open_content_request_count": requests.count(),
    }


def _money(amount) -> str:
    """Cents always (SQLite sums a decimal column to a whole number when it can)."""
    return str(Decimal(amount).quantize(Decimal("0.01")))


def _figure(f) -> dict:
    return {"label": f.label, "actual": f.actual, "target": f.target, "unit": f.unit, "met": f.met}


def review_generate(*, org: Organization, day: date, now: datetime | None = None) -> Review:
    """The review of the month ``day`` falls in; generating it again refreshes its figures
    (notes and action items stay)."""
    start, end = period_bounds(Agreement.Period.MONTH, day)
    figures = review_figures(org, start, end, now=now)
    review, _ = Review.objects.update_or_create(
        organization=org,
        starts_on=start,
        ends_on=end,
        defaults={"figures": figures, "generated_at": now or timezone.now()},
    )
    return review


def review_update_notes(*, review: Review, notes: str) -> Review:
    review.notes = notes.strip()
    review.save(update_fields=["notes"])
    return review


def action_add(*, review: Review, actor: Membership, text: str, owner: Membership, due_on: date) -> ActionItem:
    text = " ".join(text.split())
    if not text:
        raise InvalidInput("Say what will be done.", field="text")
    if owner.organization_id != review.organization_id or owner.removed_at is not None:
        raise InvalidInput("Unknown member.", field="owner")
    if due_on < review.starts_on:
        raise InvalidInput("A due date after the period began.", field="due_on")
    return ActionItem.objects.create(
        organization_id=review.organization_id, review=review, text=text[:300], owner=owner, due_on=due_on
    )


def action_done(*, action: ActionItem, now: datetime | None = None) -> ActionItem:
    if action.done_at is not None:
        raise Conflict("Already done.")
    action.done_at = now or timezone.now()
    action.save(update_fields=["done_at"])
    return action


def period_end_check(*, now: datetime | None = None) -> int:
    """For every organisation whose yesterday ended an agreement or a month: record each ended
    agreement's marketing result, and generate and email the month's review, once.
    Returns how many reviews were emailed."""
    now = now or timezone.now()
    emailed = 0
    for org in Organization.objects.all():
        yesterday = timezone.localdate(now, timezone=zoneinfo.ZoneInfo(org.time_zone)) - timedelta(days=1)
        for agreement in (
            Agreement.objects.for_org(org)
            .filter(status=Agreement.Status.ACTIVE, ends_on=yesterday, marketing_result__isnull=True)
            .select_related("organization", "team")
        ):
            c = compliance(agreement, now=now)
            Agreement.objects.filter(pk=agreement.pk).update(
                marketing_result={"figures": [_figure(f) for f in c.marketing], "recorded_at": now.isoformat()}
            )
        if (yesterday + timedelta(days=1)).day == 1:
            emailed += _email_review(org, yesterday, now)
    return emailed


def _email_review(org: Organization, day: date, now: datetime) -> int:
    start, _ = period_bounds(Agreement.Period.MONTH, day)
    with transaction.atomic():
        try:
            review = review_generate(org=org, day=day, now=now)
        except IntegrityError:  # a concurrent check made it
            return 0
        claimed = Review.objects.filter(pk=review.pk, emailed_at=None).update(emailed_at=now)
        if not claimed:
            return 0
        managers = Membership.objects.filter(organization=org, role=Membership.Role.MANAGER, removed_at=None)
        notify_many(
            [
                Notice(
                    recipient=m,
                    kind="sla.review",
                    title=f"The review of {start:%B %Y} is ready",
                    body="Both sides' results, the wins, the best and worst sources, return reasons and open "
                    "content requests — bring it to the review meeting.",
                    url=reverse("sla:review_detail", args=[review.pk]),
                )
                for m in managers.select_related("user")
            ],
            now=now,
        )
    return 1
