"""Where an ingested event's PostgreSQL time goes: ``events_ingest`` and scoring run in process,
statement by statement, on a database ``bench/ingest.py --keep`` left behind.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/<the kept database> \\
        .venv/bin/python bench/ingest_statements.py --batches 40 --utm 0.3 --identify 0.02

Each of ``--batches`` batches of ``--batch`` events (the bench's mix, about its leads, with
``--utm`` and ``--identify`` as in ``bench/ingest.py``; ``--identify`` takes visitors that have
not identified yet) goes through ``leads.ingestion.events_ingest`` and then
``leads.scoring.score_pending``, one after the other on one connection, with no Celery and no
HTTP. Around each statement (and each commit: the deferred foreign-key checks) it reads the
backend's CPU from ``/proc`` (the server must be on this machine). It prints, per event, the
PostgreSQL CPU of each kind of statement, the largest first, the write-ahead log written, and
this process's CPU, then one JSON line. The events stay in the database: each run adds some.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
import uuid
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from unittest import mock

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repository root, for bench.common

from bench.common import PRODUCTION_ENV, BenchError, database_url, log, machine_speed, setup_django
from bench.import_csv import backend_cpu_s
from bench.ingest import EVENT_MIX, SLUG, wal_state


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batches", type=int, default=40)
    parser.add_argument("--batch", type=int, default=500, help="events per batch (max 1000)")
    parser.add_argument("--utm", type=float, default=0.0, help="share of events with a campaign's UTM values")
    parser.add_argument("--identify", type=float, default=0.0, help="share of events identifying a visitor")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    try:
        database_url()
    except BenchError as exc:
        raise SystemExit(str(exc)) from exc
    setup_django(**PRODUCTION_ENV)

    from django.db import connection
    from django.db.backends.base.base import BaseDatabaseWrapper

    from leads import ingestion, scoring
    from leads.models import Campaign, Lead, Visitor
    from smarketing.accounts.models import Organization

    org = Organization.objects.filter(slug=SLUG).first()
    if org is None:
        raise SystemExit(
            f"No organisation {SLUG!r} here: point DATABASE_URL at a database bench/ingest.py --keep left."
        )
    emails = list(Lead.objects.for_org(org).values_list("email", flat=True))
    utms = [
        {"utm_source": c.utm_source, "utm_medium": c.utm_medium, "utm_campaign": c.utm_campaign}
        for c in Campaign.objects.for_org(org).filter(name__startswith="Bench ")
    ]
    if args.utm and not utms:
        raise SystemExit("This database has no bench campaigns: keep one from a run with --utm.")
    visitors = list(Visitor.objects.for_org(org).filter(lead=None).values_list("anonymous_id", flat=True))
    rng = random.Random(args.seed)
    costs: dict[str, list[float]] = defaultdict(lambda: [0, 0.0])
    phase = ["ingest"]

    def timed(kind: str, call, *call_args):
        pid = connection.connection.info.backend_pid
        cpu0 = backend_cpu_s(pid)
        try:
            return call(*call_args)
        finally:
            cost = costs[f"{phase[0]}: {kind}"]
            cost[0] += 1
            cost[1] += backend_cpu_s(pid) - cpu0

    def wrapper(execute, sql, params, many, context):
        return timed(" ".join(sql.split())[:80], execute, sql, params, many, context)

    commit = BaseDatabaseWrapper._commit
    accepted, python_s = 0, 0.0
    lsn0 = wal_state()["lsn"]
    with (
        mock.patch.object(ingestion, "enqueue_scoring", lambda org_id: True),  # scored here, next
        mock.patch.object(BaseDatabaseWrapper, "_commit", lambda self: timed("COMMIT", commit, self)),
        connection.execute_wrapper(wrapper),
    ):
        for _ in range(args.batches):
            now = datetime.now(UTC).isoformat()
            events = []
            for _ in range(args.batch):
                event = {
                    "id": f"s-{uuid.uuid4().hex}",
                    "type": rng.choice(EVENT_MIX),
                    "occurred_at": now,
                    "email": rng.choice(emails),
                    "properties": {"url": "https://bench.example/pricing"},
                }
                if utms and rng.random() < args.utm:
                    event["properties"] = {**event["properties"], **rng.choice(utms)}
                if visitors and rng.random() < args.identify:
                    event["anonymous_id"] = visitors.pop()
                events.append(event)
            payload = json.loads(json.dumps({"events": events}))  # as a request would give it
            cpu0 = time.process_time()
            phase[0] = "ingest"
            accepted += ingestion.events_ingest(org=org, payload=payload).accepted
            phase[0] = "score"
            scoring.score_pending(org_id=org.pk, limit=2 * args.batch)
            python_s += time.process_time() - cpu0
    wal_bytes = wal_state()["lsn"] - lsn0
    if not accepted:
        raise SystemExit("No event was accepted.")
    per_event = 1e6 / accepted
    postgres_us = sum(cpu for _, cpu in costs.values()) * per_event
    log("statements: count, PostgreSQL CPU µs an event, statement")
    for kind, (count, cpu) in sorted(costs.items(), key=lambda item: -item[1][1])[:15]:
        log(f"  {count:5d} {cpu * per_event:7.1f}  {kind}")
    figures = {
        "bench": "ingest_statements",
        "events": accepted,
        "utm": args.utm,
        "identify": args.identify,
        "postgres_cpu_us_per_event": round(postgres_us, 1),
        "python_cpu_us_per_event": round(python_s * per_event, 1),  # this process, waits excluded
        "wal_bytes_per_event": round(wal_bytes / accepted),
        "machine": machine_speed(),
    }
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
