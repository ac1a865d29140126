"""CSV export that spreadsheets can open safely, streamed row by row."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator

from leads.models import Lead

# A cell starting with one of these is run as a formula by Excel, LibreOffice and Sheets.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\n")

LEAD_COLUMNS = [
    ("id", lambda lead: lead.pk),
    ("email", lambda lead: lead.email),
    ("first_name", lambda lead: lead.first_name),
    ("last_name", lambda lead: lead.last_name),
    ("title", lambda lead: lead.title),
    ("company", lambda lead: lead.company_name or (lead.company.name if lead.company else "")),
    ("lifecycle_stage", lambda lead: lead.lifecycle_stage),
    ("buyer_stage", lambda lead: lead.buyer_stage),
    ("persona", lambda lead: lead.persona.name if lead.persona else ""),
    ("owner", lambda lead: lead.owner.user.email if lead.owner else ""),
    ("first_campaign", lambda lead: lead.first_campaign.name if lead.first_campaign else ""),
    ("fit_score", lambda lead: lead.fit_score),
    ("engagement_score", lambda lead: round(lead.engagement_score)),
    ("total_score", lambda lead: lead.total_score),
    ("created_at", lambda lead: lead.created_at.isoformat()),
]


def safe_cell(value: object) -> object:
    """Neutralise formula injection: text that a spreadsheet would evaluate gets a leading quote."""
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value


class _Echo:
    def write(self, value: str) -> str:
        return value


def lead_csv_lines(leads: Iterable[Lead]) -> Iterator[str]:
    """Header and one CSV line per lead, produced lazily (constant memory for any list size)."""
    writer = csv.writer(_Echo())
    yield writer.writerow([name for name, _ in LEAD_COLUMNS])
    for lead in leads:
        yield writer.writerow([safe_cell(get(lead)) for _, get in LEAD_COLUMNS])
