"""Demo data: organisation ``demo`` with one user per role and realistic records.

Grows with every issue (personas, campaigns, handoffs, deals …) so that every page and
dashboard has something true to show. Leads are written in streamed batches, so the same
code seeds 10,000 leads for a demo or 1,000,000 for a benchmark in constant memory.
"""

from __future__ import annotations

import random
import unicodedata
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal

from django.contrib.auth.hashers import make_password
from django.db import reset_queries, transaction
from django.utils import timezone

from leads.handoffs import handoffs_create_bulk
from leads.models import (
    ActivityEvent,
    BuyerStage,
    Campaign,
    Channel,
    Handoff,
    Lead,
    LeadScore,
    RoutingRule,
    StageChange,
    Team,
    TeamMember,
)
from leads.rescoring import rescore_organization
from leads.scoring_models import scoring_model_ensure_default
from personas import services as personas_services
from personas.glossary import default_terms
from personas.models import ContentAsset, ContentRequest, Persona, Seniority
from personas.services import AssetInput, DefinitionsInput, PersonaInput
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
    # A marketing-side manager, so definitions can be signed by both sides.
    ("mkt-manager@demo.test", "Maya Marketing-Lead", Membership.Role.MANAGER, Membership.Side.MARKETING),
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

# Which demo persona a lead with this title usually is; titles not listed fit no persona.
TITLE_PERSONAS = {
    "Marketing Manager": ["Marketing Mary"],
    "Head of Marketing": ["Marketing Mary"],
    "Demand Generation Manager": ["Marketing Mary"],
    "IT Manager": ["Ops Oliver"],
    "Operations Lead": ["Ops Oliver"],
    "Revenue Operations Manager": ["Ops Oliver"],
    "Office Manager": ["Ops Oliver"],
    "CEO": ["Founder Fiona", "Founder Fiona", "Enterprise Erik"],
    "Founder": ["Founder Fiona"],
    "VP Sales": ["Enterprise Erik"],
    "Sales Director": ["Enterprise Erik"],
    "CTO": ["Enterprise Erik", "Founder Fiona"],
    "CFO": ["Enterprise Erik"],
}
# Share of leads with a persona-like title that marketing has actually matched to a persona.
PERSONA_MATCH_RATE = 0.85
# Where in their own journey a lead at each lifecycle stage tends to be ("" = not recorded).
BUYER_STAGE_WEIGHTS = {
    Lead.Stage.SUBSCRIBER: {"": 30, BuyerStage.AWARENESS: 70},
    Lead.Stage.LEAD: {BuyerStage.AWARENESS: 65, BuyerStage.CONSIDERATION: 30, "": 5},
    Lead.Stage.MQL: {BuyerStage.AWARENESS: 15, BuyerStage.CONSIDERATION: 70, BuyerStage.DECISION: 15},
    Lead.Stage.SQL: {BuyerStage.CONSIDERATION: 40, BuyerStage.DECISION: 60},
    Lead.Stage.OPPORTUNITY: {BuyerStage.CONSIDERATION: 10, BuyerStage.DECISION: 90},
    Lead.Stage.CUSTOMER: {BuyerStage.DECISION: 100},
    Lead.Stage.NURTURE: {BuyerStage.AWARENESS: 50, BuyerStage.CONSIDERATION: 50},
    Lead.Stage.DISQUALIFIED: {"": 100},
}


@dataclass
class SeedResult:
    organization: Organization
    users: list[str]
    leads: int
    created: bool


def _ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()


