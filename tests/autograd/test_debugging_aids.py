"""The debugging aids on a real model: graph and DOT of its loss, hooks and retain_grad on its
intermediate tensors, detect_anomaly in its layers' forward and backward passes, the repr, and
NUMBA_DISABLE_JIT=1 giving every kernel's numbers bit for bit.

tests/test_debug.py and tests/test_tensor.py check the same aids on single ops.
"""

import importlib
import os
import pkgutil
import re
import shutil
import subprocess
import sys
import warnings

import numpy as np
import pytest

from tinyvid import Function, Tensor, debug, losses
from tinyvid.cli import build_model
from tinyvid.utils import clear_session, set_random_seed


def document_model(frame_size=8, num_classes=3):
    """The source document's model (section 4.2), at a small frame size."""
    clear_session()
    set_random_seed(0)
    return build_model(num_classes, frame_size)


def batch(n=2, frame_size=8, num_classes=3):
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (n, frame_size, frame_size, 3)).astype(np.float32)
    return x, np.eye(num_classes, dtype=np.float32)[np.arange(n) % num_classes]


def forward_layer_by_layer(model, x):
    """The model's forward pass, keeping every layer's output (a Tensor)."""
    outputs, h = [], x
    for layer in model.layers:
        h = layer(h)
        outputs.append(h)
    return outputs


def weight_grads(model):
    return [None if w.grad is None else w.grad.copy() for w in model.weights]


def clear_grads(model):
    for w in model.weights:
        w.grad = None


LOSS = losses.CategoricalCrossentropy()


# --- graph, to_dot and repr on the document's model -------------------------------------------


def test_graph_of_a_models_loss_shows_each_op_by_its_function_class_name():
    model = document_model()
    x, y = batch()
    text = debug.graph(LOSS(y, model(x)))
    lines = text.splitlines()
    assert lines[0] == "Mean  shape=()  float32"
    assert re.search(r"Conv2D  shape=\(2, 6, 6, 32\)  float32\n.*constant  shape=\(2, 8, 8, 3\)", text)
    assert "Conv2D  shape=(2, 4, 4, 64)  float32" in text
    assert "Reshape  shape=(2, 1024)  float32" in text  # Flatten
    assert text.count("Dense  shape=") == 2 and text.count("Conv2D  shape=") == 2
    assert "LogSoftmax" in text and "Softmax  shape" not in text.replace("LogSoftmax", "")
    # Every weight is a leaf that requires grad; the frames and labels are constants.
    assert text.count("requires_grad") == len(model.weights) == 8
    assert text.count("constant") == 2
    # The names are the Function classes' own, so `grep "class Conv2D"` finds the backward.
    classes, todo = set(), [Function]
    while todo:  # every Function subclass tinyvid defines, wherever it lives
        cls = todo.pop()
        todo += cls.__subclasses__()
        if cls.__module__.startswith("tinyvid."):
            classes.add(cls.__name__)
    named = {line.split("─ ")[-1].split()[0] for line in lines}
    assert named - {"leaf", "constant"} <= classes


def test_to_dot_of_a_models_loss_declares_every_node_and_one_edge_per_input():
    model = document_model()
    x, y = batch()
    loss = LOSS(y, model(x))
    dot = debug.to_dot(loss)
    nodes = re.findall(r"^  (n\d+) \[label=\"([^\"]*)\"", dot, flags=re.M)
    edges = re.findall(r"^  (n\d+) -> (n\d+);$", dot, flags=re.M)
    declared = {name for name, _ in nodes}
    assert len(declared) == len(nodes) == 13 + 2 + 8  # ops, constants (frames, labels), weights
    assert all(a in declared and b in declared for a, b in edges)
    labels = [label for _, label in nodes]
    assert labels.count("Conv2D\\n(2, 6, 6, 32) float32") == 1
    assert sum(label.startswith("leaf") for label in labels) == 8
    # one edge per input of each op: Conv2D x2 (3 each), ReLU x3, Reshape, Dense x2 (3 each),
    # LogSoftmax, Mul (2), Sum, Neg, Mean
    assert len(edges) == 3 + 3 + 3 + 1 + 3 + 3 + 1 + 2 + 1 + 1 + 1
    if shutil.which("dot"):  # Graphviz, when installed, must accept it
        subprocess.run(["dot", "-Tsvg"], input=dot, text=True, capture_output=True, check=True)


def test_to_dot_is_valid_graphviz_for_a_graph_with_a_shared_input():
    x = Tensor(np.ones(3), requires_grad=True)
    dot = debug.to_dot((x * x + x).sum())
    assert len(re.findall(r"^  n\d+ \[label=", dot, flags=re.M)) == 4  # x, Mul, Add, Sum
    assert dot.count("->") == 5  # x -> Mul twice (x * x), Mul -> Add, x -> Add, Add -> Sum
    if shutil.which("dot"):
        subprocess.run(["dot", "-Tsvg"], input=dot, text=True, capture_output=True, check=True)


