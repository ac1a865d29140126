"""Benchmark: one-by-one lead creation over the HTTP API, against gunicorn on PostgreSQL.

Target (DESIGN.md): 400 leads/s on the 2-core CI machine, load generator on the same machine.
Run from the repository root with a database name that does not exist yet::

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/smarketing_bench_create \\
        .venv/bin/python bench/lead_create.py

It creates and migrates that database, an organisation with an admin and an API token,
starts ``gunicorn smarketing.wsgi:application`` (``--workers`` 3 sync workers by default) on a
free port of 127.0.0.1 with DEBUG=false, then POSTs unique leads to ``/api/v1/leads`` over
``--threads`` connections: with ``wrk`` (C, a Lua script numbers the leads; the default when it
is installed) for ``--seconds`` (20) after a 3 s warm-up, or with Python ``http.client`` threads
(``--client python``) until ``--leads`` are made or ``--seconds`` pass. It prints one JSON line,
including the CPU time per lead of gunicorn, PostgreSQL's backends and the client, stops
gunicorn and drops the database (unless ``--keep``). ``--existing N`` first fills the
organisation with N leads (``smarketing.demo.leads_bulk_create``), as DESIGN.md's targets
assume an organisation holding 1,000,000.
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
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
    machine_speed,
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
    parser.add_argument(
        "--client",
        choices=["wrk", "python"],
        default="wrk" if shutil.which("wrk") else "python",
        help="load generator: wrk (C, Lua script; default when installed) or python (http.client threads)",
    )
    # Two cores run the workers, PostgreSQL and the client: more workers or connections than this
    # only queue and switch (measured: 4 workers and 8 connections made no more leads, p95 x10).
    parser.add_argument("--threads", type=int, default=4, help="concurrent client connections (default 4)")
    parser.add_argument("--workers", type=int, default=3, help="gunicorn worker processes (default 3)")
    parser.add_argument(
        "--worker-class", choices=["sync", "gthread"], default="sync", help="gunicorn worker class (default sync)"
    )
    parser.add_argument(
        "--worker-threads", type=int, default=1, help="threads per gunicorn worker, for gthread (default 1)"
    )
    parser.add_argument("--preload", action="store_true", help="gunicorn --preload (load the app before forking)")
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
    if args.client == "wrk":
        if not shutil.which("wrk"):
            parser.error("wrk is not installed (apt-get install wrk), use --client python")
        args.seconds = args.seconds or 20  # wrk runs for a time, not a count
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


# wrk's Lua: each connection POSTs the body ``lead_body`` makes, for unique lead numbers
# (request number * threads + thread number); done() prints the figures as one JSON line.
WRK_SCRIPT = """
local run, companies, nthreads = "%(run)s", %(companies)d, %(threads)d
local titles = {%(titles)s}
local seniorities = {%(seniorities)s}
local threads = {}
function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end
local counter = 0
wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer %(token)s"
wrk.headers["Content-Type"] = "application/json"
request = function()
  local i = counter * nthreads + tid
  counter = counter + 1
  local company = i %% companies
  local body = string.format(
    '{"email": "person%%d.%%s@company%%d.example", "first_name": "First%%d", "last_name": "Last%%d", '
    .. '"title": "%%s", "seniority": "%%s", "company_name": "Company %%d", "industry": "Software", '
    .. '"company_size": %%d, "country": "GB", "buyer_stage": "awareness"}',
    i, run, company, i, i, titles[i %% #titles + 1], seniorities[i %% #seniorities + 1], company, 10 + company)
  return wrk.format(nil, "/api/v1/leads", nil, body)
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK {"requests": %%d, "duration_us": %%d, "p50_us": %%d, "p95_us": %%d, "max_us": %%d, '
    .. '"connect": %%d, "read": %%d, "write": %%d, "status": %%d, "timeout": %%d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(95), latency.max,
    e.connect, e.read, e.write, e.status, e.timeout))
end
"""


def wrk_run(*, port: int, token: str, run: str, args: argparse.Namespace, seconds: float) -> dict:
    """Run wrk (one thread: it is C, the server needs the cores) and return its figures."""
    quoted = lambda items: ", ".join(f'"{item}"' for item in items)  # noqa: E731
    script = WRK_SCRIPT % {
        "run": run,
        "companies": args.companies,
        "threads": 1,
        "titles": quoted(TITLES),
        "seniorities": quoted(SENIORITIES),
        "token": token,
    }
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as lua:
        lua.write(script)
        lua.flush()
        # A request answered late is a slow request, not a lost one: wrk's 2 s default would drop it.
        command = ["wrk", "-t1", f"-c{args.threads}", f"-d{seconds:g}s", "--timeout", "30s", "-s", lua.name]
        done = subprocess.run([*command, f"http://127.0.0.1:{port}/api/v1/leads"], capture_output=True, text=True)
    line = next((x for x in done.stdout.splitlines() if x.startswith("WRK ")), None)
    if done.returncode != 0 or line is None:
        raise BenchError(f"wrk failed ({done.returncode}): {done.stderr.strip() or done.stdout.strip()}")
    return json.loads(line[4:])


def cpu_seconds(server_pid: int, database: str) -> dict[str, float]:
    """CPU time used so far by the gunicorn master and workers, and by PostgreSQL's backends
    serving ``database`` (from /proc). Per lead, it says what a create costs when the machine is
    shared and the wall-clock rate says more about the neighbours than about us."""
    tick = os.sysconf("SC_CLK_TCK")

    def used(pid: int) -> float:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        return (int(fields[11]) + int(fields[12])) / tick  # utime + stime

    children = Path(f"/proc/{server_pid}/task/{server_pid}/children").read_text().split()
    server = used(server_pid) + sum(used(int(pid)) for pid in children)
    postgres = 0.0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                command = (entry / "cmdline").read_bytes().decode(errors="replace")
            except OSError:
                continue
            if command.startswith("postgres:") and f" {database} " in command:
                postgres += used(int(entry.name))
    client = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {"server": server, "postgres": postgres, "client": client.ru_utime + client.ru_stime}


def leads_in(slug: str) -> int:
    from leads.models import Lead

    return Lead.objects.filter(organization__slug=slug).count()


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
        from django.conf import settings
        from django.db import connections

        connections.close_all()  # the server and clients do the rest
        port = free_port()
        extra = ["--worker-class", args.worker_class, "--threads", str(args.worker_threads)]
        extra += ["--preload"] if args.preload else []
        server = gunicorn_start(workers=args.workers, port=port, db_url=db_url, extra=extra)
        database = settings.DATABASES["default"]["NAME"]
        server_config = f"{args.workers} {args.worker_class} workers x {args.worker_threads} threads"
        log(f"gunicorn (pid {server.pid}, {server_config}) on 127.0.0.1:{port}; {args.client}, {args.threads} clients")

        result = {"bench": "lead_create"}
        if args.client == "wrk":
            # Each worker's first requests import and build what Django and DRF load lazily: not measured.
            wrk_run(port=port, token=token, run=f"{run}w", args=args, seconds=3)
            before = leads_in(f"bench-{run}")
            cpu_before = cpu_seconds(server.pid, database)
            figures = wrk_run(port=port, token=token, run=run, args=args, seconds=args.seconds)
            cpu_after = cpu_seconds(server.pid, database)
            seconds = figures["duration_us"] / 1e6
            # Made is what the database holds: wrk counts answers, not what they did.
            made = leads_in(f"bench-{run}") - before
            errors = sum(figures[k] for k in ("connect", "read", "write", "status", "timeout"))
            p50, p95 = figures["p50_us"] / 1000, figures["p95_us"] / 1000
            if made + errors != figures["requests"]:
                log(f"wrk answered {figures['requests']} requests; {made} leads made, {errors} errors")
            result["wrk_errors"] = {k: figures[k] for k in ("connect", "read", "write", "status", "timeout")}
        else:
            load = Load(port=port, token=token, run=run, args=args)
            threads = [threading.Thread(target=load.client) for _ in range(args.threads)]
            cpu_before = cpu_seconds(server.pid, database)
            client_cpu = time.process_time()
            t0 = time.perf_counter()
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            seconds = time.perf_counter() - t0
            cpu_after = cpu_seconds(server.pid, database)
            cpu_after["client"] += time.process_time() - client_cpu  # the client is this process
            latencies, made = sorted(load.latencies), load.created
            for error in load.errors[:5]:
                log(f"error: {error}")
            errors = len(load.errors)
            p50, p95 = percentile(latencies, 50) * 1000, percentile(latencies, 95) * 1000

        result.update(
            {
                "leads": made,
                "seconds": round(seconds, 3),
                "leads_per_s": round(made / seconds, 1) if seconds > 0 else None,
                "p50_ms": round(p50, 1),
                "p95_ms": round(p95, 1),
                "errors": errors,
                "client": args.client,
                "threads": args.threads,
                "workers": args.workers,
                "worker_class": args.worker_class,
                "worker_threads": args.worker_threads,
                "preload": args.preload,
                "existing_leads": args.existing,
                # CPU milliseconds per lead made, by who spent them (see cpu_seconds).
                "cpu_ms_per_lead": {
                    k: round((cpu_after[k] - cpu_before[k]) * 1000 / made, 2) if made else None for k in cpu_after
                },
                "load_avg_1m": os.getloadavg()[0],
                "machine": machine_speed(),  # compare runs across machines (common.machine_speed)
            }
        )
        print(json.dumps(result), flush=True)
        return 0 if not errors else 1
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