def leads_generate(
    *,
    org: Organization,
    count: int,
    now: datetime,
    seed: int = 7,
    start: int = 0,
    personas: Mapping[str, Persona] | None = None,
) -> Iterator[Lead]:
    """``count`` realistic leads created over the past six months (unsaved).

    With ``personas`` (by name), leads whose title fits one of the demo personas mostly get it;
    every lead gets a buyer stage that suits its lifecycle stage.
    """
    rng = random.Random(seed + start)
    stages, weights = zip(*STAGE_WEIGHTS, strict=True)
    buyer_stages = {stage: (list(w), list(w.values())) for stage, w in BUYER_STAGE_WEIGHTS.items()}
    personas = personas or {}
    for i in range(start, start + count):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        company = f"{rng.choice(COMPANY_WORDS)} {rng.choice(COMPANY_SUFFIXES)}"
        domain = company.lower().replace(" ", "") + ".example"
        created = now - timedelta(seconds=rng.randint(0, 180 * 24 * 3600))
        title = rng.choice(TITLES)
        lifecycle_stage = rng.choices(stages, weights)[0]
        choices, stage_weights = buyer_stages[lifecycle_stage]
        candidates = TITLE_PERSONAS.get(title)
        persona = None
        if candidates and rng.random() < PERSONA_MATCH_RATE:
            persona = personas.get(rng.choice(candidates))
        yield Lead(
            organization=org,
            email=_ascii(f"{first}.{last}.{i}@{domain}".lower()),
            first_name=first,
            last_name=last,
            title=title,
            company_name=company,
            lifecycle_stage=lifecycle_stage,
            buyer_stage=rng.choices(choices, stage_weights)[0],
            persona=persona,
            created_at=created,
            updated_at=created,
        )


# The stages a lead went through to reach its current one (the funnel history reports read).
STAGE_PATHS = {
    Lead.Stage.SUBSCRIBER: [Lead.Stage.SUBSCRIBER],
    Lead.Stage.LEAD: [Lead.Stage.LEAD],
    Lead.Stage.MQL: [Lead.Stage.LEAD, Lead.Stage.MQL],
    Lead.Stage.SQL: [Lead.Stage.LEAD, Lead.Stage.MQL, Lead.Stage.SQL],
    Lead.Stage.OPPORTUNITY: [Lead.Stage.LEAD, Lead.Stage.MQL, Lead.Stage.SQL, Lead.Stage.OPPORTUNITY],
    Lead.Stage.CUSTOMER: [Lead.Stage.LEAD, Lead.Stage.MQL, Lead.Stage.SQL, Lead.Stage.OPPORTUNITY, Lead.Stage.CUSTOMER],
    Lead.Stage.NURTURE: [Lead.Stage.LEAD, Lead.Stage.MQL, Lead.Stage.NURTURE],
    Lead.Stage.DISQUALIFIED: [Lead.Stage.LEAD, Lead.Stage.DISQUALIFIED],
}
# Typical behaviour by how far a lead got: (event type, weight); later stages do more, and buy-ier things.
EVENT_MIX = {
    "cold": [("email_open", 6), ("page_view", 5), ("email_click", 2), ("content_download", 1)],
    "warm": [("page_view", 6), ("email_click", 3), ("content_download", 2), ("webinar_registered", 1),
             ("webinar_attended", 1), ("pricing_view", 1), ("form_submit", 1)],
    "hot": [("page_view", 5), ("pricing_view", 3), ("webinar_attended", 2), ("content_download", 2),
            ("demo_request", 1), ("trial_signup", 1), ("email_click", 2)],
}  # fmt: skip
PAGES = ["/", "/blog/lead-scoring-guide", "/blog/sla-template", "/product", "/pricing", "/customers", "/integrations"]


def _history_and_events(lead: Lead, rng: random.Random, now: datetime) -> tuple[list[StageChange], list[ActivityEvent]]:
    """A plausible past for a generated lead: its path through the funnel, and what it did."""
    changes, at = [], lead.created_at
    path = STAGE_PATHS[lead.lifecycle_stage]
    for i, stage in enumerate(path):
        if i:
            at = min(now, at + timedelta(days=rng.uniform(0.5, 12)))
        changes.append(
            StageChange(
                organization_id=lead.organization_id,
                lead_id=lead.pk,
                from_stage=path[i - 1] if i else "",
                to_stage=stage,
                changed_at=at,
                rule="demo history",
                reason="",
            )
        )
    depth = len(path)
    mix = EVENT_MIX["hot" if depth >= 3 else "warm" if depth == 2 else "cold"]
    kinds, weights = zip(*mix, strict=True)
    span = max((now - lead.created_at).total_seconds(), 60)
    events = []
    for i in range(rng.randint(1, 2 + depth * 2)):
        kind = rng.choices(kinds, weights)[0]
        url = "/pricing" if kind == "pricing_view" else rng.choice(PAGES)
        events.append(
            ActivityEvent(
                organization_id=lead.organization_id,
                lead_id=lead.pk,
                client_event_id=f"demo-{lead.pk}-{i}",
                event_type=kind,
                occurred_at=lead.created_at + timedelta(seconds=rng.uniform(0, span)),
                received_at=now,
                properties={"url": f"https://demo-software.example{url}"},
                campaign_id=lead.first_campaign_id,
            )
        )
    return changes, events


