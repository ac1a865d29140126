"""Likely duplicate leads: detection (the lead page and the queue), merge, undo and dismissal.

What counts as a likely duplicate:

* the same first and last name (case-insensitive, both given) at the same company: the same
  ``company``, or the company whose domain is the lead's (non free-mail) email domain;
* the same phone number, compared by ``Lead.phone_key`` (the last nine digits) so formatting
  and country prefixes don't matter.

The same email in another case is not a check: it cannot happen any more, because an email is
unique per organisation case-insensitively (``lead_email_ci_unique`` on ``UPPER(email)``).

A merge keeps the older lead, moves the other's rows onto it (``MOVED_RELATIONS``), fills the
kept lead's empty attributes from the other, records a ``LeadMerge`` with everything needed to
undo it, and deletes the other. The kept lead is then rescored from all its events, the moved
ones included, under the active scoring model (``leads.rescoring.rescore_lead``: incremental
scoring only adds new events, so it would never count them); over the threshold, the person
qualifies with their next scored event (qualifying in the merge would open a handoff its undo
could not take back). Undo puts the dropped lead's score row back from the
snapshot and rescores both leads from the events each has again.

The lifecycle stage (``_stage_after_merge``): a handoff must stay acceptable, and accepting
moves its lead from MQL to SQL, so

* when the dropped lead has the open handoff, the handoff moves to the kept lead, which then
  becomes MQL through ``lead_transition`` (rule ``merge:<dropped id>``; it opens no second
  handoff, since the moved one is open). A kept lead that can't become MQL (disqualified, or
  already SQL or further) refuses the merge: accept or return the handoff first;
* when the kept lead has the open handoff and the dropped one is already SQL or further, the
  merge is refused too (the person would be handed to sales twice);
* otherwise, a dropped lead further along the funnel gives the kept lead its stage when that
  is one allowed move away and not MQL (a new MQL would open a new handoff): subscriber to
  lead, MQL to SQL, SQL to opportunity, opportunity to customer. Other gaps (lead and SQL)
  leave the stage as it is.

The move is recorded in ``LeadMerge.filled["lifecycle_stage"]`` (before, after and the stage
change's id) and the open handoff that came along in ``snapshot["open_handoff"]``. Undo puts
the stage back and deletes that stage change (the move is part of the merge it undoes), and is
refused once the kept lead has moved on, or that handoff has been accepted, returned or
reassigned, since: the history after it would no longer be true of either lead.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.core.paginator import Page, Paginator
from django.db import models, transaction
from django.db.models import CharField, Count, F, Max, Q, Value
from django.db.models.functions import Cast, Lower
from django.utils import timezone

from leads.models import (
    ActivityEvent,
    Company,
    Handoff,
    Lead,
    LeadDuplicateDismissal,
    LeadEmailAlias,
    LeadMerge,
    LeadScore,
    LeadScoreExplanation,
    Opportunity,
    ScoreChange,
    StageChange,
    Touch,
    Visitor,
    phone_key_for,
)
from leads.rescoring import rescore_lead
from leads.services import FREE_MAIL_DOMAINS, lead_transition
from personas.models import ContentRequest
from smarketing.accounts.models import Membership, Organization
from smarketing.errors import Conflict, InvalidInput

# Rows that belong to the person, not to the record: a merge moves them from the dropped lead
# to the kept one (and undo moves exactly those rows back): add (Model, "fk field name").
MOVED_RELATIONS: list[tuple[type[models.Model], str]] = [
    (ActivityEvent, "lead"),
    (StageChange, "lead"),
    (ScoreChange, "lead"),
    (Visitor, "lead"),
    (ContentRequest, "lead"),
    (Handoff, "lead"),
    (Touch, "lead"),
    (Opportunity, "lead"),
    (LeadMerge, "kept"),  # earlier merges into the dropped lead stay undoable
    (LeadEmailAlias, "lead"),  # addresses of records merged into the dropped lead earlier
]
# Relations to Lead deliberately not moved, with the reason (a test checks every relation is
# in one list or the other, so a new one is not silently cascaded away by a merge).
NOT_MOVED_RELATIONS: dict[tuple[type[models.Model], str], str] = {
    (LeadDuplicateDismissal, "lead_low"): "A dismissal is about the dropped record's pairs; it goes with it.",
    (LeadDuplicateDismissal, "lead_high"): "A dismissal is about the dropped record's pairs; it goes with it.",
    (LeadScore, "lead"): "The kept lead keeps its own score; the dropped one's is in the snapshot (undo restores it).",
    (LeadScoreExplanation, "lead"): "Goes with the score: the kept lead's stays, the dropped one's is in the snapshot.",
}
# The score of the dropped lead as the snapshot keeps it (``snapshot["score"]``).
_SCORE_FIELDS = ("fit", "engagement", "engagement_scored_at", "total")
# Merges made before the score had its own table snapshot it as lead columns.
_LEGACY_SCORE_KEYS = {
    "fit": "fit_score",
    "engagement": "engagement_score",
    "engagement_scored_at": "engagement_scored_at",
    "total": "total_score",
}
# Attributes of the kept lead that a merge fills from the dropped one when empty.
FILLED_FIELDS = (
    "first_name",
    "last_name",
    "title",
    "seniority",
    "phone",
    "company_name",
    "company",
    "persona",
    "buyer_stage",
    "owner",
    "partner",
)  # and the first and latest campaign, by when they touched each record (_campaign_touches)
_SNAPSHOT_FIELDS = [f for f in Lead._meta.concrete_fields if not f.generated]
MAX_GROUP = 10  # members of one group shown (and paired) in the queue
GROUPS_PER_PAGE = 25


def _relation_label(model: type[models.Model], fk: str) -> str:
    return f"{model._meta.label}.{fk}"


_RELATIONS_BY_LABEL = {_relation_label(m, fk): (m, fk) for m, fk in MOVED_RELATIONS}


def company_email_domain(email: str) -> str:
    """The email's domain when it says which company the lead works for (not free-mail)."""
    domain = email.rsplit("@", 1)[-1].lower()
    return "" if domain in FREE_MAIL_DOMAINS else domain


