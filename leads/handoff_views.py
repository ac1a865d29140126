"""Pages for handoffs: the rep's queue, accept / return / reassign buttons, and "send to sales".

Thin over ``leads/handoffs.py``: who may act is the policy's ``can_work_handoff`` (checked
again by the services); a domain error becomes a message, a refusal a 403 page.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from html import escape as _e

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.html import conditional_escape, escape, format_html, format_html_join
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.utils.text import Truncator
from django.views.decorators.http import require_POST

from leads import handoffs, selectors
from leads.forms import HandoffReassignForm, HandoffReturnForm, HandoffSendForm
from leads.models import ActivityEvent, Handoff, Lead
from smarketing.accounts.models import Membership
from smarketing.accounts.policy import can, can_work_handoff
from smarketing.accounts.tenancy import org_required
from smarketing.errors import Conflict, DomainError, Forbidden
from smarketing.links import path_with_id

QUEUE_CAP = 50  # rows on the queue page (as on the lead list); the soonest due come first
AT_RISK_SHARE = 0.25  # less than this share of the response window left


def duration_text(seconds: float) -> str:
    """``2 h 10 min``, ``3 d 4 h``, ``15 min`` (static/js/handoffs.js formats the same way)."""
    minutes = int(abs(seconds) // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min"


@dataclass
class QueueRow:
    handoff: Handoff
    due_text: str
    state: str  # "overdue", "at-risk" or ""
    can_work: bool
    reassign_options: str = ""  # the <option>s of the reps it may go to (not its own)
    due_html: str = ""  # its due time and its buttons, as ``with_markup`` made them for a page
    actions_html: str = ""
    last_activity: str = ""  # the label of the lead's newest event, when the queue read it
    html: str = ""  # the whole table row, as ``row_html`` made it for the queue page

    # Paths and times as the templates show them, made here once rather than by template tags.
    @property
    def lead_url(self) -> str:
        return path_with_id("leads:lead_detail", self.handoff.lead_id)

    @property
    def accept_url(self) -> str:
        return path_with_id("handoffs:accept", self.handoff.pk)

    @property
    def return_url(self) -> str:
        return path_with_id("handoffs:return", self.handoff.pk)

    @property
    def reassign_url(self) -> str:
        return path_with_id("handoffs:reassign", self.handoff.pk)

    @property
    def due_iso(self) -> str:
        return self.handoff.due_at.isoformat()

    @property
    def created_iso(self) -> str:
        return self.handoff.created_at.isoformat()

    @property
    def due_title(self) -> str:
        return self.handoff.due_at.strftime("%a %-d %b %H:%M")

    @property
    def created_text(self) -> str:
        return self.handoff.created_at.strftime("%-d %b %H:%M")


@dataclass(frozen=True)
class ActionContext:
    """What every row's buttons share on one page: rendered into each row by ``actions_html``."""

    next: str
    csrf_input: str  # the hidden csrf field, made once per page
    reason_options: str
    can_manage: bool  # managers on a page that offers reassigning (the queue)

    @classmethod
    def of(cls, request: HttpRequest, *, can_manage: bool) -> ActionContext:
        csrf = format_html('<input type="hidden" name="csrfmiddlewaretoken" value="{}">', get_token(request))
        return cls(request.get_full_path(), csrf, _reason_options(), can_manage)

    # What every row's forms repeat, escaped once per page: a row adds only its own paths.
    @cached_property
    def hidden_inputs(self) -> str:
        return format_html('{}<input type="hidden" name="next" value="{}">', self.csrf_input, self.next)

    @cached_property
    def return_fields(self) -> str:
        return format_html(
            '<select name="reason" aria-label="Reason" required>{}</select>'
            '<input type="text" name="note" placeholder="Note" aria-label="Note" maxlength="2000">'
            '<button type="submit" class="small secondary" data-testid="return">Return</button></form></details>',
            self.reason_options,
        )


def with_markup(row: QueueRow, page: ActionContext) -> QueueRow:
    row.due_html, row.actions_html = due_html(row), actions_html(row, page)
    return row