def leads_bulk_create(
    *,
    org: Organization,
    count: int,
    now: datetime | None = None,
    batch_size: int = 5000,
    start: int = 0,
    personas: Mapping[str, Persona] | None = None,
    campaigns: list[Campaign] | None = None,
    owners: list[Membership] | None = None,
    history: bool = False,
) -> int:
    """Write ``count`` generated leads in batches; memory stays flat whatever the count.

    With ``history``, each lead also gets its stage history and activity events (the demo);
    ``campaigns`` and ``owners`` are spread over the leads (sales owns leads from SQL on).
    """
    now = now or timezone.now()
    rng = random.Random(11 + start)
    generated = leads_generate(org=org, count=count, now=now, start=start, personas=personas)
    worked = {Lead.Stage.SQL, Lead.Stage.OPPORTUNITY, Lead.Stage.CUSTOMER}
    written = 0
    while written < count:
        batch = [lead for _, lead in zip(range(batch_size), generated, strict=False)]
        for lead in batch:
            if campaigns and rng.random() < 0.75:
                lead.first_campaign = rng.choice(campaigns)
                lead.latest_campaign = rng.choice(campaigns) if rng.random() < 0.3 else lead.first_campaign
            if owners and lead.lifecycle_stage in worked:
                lead.owner = rng.choice(owners)
        with transaction.atomic():
            Lead.objects.bulk_create(batch, batch_size=batch_size)
            # Every lead has its score row (zero until scored), as lead_create makes it.
            LeadScore.objects.bulk_create(
                [LeadScore(lead_id=lead.pk, organization_id=org.pk) for lead in batch], batch_size=batch_size
            )
            if history:
                changes, events = [], []
                for lead in batch:
                    c, e = _history_and_events(lead, rng, now)
                    changes += c
                    events += e
                StageChange.objects.bulk_create(changes, batch_size=batch_size)
                ActivityEvent.objects.bulk_create(events, batch_size=batch_size)
        written += len(batch)
        reset_queries()  # with DEBUG on, Django keeps every statement: ~1 MB per batch
    return written


# --- Personas, campaigns, definitions and content of a B2B software company ----------------

