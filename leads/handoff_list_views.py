"""The handoff list: every handoff, not only the pending ones of the queue, with filters.

The SLA's figures link here with the filters that select exactly the handoffs they count
(``sla.compliance``). Thin over ``selectors.handoff_history``. Like the queue, a sales rep
sees their own handoffs; managers, admins and marketing see everyone's
(``can_see_all_handoffs``, as the API decides).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from leads import selectors
from leads.handoff_list_forms import HandoffFilterForm
from leads.models import Handoff
from leads.selectors import NOT_REASSIGNED, HandoffFilters
from smarketing.accounts.models import Membership
from smarketing.accounts.policy import can_see_all_handoffs
from smarketing.accounts.tenancy import org_required
from smarketing.business_time import BusinessCalendar, calendar_for
from smarketing.links import back_link, days_text
from smarketing.pagination import keyset_page

PAGE_SIZE = 50

STATUS_NOUNS = {
    NOT_REASSIGNED: "Handoffs (reassigned ones left out)",
    Handoff.Status.PENDING: "Pending handoffs",
    Handoff.Status.ACCEPTED: "Accepted handoffs",
    Handoff.Status.RETURNED: "Returned handoffs",
    Handoff.Status.REASSIGNED: "Reassigned handoffs",
    Handoff.Status.BREACHED: "Breached handoffs",
}
FIRST_TOUCH_WORDS = {
    "decided": "decided (touched, or past due untouched)",
    "touched": "first touched",
    "within": "first touched within their window",
    "missed": "first touched late, or past due untouched",
}


@dataclass
class HistoryRow:
    handoff: Handoff
    touch: str  # "within", "late", "overdue" (untouched, past due) or "open" (untouched, not yet due)
    response_hours: float | None  # business hours to the first touch

    @property
    def touch_label(self) -> str:
        return {
            "within": "within the window",
            "late": "late",
            "overdue": "not touched, past due",
            "open": "not touched, still in the window",
        }[self.touch]


def history_row(handoff: Handoff, *, now: datetime, calendar: BusinessCalendar) -> HistoryRow:
    """A handoff's first touch as the SLA judges it (``sla.compliance``)."""
    touched = handoff.first_touch_at
    if touched is not None:
        touch = "within" if touched <= handoff.due_at else "late"
        return HistoryRow(handoff, touch, round(calendar.hours_between(handoff.created_at, touched), 1))
    return HistoryRow(handoff, "overdue" if handoff.due_at <= now else "open", None)


def describe(f: HandoffFilters) -> str:
    """The list's filters in words: "Handoffs made in March 2026 for team Sales, decided (…)"."""
    parts = [STATUS_NOUNS.get(f.status, "Handoffs")]
    if f.created_from or f.created_to:
        parts.append(f"made {days_text(f.created_from, f.created_to)}")
    if f.ended_from or f.ended_to:
        verb = {Handoff.Status.ACCEPTED: "accepted", Handoff.Status.RETURNED: "returned"}.get(
            f.status, "accepted or returned"
        )
        parts.append(f"{verb} {days_text(f.ended_from, f.ended_to)}")
    if f.rep is not None:
        parts.append(f"for {f.rep.user}")
    if f.team is not None:
        parts.append(f"for team {f.team.name}")
    text = " ".join(parts)
    details = []
    if f.first_touch:
        details.append(FIRST_TOUCH_WORDS[f.first_touch])
    if f.attempts and f.attempts_min and f.attempts_days:
        n, days = f.attempts_min, f.attempts_days
        details.append(
            {
                "due": f"whose {days} days for {n} attempts are over, or with {n} attempts",
                "met": f"with at least {n} attempts within {days} days",
                "short": f"with fewer than {n} attempts within {days} days",
            }[f.attempts]
        )
    if f.counted:
        details.append("not counting those a manager moved before they breached")
    return ", ".join([text, *details])


@org_required(permission="handoffs.view")
def handoff_history(request: HttpRequest) -> HttpResponse:
    me: Membership = request.membership
    own_only = not can_see_all_handoffs(me)
    form = HandoffFilterForm(request.GET or None, org=request.org, own_only=own_only)
    valid = not form.is_bound or form.is_valid()
    filters = form.filters()
    if own_only:
        filters.rep = me
    now = timezone.now()
    rows, page, summary = [], None, None
    if valid:  # a filter that does not parse lists nothing rather than everything
        handoffs = selectors.handoff_history(org=request.org, filters=filters, now=now)
        page = keyset_page(handoffs, order="-created_at", cursor=request.GET.get("cursor"), size=PAGE_SIZE)
        calendar = calendar_for(request.org)
        rows = [history_row(h, now=now, calendar=calendar) for h in page]
        if filters.has_period:  # bounded by the period: cheap to add up
            summary = selectors.handoff_history_summary(handoffs=handoffs, filters=filters)
    query = request.GET.copy()
    query.pop("cursor", None)
    context = {
        "form": form,
        "rows": rows,
        "page": page,
        "summary": summary,
        "title": describe(filters),
        "own_only": own_only,
        "filtered": filters != HandoffFilters(rep=me if own_only else None),
        "show_attempts": bool(filters.attempts_days),
        "filters": filters,
        "query": query.urlencode(),
        "back": back_link(request),
    }
    return render(request, "leads/handoff_list.html", context, status=200 if valid else 400)
