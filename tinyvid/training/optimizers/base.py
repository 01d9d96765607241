"""Optimizer: what every optimizer shares, in the order one step runs (Keras 3's order).

    alpha = the learning rate now: a number, or a schedule evaluated at `iterations`
    g     = grad J(theta) for every weight, then clipped if asked (one of):
              clipnorm=c         g <- g c / max(||g||, c)              each weight on its own
              global_clipnorm=c  g <- g c / max(||(g_1, ..., g_n)||, c)  all weights together
              clipvalue=c        g <- clip(g, -c, c)                    elementwise
    theta <- theta - alpha * wd * theta                                 weight_decay=wd, decoupled
    theta <- the optimizer's own update (update_step) with alpha and g
    iterations += 1

Each optimizer's own state (momentum, velocity, ...) is made by `build(weights)`, as Keras
makes its optimizer variables, in Keras's order, so that `variables` lists the same arrays in
the same order Keras's `optimizer.variables` does: the step count, the learning rate (when it
is a number), then the state. `save_own_variables`/`load_own_variables` read and write them as
Keras's .keras files hold them (`{"0": iterations, "1": learning_rate, ...}`).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Iterable, MutableMapping
from typing import Any

import numpy as np

from tinyvid.layers.base import to_snake_case
from tinyvid.training.optimizers import schedules

LearningRate = float | schedules.LearningRateSchedule | Callable[[], float]


def is_real(value: Any) -> bool:
    """A real number (int, float, NumPy scalar), not a bool."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