S = Seniority
PERSONAS = [
    PersonaInput(
        name="Marketing Mary",
        summary="Runs marketing at a growing software company and owns the pipeline target with sales.",
        goals="Hit the quarterly pipeline target.\nProve which campaigns pay back.\n"
        "Stop arguing with sales about lead quality.",
        pain_points="Sales ignores half the MQLs.\nAttribution lives in spreadsheets.\n"
        "No time to build content for every stage.",
        objections="“We already have HubSpot.”\n“My team has no time to migrate.”",
        preferred_channels=[Channel.PAID_SOCIAL, Channel.SEO_CONTENT, Channel.WEBINAR],
        industries=["Software", "SaaS"],
        company_size_min=50,
        company_size_max=1000,
        title_keywords=["marketing", "demand generation", "growth"],
        seniorities=[S.MANAGER, S.DIRECTOR],
        countries=["GB", "DE", "NL", "US"],
        messaging={
            BuyerStage.AWARENESS: (
                "Half of your MQLs die in the handoff, not in the funnel.",
                "61% of marketers send every lead to sales; only 27% are qualified (industry benchmark)\n"
                "Teams with an agreed MQL definition convert 2× more MQLs to SQLs",
            ),
            BuyerStage.CONSIDERATION: (
                "One shared record and one agreed definition: sales works the leads you send.",
                "Definitions signed by both sides, versioned, with the change history\n"
                "Return reasons tell you why a lead came back\n"
                "Live in a week next to your marketing automation",
            ),
            BuyerStage.DECISION: (
                "See which campaigns make revenue, not just leads, within a quarter.",
                "Northwind cut lead response time from 3 days to 2 hours\n"
                "Campaign cost per SQL and per won deal out of the box",
            ),
        },
    ),
    PersonaInput(
        name="Ops Oliver",
        summary="Keeps the revenue tools running at a mid-size company: CRM hygiene, routing, integrations.",
        goals="Fewer tools, fewer manual exports.\nClean data that reporting can trust.\nPass the security review.",
        pain_points="Leads routed by hand from a shared inbox.\nDuplicate records across CRM and automation.",
        objections="“Another integration to maintain.”\n“Where is the data hosted?”",
        preferred_channels=[Channel.WEBINAR, Channel.EMAIL, Channel.PARTNER],
        industries=["Software", "Manufacturing", "Logistics", "Financial services"],
        company_size_min=200,
        company_size_max=2000,
        title_keywords=["operations", "IT", "RevOps"],
        seniorities=[S.MANAGER, S.DIRECTOR],
        countries=["GB", "DE", "NL", "FR", "US"],
        messaging={
            BuyerStage.AWARENESS: (
                "Every manual lead export is a lead someone forgot.",
                "Routing rules replace the shared inbox\nDuplicates caught on import, case-insensitively",
            ),
            BuyerStage.CONSIDERATION: (
                "Connects to the CRM you have; nothing to rebuild.",
                "REST API and webhooks, documented\nSalesforce, HubSpot and Pipedrive integration guides\n"
                "EU hosting and SSO",
            ),
            BuyerStage.DECISION: (
                "Live in 30 days with a plan your team can follow.",
                "Security and compliance FAQ (GDPR, SOC 2)\nNamed implementation manager",
            ),
        },
    ),
    PersonaInput(
        name="Founder Fiona",
        summary="Founder or CEO of a small startup who still sells herself and is hiring the first marketer.",
        goals="Find a repeatable sales motion.\nHire the first rep without losing leads.",
        pain_points="Leads live in a spreadsheet and her inbox.\nNo budget for an enterprise suite.",
        objections="“Too early for us.”\n“Can't I do this in a spreadsheet?”",
        preferred_channels=[Channel.PAID_SEARCH, Channel.ORGANIC_SOCIAL, Channel.REFERRAL],
        industries=["Software", "SaaS"],
        company_size_min=1,
        company_size_max=50,
        title_keywords=["founder", "co-founder", "CEO"],
        seniorities=[S.OWNER, S.C_LEVEL],
        countries=["GB", "DE", "NL", "IE", "US"],
        messaging={
            BuyerStage.AWARENESS: (
                "The spreadsheet works until your first sales hire.",
                "Most startups lose leads in the first rep's first month\nSet-up takes an afternoon",
            ),
            BuyerStage.CONSIDERATION: (
                "Start free; grow into handoffs and SLAs when you hire.",
                "Free trial with your own data\nImport from a spreadsheet in minutes",
            ),
            BuyerStage.DECISION: (
                "Priced per seat, monthly: no annual lock-in.",
                "Cancel any time and export everything\nFounder-friendly onboarding call",
            ),
        },
    ),
    PersonaInput(
        name="Enterprise Erik",
        summary="VP or C-level at a large company who sponsors revenue alignment across regions.",
        goals="One funnel and one forecast across regions.\nA board-ready view of marketing ROI.",
        pain_points="Every region defines an MQL differently.\nShadow spreadsheets undermine the forecast.",
        objections="“We are building this in-house.”\n“Procurement takes nine months.”",
        preferred_channels=[Channel.EVENT, Channel.EMAIL, Channel.PARTNER],
        industries=["Software", "Financial services", "Telecommunications", "Manufacturing"],
        company_size_min=1000,
        title_keywords=["VP", "Chief", "CTO", "CFO", "Director"],
        seniorities=[S.VP, S.C_LEVEL, S.DIRECTOR],
        countries=["GB", "DE", "NL", "FR", "SE", "US"],
        messaging={
            BuyerStage.AWARENESS: (
                "Regions that disagree on an MQL cannot agree on a forecast.",
                "Enterprises with one funnel definition forecast within 5%\nAlignment is a process, not a tool",
            ),
            BuyerStage.CONSIDERATION: (
                "One agreed definition, signed by sales and marketing, for every region.",
                "Versioned definitions with sign-off by both sides\nRole-based access per organisation\n"
                "API for your data warehouse",
            ),
            BuyerStage.DECISION: (
                "Lower total cost than building in-house, live this quarter.",
                "Contoso aligned 400 sellers and marketers on one funnel\nTCO comparison vs. in-house build",
            ),
        },
    ),
]


