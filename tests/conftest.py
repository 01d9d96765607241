"""Shared test settings.

The hypothesis deadline is off: the first call of a Numba kernel compiles it, which takes longer
than any sensible deadline, and timings belong in benchmarks/ anyway.
"""

import gc

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "tinyvid", deadline=None, max_examples=25, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("tinyvid")


@pytest.fixture(autouse=True)
def _objects_of_earlier_tests_out_of_the_gc():
    """Freeze what is alive when a test starts out of the garbage collector for that test.

    imageio's PyAV plugin runs a full gc.collect() every time it closes a video, and a full
    collection walks every tracked object: in a test process that holds numba, hypothesis and
    every earlier test's imports, that walk was most of the time of the video tests. Frozen
    objects are not walked; the test's own objects still are, and unfreezing afterwards hands
    everything back to the collector.
    """
    gc.freeze()
    yield
    gc.unfreeze()


@pytest.fixture(scope="module", autouse=True)
def _objects_of_earlier_modules_out_of_the_gc():
    """The same for a module's shared fixtures (written videos, a demo run), which run before
    the per-test freeze above: autouse fixtures of a scope come first in it."""
    gc.freeze()
    yield
    gc.unfreeze()