def _pair(a: int, b: int) -> tuple[int, int]:
    return (a, b) if a < b else (b, a)


# Detection --------------------------------------------------------------------------------


def lead_duplicates(*, lead: Lead, limit: int = 20) -> list[tuple[Lead, str]]:
    """Leads that are likely the same person as ``lead``, each with why, oldest first.

    Two indexed lookups, never a scan: the name check reads the leads of the lead's company
    (the company foreign key index), the phone check reads ``(organization, phone_key)``.
    """
    others = (
        Lead.objects.filter(organization_id=lead.organization_id)
        .exclude(pk=lead.pk)
        .select_related("company", "owner__user")
    )
    found: dict[int, tuple[Lead, list[str]]] = {}
    if lead.first_name.strip() and lead.last_name.strip():
        at_company = Q(company_id=lead.company_id) if lead.company_id else Q(pk__in=[])
        domain = company_email_domain(lead.email)
        if domain:
            by_domain = Company.objects.filter(organization_id=lead.organization_id).exclude(domain="")
            at_company |= Q(company_id__in=by_domain.filter(domain__iexact=domain).values("pk"))
        same_name = others.filter(
            at_company, first_name__iexact=lead.first_name.strip(), last_name__iexact=lead.last_name.strip()
        )
        for other in same_name[:limit]:
            company = other.company.name if other.company else "the same company"
            found.setdefault(other.pk, (other, []))[1].append(f"Same name at {company}")
    if lead.phone_key:
        for other in others.filter(phone_key=lead.phone_key)[:limit]:
            found.setdefault(other.pk, (other, []))[1].append("Same phone")
    if not found:
        return []
    dismissed = LeadDuplicateDismissal.objects.filter(Q(lead_low=lead) | Q(lead_high=lead)).values_list(
        "lead_low_id", "lead_high_id"
    )
    dismissed_others = {low if high == lead.pk else high for low, high in dismissed}
    rows = [(other, "; ".join(why)) for pk, (other, why) in found.items() if pk not in dismissed_others]
    return sorted(rows, key=lambda r: (r[0].created_at, r[0].pk))[:limit]