@dataclass(frozen=True)
class DemoCampaign:
    name: str
    channel: str
    persona: str | None
    started: int  # days ago
    ended: int | None  # days ago; None while it runs
    budget: int
    actual_cost: int
    utm: tuple[str, str, str]  # source, medium, campaign


CAMPAIGNS = [
    DemoCampaign(
        "SaaS Marketing Benchmark 2025",
        Channel.PAID_SOCIAL,
        "Marketing Mary",
        started=170,
        ended=110,
        budget=12000,
        actual_cost=11350,
        utm=("linkedin", "paid_social", "saas-benchmark-2025"),
    ),
    DemoCampaign(
        "Ops automation webinar series",
        Channel.WEBINAR,
        "Ops Oliver",
        started=150,
        ended=90,
        budget=6000,
        actual_cost=6480,
        utm=("webinar", "email", "ops-automation-webinars"),
    ),
    DemoCampaign(
        "Founders' free-trial push",
        Channel.PAID_SEARCH,
        "Founder Fiona",
        started=120,
        ended=30,
        budget=15000,
        actual_cost=13900,
        utm=("google", "cpc", "founder-free-trial"),
    ),
    DemoCampaign(
        "Enterprise roundtable London",
        Channel.EVENT,
        "Enterprise Erik",
        started=75,
        ended=74,
        budget=20000,
        actual_cost=21750,
        utm=("event", "offline", "enterprise-roundtable-london"),
    ),
    DemoCampaign(
        "Monthly product newsletter",
        Channel.EMAIL,
        None,
        started=180,
        ended=None,
        budget=1800,
        actual_cost=1200,
        utm=("newsletter", "email", "product-newsletter"),
    ),
    DemoCampaign(
        "Contoso co-marketing",
        Channel.PARTNER,
        "Ops Oliver",
        started=60,
        ended=None,
        budget=5000,
        actual_cost=2100,
        utm=("contoso", "referral", "contoso-comarketing"),
    ),
]

T = ContentAsset.Type
A, C, D = BuyerStage.AWARENESS, BuyerStage.CONSIDERATION, BuyerStage.DECISION
MARY, OLIVER, FIONA, ERIK = "Marketing Mary", "Ops Oliver", "Founder Fiona", "Enterprise Erik"
BENCHMARK, WEBINARS, TRIAL = (
    "SaaS Marketing Benchmark 2025",
    "Ops automation webinar series",
    "Founders' free-trial push",
)
ROUNDTABLE, NEWSLETTER, CONTOSO = "Enterprise roundtable London", "Monthly product newsletter", "Contoso co-marketing"
# title, type, buyer stage, personas, campaign, added (days ago). Founder Fiona × decision and
# Enterprise Erik × awareness are left empty on purpose: the content matrix shows them as gaps.
# fmt: off
ASSETS = [
    ("The 2025 SaaS Marketing Benchmark Report", T.INDUSTRY_REPORT, A, [MARY, FIONA], BENCHMARK, 160),
    ("7 signs your MQLs are not what sales thinks they are", T.BLOG_POST, A, [MARY], None, 140),
    ("How to build a lead scoring model sales trusts", T.EBOOK, C, [MARY], BENCHMARK, 130),
    ("Attribution without the spreadsheet: a buyer's guide", T.WHITE_PAPER, C, [MARY, ERIK], None, 95),
    ("How Northwind cut lead response time from 3 days to 2 hours", T.CASE_STUDY, D, [MARY, OLIVER], None, 80),
    ("ROI calculator walkthrough", T.PRODUCT_VIDEO, D, [MARY], None, 45),
    ("Why CRM data decays, and what operations can do about it", T.BLOG_POST, A, [OLIVER], None, 150),
    ("Automating lead routing (webinar recording)", T.WEBINAR, C, [OLIVER], WEBINARS, 120),
    ("Integration guide: Salesforce, HubSpot and Pipedrive", T.USER_GUIDE, C, [OLIVER], None, 100),
    ("Security and compliance FAQ (GDPR, SOC 2)", T.USER_GUIDE, D, [OLIVER, ERIK], None, 70),
    ("Implementation plan: live in 30 days", T.WHITE_PAPER, D, [OLIVER], CONTOSO, 40),
    ("From spreadsheet to pipeline: a founder's first sales process", T.EBOOK, A, [FIONA], TRIAL, 115),
    ("Founder-led sales: when to hire your first rep", T.BLOG_POST, A, [FIONA], None, 90),
    ("A 5-minute product tour for founders", T.PRODUCT_VIDEO, C, [FIONA], TRIAL, 85),
    ("Free-trial nurture #2: your first campaign in 10 minutes", T.NURTURE_EMAIL, C, [FIONA], TRIAL, 60),
    ("Revenue alignment across regions: executive briefing", T.WHITE_PAPER, C, [ERIK], ROUNDTABLE, 76),
    ("Enterprise roundtable London: the highlights", T.WEBINAR, C, [ERIK], ROUNDTABLE, 72),
    ("How Contoso aligned 400 sellers and marketers on one funnel", T.CASE_STUDY, D, [ERIK], CONTOSO, 50),
    ("Total cost of ownership vs. building in-house", T.WHITE_PAPER, D, [ERIK], None, 35),
    ("Product overview: one shared record for sales and marketing", T.PRODUCT_VIDEO, A, [], None, 170),
    ("What's new this month (product newsletter)", T.NURTURE_EMAIL, A, [], NEWSLETTER, 20),
    ("Pricing and packaging FAQ", T.USER_GUIDE, D, [], None, 25),
]
# fmt: on

