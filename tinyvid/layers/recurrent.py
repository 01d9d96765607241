"""The recurrent layers: GRU and LSTM over a sequence `(batch, time, features)`.

In a video model they read the per-frame features a CNN (under TimeDistributed) made, one
frame per step, and carry a state `(batch, units)` from frame to frame:

    (batch, time, h, w, c) -TimeDistributed(CNN)-> (batch, time, features) -GRU(units)->
    (batch, units)   (the last state), or (batch, time, units) with return_sequences=True

Each layer is two ops: the input projection x W + b of all steps at once (one Dense op, BLAS),
then the recurrence of tinyvid/nn/recurrent.py, whose backward walks the steps in reverse.
Weights, their layouts, gate orders and initialisers are Keras 3's, so
`layer.set_weights(keras_layer.get_weights())` gives Keras's outputs:

    GRU    kernel (features, 3 * units) [z, r, h]   recurrent_kernel (units, 3 * units)
           bias (2, 3 * units) with reset_after=True (input bias, recurrent bias), else (3 * units,)
    LSTM   kernel (features, 4 * units) [i, f, c, o]   recurrent_kernel (units, 4 * units)
           bias (4 * units,), the forget gate's part starting at 1 (unit_forget_bias=True)

Masks: a mask `(batch, time)` (from Masking, or passed as `mask=`) makes a masked step keep the
previous state and output, so it contributes nothing to the result or to the gradients.
"""

import numbers
from typing import Any

import numpy as np

from tinyvid.autograd.tensor import Tensor
from tinyvid.layers import initializers
from tinyvid.layers.base import InputSpec, Layer, is_positive_int
from tinyvid.nn.dense import Dense as DenseFunction
from tinyvid.nn.recurrent import ACTIVATIONS
from tinyvid.nn.recurrent import GRU as GRUFunction
from tinyvid.nn.recurrent import LSTM as LSTMFunction
from tinyvid.training.rng import generator_for