@dataclass
class DuplicateGroup:
    """Leads sharing a name at one company, or a phone: the queue shows the pairs among them."""

    kind: str  # "name" or "phone"
    key: str
    first_name: str = ""
    last_name: str = ""
    size: int = 0
    leads: list[Lead] = field(default_factory=list)
    pairs: list[tuple[Lead, Lead]] = field(default_factory=list)

    @property
    def reason(self) -> str:
        if self.kind == "phone":
            return "Same phone"
        company = self.leads[0].company if self.leads else None
        return f"Same name at {company.name if company else 'the same company'}"

    def matches(self, lead: Lead) -> bool:
        if self.kind == "phone":
            return lead.phone_key == self.key
        return (
            str(lead.company_id) == self.key
            and lead.first_name.lower() == self.first_name
            and lead.last_name.lower() == self.last_name
        )


def duplicate_group_keys(*, org: Organization) -> models.QuerySet:
    """Every group of likely duplicates in ``org``, computed by the database in one GROUP BY each.

    Rows of (kind, key, first_name, last_name, size, newest), newest group first; every
    column an annotation, so the two halves of the UNION line up.
    """
    leads = Lead.objects.for_org(org).order_by()
    by_name = (
        leads.exclude(company=None)
        .exclude(first_name="")
        .exclude(last_name="")
        .annotate(
            kind=Value("name", output_field=CharField()),
            key=Cast("company_id", output_field=CharField()),
            fn=Lower("first_name"),
            ln=Lower("last_name"),
        )
        .values("kind", "key", "fn", "ln")
        .annotate(size=Count("id"), newest=Max("created_at"))
        .filter(size__gt=1)
    )
    by_phone = (
        leads.exclude(phone_key="")
        .annotate(
            kind=Value("phone", output_field=CharField()),
            key=F("phone_key"),
            fn=Value("", output_field=CharField()),
            ln=Value("", output_field=CharField()),
        )
        .values("kind", "key", "fn", "ln")
        .annotate(size=Count("id"), newest=Max("created_at"))
        .filter(size__gt=1)
    )
    return by_name.union(by_phone, all=True).order_by("-newest", "kind", "key", "fn", "ln")


def duplicate_queue_page(*, org: Organization, page_number: int | str | None = 1) -> tuple[Page, list[DuplicateGroup]]:
    """One page of the duplicates queue: groups with their leads and the pairs not dismissed.

    A fixed number of queries whatever the page holds: the count, the page of group keys, the
    groups' leads (one indexed OR per group) and the dismissals among them. A group whose pairs
    were all dismissed is left out of the page shown (the page then shows fewer groups).
    """
    page = Paginator(duplicate_group_keys(org=org), GROUPS_PER_PAGE).get_page(page_number)
    groups = [
        DuplicateGroup(kind=row["kind"], key=row["key"], first_name=row["fn"], last_name=row["ln"], size=row["size"])
        for row in page.object_list
    ]
    if not groups:
        return page, []
    members = Q()
    for g in groups:
        if g.kind == "phone":
            members |= Q(phone_key=g.key)
        else:
            members |= Q(company_id=int(g.key), first_name__iexact=g.first_name, last_name__iexact=g.last_name)
    leads = list(
        Lead.objects.for_org(org).filter(members).select_related("company", "owner__user").order_by("created_at", "pk")
    )
    for g in groups:
        g.leads = [lead for lead in leads if g.matches(lead)][:MAX_GROUP]
    ids = {lead.pk for lead in leads}
    dismissed = set(
        LeadDuplicateDismissal.objects.for_org(org)
        .filter(lead_low__in=ids, lead_high__in=ids)
        .values_list("lead_low_id", "lead_high_id")
    )
    for g in groups:
        g.pairs = [
            (older, newer)
            for i, older in enumerate(g.leads)
            for newer in g.leads[i + 1 :]
            if _pair(older.pk, newer.pk) not in dismissed
        ]
    return page, [g for g in groups if g.pairs]


def lead_merges(*, lead: Lead) -> models.QuerySet[LeadMerge]:
    """The merges into ``lead``, newest first: its page offers to undo them."""
    return LeadMerge.objects.filter(kept=lead).select_related("actor__user", "undone_by__user")


def merge_get(*, org: Organization, merge_id: int) -> LeadMerge:
    from smarketing.accounts.tenancy import get_for_org

    return get_for_org(LeadMerge.objects.all(), org=org, pk=merge_id)


# Writes -----------------------------------------------------------------------------------


def _same_org(a: Lead, b: Lead, actor: Membership | None) -> None:
    if a.pk == b.pk:
        raise InvalidInput("A lead can't be merged with itself.")
    if a.organization_id != b.organization_id:
        raise InvalidInput("Both leads must belong to the same organisation.")
    if actor is not None and actor.organization_id != a.organization_id:
        raise InvalidInput("Unknown actor.")


