"""Run functions at the same moment in threads, each with its own database connection."""

from __future__ import annotations

import threading

from django.db import connection


def race(*fns) -> list[object]:
    """Run each function in its own thread, released at once; return each result or exception."""
    barrier = threading.Barrier(len(fns))
    results: list[object] = []

    def worker(fn):
        try:
            barrier.wait()
            results.append(fn())
        except Exception as exc:
            results.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(fn,)) for fn in fns]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    return results