def due_html(row: QueueRow) -> str:
    """The due time as the queue and the lead page show it (static/js/handoffs.js keeps it current).
    Times and the countdown are made here, not typed in: escaped all the same."""
    handoff = row.handoff
    if handoff.first_touch_at:
        touched = _e(handoff.first_touch_at.strftime("%-d %b %H:%M"))
        return mark_safe(f'<span class="muted">touched {touched}</span>')  # noqa: S308 - escaped
    due = _e(row.due_iso)
    return mark_safe(  # noqa: S308 - every value escaped
        f'<time class="countdown" datetime="{due}" data-due="{due}" data-created="{_e(row.created_iso)}" '
        f'title="{_e(row.due_title)}" data-testid="due">{_e(row.due_text)}</time>'
    )


def actions_html(row: QueueRow, page: ActionContext) -> str:
    """Accept, Return (reason + note) and, for managers, Reassign for one open handoff.

    Built here rather than by a template include: on a queue of 50 rows the include and its
    tags were most of the page's time (bench/rep_queue.py). The parts every row shares (the
    csrf and ``next`` fields, the return reasons) are escaped once per page (``ActionContext``);
    a row adds its escaped paths and its rep's reassign choices (made by ``_options``).
    """
    if not row.can_work:
        return ""
    hidden = page.hidden_inputs
    parts = [
        '<div class="handoff-actions" data-testid="handoff-actions">',
        f'<form method="post" action="{escape(row.accept_url)}" class="inline">{hidden}'
        '<button type="submit" class="small" data-testid="accept">Accept</button></form>',
        '<details class="return-form"><summary class="button small secondary">Return…</summary>',
        f'<form method="post" action="{escape(row.return_url)}" class="inline-form">{hidden}{page.return_fields}',
    ]
    if page.can_manage:
        parts.append(
            f'<form method="post" action="{escape(row.reassign_url)}" class="inline-form">{hidden}'
            '<select name="to" aria-label="Reassign to"><option value="">Re-route by the rules</option>'
            f"{conditional_escape(row.reassign_options)}</select>"
            '<button type="submit" class="small secondary" data-testid="reassign">Reassign</button></form>'
        )
    parts.append("</div>")
    return mark_safe("".join(parts))  # noqa: S308 - every value in it is escaped above or by format_html


def row_html(row: QueueRow, *, show_rep: bool) -> str:
    """One row of the queue's table, made here once from the annotations of
    ``selectors.handoff_pending_list``: the template loop with its ~25 variables and filters per row
    took a third of the queue page's time, and ``format_html`` per part a tenth (bench/rep_queue.py).
    Every value from the database goes through ``_e`` (``html.escape``, as Django's ``escape``)."""
    handoff = row.handoff
    name = f"{handoff.lead_first_name} {handoff.lead_last_name}".strip()
    email = _e(handoff.lead_email)
    company = handoff.lead_company_name or handoff.company_name or "—"
    qualified = handoff.qualified
    parts = [
        f'<tr class="handoff {row.state}" data-testid="handoff-row" data-handoff="{handoff.pk}">'
        f'<td><a href="{_e(row.lead_url)}">{_e(name) if name else email}</a>',
        f'<br><span class="muted small">{email}</span>' if name else "",
        f'<br><span class="small">{_e(company)}</span></td>'
        f'<td><strong>{handoff.score_total or 0}</strong> <span class="muted small">score</span>',
        f'<br><span class="small" data-testid="qualified-by">{_e(qualified)}</span>' if qualified else "",
        f'<br><span class="small">{_e(handoff.campaign_name or "no campaign")} · '
        f"{_e(handoff.persona_name or 'no persona')}</span>",
        f'<br><span class="muted small">Last: {_e(row.last_activity)}</span>' if row.last_activity else "",
    ]
    if handoff.note:
        by = f" — {_e(str(handoff.created_by.user))}" if handoff.created_by_id else ""
        parts.append(f'<br><span class="muted small">“{_e(Truncator(handoff.note).chars(80))}”{by}</span>')
    parts.append("</td>")
    if show_rep:
        parts.append(f"<td>{_e(str(handoff.rep.user))}</td>")
    parts.append(
        f"<td>{_e(row.created_text)}</td><td>{row.due_html}</td>"
        f'<td>{row.actions_html}<a href="{_e(row.lead_url)}" class="small">Open lead</a></td></tr>'
    )
    return mark_safe("".join(parts))  # noqa: S308 - values escaped above; due_html, actions_html are safe


