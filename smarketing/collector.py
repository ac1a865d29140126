"""Python's cyclic garbage collector, made to run rarely where the app makes many objects.

A bulk job (the CSV import) makes millions of short-lived objects: rows, tuples, strings, a
chunk's lists. None of them form reference cycles, so reference counting frees them all; but
each allocation counts towards the collector's next run, which then walks every young object,
and every so often the whole heap (Django's own objects included). In the import, that was
about 1.6 s of the importing process's time per 300,000 rows (15 full collections of 27–63 ms
each, wall time measured with ``gc.callbacks``), and about 4 µs a row in the parser process
(bench/README.md, CSV import, seventh session).

``rare_collections()`` moves what exists already out of the collector's sight (``gc.freeze``)
and raises the threshold of its first generation, then puts both back. The collector still
runs, only less often: a cycle made meanwhile is still found. It is process-wide: nested or
overlapping uses (threads) count, and the last one out restores the settings the first one
found.

``settle_for_serving()`` freezes, for good, what a process that serves requests or runs tasks
has loaded (``smarketing.wsgi``; ``smarketing.celery`` in each worker process): Django, the
app and its modules stay for the process's life, and the full collections walked them again
and again for nothing. It leaves the thresholds as they are. Measured in the ingestion
benchmark (campaign-tagged mix, the collector's own CPU time from ``gc.callbacks``): each
Celery worker process spent 1.5 of its 8.3 s in the collector, 0.5 of 7.2 s once settled;
each gunicorn worker 0.73 of 8.7 s, 0.45 of 8.2 s (bench/README.md, event ingestion, seventh
session). Raising the young threshold to 50,000 there as well saved nothing more: fewer but
larger young collections cost gunicorn 0.31 s against 0.13.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

YOUNG_THRESHOLD = 50_000  # allocations between collections of the youngest generation (Python's default: 700)

_lock = threading.Lock()
_users = 0
_saved: tuple[int, int, int] | None = None
_settled = False  # settle_for_serving ran: the loaded app is frozen for the process's life


def settle_for_serving() -> None:
    """Freeze what the process has loaded, for good (see the module's docstring). Call once the
    app is loaded, in the process that serves."""
    global _settled
    with _lock:
        gc.freeze()
        _settled = True


@contextmanager
def rare_collections(threshold: int = YOUNG_THRESHOLD) -> Iterator[None]:
    """Within the block, the cyclic collector runs rarely and ignores the objects that existed
    before it (see the module's docstring)."""
    global _users, _saved
    with _lock:
        if _users == 0:
            _saved = gc.get_threshold()
            if not _settled:
                gc.freeze()
            gc.set_threshold(max(threshold, _saved[0]), *_saved[1:])
        _users += 1
    try:
        yield
    finally:
        with _lock:
            _users -= 1
            if _users == 0 and _saved is not None:
                gc.set_threshold(*_saved)
                if not _settled:  # a settled process keeps its loaded app frozen
                    gc.unfreeze()
                _saved = None
