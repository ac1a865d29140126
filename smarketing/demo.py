"""Demo data: organisation ``demo`` with one user per role and realistic records.

Grows with every issue (personas, campaigns, handoffs, deals …) so that every page and
dashboard has something true to show. Leads are written in streamed batches, so the same
code seeds 10,000 leads for a demo or 1,000,000 for a benchmark in constant memory.
"""

from __future__ import annotations

import random
import unicodedata
from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.contrib.auth.hashers import make_password
from django.db import connection, reset_queries, transaction
from django.db.models import Max
from django.utils import timezone

from leads.bulk_sql import update_from_values
from leads.campaigns import lead_campaign_times_refresh
from leads.handoffs import handoffs_create_bulk
from leads.models import (
    ActivityEvent,
    BuyerStage,
    Campaign,
    Channel,
    Handoff,
    Lead,
    LeadScore,
    LostReason,
    Opportunity,
    ReturnReason,
    RoutingRule,
    ScoringModel,
    StageChange,
    Team,
    TeamMember,
    Touch,
)
from leads.rescoring import rescore_organization
from leads.scoring_models import scoring_model_ensure_default
from leads.services import active_scoring_model
from personas import services as personas_services
from personas.glossary import default_terms
from personas.models import ContentAsset, ContentRequest, DefinitionVersion, Persona, Seniority
from personas.services import AssetInput, DefinitionsInput, PersonaInput
from reporting.attribution import opportunity_credit
from sla.agreements import response_hours_for
from smarketing.accounts.models import Membership, Organization, User
from smarketing.business_time import calendar_for

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
                if campaigns:  # when their campaigns touched them, as ingestion would have kept it
                    lead_campaign_times_refresh(
                        Lead.objects.filter(pk__in=[lead.pk for lead in batch if lead.first_campaign_id])
                    )
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


# --- Sales follow-up: handoffs in every state, touches, deals won and lost (issue 5) -------
#
# Written in bulk (a few thousand rows at 10,000 leads) but as the services would have left
# them: the same statuses, times, stage history with its actors and reasons, first touches
# stopping the response clock, and revenue credited by ``opportunity_credit`` itself.
# Deal-won and handoff notifications are not written for history.

SALES_CHUNK = 1000  # leads whose story is written at once
# What became of the MQLs routed by ``_routing_seed`` (weights): still open (see
# PENDING_STATES), breached days ago, or reassigned from an earlier rep who let them breach.
MQL_FATES = {"pending": 80, "breached": 12, "reassigned": 8}
# Where an open handoff is in its response window (weights); past it, it was breached lately.
PENDING_STATES = {"": 65, "at-risk": 15, "overdue": 20}
PENDING_TOUCHED = 0.3  # of handoffs still in their window: the rep already tried once
NURTURE_LOST_DEAL = 0.45  # of nurture leads: a lost deal sent them back (the rest were returned)
DISQUALIFIED_NOT_A_FIT = 0.3  # of disqualified leads: returned by sales as not a fit
REASSIGNED_BEFORE_ACCEPT = 0.1  # of accepted handoffs: an earlier rep let it breach
UPSELL_SHARE = 0.4  # of customers won long enough ago: an upsell or renewal after the first deal
RETURN_REASONS = {
    ReturnReason.NOT_READY: 40,
    ReturnReason.BAD_CONTACT_DATA: 15,
    ReturnReason.COMPETITOR: 12,
    ReturnReason.DUPLICATE: 10,
    ReturnReason.EXISTING_CUSTOMER: 8,
    ReturnReason.OTHER: 15,
}
RETURN_NOTES = {
    ReturnReason.NOT_READY: ["Budget next fiscal year.", "Evaluating again after their reorg.", ""],
    ReturnReason.BAD_CONTACT_DATA: ["Number disconnected, email bounces.", ""],
    ReturnReason.COMPETITOR: ["Works for a competitor; downloaded the benchmark.", ""],
    ReturnReason.EXISTING_CUSTOMER: ["Already a customer through their parent company.", ""],
    ReturnReason.OTHER: ["Student writing a thesis on lead scoring.", "Journalist researching an article."],
}
LOST_REASONS = {
    LostReason.PRICE: 25,
    LostReason.COMPETITOR: 22,
    LostReason.NO_DECISION: 20,
    LostReason.TIMING: 18,
    LostReason.PRODUCT_FIT: 10,
    LostReason.OTHER: 5,
}
LOST_NOTES = {
    LostReason.PRICE: ["Went with the cheaper plan of a competitor.", ""],
    LostReason.COMPETITOR: ["Chose HubSpot's sales hub.", "Stayed with Salesforce add-ons.", ""],
    LostReason.NO_DECISION: ["Champion left the company.", ""],
    LostReason.TIMING: ["Hiring freeze until Q3.", ""],
    LostReason.PRODUCT_FIT: ["Needs an on-premise install.", ""],
    LostReason.OTHER: ["Acquired; the parent company decides.", "Project cancelled by the board."],
}
DEAL_AMOUNTS = [4800, 7200, 9600, 12000, 14400, 18000, 24000, 30000, 36000, 48000, 60000, 84000]
TOUCH_NOTES = [
    "Asked for a call with their head of sales next week.",
    "Uses spreadsheets today; wants routing and the SLA report.",
    "Interested in the HubSpot integration.",
    "Decision in this quarter; procurement involved.",
]
FIRST_ATTEMPTS = {  # kind: [(outcome, weight)]
    Touch.Kind.CALL: [("connected", 5), ("left_voicemail", 3), ("no_answer", 2), ("meeting_booked", 2)],
    Touch.Kind.EMAIL: [("replied", 5), ("no_answer", 3)],
    Touch.Kind.LINKEDIN: [("replied", 3), ("no_answer", 2)],
}


