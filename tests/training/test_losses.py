"""Each loss against the document's formula written in NumPy, its gradient by gradcheck, the
fused softmax / sigmoid paths, Keras's reduction, and the error messages."""

import numpy as np
import pytest

import tinyvid
from tinyvid import functional, losses
from tinyvid.tensor import Tensor

EPS = 1e-7


def probabilities(n=5, k=4, seed=0):
    p = np.random.default_rng(seed).uniform(0.05, 1, (n, k))
    return p / p.sum(axis=1, keepdims=True)


def one_hot(n=5, k=4, seed=0):
    return np.eye(k)[np.random.default_rng(seed + 100).integers(0, k, n)]


def ops_in_graph(t):
    """Names of every op that `t` was made from."""
    names, stack = set(), [t]
    while stack:
        node = stack.pop()
        if node is not None and node._ctx is not None:
            names.add(node.op)
            stack.extend(node._ctx.inputs)
    return names


def leaf(x):
    return Tensor(np.asarray(x, dtype=np.float64), requires_grad=True)


# --- the formulas, written out in NumPy ------------------------------------------------------------


def test_mean_squared_error_is_the_documents_formula():
    y, y_hat = np.random.default_rng(0).standard_normal((2, 6, 3))
    per_sample = np.mean((y - y_hat) ** 2, axis=-1)  # MSE = 1/n sum (y_i - y_hat_i)^2
    np.testing.assert_allclose(losses.mean_squared_error(y, leaf(y_hat)).data, per_sample)
    np.testing.assert_allclose(losses.get("mse")(y, leaf(y_hat)).item(), per_sample.mean())
    np.testing.assert_allclose(losses.MeanSquaredError()(y, leaf(y_hat)).item(), per_sample.mean())


def test_binary_crossentropy_is_the_documents_formula_with_clipping():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, (6, 2)).astype(np.float64)
    y_hat = rng.uniform(0, 1, (6, 2))
    y_hat[0, 0], y_hat[1, 1] = 0.0, 1.0  # would be log(0) without the clip
    p = np.clip(y_hat, EPS, 1 - EPS)
    per_sample = -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p), axis=-1)
    np.testing.assert_allclose(losses.binary_crossentropy(y, leaf(y_hat)).data, per_sample, rtol=1e-12)
    np.testing.assert_allclose(losses.get("binary_crossentropy")(y, leaf(y_hat)).item(), per_sample.mean())


def test_categorical_crossentropy_is_the_formula():
    y, p = one_hot(), probabilities()
    per_sample = -np.sum(y * np.log(p), axis=-1)
    np.testing.assert_allclose(losses.categorical_crossentropy(y, leaf(p)).data, per_sample, rtol=1e-12)
    # probabilities that do not sum to 1 are normalised first (Keras's rule)
    np.testing.assert_allclose(losses.categorical_crossentropy(y, leaf(3 * p)).data, per_sample, rtol=1e-12)


def test_sparse_categorical_crossentropy_picks_the_labelled_class():
    p = probabilities()
    labels = np.array([0, 3, 1, 1, 2])
    expected = -np.log(p[np.arange(5), labels])
    np.testing.assert_allclose(losses.sparse_categorical_crossentropy(labels, leaf(p)).data, expected, rtol=1e-12)
    np.testing.assert_allclose(losses.sparse_categorical_crossentropy(labels[:, None], leaf(p)).data, expected, rtol=1e-12)
    np.testing.assert_allclose(
        losses.get("sparse_categorical_crossentropy")(labels.astype(np.float32), leaf(p)).item(), expected.mean())


def test_docstrings_show_the_documents_formulas_and_sections():
    assert "3.2.1" in losses.mean_squared_error.__doc__ and "(y_i - \\hat{y}_i)^2" in losses.mean_squared_error.__doc__
    assert "3.2.2" in losses.binary_crossentropy.__doc__ and "\\log(1 - \\hat{y}_i)" in losses.binary_crossentropy.__doc__
    assert "3.2.2" in losses.categorical_crossentropy.__doc__


# --- gradients -------------------------------------------------------------------------------------


@pytest.mark.parametrize("name, y_true, make_input", [
    ("mse", np.random.default_rng(2).standard_normal((4, 3)), lambda: leaf(np.random.default_rng(3).standard_normal((4, 3)))),
    ("binary_crossentropy", np.array([[1.0], [0.0], [1.0]]), lambda: leaf([[0.3], [0.6], [0.9]])),
    ("categorical_crossentropy", one_hot(), lambda: leaf(probabilities())),
    ("sparse_categorical_crossentropy", np.array([0, 3, 1, 1, 2]), lambda: leaf(probabilities())),
])
def test_losses_pass_gradcheck(name, y_true, make_input):
    loss = losses.get(name)
    assert tinyvid.gradcheck(lambda p: loss(y_true, p), [make_input()])


