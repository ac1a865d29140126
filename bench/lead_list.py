"""Benchmark: the lead list page (50 rows, the page's filters) and the lead page at 1,000,000 leads.

Target (DESIGN.md): p95 under 50 ms for the list with any filter, and for the lead page.
Run from the repository root with a database name that does not exist yet::

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/smarketing_bench_list \\
        .venv/bin/python bench/lead_list.py --keep

It creates and migrates that database and seeds organisation ``bench-list``: an admin, four
reps, the demo personas, twelve campaigns and ``--leads`` leads written by
``smarketing.demo.leads_bulk_create``; one set-based UPDATE then gives three leads in four an
owner, six in ten a first-touch campaign (one campaign only 1 lead in 2,000) and a total
score of 0–100, and VACUUM ANALYZE refreshes the planner's statistics. ``--reuse`` (with a
database kept by ``--keep``) skips the seed when the organisation already holds the leads.

Each scenario is ``--requests`` GETs (after a warm-up) through Django's test client in this
process, signed in as the admin, with production settings (DEBUG=false, no query log); the
scenarios take turns, one request each, so load from elsewhere falls on all of them alike. One
JSON line per scenario. A list scenario over the target prints its query's EXPLAIN ANALYZE on
stderr (``--explain`` prints every one).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repository root, for bench.common

from bench.common import (
    PLAIN_STATIC,
    PRODUCTION_ENV,
    BenchError,
    latency_figures,
    log,
    measure_in_turns,
    run_on_bench_database,
)

ORG_SLUG = "bench-list"
PASSWORD = "bench-password-0123"
TARGET_MS = 50
CHANNELS = ["email", "paid_search", "paid_social", "webinar", "event", "seo_content", "referral", "partner"]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--leads", type=int, default=1_000_000, help="leads in the organisation (default 1000000)")
    parser.add_argument("--requests", type=int, default=200, help="timed requests per scenario (default 200)")
    parser.add_argument("--warmup", type=int, default=10, help="untimed requests first (default 10)")
    parser.add_argument("--reuse", action="store_true", help="use the database if it exists (a bench database)")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards (for --reuse)")
    parser.add_argument("--explain", action="store_true", help="print EXPLAIN ANALYZE of every list scenario")
    args = parser.parse_args(argv)
    if args.leads < 1 or args.requests < 1 or args.warmup < 0:
        parser.error("--leads and --requests must be at least 1, --warmup at least 0")
    return args


@dataclass
class World:
    org: object
    admin: object
    reps: list = field(default_factory=list)
    personas: dict = field(default_factory=dict)
    campaigns: list = field(default_factory=list)


def _world_create():
    from leads.campaigns import CampaignInput, campaign_create
    from personas.services import persona_create
    from smarketing.accounts.models import Membership, User
    from smarketing.accounts.services import organization_create
    from smarketing.demo import PERSONAS

    user = User.objects.create_user(email="admin@bench-list.test", password=PASSWORD)
    admin = organization_create(user=user, name="Bench list", slug=ORG_SLUG)
    world = World(org=admin.organization, admin=admin)
    for i in range(4):
        rep = User.objects.create_user(email=f"rep{i}@bench-list.test", password=PASSWORD)
        world.reps.append(Membership.objects.create(organization=world.org, user=rep, role="sales_rep", side="sales"))
    for data in PERSONAS:
        persona = persona_create(org=world.org, data=replace(data), actor=admin)
        world.personas[persona.name] = persona
    for i in range(12):
        data = CampaignInput(name=f"Campaign {i}", channel=CHANNELS[i % len(CHANNELS)])
        world.campaigns.append(campaign_create(org=world.org, data=data, actor=admin))
    return world


def _world_load():
    from leads.models import Campaign
    from personas.models import Persona
    from smarketing.accounts.models import Membership, Organization

    org = Organization.objects.get(slug=ORG_SLUG)
    members = list(Membership.objects.for_org(org).select_related("user").order_by("pk"))
    return World(
        org=org,
        admin=next(m for m in members if m.role == "admin"),
        reps=[m for m in members if m.role == "sales_rep"],
        personas={p.name: p for p in Persona.objects.for_org(org)},
        campaigns=list(Campaign.objects.for_org(org).order_by("pk")),
    )


def seed(args: argparse.Namespace) -> World:
    from django.db import connection

    from leads.models import Lead
    from smarketing.accounts.models import Organization
    from smarketing.demo import leads_bulk_create

    if Organization.objects.filter(slug=ORG_SLUG).exists():
        world = _world_load()
        have = Lead.objects.for_org(world.org).count()
        if have >= args.leads:
            log(f"reusing {have} leads of {ORG_SLUG}")
            return world
        raise BenchError(f"{ORG_SLUG} holds {have} leads, fewer than --leads; drop the database and seed afresh")
    world = _world_create()
    t0 = time.perf_counter()
    leads_bulk_create(org=world.org, count=args.leads, personas=world.personas)
    log(f"seeded {args.leads} leads in {time.perf_counter() - t0:.1f} s")
    t0 = time.perf_counter()
    campaigns = [c.pk for c in world.campaigns]
    rare, common = campaigns[-1], campaigns[:-1]
    with connection.cursor() as cur:
        # Deterministic spreads over the ids: a quarter unowned, four in ten without a campaign,
        # one campaign on 1 lead in 2,000, fit 0-40 plus engagement 0-60.
        cur.execute(
            """
            UPDATE leads_lead SET
                owner_id = CASE
                    WHEN id %% 4 = 0 THEN NULL
                    ELSE (%(owners)s::bigint[])[(id / 4) %% %(n_owners)s + 1]
                END,
                first_campaign_id = CASE
                    WHEN id %% 2000 = 1 THEN %(rare)s
                    WHEN id %% 10 < 6 THEN (%(common)s::bigint[])[(id / 10) %% %(n_common)s + 1]
                END,
                latest_campaign_id = CASE
                    WHEN id %% 2000 = 1 THEN %(rare)s
                    WHEN id %% 10 < 6 THEN (%(common)s::bigint[])[(id / 10) %% %(n_common)s + 1]
                END
            WHERE organization_id = %(org)s
            """,
            {
                "owners": [m.pk for m in world.reps],
                "n_owners": len(world.reps),
                "rare": rare,
                "common": common,
                "n_common": len(common),
                "org": world.org.pk,
            },
        )
        cur.execute(
            """
            UPDATE leads_leadscore SET
                fit = (lead_id * 7919) %% 41,
                total = (lead_id * 7919) %% 41 + (lead_id * 104729) %% 61
            WHERE organization_id = %(org)s
            """,
            {"org": world.org.pk},
        )
    log(f"spread owners, campaigns and scores in {time.perf_counter() - t0:.1f} s")
    t0 = time.perf_counter()
    with connection.cursor() as cur:
        cur.execute("VACUUM ANALYZE leads_lead")
        cur.execute("VACUUM ANALYZE leads_leadscore")
        cur.execute("ANALYZE")
    log(f"VACUUM ANALYZE in {time.perf_counter() - t0:.1f} s")
    return world


@dataclass
class Scenario:
    name: str
    paths: list[str]  # cycled through
    params: dict[str, str] = field(default_factory=dict)
    is_list: bool = True


def scenarios(world: World) -> list[Scenario]:
    from leads.models import Lead

    leads = Lead.objects.for_org(world.org)
    first = leads.order_by("pk").values_list("pk", flat=True)[0]
    last = leads.order_by("-pk").values_list("pk", flat=True)[0]
    rng = random.Random(7)
    middle = leads.filter(pk__gte=(first + last) // 2).order_by("pk").values_list("email", flat=True)[0]
    rare_words = middle.split("@")[0]  # e.g. "alex.smith.500000": one lead
    created = leads.order_by("-created_at").values_list("created_at", flat=True)[0]
    lead_pages = [f"/leads/{rng.randint(first, last)}/" for _ in range(50)]
    persona = world.personas.get("Ops Oliver") or next(iter(world.personas.values()))
    return [
        Scenario("list_unfiltered", ["/leads/"]),
        Scenario("list_stage", ["/leads/"], {"stage": "mql"}),
        Scenario("list_search_common", ["/leads/"], {"q": "garcia"}),
        Scenario("list_search_rare", ["/leads/"], {"q": rare_words}),
        # Word beginnings (leads/search.py): a short one, and a first and last name both common.
        Scenario("list_search_prefix", ["/leads/"], {"q": "gar"}),
        Scenario("list_search_two_words", ["/leads/"], {"q": " ".join(rare_words.split(".")[:2])}),
        Scenario("list_score_range_sort_score", ["/leads/"], {"score_min": "60", "score_max": "90", "sort": "score"}),
        Scenario("list_owner", ["/leads/"], {"owner": str(world.reps[0].pk)}),
        Scenario("list_unowned", ["/leads/"], {"owner": "none"}),
        Scenario("list_persona", ["/leads/"], {"persona": str(persona.pk)}),
        Scenario("list_channel", ["/leads/"], {"channel": "webinar"}),
        Scenario("list_campaign_rare", ["/leads/"], {"campaign": str(world.campaigns[-1].pk)}),
        Scenario(
            "list_created_week",
            ["/leads/"],
            {
                "created_from": str((created - timedelta(days=37)).date()),
                "created_to": str((created - timedelta(days=30)).date()),
            },
        ),
        Scenario("list_stage_sort_score", ["/leads/"], {"stage": "lead", "sort": "score"}),
        Scenario("lead_page", lead_pages, is_list=False),
    ]


def explain(world: World, params: dict[str, str]) -> str:
    """EXPLAIN ANALYZE of the page's query for these filters (what ``keyset_page`` runs)."""
    from leads import selectors
    from leads.forms import LeadFilterForm

    form = LeadFilterForm(params, org=world.org)
    order = form.order()
    leads = selectors.lead_list(org=world.org, filters=form.filters(), order=order)
    page = leads.order_by(order, "-pk" if order.startswith("-") else "pk")[:51]
    return page.explain(analyze=True, buffers=True)


