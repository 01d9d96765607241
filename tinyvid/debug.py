"""Debugging aids: `graph`, `to_dot`, `detect_anomaly`.

The public face of tinyvid.autograd.debug: the code, and its documentation, live in tinyvid/autograd/debug.py.
"""

from tinyvid.autograd.debug import *  # noqa: F403
from tinyvid.autograd.debug import __all__  # noqa: F401