def _pick(rng: random.Random, weights: Mapping) -> Any:
    return rng.choices(list(weights), list(weights.values()))[0]


@dataclass
class _Sales:
    """What writing the sales history needs, looked up once."""

    org: Organization
    now: datetime
    rng: random.Random
    reps: list[Membership]
    everyone: dict[int, Membership]  # who takes handoffs: the reps and the fallback manager, by id
    rule: RoutingRule | None
    model: ScoringModel | None
    versions: list[DefinitionVersion]
    assets: list[ContentAsset]
    zone: ZoneInfo
    hours: dict[tuple[int, date], int] = field(default_factory=dict)

    def times(self, start: datetime, rep_id: int) -> tuple[datetime, datetime]:
        """When a handoff to ``rep_id`` made at ``start`` is due and at risk, as ``handoff_due_at``
        and ``handoff_at_risk_at`` say, with the window in force read once per rep and day
        rather than once per handoff (history jumps between days)."""
        key = (rep_id, timezone.localdate(start))  # the day response_hours_for reads agreements for
        if key not in self.hours:  # everyone's at once: the agreements in force are read once a day
            for member_id in {rep_id, *self.everyone}:
                self.hours[member_id, key[1]] = response_hours_for(org=self.org, rep_id=member_id, at=start)
        calendar, hours = calendar_for(self.org), self.hours[key]
        return calendar.add_hours(start, hours), calendar.add_hours(start, hours * self.at_risk_share)

    @property
    def at_risk_share(self) -> float:
        return self.org.handoff_at_risk_percent / 100

    def deadlines(self, handoff: Handoff, left_pending: datetime | None) -> None:
        """What the deadline checks would have recorded on ``handoff`` by now, given when it left
        the pending state (accepted, returned, reassigned; None: it has not): the at-risk
        warning if still untouched then, and the breach if still untouched at its due time."""
        first = handoff.first_touch_at
        end = min(t for t in (left_pending, first, self.now) if t is not None)
        if handoff.at_risk_at <= end and handoff.at_risk_at < handoff.due_at:  # as the sweep's lte
            handoff.at_risk_notified_at = handoff.at_risk_at
        if handoff.due_at <= end:
            handoff.breached_at = handoff.due_at
            if handoff.status == Handoff.Status.PENDING:
                handoff.status = Handoff.Status.BREACHED

    def definitions(self, at: datetime) -> DefinitionVersion | None:
        return next(
            (v for v in self.versions if v.activated_at <= at and (v.superseded_at is None or v.superseded_at > at)),
            None,
        )

    def handoff(self, lead: Lead, rep: Membership, created: datetime, **fields) -> Handoff:
        routing_log = [{"step": "assign", "rep": rep.pk, "name": str(rep.user), "why": "demo history"}]
        if self.rule is not None:
            routing_log.insert(0, {"step": "rule", "rule": self.rule.pk, "name": self.rule.name, "matched": True})
        due, at_risk = self.times(created, rep.pk)
        return Handoff(
            organization=self.org,
            lead=lead,
            rep=rep,
            created_at=created,
            due_at=due,
            at_risk_at=at_risk,
            routing_rule=self.rule,
            routing_log=routing_log,
            definitions_version=self.definitions(created),
            scoring_model=self.model,
            **fields,
        )

    def touch(self, handoff: Handoff, at: datetime, kind: str, outcome: str = "", **fields) -> Touch:
        return Touch(
            organization=self.org,
            lead=handoff.lead,
            handoff=handoff,
            rep=handoff.rep,
            kind=kind,
            outcome=outcome,
            occurred_at=at,
            created_at=at,
            **fields,
        )

    def first_attempt(self, handoff: Handoff, at: datetime) -> Touch:
        kind = _pick(self.rng, {Touch.Kind.CALL: 6, Touch.Kind.EMAIL: 3, Touch.Kind.LINKEDIN: 1})
        return self.touch(handoff, at, kind, _pick(self.rng, dict(FIRST_ATTEMPTS[kind])))

    def follow_up(self, handoff: Handoff, at: datetime) -> Touch:
        """A later touch: a meeting, an email sharing library content, a call or a note."""
        rng = self.rng
        kind = _pick(rng, {Touch.Kind.MEETING: 3, Touch.Kind.EMAIL: 4, Touch.Kind.CALL: 3, Touch.Kind.NOTE: 1})
        if kind == Touch.Kind.NOTE:
            return self.touch(handoff, at, kind, note=rng.choice(TOUCH_NOTES))
        if kind == Touch.Kind.EMAIL:
            content = rng.choice(self.assets) if self.assets and rng.random() < 0.6 else None
            return self.touch(handoff, at, kind, _pick(rng, {"replied": 3, "no_answer": 2}), content=content)
        outcome = "connected" if kind == Touch.Kind.MEETING else _pick(rng, {"connected": 3, "meeting_booked": 2})
        return self.touch(handoff, at, kind, outcome, note=rng.choice(TOUCH_NOTES) if rng.random() < 0.3 else "")

    def change(self, lead: Lead, frm: str, to: str, at: datetime, actor: Membership | None, reason: str):
        return StageChange(
            organization=self.org,
            lead=lead,
            from_stage=frm,
            to_stage=to,
            changed_at=at,
            actor=actor,
            rule="" if actor else "demo history",
            reason=reason,
            total_score=lead.total_score,
            definitions_version=self.definitions(at),
            scoring_model=self.model,
        )

    def local_date(self, at: datetime) -> date:
        return at.astimezone(self.zone).date()


