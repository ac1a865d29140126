"""Benchmark: the CSV import (``leads.imports.import_run``) of a large file, on PostgreSQL.

Target (DESIGN.md): 1,000,000 rows with dedupe, streaming, peak memory under 300 MB, at least
20,000 rows/s. Run from the repository root with a database name that does not exist yet::

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/smarketing_bench_import \\
        .venv/bin/python bench/import_csv.py --rows 1000000

It creates and migrates that database, writes a HubSpot-style contacts CSV to a temporary
file (streamed: a few personal addresses, some invalid emails and duplicate rows, companies
shared by domain), uploads it through ``import_upload`` (encoding and header checks), and
runs the import service directly, not through Celery, twice: a first job that creates the
leads, then a second job on the same file, which must create none. Personas and an active
scoring model are set up so every row is persona-matched and fit-scored. It prints one JSON
line and drops the database (unless ``--keep``). ``--profile first`` (or ``second``) prints
that run's top functions (cProfile, the writing thread) on stderr.
"""

from __future__ import annotations

import argparse
import cProfile
import csv
import json
import os
import pstats
import resource
import sys
import tempfile
import threading
import time
from collections import defaultdict
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

REPO_ROOT = Path(__file__).resolve().parent.parent
SLUG = "bench-import"
TITLES = [
    "Marketing Manager",
    "Head of Marketing",
    "VP Sales",
    "Sales Director",
    "CTO",
    "IT Manager",
    "Operations Lead",
    "Founder",
    "Demand Generation Manager",
    "Software Engineer",
]
INDUSTRIES = ["Software", "SaaS", "Manufacturing", "Logistics", "Financial services", "Retail"]
COUNTRIES = ["GB", "DE", "NL", "FR", "US", "SE"]
HEADER = [
    "Record ID",
    "First Name",
    "Last Name",
    "Email",
    "Phone Number",
    "Job Title",
    "Company Name",
    "Company Domain Name",
    "Industry",
    "Number of Employees",
    "Country/Region",
    "Lifecycle Stage",
]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="data rows in the file (default 1000000)")
    parser.add_argument("--companies", type=int, default=100_000, help="distinct company domains (default 100000)")
    parser.add_argument("--chunk-size", type=int, default=None, help="rows per chunk (default: the service's)")
    parser.add_argument(
        "--writers", type=int, default=None, help="connections writing a chunk at once (default: the service's)"
    )
    parser.add_argument(
        "--profile", choices=["first", "second"], help="cProfile that run (the writing thread); top functions on stderr"
    )
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument(
        "--statements",
        action="store_true",
        help="per run, the PostgreSQL backend's CPU and the wall time by statement kind (COPY per table, "
        "COMMIT with its deferred foreign-key checks, each other statement by its first 60 characters), on stderr",
    )
    args = parser.parse_args(argv)
    if args.rows < 1 or args.companies < 1:
        parser.error("--rows and --companies must be at least 1")
    return args


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def peak_rss_mb() -> float:
    # ru_maxrss is in KiB on Linux (bytes on macOS).
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def children_cpu_s() -> float:
    """CPU seconds of this process's children that ended (the import's parser process)."""
    times = os.times()
    return times.children_user + times.children_system


