"""Shared test settings.

The hypothesis deadline is off: the first call of a Numba kernel compiles it, which takes longer
than any sensible deadline, and timings belong in benchmarks/ anyway.
"""

from hypothesis import HealthCheck, settings

settings.register_profile(
    "tinyvid", deadline=None, max_examples=25, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("tinyvid")