def _squeeze(start: datetime, gaps: list[timedelta], until: datetime) -> list[datetime]:
    """The moments ``start + gaps[0]``, ``+ gaps[1]`` … shrunk alike to end by ``until``, if they would not."""
    total = sum(gaps, timedelta())
    room = max(until - start, timedelta())
    scale = min(1.0, room / total) if total else 1.0
    moments, at = [], start
    for gap in gaps:
        at += gap * scale
        moments.append(at)
    return moments


def _hours(rng: random.Random, low: float, high: float) -> timedelta:
    return timedelta(hours=rng.uniform(low, high))


@dataclass
class _Written:
    """Rows of sales history to write together."""

    handoffs: list[Handoff] = field(default_factory=list)
    before: list[Handoff] = field(default_factory=list)  # reassigned predecessors, written after
    touches: list[Touch] = field(default_factory=list)
    deals: list[Opportunity] = field(default_factory=list)
    changes: list[StageChange] = field(default_factory=list)
    owners: dict[int, list[int]] = field(default_factory=dict)  # rep id → leads that rep now owns

    def write(self) -> None:
        Handoff.objects.bulk_create(self.handoffs)
        Handoff.objects.bulk_create(self.before)
        Touch.objects.bulk_create(self.touches)
        Opportunity.objects.bulk_create(self.deals)
        StageChange.objects.bulk_create(self.changes)
        for rep_id, lead_ids in self.owners.items():
            Lead.objects.filter(pk__in=lead_ids).update(owner_id=rep_id)
        for deal in self.deals:
            if deal.status == Opportunity.Status.WON:
                opportunity_credit(deal)