def prepare(client, scenario: Scenario, args: argparse.Namespace) -> int:
    """Check the scenario answers 200, warm it up; returns the queries one request makes."""
    from django.db import connection

    queries = []
    with connection.execute_wrapper(lambda execute, sql, *rest: queries.append(sql) or execute(sql, *rest)):
        response = client.get(scenario.paths[0], scenario.params)
    if response.status_code != 200:
        raise BenchError(f"{scenario.name}: GET {scenario.paths[0]} {scenario.params} answered {response.status_code}")
    for i in range(args.warmup):
        client.get(scenario.paths[i % len(scenario.paths)], scenario.params)
    return len(queries)


def measure(client, scenarios: list[Scenario], args: argparse.Namespace) -> dict[str, tuple[list[float], int]]:
    by_name = {s.name: s for s in scenarios}

    def get(name: str, i: int) -> int:
        scenario = by_name[name]
        return client.get(scenario.paths[i % len(scenario.paths)], scenario.params).status_code

    return measure_in_turns(list(by_name), get, args.requests)


def result(scenario: Scenario, timings: list[float], errors: int, queries: int, args: argparse.Namespace) -> dict:
    return {
        "bench": "lead_list",
        "scenario": scenario.name,
        "params": scenario.params,
        "leads": args.leads,
        **latency_figures(timings, errors=errors, queries=queries, target_ms=TARGET_MS),
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)

    def body() -> int:
        from django.test import Client, override_settings

        world = seed(args)
        client = Client()
        client.force_login(world.admin.user)
        missed = 0
        with override_settings(STORAGES=PLAIN_STATIC):
            todo = scenarios(world)
            queries = {s.name: prepare(client, s, args) for s in todo}
            measured = measure(client, todo, args)
            for scenario in todo:
                timings, errors = measured[scenario.name]
                figures = result(scenario, timings, errors, queries[scenario.name], args)
                print(json.dumps(figures), flush=True)
                if scenario.is_list and (args.explain or not figures["meets_target"]):
                    log(f"--- EXPLAIN ANALYZE {scenario.name} {scenario.params}\n{explain(world, scenario.params)}")
                missed += not figures["meets_target"]
        return 1 if missed else 0

    env = {**PRODUCTION_ENV, "ALLOWED_HOSTS": "testserver"}
    return run_on_bench_database(body, reuse=args.reuse, keep=args.keep, env=env)


if __name__ == "__main__":
    sys.exit(main())