R = ContentRequest.Status


@dataclass(frozen=True)
class DemoRequest:
    requester: str
    question: str
    persona: str | None
    buyer_stage: str
    urgency: str
    filed: int  # days ago
    moves: tuple[tuple[str, int], ...] = ()  # (status, days ago), made by the marketer
    # The asset that delivers it: an existing title, or (title, type) of one made for it.
    delivered: str | tuple[str, str] | None = None


# One request in every status; the one in progress is past its turnaround (overdue).
CONTENT_REQUESTS = [
    DemoRequest(
        "rep@demo.test",
        "Prospects ask whether we integrate with Pipedrive, not only Salesforce.",
        OLIVER,
        C,
        "normal",
        filed=1,
    ),
    DemoRequest(
        "rep2@demo.test",
        "Founders keep asking what happens to their data if they cancel the trial.",
        FIONA,
        D,
        "high",
        filed=3,
    ),
    DemoRequest(
        "rep@demo.test",
        "Enterprise buyers want a reference customer in financial services.",
        ERIK,
        D,
        "high",
        filed=6,
        moves=((R.ACCEPTED, 4),),
    ),
    DemoRequest(
        "rep2@demo.test",
        "Marketing heads ask how our MQL scoring compares with HubSpot's lead scoring.",
        MARY,
        C,
        "normal",
        filed=24,
        moves=((R.ACCEPTED, 22), (R.IN_PROGRESS, 20)),
    ),
    DemoRequest(
        "rep@demo.test",
        "How do you handle GDPR consent for leads from the EU?",
        MARY,
        C,
        "high",
        filed=40,
        moves=((R.ACCEPTED, 39), (R.IN_PROGRESS, 36), (R.DELIVERED, 30)),
        delivered=("GDPR consent for EU leads: how we handle it", T.BLOG_POST),
    ),
    DemoRequest(
        "rep2@demo.test",
        "Ops teams want a side-by-side of our lead handoff with HubSpot's.",
        OLIVER,
        D,
        "normal",
        filed=20,
        moves=((R.ACCEPTED, 18), (R.DELIVERED, 12)),
        delivered=("Lead handoff compared: Smarketing and HubSpot", T.WHITE_PAPER),
    ),
    DemoRequest(
        "rep2@demo.test",
        "Procurement asks where our data is hosted and who our sub-processors are.",
        ERIK,
        D,
        "high",
        filed=50,
        moves=((R.ACCEPTED, 49), (R.DELIVERED, 47)),
        delivered="Security and compliance FAQ (GDPR, SOC 2)",
    ),
    DemoRequest(
        "rep@demo.test",
        "Could marketing translate the whole website into German?",
        None,
        A,
        "low",
        filed=15,
        moves=((R.DECLINED, 13),),
    ),
]
DECLINE_REASON = (
    "Website localisation is a web-team project planned for next quarter, not a content request. "
    "The German benchmark report and product tour are already in the library."
)