def _options(choices) -> str:
    return format_html_join("", '<option value="{}">{}</option>', choices)


def _reason_options() -> str:
    """The return reasons as <option>s, rendered once for every row's Return form."""
    return _options(HandoffReturnForm.base_fields["reason"].choices)


_EVENT_LABELS = dict(ActivityEvent.Type.choices)


def _last_activity(handoff: Handoff, now: datetime) -> str:
    """``Pricing view, 2 h 5 min ago``: the lead's newest event, when the queue read it."""
    last = selectors.last_event_of(handoff)
    if last is None or last[0] not in _EVENT_LABELS:
        return ""
    kind, at = last
    return f"{_EVENT_LABELS[kind]}, {duration_text((now - at).total_seconds())} ago"


def queue_row(handoff: Handoff, *, actor: Membership, now: datetime) -> QueueRow:
    left = (handoff.due_at - now).total_seconds()
    window = (handoff.due_at - handoff.created_at).total_seconds()
    if handoff.first_touch_at is not None:
        state = ""
    elif handoff.is_overdue(now):
        state = "overdue"
    elif window <= 0 or left < AT_RISK_SHARE * window:
        state = "at-risk"
    else:
        state = ""
    text = f"due in {duration_text(left)}" if left > 0 else f"overdue by {duration_text(left)}"
    return QueueRow(
        handoff=handoff,
        due_text=text,
        state=state,
        can_work=can_work_handoff(actor, handoff),
        last_activity=_last_activity(handoff, now),
    )


def _back(request: HttpRequest) -> str:
    back = request.POST.get("next") or request.GET.get("next", "")
    if url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return back
    return reverse("handoffs:queue")


def _act(request: HttpRequest, service: Callable[..., Handoff], /, **kwargs) -> Handoff | None:
    """Run a handoff service for a button: a refusal is a 403 page, any other domain error a message."""
    try:
        return service(**kwargs)
    except Forbidden as exc:
        raise PermissionDenied(exc.message) from exc
    except Conflict as exc:
        handoff = kwargs.get("handoff")
        if handoff is not None:
            handoff.refresh_from_db(fields=["status", "rep"])
        if handoff is not None and handoff.status == Handoff.Status.ACCEPTED:
            messages.error(request, f"This handoff was already accepted by {handoff.rep.user}.")
        else:
            messages.error(request, exc.message)
    except DomainError as exc:
        messages.error(request, exc.message)
    return None


@org_required(permission="handoffs.view")
def handoff_queue(request: HttpRequest) -> HttpResponse:
    """A rep's own pending handoffs; everyone else sees all of them, with a rep filter."""
    me = request.membership
    own_only = can(me, "handoffs.work") and not can(me, "handoffs.manage")
    reps, chosen = [], None
    if own_only:
        pending = selectors.handoff_pending_list(org=request.org, rep=me)
    else:
        reps = list(selectors.handoff_reps(org=request.org))
        chosen = next((r for r in reps if str(r.pk) == request.GET.get("rep")), None)
        pending = selectors.handoff_pending_list(org=request.org, rep=chosen)
    handoff_rows = list(pending[: QUEUE_CAP + 1])
    now = timezone.now()
    # A rep's own queue: every row's rep is the rep signed in (its user is not shown).
    shown = selectors.handoff_people(handoff_rows[:QUEUE_CAP], org=request.org, known=me if own_only else None)
    rows = [queue_row(h, actor=me, now=now) for h in shown]
    if reps and can(me, "handoffs.manage"):
        # Each rep's <option> escaped once, and each row's list (every rep but its own) joined once
        # per rep, not per row: a manager's page has up to 50 rows and a team may have dozens of reps.
        options = [(m.pk, _options([(m.pk, str(m.user))])) for m in reps]
        by_rep: dict[int, str] = {}
        for row in rows:
            rep_id = row.handoff.rep_id
            if rep_id not in by_rep:
                # Each option is format_html's (_options): its values escaped.
                by_rep[rep_id] = mark_safe("".join(o for pk, o in options if pk != rep_id))  # noqa: S308
            row.reassign_options = by_rep[rep_id]
    page = ActionContext.of(request, can_manage=bool(reps) and can(me, "handoffs.manage"))
    for row in rows:
        with_markup(row, page)
        row.html = row_html(row, show_rep=not own_only)
    context = {
        "rows": rows,
        "more": len(handoff_rows) > QUEUE_CAP,
        "cap": QUEUE_CAP,
        "own_only": own_only,
        "reps": reps,
        "chosen": chosen,
        "can_manage": can(me, "handoffs.manage"),
    }
    return render(request, "leads/handoff_queue.html", context)