def test_repr_shows_shape_dtype_and_the_op_that_made_a_models_tensors():
    model = document_model()
    x, _ = batch()
    outputs = forward_layer_by_layer(model, x)
    assert repr(outputs[0]).endswith("shape=(2, 6, 6, 32), dtype=float32, op=ReLU)")
    assert repr(outputs[2]).endswith("shape=(2, 1024), dtype=float32, op=Reshape)")
    assert repr(outputs[4]).endswith("shape=(2, 3), dtype=float32, op=Softmax)")
    kernel = model.layers[0].kernel
    assert repr(kernel) == "Tensor(..., shape=(3, 3, 3, 32), dtype=float32, requires_grad=True, name='conv2d/kernel')"


# --- hooks and retain_grad on a model's intermediate tensors ----------------------------------


def test_a_hook_on_a_models_intermediate_sees_the_gradient_that_retain_grad_keeps():
    model = document_model()
    x, y = batch()
    outputs = forward_layer_by_layer(model, x)
    second_conv = outputs[1].retain_grad()
    seen = []
    second_conv.register_hook(lambda grad: seen.append(grad.copy()))
    LOSS(y, outputs[-1]).backward()
    assert len(seen) == 1 and seen[0].shape == (2, 4, 4, 64)
    np.testing.assert_array_equal(seen[0], second_conv.grad)
    assert np.any(seen[0] != 0)


def test_a_hook_returning_an_array_replaces_the_gradient_for_the_layers_below_only():
    model = document_model()
    x, y = batch()
    LOSS(y, model(x)).backward()
    plain = weight_grads(model)
    clear_grads(model)

    outputs = forward_layer_by_layer(model, x)
    handle = outputs[1].register_hook(lambda grad: 2 * grad)  # after the second convolution
    LOSS(y, outputs[-1]).backward()
    doubled = weight_grads(model)
    for i, (before, after) in enumerate(zip(plain, doubled)):
        # weights 0-3 are the two convolutions (below the hook), 4-7 the Dense layers (above)
        np.testing.assert_array_equal(after, 2 * before if i < 4 else before, err_msg=f"weight {i}")

    handle.remove()
    clear_grads(model)
    LOSS(y, outputs[-1]).backward()  # the same graph again, the hook gone
    for before, after in zip(plain, weight_grads(model)):
        np.testing.assert_allclose(after, before, rtol=1e-6)


def test_intermediates_drop_their_gradient_by_default_and_the_weights_keep_theirs():
    model = document_model()
    x, y = batch()
    outputs = forward_layer_by_layer(model, x)
    LOSS(y, outputs[-1]).backward()
    assert all(t.grad is None for t in outputs)
    assert all(w.grad is not None and w.grad.shape == w.shape for w in model.weights)


def test_a_hook_on_the_softmax_output_is_not_called_because_the_loss_starts_from_the_logits():
    # The tutorial (section 7.2) warns about this; categorical_crossentropy skips the Softmax.
    model = document_model()
    x, y = batch()
    probabilities = model(x)
    called = []
    probabilities.register_hook(lambda grad: called.append(grad))
    LOSS(y, probabilities).backward()
    assert probabilities.op == "Softmax" and called == []
    assert model.layers[-1].kernel.grad is not None


def test_register_hook_refuses_a_tensor_no_gradient_will_reach():
    with pytest.raises(RuntimeError, match="does not require grad"):
        Tensor(np.ones(2)).register_hook(print)


# --- detect_anomaly in a real layer -----------------------------------------------------------


def test_detect_anomaly_names_a_conv2d_forward_that_makes_nan_and_the_callers_line():
    model = document_model()
    x, _ = batch()
    x[0, 3, 3, 1] = np.nan  # one bad pixel
    with debug.detect_anomaly():
        with pytest.raises(FloatingPointError) as caught:
            model(x)
    message = str(caught.value)
    assert message.startswith("Conv2D forward produced nan (output shape (2, 6, 6, 32), "
                              "input shapes (2, 8, 8, 3), (3, 3, 3, 32), (32,))")
    assert re.search(r"created at .*test_debugging_aids\.py:\d+ in test_detect_anomaly_names_a_conv2d",
                     message)


def test_detect_anomaly_names_a_conv2d_backward_that_overflows_and_which_gradient():
    model = document_model()
    x, _ = batch()
    with debug.detect_anomaly():
        conv = model.layers[0](x)
        with pytest.raises(FloatingPointError) as caught:
            conv.backward(np.full(conv.shape, 3e38, dtype=np.float32))  # dw = sum over 72 pixels
    message = str(caught.value)
    assert message.startswith("Conv2D backward produced inf in the gradient of input 1 "
                              "(output shape (2, 6, 6, 32), input shapes (2, 8, 8, 3), (3, 3, 3, 32), (32,))")
    assert "test_debugging_aids.py" in message