class Optimizer:
    """Base class: learning rate, step counter, clipping, weight decay and per-weight state.

    Args:
        learning_rate: alpha: a number >= 0, a `schedules.LearningRateSchedule` (evaluated at
            the step count before each step) or a function of no arguments returning a number.
            None means the optimizer's default (`default_learning_rate`, as in Keras).
        weight_decay: wd: before each update, theta <- theta - alpha * wd * theta. None: off.
        clipnorm: clip each weight's gradient to this L2 norm.
        clipvalue: clip each gradient's values to [-clipvalue, clipvalue].
        global_clipnorm: clip all gradients together to this global L2 norm.
            At most one of the three clipping arguments may be set.
        name: by default the class name in snake case ("adam", "adam_w", "rm_sprop"), Keras's.
        lr: the learning rate under its older name; give one of the two.
        use_ema, ema_momentum, ema_overwrite_frequency, loss_scale_factor,
            gradient_accumulation_steps: Keras's keys, accepted with their defaults so that a
            Keras config loads; tinyvid does not implement them and refuses other values.

    Attributes:
        iterations: how many steps have been applied (t in the formulas is iterations + 1).
    """

    full_batch = False  # GD sets True: fit then uses the whole training set as one batch
    default_learning_rate = 0.01

    def __init__(self, learning_rate: LearningRate | None = None,
                 weight_decay: float | None = None, clipnorm: float | None = None,
                 clipvalue: float | None = None, global_clipnorm: float | None = None,
                 use_ema: bool = False, ema_momentum: float = 0.99,
                 ema_overwrite_frequency: int | None = None,
                 loss_scale_factor: float | None = None,
                 gradient_accumulation_steps: int | None = None,
                 name: str | None = None, lr: LearningRate | None = None) -> None:
        if learning_rate is not None and lr is not None:
            raise ValueError("Pass either learning_rate= or lr= (its older name), not both")
        if learning_rate is None:
            learning_rate = self.default_learning_rate if lr is None else lr
        self._learning_rate = self._checked_learning_rate(learning_rate)
        for label, value in (("weight_decay", weight_decay), ("clipnorm", clipnorm),
                             ("clipvalue", clipvalue), ("global_clipnorm", global_clipnorm)):
            if value is not None and (not is_real(value) or not value >= 0):
                raise ValueError(f"Invalid {label} value: {value}")
        clipping = [a for a in (clipnorm, clipvalue, global_clipnorm) if a is not None]
        if len(clipping) > 1:
            raise ValueError(f"Only one of `clipnorm`, `clipvalue` and `global_clipnorm` can be "
                             f"set. Received: clipnorm={clipnorm}, clipvalue={clipvalue}, "
                             f"global_clipnorm={global_clipnorm}")
        unsupported = {"use_ema": (use_ema, False), "loss_scale_factor": (loss_scale_factor, None),
                       "ema_overwrite_frequency": (ema_overwrite_frequency, None),
                       "gradient_accumulation_steps": (gradient_accumulation_steps, None)}
        for label, (value, default) in unsupported.items():
            if value != default:
                raise ValueError(f"{type(self).__name__}: tinyvid does not support `{label}`; "
                                 f"it must stay {default}. Received: {label}={value!r}")
        self.weight_decay = None if weight_decay is None else float(weight_decay)
        self.clipnorm = None if clipnorm is None else float(clipnorm)
        self.clipvalue = None if clipvalue is None else float(clipvalue)
        self.global_clipnorm = None if global_clipnorm is None else float(global_clipnorm)
        self.use_ema, self.ema_momentum = False, float(ema_momentum)
        self.name = name or to_snake_case(type(self).__name__)
        self.iterations = 0
        self.built = False
        self._weights: list[Any] = []  # the weights (Tensors) the state was built for, in order
        self._state: dict[int, dict[str, np.ndarray]] = {}  # id(weight) -> {"momentum": ...}
        self._state_order: list[np.ndarray] = []  # the same arrays, in Keras's variable order
        self._scratch: dict[np.dtype, np.ndarray] = {}  # dtype -> one flat buffer

    # --- the learning rate -----------------------------------------------------------------------

    @staticmethod
    def _checked_learning_rate(value: Any) -> LearningRate:
        if isinstance(value, schedules.LearningRateSchedule) or (
                callable(value) and not is_real(value)):
            return value
        if not is_real(value) or not value >= 0:
            raise ValueError(f"Invalid learning rate: {value}")
        return float(value)

    @property
    def learning_rate(self) -> float:
        """alpha for the next step: the number, or the schedule at the current step count."""
        if isinstance(self._learning_rate, schedules.LearningRateSchedule):
            return float(self._learning_rate(self.iterations))
        if callable(self._learning_rate):
            return float(self._learning_rate())
        return self._learning_rate

    @learning_rate.setter
    def learning_rate(self, value: LearningRate) -> None:
        if isinstance(self._learning_rate, schedules.LearningRateSchedule) and is_real(value):
            raise TypeError("This optimizer was created with a `LearningRateSchedule` object as "
                            "its `learning_rate` constructor argument, hence its learning rate is "
                            "not settable. If you need the learning rate to be settable, you "
                            "should instantiate the optimizer with a float `learning_rate`.")
        self._learning_rate = self._checked_learning_rate(value)

    @property
    def lr(self) -> float:
        return self.learning_rate

    @lr.setter
    def lr(self, value: LearningRate) -> None:
        self.learning_rate = value

    # --- state -----------------------------------------------------------------------------------

    def build(self, weights: Iterable[Any]) -> None:
        """Create the state of every weight not seen yet (zeros), in Keras's order."""
        new = [w for w in weights if id(w) not in self._state]
        for w in new:
            self._state[id(w)] = {}
            self._weights.append(w)
        if new:
            self.build_state(new)
        self.built = True

    def build_state(self, weights: list[Any]) -> None:
        """Subclasses call `add_state` here with the names of their per-weight arrays."""

    def add_state(self, weights: list[Any], names: Iterable[str]) -> None:
        """For each weight, one array of zeros shaped like it per name (Keras's
        add_optimizer_variables: weight by weight, the names in order)."""
        names = list(names)
        for w in weights:
            for name in names:
                array = np.zeros_like(w.data)
                self._state[id(w)][name] = array
                self._state_order.append(array)

    def state(self, weight: Any, *names: str) -> tuple[np.ndarray, ...]:
        """The named state arrays of one weight."""
        if id(weight) not in self._state:
            self.build([weight])
        slots = self._state[id(weight)]
        return tuple(slots[name] for name in names)

    def scratch(self, theta: np.ndarray) -> np.ndarray:
        """A scratch array shaped like theta: a view into the one buffer of theta's dtype."""
        buffer = self._scratch.get(theta.dtype)
        if buffer is None or buffer.size < theta.size:
            buffer = self._scratch[theta.dtype] = np.empty(theta.size, dtype=theta.dtype)
        return buffer[:theta.size].reshape(theta.shape)

    @property
    def variables(self) -> list[np.ndarray]:
        """Keras's `optimizer.variables`, as arrays: iterations, the learning rate if it is a
        number, then the state arrays (the live ones: changing them changes the optimizer)."""
        head = [np.array(self.iterations, dtype=np.int64)]
        if is_real(self._learning_rate):
            # float64 (Keras keeps float32): a restored optimizer then continues bit for bit
            head.append(np.array(self._learning_rate, dtype=np.float64))
        return head + self._state_order

    def save_own_variables(self, store: MutableMapping[str, np.ndarray]) -> None:
        """Write `variables` into `store` under "0", "1", ... (Keras's layout in .keras files)."""
        for i, value in enumerate(self.variables):
            store[str(i)] = np.array(value)

    def load_own_variables(self, store: MutableMapping[str, Any]) -> None:
        """Set iterations, the learning rate and the state from `save_own_variables`'s store.
        The optimizer must be built for the same weights; every array is checked before any
        value changes."""
        current = self.variables
        if len(store) != len(current):
            raise ValueError(f"Optimizer '{self.name}' has {len(current)} variables but the saved "
                             f"optimizer has {len(store)}; build it for the model's weights "
                             f"(optimizer.build(model.trainable_weights)) before loading")
        values = [np.asarray(store[str(i)]) for i in range(len(current))]
        for i, (mine, saved) in enumerate(zip(current, values)):
            if mine.shape != saved.shape:
                raise ValueError(f"Optimizer '{self.name}': variable {i} has shape {mine.shape} "
                                 f"but the saved one has shape {saved.shape}")
        self.iterations = int(values[0])
        start = 1
        if is_real(self._learning_rate):
            self._learning_rate = float(values[1])
            start = 2
        for array, saved in zip(self._state_order, values[start:]):
            np.copyto(array, saved, casting="unsafe")

    # --- one step --------------------------------------------------------------------------------

    def apply_gradients(self, grads_and_vars: Iterable[tuple[np.ndarray | None, Any]]) -> None:
        """One step: clip the gradients, decay the weights, update them (weights whose gradient
        is None are left alone, as when they did not take part in the loss).

        Args:
            grads_and_vars: pairs (grad, weight): grad a NumPy array of the weight's shape,
                weight a Tensor whose `.data` is changed in place.
        """
        pairs = list(grads_and_vars)
        self.build([weight for _, weight in pairs])
        present = []
        for grad, weight in pairs:
            if grad is None:
                continue
            theta = weight.data
            if grad.shape != theta.shape:
                raise ValueError(f"{type(self).__name__}: gradient of shape {grad.shape} for a "
                                 f"weight of shape {theta.shape}")
            if not theta.flags.c_contiguous:
                raise ValueError(f"{type(self).__name__}: weights must be C-contiguous arrays to "
                                 f"be updated in place")
            present.append((np.asarray(grad, dtype=theta.dtype), weight))
        grads = self.clip_gradients([g for g, _ in present])
        alpha = self.learning_rate
        for g, (_, weight) in zip(grads, present):
            theta = weight.data
            if self.weight_decay:
                decay = np.multiply(theta, theta.dtype.type(alpha * self.weight_decay),
                                    out=self.scratch(theta))
                theta -= decay  # theta <- theta - alpha * wd * theta (decoupled weight decay)
            self.update_step(g, theta, weight, alpha)
        self.iterations += 1

    def clip_gradients(self, grads: list[np.ndarray]) -> list[np.ndarray]:
        """The gradients clipped as asked (new arrays), or the same ones."""
        if self.clipnorm:
            c = self.clipnorm
            return [g * g.dtype.type(c) / max(_l2_norm(g), g.dtype.type(c)) for g in grads]
        if self.global_clipnorm and grads:
            c = self.global_clipnorm
            norm = math.sqrt(sum(float(np.sum(np.square(g, dtype=np.float64))) for g in grads))
            # a NaN or infinite norm makes every gradient NaN, as in Keras
            scale = c * min(1.0 / norm if norm else math.inf, 1.0 / c) + (norm - norm)
            return [g * g.dtype.type(scale) for g in grads]
        if self.clipvalue:
            c = self.clipvalue
            return [np.clip(g, -c, c).astype(g.dtype, copy=False) for g in grads]
        return grads

    def update_step(self, g: np.ndarray, theta: np.ndarray, weight: Any, alpha: float) -> None:
        """Update `theta` (the weight's array) in place from its gradient `g`, with step size
        alpha."""
        raise NotImplementedError

    # --- configuration (Keras's keys) ------------------------------------------------------------

    def get_config(self) -> dict[str, Any]:
        """The constructor's arguments, with Keras's keys; a schedule in Keras's serialized form."""
        rate = self._learning_rate
        if isinstance(rate, schedules.LearningRateSchedule):
            learning_rate: Any = schedules.serialize(rate)
        elif callable(rate):
            raise ValueError(f"Optimizer '{self.name}': a learning rate given as a function "
                             f"cannot be serialized; use a LearningRateSchedule")
        else:
            learning_rate = rate
        return {"name": self.name, "learning_rate": learning_rate,
                "weight_decay": self.weight_decay, "clipnorm": self.clipnorm,
                "global_clipnorm": self.global_clipnorm, "clipvalue": self.clipvalue,
                "use_ema": False, "ema_momentum": self.ema_momentum,
                "ema_overwrite_frequency": None, "loss_scale_factor": None,
                "gradient_accumulation_steps": None}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Optimizer:
        """An optimizer from `get_config()`'s dict (Keras's too)."""
        config = dict(config)
        if isinstance(config.get("learning_rate"), dict):
            config["learning_rate"] = schedules.deserialize(config["learning_rate"])
        return cls(**config)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} learning_rate={self._learning_rate}>"


def _l2_norm(g: np.ndarray) -> np.floating:
    """||g||_2 in g's dtype."""
    return np.sqrt(np.sum(np.square(g)))
