"""Routing: which rep gets an MQL, and why.

The organisation's active rules are tried in position order; the first whose conditions all
hold names a team or a rep. Within a team the rep with the lowest share of their capacity in
open (pending) handoffs gets it, ties going to whoever was assigned least recently (never
assigned first), then the lowest membership id: a round-robin weighted by capacity. Reps
who are away, at capacity or removed are skipped; a rep target who is skipped lets the next
rule try. When nothing places the lead, the organisation's fallback owner gets it, or nobody.
Every step is logged, so "why did I get this lead" has an answer.

A ``Router`` loads what it needs once (rules, team members, open counts, absences: a handful
of queries whatever the team sizes) and then routes any number of leads in memory, counting
each assignment it makes: the bulk path routes a whole batch of new MQLs with it.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.db import transaction
from django.db.models import Count, Max, Min, Q
from django.utils import timezone

from leads.models import Absence, Handoff, Lead, Partner, RoutingRule, Team, TeamMember
from smarketing.accounts.models import Membership, Organization
from smarketing.errors import InvalidInput

TAKES_HANDOFFS = frozenset({Membership.Role.SALES_REP, Membership.Role.MANAGER})


@dataclass(frozen=True)
class RoutingFacts:
    """What routing conditions look at, taken from a lead (or given, for a preview)."""

    persona_id: int | None = None
    country: str = ""
    company_size: int | None = None
    channels: frozenset[str] = frozenset()
    campaign_ids: frozenset[int] = frozenset()
    partner_id: int | None = None

    @classmethod
    def of(cls, lead: Lead) -> RoutingFacts:
        """The facts of ``lead``; select_related company, first_campaign and latest_campaign to avoid queries."""
        company = lead.company if lead.company_id else None
        campaigns = [c for c in (lead.first_campaign, lead.latest_campaign) if c is not None]
        return cls(
            persona_id=lead.persona_id,
            country=(company.country if company else "").upper(),
            company_size=company.size if company else None,
            channels=frozenset(c.channel for c in campaigns),
            campaign_ids=frozenset(c.pk for c in campaigns),
            partner_id=lead.partner_id,
        )


@dataclass
class RoutingDecision:
    """Who gets the lead (None: nobody), under which rule, and the log of how it was decided."""

    rep: Membership | None
    rule: RoutingRule | None
    log: list[dict] = field(default_factory=list)


def why_not(conditions: dict, facts: RoutingFacts) -> str | None:
    """The first condition of a rule that ``facts`` fail, in words; None when all hold."""
    if (ids := conditions.get("persona_ids")) and facts.persona_id not in ids:
        return "persona does not match" if facts.persona_id else "lead has no persona"
    if (countries := conditions.get("countries")) and facts.country not in {c.upper() for c in countries}:
        return f"country {facts.country or 'unknown'} not in {', '.join(countries)}"
    low, high = conditions.get("company_size_min"), conditions.get("company_size_max")
    if low is not None or high is not None:
        size = facts.company_size
        if size is None:
            return "company size unknown"
        if low is not None and size < low:
            return f"company size {size} below {low}"
        if high is not None and size > high:
            return f"company size {size} above {high}"
    if (channels := conditions.get("channels")) and not facts.channels & set(channels):
        return f"channel not in {', '.join(channels)}"
    if (campaign_ids := conditions.get("campaign_ids")) and not facts.campaign_ids & set(campaign_ids):
        return "campaign does not match"
    if (partner_id := conditions.get("partner_id")) is not None and facts.partner_id != partner_id:
        return "partner does not match"
    return None


def routing_conditions_clean(conditions: dict, *, org: Organization) -> dict:
    """Validated, normalised routing conditions (what a rule form or the API saves), or InvalidInput.

    Lists must be non-empty lists; countries are ISO-2 (upper-cased); channels are Channel
    values; persona and campaign ids must be the organisation's; size bounds are positive and
    in order.
    """
    from leads.models import Campaign, Channel
    from personas.models import Persona

    unknown = set(conditions) - RoutingRule.CONDITION_KEYS
    if unknown:
        raise InvalidInput(f"Unknown conditions: {', '.join(sorted(unknown))}.", field="conditions")
    clean: dict = {}
    for key in ("persona_ids", "countries", "channels", "campaign_ids"):
        value = conditions.get(key)
        if value in (None, []):
            continue
        if not isinstance(value, list):
            raise InvalidInput(f"{key} is a list.", field=key)
        clean[key] = value
    if "countries" in clean:
        if not all(isinstance(c, str) and len(c.strip()) == 2 and c.strip().isalpha() for c in clean["countries"]):
            raise InvalidInput("Countries are two-letter codes, e.g. GB.", field="countries")
        clean["countries"] = sorted({c.strip().upper() for c in clean["countries"]})
    if "channels" in clean and not set(clean["channels"]) <= set(Channel.values):
        raise InvalidInput("Unknown channel.", field="channels")
    for key, model in (("persona_ids", Persona), ("campaign_ids", Campaign)):
        if key in clean:
            ids = clean[key]
            if not all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
                raise InvalidInput(f"{key} are ids.", field=key)
            if model.objects.for_org(org).filter(pk__in=ids).count() != len(set(ids)):
                raise InvalidInput(f"Unknown {key.removesuffix('_ids')}.", field=key)
            clean[key] = sorted(set(ids))
    for key in ("company_size_min", "company_size_max", "partner_id"):
        value = conditions.get(key)
        if value is None:
            continue
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise InvalidInput(f"{key} is a whole number, 1 or more.", field=key)
        clean[key] = value
    if "partner_id" in clean and not Partner.objects.for_org(org).filter(pk=clean["partner_id"]).exists():
        raise InvalidInput("Unknown partner.", field="partner_id")
    low, high = clean.get("company_size_min"), clean.get("company_size_max")
    if low is not None and high is not None and low > high:
        raise InvalidInput("The minimum company size is above the maximum.", field="company_size_min")
    return clean


def _name(membership: Membership) -> str:
    return str(membership.user)


class Router:
    """The routing state of one organisation at one moment; ``route`` may be called many times."""

    def __init__(self, *, org: Organization, now: datetime | None = None) -> None:
        self.org = org
        self.now = now or timezone.now()
        self.rules = list(
            RoutingRule.objects.for_org(org)
            .filter(active=True)
            .select_related("team", "rep__user")
            .order_by("position", "id")
        )
        team_ids = {r.team_id for r in self.rules if r.team_id}
        self.team_members: dict[int, list[TeamMember]] = defaultdict(list)
        if team_ids:
            for tm in (
                TeamMember.objects.filter(team_id__in=team_ids)
                .select_related("membership__user")
                .order_by("membership_id")
            ):
                self.team_members[tm.team_id].append(tm)
        rep_targets = {r.rep_id for r in self.rules if r.rep_id}
        candidates = rep_targets | {tm.membership_id for tms in self.team_members.values() for tm in tms}
        # A rep named by a rule takes at most their smallest team capacity (the default if in no team).
        self.rep_capacity: dict[int, int] = {}
        if rep_targets:
            self.rep_capacity = dict(
                TeamMember.objects.filter(membership_id__in=rep_targets)
                .values("membership_id")
                .annotate(cap=Min("capacity"))
                .values_list("membership_id", "cap")
            )
        self.open: dict[int, int] = defaultdict(int)
        # (time, order of assignment by this router): never assigned sorts first.
        self.last_assigned: dict[int, tuple[datetime, int]] = {}
        self.away: dict[int, datetime] = {}
        if candidates:
            stats = (
                Handoff.objects.for_org(org)
                .filter(rep_id__in=candidates)
                .values("rep_id")
                .annotate(open=Count("id", filter=Q(status__in=Handoff.OPEN)), last=Max("created_at"))
                .order_by()
            )
            for row in stats:
                self.open[row["rep_id"]] = row["open"]
                self.last_assigned[row["rep_id"]] = (row["last"], 0)
            for membership_id, ends_at in (
                Absence.objects.for_org(org)
                .filter(membership_id__in=candidates, starts_at__lte=self.now, ends_at__gt=self.now)
                .values_list("membership_id", "ends_at")
            ):
                self.away[membership_id] = max(ends_at, self.away.get(membership_id, ends_at))
        self.fallback: Membership | None = None
        if org.routing_fallback_id:
            self.fallback = Membership.objects.select_related("user").filter(pk=org.routing_fallback_id).first()
        self._assigned = 0

    def _skip_reason(self, membership: Membership, capacity: int) -> str | None:
        if membership.removed_at is not None or membership.organization_id != self.org.pk:
            return "removed from the organisation"
        if membership.role not in TAKES_HANDOFFS:
            return f"is a {membership.get_role_display().lower()}, not sales"
        if (until := self.away.get(membership.pk)) is not None:
            return f"away until {until.isoformat()}"
        if self.open[membership.pk] >= capacity:
            return f"at capacity ({self.open[membership.pk]}/{capacity} open)"
        return None

    def _pick_from_team(self, rule: RoutingRule, log: list[dict], exclude: set[int]) -> Membership | None:
        members = self.team_members.get(rule.team_id, [])
        if not members:
            log.append({"step": "team", "rule": rule.pk, "team": rule.team.name, "why": "team has no members"})
            return None
        available: list[TeamMember] = []
        for tm in members:
            why = (
                "the rep it is being taken from"
                if tm.membership_id in exclude
                else self._skip_reason(tm.membership, tm.capacity)
            )
            if why:
                log.append(
                    {"step": "skip", "rule": rule.pk, "rep": tm.membership_id, "name": _name(tm.membership), "why": why}
                )
            else:
                available.append(tm)
        if not available:
            log.append(
                {"step": "team", "rule": rule.pk, "team": rule.team.name, "why": "nobody in the team is available"}
            )
            return None
        never = (datetime.min.replace(tzinfo=UTC), -1)
        chosen = min(
            available,
            key=lambda tm: (
                self.open[tm.membership_id] / tm.capacity,
                self.last_assigned.get(tm.membership_id, never),
                tm.membership_id,
            ),
        )
        log.append(
            {
                "step": "assign",
                "rule": rule.pk,
                "rep": chosen.membership_id,
                "name": _name(chosen.membership),
                "why": f"team {rule.team.name}: {self.open[chosen.membership_id]}/{chosen.capacity} open, "
                "the lowest share (ties: least recently assigned)",
            }
        )
        return chosen.membership

    def _take_rep(self, rule: RoutingRule, log: list[dict], exclude: set[int]) -> Membership | None:
        rep = rule.rep
        capacity = self.rep_capacity.get(rep.pk, TeamMember.DEFAULT_CAPACITY)
        why = "the rep it is being taken from" if rep.pk in exclude else self._skip_reason(rep, capacity)
        if why:
            log.append({"step": "skip", "rule": rule.pk, "rep": rep.pk, "name": _name(rep), "why": why})
            return None
        log.append({"step": "assign", "rule": rule.pk, "rep": rep.pk, "name": _name(rep), "why": "the rule's rep"})
        return rep

    def route_facts(self, facts: RoutingFacts, *, exclude: set[int] | frozenset[int] = frozenset()) -> RoutingDecision:
        """Route a lead with these facts; ``exclude`` names reps who must not get it (a reassignment)."""
        log: list[dict] = []
        exclude = set(exclude)
        for rule in self.rules:
            why = why_not(rule.conditions or {}, facts)
            if why:
                log.append({"step": "rule", "rule": rule.pk, "name": rule.name, "matched": False, "why": why})
                continue
            log.append({"step": "rule", "rule": rule.pk, "name": rule.name, "matched": True})
            rep = self._pick_from_team(rule, log, exclude) if rule.team_id else self._take_rep(rule, log, exclude)
            if rep is not None:
                self._count(rep)
                return RoutingDecision(rep=rep, rule=rule, log=log)
        why = "no rule matched" if not any(e.get("matched") for e in log) else "nobody available under a matching rule"
        if not self.rules:
            why = "no routing rules"
        fallback = self.fallback
        if fallback is None:
            log.append({"step": "fallback", "rep": None, "why": f"{why}; no fallback owner"})
            return RoutingDecision(rep=None, rule=None, log=log)
        if fallback.removed_at is not None or fallback.pk in exclude:
            reason = "removed" if fallback.removed_at is not None else "the rep it is being taken from"
            log.append({"step": "fallback", "rep": None, "why": f"{why}; the fallback owner is {reason}"})
            return RoutingDecision(rep=None, rule=None, log=log)
        log.append({"step": "fallback", "rep": fallback.pk, "name": _name(fallback), "why": f"{why}: fallback owner"})
        self._count(fallback)
        return RoutingDecision(rep=fallback, rule=None, log=log)

    def route(self, lead: Lead, *, exclude: set[int] | frozenset[int] = frozenset()) -> RoutingDecision:
        if not self.rules:  # nothing to match: skip reading the lead's company and campaigns
            return self.route_facts(RoutingFacts(), exclude=exclude)
        return self.route_facts(RoutingFacts.of(lead), exclude=exclude)

    def _count(self, rep: Membership) -> None:
        self._assigned += 1
        self.open[rep.pk] += 1
        self.last_assigned[rep.pk] = (self.now, self._assigned)


def route_lead(*, lead: Lead, now: datetime | None = None, exclude: frozenset[int] = frozenset()) -> RoutingDecision:
    """Who should get ``lead`` now, under which rule, and why (see the module docstring)."""
    return Router(org=lead.organization, now=now).route(lead, exclude=exclude)


def routing_preview(
    *,
    org: Organization,
    lead: Lead | None = None,
    facts: RoutingFacts | None = None,
    now: datetime | None = None,
) -> RoutingDecision:
    """Who would get a lead (saved or not) with these attributes, and why; changes nothing."""
    if lead is not None and lead.organization_id != org.pk:
        raise ValueError("The lead belongs to another organisation.")
    router = Router(org=org, now=now)
    return router.route(lead) if lead is not None else router.route_facts(facts or RoutingFacts())


# --- Rules: writes ---------------------------------------------------------------------------


def _rule_target_check(*, org: Organization, team: Team | None, rep: Membership | None) -> None:
    if (team is None) == (rep is None):
        raise InvalidInput("A rule hands leads to a team or to a rep: name exactly one.", field="team")
    if team is not None and team.organization_id != org.pk:
        raise InvalidInput("Unknown team.", field="team")
    if rep is not None:
        if rep.organization_id != org.pk or rep.removed_at is not None:
            raise InvalidInput("Unknown member.", field="rep")
        if rep.role not in TAKES_HANDOFFS:
            raise InvalidInput("Only sales reps and managers take handoffs.", field="rep")


@transaction.atomic
def routing_rule_create(
    *,
    org: Organization,
    name: str,
    team: Team | None = None,
    rep: Membership | None = None,
    conditions: dict | None = None,
    active: bool = True,
    position: int | None = None,
) -> RoutingRule:
    """A new rule to ``team`` or ``rep``; without a position it goes last."""
    _rule_target_check(org=org, team=team, rep=rep)
    conditions = routing_conditions_clean(conditions or {}, org=org)
    if position is None:
        last = RoutingRule.objects.for_org(org).aggregate(last=Max("position"))["last"]
        position = 0 if last is None else last + 1
    return RoutingRule.objects.create(
        organization=org,
        name=name.strip(),
        team=team,
        rep=rep,
        conditions=conditions,
        active=active,
        position=position,
    )


@transaction.atomic
def routing_rule_update(
    *,
    rule: RoutingRule,
    name: str,
    team: Team | None,
    rep: Membership | None,
    conditions: dict,
    active: bool,
    position: int,
) -> RoutingRule:
    """Replace the rule's settings (the caller merges a partial change onto the current ones)."""
    org = rule.organization
    _rule_target_check(org=org, team=team, rep=rep)
    rule.conditions = routing_conditions_clean(conditions, org=org)
    rule.name, rule.team, rule.rep, rule.active, rule.position = name.strip(), team, rep, active, position
    rule.save(update_fields=["name", "team", "rep", "conditions", "active", "position"])
    return rule


def routing_rule_delete(*, rule: RoutingRule) -> None:
    """Remove the rule; handoffs it made keep their routing log (their rule link becomes empty)."""
    rule.delete()
