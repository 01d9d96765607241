"""What every benchmark shares: timing with warm-ups and medians, machine facts, torch if present.

Absolute times drift on a shared machine, so every figure the suite reports beside another is
taken in the same run, and the ones that matter are ratios (tinyvid / PyTorch, conv / sgemm).
"""

import importlib
import os
import platform
import statistics
import time


def median_time(fn, repeats=5, warmup=1):
    """Median wall time of `fn()` in seconds, after `warmup` untimed calls (JIT, caches)."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def alternating_median_times(fns, repeats=5, warmup=1):
    """Median time of each of several functions, called in turn, so drift hits all alike."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    times = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
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


def _cpu_model():
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info():
    """The facts a reader needs to compare two benchmark runs, as an ordered dict of strings."""
    import numba
    import numpy as np

    info = {
        "cpu": f"{_cpu_model()} ({os.cpu_count()} logical cores)",
        "python": platform.python_version(),
        "numpy": np.__version__,
        "numba": f"{numba.__version__} (threads {numba.config.NUMBA_NUM_THREADS}, layer {numba.config.THREADING_LAYER})",
        "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE", "(unset)"),
        "OPENBLAS_L2_SIZE": os.environ.get("OPENBLAS_L2_SIZE", "(unset)"),
    }
    try:
        from threadpoolctl import threadpool_info

        blas = [p for p in threadpool_info() if p.get("user_api") == "blas"]
        info["blas"] = ", ".join(
            f"{p.get('internal_api')} {p.get('version')} {p.get('architecture')} ({p.get('num_threads')} threads)" for p in blas
        ) or "(none found)"
    except ImportError:
        info["blas"] = "(install the bench extra for BLAS details: threadpoolctl)"
    torch = optional_torch()
    info["torch"] = f"{torch.__version__} ({torch.get_num_threads()} threads)" if torch else "not installed"
    return info


def format_table(rows, columns):
    """A plain-text table: `columns` is a list of (key, header, format) for each row dict."""
    cells = [[header for _, header, _ in columns]]
    for row in rows:
        cells.append([("" if row.get(key) is None else fmt.format(row[key])) for key, _, fmt in columns])
    widths = [max(len(r[i]) for r in cells) for i in range(len(columns))]
    lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))) for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
