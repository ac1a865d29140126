"""The terms every definitions version words, and a sensible first wording of each.

The first version an organisation proposes starts from this wording; later versions start
from the active one.
"""

from __future__ import annotations

from leads.models import Lead, ReturnReason

STAGE_WORDING = {
    Lead.Stage.SUBSCRIBER: "Opted in to hear from us (newsletter, blog) but has shown no buying interest yet.",
    Lead.Stage.LEAD: "A person we can contact who has shown some interest; not yet qualified by marketing.",
    Lead.Stage.MQL: "A lead whose fit and engagement reached the agreed MQL threshold, or who asked for a demo.",
    Lead.Stage.SQL: "An MQL a sales rep has accepted after checking the SQL criteria.",
    Lead.Stage.OPPORTUNITY: "An SQL with an open deal: a defined need, a budget holder and a next step.",
    Lead.Stage.CUSTOMER: "Bought from us: a won deal.",
    Lead.Stage.NURTURE: "Returned or recycled to marketing: not ready now, worth keeping warm.",
    Lead.Stage.DISQUALIFIED: "Not a fit for what we sell; no further follow-up.",
}
RETURN_WORDING = {
    ReturnReason.NOT_A_FIT: "Outside our personas (industry, size, role or country); goes to disqualified.",
    ReturnReason.NOT_READY: "Right fit, wrong time: no project or budget in the next quarter.",
    ReturnReason.BAD_CONTACT_DATA: "We cannot reach the person: wrong email or phone, or a fake sign-up.",
    ReturnReason.DUPLICATE: "The same person or account is already being worked.",
    ReturnReason.EXISTING_CUSTOMER: "Already a customer: belongs to account management, not new business.",
    ReturnReason.COMPETITOR: "Works for a competitor or is researching us for one.",
    ReturnReason.OTHER: "Any other reason, explained in the note.",
}


def default_terms() -> list[dict[str, str]]:
    """Key, label and wording of every term, in glossary order."""
    terms = [
        {"key": "lead", "label": "Lead", "wording": "A person with contact details who may buy from us."},
        {
            "key": "mql",
            "label": "Marketing qualified lead (MQL)",
            "wording": "A lead marketing vouches for: fits a persona and has engaged enough to talk to sales now.",
        },
        {
            "key": "sql",
            "label": "Sales qualified lead (SQL)",
            "wording": "An MQL that sales accepted: the rep confirmed need, authority and timing in a first contact.",
        },
    ]
    terms += [
        {"key": f"stage-{stage.value}", "label": f"Stage: {stage.label}", "wording": STAGE_WORDING[stage]}
        for stage in Lead.Stage
    ]
    terms += [
        {"key": f"return-{reason.value}", "label": f"Return reason: {reason.label}", "wording": RETURN_WORDING[reason]}
        for reason in ReturnReason
    ]
    return terms


REQUIRED_KEYS = frozenset(t["key"] for t in default_terms())