def _sales_story(s: _Sales, out: _Written, lead: Lead, mql_at: datetime, story: str) -> None:
    """One lead's path through sales since it became MQL at ``mql_at``, ending at its current stage.

    ``story``: "sql", "opportunity", "customer", "lost" (a lost deal sent it to nurture),
    "returned" (to nurture) or "not_a_fit" (returned, disqualified).
    """
    rng, now = s.rng, s.now
    rep = s.everyone.get(lead.owner_id) or rng.choice(s.reps)
    start, old = mql_at, None
    if story in ("sql", "opportunity", "customer", "lost") and rng.random() < REASSIGNED_BEFORE_ACCEPT:
        # Routed to another rep first, who let it breach; the manager gave it to this one.
        other = rng.choice([m for m in s.everyone.values() if m.pk != rep.pk])
        old = s.handoff(lead, other, start, status=Handoff.Status.REASSIGNED)
        start = old.due_at + _hours(rng, 0.5, 6)
        if start < now:
            s.deadlines(old, left_pending=start)
            out.before.append(old)
        else:  # too recent to have breached
            start, old = mql_at, None
    handoff = s.handoff(lead, rep, start)
    out.handoffs.append(handoff)
    if old is not None:
        old.reassigned_to = handoff
    window = handoff.due_at - start
    if story in ("returned", "not_a_fit"):
        reason = ReturnReason.NOT_A_FIT if story == "not_a_fit" else _pick(rng, RETURN_REASONS)
        touched = reason != ReturnReason.DUPLICATE and rng.random() < 0.85
        first, returned = _squeeze(start, [window * rng.uniform(0.05, 0.9), _hours(rng, 0.2, 20)], now)
        if touched:
            attempt = s.first_attempt(handoff, first)
            if reason == ReturnReason.BAD_CONTACT_DATA:
                attempt.kind, attempt.outcome = Touch.Kind.CALL, Touch.Outcome.WRONG_CONTACT
            elif reason in (ReturnReason.NOT_READY, ReturnReason.NOT_A_FIT):
                attempt.outcome = rng.choice([Touch.Outcome.NOT_INTERESTED, attempt.outcome])
            out.touches.append(attempt)
            handoff.first_touch_at = first
        else:
            returned = min(now, start + window * rng.uniform(0.05, 0.9))
        note = rng.choice(RETURN_NOTES.get(reason, [""]))
        handoff.status, handoff.returned_at = Handoff.Status.RETURNED, returned
        handoff.return_reason, handoff.return_note = reason, note
        s.deadlines(handoff, left_pending=returned)
        to = Lead.Stage.DISQUALIFIED if reason == ReturnReason.NOT_A_FIT else Lead.Stage.NURTURE
        label = ReturnReason(reason).label
        why = f"Returned by sales: {label}" + (f" — {note}" if note else "")
        out.changes.append(s.change(lead, Lead.Stage.MQL, to, returned, rep, why))
        return

    # Accepted: the first attempt well within the window, then accepted after a conversation.
    gaps = [window * rng.uniform(0.03, 0.9), _hours(rng, 0.3, 40)]
    if story != "sql":
        gaps += [timedelta(days=rng.uniform(1, 10))]  # the deal opens
    if story in ("customer", "lost"):
        gaps += [timedelta(days=rng.uniform(7, 60))]  # and closes
    moments = _squeeze(start, gaps, now - timedelta(minutes=30))
    first, accepted = moments[0], moments[1]
    handoff.status, handoff.accepted_at, handoff.first_touch_at = Handoff.Status.ACCEPTED, accepted, first
    s.deadlines(handoff, left_pending=accepted)
    out.touches.append(s.first_attempt(handoff, first))
    out.changes.append(s.change(lead, Lead.Stage.MQL, Lead.Stage.SQL, accepted, rep, "Handoff accepted"))
    if lead.owner_id != rep.pk:
        out.owners.setdefault(rep.pk, []).append(lead.pk)
    end = moments[-1] if story in ("customer", "lost") else now
    for _ in range(rng.randint(0, 3)):  # working the lead: meetings, content shared, calls
        out.touches.append(s.follow_up(handoff, accepted + (end - accepted) * rng.random()))
    if story == "sql":
        return
    opened = moments[2]
    deal = Opportunity(
        organization=s.org,
        lead=lead,
        owner=rep,
        name=f"{lead.company_name or lead.full_name} — New business",
        kind=Opportunity.Kind.NEW_BUSINESS,
        amount=Decimal(rng.choice(DEAL_AMOUNTS)),
        currency=s.org.currency,
        expected_close_date=s.local_date(opened + timedelta(days=rng.uniform(20, 70))),
        stage=rng.choice(s.org.pipeline_stages),
        handoff=handoff,
        created_by=rep,
        created_at=opened,
    )
    out.deals.append(deal)
    out.changes.append(s.change(lead, Lead.Stage.SQL, Lead.Stage.OPPORTUNITY, opened, rep, f"Deal opened: {deal}"))
    if story == "opportunity":
        return
    closed = moments[3]
    deal.closed_at, deal.close_date = closed, s.local_date(closed)
    if story == "lost":
        _lose(s, deal)
        label = LostReason(deal.lost_reason).label
        why = f"Deal lost: {label}" + (f" — {deal.lost_note}" if deal.lost_note else "")
        out.changes.append(s.change(lead, Lead.Stage.OPPORTUNITY, Lead.Stage.NURTURE, closed, rep, why))
        return
    deal.status, deal.stage = Opportunity.Status.WON, s.org.pipeline_stages[-1]
    deal.amount = (deal.amount * Decimal(rng.choice(["0.9", "1", "1", "1.1"]))).quantize(Decimal("1"))
    out.changes.append(s.change(lead, Lead.Stage.OPPORTUNITY, Lead.Stage.CUSTOMER, closed, rep, f"Deal won: {deal}"))
    if rng.random() < UPSELL_SHARE:
        _upsell(s, out, deal)


