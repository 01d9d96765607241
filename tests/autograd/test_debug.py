"""Debugging aids: graph text, DOT, and detect_anomaly naming the op and where the tensor was made."""

import numpy as np
import pytest

import tinyvid
from tinyvid import Tensor, debug


def test_graph_names_each_op_with_shapes_and_marks_leaves():
    x = Tensor(np.ones((2, 3)), requires_grad=True)
    w = Tensor(np.ones((3, 4)))
    hidden = (x @ w).relu()
    text = debug.graph((hidden * hidden).sum())
    lines = text.splitlines()
    assert lines[0] == "Sum  shape=()  float64"
    assert "MatMul  shape=(2, 4)" in text
    assert "leaf  shape=(2, 3)  float64  requires_grad" in text
    assert "constant  shape=(3, 4)" in text
    assert text.count("ReLU") == 2 and "(shown above)" in text  # used twice, drawn once


def test_to_dot_is_graphviz_text_with_one_edge_per_input():
    x = Tensor(np.ones(3), requires_grad=True)
    dot = debug.to_dot((x * 2).sum())
    assert dot.startswith("digraph tinyvid {") and dot.endswith("}")
    assert dot.count("->") == 3  # x -> Mul, 2 -> Mul, Mul -> Sum
    assert "Mul\\n(3,) float64" in dot


def test_detect_anomaly_names_the_forward_op_and_the_callers_line():
    x = Tensor([1.0, -1.0], requires_grad=True)
    with debug.detect_anomaly(), np.errstate(invalid="ignore"):
        with pytest.raises(FloatingPointError, match=r"Log forward produced nan .* created at .*test_debug.py:\d+"):
            x.log()


def test_detect_anomaly_catches_a_backward_that_makes_inf():
    x = Tensor([0.0, 4.0], requires_grad=True)
    with debug.detect_anomaly(), np.errstate(divide="ignore"):
        y = x**0.5  # fine forward (sqrt(0) = 0), but d sqrt(x)/dx = inf at 0
        with pytest.raises(FloatingPointError, match="Pow backward produced inf"):
            y.sum().backward()


def test_without_detect_anomaly_nan_passes_silently_as_in_numpy():
    with np.errstate(invalid="ignore"):
        assert np.isnan(Tensor([-1.0]).log().item())
    assert not tinyvid.autograd.grad_mode.switches.anomaly_mode


def test_layer_weights_are_named_in_graph_dot_and_repr():
    from tinyvid.layers import Dense

    layer = Dense(2, name="classifier")
    out = layer(Tensor(np.ones((1, 3), dtype=np.float32))).sum()
    assert "leaf classifier/kernel  shape=(3, 2)" in debug.graph(out)
    assert "leaf classifier/bias\\n(2,) float32" in debug.to_dot(out)
    assert "name='classifier/kernel'" in repr(layer.trainable_weights[0])
