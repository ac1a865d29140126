import gc
import threading
import weakref

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
