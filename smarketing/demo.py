"""Demo data: organisation ``demo`` with one user per role and realistic records.

Grows with every issue (personas, campaigns, handoffs, deals …) so that every page and
dashboard has something true to show. Leads are written in streamed batches, so the same
code seeds 10,000 leads for a demo or 1,000,000 for a benchmark in constant memory.
"""

from __future__ import annotations

import random
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.contrib.auth.hashers import make_password
from django.db import reset_queries, transaction
from django.utils import timezone

from leads.models import Lead
from smarketing.accounts.models import Membership, Organization, User

DEMO_SLUG = "demo"
DEMO_PASSWORD = "demo-password"
DEMO_USERS = [
    # email, name, role, side
    ("admin@demo.test", "Ada Admin", Membership.Role.ADMIN, ""),
    ("manager@demo.test", "Morgan Manager", Membership.Role.MANAGER, Membership.Side.SALES),
    ("marketer@demo.test", "Mia Marketer", Membership.Role.MARKETER, Membership.Side.MARKETING),
    ("rep@demo.test", "Ravi Rep", Membership.Role.SALES_REP, Membership.Side.SALES),
    ("rep2@demo.test", "Rosa Rep", Membership.Role.SALES_REP, Membership.Side.SALES),
    ("partner@demo.test", "Pat Partner", Membership.Role.PARTNER, ""),
]

FIRST_NAMES = [
    "Alex",
    "Sam",
    "Jordan",
    "Taylor",
    "Morgan",
    "Casey",
    "Jamie",
    "Robin",
    "Avery",
    "Riley",
    "Quinn",
    "Charlie",
    "Emma",
    "Liam",
    "Olivia",
    "Noah",
    "Ava",
    "Lucas",
    "Mia",
    "Ethan",
    "Sofia",
    "Mateo",
    "Chloe",
    "Leo",
    "Zoe",
    "Hugo",
    "Nina",
    "Omar",
    "Priya",
    "Wei",
    "Yuki",
    "Lars",
    "Ingrid",
    "Pablo",
    "Lucia",
    "Amir",
    "Fatima",
    "Kofi",
    "Amara",
    "Sven",
    "Elif",
    "Marta",
    "Tomasz",
    "Hana",
    "Ivan",
    "Aiko",
    "Diego",
]
LAST_NAMES = [
    "Smith",
    "Johnson",
    "Brown",
    "Garcia",
    "Miller",
    "Davis",
    "Martinez",
    "Lopez",
    "Wilson",
    "Anderson",
    "Thomas",
    "Moore",
    "Martin",
    "Lee",
    "Perez",
    "Clark",
    "Lewis",
    "Walker",
    "Hall",
    "Young",
    "King",
    "Wright",
    "Scott",
    "Green",
    "Baker",
    "Adams",
    "Nelson",
    "Carter",
    "Mitchell",
    "Roberts",
    "Müller",
    "Schmidt",
    "Rossi",
    "Dubois",
    "Novak",
    "Kowalski",
    "Jensen",
    "Nakamura",
    "Okafor",
    "Haddad",
    "Silva",
    "Costa",
    "Yilmaz",
    "Ivanova",
    "Tanaka",
]
TITLES = [
    "Marketing Manager",
    "Head of Marketing",
    "VP Sales",
    "Sales Director",
    "CTO",
    "IT Manager",
    "Operations Lead",
    "CEO",
    "Founder",
    "Demand Generation Manager",
    "Revenue Operations Manager",
    "Product Manager",
    "CFO",
    "Office Manager",
    "Software Engineer",
    "Procurement Specialist",
]
COMPANY_WORDS = [
    "Acme",
    "Globex",
    "Initech",
    "Umbrella",
    "Stark",
    "Wayne",
    "Hooli",
    "Vandelay",
    "Soylent",
    "Tyrell",
    "Cyberdyne",
    "Wonka",
    "Aperture",
    "Massive",
    "Dynamic",
    "Northwind",
    "Contoso",
    "Fabrikam",
    "Litware",
    "Tailspin",
    "Adventure",
    "Blue",
    "Yonder",
    "Proseware",
    "Lucerne",
]
COMPANY_SUFFIXES = ["Ltd", "GmbH", "Inc", "BV", "SAS", "AB", "Group", "Labs", "Systems", "Analytics"]
# A plausible funnel: most leads never go past "lead"; few become customers.
STAGE_WEIGHTS = [
    (Lead.Stage.SUBSCRIBER, 18),
    (Lead.Stage.LEAD, 42),
    (Lead.Stage.MQL, 12),
    (Lead.Stage.SQL, 7),
    (Lead.Stage.OPPORTUNITY, 4),
    (Lead.Stage.CUSTOMER, 3),
    (Lead.Stage.NURTURE, 9),
    (Lead.Stage.DISQUALIFIED, 5),
]