def _lose(s: _Sales, deal: Opportunity) -> None:
    reason = _pick(s.rng, LOST_REASONS)
    deal.status, deal.lost_reason, deal.lost_note = Opportunity.Status.LOST, reason, s.rng.choice(LOST_NOTES[reason])


def _upsell(s: _Sales, out: _Written, won: Opportunity) -> None:
    """A customer's second deal, some months after the first: won, lost, or still open."""
    rng = s.rng
    kind = _pick(rng, {Opportunity.Kind.UPSELL: 2, Opportunity.Kind.RENEWAL: 1})
    opened = won.closed_at + timedelta(days=rng.uniform(10, 60))
    if opened >= s.now:
        return
    amount = won.amount if kind == Opportunity.Kind.RENEWAL else Decimal(rng.choice(DEAL_AMOUNTS[:5]))
    deal = Opportunity(
        organization=s.org,
        lead=won.lead,
        owner=won.owner,
        name=f"{won.lead.company_name or won.lead.full_name} — {Opportunity.Kind(kind).label}",
        kind=kind,
        amount=amount,
        currency=won.currency,
        expected_close_date=s.local_date(opened + timedelta(days=rng.uniform(20, 50))),
        stage=rng.choice(s.org.pipeline_stages),
        handoff=won.handoff,
        created_by=won.owner,
        created_at=opened,
    )
    out.deals.append(deal)
    out.touches.append(s.follow_up(won.handoff, opened))
    closed = opened + timedelta(days=rng.uniform(10, 40))
    if closed < s.now - timedelta(minutes=30):
        deal.closed_at, deal.close_date = closed, s.local_date(closed)
        if rng.random() < 0.7:
            deal.status, deal.stage = Opportunity.Status.WON, s.org.pipeline_stages[-1]
        else:
            _lose(s, deal)