@transaction.atomic
def leads_merge(*, keep: Lead, drop: Lead, actor: Membership | None, now: datetime | None = None) -> LeadMerge:
    """Merge two records of one person: the older is kept whichever way round they are passed.

    Both rows are locked (in id order, so two merges of the same pair can't deadlock). The
    dropped lead's rows in ``MOVED_RELATIONS`` move to the kept lead, its values fill the
    kept lead's empty ``FILLED_FIELDS``, and it is deleted; the ``LeadMerge`` keeps a full
    snapshot of it, the moved ids and the filled values for ``leads_merge_undo``. The kept
    lead's scores are not changed; its stage may be, so that an open handoff stays acceptable,
    and a merge that can't keep it so is refused (see the module docstring).
    """
    _same_org(keep, drop, actor)
    now = now or timezone.now()
    locked = list(Lead.objects.select_for_update().filter(pk__in=[keep.pk, drop.pk]).order_by("pk"))
    if len(locked) != 2:
        raise Conflict("One of the leads no longer exists; it may have been merged already.")
    keep, drop = sorted(locked, key=lambda lead: (lead.created_at, lead.pk))
    open_handoffs = dict(Handoff.objects.filter(lead__in=locked, status__in=Handoff.OPEN).values_list("lead_id", "pk"))
    if len(open_handoffs) > 1:
        raise Conflict("Both leads are with sales (an open handoff each): accept, return or reassign one first.")
    to_stage = _stage_after_merge(keep, drop, handoff_on=next(iter(open_handoffs), None))
    snapshot = {f.attname: _snapshot_value(f.value_from_object(drop)) for f in _SNAPSHOT_FIELDS}
    snapshot["open_handoff"] = open_handoffs.get(drop.pk)
    score = drop.current_score
    snapshot["score"] = {name: _snapshot_value(getattr(score, name)) for name in _SCORE_FIELDS}
    snapshot["score_explanation"] = drop.score_explanation
    moved: dict[str, list[int]] = {}
    for model, fk in MOVED_RELATIONS:
        ids = list(model._default_manager.filter(**{fk: drop}).values_list("pk", flat=True))
        if ids:
            model._default_manager.filter(pk__in=ids).update(**{fk: keep})
            moved[_relation_label(model, fk)] = ids
    filled: dict[str, dict] = {}
    for name in FILLED_FIELDS:
        attname = Lead._meta.get_field(name).attname
        before, after = getattr(keep, attname), getattr(drop, attname)
        if before in ("", None) and after not in ("", None):
            setattr(keep, attname, after)
            filled[attname] = {"before": before, "after": after}
    filled |= _campaign_touches(keep, drop)
    keep.phone_key, keep.updated_at = phone_key_for(keep.phone), now
    keep.save(update_fields=[*filled, "phone_key", "updated_at"])
    if to_stage is not None:
        # After the rows moved: a move to MQL then finds the dropped lead's handoff open on
        # the kept lead and opens no second one.
        before = keep.lifecycle_stage
        lead_transition(
            lead=keep,
            to=to_stage,
            actor=actor,
            rule=f"merge:{drop.pk}",
            reason=f"Merged with {drop.email} ({drop.get_lifecycle_stage_display()})",
            now=now,
        )
        keep.lifecycle_stage = to_stage
        change = StageChange.objects.filter(lead=keep).latest("pk")
        filled["lifecycle_stage"] = {"before": before, "after": to_stage, "stage_change": change.pk}
    merge = LeadMerge.objects.create(
        organization_id=keep.organization_id,
        kept=keep,
        dropped_lead_id=drop.pk,
        dropped_email=drop.email,
        snapshot=snapshot,
        moved=moved,
        filled=filled,
        actor=actor,
        merged_at=now,
    )
    drop.delete()  # nothing of the person's cascades: their rows were moved above
    # The dropped address stays the person's: events, forms, imports and new leads with it find
    # the kept lead instead of making the duplicate again (until undo).
    LeadEmailAlias.objects.create(organization_id=keep.organization_id, email=drop.email, lead=keep, merge=merge)
    Organization.objects.filter(pk=keep.organization_id, has_email_aliases=False).update(has_email_aliases=True)
    # Rescored, not qualified here: a move to MQL would open a handoff the merge's undo could not
    # take back. Over the threshold, the person qualifies with their next scored event.
    rescore_lead(lead=keep, now=now, qualify=False)
    return merge


