"""Reads of personas, definitions and content, always for one organisation."""

from __future__ import annotations

import difflib
import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, Prefetch, Q, QuerySet
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from leads.models import BuyerStage, Lead
from personas.models import ContentAsset, ContentRequest, DefinitionVersion, Persona, PersonaMessage
from smarketing.accounts.models import Membership, Organization
from smarketing.prepared import PreparedRead

# --- Personas -------------------------------------------------------------------------


def persona_list(*, org: Organization, include_archived: bool = False) -> QuerySet[Persona]:
    qs = Persona.objects.for_org(org).annotate(asset_count=Count("content_assets", distinct=True))
    return qs if include_archived else qs.filter(archived_at=None)


def persona_detail(*, org: Organization, persona_id: int) -> Persona:
    from smarketing.accounts.tenancy import get_for_org

    return get_for_org(
        Persona.objects.prefetch_related(Prefetch("messages", queryset=PersonaMessage.objects.order_by("buyer_stage"))),
        org=org,
        pk=persona_id,
    )


def persona_messaging(persona: Persona) -> list[tuple[str, PersonaMessage | None]]:
    """(stage label, message or None) for each buyer stage, in journey order."""
    by_stage = {m.buyer_stage: m for m in persona.messages.all()}
    return [(stage.label, by_stage.get(stage.value)) for stage in BuyerStage]


# --- Definitions ----------------------------------------------------------------------


def definitions_active(*, org: Organization) -> DefinitionVersion | None:
    return (
        DefinitionVersion.objects.for_org(org)
        .filter(status=DefinitionVersion.Status.ACTIVE)
        .prefetch_related("terms")
        .first()
    )


# Every lead creation and stage change records it: SQL built once per process (smarketing.prepared).
_definitions_in_force = PreparedRead(
    lambda org, at: (
        DefinitionVersion.objects.for_org(org)
        .filter(activated_at__lte=at)
        .filter(Q(superseded_at__isnull=True) | Q(superseded_at__gt=at))
        .order_by("-activated_at")[:1]
    ),
    org=Organization,
    at=datetime,
)


def definitions_in_force(*, org: Organization, at: datetime) -> DefinitionVersion | None:
    """The version that was active at ``at``: MQL transitions and handoffs record it."""
    return next(iter(_definitions_in_force(org=org, at=at)), None)


def definition_versions(*, org: Organization) -> QuerySet[DefinitionVersion]:
    return (
        DefinitionVersion.objects.for_org(org)
        .select_related("proposed_by__user")
        .prefetch_related("signoffs__membership__user")
    )


def stage_wording(*, org: Organization) -> dict[str, str]:
    """Lifecycle stage -> the active definition's wording, for badges and tooltips."""
    version = definitions_active(org=org)
    if version is None:
        return {}
    return {t.key.removeprefix("stage-"): t.wording for t in version.terms.all() if t.key.startswith("stage-")}


@dataclass(frozen=True)
class TermChange:
    key: str
    label: str
    change: str  # added, removed, changed, same
    old: str
    new: str

    def diff_html(self) -> SafeString:
        """Word-level diff: removed words in <del>, added words in <ins>."""
        old, new = self.old.split(), self.new.split()
        out: list[str] = []
        for op, i1, i2, j1, j2 in difflib.SequenceMatcher(a=old, b=new).get_opcodes():
            if op in ("replace", "delete"):
                out.append(f"<del>{escape(' '.join(old[i1:i2]))}</del>")
            if op in ("replace", "insert"):
                out.append(f"<ins>{escape(' '.join(new[j1:j2]))}</ins>")
            if op == "equal":
                out.append(escape(" ".join(old[i1:i2])))
        return mark_safe(" ".join(out))  # noqa: S308 - every piece is escaped above


def definitions_diff(old: DefinitionVersion, new: DefinitionVersion) -> dict[str, object]:
    """What changed from ``old`` to ``new``: terms and thresholds."""
    before = {t.key: t for t in old.terms.all()}
    after = {t.key: t for t in new.terms.all()}
    changes = []
    for key in list(after) + [k for k in before if k not in after]:
        a, b = before.get(key), after.get(key)
        if a is None:
            change = "added"
        elif b is None:
            change = "removed"
        else:
            change = "same" if a.wording == b.wording and a.label == b.label else "changed"
        changes.append(TermChange(key, (b or a).label, change, a.wording if a else "", b.wording if b else ""))
    settings_changes = [
        (label, getattr(old, name), getattr(new, name))
        for name, label in (
            ("mql_threshold", "MQL threshold"),
            ("mql_min_fit", "Minimum fit for an MQL"),
            ("sql_criteria", "SQL criteria"),
        )
        if getattr(old, name) != getattr(new, name)
    ]
    return {
        "terms": changes,
        "changed_count": sum(c.change != "same" for c in changes),
        "settings": settings_changes,
    }


