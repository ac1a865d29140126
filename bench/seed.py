"""Benchmark: how fast ``smarketing.demo.leads_bulk_create`` writes leads, and in how much memory.

Run from the repository root against a PostgreSQL database (created if missing)::

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/smarketing_bench \\
        .venv/bin/python bench/seed.py --leads 100000

Prints one JSON line on stdout, for example::

    {"bench": "seed", "database": "postgresql", "leads": 100000, "seconds": 9.1, ...}

Leads go to the organisation with slug ``bench``; repeated runs add to it (``--reset`` starts
it afresh). Only the ``leads_bulk_create`` call is timed; the peak RSS is that of the whole
process (Django, migrations and the seed).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
BENCH_SLUG = "bench"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--leads", type=int, default=100_000, help="how many leads to write (default 100000)")
    parser.add_argument("--batch-size", type=int, default=5000, help="leads per INSERT batch (default 5000)")
    parser.add_argument("--reset", action="store_true", help="delete the bench organisation and its leads first")
    parser.add_argument("--allow-sqlite", action="store_true", help="run even when the database is not PostgreSQL")
    args = parser.parse_args(argv)
    if args.leads < 1:
        parser.error("--leads must be at least 1")
    if args.batch_size < 1:
        parser.error("--batch-size must be at least 1")
    return args


def setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "smarketing.settings")
    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))
    import django

    django.setup()


def ensure_postgres_database(db: dict) -> None:
    """Create the database named in DATABASE_URL unless it exists (via the ``postgres`` DB)."""
    import psycopg2
    from psycopg2 import sql

    name = db["NAME"]
    params = {
        "dbname": "postgres",
        "user": db.get("USER") or None,
        "password": db.get("PASSWORD") or None,
        "host": db.get("HOST") or None,
        "port": db.get("PORT") or None,
    }
    params.update({k: v for k, v in (db.get("OPTIONS") or {}).items() if isinstance(v, str | int)})
    conn = psycopg2.connect(**{k: v for k, v in params.items() if v is not None})
    try:
        conn.autocommit = True  # CREATE DATABASE cannot run inside a transaction
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
            if cur.fetchone() is None:
                cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
                print(f"created database {name}", file=sys.stderr)
    finally:
        conn.close()


def peak_rss_mb() -> float:
    # ru_maxrss is in KiB on Linux (bytes on macOS).
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    setup_django()

    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection, transaction
    from django.utils import timezone

    from leads.models import Lead
    from smarketing.accounts.models import Organization
    from smarketing.demo import leads_bulk_create

    db = settings.DATABASES["default"]
    is_postgres = db["ENGINE"].endswith(("postgresql", "postgis"))
    if not is_postgres and not args.allow_sqlite:
        print(
            f"refusing to run: the database is {db['ENGINE']}, not PostgreSQL. "
            "Set DATABASE_URL=postgres://... or pass --allow-sqlite.",
            file=sys.stderr,
        )
        return 2
    if is_postgres:
        ensure_postgres_database(db)

    call_command("migrate", interactive=False, verbosity=0)
    # settings.py defaults to DEBUG=true, and with DEBUG Django keeps the SQL of every query
    # in connection.queries_log: about 1 MB per 5000-lead INSERT, so memory would grow with
    # --leads. Measure what production (DEBUG=false) does.
    settings.DEBUG = False

    with transaction.atomic():
        if args.reset:
            Organization.objects.filter(slug=BENCH_SLUG).delete()
        org, _ = Organization.objects.get_or_create(slug=BENCH_SLUG, defaults={"name": "Bench"})
    start = Lead.objects.filter(organization=org).count()

    t0 = time.perf_counter()
    written = leads_bulk_create(org=org, count=args.leads, now=timezone.now(), batch_size=args.batch_size, start=start)
    seconds = time.perf_counter() - t0

    result = {
        "bench": "seed",
        "database": connection.vendor,
        "leads": written,
        "batch_size": args.batch_size,
        "seconds": round(seconds, 3),
        "leads_per_s": round(written / seconds) if seconds > 0 else None,
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "total_leads_in_org": Lead.objects.filter(organization=org).count(),
    }
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
