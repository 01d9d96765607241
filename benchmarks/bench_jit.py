"""JIT: the first call of each kernel in a fresh process, with an empty cache and a warm one.

numba compiles a kernel the first time it is called with new argument types, and with
`cache=True` writes the machine code to disk; a later process loads it instead. This runs one
small script twice in fresh processes sharing a new, empty NUMBA_CACHE_DIR: the first run
compiles and fills the cache (what the first run after installing or editing tinyvid pays), the
second loads it (every run after that). Each row is the first call's wall time, float32.

Run it:  python -m benchmarks.bench_jit
"""

import json
import os
import subprocess
import sys
import tempfile

from benchmarks.common import standalone_main

# The first call of each kernel family, as a training step makes them (float32).
FIRST_CALLS = r"""
import json, time
t0 = time.perf_counter()
import numpy as np
from tinyvid import kernels as K
from tinyvid.kernels.optim import adam_update
times = {"import tinyvid.kernels": time.perf_counter() - t0}
x = np.ones((2, 6, 6, 3), np.float32); w = np.ones((3, 3, 3, 4), np.float32)
def first(name, fn):
    t = time.perf_counter(); fn(); times[name] = time.perf_counter() - t
first("conv2d forward (im2col)", lambda: K.conv2d_forward(x, w))
dy = np.ones((2, 4, 4, 4), np.float32)
first("conv2d backward (+ col2im)", lambda: K.conv2d_backward(dy, x, w))
first("max_pool2d fwd+bwd", lambda: K.max_pool2d_backward(np.ones((2, 3, 3, 3), np.float32),
      K.max_pool2d_forward(x)[1], x.shape))
first("avg_pool2d fwd+bwd", lambda: (K.avg_pool2d_forward(x), K.avg_pool2d_backward(
      np.ones((2, 3, 3, 3), np.float32), x.shape)))
a = np.ones(8, np.float32); f = np.float32
first("adam update", lambda: adam_update(a, a.copy(), a.copy(), a.copy(), f(.1), f(.001),
      f(.001), f(1e-7)))
print(json.dumps(times))
"""


def run(quick=False):
    """Rows {name, cold_seconds, warm_seconds}: one per kernel family, then the total.

    `quick` changes nothing: the two runs are needed either way and take seconds.
    """
    with tempfile.TemporaryDirectory(prefix="tinyvid-numba-cache-") as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        env.pop("NUMBA_DISABLE_JIT", None)
        runs = []
        for _ in range(2):
            out = subprocess.run([sys.executable, "-c", FIRST_CALLS], env=env, check=True,
                                 capture_output=True, text=True).stdout
            runs.append(json.loads(out.strip().splitlines()[-1]))
    cold, warm = runs
    rows = [dict(name=f"first call: {k}", cold_seconds=cold[k], warm_seconds=warm[k]) for k in cold]
    rows.append(dict(name="total", cold_seconds=sum(cold.values()), warm_seconds=sum(warm.values())))
    return rows


TITLE = "JIT: first call in a fresh process (float32)"
COLUMNS = [("name", "kernel", "{}"), ("cold_seconds", "empty cache s", "{:.2f}"),
           ("warm_seconds", "warm cache s", "{:.3f}")]


if __name__ == "__main__":
    standalone_main(sys.modules[__name__])