def _campaign_touches(keep: Lead, drop: Lead) -> dict[str, dict]:
    """The person's first touch is the earlier of the two records' first campaigns, the latest the
    later of their latest (as ingestion keeps them), each by when it touched its record
    (``first_campaign_at``, ``latest_campaign_at``; none: the record's creation); one campaign on
    both spans both. Sets them and their times on ``keep``; returns what changed, as ``filled``
    records it for undo (times as text)."""
    changed = {}
    for id_attr, at_attr, earliest in (
        ("first_campaign_id", "first_campaign_at", True),
        ("latest_campaign_id", "latest_campaign_at", False),
    ):
        mine, theirs = getattr(keep, id_attr), getattr(drop, id_attr)
        if theirs is None:
            continue
        mine_at, theirs_at = getattr(keep, at_attr) or keep.created_at, getattr(drop, at_attr) or drop.created_at
        if mine == theirs:
            after = (mine, min(mine_at, theirs_at) if earliest else max(mine_at, theirs_at))
        elif mine is None or ((theirs_at < mine_at) if earliest else (theirs_at > mine_at)):
            after = (theirs, theirs_at)
        else:
            continue
        for attname, value in zip((id_attr, at_attr), after, strict=True):
            before = getattr(keep, attname)
            if value != before:
                setattr(keep, attname, value)
                changed[attname] = {"before": _snapshot_value(before), "after": _snapshot_value(value)}
    return changed


def _stage_after_merge(keep: Lead, drop: Lead, *, handoff_on: int | None) -> str | None:
    """The stage the kept lead moves to in a merge, or None; a Conflict when no stage keeps the
    open handoff acceptable (see the module docstring). ``handoff_on``: the lead with one."""
    order, stage = Lead.FUNNEL_ORDER, keep.lifecycle_stage
    if handoff_on == drop.pk:
        if stage == Lead.Stage.MQL:
            return None
        if Lead.Stage.MQL in Lead.TRANSITIONS[stage]:
            return Lead.Stage.MQL
        raise Conflict(
            "The newer lead is with sales (an open handoff) and the older one is "
            f"{keep.get_lifecycle_stage_display()}, which can't become an MQL to take the handoff over: "
            "accept or return the handoff first."
        )
    if handoff_on == keep.pk:
        if order[drop.lifecycle_stage] > order[Lead.Stage.MQL]:
            raise Conflict(
                f"The older lead is with sales (an open handoff) and the newer one is already "
                f"{drop.get_lifecycle_stage_display()}: accept or return the handoff first."
            )
        return None
    to = drop.lifecycle_stage
    if order[to] > order[stage] and to in Lead.TRANSITIONS[stage] and to != Lead.Stage.MQL:
        return to
    return None


def _snapshot_value(value: object) -> object:
    # Full precision: DjangoJSONEncoder would cut datetimes to milliseconds.
    return value.isoformat() if isinstance(value, datetime) else value


def _restored_value(f: models.Field, value: object) -> object:
    value = f.to_python(value)
    # A company, owner, persona or campaign deleted since the merge: as SET_NULL would have done.
    if f.is_relation and value is not None and not f.related_model._default_manager.filter(pk=value).exists():
        return None
    return value