class _Recurrent(Layer):
    """What GRU and LSTM share: the arguments, the weights, dropout, masks and the outputs."""

    gates = 0  # 3 for GRU, 4 for LSTM

    def __init__(self, units: Any, activation: Any = "tanh", recurrent_activation: Any = "sigmoid",
                 use_bias: bool = True, kernel_initializer: Any = "glorot_uniform",
                 recurrent_initializer: Any = "orthogonal", bias_initializer: Any = "zeros",
                 dropout: float = 0.0, recurrent_dropout: float = 0.0,
                 return_sequences: bool = False, return_state: bool = False,
                 go_backwards: bool = False, seed: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not is_positive_int(units):
            raise self._invalid("units", "expected a positive integer", units)
        self.units = int(units)
        self.activation = self._activation_name("activation", activation)
        self.recurrent_activation = self._activation_name("recurrent_activation",
                                                          recurrent_activation)
        for name, value in (("use_bias", use_bias), ("return_sequences", return_sequences),
                            ("return_state", return_state), ("go_backwards", go_backwards)):
            if not isinstance(value, (bool, np.bool_)):
                raise self._invalid(name, "expected True or False", value)
        self.use_bias, self.return_sequences = bool(use_bias), bool(return_sequences)
        self.return_state, self.go_backwards = bool(return_state), bool(go_backwards)
        for name, rate in (("dropout", dropout), ("recurrent_dropout", recurrent_dropout)):
            if not isinstance(rate, numbers.Real) or isinstance(rate, bool) or not 0 <= rate < 1:
                raise self._invalid(name, "expected a float value in [0, 1)", rate)
        self.dropout, self.recurrent_dropout = float(dropout), float(recurrent_dropout)
        for name, value in (("kernel_initializer", kernel_initializer),
                            ("recurrent_initializer", recurrent_initializer),
                            ("bias_initializer", bias_initializer)):
            try:
                initializers.get(value)
            except ValueError as error:
                raise self._invalid(name, str(error), value) from None
        self.kernel_initializer = kernel_initializer
        self.recurrent_initializer = recurrent_initializer
        self.bias_initializer = bias_initializer
        self.seed = seed
        self._generator = None if seed is None else generator_for(seed)
        self.input_spec = InputSpec(ndim=3)
        self.supports_masking = True

    def _activation_name(self, argument: str, value: Any) -> str:
        """'tanh', 'sigmoid', ... from a name, None (linear) or tinyvid's function of that name."""
        name = "linear" if value is None else value if isinstance(value, str) else getattr(
            value, "__name__", None)
        if name not in ACTIVATIONS:
            raise self._invalid(argument, f"expected one of {sorted(ACTIVATIONS)}", value)
        return name

    def build(self, input_shape: tuple) -> None:
        features = input_shape[-1]
        if features is None:
            raise ValueError(f"{self.where}: the last axis of the input (the features) must be "
                             f"known, received input shape {tuple(input_shape)}")
        n = self.gates * self.units
        self.kernel = self.add_weight((features, n), self.kernel_initializer, "kernel")
        self.recurrent_kernel = self.add_weight((self.units, n), self.recurrent_initializer,
                                                "recurrent_kernel")
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(self._bias_shape(), self._bias_initializer(), "bias")
        self.input_spec = InputSpec(ndim=3, axes={-1: features})
        self.built = True

    def _bias_shape(self) -> tuple:
        return (self.gates * self.units,)

    def _bias_initializer(self) -> Any:
        return self.bias_initializer

    def _dropout_mask(self, shape: tuple, rate: float, dtype: Any) -> np.ndarray:
        """0 or 1 / (1 - rate) per (sample, feature), the same for every step (as Keras)."""
        generator = self._generator or generator_for(None)
        keep = generator.random(shape, dtype=dtype) >= rate
        return keep.astype(dtype) * dtype.type(1.0 / (1.0 - rate))

    def call(self, x: Tensor, training: bool = False, mask: Any = None) -> Any:
        batch = x.shape[0]
        if self.go_backwards:  # read the sequence from its last step to its first
            x = x[:, ::-1]
            mask = None if mask is None else mask[:, ::-1]
        if training and self.dropout > 0:
            x = x * self._dropout_mask((batch, 1, x.shape[2]), self.dropout, x.dtype)
        keep = None
        if training and self.recurrent_dropout > 0:
            keep = self._dropout_mask((batch, self.units), self.recurrent_dropout, x.dtype)
        states = self._recurrence(x, mask, keep)  # (batch, time, units) each
        output = states[0] if self.return_sequences else states[0][:, -1]
        if self.return_state:
            return [output] + [s[:, -1] for s in states]
        return output

    def _recurrence(self, x: Tensor, mask: Any, keep: Any) -> list[Tensor]:
        raise NotImplementedError

    def compute_mask(self, x: Any, mask: Any = None) -> Any:
        """The input's mask when the output is a sequence (return_sequences=True), else None."""
        output_mask = mask if self.return_sequences else None
        if self.return_state:
            return [output_mask] + [None] * (self.gates // 2)
        return output_mask

    def get_config(self) -> dict[str, Any]:
        """Keras's keys; those of features tinyvid lacks (stateful, unroll, regularizers,
        constraints) at Keras's defaults, the only values `from_config` accepts."""
        serialize = initializers.serialize
        return {**super().get_config(), "return_sequences": self.return_sequences,
                "return_state": self.return_state, "go_backwards": self.go_backwards,
                "stateful": False, "unroll": False, "zero_output_for_mask": False,
                "units": self.units, "activation": self.activation,
                "recurrent_activation": self.recurrent_activation, "use_bias": self.use_bias,
                "kernel_initializer": serialize(self.kernel_initializer),
                "recurrent_initializer": serialize(self.recurrent_initializer),
                "bias_initializer": serialize(self.bias_initializer),
                **self._own_config(),
                "kernel_regularizer": None, "recurrent_regularizer": None,
                "bias_regularizer": None, "activity_regularizer": None,
                "kernel_constraint": None, "recurrent_constraint": None, "bias_constraint": None,
                "dropout": self.dropout, "recurrent_dropout": self.recurrent_dropout,
                "seed": self.seed}

    def _own_config(self) -> dict[str, Any]:
        """GRU's reset_after, LSTM's unit_forget_bias."""
        return {}

    def compute_output_shape(self, input_shape: tuple) -> Any:
        batch, time = input_shape[0], input_shape[1]
        output = (batch, time, self.units) if self.return_sequences else (batch, self.units)
        if self.return_state:
            return [output] + [(batch, self.units)] * (self.gates // 2)
        return output


class GRU(_Recurrent):
    """Gated Recurrent Unit, as Keras 3's `keras.layers.GRU` (Cho et al., 2014).

    Each step mixes the previous state h_{t-1} and a candidate hh by the update gate z:

        z = sigma(x_t W_z + h_{t-1} U_z + b_z)          r = sigma(x_t W_r + h_{t-1} U_r + b_r)
        hh = phi(x_t W_h + r * (h_{t-1} U_h + b_h'))    (reset_after=True, Keras's default)
        h_t = z * h_{t-1} + (1 - z) * hh

    Args:
        units: the size of the state h and of the output.
        activation: phi, 'tanh' by default. recurrent_activation: sigma, 'sigmoid'.
        use_bias: whether the layer has a bias.
        kernel_initializer, recurrent_initializer, bias_initializer: Keras's defaults.
        dropout: the fraction of input features dropped in training (one mask for all steps).
        recurrent_dropout: the same for the state where it meets the recurrent kernel.
        return_sequences: output every step's state `(batch, time, units)`, not only the last.
        return_state: also return the last state: `[output, h_T]`.
        go_backwards: read the sequence from the end (the output sequence is then reversed too).
        reset_after: apply the reset gate after the product h_{t-1} U_h (Keras 3's default,
            with two biases: bias `(2, 3 * units)`), or before it (one bias `(3 * units,)`).
        seed: seeds the dropout masks.

    Shapes: x `(batch, time, features)` -> `(batch, units)` or `(batch, time, units)`.
    """

    gates = 3

    def __init__(self, units: Any, activation: Any = "tanh", recurrent_activation: Any = "sigmoid",
                 use_bias: bool = True, kernel_initializer: Any = "glorot_uniform",
                 recurrent_initializer: Any = "orthogonal", bias_initializer: Any = "zeros",
                 dropout: float = 0.0, recurrent_dropout: float = 0.0,
                 return_sequences: bool = False, return_state: bool = False,
                 go_backwards: bool = False, reset_after: bool = True, seed: int | None = None,
                 **kwargs: Any) -> None:
        super().__init__(units, activation, recurrent_activation, use_bias, kernel_initializer,
                         recurrent_initializer, bias_initializer, dropout, recurrent_dropout,
                         return_sequences, return_state, go_backwards, seed, **kwargs)
        if not isinstance(reset_after, (bool, np.bool_)):
            raise self._invalid("reset_after", "expected True or False", reset_after)
        self.reset_after = bool(reset_after)

    def _bias_shape(self) -> tuple:
        return (2, 3 * self.units) if self.reset_after else (3 * self.units,)

    def _own_config(self) -> dict[str, Any]:
        return {"reset_after": self.reset_after}

    def _recurrence(self, x: Tensor, mask: Any, keep: Any) -> list[Tensor]:
        input_bias = recurrent_bias = None
        if self.bias is not None:
            input_bias, recurrent_bias = (self.bias[0], self.bias[1]) if self.reset_after else (
                self.bias, None)
        xw = DenseFunction.apply(x, self.kernel, input_bias)  # all steps' x_t W + b at once
        h = GRUFunction.apply(xw, self.recurrent_kernel, recurrent_bias, None, mask=mask,
                              reset_after=self.reset_after, activation=self.activation,
                              recurrent_activation=self.recurrent_activation,
                              recurrent_dropout_mask=keep)
        return [h]


class LSTM(_Recurrent):
    """Long Short-Term Memory, as Keras 3's `keras.layers.LSTM` (Hochreiter & Schmidhuber, 1997).

    Each step updates a cell state c through three gates and reads the output h from it:

        i = sigma(x_t W_i + h_{t-1} U_i + b_i)      f = sigma(x_t W_f + h_{t-1} U_f + b_f)
        g = phi(x_t W_c + h_{t-1} U_c + b_c)        o = sigma(x_t W_o + h_{t-1} U_o + b_o)
        c_t = f * c_{t-1} + i * g                   h_t = o * phi(c_t)

    Args:
        units, activation, recurrent_activation, use_bias, kernel_initializer,
        recurrent_initializer, bias_initializer, dropout, recurrent_dropout, return_sequences,
        go_backwards, seed: as for GRU.
        return_state: also return the last states: `[output, h_T, c_T]`.
        unit_forget_bias: start the forget gate's bias at 1 (Keras's default), so the cell
            remembers by default at the start of training (Jozefowicz et al., 2015).

    Shapes: x `(batch, time, features)` -> `(batch, units)` or `(batch, time, units)`.
    """

    gates = 4

    def __init__(self, units: Any, activation: Any = "tanh", recurrent_activation: Any = "sigmoid",
                 use_bias: bool = True, kernel_initializer: Any = "glorot_uniform",
                 recurrent_initializer: Any = "orthogonal", bias_initializer: Any = "zeros",
                 unit_forget_bias: bool = True, dropout: float = 0.0,
                 recurrent_dropout: float = 0.0, return_sequences: bool = False,
                 return_state: bool = False, go_backwards: bool = False, seed: int | None = None,
                 **kwargs: Any) -> None:
        super().__init__(units, activation, recurrent_activation, use_bias, kernel_initializer,
                         recurrent_initializer, bias_initializer, dropout, recurrent_dropout,
                         return_sequences, return_state, go_backwards, seed, **kwargs)
        if not isinstance(unit_forget_bias, (bool, np.bool_)):
            raise self._invalid("unit_forget_bias", "expected True or False", unit_forget_bias)
        self.unit_forget_bias = bool(unit_forget_bias)

    def _own_config(self) -> dict[str, Any]:
        return {"unit_forget_bias": self.unit_forget_bias}

    def _bias_initializer(self) -> Any:
        if not self.unit_forget_bias:
            return self.bias_initializer
        base, n = initializers.get(self.bias_initializer), self.units

        def forget_gate_starts_at_one(shape: tuple, dtype: Any = np.float32) -> np.ndarray:
            return np.concatenate([base((n,), dtype), np.ones((n,), dtype), base((2 * n,), dtype)])

        return forget_gate_starts_at_one

    def _recurrence(self, x: Tensor, mask: Any, keep: Any) -> list[Tensor]:
        xw = DenseFunction.apply(x, self.kernel, self.bias)  # all steps' x_t W + b at once
        hc = LSTMFunction.apply(xw, self.recurrent_kernel, None, None, mask=mask,
                                activation=self.activation,
                                recurrent_activation=self.recurrent_activation,
                                recurrent_dropout_mask=keep)
        n = self.units
        return [hc[:, :, :n], hc[:, :, n:]]