def backend_cpu_s(pid: int) -> float | None:
    """CPU seconds of a PostgreSQL backend so far (the server is on this machine): with the
    Python process's own, what a run costs whatever else the machine does."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


class BackendsCpu:
    """CPU seconds of every PostgreSQL backend connected to the database during a run (the
    import's writer threads have connections of their own, opened and closed by the run), read
    from ``/proc`` every ``interval`` seconds by a thread: a backend that exits loses at most
    its last interval. A backend that appears during the run counts from zero. The processes
    are listed anew every ``scan_every`` samples (the machine's every process: reading them all
    each time took 2–4% of the importing process's interpreter lock). ``sampler_cpu_s`` is the
    thread's own CPU, taken off the Python figure. It also reads the peak RSS of this process's
    children (``VmHWM``: the import's parser process), ``children_peak_mb``."""

    def __init__(self, dbname: str, interval: float = 0.2, scan_every: int = 5) -> None:
        self.marker = f" {dbname} ".encode()
        self.interval = interval
        self.scan_every = scan_every
        self.samples = 0
        self.pids: list[int] = []
        self.first: dict[int, float] = {}
        self.last: dict[int, float] = {}
        self.sampler_cpu_s = 0.0
        self.children_peak_mb = 0.0
        self.stop = threading.Event()

    def backends(self) -> list[int]:
        pids = []
        me = str(os.getpid())
        for entry in os.scandir("/proc"):
            if entry.name.isdigit():
                try:
                    cmdline = Path(entry.path, "cmdline").read_bytes()
                    if Path(entry.path, "stat").read_text().rsplit(")", 1)[1].split()[1] == me:  # ppid
                        self.child_seen(entry.path)
                except OSError:
                    continue
                if cmdline.startswith(b"postgres: ") and self.marker in cmdline:
                    pids.append(int(entry.name))
        return pids

    def child_seen(self, path: str) -> None:
        for line in Path(path, "status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                self.children_peak_mb = max(self.children_peak_mb, int(line.split()[1]) / 1024)

    def sample(self, scan: bool = False) -> None:
        if scan or self.samples % self.scan_every == 0:
            self.pids = self.backends()
        self.samples += 1
        for pid in self.pids:
            cpu = backend_cpu_s(pid)
            if cpu is not None:
                self.last[pid] = cpu

    def run(self) -> None:
        cpu0 = time.thread_time()
        while not self.stop.wait(self.interval):
            self.sample()
        self.sample(scan=True)
        self.sampler_cpu_s = time.thread_time() - cpu0

    def __enter__(self) -> BackendsCpu:
        self.sample(scan=True)  # the backends there before the run count from now; new ones from zero
        self.first = dict(self.last)
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.thread.join()

    @property
    def cpu_s(self) -> float:
        return sum(cpu - self.first.get(pid, 0.0) for pid, cpu in self.last.items())


@contextmanager
def statement_costs(enabled: bool):
    """With ``--statements``: the backend CPU (``/proc``) and wall time of each statement the
    run sends, summed by kind and printed on stderr (the biggest first)."""
    if not enabled:
        yield
        return
    from django.db import connection
    from django.db.backends.base.base import BaseDatabaseWrapper
    from django.db.backends.signals import connection_created

    import leads.imports

    costs: dict[str, list[float]] = defaultdict(lambda: [0, 0.0, 0.0])
    lock = threading.Lock()  # the import's writer threads each have a connection

    def timed(kind: str, call, *args, pid: int | None = None, **kwargs):
        pid = pid or connection.connection.info.backend_pid  # this thread's connection
        cpu0, t0 = backend_cpu_s(pid), time.perf_counter()
        try:
            return call(*args, **kwargs)
        finally:
            cpu, wall = backend_cpu_s(pid) - cpu0, time.perf_counter() - t0
            with lock:
                cost = costs[kind]
                cost[0] += 1
                cost[1] += cpu
                cost[2] += wall

    def wrapper(execute, sql, params, many, context):
        return timed(sql[:60], execute, sql, params, many, context)

    def wrap(sender, connection, **kwargs):
        connection.execute_wrappers.append(wrapper)

    copy, commit = leads.imports._copy, BaseDatabaseWrapper._commit
    leads.imports._copy = lambda model, *a: timed(f"COPY {model._meta.db_table}", copy, model, *a)
    BaseDatabaseWrapper._commit = lambda self: timed(
        "COMMIT (deferred foreign-key checks)", commit, self, pid=self.connection.info.backend_pid
    )
    connection_created.connect(wrap)
    try:
        with connection.execute_wrapper(wrapper):
            yield
    finally:
        connection_created.disconnect(wrap)
        leads.imports._copy, BaseDatabaseWrapper._commit = copy, commit
        log("statements: count, backend CPU s, wall s")
        for kind, (count, cpu, wall) in sorted(costs.items(), key=lambda item: -item[1][1])[:15]:
            log(f"  {count:6d} {cpu:8.2f} {wall:8.2f}  {kind}")


def check_database_url() -> str:
    url = os.environ.get("DATABASE_URL", "")
    parts = urlsplit(url)
    if not parts.scheme.startswith("postgres") or parts.hostname != "127.0.0.1" or not parts.path.strip("/"):
        raise SystemExit("Set DATABASE_URL=postgres://postgres@127.0.0.1:5432/<a new database name>.")
    return parts.path.strip("/")


def maintenance(statement, *params) -> list:
    """Run one statement on the server's ``postgres`` database (CREATE/DROP DATABASE)."""
    import psycopg2
    from django.conf import settings

    db = settings.DATABASES["default"]
    conn_params = {"dbname": "postgres", "user": db.get("USER"), "password": db.get("PASSWORD")}
    conn_params.update({"host": db.get("HOST"), "port": db.get("PORT")})
    conn = psycopg2.connect(**{k: v for k, v in conn_params.items() if v})
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(statement, params or None)
            return cur.fetchall() if cur.description else []
    finally:
        conn.close()


def write_csv(path: Path, rows: int, companies: int) -> None:
    """A HubSpot-style export: 8% personal addresses, 0.5% invalid emails, 1% repeated rows."""
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(HEADER)
        for i in range(rows):
            n = i
            if i % 100 == 99 and i > 1000:
                n = i - 1001  # the same person again, further down the file
            company = n % companies
            if n % 25 == 3 or n % 25 == 17:
                email, domain = f"person{n}@gmail.com", ""
            else:
                domain = f"co{company}.example"
                email = f"Person{n}@{domain}" if n % 7 == 0 else f"person{n}@{domain}"
            if i % 200 == 150:
                email = f"person{n} at co{company}.example"  # not an email
            writer.writerow(
                [
                    n + 1,
                    f"First{n % 997}",
                    f"Last{n % 991}",
                    email,
                    f"+44 20 7946 {n % 10_000:04d}",
                    TITLES[n % len(TITLES)],
                    f"Company {company}",
                    domain,
                    INDUSTRIES[company % len(INDUSTRIES)],
                    10 + (company * 37) % 5000,
                    COUNTRIES[company % len(COUNTRIES)],
                    "lead",
                ]
            )


def setup_org():
    from leads.models import ScoringModel
    from personas.models import Persona
    from smarketing.accounts.models import Membership, Organization, User

    Organization.objects.filter(slug=SLUG).delete()
    org = Organization.objects.create(slug=SLUG, name="Bench import")
    user = User.objects.create(email="bench-import@example.test")
    admin = Membership.objects.create(organization=org, user=user, role=Membership.Role.ADMIN)
    Persona.objects.create(
        organization=org,
        name="Marketing Mary",
        industries=["Software", "SaaS"],
        title_keywords=["marketing", "demand generation"],
        company_size_min=50,
        company_size_max=1000,
        countries=["GB", "DE", "NL", "US"],
    )
    Persona.objects.create(
        organization=org,
        name="Ops Oliver",
        industries=["Software", "Manufacturing", "Logistics", "Financial services"],
        title_keywords=["operations", "IT"],
        company_size_min=200,
        company_size_max=2000,
    )
    Persona.objects.create(organization=org, name="Sales Sam", title_keywords=["sales"], countries=["US", "GB"])
    ScoringModel.objects.create(
        organization=org,
        version=1,
        status=ScoringModel.Status.ACTIVE,
        persona_match_points=15,
        fit_rules=[
            {"attribute": "country", "operator": "in", "value": ["GB", "DE", "US"], "points": 10},
            {"attribute": "company_size", "operator": "gte", "value": 200, "points": 10},
            {"attribute": "title", "operator": "contains", "value": "head", "points": 10},
        ],
    )
    return org, admin


def one_job(org, admin, path: Path, args, *, dbname: str, profile: bool = False) -> dict:
    """Upload the file as a new job, map it as suggested, run it: its figures."""
    from django.core.files import File

    import leads.imports
    from leads.imports import Mode, import_run, import_upload, suggest_mapping

    t0 = time.perf_counter()
    with path.open("rb") as f:
        job = import_upload(org=org, actor=admin, upload=File(f, name="contacts.csv"))
    upload_s = time.perf_counter() - t0
    job.params |= {"mapping": suggest_mapping(job.params["columns"]), "mode": Mode.SKIP}
    job.save(update_fields=["params"])

    if args.writers:
        leads.imports.WRITERS = args.writers
    profiler = cProfile.Profile() if profile else None
    python_cpu0 = time.process_time() + children_cpu_s()
    t0 = time.perf_counter()
    if profiler:
        profiler.enable()
    with BackendsCpu(dbname) as database_cpu, statement_costs(args.statements):
        job = import_run(job_id=job.pk, chunk_size=args.chunk_size)
    if profiler:
        profiler.disable()
    seconds = time.perf_counter() - t0
    # This process's threads and the parser process (a child, waited for by the run).
    python_cpu = time.process_time() + children_cpu_s() - python_cpu0 - database_cpu.sampler_cpu_s
    if profiler:
        stats = pstats.Stats(profiler, stream=sys.stderr)
        stats.sort_stats("tottime").print_stats(25)
        stats.sort_stats("cumulative").print_stats(30)
    if job.status != "done":
        raise SystemExit(f"import failed: {job.error}")
    return {
        "seconds": round(seconds, 2),
        "rows_per_s": round(job.done / seconds) if seconds else None,
        "upload_check_s": round(upload_s, 2),
        "python_cpu_s": round(python_cpu, 2),  # every thread of the import
        "db_cpu_s": round(database_cpu.cpu_s, 2),  # every backend of the database
        **job.result,
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "parser_peak_rss_mb": round(database_cpu.children_peak_mb, 1),  # 0: parsed in a thread
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    name = check_database_url()
    media = tempfile.TemporaryDirectory(prefix="bench-import-media-")
    # DEBUG=false as in production: with DEBUG, Django keeps the SQL of every query.
    os.environ.update({"DEBUG": "false", "SECRET_KEY": "bench-not-secret-" + "x" * 40, "MEDIA_ROOT": media.name})
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "smarketing.settings")
    sys.path.insert(0, str(REPO_ROOT))
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from bench.common import machine_speed
    from leads.models import Lead, StageChange

    if maintenance("SELECT 1 FROM pg_database WHERE datname = %s", name):
        raise SystemExit(f"Database {name} exists: name a new one (it may be someone's data).")
    maintenance(f'CREATE DATABASE "{name}"')
    try:
        call_command("migrate", interactive=False, verbosity=0)
        org, admin = setup_org()
        with tempfile.TemporaryDirectory(prefix="bench-import-") as tmp:
            path = Path(tmp) / "contacts.csv"
            t0 = time.perf_counter()
            write_csv(path, args.rows, args.companies)
            log(f"wrote {args.rows} rows ({path.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - t0:.1f}s")
            first = one_job(org, admin, path, args, dbname=name, profile=args.profile == "first")
            log(f"first run: {first}")
            second = one_job(org, admin, path, args, dbname=name, profile=args.profile == "second")
            log(f"second run: {second}")
            file_mb = round(path.stat().st_size / 1e6, 1)
        result = {
            "bench": "import_csv",
            "database": connection.vendor,
            "load_avg_1m": round(os.getloadavg()[0], 2),  # other work on the machine skews the figures
            "machine": machine_speed(),  # compare runs across machines (common.machine_speed)
            "rows": args.rows,
            "file_mb": file_mb,
            "first": first,
            "second": second,
            "peak_rss_mb": round(peak_rss_mb(), 1),
            "leads_in_org": Lead.objects.filter(organization=org).count(),
            "stage_changes_in_org": StageChange.objects.filter(organization=org).count(),
        }
        print(json.dumps(result), flush=True)
    finally:
        connection.close()
        if not args.keep:
            maintenance(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        media.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