@transaction.atomic
def leads_merge_undo(*, merge: LeadMerge, actor: Membership | None, now: datetime | None = None) -> Lead:
    """Undo a merge: the dropped lead again, with its id, its rows, and the kept lead as it was.

    Only the recorded rows move back (those still on the kept lead), and a filled attribute is
    restored only if nobody changed it since; a stage the merge moved goes back, its stage
    change deleted. Refused if already undone, if the dropped lead's email has become another
    lead's meanwhile, or if the handoff or stage the merge moved has moved on since.
    """
    now = now or timezone.now()
    merge = LeadMerge.objects.select_for_update().get(pk=merge.pk)
    if actor is not None and actor.organization_id != merge.organization_id:
        raise InvalidInput("Unknown actor.")
    if merge.undone_at is not None:
        raise Conflict("This merge has already been undone.")
    keep = Lead.objects.select_for_update().get(pk=merge.kept_id)
    org_leads = Lead.objects.filter(organization_id=merge.organization_id)
    if org_leads.filter(email__iexact=merge.dropped_email).exists():
        raise Conflict(f"{merge.dropped_email} is another lead's email now; the merge can't be undone.")
    if Lead.objects.filter(pk=merge.dropped_lead_id).exists():
        raise Conflict("The dropped lead's id is in use again; the merge can't be undone.")
    _check_handoff_and_stage_unchanged(merge, keep)
    merge.aliases.all().delete()  # the dropped address is its own lead's again
    dropped = Lead(**{f.attname: _restored_value(f, merge.snapshot.get(f.attname)) for f in _SNAPSHOT_FIELDS})
    dropped.save(force_insert=True)
    _restore_score(dropped, merge.snapshot)
    for label, ids in merge.moved.items():
        model, fk = _RELATIONS_BY_LABEL[label]
        model._default_manager.filter(pk__in=ids, **{fk: keep}).update(**{fk: dropped})
    restored = []
    stage = merge.filled.get("lifecycle_stage")
    if stage:  # checked above: the kept lead is still where the merge moved it
        StageChange.objects.filter(pk=stage["stage_change"]).delete()
        keep.lifecycle_stage = stage["before"]
        restored.append("lifecycle_stage")
    for attname, change in merge.filled.items():
        if attname == "lifecycle_stage":
            continue
        to_python = Lead._meta.get_field(attname).to_python  # a time was recorded as text
        if getattr(keep, attname) == to_python(change["after"]):
            setattr(keep, attname, to_python(change["before"]))
            restored.append(attname)
    keep.phone_key, keep.updated_at = phone_key_for(keep.phone), now
    keep.save(update_fields=[*restored, "phone_key", "updated_at"])
    for lead in (keep, dropped):  # each with its own events again
        rescore_lead(lead=lead, now=now, qualify=False)
    merge.undone_at, merge.undone_by = now, actor
    merge.save(update_fields=["undone_at", "undone_by"])
    return dropped


def _check_handoff_and_stage_unchanged(merge: LeadMerge, keep: Lead) -> None:
    """Refuse the undo once the handoff or stage the merge moved has moved on since."""
    handoff_id = merge.snapshot.get("open_handoff")
    if handoff_id is not None:
        handoff = Handoff.objects.filter(pk=handoff_id).first()
        if handoff is None or handoff.lead_id != keep.pk or handoff.status not in Handoff.OPEN:
            status = handoff.get_status_display().lower() if handoff else "deleted"
            raise Conflict(
                f"The handoff that came with {merge.dropped_email} has been {status} since the merge; "
                "the merge can't be undone."
            )
    stage = merge.filled.get("lifecycle_stage")
    if stage and (
        keep.lifecycle_stage != stage["after"] or keep.stage_changes.filter(pk__gt=stage["stage_change"]).exists()
    ):
        raise Conflict(
            f"The lead has moved on since the merge made it {Lead.Stage(stage['after']).label} "
            f"(it is {keep.get_lifecycle_stage_display()} now); the merge can't be undone."
        )


def _restore_score(lead: Lead, snapshot: dict) -> None:
    """The dropped lead's score row (and explanation) as the merge found them."""
    saved = snapshot.get("score") or {name: snapshot.get(key) for name, key in _LEGACY_SCORE_KEYS.items()}
    values = {
        name: LeadScore._meta.get_field(name).to_python(saved.get(name))
        for name in _SCORE_FIELDS
        if saved.get(name) is not None
    }
    LeadScore.objects.create(lead=lead, organization_id=lead.organization_id, **values)
    explanation = snapshot.get("score_explanation")
    if explanation:
        LeadScoreExplanation.objects.create(lead=lead, explanation=explanation)


def duplicate_dismiss(*, lead: Lead, other: Lead, actor: Membership | None) -> LeadDuplicateDismissal:
    """Record that two flagged leads are different people, so neither page flags the pair again."""
    _same_org(lead, other, actor)
    low, high = _pair(lead.pk, other.pk)
    dismissal, _ = LeadDuplicateDismissal.objects.get_or_create(
        organization_id=lead.organization_id,
        lead_low_id=low,
        lead_high_id=high,
        defaults={"dismissed_by": actor},
    )
    return dismissal