@pytest.mark.parametrize("name, activation", [
    ("categorical_crossentropy", functional.softmax),
    ("binary_crossentropy", lambda z: z.sigmoid()),
])
def test_fused_paths_pass_gradcheck_through_the_activation(name, activation):
    z = leaf(np.random.default_rng(4).standard_normal((5, 4)))
    y = one_hot() if name == "categorical_crossentropy" else np.random.default_rng(5).integers(0, 2, (5, 4))
    assert tinyvid.gradcheck(lambda z: losses.get(name)(y, activation(z)), [z])


# --- the fused log-softmax (and log-sigmoid) ------------------------------------------------------


def test_softmax_output_is_fused_into_log_softmax():
    logits = leaf(np.random.default_rng(6).standard_normal((5, 4)))
    y = one_hot()
    fused = losses.categorical_crossentropy(y, functional.softmax(logits))
    by_hand = -(y * (logits.data - np.log(np.exp(logits.data).sum(-1, keepdims=True)))).sum(-1)
    np.testing.assert_allclose(fused.data, by_hand, rtol=1e-12)
    assert "LogSoftmax" in ops_in_graph(fused) and "Softmax" not in ops_in_graph(fused)
    np.testing.assert_allclose(losses.categorical_crossentropy(y, logits, from_logits=True).data, by_hand, rtol=1e-12)


def test_saturated_softmax_gives_finite_loss_and_gradient():
    # softmax of these logits is exactly [1, 0, 0] in float32: log(0) without the fusion
    logits = Tensor(np.array([[200.0, 0.0, -200.0]], dtype=np.float32), requires_grad=True)
    for name, labels in (("categorical_crossentropy", [[0.0, 0.0, 1.0]]), ("sparse_categorical_crossentropy", [2])):
        logits.grad = None
        loss = losses.get(name)(np.array(labels), functional.softmax(logits))
        loss.backward()
        assert loss.item() == pytest.approx(400.0, rel=1e-5)  # the exact value, not the clipped 16.1
        np.testing.assert_allclose(logits.grad, [[1.0, 0.0, -1.0]], atol=1e-6)


def test_saturated_sigmoid_gives_the_exact_binary_loss():
    z = Tensor(np.array([[50.0], [-50.0]], dtype=np.float32), requires_grad=True)
    loss = losses.binary_crossentropy(np.array([[0.0], [0.0]]), z.sigmoid())
    np.testing.assert_allclose(loss.data, [50.0, 0.0], atol=1e-6)
    loss.sum().backward()
    np.testing.assert_allclose(z.grad, [[1.0], [0.0]], atol=1e-6)


def test_losses_keep_float32():
    p = Tensor(probabilities().astype(np.float32), requires_grad=True)
    for name, y in (("categorical_crossentropy", one_hot()), ("mse", one_hot()),
                    ("sparse_categorical_crossentropy", np.array([0, 1, 2, 3, 0]))):
        loss = losses.get(name)(y, p)  # float64 labels must not turn the loss into float64
        assert loss.dtype == np.float32
        loss.backward()
        assert p.grad.dtype == np.float32


# --- errors ---------------------------------------------------------------------------------------------


def test_categorical_crossentropy_with_sparse_labels_says_what_to_do():
    p = Tensor(np.full((32, 10), 0.1, dtype=np.float32))
    with pytest.raises(ValueError, match=(r"received labels of shape \(32,\) .* use "
                                          r"sparse_categorical_crossentropy or one-hot labels of shape \(32, 10\)")):
        losses.get("categorical_crossentropy")(np.zeros(32, dtype=np.int64), p)


def test_sparse_categorical_crossentropy_with_one_hot_labels_says_what_to_do():
    with pytest.raises(ValueError, match=r"look like one-hot labels: use categorical_crossentropy"):
        losses.sparse_categorical_crossentropy(one_hot(), Tensor(probabilities()))
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 4\)"):
        losses.sparse_categorical_crossentropy(np.array([0, 4, 1, 1, 2]), Tensor(probabilities()))


def test_mismatched_shapes_and_unknown_names():
    with pytest.raises(ValueError, match=r"mean_squared_error: labels of shape \(4, 2\) do not match predictions of shape \(4, 3\)"):
        losses.mean_squared_error(np.zeros((4, 2)), Tensor(np.zeros((4, 3))))
    with pytest.raises(ValueError, match=r"Could not interpret loss identifier: 'crossentropy'. Known losses: .*categorical_crossentropy.*mse"):
        losses.get("crossentropy")


def test_get_accepts_objects_and_functions():
    loss = losses.CategoricalCrossentropy()
    assert losses.get(loss) is loss
    custom = losses.get(lambda y, p: (p - y).sum(axis=-1))
    assert custom(np.ones((2, 3)), Tensor(np.zeros((2, 3)))).item() == -3.0  # mean over the batch
    labels = np.array([[1.0], [0.0]])
    assert losses.binary_crossentropy(labels[:, 0], Tensor([[0.9], [0.2]])).shape == (2,)
