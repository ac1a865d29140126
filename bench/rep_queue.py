"""Benchmark: the rep's handoff queue (``/handoffs/``) and a rep's overview at 10,000 open handoffs.

Target (DESIGN.md, issue 5): the rep's queue p95 under 50 ms at 10,000 open (pending) handoffs.
Run from the repository root with a database name that does not exist yet::

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/smk_queue_bench \\
        .venv/bin/python bench/rep_queue.py

It creates and migrates that database and seeds organisation ``bench-queue``: an admin, a sales
manager, ``--reps`` sales reps in one team (capacity 1,000 each), ``--pending`` + ``--history``
leads written by ``smarketing.demo.leads_bulk_create``, and one handoff per lead written with
``bulk_create``: ``--pending`` pending ones spread round-robin over the reps (created over the
last 3 days, due 4 h later, so many are overdue; one in five touched) and ``--history``
accepted or returned ones (nine in ten accepted). VACUUM ANALYZE then refreshes the planner's
statistics. ``--reuse`` (with a database kept by ``--keep``) skips the seed when the
organisation already holds the handoffs.

Scenarios, each ``--requests`` GETs (after a warm-up) through Django's test client in this
process, with production settings (DEBUG=false, no query log), taking turns one request each:

- ``rep_queue``: ``/handoffs/`` signed in as a sales rep (their ~500 pending; 50 rows shown);
- ``manager_queue``: ``/handoffs/`` as the sales manager (all pending; the page caps at 50);
- ``manager_queue_rep``: the same filtered by one rep (``?rep=<id>``);
- ``rep_home``: ``/home/`` as the sales rep (the overview with its queue card; a rep starts on
  ``/handoffs/``, the overview is in the menu).

One JSON line per scenario. A scenario over the target prints EXPLAIN ANALYZE of its slowest
query on stderr (``--explain`` prints it for every scenario).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from dataclasses import dataclass, field
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

ORG_SLUG = "bench-queue"
PASSWORD = "bench-password-0123"
TARGET_MS = 50
CAPACITY = 1000


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=20, help="sales reps in the team (default 20)")
    parser.add_argument("--pending", type=int, default=10_000, help="pending handoffs (default 10000)")
    parser.add_argument("--history", type=int, default=20_000, help="accepted/returned handoffs (default 20000)")
    parser.add_argument("--requests", type=int, default=200, help="timed requests per scenario (default 200)")
    parser.add_argument("--warmup", type=int, default=10, help="untimed requests first (default 10)")
    parser.add_argument("--reuse", action="store_true", help="use the database if it exists (a bench database)")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards (for --reuse)")
    parser.add_argument("--explain", action="store_true", help="print EXPLAIN ANALYZE for every scenario")
    args = parser.parse_args(argv)
    if args.reps < 1 or args.pending < 1 or args.history < 0 or args.requests < 1 or args.warmup < 0:
        parser.error("--reps, --pending and --requests must be at least 1, --history and --warmup at least 0")
    return args


@dataclass
class World:
    org: object
    admin: object
    manager: object
    reps: list = field(default_factory=list)


def _world_create(args: argparse.Namespace) -> World:
    from leads.models import Team, TeamMember
    from smarketing.accounts.models import Membership, User
    from smarketing.accounts.services import organization_create

    user = User.objects.create_user(email="admin@bench-queue.test", password=PASSWORD)
    admin = organization_create(user=user, name="Bench queue", slug=ORG_SLUG)
    org = admin.organization
    manager_user = User.objects.create_user(email="manager@bench-queue.test", password=PASSWORD)
    manager = Membership.objects.create(organization=org, user=manager_user, role="manager", side="sales")
    world = World(org=org, admin=admin, manager=manager)
    team = Team.objects.create(organization=org, name="Sales")
    for i in range(args.reps):
        rep_user = User.objects.create_user(email=f"rep{i:02d}@bench-queue.test", password=PASSWORD)
        rep = Membership.objects.create(organization=org, user=rep_user, role="sales_rep", side="sales")
        TeamMember.objects.create(team=team, membership=rep, capacity=CAPACITY)
        world.reps.append(rep)
    return world


def _world_load() -> World:
    from smarketing.accounts.models import Membership, Organization

    org = Organization.objects.get(slug=ORG_SLUG)
    members = list(Membership.objects.for_org(org).select_related("user").order_by("pk"))
    return World(
        org=org,
        admin=next(m for m in members if m.role == "admin"),
        manager=next(m for m in members if m.role == "manager"),
        reps=[m for m in members if m.role == "sales_rep"],
    )


def _handoffs_create(world: World, args: argparse.Namespace) -> None:
    """One handoff per lead: the first ``--pending`` leads pending, the rest history."""
    from django.utils import timezone

    from leads.models import Handoff, Lead, ReturnReason

    now = timezone.now()
    rng = random.Random(5)
    reasons = [c for c, _ in ReturnReason.choices]
    lead_ids = list(Lead.objects.for_org(world.org).order_by("pk").values_list("pk", flat=True))
    batch: list[Handoff] = []
    for i, lead_id in enumerate(lead_ids[: args.pending + args.history]):
        rep = world.reps[i % len(world.reps)]
        if i < args.pending:
            created = now - timedelta(minutes=rng.randint(0, 3 * 24 * 60))
            handoff = Handoff(
                organization=world.org,
                lead_id=lead_id,
                rep=rep,
                status=Handoff.Status.PENDING,
                created_at=created,
                due_at=created + timedelta(hours=4),
                first_touch_at=created + timedelta(minutes=30) if rng.random() < 0.2 else None,
                created_by=world.admin if rng.random() < 0.3 else None,
            )
        else:
            created = now - timedelta(minutes=rng.randint(3 * 24 * 60, 180 * 24 * 60))
            ended = created + timedelta(minutes=rng.randint(5, 240))
            accepted = rng.random() < 0.9
            handoff = Handoff(
                organization=world.org,
                lead_id=lead_id,
                rep=rep,
                status=Handoff.Status.ACCEPTED if accepted else Handoff.Status.RETURNED,
                created_at=created,
                due_at=created + timedelta(hours=4),
                first_touch_at=ended,
                accepted_at=ended if accepted else None,
                returned_at=None if accepted else ended,
                return_reason="" if accepted else rng.choice(reasons),
            )
        batch.append(handoff)
        if len(batch) == 5000:
            Handoff.objects.bulk_create(batch)
            batch = []
    if batch:
        Handoff.objects.bulk_create(batch)


def seed(args: argparse.Namespace) -> World:
    from django.db import connection

    from leads.models import Handoff
    from smarketing.accounts.models import Organization
    from smarketing.demo import leads_bulk_create

    if Organization.objects.filter(slug=ORG_SLUG).exists():
        world = _world_load()
        have = Handoff.objects.for_org(world.org).filter(status=Handoff.Status.PENDING).count()
        if have >= args.pending:
            log(f"reusing {have} pending handoffs of {ORG_SLUG}")
            return world
        raise BenchError(f"{ORG_SLUG} holds {have} pending handoffs, fewer than --pending; drop and seed afresh")
    world = _world_create(args)
    t0 = time.perf_counter()
    leads_bulk_create(org=world.org, count=args.pending + args.history)
    log(f"seeded {args.pending + args.history} leads in {time.perf_counter() - t0:.1f} s")
    t0 = time.perf_counter()
    _handoffs_create(world, args)
    log(f"seeded {args.pending} pending + {args.history} history handoffs in {time.perf_counter() - t0:.1f} s")
    t0 = time.perf_counter()
    with connection.cursor() as cur:
        cur.execute("VACUUM ANALYZE leads_lead")
        cur.execute("VACUUM ANALYZE leads_handoff")
        cur.execute("ANALYZE")
    log(f"VACUUM ANALYZE in {time.perf_counter() - t0:.1f} s")
    return world


@dataclass
class Scenario:
    name: str
    path: str
    member: object  # the membership signed in
    params: dict[str, str] = field(default_factory=dict)
    client: object = None


def scenarios(world: World) -> list[Scenario]:
    rep = world.reps[0]
    return [
        Scenario("rep_queue", "/handoffs/", rep),
        Scenario("manager_queue", "/handoffs/", world.manager),
        Scenario("manager_queue_rep", "/handoffs/", world.manager, {"rep": str(world.reps[-1].pk)}),
        Scenario("rep_home", "/home/", rep),
    ]


def _record(queries: list):
    """An execute wrapper noting each statement, its parameters and its time."""

    def wrapper(execute, sql, params, many, context):
        t0 = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            queries.append((time.perf_counter() - t0, sql, params))

    return wrapper


def explain(scenario: Scenario) -> str:
    """The statements of one request by time, and EXPLAIN ANALYZE of the slowest SELECT."""
    from django.db import connection

    queries: list = []
    with connection.execute_wrapper(_record(queries)):
        scenario.client.get(scenario.path, scenario.params)
    selects = sorted((q for q in queries if q[1].lstrip().upper().startswith("SELECT")), key=lambda q: -q[0])
    lines = [f"{ms * 1000:7.2f} ms  {sql[:140]}" for ms, sql, _ in selects]
    if selects:
        _, sql, params = selects[0]
        with connection.cursor() as cur:
            cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
            lines += ["slowest:", sql, *(row[0] for row in cur.fetchall())]
    return "\n".join(lines)


def prepare(scenario: Scenario, args: argparse.Namespace) -> int:
    """Sign in, check the scenario answers 200, warm it up; returns the queries one request makes."""
    from django.db import connection
    from django.test import Client

    scenario.client = Client()
    scenario.client.force_login(scenario.member.user)
    queries: list = []
    with connection.execute_wrapper(_record(queries)):
        response = scenario.client.get(scenario.path, scenario.params)
    if response.status_code != 200:
        raise BenchError(f"{scenario.name}: GET {scenario.path} {scenario.params} answered {response.status_code}")
    for _ in range(args.warmup):
        scenario.client.get(scenario.path, scenario.params)
    return len(queries)


def measure(todo: list[Scenario], args: argparse.Namespace) -> dict[str, tuple[list[float], int]]:
    by_name = {s.name: s for s in todo}

    def get(name: str, i: int) -> int:
        scenario = by_name[name]
        return scenario.client.get(scenario.path, scenario.params).status_code

    return measure_in_turns(list(by_name), get, args.requests)


def result(scenario: Scenario, timings: list[float], errors: int, queries: int, args: argparse.Namespace) -> dict:
    return {
        "bench": "rep_queue",
        "scenario": scenario.name,
        "path": scenario.path,
        "params": scenario.params,
        "role": scenario.member.role,
        "reps": args.reps,
        "pending": args.pending,
        "history": args.history,
        **latency_figures(timings, errors=errors, queries=queries, target_ms=TARGET_MS),
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)

    def body() -> int:
        from django.test import override_settings

        world = seed(args)
        missed = 0
        with override_settings(STORAGES=PLAIN_STATIC):
            todo = scenarios(world)
            queries = {s.name: prepare(s, args) for s in todo}
            measured = measure(todo, args)
            for scenario in todo:
                timings, errors = measured[scenario.name]
                figures = result(scenario, timings, errors, queries[scenario.name], args)
                print(json.dumps(figures), flush=True)
                if args.explain or not figures["meets_target"]:
                    log(f"--- EXPLAIN ANALYZE {scenario.name} {scenario.path} {scenario.params}\n{explain(scenario)}")
                missed += not figures["meets_target"]
        return 1 if missed else 0

    env = {**PRODUCTION_ENV, "ALLOWED_HOSTS": "testserver"}
    return run_on_bench_database(body, reuse=args.reuse, keep=args.keep, env=env)


if __name__ == "__main__":
    sys.exit(main())