def test_detect_anomaly_finds_the_users_line_in_a_folder_called_tinyvid(tmp_path):
    # A clone of the repository is a folder called tinyvid: its scripts are still the user's.
    script = tmp_path / "tinyvid" / "docs" / "my_script.py"
    code = compile("x = Tensor([0.0], requires_grad=True)\ny = x.log()\n", str(script), "exec")
    with debug.detect_anomaly():
        with pytest.raises(FloatingPointError, match=re.escape(f"created at {script}:2 in <module>")):
            exec(code, {"Tensor": Tensor})


def test_detect_anomaly_says_when_the_tensor_was_made_outside_it():
    x = Tensor([0.0, 4.0], requires_grad=True)
    y = x**0.5  # made before detect_anomaly(), so where it was made is not known
    with debug.detect_anomaly(), pytest.raises(FloatingPointError, match="outside detect_anomaly"):
        y.sum().backward()


def test_detect_anomaly_silences_numpys_warnings_and_restores_the_mode_after_an_error():
    from tinyvid.autograd import grad_mode as engine

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a RuntimeWarning from np.log would fail the test
        with pytest.raises(FloatingPointError, match="^Log forward produced inf"):
            with debug.detect_anomaly():
                Tensor([0.0]).log()
    assert engine.switches.anomaly_mode is False
    assert np.geterr()["divide"] == "warn"
    with debug.detect_anomaly():
        with debug.detect_anomaly():
            pass
        assert engine.switches.anomaly_mode is True
    assert engine.switches.anomaly_mode is False


# --- NUMBA_DISABLE_JIT=1: the kernels run as plain Python, with the same numbers ------------------

def jitted_kernels():
    """Every loop kernel numba compiles, by module of tinyvid.kernels, found by walking them."""
    import numba

    from tinyvid import kernels

    found = {}
    for info in pkgutil.iter_modules(kernels.__path__):
        module = importlib.import_module(f"tinyvid.kernels.{info.name}")
        names = {name for name, obj in vars(module).items()
                 if isinstance(obj, numba.core.dispatcher.Dispatcher)
                 and obj.py_func.__module__ == module.__name__}
        if names:
            found[info.name] = names
    return found


def public_kernels():
    """The kernels tinyvid.kernels exports (its __all__), without the geometry and the process
    settings, which are not kernels."""
    from tinyvid import kernels

    not_kernels = {"tinyvid.kernels.geometry", "tinyvid.kernels.process"}
    return {name for name in kernels.__all__
            if getattr(kernels, name).__module__ not in not_kernels}