V2_WORDING = {
    "mql": "A lead that fits a persona, reached the agreed score, and engaged in the last 30 days.",
    "stage-nurture": "Returned or recycled to marketing with a reason; re-scored after 60 days.",
    "return-not_ready_nurture": "Right fit, wrong time: no project or budget in the next two quarters.",
}


def _resource_url(title: str) -> str:
    slug = "".join(c if c.isalnum() else "-" for c in _ascii(title).lower())
    return "https://demo-software.example/resources/" + "-".join(filter(None, slug.split("-")))


def _days_ago(now: datetime, days: int) -> datetime:
    return now - timedelta(days=days)


def _personas_seed(*, org: Organization, author: Membership, now: datetime) -> dict[str, Persona]:
    personas = {}
    for data in PERSONAS:
        # The service cleans its input in place: give it a copy, so the module constant stays as written.
        persona = personas_services.persona_create(org=org, data=replace(data), actor=author, now=_days_ago(now, 190))
        personas[persona.name] = persona
    return personas


def _campaigns_seed(
    *, org: Organization, owner: Membership, personas: Mapping[str, Persona], now: datetime
) -> dict[str, Campaign]:
    campaigns = {}
    for c in CAMPAIGNS:
        source, medium, utm_campaign = c.utm
        campaigns[c.name] = Campaign.objects.create(
            organization=org,
            name=c.name,
            channel=c.channel,
            starts_on=_days_ago(now, c.started).date(),
            ends_on=_days_ago(now, c.ended).date() if c.ended is not None else None,
            budget=Decimal(c.budget),
            actual_cost=Decimal(c.actual_cost),
            utm_source=source,
            utm_medium=medium,
            utm_campaign=utm_campaign,
            target_persona=personas[c.persona] if c.persona else None,
            owner=owner,
            created_at=_days_ago(now, c.started + 7),  # planned a week before it started
        )
    return campaigns


def _definitions_seed(*, sales_manager: Membership, marketing_manager: Membership, now: datetime) -> None:
    """v1 agreed about five months ago; v2 (stricter MQL) agreed last month and in force now."""
    s = personas_services
    v1 = s.definitions_propose(
        proposer=sales_manager,
        data=DefinitionsInput(
            terms=default_terms(),
            mql_threshold=60,
            mql_min_fit=20,
            sql_criteria="Need, authority and timing confirmed in a first call.",
            summary="First agreed definitions of the funnel.",
        ),
        now=_days_ago(now, 150),
    )
    s.definitions_sign(version=v1, signer=sales_manager, now=_days_ago(now, 150))
    s.definitions_sign(version=v1, signer=marketing_manager, now=_days_ago(now, 148))
    terms = [{**t, "wording": V2_WORDING.get(t["key"], t["wording"])} for t in default_terms()]
    v2 = s.definitions_propose(
        proposer=marketing_manager,
        data=DefinitionsInput(
            terms=terms,
            mql_threshold=70,
            mql_min_fit=25,
            sql_criteria="Need, authority and timing confirmed in a first call; budget range known.",
            summary="Stricter MQL: higher threshold and recent engagement; nurture leads re-scored after 60 days.",
        ),
        now=_days_ago(now, 30),
    )
    s.definitions_sign(version=v2, signer=marketing_manager, now=_days_ago(now, 30))
    s.definitions_sign(version=v2, signer=sales_manager, now=_days_ago(now, 28))


def _asset_create(
    *,
    org: Organization,
    owner: Membership,
    title: str,
    asset_type: str,
    buyer_stage: str,
    personas: list[Persona],
    campaign: Campaign | None,
    added: datetime,
) -> ContentAsset:
    data = AssetInput(
        title=title,
        asset_type=asset_type,
        buyer_stage=buyer_stage,
        url=_resource_url(title),
        personas=personas,
        campaign=campaign,
    )
    return personas_services.asset_save(org=org, data=data, owner=owner, now=added)


def _content_seed(
    *,
    org: Organization,
    owners: list[Membership],
    personas: Mapping[str, Persona],
    campaigns: Mapping[str, Campaign],
    now: datetime,
) -> dict[str, ContentAsset]:
    assets = {}
    for i, (title, asset_type, stage, names, campaign, days) in enumerate(ASSETS):
        assets[title] = _asset_create(
            org=org,
            owner=owners[i % len(owners)],
            title=title,
            asset_type=asset_type,
            buyer_stage=stage,
            personas=[personas[n] for n in names],
            campaign=campaigns[campaign] if campaign else None,
            added=_days_ago(now, days),
        )
    return assets


