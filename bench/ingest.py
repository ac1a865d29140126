"""Benchmark: event ingestion over HTTP (gunicorn, PostgreSQL) and the time until events are scored.

Target (DESIGN.md): 10,000 events/s sustained, stored, scored and stage-transitioned; 95% of
events reflected in the lead's score within 5 s. Run from the repository root::

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/smarketing_bench_ingest \\
        .venv/bin/python bench/ingest.py --leads 100000 --seconds 30

It creates the database, an organisation with ``--leads`` leads (with their event and stage
history, as the demo makes it, the past events marked scored; ``--no-history`` for none), the
default scoring model and an API key, then ``VACUUM ANALYZE`` (autovacuum is off on the
benchmark machine: without statistics PostgreSQL reads the whole events table to count a
batch's capped events); starts gunicorn (``--workers``) and a Celery worker on Redis
(``REDIS_URL``, default redis://127.0.0.1:6379/14, flushed first); then ``--threads``
clients POST batches of ``--batch`` events about known leads (a mix of event types) for
``--seconds``: as fast as they are answered, or with ``--rate`` at that offered load in
events/s (batch k is sent k × batch / rate seconds after the start, by whichever thread is
free; a thread that is late sends at once, so ``accepted_per_s`` below the rate means the
server did not keep up). The figures are of the events sent in this run only. After sending
it waits for the workers to score everything and prints one JSON line: accepted events/s
while sending, the delay from receipt to scoring (p50/p95), request
latency, and the CPU seconds each kind of process used from the first request until all was
scored (gunicorn and Celery with their workers, the PostgreSQL backends of this database,
this load generator), per 1,000 events. A warm-up (a few small batches, scored) comes first
so start-up is not counted. Everything runs on this machine (the load generator shares its
two cores); bench/README.md has the results.

``--utm 0.3`` sends three events in ten with the UTM values of one of four campaigns (campaign
touches); ``--identify 0.02`` gives two in a hundred the anonymous id of one of 50,000 visitors
seen before, each with three anonymous UTM-tagged page views waiting to become the lead's
(stitching, and the first touch from those earlier visits).
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    PRODUCTION_ENV,
    REPO_ROOT,
    VENV_BIN,
    BenchError,
    database_create,
    database_drop,
    database_url,
    free_port,
    gunicorn_start,
    gunicorn_stop,
    log,
    machine_speed,
    migrate,
    percentile,
    setup_django,
)

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _cpu_s(pid: int, *, reaped_children: bool = False) -> float:
    """CPU seconds (user + system) a live process has used, from /proc (0 if it is gone); with
    ``reaped_children``, those of its children that have ended too."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    # utime, stime, then cutime, cstime
    return sum(int(f) for f in fields[11 : 15 if reaped_children else 13]) / CLOCK_TICKS


def _descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(stat.parent.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def _cpu_by_role(processes: dict[str, int]) -> dict[str, dict[int, float]]:
    """CPU seconds so far of every process of each role: gunicorn and Celery (each with its
    workers), PostgreSQL, and this load generator.

    PostgreSQL's are its server's every process (the benchmark has the server to itself): the
    live ones, and under key 0 the postmaster's own with that of its children that ended. A
    backend ends when its connection closes: Django closes one older than ``CONN_MAX_AGE``
    (60 s) after a request, so a run's backends come and go, and counting only those of one
    moment missed most of PostgreSQL's time."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (backend,) = cursor.fetchone()
    postmaster = int(Path(f"/proc/{backend}/stat").read_text().rsplit(")", 1)[1].split()[1])
    roles = {role: {pid: _cpu_s(pid) for pid in _descendants(root)} for role, root in processes.items()}
    roles["postgres"] = {pid: _cpu_s(pid) for pid in _descendants(postmaster) if pid != postmaster}
    roles["postgres"][0] = _cpu_s(postmaster, reaped_children=True)
    roles["load generator"] = {0: sum(os.times()[:2])}
    return roles


def wal_state() -> dict:
    """The server's write-ahead log position (bytes), checkpoints so far, and max_wal_size."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint, "
            "(SELECT checkpoints_timed + checkpoints_req FROM pg_stat_bgwriter), current_setting('max_wal_size')"
        )
        lsn, checkpoints, max_wal_size = cursor.fetchone()
    return {"lsn": lsn, "checkpoints": checkpoints, "max_wal_size": max_wal_size}