def _pending_spread(s: _Sales) -> None:
    """Give the MQLs' handoffs (all opened "now" by ``_routing_seed``) a past: most still pending
    at every point of their response window (some at risk, some already tried), some breached
    (lately or days ago, a few touched too late), some reassigned by the manager after an
    earlier rep let them breach. The deadline checks' marks (warned, breached) are set as the
    sweep would have set them."""
    rng, now = s.rng, s.now
    pending = list(
        Handoff.objects.for_org(s.org)
        .filter(status=Handoff.Status.PENDING)
        .select_related("lead", "rep__user")
        .order_by("pk")
    )
    mql_at = dict(
        StageChange.objects.for_org(s.org)
        .filter(lead__in=[h.lead_id for h in pending], to_stage=Lead.Stage.MQL)
        .values_list("lead_id")
        .annotate(at=Max("changed_at"))
        .order_by()
    )
    # Start times up to three days back, in 10-minute steps, by the state they give a handoff now.
    starts: dict[tuple[int, str], list[datetime]] = defaultdict(list)
    for rep_id in {h.rep_id for h in pending}:
        for step in range(1, 3 * 24 * 6):
            created = now - timedelta(minutes=10 * step)
            due, at_risk = s.times(created, rep_id)
            state = "overdue" if due <= now else "at-risk" if at_risk <= now else ""
            starts[rep_id, state].append(created)
    out = _Written()
    for handoff in pending:
        floor = max(mql_at.get(handoff.lead_id, handoff.lead.created_at), handoff.lead.created_at)
        fate, state = _pick(rng, MQL_FATES), _pick(rng, PENDING_STATES)
        if fate == "breached":  # days ago
            state = ""
            created = max(floor, now - timedelta(days=rng.uniform(1, 12)))
            if s.times(created, handoff.rep_id)[0] < now:
                handoff.created_at = created
                state = "overdue"
        else:
            choices = [c for c in starts[handoff.rep_id, state] if c >= floor]
            if choices:
                handoff.created_at = rng.choice(choices)
            else:
                state = ""
        handoff.due_at, handoff.at_risk_at = s.times(handoff.created_at, handoff.rep_id)
        if state == "overdue" and rng.random() < 0.3:  # the rep tried, too late
            handoff.first_touch_at = min(now, handoff.due_at + _hours(rng, 0.5, 30))
        elif state != "overdue" and rng.random() < PENDING_TOUCHED:
            handoff.first_touch_at = handoff.created_at + (now - handoff.created_at) * rng.uniform(0.1, 0.9)
        if handoff.first_touch_at is not None:
            out.touches.append(s.first_attempt(handoff, handoff.first_touch_at))
        s.deadlines(handoff, left_pending=None)
        if fate == "reassigned" and len(s.everyone) > 1:
            other = rng.choice([m for m in s.everyone.values() if m.pk != handoff.rep_id])
            created = handoff.created_at - _hours(rng, 6, 72)
            if created >= floor and s.times(created, other.pk)[0] <= handoff.created_at:
                old = s.handoff(handoff.lead, other, created, status=Handoff.Status.REASSIGNED)
                s.deadlines(old, left_pending=handoff.created_at)
                old.reassigned_to = handoff
                out.before.append(old)
    # One UPDATE … FROM (VALUES …) a thousand handoffs (``bulk_update``'s CASE per row and column is slow).
    adapt = connection.ops.adapt_datetimefield_value
    times = ("created_at", "due_at", "at_risk_at", "at_risk_notified_at", "breached_at", "first_touch_at")
    for i in range(0, len(pending), 1000):
        update_from_values(
            table="leads_handoff",
            columns=("id", "status", *times),
            kinds=(None, None, *["timestamptz"] * len(times)),
            rows=[(h.pk, h.status, *(adapt(getattr(h, t)) for t in times)) for h in pending[i : i + 1000]],
            assignments=", ".join(f"{t} = v.{t}" for t in ("status", *times)),
        )
    out.write()


