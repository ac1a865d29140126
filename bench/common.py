"""Helpers shared by the benchmark scripts: their own PostgreSQL database, Django, gunicorn, figures.

A benchmark database is named by ``DATABASE_URL`` and must be on 127.0.0.1. A run creates it
(refusing one that exists unless told ``--reuse``: it may be someone's data) and drops it at
the end unless told ``--keep``.
"""

from __future__ import annotations

import math
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

REPO_ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = REPO_ROOT / ".venv" / "bin"
BENCH_SECRET_KEY = "bench-not-secret-0123456789abcdefghijklmnopqrstuvwxyz"
# What production differs by (DEBUG=false) minus TLS: the benchmarks speak plain HTTP on 127.0.0.1.
PRODUCTION_ENV = {
    "DEBUG": "false",
    "SECRET_KEY": BENCH_SECRET_KEY,
    "SECURE_SSL_REDIRECT": "false",
    "SESSION_COOKIE_SECURE": "false",
    "CSRF_COOKIE_SECURE": "false",
}


class BenchError(Exception):
    """A reason not to run, said to the person at the terminal."""


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def database_url() -> str:
    url = os.environ.get("DATABASE_URL", "")
    parts = urlsplit(url)
    if not parts.scheme.startswith("postgres"):
        raise BenchError("Set DATABASE_URL=postgres://postgres@127.0.0.1:5432/<a new database name>.")
    if parts.hostname != "127.0.0.1":
        raise BenchError(f"Benchmarks only connect to 127.0.0.1, not {parts.hostname or 'a socket'}.")
    if not parts.path.strip("/"):
        raise BenchError("DATABASE_URL names no database.")
    return url


def setup_django(**env: str) -> None:
    """Django with the environment's settings plus ``env`` (set before settings are read)."""
    os.environ.update(env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "smarketing.settings")
    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))
    import django

    django.setup()


def _maintenance_connection():
    """A connection to the ``postgres`` database of the server in DATABASE_URL, in autocommit."""
    import psycopg2
    from django.conf import settings

    db = settings.DATABASES["default"]
    params = {"dbname": "postgres", "user": db.get("USER"), "password": db.get("PASSWORD")}
    params.update({"host": db.get("HOST"), "port": db.get("PORT")})
    conn = psycopg2.connect(**{k: v for k, v in params.items() if v})
    conn.autocommit = True  # CREATE/DROP DATABASE cannot run inside a transaction
    return conn


def database_create(*, reuse: bool) -> None:
    """Create the benchmark database; an existing one is used only when ``reuse`` says it is ours."""
    from django.conf import settings
    from psycopg2 import sql

    name = settings.DATABASES["default"]["NAME"]
    conn = _maintenance_connection()
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
            if cur.fetchone() is not None:
                if not reuse:
                    raise BenchError(
                        f"Database {name} exists. Name a new one in DATABASE_URL, or pass --reuse if it is a "
                        "benchmark database from an earlier --keep run (it is dropped afterwards unless --keep)."
                    )
                log(f"reusing database {name}")
                return
            cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            log(f"created database {name}")
    finally:
        conn.close()


def database_drop() -> None:
    from django.conf import settings
    from django.db import connections
    from psycopg2 import sql

    connections.close_all()
    name = settings.DATABASES["default"]["NAME"]
    conn = _maintenance_connection()
    try:
        with conn.cursor() as cur:
            cur.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        log(f"dropped database {name}")
    finally:
        conn.close()


def run_on_bench_database(
    body: Callable[[], int], *, reuse: bool, keep: bool, env: dict[str, str], after: Callable[[], None] | None = None
) -> int:
    """The frame of a benchmark: refuse without a PostgreSQL ``DATABASE_URL``, set Django up with
    ``env``, create (or reuse) and migrate the database, run ``body`` (its exit code is the
    run's), and drop the database unless ``keep``. A ``BenchError`` is said and exits 2."""
    try:
        database_url()
    except BenchError as exc:
        log(f"refusing to run: {exc}")
        return 2
    setup_django(**env)
    try:
        with _bench_database(reuse=reuse, keep=keep):
            return body()
    except BenchError as exc:
        log(f"bench failed: {exc}")
        return 2
    finally:
        if after is not None:
            after()


@contextmanager
def _bench_database(*, reuse: bool, keep: bool):
    ours = False  # a database this run may drop: created now, or a bench database named by --reuse
    try:
        database_create(reuse=reuse)
        ours = True
        migrate()
        yield
    finally:
        if ours and not keep:
            database_drop()


