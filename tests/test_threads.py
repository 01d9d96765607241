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