@org_required(permission="handoffs.work")
@require_POST
def handoff_accept(request: HttpRequest, handoff_id: int) -> HttpResponse:
    handoff = selectors.handoff_get(org=request.org, handoff_id=handoff_id)
    if _act(request, handoffs.handoff_accept, handoff=handoff, actor=request.membership) is not None:
        messages.success(request, f"Accepted: {handoff.lead} is now a sales qualified lead you work.")
    return redirect(_back(request))


@org_required(permission="handoffs.work")
def handoff_return(request: HttpRequest, handoff_id: int) -> HttpResponse:
    """Return with a reason: a small form in the queue row; this page shows it again with its errors."""
    handoff = selectors.handoff_get(org=request.org, handoff_id=handoff_id)
    if not can_work_handoff(request.membership, handoff):
        raise PermissionDenied("Only the rep it was handed to, or a manager, can return this handoff.")
    form = HandoffReturnForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            handoffs.handoff_return(
                handoff=handoff,
                actor=request.membership,
                reason=form.cleaned_data["reason"],
                note=form.cleaned_data["note"],
            )
        except Forbidden as exc:
            raise PermissionDenied(exc.message) from exc
        except DomainError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            messages.success(request, f"Returned {handoff.lead} to marketing.")
            return redirect(_back(request))
    status = 400 if form.is_bound else 200
    context = {"handoff": handoff, "form": form, "next": _back(request)}
    return render(request, "leads/handoff_return.html", context, status=status)


@org_required(permission="handoffs.manage")
@require_POST
def handoff_reassign(request: HttpRequest, handoff_id: int) -> HttpResponse:
    handoff = selectors.handoff_get(org=request.org, handoff_id=handoff_id)
    form = HandoffReassignForm(request.POST, reps=selectors.handoff_reps(org=request.org))
    if not form.is_valid():
        messages.error(request, "Choose a rep from your team, or re-route.")
        return redirect(_back(request))
    new = _act(
        request, handoffs.handoff_reassign, handoff=handoff, actor=request.membership, to=form.cleaned_data["to"]
    )
    if new is not None:
        messages.success(request, f"{handoff.lead} is now with {new.rep.user}.")
    return redirect(_back(request))


@org_required(permission="handoffs.create")
@require_POST
def handoff_send(request: HttpRequest, lead_id: int) -> HttpResponse:
    """The lead page's "Send to sales": route the lead and open a pending handoff."""
    lead = selectors.lead_detail(org=request.org, lead_id=lead_id)
    form = HandoffSendForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Keep the note under 2,000 characters.")
        return redirect("leads:lead_detail", lead.pk)
    handoff = _act(
        request, handoffs.handoff_create, lead=lead, actor=request.membership, note=form.cleaned_data["note"]
    )
    if handoff is not None:
        messages.success(request, f"Sent to sales: {handoff.rep.user} has it.")
    return redirect("leads:lead_detail", lead.pk)


def lead_page_context(request: HttpRequest, lead: Lead) -> dict:
    """What the lead page's "Sales" card shows: the lead's handoffs, and who may do what now."""
    membership = request.membership
    lead_handoffs = selectors.lead_handoffs(org=membership.organization, lead_id=lead.pk)
    pending = next((h for h in lead_handoffs if h.is_open), None)
    sendable = lead.lifecycle_stage == Lead.Stage.MQL or Lead.Stage.MQL in Lead.TRANSITIONS[lead.lifecycle_stage]
    return {
        "handoffs": lead_handoffs,
        "pending_handoff": pending,
        "pending_row": with_markup(
            queue_row(pending, actor=membership, now=timezone.now()), ActionContext.of(request, can_manage=False)
        )
        if pending
        else None,
        "can_send": pending is None and sendable and can(membership, "handoffs.create"),
        "send_form": HandoffSendForm(),
    }