# Calls every public kernel of tinyvid.kernels on small inputs; leaves the arrays in `results`.
# test_calls_reaches_every_kernel fails when a kernel is added and not called here.
CALLS = r"""
import numpy as np
from tinyvid import kernels
from tinyvid.kernels import optim, pool3d

results = {}
for dtype in (np.float32, np.float64):
    rng = np.random.default_rng(0)
    r = lambda *shape: rng.standard_normal(shape).astype(dtype)
    x, w, b = r(2, 7, 6, 3), r(3, 3, 3, 4), r(4)
    for strides, padding in ((1, "valid"), (2, "same")):
        key = f"{np.dtype(dtype).name}-{strides}-{padding}"
        y = kernels.conv2d_forward(x, w, b, strides, padding)
        results["conv2d_forward " + key] = y
        grads = kernels.conv2d_backward(r(*y.shape), x, w, strides, padding)
        results.update({f"conv2d_backward {i} {key}": g for i, g in enumerate(grads)})
        g = kernels.conv_geometry(x.shape, w.shape, strides, padding)
        args = (0, g.out_h, g.out_w, 3, 3, g.sh, g.sw, g.dil_h, g.dil_w, g.pad_top, g.pad_left)
        cols = kernels.im2col(x, *args, np.empty((2 * g.out_h * g.out_w, 27), dtype))
        results["im2col " + key] = cols
        results["col2im " + key] = kernels.col2im(r(*cols.shape), *args, np.empty_like(x))

        y, argmax = kernels.max_pool2d_forward(x, 2, strides, padding)
        results["max_pool2d_forward " + key] = y
        results["max_pool2d_forward argmax " + key] = argmax
        results["max_pool2d_backward " + key] = kernels.max_pool2d_backward(r(*y.shape), argmax, x.shape)
        y = kernels.avg_pool2d_forward(x, 3, strides, padding)
        results["avg_pool2d_forward " + key] = y
        results["avg_pool2d_backward " + key] = kernels.avg_pool2d_backward(
            r(*y.shape), x.shape, 3, strides, padding)

        clip = r(2, 4, 5, 6, 3)
        y, argmax = pool3d.max_pool3d_forward(clip, 2, strides, padding)
        results["max_pool3d_forward " + key] = y
        results["max_pool3d_backward " + key] = pool3d.max_pool3d_backward(r(*y.shape), argmax,
                                                                          clip.shape)
        y = pool3d.avg_pool3d_forward(clip, 2, strides, padding)
        results["avg_pool3d_forward " + key] = y
        results["avg_pool3d_backward " + key] = pool3d.avg_pool3d_backward(
            r(*y.shape), clip.shape, 2, strides, padding)

    t = np.dtype(dtype).name
    x2, w2, b2 = r(5, 4), r(4, 3), r(3)
    results["dense_forward " + t] = kernels.dense_forward(x2, w2, b2)
    grads = kernels.dense_backward(r(5, 3), x2, w2)
    results.update({f"dense_backward {i} {t}": g for i, g in enumerate(grads)})

    theta, m, v = r(50), np.zeros(50, dtype), np.zeros(50, dtype)
    f = np.dtype(dtype).type
    for step in range(3):
        optim.adam_update(theta, r(50), m, v, f(0.1), f(0.001), f(0.01), f(1e-7))
    results.update({"adam_update theta " + t: theta, "adam_update m " + t: m,
                    "adam_update v " + t: v})
    for momentum, centered in ((0.0, False), (0.5, True)):
        theta, v, m, a = r(50), np.zeros(50, dtype), np.zeros(50, dtype), np.zeros(50, dtype)
        for step in range(3):
            optim.rmsprop_update(theta, r(50), v, m, a, f(0.9), f(0.1), f(momentum), f(1e-7),
                                 f(0.01), momentum > 0, centered)
        key = f"{t} {momentum} {centered}"
        results.update({"rmsprop_update theta " + key: theta, "rmsprop_update v " + key: v,
                        "rmsprop_update m " + key: m, "rmsprop_update a " + key: a})
"""

# Run before CALLS in the plain-Python run: records the name of every function that runs.
RECORD_CALLS = r"""
import sys
called = set()
sys.setprofile(lambda frame, event, arg: event == "call" and called.add(frame.f_code.co_name))
"""


def test_every_jitted_kernel_is_a_plain_function_with_its_jitted_alias():
    from tinyvid import kernels

    jitted = jitted_kernels()
    assert {"conv", "pool", "optim"} <= set(jitted)  # the walk finds them
    for module_name, names in jitted.items():
        module = getattr(kernels, module_name)
        for name in names:
            plain = getattr(module, "_" + name, None)
            assert plain is not None and getattr(module, name).py_func is plain, (
                f"kernels/{module_name}.py: {name} should be njit(...)(_{name}), with the plain "
                f"function _{name} beside it")


def test_numba_disable_jit_runs_every_kernel_as_plain_python_with_identical_results(tmp_path):
    # In this process the kernels are jitted; NUMBA_DISABLE_JIT is read when numba is imported,
    # so the plain-Python run needs a fresh interpreter.
    jitted = {}
    exec(CALLS, jitted)
    jitted = jitted["results"]

    saved = tmp_path / "plain.npz"
    jitted_by_module = jitted_kernels()
    check = "".join(
        f"assert getattr(kernels.{module}, {name!r}) is getattr(kernels.{module}, '_' + {name!r})\n"
        for module, names in jitted_by_module.items() for name in sorted(names))
    script = (RECORD_CALLS + CALLS + "sys.setprofile(None)\n" + check
              + "np.savez(sys.argv[1], **results)\nprint(' '.join(sorted(called)))\n")
    env = dict(os.environ, NUMBA_DISABLE_JIT="1")
    done = subprocess.run([sys.executable, "-c", script, str(saved)], env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    # CALLS reached every public kernel and the plain twin of every jitted loop kernel: a kernel
    # added to kernels/ without a call here fails the test instead of going unchecked.
    from tinyvid import kernels

    called = set(done.stdout.split())  # the plain functions' names: _im2col for im2col
    expected = {getattr(getattr(kernels, name), "py_func", getattr(kernels, name)).__name__
                for name in public_kernels()}
    expected |= {"_" + name for names in jitted_by_module.values() for name in names}
    assert not expected - called, f"add calls of {sorted(expected - called)} to CALLS"
    with np.load(saved) as plain:
        assert sorted(plain.files) == sorted(jitted)
        for key in jitted:
            assert plain[key].dtype == jitted[key].dtype, key
            np.testing.assert_array_equal(plain[key], jitted[key], err_msg=key)
