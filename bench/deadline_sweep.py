"""Benchmark: one tick of the SLA deadline checks (``sla.deadlines.check_deadlines``) at 10,000 open handoffs.

Target (DESIGN.md, issue 6): one sweep at 10,000 open handoffs under 200 ms, using indexes
rather than scanning. Run from the repository root with a database name that does not exist yet::

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/smk_sweep_bench \\
        .venv/bin/python bench/deadline_sweep.py

It creates and migrates that database and seeds organisation ``bench-sweep``: a sales
manager, ``--reps`` reps in one team, ``--open`` leads (``smarketing.demo.leads_bulk_create``)
each with one pending handoff written with ``bulk_create`` (created over the last two days, due
``--window-hours`` later, at risk at 75% of that; one in five already touched) and
``--history`` ended handoffs, plus ``--orgs`` other organisations with a few handoffs each so
the sweep is cross-tenant as in production. The grace before re-routing is ``--grace-hours``.

Then ``--ticks`` sweeps run as beat would run them, one a minute of simulated time from now
(``check_deadlines(now=…)``), each timed with its statement count; every tick warns,
breaches and re-routes what falls due in its minute (notifications included; their emails
queued to Redis database 14, which no worker reads and the run flushes). A first tick
catches up on everything already past due: it is reported apart (``catch_up``). Prints one
JSON line.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections import defaultdict
from datetime import time as dt_time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repository root, for bench.common

from bench.common import (
    PRODUCTION_ENV,
    BenchError,
    log,
    percentile,
    run_on_bench_database,
)

ORG_SLUG = "bench-sweep"
PASSWORD = "bench-password-1"
TARGET_MS = 200
REDIS_URL = "redis://127.0.0.1:6379/14"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--open", type=int, default=10_000, help="open (pending) handoffs (default 10000)")
    parser.add_argument("--history", type=int, default=20_000, help="ended handoffs (default 20000)")
    parser.add_argument("--reps", type=int, default=20, help="sales reps (default 20)")
    parser.add_argument("--orgs", type=int, default=20, help="other organisations, 50 handoffs each (default 20)")
    parser.add_argument("--window-hours", type=float, default=36.0, help="due this long after creation (36)")
    parser.add_argument("--grace-hours", type=int, default=0, help="business hours before re-routing (0: at once)")
    parser.add_argument("--ticks", type=int, default=60, help="sweeps, one a simulated minute (default 60)")
    parser.add_argument("--reuse", action="store_true", help="use the database if it exists (a bench database)")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards (for --reuse)")
    args = parser.parse_args(argv)
    if min(args.open, args.reps, args.ticks) < 1 or min(args.history, args.orgs) < 0:
        parser.error("--open, --reps and --ticks must be at least 1; --history and --orgs at least 0")
    return args


def _org(slug: str, reps: int, grace: int):
    from leads.models import Team, TeamMember
    from smarketing.accounts.models import Membership, User
    from smarketing.accounts.services import organization_create

    admin = organization_create(
        user=User.objects.create_user(email=f"admin@{slug}.test", password=PASSWORD), name=slug, slug=slug
    )
    org = admin.organization
    org.handoff_breach_grace_hours = grace
    org.working_days = [0, 1, 2, 3, 4, 5, 6]  # every day, all day: every simulated minute counts
    org.opens_at, org.closes_at = dt_time(0, 0), dt_time(23, 59, 59)
    org.save()
    manager = Membership.objects.create(
        organization=org, user=User.objects.create_user(email=f"manager@{slug}.test"), role="manager", side="sales"
    )
    team = Team.objects.create(organization=org, name="Sales")
    TeamMember.objects.create(team=team, membership=manager, capacity=10_000)
    members = []
    for i in range(reps):
        rep = Membership.objects.create(
            organization=org, user=User.objects.create_user(email=f"rep{i}@{slug}.test"), role="sales_rep"
        )
        TeamMember.objects.create(team=team, membership=rep, capacity=10_000)
        members.append(rep)
    org.routing_fallback = manager
    org.save()
    return org, members


def _handoffs(org, reps, *, open_count: int, history: int, window: timedelta, rng: random.Random) -> None:
    from django.utils import timezone

    from leads.models import Handoff, Lead
    from smarketing.demo import leads_bulk_create

    leads_bulk_create(org=org, count=open_count + history)
    now = timezone.now()
    rows = []
    for i, lead_id in enumerate(Lead.objects.for_org(org).order_by("pk").values_list("pk", flat=True)):
        created = now - timedelta(minutes=rng.randint(0, 48 * 60))
        row = Handoff(
            organization=org,
            lead_id=lead_id,
            rep=reps[i % len(reps)],
            created_at=created,
            due_at=created + window,
            at_risk_at=created + window * 0.75,
        )
        if i >= open_count:
            row.status, row.accepted_at, row.first_touch_at = Handoff.Status.ACCEPTED, created, created
            row.created_at -= timedelta(days=rng.randint(2, 180))
        elif rng.random() < 0.2:
            row.first_touch_at = created + timedelta(minutes=20)
        rows.append(row)
    Handoff.objects.bulk_create(rows, batch_size=5000)


def seed(args: argparse.Namespace) -> None:
    from django.db import connection

    from smarketing.accounts.models import Organization

    if Organization.objects.filter(slug=ORG_SLUG).exists():
        raise BenchError(f"{ORG_SLUG} exists: the ticks change it; drop the database and seed afresh")
    rng = random.Random(11)
    window = timedelta(hours=args.window_hours)
    t0 = time.perf_counter()
    org, reps = _org(ORG_SLUG, args.reps, args.grace_hours)
    _handoffs(org, reps, open_count=args.open, history=args.history, window=window, rng=rng)
    for n in range(args.orgs):
        other, other_reps = _org(f"bench-sweep-{n}", 2, args.grace_hours)
        _handoffs(other, other_reps, open_count=40, history=10, window=window, rng=rng)
    log(f"seeded in {time.perf_counter() - t0:.1f} s")
    with connection.cursor() as cur:
        cur.execute("VACUUM ANALYZE leads_handoff")
        cur.execute("ANALYZE")


def measure(args: argparse.Namespace) -> dict:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from leads.models import Handoff
    from sla.deadlines import check_deadlines

    start = timezone.now()
    t0 = time.perf_counter()
    catch_up = check_deadlines(now=start)
    catch_up_ms = (time.perf_counter() - t0) * 1000
    timings, statements, totals = [], [], {"at_risk": 0, "breached": 0, "rerouted": 0}
    by_statement: dict[str, float] = defaultdict(float)
    for tick in range(1, args.ticks + 1):
        with CaptureQueriesContext(connection) as queries:
            t0 = time.perf_counter()
            result = check_deadlines(now=start + timedelta(minutes=tick))
            timings.append(time.perf_counter() - t0)
        statements.append(len(queries))
        for query in queries.captured_queries:  # where a tick's database time goes, by statement
            by_statement[" ".join(query["sql"].split()[:4])[:70]] += float(query["time"])
        for key in totals:
            totals[key] += getattr(result, key)
    timings.sort()
    for text, seconds in sorted(by_statement.items(), key=lambda item: -item[1])[:8]:
        log(f"{1000 * seconds / args.ticks:7.1f} ms a tick  {text}")
    still_open = Handoff.objects.filter(status__in=Handoff.OPEN).count()
    p95 = percentile(timings, 95) * 1000
    return {
        "open_handoffs": still_open,
        "ticks": args.ticks,
        "catch_up": {
            "ms": round(catch_up_ms, 1),
            "at_risk": catch_up.at_risk,
            "breached": catch_up.breached,
            "rerouted": catch_up.rerouted,
        },
        "per_tick": {k: round(v / args.ticks, 2) for k, v in totals.items()},
        "p50_ms": round(percentile(timings, 50) * 1000, 1),
        "p95_ms": round(p95, 1),
        "max_ms": round(timings[-1] * 1000, 1),
        "statements_p50": sorted(statements)[len(statements) // 2],
        "meets_target": p95 < TARGET_MS,
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)

    def body() -> int:
        seed(args)
        figures = measure(args)
        print(json.dumps(figures), flush=True)
        return 0 if figures["meets_target"] else 1

    # DEBUG off as in production (CaptureQueriesContext still counts the statements). Emails are
    # queued as in production, to a Redis database no worker reads, flushed at the end.
    env = {**PRODUCTION_ENV, "REDIS_URL": REDIS_URL, "EMAIL_URL": "dummymail://"}
    return run_on_bench_database(body, reuse=args.reuse, keep=args.keep, env=env, after=_flush_queue)


def _flush_queue() -> None:
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()


if __name__ == "__main__":
    sys.exit(main())
