import gc
import os
import subprocess
import sys
import threading
import weakref

from celery import signals

from smarketing import collector
from smarketing.collector import YOUNG_THRESHOLD, rare_collections


def test_the_collector_runs_rarely_within_the_block_and_as_before_after_it():
    before = gc.get_threshold()
    with rare_collections():
        assert gc.get_threshold() == (max(YOUNG_THRESHOLD, before[0]), *before[1:])
        assert gc.get_freeze_count() > 0  # what existed before is out of its sight
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_overlapping_uses_restore_the_settings_the_first_one_found():
    before = gc.get_threshold()
    entered, leave = threading.Event(), threading.Event()

    def other():
        with rare_collections():
            entered.set()
            leave.wait(5)

    thread = threading.Thread(target=other)
    thread.start()
    entered.wait(5)
    with rare_collections():
        raised = gc.get_threshold()
    assert gc.get_threshold() == raised  # the other block is still running
    leave.set()
    thread.join()
    assert gc.get_threshold() == before


def test_a_cycle_made_within_the_block_is_still_collected():
    class Node:
        pass

    with rare_collections():
        node = Node()
        node.self = node  # only the cyclic collector can free it
        ref = weakref.ref(node)
        del node
        gc.collect()
        assert ref() is None


def test_a_settled_process_keeps_its_loaded_app_frozen_through_bulk_work(monkeypatch):
    before = gc.get_threshold()
    monkeypatch.setattr(collector, "_settled", False)
    try:
        collector.settle_for_serving()
        frozen = gc.get_freeze_count()
        assert frozen > 0 and gc.get_threshold() == before  # frozen; collected as often as before
        with rare_collections():
            assert gc.get_threshold()[0] == max(YOUNG_THRESHOLD, before[0])
        # The bulk work's end did not thaw the app (thawed, the count is 0; a frozen object
        # can still be freed by reference counting meanwhile, so not "no fewer").
        assert gc.get_freeze_count() > frozen // 2
        assert gc.get_threshold() == before
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)


def test_the_web_process_settles_once_the_app_is_loaded():
    probe = "import gc, smarketing.wsgi; print(gc.get_freeze_count() > 1000, gc.get_threshold()[0] < 50_000)"
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "smarketing.settings"}
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.split() == ["True", "True"]


def test_each_celery_worker_process_settles(monkeypatch):
    calls = []
    monkeypatch.setattr(collector, "settle_for_serving", lambda: calls.append(1))

    signals.worker_process_init.send(sender=None)

    assert calls == [1]