SLUG = "bench-ingest"
EVENT_MIX = ["page_view"] * 6 + ["email_open"] * 3 + ["email_click"] * 2 + ["pricing_view", "content_download"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--leads", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--batch", type=int, default=500, help="events per request (max 1000)")
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument(
        "--rate",
        type=float,
        default=0,
        help="offered load in events/s, paced across the threads (0: each thread sends as fast as it is answered)",
    )
    parser.add_argument("--workers", type=int, default=3, help="gunicorn workers")
    parser.add_argument("--celery", type=int, default=2, help="Celery worker processes")
    parser.add_argument(
        "--no-history",
        action="store_true",
        help="seed the leads without their event and stage history (the events table starts empty)",
    )
    parser.add_argument(
        "--utm",
        type=float,
        default=0,
        help="share of events carrying the UTM values of one of four campaigns (campaign touches), e.g. 0.3",
    )
    parser.add_argument(
        "--identify",
        type=float,
        default=0,
        help="share of events carrying the anonymous id of a visitor seen before, with three anonymous "
        "UTM-tagged page views waiting (stitching), e.g. 0.02",
    )
    parser.add_argument("--reuse", action="store_true")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    if not (0 <= args.utm <= 1 and 0 <= args.identify <= 1):
        parser.error("--utm and --identify are shares between 0 and 1")
    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/14")
    try:
        url = database_url()
        setup_django(DATABASE_URL=url, REDIS_URL=redis_url)
        database_create(reuse=args.reuse)
    except BenchError as exc:
        log(str(exc))
        return 2
    processes: list[subprocess.Popen] = []
    try:
        migrate()
        return run(args, url, redis_url, processes)
    finally:
        for process in processes:
            gunicorn_stop(process)
        if not args.keep:
            database_drop()


def _prepare(args) -> tuple[str, list[str], tuple[list[dict], list[str]]]:
    from django.db import connection

    from leads.models import Lead
    from leads.scoring_models import scoring_model_ensure_default
    from smarketing.accounts.models import Organization
    from smarketing.accounts.services import api_key_create
    from smarketing.demo import leads_bulk_create

    org, _ = Organization.objects.get_or_create(slug=SLUG, defaults={"name": "Bench ingest"})
    have = Lead.objects.for_org(org).count()
    if have < args.leads:
        history = not args.no_history
        leads_bulk_create(org=org, count=args.leads - have, start=have, batch_size=10_000, history=history)
        with connection.cursor() as cursor:
            if history:
                # An organisation's past events, scored long ago (the run's caps count them).
                cursor.execute(
                    "UPDATE leads_activityevent SET scored_at = received_at, points = 0 WHERE scored_at IS NULL"
                )
            # Autovacuum is off on the benchmark machine: statistics as it would have gathered them.
            cursor.execute("VACUUM ANALYZE")
    scoring_model_ensure_default(org=org)
    _, key = api_key_create(organization=org, name="bench")
    emails = list(Lead.objects.for_org(org).values_list("email", flat=True)[: args.leads])
    return key, emails, _campaigns_and_visitors(org, args)


VISITORS = 50_000  # with --identify: visitors seen before, each with three anonymous UTM-tagged page views


def _campaigns_and_visitors(org, args) -> tuple[list[dict], list[str]]:
    """With ``--utm`` or ``--identify``: four campaigns with UTM values (their properties, to send)
    and, with ``--identify``, visitors not identified yet whose earlier page views carry them."""
    from datetime import timedelta

    from django.db import connection
    from django.utils import timezone

    from leads.models import ActivityEvent, Campaign, Visitor

    if not (args.utm or args.identify):
        return [], []
    utms = []
    for n, channel in enumerate(["paid_search", "paid_social", "email", "webinar"]):
        values = {"utm_source": f"bench-{channel}", "utm_medium": "cpc", "utm_campaign": f"bench-{n}"}
        Campaign.objects.get_or_create(
            organization=org,
            name=f"Bench {channel}",
            defaults={"channel": channel, **values},
        )
        utms.append(values)
    if not args.identify:
        return utms, []
    visitors = [f"bench-visitor-{i}" for i in range(VISITORS)]
    if not Visitor.objects.for_org(org).filter(anonymous_id=visitors[0]).exists():
        now = timezone.now()
        Visitor.objects.bulk_create(
            [Visitor(organization=org, anonymous_id=v, first_seen_at=now) for v in visitors], batch_size=10_000
        )
        events = (
            ActivityEvent(
                organization=org,
                anonymous_id=v,
                client_event_id=f"{v}-{k}",
                event_type="page_view",
                occurred_at=now - timedelta(days=k + 1 + i % 20),
                received_at=now - timedelta(days=k + 1),
                properties={"url": "https://bench.example/", **utms[(i + k) % len(utms)]},
            )
            for i, v in enumerate(visitors)
            for k in range(3)
        )
        ActivityEvent.objects.bulk_create(events, batch_size=10_000)
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE leads_activityevent, leads_visitor")
    return utms, visitors


