"""Which persona a lead is, and why: fit points from explicit data.

Each fit criterion a persona sets is a test; a lead that passes it earns the criterion's
points. A test whose data the lead lacks is neither passed nor failed (it is "unknown").

Choosing among personas:
1. the most fit points wins;
2. on equal points, the persona with the larger share of its own criteria passed (the more
   specific fit) wins;
3. still equal, the oldest persona (lowest id) wins, so the answer never depends on order.
No persona with at least one passed test means no match: ``(None, 0, reasons)``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TypedDict

from personas.models import Persona, Seniority
from smarketing.accounts.models import Organization

FIT_POINTS = {"industry": 20, "title": 20, "company_size": 15, "seniority": 15, "country": 10}


class LeadAttributes(TypedDict, total=False):
    title: str
    seniority: str
    industry: str
    company_size: int | None
    country: str


@dataclass(frozen=True)
class PersonaFit:
    persona: Persona
    points: int
    passed: int
    tested: int
    reasons: list[str] = field(default_factory=list)

    @property
    def share(self) -> float:
        return self.passed / self.tested if self.tested else 0.0

    def rank(self) -> tuple[int, float, int]:
        return (self.points, self.share, -self.persona.pk)


def _title_matches(title: str, keywords: Iterable[str]) -> str | None:
    for keyword in keywords:
        if keyword and re.search(rf"\b{re.escape(keyword)}\b", title, re.IGNORECASE):
            return keyword
    return None


def persona_fit(persona: Persona, attributes: LeadAttributes) -> PersonaFit:
    """How well one lead fits one persona: points, tests passed out of tests set, and why."""
    points = passed = tested = 0
    reasons: list[str] = []

    def passes(criterion: str, reason: str) -> None:
        nonlocal points, passed
        points += FIT_POINTS[criterion]
        passed += 1
        reasons.append(f"{reason} (+{FIT_POINTS[criterion]})")

    industry = (attributes.get("industry") or "").strip()
    if persona.industries:
        tested += 1
        if industry and industry.lower() in {i.lower() for i in persona.industries}:
            passes("industry", f"Industry “{industry}” is one of {persona.name}'s")
    title = (attributes.get("title") or "").strip()
    if persona.title_keywords:
        tested += 1
        keyword = _title_matches(title, persona.title_keywords) if title else None
        if keyword:
            passes("title", f"Title “{title}” contains “{keyword}”")
    size = attributes.get("company_size")
    if persona.company_size_min is not None or persona.company_size_max is not None:
        tested += 1
        low, high = persona.company_size_min or 0, persona.company_size_max
        if size is not None and size >= low and (high is None or size <= high):
            span = f"{low}–{high}" if high is not None else f"{low}+"
            passes("company_size", f"Company size {size} is within {span}")
    seniority = attributes.get("seniority") or ""
    if persona.seniorities:
        tested += 1
        if seniority in persona.seniorities:
            passes("seniority", f"Seniority {Seniority(seniority).label} fits")
    country = (attributes.get("country") or "").strip().upper()
    if persona.countries:
        tested += 1
        if country and country in persona.countries:
            passes("country", f"Country {country} is targeted")
    return PersonaFit(persona=persona, points=points, passed=passed, tested=tested, reasons=reasons)


def match_persona(
    attributes: LeadAttributes, *, org: Organization | None = None, personas: Iterable[Persona] | None = None
) -> tuple[Persona | None, int, list[str]]:
    """The best-matching persona for a lead's attributes, its fit points and the reasons.

    Pass ``org`` to consider its active personas, or ``personas`` already loaded (scoring
    matches many leads against the same few personas).
    """
    if personas is None:
        if org is None:
            raise TypeError("match_persona() needs org or personas.")
        personas = Persona.objects.for_org(org).filter(archived_at=None)
    fits = [persona_fit(p, attributes) for p in personas]
    candidates = [f for f in fits if f.points > 0]
    if not candidates:
        reason = "No persona's fit criteria match this lead." if fits else "No personas are defined yet."
        return None, 0, [reason]
    best = max(candidates, key=PersonaFit.rank)
    reasons = list(best.reasons)
    runners_up = [f for f in candidates if f is not best and f.points == best.points]
    if runners_up:
        others = ", ".join(f.persona.name for f in runners_up)
        reasons.append(
            f"Tied on points with {others}; {best.persona.name} matched more of its own criteria or is older."
        )
    return best.persona, best.points, reasons