def _deals_seed(
    *, org: Organization, reps: list[Membership], fallback: Membership, now: datetime, seed: int = 5
) -> None:
    """Six months of sales follow-up on the demo's leads, true to each lead's lifecycle stage.

    MQLs keep the handoff ``_routing_seed`` opened, given a past (pending, breached,
    reassigned); SQLs were accepted and touched; opportunities have an open deal; customers
    won one (some later an upsell or renewal), its revenue credited to their campaigns;
    nurture leads were returned with a reason or lost a deal; some disqualified leads were
    returned as not a fit. The generated history's moves from MQL on are replaced by the
    ones sales made, with who and why.
    """
    s = _Sales(
        org=org,
        now=now,
        rng=random.Random(seed),
        reps=reps,
        everyone={m.pk: m for m in [*reps, fallback]},
        rule=RoutingRule.objects.for_org(org).order_by("position", "pk").first(),
        model=active_scoring_model(org),
        versions=list(DefinitionVersion.objects.for_org(org).exclude(activated_at=None)),
        assets=list(ContentAsset.objects.for_org(org).order_by("pk")),
        zone=ZoneInfo(org.time_zone),
    )
    with transaction.atomic():
        _pending_spread(s)
    stories = {
        Lead.Stage.SQL: "sql",
        Lead.Stage.OPPORTUNITY: "opportunity",
        Lead.Stage.CUSTOMER: "customer",
        Lead.Stage.NURTURE: "returned",
        Lead.Stage.DISQUALIFIED: "not_a_fit",
    }
    leads = (
        Lead.objects.for_org(org)
        .filter(lifecycle_stage__in=list(stories))
        .select_related("score")
        .only(
            "organization_id",
            "lifecycle_stage",
            "owner_id",
            "created_at",
            "first_name",
            "last_name",
            "company_name",
            "score__total",
            "first_campaign_id",
            "latest_campaign_id",
        )
        .order_by("pk")
    )
    batch: list[Lead] = []
    for lead in leads.iterator(chunk_size=SALES_CHUNK):
        batch.append(lead)
        if len(batch) == SALES_CHUNK:
            _sales_batch(s, batch, stories)
            batch = []
    if batch:
        _sales_batch(s, batch, stories)


@transaction.atomic
def _sales_batch(s: _Sales, leads: list[Lead], stories: Mapping[str, str]) -> None:
    rng = s.rng
    generated = StageChange.objects.filter(lead__in=[lead.pk for lead in leads], rule="demo history")
    # When each lead became MQL, or (not yet through MQL) was disqualified.
    moved = {
        (lead_id, to): at
        for lead_id, to, at in generated.filter(to_stage__in=[Lead.Stage.MQL, Lead.Stage.DISQUALIFIED]).values_list(
            "lead_id", "to_stage", "changed_at"
        )
    }
    out = _Written()
    replaced = []
    for lead in leads:
        story = stories[lead.lifecycle_stage]
        mql_at = moved.get((lead.pk, Lead.Stage.MQL))
        if story == "not_a_fit":
            disqualified_at = moved.get((lead.pk, Lead.Stage.DISQUALIFIED))
            if disqualified_at is None or mql_at is not None or rng.random() >= DISQUALIFIED_NOT_A_FIT:
                continue
            # It was an MQL first: scoring qualified it, sales found it not a fit.
            mql_at = disqualified_at
            out.changes.append(s.change(lead, Lead.Stage.LEAD, Lead.Stage.MQL, mql_at, None, ""))
        elif mql_at is None:
            continue  # not through MQL in the generated history: no handoff to tell of
        elif story == "returned" and rng.random() < NURTURE_LOST_DEAL:
            story = "lost"
        replaced.append(lead.pk)
        _sales_story(s, out, lead, mql_at, story)
    sales_moves = [Lead.Stage.SQL, Lead.Stage.OPPORTUNITY, Lead.Stage.CUSTOMER, Lead.Stage.NURTURE]
    generated.filter(lead__in=replaced, to_stage__in=[*sales_moves, Lead.Stage.DISQUALIFIED]).delete()
    out.write()


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
    _deals_seed(org=org, reps=reps, fallback=members["manager@demo.test"], now=now)
    _sla_seed(org=org, sales=members["manager@demo.test"], marketing=members["mkt-manager@demo.test"], now=now)
    return SeedResult(org, [u[0] for u in DEMO_USERS], written, True)