def _celery_start(db_url: str, redis_url: str, concurrency: int) -> subprocess.Popen:
    import redis

    redis.Redis.from_url(redis_url).flushdb()
    env = {**os.environ, **PRODUCTION_ENV, "DATABASE_URL": db_url, "REDIS_URL": redis_url}
    command = [str(VENV_BIN / "celery"), "-A", "smarketing", "worker", "--loglevel", "WARNING",
               "--concurrency", str(concurrency), "--without-gossip", "--without-mingle"]  # fmt: skip
    return subprocess.Popen(command, cwd=REPO_ROOT, env=env, start_new_session=True)


def _warm_up(port: int, key: str, emails: list[str], workers: int) -> None:
    """A few small batches until every process has imported the app and connected, so start-up
    work is not counted as ingestion; then wait until the worker has scored them."""
    from leads.models import ActivityEvent

    headers = {"Authorization": f"Api-Key {key}", "Content-Type": "application/json"}
    for i in range(workers * 4):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        now = datetime.now(UTC).isoformat()
        events = [
            {"id": f"warm-{i}-{j}", "type": "page_view", "occurred_at": now, "email": emails[j]} for j in range(10)
        ]
        conn.request("POST", "/api/v1/events", body=json.dumps({"events": events}), headers=headers)
        conn.getresponse().read()
        conn.close()
    deadline = time.monotonic() + 60
    while ActivityEvent.objects.filter(scored_at=None, lead__isnull=False).exists() and time.monotonic() < deadline:
        time.sleep(0.2)