def _content_requests_seed(
    *,
    org: Organization,
    members: Mapping[str, Membership],
    marketer: Membership,
    personas: Mapping[str, Persona],
    assets: Mapping[str, ContentAsset],
    now: datetime,
) -> None:
    s = personas_services
    for r in CONTENT_REQUESTS:
        persona = personas[r.persona] if r.persona else None
        request = s.content_request_create(
            requester=members[r.requester],
            question=r.question,
            persona=persona,
            buyer_stage=r.buyer_stage,
            urgency=r.urgency,
            now=_days_ago(now, r.filed),
        )
        for status, days in r.moves:
            asset = None
            if status == R.DELIVERED and isinstance(r.delivered, tuple):  # marketing made an asset for it
                title, asset_type = r.delivered
                asset = _asset_create(
                    org=org,
                    owner=marketer,
                    title=title,
                    asset_type=asset_type,
                    buyer_stage=r.buyer_stage,
                    personas=[persona] if persona else [],
                    campaign=None,
                    added=_days_ago(now, days),
                )
            elif status == R.DELIVERED:
                asset = assets[r.delivered]
            request = s.content_request_transition(
                request=request,
                to=status,
                actor=marketer,
                asset=asset,
                reason=DECLINE_REASON if status == R.DECLINED else "",
                now=_days_ago(now, days),
                email=False,  # history: the demo's people get in-app notifications only
            )


# Open handoffs a demo rep takes at most; the sales manager (fallback owner) gets the rest.
DEMO_REP_CAPACITY = 150


def _routing_seed(*, org: Organization, reps: list[Membership], fallback: Membership, now: datetime) -> int:
    """A "Sales" team of both reps taking every lead, the sales manager as fallback owner, and a
    handoff for every MQL (set up after the initial scoring, so the demo's people get in-app
    notifications only, one per person, and no email)."""
    team = Team.objects.create(organization=org, name="Sales", created_at=now)
    TeamMember.objects.bulk_create(TeamMember(team=team, membership=rep, capacity=DEMO_REP_CAPACITY) for rep in reps)
    RoutingRule.objects.create(organization=org, position=1, name="Every lead to Sales", team=team, created_at=now)
    org.routing_fallback = fallback
    org.save(update_fields=["routing_fallback"])
    mqls = Lead.objects.for_org(org).filter(lifecycle_stage=Lead.Stage.MQL).exclude(handoffs__status__in=Handoff.OPEN)
    with transaction.atomic():
        return len(handoffs_create_bulk(org=org, lead_ids=mqls.values_list("pk", flat=True), now=now, email=False))


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
        members = {}
        for email, name, role, side in DEMO_USERS:
            user, _ = User.objects.get_or_create(email=email, defaults={"full_name": name, "password": password})
            members[email] = Membership.objects.create(
                organization=org, user=user, role=role, side=side, created_at=now - timedelta(days=200)
            )
        marketer, marketing_manager = members["marketer@demo.test"], members["mkt-manager@demo.test"]
        personas = _personas_seed(org=org, author=marketer, now=now)
        campaigns = _campaigns_seed(org=org, owner=marketer, personas=personas, now=now)
        _definitions_seed(sales_manager=members["manager@demo.test"], marketing_manager=marketing_manager, now=now)
        assets = _content_seed(
            org=org, owners=[marketer, marketing_manager], personas=personas, campaigns=campaigns, now=now
        )
        _content_requests_seed(org=org, members=members, marketer=marketer, personas=personas, assets=assets, now=now)
    reps = [members["rep@demo.test"], members["rep2@demo.test"]]
    written = leads_bulk_create(
        org=org, count=leads, now=now, personas=personas, campaigns=list(campaigns.values()), owners=reps, history=True
    )
    # Score everyone under the default model, as if it had been running all along.
    rescore_organization(model=scoring_model_ensure_default(org=org, now=now), now=now)
    _routing_seed(org=org, reps=reps, fallback=members["manager@demo.test"], now=now)
    return SeedResult(org, [u[0] for u in DEMO_USERS], written, True)