def migrate() -> None:
    from django.conf import settings
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)
    # With DEBUG, Django keeps the SQL of every query in memory; measure what production does.
    settings.DEBUG = False


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def gunicorn_start(*, workers: int, port: int, db_url: str, extra: Sequence[str] = ()) -> subprocess.Popen:
    """``gunicorn`` serving the app on 127.0.0.1 with production settings; returns once it answers.

    ``extra``: more gunicorn options (worker class, threads, ``--preload``).
    """
    env = {
        **os.environ,
        **PRODUCTION_ENV,
        "DATABASE_URL": db_url,
        "ALLOWED_HOSTS": "127.0.0.1",
        "DJANGO_SETTINGS_MODULE": "smarketing.settings",
    }
    command = [
        str(VENV_BIN / "gunicorn"),
        "smarketing.wsgi:application",
        "-w",
        str(workers),
        "-b",
        f"127.0.0.1:{port}",
        "--log-level",
        "warning",
        *extra,
    ]
    process = subprocess.Popen(command, cwd=REPO_ROOT, env=env)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BenchError(f"gunicorn exited with {process.returncode} before serving")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return process
        except OSError:
            time.sleep(0.1)
    gunicorn_stop(process)
    raise BenchError("gunicorn did not start within 30 s")


def gunicorn_stop(process: subprocess.Popen) -> None:
    """Stop the gunicorn we started, by its PID (TERM, then KILL if it lingers)."""
    if process.poll() is not None:
        return
    os.kill(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.kill(process.pid, signal.SIGKILL)
        process.wait()


def machine_speed() -> dict[str, float]:
    """How fast this machine is just now, to compare figures taken on different machines (or
    hours): the best of five runs of a fixed pure-Python loop, and of a fixed query that keeps
    one PostgreSQL backend busy (when Django's database is PostgreSQL), in milliseconds.

    The machines these benchmarks run on are virtual, with two cores that share their host:
    the same code's CPU a request moved by 2× between sessions, and by a quarter within an hour.
    A figure divided by these is steadier than the figure alone; lower is faster.
    """
    from django.db import connection

    def best(run: Callable[[], object]) -> float:
        times = []
        for _ in range(5):
            start = time.process_time()
            run()
            times.append(time.process_time() - start)
        return round(min(times) * 1000, 1)

    speed = {"python_loop_ms": best(lambda: sum(i * i for i in range(1_000_000)))}
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:

            def query() -> None:
                cursor.execute("SELECT sum(g) FROM generate_series(1, 2000000) AS g")

            # The backend's work, timed from here: the round trip is a fraction of a millisecond.
            times = []
            for _ in range(5):
                start = time.perf_counter()
                query()
                times.append(time.perf_counter() - start)
            speed["postgres_series_ms"] = round(min(times) * 1000, 1)
    return speed


def percentile(sorted_values: list[float], p: float) -> float:
    """The ``p``-th percentile (0–100) of already sorted values, nearest-rank."""
    if not sorted_values:
        return float("nan")
    rank = max(1, math.ceil(p / 100 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


# Production serves hashed static files from a manifest built by collectstatic; a page bench has
# none, so pages link static files unhashed (a dictionary lookup less per link).
PLAIN_STATIC = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}


def measure_in_turns(names: Sequence[str], get: Callable[[str, int], int], requests: int) -> dict:
    """Timings per page scenario, taken in turns (one request of each, ``requests`` times over),
    so that anything else the machine does at some moment weighs on every scenario alike.
    ``get(name, i)`` makes the i-th request of a scenario and returns its status code. Returns
    ``{name: (sorted seconds, non-200 answers)}``."""
    timings: dict[str, list[float]] = {name: [] for name in names}
    errors = dict.fromkeys(timings, 0)
    for i in range(requests):
        for name in names:
            t0 = time.perf_counter()
            status = get(name, i)
            timings[name].append(time.perf_counter() - t0)
            errors[name] += status != 200
    return {name: (sorted(values), errors[name]) for name, values in timings.items()}


def latency_figures(timings: list[float], *, errors: int, queries: int, target_ms: float) -> dict:
    """The figures a page scenario prints, from its sorted timings in seconds."""
    p95 = percentile(timings, 95) * 1000
    return {
        "requests": len(timings),
        "p50_ms": round(percentile(timings, 50) * 1000, 1),
        "p95_ms": round(p95, 1),
        "max_ms": round(timings[-1] * 1000, 1),
        "queries": queries,
        "errors": errors,
        "meets_target": p95 < target_ms and not errors,
    }