def run(args, db_url: str, redis_url: str, processes: list) -> int:
    from django.db import connection

    from leads.models import ActivityEvent

    key, emails, (utms, visitors) = _prepare(args)
    port = free_port()
    # REDIS_URL is in the environment (setup_django): gunicorn enqueues, the worker scores.
    processes.append(gunicorn_start(workers=args.workers, port=port, db_url=db_url))
    processes.append(_celery_start(db_url, redis_url, args.celery))
    time.sleep(3)  # let the worker connect
    roots = {"gunicorn": processes[0].pid, "celery": processes[1].pid}
    _warm_up(port, key, emails, args.workers)
    latencies: list[float] = []

    sent = accepted = errors = 0
    lock = threading.Lock()
    deadline = time.monotonic() + args.seconds
    counter = itertools.count()
    batches = itertools.count()  # with --rate, batch k is due k * batch / rate seconds after the start
    interval = args.batch / args.rate if args.rate else 0.0

    def client(seed: int) -> None:
        nonlocal sent, accepted, errors
        rng = random.Random(seed)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        headers = {"Authorization": f"Api-Key {key}", "Content-Type": "application/json"}
        while time.monotonic() < deadline:
            if interval:
                due = started + next(batches) * interval
                if due >= deadline:
                    break
                if due > time.monotonic():
                    time.sleep(due - time.monotonic())
            now = datetime.now(UTC).isoformat()
            events = [
                {"id": f"b-{next(counter)}-{uuid.uuid4().hex[:8]}", "type": rng.choice(EVENT_MIX), "occurred_at": now,
                 "email": rng.choice(emails), "properties": {"url": "https://bench.example/pricing"}}
                for _ in range(args.batch)
            ]  # fmt: skip
            for event in events:
                if utms and rng.random() < args.utm:
                    event["properties"] = {**event["properties"], **rng.choice(utms)}
                if visitors and rng.random() < args.identify:
                    with lock:  # each visitor identifies once
                        if visitors:
                            event["anonymous_id"] = visitors.pop()
            try:
                sent_at = time.monotonic()
                conn.request("POST", "/api/v1/events", body=json.dumps({"events": events}), headers=headers)
                response = conn.getresponse()
                raw = response.read()
                latencies.append(time.monotonic() - sent_at)
                try:
                    body = json.loads(raw or b"{}")
                except ValueError:  # a 500 page, not JSON: counted as an error below
                    body = {}
                with lock:
                    sent += len(events)
                    if response.status == 202:
                        accepted += body.get("accepted", 0)
                    else:
                        errors += 1
            except (OSError, http.client.HTTPException):
                with lock:
                    errors += 1
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    cpu_before = _cpu_by_role(roots)
    wal_before = wal_state()
    # Figures are of the events this run sent (a --reuse database holds earlier runs' too).
    since = datetime.now(UTC)
    started = time.monotonic()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(args.threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    sending = time.monotonic() - started
    log(f"sent {sent} events in {sending:.1f}s; waiting for scoring…")
    wait_deadline = time.monotonic() + 600
    while time.monotonic() < wait_deadline:
        pending = ActivityEvent.objects.filter(scored_at=None, lead__isnull=False).count()
        if pending == 0:
            break
        time.sleep(1)
    drained = time.monotonic() - started
    cpu_after = _cpu_by_role(roots)
    wal_after = wal_state()
    # Processes that started during the run count from zero. PostgreSQL's backends that ended
    # count with the postmaster's reaped children: its role is the difference of the totals.
    cpu = {
        role: round(sum(s - cpu_before[role].get(pid, 0.0) for pid, s in pids.items()), 1)
        for role, pids in cpu_after.items()
    }
    cpu["postgres"] = round(sum(cpu_after["postgres"].values()) - sum(cpu_before["postgres"].values()), 1)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM scored_at - received_at)), "
            "percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM scored_at - received_at)), "
            "max(scored_at) FROM leads_activityevent WHERE scored_at IS NOT NULL AND received_at >= %s",
            [since],
        )
        p50, p95, last_scored = cursor.fetchone()
        cursor.execute("SELECT min(received_at) FROM leads_activityevent WHERE received_at >= %s", [since])
        (first_received,) = cursor.fetchone()
    scored_span = (last_scored - first_received).total_seconds() if last_scored and first_received else None
    print(
        json.dumps(
            {
                "bench": "ingest",
                "leads": args.leads,
                "events_sent": sent,
                "events_accepted": accepted,
                "request_errors": errors,
                "batch": args.batch,
                "threads": args.threads,
                "offered_per_s": args.rate or None,
                "gunicorn_workers": args.workers,
                "celery_workers": args.celery,
                "send_seconds": round(sending, 1),
                "accepted_per_s": round(accepted / sending),
                "scored_per_s_end_to_end": round(accepted / scored_span) if scored_span else None,
                "score_delay_p50_s": round(p50, 2) if p50 is not None else None,
                "score_delay_p95_s": round(p95, 2) if p95 is not None else None,
                "request_p50_ms": round(percentile(sorted(latencies), 50) * 1000),
                "request_p95_ms": round(percentile(sorted(latencies), 95) * 1000),
                "seconds_until_all_scored": round(drained, 1),
                "cpu_s": cpu,
                "cpu_ms_per_1000_events": {role: round(s * 1e6 / max(accepted, 1)) for role, s in cpu.items()},
                "machine_cpu_s": round((drained) * (os.cpu_count() or 1), 1),
                "still_unscored": ActivityEvent.objects.filter(scored_at=None, lead__isnull=False).count(),
                # The server's whole write-ahead log and checkpoints from the first request until
                # all was scored: a checkpoint makes the next change of every page log the whole
                # page, and PostgreSQL starts one whenever max_wal_size of log has been written.
                "wal_bytes_per_event": round((wal_after["lsn"] - wal_before["lsn"]) / max(accepted, 1)),
                "checkpoints": wal_after["checkpoints"] - wal_before["checkpoints"],
                "max_wal_size": wal_after["max_wal_size"],
                "machine": machine_speed(),
            }
        ),
        flush=True,
    )
    return 0


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.default_int_handler)
    sys.exit(main())