def _sla_seed(*, org: Organization, sales: Membership, marketing: Membership, now: datetime) -> None:
    """Agreements for the last two months and this one, signed by both sides: two months ago
    met, last month missed (targets set against what the demo's history delivered), this month
    active with targets a little above its pace; and last month's review with notes and actions."""
    from sla.agreements import AgreementInput, agreement_draft, agreement_sign, period_bounds
    from sla.compliance import compliance
    from sla.models import ActionItem, Agreement
    from sla.reviews import _figure, review_generate

    today = timezone.localdate(now)
    this_month = period_bounds(Agreement.Period.MONTH, today)[0]
    last_month = period_bounds(Agreement.Period.MONTH, this_month - timedelta(days=1))[0]
    before = period_bounds(Agreement.Period.MONTH, last_month - timedelta(days=1))[0]
    made = []
    for start, factor in ((before, 0.8), (last_month, 1.4), (this_month, 1.15)):
        signed_on = datetime.combine(start - timedelta(days=3), datetime.min.time(), tzinfo=now.tzinfo)
        agreement = agreement_draft(
            org=org,
            actor=sales,
            data=AgreementInput(
                starts_on=start, revenue_target=Decimal("1"), response_hours=4, mql_target=1, min_acceptance_percent=70
            ),
            now=signed_on,
        )
        agreement_sign(agreement=agreement, actor=marketing, side="marketing", now=signed_on)
        agreement_sign(agreement=agreement, actor=sales, side="sales", now=signed_on + timedelta(hours=2))
        # Targets against what the history delivered: met (0.8), missed (1.4), a stretch (1.15).
        c = compliance(agreement, now=now)
        projected = 1 / c.elapsed if c.elapsed else 1
        mqls, revenue = c.marketing[0].actual * projected, c.revenue.actual * projected
        Agreement.objects.filter(pk=agreement.pk).update(
            mql_target=max(1, round(mqls * factor)),
            revenue_target=Decimal(max(1000, round(revenue * factor, -3))),
        )
        made.append(Agreement.objects.select_related("organization", "team").get(pk=agreement.pk))
    for agreement in made[:2]:  # the period-end check recorded marketing's side
        figures = [_figure(f) for f in compliance(agreement, now=now).marketing]
        Agreement.objects.filter(pk=agreement.pk).update(
            marketing_result={"figures": figures, "recorded_at": now.isoformat()}
        )
    review = review_generate(org=org, day=last_month, now=now)
    review.notes = "Webinar leads convert best; paid social leads are returned as not ready. Fewer, better MQLs."
    review.emailed_at = datetime.combine(this_month, datetime.min.time(), tzinfo=now.tzinfo)
    review.save(update_fields=["notes", "emailed_at"])
    ActionItem.objects.create(
        organization=org,
        review=review,
        text="Move paid social budget to webinars",
        owner=marketing,
        due_on=this_month + timedelta(days=14),
    )
    ActionItem.objects.create(
        organization=org,
        review=review,
        text="Call every new MQL within two hours",
        owner=sales,
        due_on=this_month + timedelta(days=7),
        done_at=now,
    )
