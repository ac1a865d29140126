"""Benchmark: one-by-one lead creation over the HTTP API, against gunicorn on PostgreSQL.

Target (DESIGN.md): 400 leads/s on the 2-core CI machine, load generator on the same machine.
Run from the repository root with a database name that does not exist yet::

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/smarketing_bench_create \\
        .venv/bin/python bench/lead_create.py

It creates and migrates that database, an organisation with an admin and an API token,
starts ``gunicorn smarketing.wsgi:application -w 4`` on a free port of 127.0.0.1 with
DEBUG=false, then ``--threads`` clients (keep-alive ``http.client`` connections) POST unique
leads to ``/api/v1/leads`` until ``--leads`` are made (or ``--seconds`` pass). It prints one
JSON line, stops gunicorn and drops the database (unless ``--keep``). ``--existing N`` first
fills the organisation with N leads (``smarketing.demo.leads_bulk_create``), as DESIGN.md's
targets assume an organisation holding 1,000,000.
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repository root, for bench.common

from bench.common import (
    BenchError,
    database_create,
    database_drop,
    database_url,
    free_port,
    gunicorn_start,
    gunicorn_stop,
    log,
    migrate,
    percentile,
    setup_django,
)

PASSWORD = "bench-password-0123"
SENIORITIES = ["entry", "individual", "manager", "director", "vp", "c_level", "owner"]
TITLES = ["Marketing Manager", "Head of Marketing", "VP Sales", "CTO", "Operations Lead", "Founder"]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--leads", type=int, default=5000, help="leads to create (default 5000)")
    parser.add_argument("--seconds", type=float, default=0, help="stop after this long instead (default: off)")
    parser.add_argument("--threads", type=int, default=8, help="concurrent client connections (default 8)")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn worker processes (default 4)")
    parser.add_argument("--companies", type=int, default=500, help="distinct company domains (default 500)")
    parser.add_argument(
        "--existing", type=int, default=0, help="leads the organisation holds before the run (default 0)"
    )
    parser.add_argument("--reuse", action="store_true", help="use the database if it exists (a bench database)")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args(argv)
    if args.leads < 1 or args.threads < 1 or args.workers < 1 or args.companies < 1:
        parser.error("--leads, --threads, --workers and --companies must be at least 1")
    if args.existing < 0:
        parser.error("--existing must be 0 or more")
    return args


def bench_credentials(run: str, *, existing: int = 0) -> str:
    """An organisation (holding ``existing`` leads already) with its admin, and a bearer token for the API."""
    from django.db import connection

    from smarketing.accounts.models import User
    from smarketing.accounts.services import access_token_create, organization_create
    from smarketing.demo import leads_bulk_create

    email = f"admin-{run}@bench.test"
    User.objects.create_user(email=email, password=PASSWORD)
    membership = organization_create(user=User.objects.get(email=email), name="Bench", slug=f"bench-{run}")
    if existing:
        t0 = time.perf_counter()
        leads_bulk_create(org=membership.organization, count=existing)
        with connection.cursor() as cur:
            cur.execute("VACUUM ANALYZE leads_lead")
        log(f"seeded {existing} existing leads in {time.perf_counter() - t0:.1f} s")
    _, token = access_token_create(email=email, password=PASSWORD, organization_slug=membership.organization.slug)
    return token


def lead_body(run: str, i: int, companies: int) -> bytes:
    company = i % companies
    return json.dumps(
        {
            "email": f"person{i}.{run}@company{company}.example",
            "first_name": f"First{i}",
            "last_name": f"Last{i}",
            "title": TITLES[i % len(TITLES)],
            "seniority": SENIORITIES[i % len(SENIORITIES)],
            "company_name": f"Company {company}",
            "industry": "Software",
            "company_size": 10 + company,
            "country": "GB",
            "buyer_stage": "awareness",
        }
    ).encode()


class Load:
    """Threads share a counter of leads to make; each keeps its own connection."""

    def __init__(self, *, port: int, token: str, run: str, args: argparse.Namespace) -> None:
        self.port, self.run, self.args = port, run, args
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        self.counter = itertools.count()
        self.lock = threading.Lock()
        self.latencies: list[float] = []
        self.created = 0
        self.errors: list[str] = []
        self.deadline = time.monotonic() + args.seconds if args.seconds else None

    def next_index(self) -> int | None:
        with self.lock:
            i = next(self.counter)
        if self.deadline is not None:
            return i if time.monotonic() < self.deadline else None
        return i if i < self.args.leads else None

    def client(self) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        latencies, errors, created = [], [], 0
        while (i := self.next_index()) is not None:
            body = lead_body(self.run, i, self.args.companies)
            t0 = time.perf_counter()
            try:
                conn.request("POST", "/api/v1/leads", body=body, headers=self.headers)
                response = conn.getresponse()
                payload = response.read()
                status = response.status
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                errors.append(f"{type(exc).__name__}: {exc}")
                continue
            latencies.append(time.perf_counter() - t0)
            if status == 201:
                created += 1
            else:
                errors.append(f"{status}: {payload[:200]!r}")
        conn.close()
        with self.lock:
            self.latencies += latencies
            self.created += created
            self.errors += errors


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        db_url = database_url()
    except BenchError as exc:
        log(f"refusing to run: {exc}")
        return 2
    setup_django()
    ours = False  # a database this run may drop: created now, or a bench database named by --reuse
    server = None
    try:
        database_create(reuse=args.reuse)
        ours = True
        migrate()
        run = f"{int(time.time())}"
        token = bench_credentials(run, existing=args.existing)
        from django.db import connections

        connections.close_all()  # the server and clients do the rest
        port = free_port()
        server = gunicorn_start(workers=args.workers, port=port, db_url=db_url)
        log(f"gunicorn (pid {server.pid}, {args.workers} workers) on 127.0.0.1:{port}; {args.threads} clients")

        load = Load(port=port, token=token, run=run, args=args)
        threads = [threading.Thread(target=load.client) for _ in range(args.threads)]
        t0 = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        seconds = time.perf_counter() - t0

        latencies, made = sorted(load.latencies), load.created
        for error in load.errors[:5]:
            log(f"error: {error}")
        result = {
            "bench": "lead_create",
            "leads": made,
            "seconds": round(seconds, 3),
            "leads_per_s": round(made / seconds, 1) if seconds > 0 else None,
            "p50_ms": round(percentile(latencies, 50) * 1000, 1),
            "p95_ms": round(percentile(latencies, 95) * 1000, 1),
            "errors": len(load.errors),
            "threads": args.threads,
            "workers": args.workers,
            "existing_leads": args.existing,
        }
        print(json.dumps(result), flush=True)
        return 0 if not load.errors else 1
    except BenchError as exc:
        log(f"bench failed: {exc}")
        return 2
    finally:
        if server is not None:
            gunicorn_stop(server)
        if ours and not args.keep:
            database_drop()


if __name__ == "__main__":
    sys.exit(main())
