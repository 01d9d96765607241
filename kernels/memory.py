"""Keeping freed memory for the next training step (glibc's malloc, that is Linux).

A training step allocates the same big arrays every time: the activations, their gradients,
the 59 MB gradient of the document's model's Dense kernel. By default glibc's malloc gives every
array above its mmap threshold (128 kB, which it raises by itself up to 32 MB) pages of its own
from the kernel, and gives them back when the array is freed; the next step's array then touches
fresh pages, and the kernel stops the program to zero each one (a page fault).
docs/performance.md has the page faults and step times measured with and without it.

So, when training starts (process.py's tune_for_training), tinyvid asks malloc to serve arrays up
to MMAP_THRESHOLD from its heap and to keep up to TRIM_THRESHOLD of freed memory at the heap's top
instead of returning it:

    mallopt(M_MMAP_THRESHOLD, 1 GiB)     arrays smaller than this come from the reusable heap
    mallopt(M_TRIM_THRESHOLD, 1 GiB)     keep up to this much freed memory for the next step

The price: memory freed after training stays with the process (the operating system sees the
peak, not the current use) until the process ends. Set TINYVID_KEEP_FREED_MEMORY=0 in the
environment to keep glibc's defaults. Elsewhere (macOS, Windows, musl) this does nothing.
"""

import ctypes
import ctypes.util
import os

MMAP_THRESHOLD = 1 << 30
TRIM_THRESHOLD = 1 << 30
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's malloc.h


def keep_freed_memory() -> bool:
    """Ask glibc's malloc to reuse freed big arrays (see above). True if it was done."""
    if os.environ.get("TINYVID_KEEP_FREED_MEMORY", "1") == "0":
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt  # glibc only
    except (OSError, AttributeError):
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)
                and mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))