@dataclass
class SeedResult:
    organization: Organization
    users: list[str]
    leads: int
    created: bool


def _ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()


def leads_generate(*, org: Organization, count: int, now: datetime, seed: int = 7, start: int = 0) -> Iterator[Lead]:
    """``count`` realistic leads created over the past six months (unsaved)."""
    rng = random.Random(seed + start)
    stages, weights = zip(*STAGE_WEIGHTS, strict=True)
    for i in range(start, start + count):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        company = f"{rng.choice(COMPANY_WORDS)} {rng.choice(COMPANY_SUFFIXES)}"
        domain = company.lower().replace(" ", "") + ".example"
        created = now - timedelta(seconds=rng.randint(0, 180 * 24 * 3600))
        yield Lead(
            organization=org,
            email=_ascii(f"{first}.{last}.{i}@{domain}".lower()),
            first_name=first,
            last_name=last,
            title=rng.choice(TITLES),
            company_name=company,
            lifecycle_stage=rng.choices(stages, weights)[0],
            created_at=created,
            updated_at=created,
        )


def leads_bulk_create(
    *, org: Organization, count: int, now: datetime | None = None, batch_size: int = 5000, start: int = 0
) -> int:
    """Write ``count`` generated leads in batches; memory stays flat whatever the count."""
    now = now or timezone.now()
    generated = leads_generate(org=org, count=count, now=now, start=start)
    written = 0
    while written < count:
        batch = [lead for _, lead in zip(range(batch_size), generated, strict=False)]
        with transaction.atomic():
            Lead.objects.bulk_create(batch, batch_size=batch_size)
        written += len(batch)
        reset_queries()  # with DEBUG on, Django keeps every statement: ~1 MB per batch
    return written


def seed_demo(*, leads: int = 2000, reset: bool = False, now: datetime | None = None) -> SeedResult:
    """Build (once) the demo organisation. With ``reset``, drop and rebuild it."""
    now = now or timezone.now()
    existing = Organization.objects.filter(slug=DEMO_SLUG).first()
    if existing and not reset:
        return SeedResult(existing, [u[0] for u in DEMO_USERS], Lead.objects.for_org(existing).count(), False)
    with transaction.atomic():
        if existing:
            existing.delete()
            User.objects.filter(email__in=[u[0] for u in DEMO_USERS]).delete()
        org = Organization.objects.create(name="Demo Software Co.", slug=DEMO_SLUG, time_zone="Europe/London")
        password = make_password(DEMO_PASSWORD)  # hash once: hashing is deliberately slow
        for email, name, role, side in DEMO_USERS:
            user, _ = User.objects.get_or_create(email=email, defaults={"full_name": name, "password": password})
            Membership.objects.create(
                organization=org, user=user, role=role, side=side, created_at=now - timedelta(days=200)
            )
    written = leads_bulk_create(org=org, count=leads, now=now)
    return SeedResult(org, [u[0] for u in DEMO_USERS], written, True)
