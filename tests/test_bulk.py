"""`bulk.without_cycle_collection`: the collector paused for a block of bulk work, and the
block's objects aged at its end so that re-enabling the collector does not walk them all."""

from __future__ import annotations

import gc
import weakref

from mlgate.bulk import without_cycle_collection


class _Node:
    def __init__(self) -> None:
        self.me = self  # a cycle: only the collector frees it


def test_the_collector_is_paused_and_restored_by_the_outermost_block() -> None:
    assert gc.isenabled()
    with without_cycle_collection():
        assert not gc.isenabled()
        with without_cycle_collection():
            assert not gc.isenabled()
        assert not gc.isenabled()  # only the outermost block re-enables it
    assert gc.isenabled()


def test_the_blocks_objects_leave_the_youngest_generation_and_cycles_are_still_freed() -> None:
    with without_cycle_collection():
        kept = [[index] for index in range(1000)]
        cycle = _Node()
        gone = weakref.ref(cycle)
        del cycle
    young = {id(item) for item in gc.get_objects(generation=0)}
    assert not young & {id(item) for item in kept}, "re-enabling would walk them all"
    oldest = {id(item) for item in gc.get_objects(generation=2)}
    assert {id(item) for item in kept} <= oldest
    assert gone() is not None  # nothing collected it yet: it is garbage in a cycle
    gc.collect()
    assert gone() is None, "a cycle made in the block was never freed"
