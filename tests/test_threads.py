"""Training or predicting from several Python threads at once must not abort the process.

Numba's workqueue threading layer (tinyvid's choice, see kernels/__init__.py) terminates the
process when two threads launch parallel kernels together; kernels/cores.PARALLEL_LAUNCH makes
the second launch wait. Run in a subprocess: a regression would kill the test runner itself.
"""

import subprocess
import sys
import textwrap


def test_pooling_and_adam_from_two_threads_at_once():
    script = textwrap.dedent("""
        import threading
        import numpy as np
        from tinyvid.layers import Dense, Flatten, MaxPooling2D, AveragePooling2D
        from tinyvid.models import Sequential

        def train(seed):
            rng = np.random.default_rng(seed)
            model = Sequential([MaxPooling2D(2, input_shape=(8, 8, 3)), AveragePooling2D(2),
                                Flatten(), Dense(2, activation="softmax")])
            model.compile("adam", "categorical_crossentropy")
            x = rng.random((16, 8, 8, 3), dtype=np.float32)
            y = np.eye(2, dtype=np.float32)[rng.integers(0, 2, 16)]
            for _ in range(30):
                model.train_on_batch(x, y)
                model.predict(x, verbose=0)

        threads = [threading.Thread(target=train, args=(seed,)) for seed in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        print("both threads finished")
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "both threads finished" in result.stdout


# --- issue 15, item 12: the graph-recording switch is per thread ----------------------------------


def _tiny_model():
    from tinyvid.layers import Conv2D, Dense, Flatten
    from tinyvid.models import Sequential

    model = Sequential([Conv2D(4, 3, activation="relu", input_shape=(8, 8, 3)), Flatten(),
                        Dense(3, activation="softmax")])
    model.compile("adam", "categorical_crossentropy")
    return model


def _train(model, initial, x, y, steps):
    model.set_weights(initial)
    return [float(model.train_on_batch(x, y)) for _ in range(steps)]


def test_item_12_training_while_other_threads_predict_matches_single_threaded():
    import threading

    import numpy as np

    rng = np.random.default_rng(0)
    x = rng.random((16, 8, 8, 3), dtype=np.float32)
    y = np.eye(3, dtype=np.float32)[rng.integers(0, 3, 16)]
    initial = _tiny_model().get_weights()
    alone = _tiny_model()
    losses_alone = _train(alone, initial, x, y, steps=20)

    busy = _tiny_model()
    predictors = [_tiny_model() for _ in range(3)]
    done = threading.Event()
    predictions = [0] * len(predictors)

    def predict_until_done(i):
        while not done.is_set():  # enters and leaves no_grad() over and over
            predictors[i].predict(x, verbose=0)
            predictions[i] += 1

    threads = [threading.Thread(target=predict_until_done, args=(i,)) for i in range(3)]
    for thread in threads:
        thread.start()
    try:
        losses_busy = _train(busy, initial, x, y, steps=20)
    finally:
        done.set()
        for thread in threads:
            thread.join()
    assert all(count > 0 for count in predictions)  # the threads did overlap the training
    assert losses_busy == losses_alone
    for a, b in zip(alone.get_weights(), busy.get_weights()):
        np.testing.assert_array_equal(a, b)


# --- issue 15, item 13: BLAS's thread count comes back after concurrent splits --------------------


def _blas_threads():
    from threadpoolctl import threadpool_info

    return [info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"]


FOUR_THREADS = r"""
import threading

import numpy as np
from threadpoolctl import threadpool_info

from tinyvid.kernels import conv2d_forward, cores


def blas_threads():
    return [info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"]


cores.NUM_CORES, cores.MIN_PART_FLOPS = 2, 1  # split even on a 1-core machine
before = blas_threads()
rng = np.random.default_rng(0)
x = rng.random((8, 12, 12, 4), dtype=np.float32)
w = rng.random((3, 3, 4, 8), dtype=np.float32)
start = threading.Barrier(4)


def run():
    start.wait()
    for _ in range(20):
        conv2d_forward(x, w)


threads = [threading.Thread(target=run) for _ in range(4)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
assert blas_threads() == before, (blas_threads(), before)
print("ok")
"""


def test_item_13_blas_threads_restored_after_four_threads_run_conv2d_forward_at_once():
    """In a fresh process, as the next test: BLAS's settings are the whole process's."""
    import subprocess
    import sys

    import pytest

    pytest.importorskip("threadpoolctl")
    result = subprocess.run([sys.executable, "-c", FOUR_THREADS], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr[-2000:]


OVERLAPPING_LIMITS = r"""
import threading

from threadpoolctl import threadpool_info

from tinyvid.kernels import cores


def blas_threads():
    return [info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"]


if cores._blas_controller() is None:
    print("skip")
    raise SystemExit
before = blas_threads()
a_inside, b_inside, a_left = threading.Event(), threading.Event(), threading.Event()
seen = {}


def a(part):
    if part == 0:
        a_inside.set()
        b_inside.wait(10)
    return part


def b(part):
    if part == 0:
        b_inside.set()
        a_left.wait(10)
        seen["while_b_inside"] = blas_threads()
    return part


def run_a():
    cores.run_parts(a, 2)
    a_left.set()


thread_a = threading.Thread(target=run_a)
thread_a.start()
a_inside.wait(10)
thread_b = threading.Thread(target=cores.run_parts, args=(b, 2))
thread_b.start()
thread_a.join()
thread_b.join()
assert seen["while_b_inside"] == [1] * len(before), seen  # still limited while B works
assert blas_threads() == before, (blas_threads(), before)
print("ok")
"""


def test_item_13_overlapping_limits_restore_when_the_last_thread_leaves():
    """The interleaving that broke it, made certain: A enters, B enters, A leaves, B leaves.

    In a fresh process: BLAS's thread settings are process-wide, and what earlier tests in this
    process did to them (a fit, another thread's limits) must not decide this one."""
    import subprocess
    import sys

    import pytest

    pytest.importorskip("threadpoolctl")
    result = subprocess.run([sys.executable, "-c", OVERLAPPING_LIMITS], capture_output=True,
                            text=True, timeout=120)
    if result.stdout.strip() == "skip":
        pytest.skip("no BLAS threadpoolctl can limit")
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr[-2000:]


# --- issue 15, item 14: tinyvid's own processes never plain-fork ---------------------------------


def test_item_14_tinyvid_processes_start_with_spawn_or_forkserver():
    import pathlib

    import tinyvid
    from tinyvid.kernels import cores

    assert cores.process_context().get_start_method() in ("spawn", "forkserver")
    readme = (pathlib.Path(tinyvid.__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    assert "fork" in readme and "BLAS" in readme and "spawn" in readme
    import tinyvid.data

    assert "spawn" in tinyvid.data.__doc__ and "fork" in tinyvid.data.__doc__
