"""Every Function tinyvid defines is gradchecked by one of the op tables, found from the code.

The tables (tests/autograd/test_ops.py for the engine's ops, tests/nn/test_nn_ops.py for the
network ops, tests/training/test_losses.py for the fused losses, and LAYER_OPS below for the ops
that only layers reach: 3-D convolution and pooling, batch normalization, the recurrences,
concatenation, the preprocessing layers' resampling) are lists kept by hand; this
runs each entry once, collects the ops on its graph, and fails when a Function class of
tinyvid.autograd or tinyvid.nn is on none of them: a new op then needs a table entry.
"""

import numpy as np

from tests.autograd import test_ops
from tests.nn import test_nn_ops
from tests.training import test_losses
from tinyvid import Function, Tensor, losses


def defined_functions():
    """Every Function subclass in tinyvid.autograd and tinyvid.nn, by class name."""
    found, todo = set(), [Function]
    while todo:
        cls = todo.pop()
        todo += cls.__subclasses__()
        if cls is not Function and cls.__module__.startswith(("tinyvid.autograd.", "tinyvid.nn.")):
            found.add(cls.__name__)
    return found


def ops_on_graph(y):
    seen, stack = set(), [y]
    while stack:
        t = stack.pop()
        if t._ctx is not None:
            seen.add(type(t._ctx).__name__)
            stack += [p for p in t._ctx.inputs if p is not None]
    return seen


def leaf(shape, low=-2.0, high=2.0, seed=0):
    return Tensor(np.random.default_rng(seed).uniform(low, high, shape), requires_grad=True)


def _layer(name, *args, **kwargs):
    from tinyvid import layers

    return getattr(layers, name)(*args, dtype="float64", **kwargs)


# name -> (shapes of the float64 inputs, the function of them). Each is gradchecked below (tiny
# shapes), besides its own tests in tests/layers and tests/nn.
LAYER_OPS = {
    "conv3d": ([(1, 3, 4, 4, 2)], lambda x: _layer("Conv3D", 2, 2, padding="same")(x)),
    "max_pool3d": ([(1, 4, 4, 4, 2)], lambda x: _layer("MaxPooling3D", 2)(x)),
    "avg_pool3d": ([(1, 4, 4, 4, 2)], lambda x: _layer("AveragePooling3D", 2)(x)),
    "batch_norm_training": ([(6, 3)], lambda x: _layer("BatchNormalization")(x, training=True)),
    "batch_norm_inference": ([(6, 3)], lambda x: _layer("BatchNormalization")(x)),
    "gru": ([(2, 5, 3)], lambda x: _layer("GRU", 4, return_sequences=True)(x)),
    "lstm": ([(2, 5, 3)], lambda x: _layer("LSTM", 4)(x)),
    "concatenate": ([(2, 3), (2, 4)], lambda a, b: _layer("Concatenate")([a, b])),
    "resize": ([(1, 4, 5, 2)], lambda x: _layer("Resizing", 3, 7)(x)),
    "pad_and_resize": ([(1, 4, 6, 2)], lambda x: _layer("Resizing", 6, 6,
                                                        pad_to_aspect_ratio=True)(x)),
    "affine": ([(1, 5, 5, 2)], lambda x: _layer("RandomRotation", 0.2, seed=1)(x, training=True)),
}


def test_the_ops_only_layers_reach_pass_gradcheck():
    import tinyvid

    for name, (shapes, fn) in LAYER_OPS.items():
        inputs = [leaf(shape, seed=i) for i, shape in enumerate(shapes)]
        tinyvid.utils.set_random_seed(0)  # the same random transform in every evaluation
        layer_fn = fn

        def call(*xs, layer_fn=layer_fn):
            tinyvid.utils.set_random_seed(0)
            return layer_fn(*xs)

        assert tinyvid.gradcheck(call, inputs), name


def test_every_function_is_on_the_graph_of_some_gradchecked_table_entry():
    seen = set()
    for shapes, fn in LAYER_OPS.values():
        seen |= ops_on_graph(fn(*(leaf(shape, seed=i) for i, shape in enumerate(shapes))))
    for fn, _, (low, high) in test_ops.UNARY.values():
        seen |= ops_on_graph(fn(leaf((3, 4), low, high)))
    for fn, _, (low_x, high_x), (low_y, high_y) in test_ops.BINARY.values():
        seen |= ops_on_graph(fn(leaf((3, 4), low_x, high_x), leaf((3, 4), low_y, high_y, 1)))
    for fn, _ in test_ops.REDUCTIONS.values():
        seen |= ops_on_graph(fn(leaf((3, 4)), 1, False))
    assert test_ops.test_matmul_of_stacked_matrices_and_vectors  # @ has a test of its own
    seen |= ops_on_graph(leaf((3, 4)) @ leaf((4, 2)))
    arrays = {"conv2d": [(2, 5, 5, 3), (3, 3, 3, 4), (4,)], "max_pool2d": [(2, 4, 4, 3)],
              "avg_pool2d": [(2, 4, 4, 3)], "dense": [(2, 5), (5, 3), (3,)]}
    assert set(arrays) == set(test_nn_ops.OPS)  # a new entry of OPS needs its shapes here
    for name, (fn, _, _) in test_nn_ops.OPS.items():
        seen |= ops_on_graph(fn(*(leaf(s, seed=i) for i, s in enumerate(arrays[name]))))
    # the fused loss paths of test_losses.test_fused_paths_pass_gradcheck_through_the_activation
    labels = np.eye(4)[[0, 1, 2, 3, 0]]
    z = leaf((5, 4))
    seen |= ops_on_graph(losses.get("categorical_crossentropy")(labels, test_losses.functional.softmax(z)))
    seen |= ops_on_graph(losses.get("binary_crossentropy")(labels, z.sigmoid()))
    missing = sorted(defined_functions() - seen)
    assert not missing, f"no gradcheck table reaches {missing}: add them to a table"
