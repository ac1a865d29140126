"""Full rescore after a scoring-model change, on PostgreSQL (target: under 30 s at 1,000,000 leads).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/smarketing_bench_rescore \
        .venv/bin/python bench/rescore.py --leads 1000000

Seeds leads with their activity events (about three per lead) unless --reuse finds them,
activates a changed scoring model, and times rescore_organization: the set-based rescore the
background job runs. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import BenchError, database_create, database_drop, database_url, log, migrate, setup_django


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--leads", type=int, default=1_000_000)
    parser.add_argument("--reuse", action="store_true", help="use an existing benchmark database (from --keep)")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()
    try:
        url = database_url()
        setup_django(DATABASE_URL=url)
        database_create(reuse=args.reuse)
    except BenchError as exc:
        log(str(exc))
        return 2
    try:
        migrate()
        return run(args)
    finally:
        if not args.keep:
            database_drop()


def run(args) -> int:
    from django.db import connection
    from django.utils import timezone

    from leads.models import ActivityEvent, Lead, ScoringModel
    from leads.rescoring import rescore_organization
    from leads.scoring_models import DEFAULT_MODEL
    from smarketing.accounts.models import Organization
    from smarketing.demo import leads_bulk_create

    org, _ = Organization.objects.get_or_create(slug="bench-rescore", defaults={"name": "Bench rescore"})
    have = Lead.objects.for_org(org).count()
    if have < args.leads:
        started = time.perf_counter()
        leads_bulk_create(org=org, count=args.leads - have, start=have, history=True, batch_size=10_000)
        log(f"seeded {args.leads - have} leads with events in {time.perf_counter() - started:.0f}s")
    with connection.cursor() as cursor:
        # The tables as autovacuum keeps them between two model changes: an earlier run leaves a
        # million dead score rows, and stale statistics (after a seed: every event pending) make
        # the planner read a chunk's events to find no pending one. Autovacuum is off on the
        # machine these figures come from, so the run does it.
        started = time.perf_counter()
        cursor.execute("VACUUM ANALYZE leads_leadscore, leads_scorechange, leads_activityevent, leads_lead")
        log(f"VACUUM ANALYZE in {time.perf_counter() - started:.1f}s")
    events = ActivityEvent.objects.filter(organization=org).count()
    version = ScoringModel.objects.for_org(org).count() + 1
    ScoringModel.objects.for_org(org).filter(status="active").update(status="retired")
    # A changed model: stricter threshold, different decay, an extra fit rule.
    model = ScoringModel.objects.create(
        organization=org, version=version, status="active", activated_at=timezone.now(),
        **{**DEFAULT_MODEL, "mql_threshold": 70, "decay_half_life_days": 21,
           "fit_rules": [*DEFAULT_MODEL["fit_rules"], {"attribute": "title", "operator": "contains",
                                                         "value": "head", "points": 10}]},
    )  # fmt: skip
    progress_calls = []
    started = time.perf_counter()
    result = rescore_organization(model=model, progress=lambda done, total: progress_calls.append(done))
    seconds = time.perf_counter() - started
    figures = {
        "bench": "rescore",
        "database": connection.vendor,
        "leads": result["leads"],
        "events": events,
        "seconds": round(seconds, 2),
        "leads_per_s": round(result["leads"] / seconds),
        "rescored": result["rescored"],
        "qualified": result["qualified"],
        "progress_updates": len(progress_calls),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    print(json.dumps(figures), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
