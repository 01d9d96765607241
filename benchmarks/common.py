"""What every benchmark shares: timing in blocks with warm-ups and medians, machine facts, torch.

Absolute times drift on a shared machine, so every figure the suite reports beside another is
taken in the same run, and the ones that matter are ratios (tinyvid / PyTorch, conv / sgemm).
"""

import importlib
import importlib.util
import os
import platform
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Environment variables that change how fast BLAS, numba and PyTorch run: printed at the top.
THREAD_SETTINGS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS",
                   "OMP_NUM_THREADS", "OMP_WAIT_POLICY", "NUMBA_NUM_THREADS",
                   "NUMBA_THREADING_LAYER", "NUMBA_DISABLE_JIT", "MKL_NUM_THREADS")


def blocked_median_times(fns, rounds=3, per_block=3, warmup=1, settle=0.2):
    """Median time in seconds of each function, timed in alternating blocks.

    Each round runs every function in turn as a block: a pause of `settle` seconds, `warmup`
    untimed calls, then `per_block` timed ones. Over `rounds` rounds, drift on a shared machine
    hits every function alike. Blocks, not single calls, and the pause: each library's threads
    keep busy for a while after it returns, and slow whatever runs next. Measured: OpenBLAS's
    idle threads spin for 50-100 ms after a product (a 2048^2 sgemm, then conv2d forward took
    40 ms instead of 22 ms; after a 0.1 s pause 25 ms, after 0.2 s 22 ms), and a training step
    made right after PyTorch's ran up to 2x slower.

    Args:
        fns: name -> function of no arguments.

    Returns:
        name -> median seconds over its `rounds * per_block` timed calls.
    """
    times = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            time.sleep(settle)
            for _ in range(warmup):
                fn()
            for _ in range(per_block):
                start = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def optional_torch():
    """The torch module, or None when the `torch` extra is not installed."""
    try:
        return importlib.import_module("torch")
    except ImportError:
        return None


def torch_installed():
    """True when torch can be imported (without importing it)."""
    return importlib.util.find_spec("torch") is not None


# The loop a ChildProcessFunction runs: build `fn` from the setup code, then run it once per line
# read from the parent, answering "done" (or the error) after each run.
_CHILD_LOOP = r"""
import sys, traceback
sys.path.insert(0, sys.argv[1])
namespace = {}
exec(sys.argv[2], namespace)
fn = namespace["fn"]
print("ready", flush=True)
for line in sys.stdin:
    try:
        fn()
        print("done", flush=True)
    except Exception:
        print("error " + traceback.format_exc().replace(chr(10), " | "), flush=True)
"""


class ChildProcessFunction:
    """A function that runs in a fresh Python process: each call runs it there once and waits.

    For timing another library as its users run it, unaffected by this process's settings
    (tinyvid sets glibc's malloc to keep freed memory, which speeds PyTorch up too: see
    kernels/memory.py). A call's time includes a pipe round trip of well under 1 ms.

    Args:
        setup: Python source that defines `fn`, a function of no arguments; `benchmarks` is
            importable from it.
    """

    def __init__(self, setup):
        self.process = subprocess.Popen([sys.executable, "-c", _CHILD_LOOP, ROOT, setup],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        text=True, bufsize=1)
        self._expect("ready")

    def __call__(self):
        self.process.stdin.write("go\n")
        self.process.stdin.flush()
        self._expect("done")

    def _expect(self, word):
        line = self.process.stdout.readline().strip()
        if line != word:
            self.close()
            raise RuntimeError(f"benchmark child process: expected {word!r}, got {line!r}")

    def close(self):
        if self.process.poll() is None:
            self.process.stdin.close()
            self.process.wait(timeout=30)


def _cpu_model():
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def tune_as_training_does():
    """Apply `tinyvid.kernels.tune_for_training()`, as `fit` does when training starts.

    Importing tinyvid changes nothing process-wide, so the suite asks for the training settings
    itself, first: numba fixes its threading layer when the first parallel kernel runs, and
    machine_info() runs one to report the layer.
    """
    from tinyvid.kernels import tune_for_training

    return tune_for_training()


def numba_threading_layer():
    """The threading layer numba's parallel loops really run on ('workqueue', 'omp', 'tbb').

    numba picks it when the first parallel loop runs, so run a tiny tinyvid kernel first.
    """
    import numba
    import numpy as np

    from tinyvid.kernels.optim import adam_update

    if os.environ.get("NUMBA_DISABLE_JIT") == "1":
        return "none (NUMBA_DISABLE_JIT=1: plain Python)"
    a = np.zeros(4, dtype=np.float32)
    f = np.float32
    adam_update(a, a.copy(), a.copy(), a.copy(), f(0.1), f(0.001), f(0.001), f(1e-7))
    return numba.threading_layer()


def machine_info():
    """The facts a reader needs to compare two benchmark runs, as an ordered dict of strings."""
    import numba
    import numpy as np

    info = {
        "cpu": f"{_cpu_model()} ({os.cpu_count()} logical cores)",
        "load average": "{:.2f} {:.2f} {:.2f} (1, 5, 15 min, at the start)".format(
            *os.getloadavg()) if hasattr(os, "getloadavg") else "(unknown)",
        "python": platform.python_version(),
        "numpy": np.__version__,
        "numba": f"{numba.__version__} ({numba.config.NUMBA_NUM_THREADS} threads, threading "
                 f"layer {numba_threading_layer()})",
    }
    try:
        from threadpoolctl import threadpool_info

        blas = [p for p in threadpool_info() if p.get("user_api") == "blas"]
        info["blas"] = ", ".join(
            f"{p.get('internal_api')} {p.get('version')}, kernel {p.get('architecture')}, "
            f"{p.get('num_threads')} threads" for p in blas) or "(none found)"
    except ImportError:
        info["blas"] = "(install the bench extra for BLAS details: threadpoolctl)"
    torch = optional_torch()
    info["torch"] = (f"{torch.__version__} ({torch.get_num_threads()} threads)" if torch
                     else "not installed (pip install -e '.[torch]')")
    for name in THREAD_SETTINGS:
        info[name] = os.environ.get(name, "(unset)")
    return info


def format_table(rows, columns):
    """A plain-text table: `columns` is a list of (key, header, format) for each row dict."""
    cells = [[header for _, header, _ in columns]]
    for row in rows:
        cells.append([("" if row.get(key) is None else fmt.format(row[key]))
                      for key, _, fmt in columns])
    widths = [max(len(r[i]) for r in cells) for i in range(len(columns))]
    lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
             for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def print_machine_info(info, print_fn=print):
    width = max(map(len, info))
    for key, value in info.items():
        print_fn(f"{key:>{width}}: {value}")


def standalone_main(module, argv=None):
    """`python -m benchmarks.bench_x [--quick]`: machine facts, then that module's table."""
    import argparse

    parser = argparse.ArgumentParser(description=module.__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (a smoke run)")
    args = parser.parse_args(argv)
    tune_as_training_does()
    print_machine_info(machine_info())
    print()
    print(format_table(module.run(quick=args.quick), module.COLUMNS))