# --- Content --------------------------------------------------------------------------


def content_list(
    *,
    org: Organization,
    persona: Persona | None = None,
    buyer_stage: str = "",
    asset_type: str = "",
    search: str = "",
) -> QuerySet[ContentAsset]:
    qs = ContentAsset.objects.for_org(org).select_related("owner__user", "campaign").prefetch_related("personas")
    if persona is not None:
        qs = qs.filter(personas=persona)
    if buyer_stage:
        qs = qs.filter(buyer_stage=buyer_stage)
    if asset_type:
        qs = qs.filter(asset_type=asset_type)
    if search:
        qs = qs.filter(Q(title__icontains=search) | Q(description__icontains=search))
    return qs


@dataclass(frozen=True)
class MatrixRow:
    persona: Persona | None
    cells: list[tuple[str, int]]  # (buyer stage, number of assets)

    @property
    def gaps(self) -> int:
        return sum(1 for _, n in self.cells if n == 0)


def content_matrix(*, org: Organization) -> list[MatrixRow]:
    """Assets per persona × buyer stage; a zero cell is a gap marketing should fill.

    The last row counts assets aimed at no persona in particular.
    """
    counts = {
        (row["personas"], row["buyer_stage"]): row["n"]
        for row in ContentAsset.objects.for_org(org).values("personas", "buyer_stage").annotate(n=Count("id"))
    }
    rows = [
        MatrixRow(p, [(s.value, counts.get((p.pk, s.value), 0)) for s in BuyerStage])
        for p in Persona.objects.for_org(org).filter(archived_at=None)
    ]
    rows.append(MatrixRow(None, [(s.value, counts.get((None, s.value), 0)) for s in BuyerStage]))
    return rows


def recommend_content(lead: Lead, *, consumed_asset_ids: Iterable[int] = (), limit: int = 5) -> list[ContentAsset]:
    """Assets for the lead's persona and buyer stage that the lead has not consumed yet.

    A lead with no persona gets the stage's assets aimed at no persona in particular; a lead
    with no buyer stage gets nothing (there is nothing to aim at).
    """
    if not lead.buyer_stage:
        return []
    qs = ContentAsset.objects.for_org(lead.organization).filter(buyer_stage=lead.buyer_stage)
    qs = qs.filter(personas=lead.persona_id) if lead.persona_id else qs.filter(personas=None)
    return list(qs.exclude(pk__in=list(consumed_asset_ids)).order_by("-created_at")[:limit])


# --- Content requests -----------------------------------------------------------------


def content_request_list(
    *, org: Organization, status: str = "", requester: Membership | None = None, open_only: bool = False
) -> QuerySet[ContentRequest]:
    qs = ContentRequest.objects.for_org(org).select_related(
        "requested_by__user", "assignee__user", "persona", "delivered_asset"
    )
    if status:
        qs = qs.filter(status=status)
    if open_only:
        qs = qs.filter(status__in=ContentRequest.OPEN)
    if requester is not None:
        qs = qs.filter(requested_by=requester)
    return qs


def content_request_open_stats(*, org: Organization, now: datetime) -> dict[str, object]:
    """Counts and ages (days) of open requests, for the request list and the reporting issue."""
    rows = list(
        ContentRequest.objects.for_org(org)
        .filter(status__in=ContentRequest.OPEN)
        .values_list("status", "created_at", "due_at")
    )
    ages = [(now - created).total_seconds() / 86400 for _, created, _ in rows]
    by_status = dict.fromkeys(ContentRequest.OPEN, 0)
    for status, _, _ in rows:
        by_status[status] += 1
    return {
        "open": len(rows),
        "by_status": {ContentRequest.Status(s).label: n for s, n in by_status.items()},
        "overdue": sum(1 for _, _, due in rows if due < now),
        "oldest_age_days": round(max(ages), 1) if ages else None,
        "median_age_days": round(statistics.median(ages), 1) if ages else None,
    }
