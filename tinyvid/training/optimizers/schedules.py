"""Learning-rate schedules: alpha as a function of the optimizer's step count, as in Keras 3.

Pass a schedule wherever a learning rate goes (`Adam(learning_rate=ExponentialDecay(...))`):
the optimizer then evaluates it at `optimizer.iterations` (the number of steps already taken)
before each step, so the first step uses `schedule(0)`.

    ExponentialDecay        alpha(t) = alpha_0 * r^(t / T)          (t // T with staircase=True)
    PiecewiseConstantDecay  alpha(t) = values[i]  for boundaries[i-1] < t <= boundaries[i]
    CosineDecay             alpha(t) = alpha_0 ((1 - a) (1 + cos(pi min(t, T) / T)) / 2 + a),
                            after an optional linear warmup

`get_config()`/`from_config()` use Keras's keys, and `serialize`/`deserialize` Keras's
`{'module', 'class_name', 'config', 'registered_name'}` form, so a schedule saved by one library
loads in the other.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

__all__ = [
    "LearningRateSchedule", "ExponentialDecay", "PiecewiseConstantDecay", "CosineDecay",
    "serialize", "deserialize",
]


class LearningRateSchedule:
    """Base class: a schedule is called with the step count and returns the learning rate."""

    def __call__(self, step: int) -> float:
        raise NotImplementedError(
            f"Learning rate schedule '{type(self).__name__}' must override `__call__(self, step)`.")

    def get_config(self) -> dict[str, Any]:
        raise NotImplementedError(
            f"Learning rate schedule '{type(self).__name__}' must override `get_config()` in order "
            f"to be serializable.")

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> LearningRateSchedule:
        return cls(**config)

    def __repr__(self) -> str:
        arguments = ", ".join(f"{key}={value!r}" for key, value in self.get_config().items())
        return f"{type(self).__name__}({arguments})"


def _check(owner: str, argument: str, value: Any, ok: bool, expected: str) -> None:
    """One argument check, with a message naming the schedule and the argument."""
    if not ok:
        raise ValueError(f"{owner}: invalid value for argument `{argument}`: expected {expected}. "
                         f"Received: {argument}={value!r}")


def _is_real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


class ExponentialDecay(LearningRateSchedule):
    """The learning rate times `decay_rate` every `decay_steps` steps, smoothly or in stairs:

        \\alpha(t) = \\alpha_0 \\cdot r^{t / T}           (t / T floored with staircase=True)

    Args:
        initial_learning_rate: alpha_0.
        decay_steps: T, a positive number of steps.
        decay_rate: r.
        staircase: decay in whole steps of T (a staircase) instead of continuously.
        name: the schedule's name. Default "ExponentialDecay".
    """

    def __init__(self, initial_learning_rate: float, decay_steps: int, decay_rate: float,
                 staircase: bool = False, name: str = "ExponentialDecay") -> None:
        _check("ExponentialDecay", "initial_learning_rate", initial_learning_rate,
               _is_real(initial_learning_rate), "a real number")
        _check("ExponentialDecay", "decay_steps", decay_steps,
               _is_real(decay_steps) and decay_steps > 0, "a number of steps > 0")
        _check("ExponentialDecay", "decay_rate", decay_rate, _is_real(decay_rate), "a real number")
        self.initial_learning_rate, self.decay_steps = initial_learning_rate, decay_steps
        self.decay_rate, self.staircase, self.name = decay_rate, bool(staircase), name

    def __call__(self, step: int) -> float:
        p = step / self.decay_steps
        if self.staircase:
            p = math.floor(p)
        return float(self.initial_learning_rate * self.decay_rate ** p)

    def get_config(self) -> dict[str, Any]:
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_steps": self.decay_steps, "decay_rate": self.decay_rate,
                "staircase": self.staircase, "name": self.name}


class PiecewiseConstantDecay(LearningRateSchedule):
    """A constant learning rate on each interval between step boundaries:

        \\alpha(t) = values[0]   for t <= boundaries[0]
                  = values[i]   for boundaries[i-1] < t <= boundaries[i]
                  = values[-1]  for t > boundaries[-1]

    Args:
        boundaries: strictly increasing step counts, one fewer than `values`.
        values: the learning rates.
        name: default "PiecewiseConstant" (Keras's).
    """

    def __init__(self, boundaries: list[int], values: list[float],
                 name: str = "PiecewiseConstant") -> None:
        boundaries, values = list(boundaries), list(values)
        _check("PiecewiseConstantDecay", "values", values,
               len(values) == len(boundaries) + 1 and all(_is_real(v) for v in values),
               f"one more number than boundaries ({len(boundaries) + 1} numbers)")
        _check("PiecewiseConstantDecay", "boundaries", boundaries,
               all(_is_real(b) for b in boundaries)
               and all(a < b for a, b in zip(boundaries, boundaries[1:])),
               "strictly increasing numbers")
        self.boundaries, self.values, self.name = boundaries, values, name

    def __call__(self, step: int) -> float:
        for boundary, value in zip(self.boundaries, self.values):
            if step <= boundary:
                return float(value)
        return float(self.values[-1])

    def get_config(self) -> dict[str, Any]:
        return {"boundaries": self.boundaries, "values": self.values, "name": self.name}


class CosineDecay(LearningRateSchedule):
    """Half a cosine from the learning rate down to `alpha` times it, over `decay_steps` steps,
    after an optional linear warmup from `initial_learning_rate` to `warmup_target`:

        warmup (t < W):  \\alpha(t) = \\alpha_0 + (target - \\alpha_0) t / W
        decay:           s = \\min(t - W, T)
                         \\alpha(t) = peak ((1 - a) \\frac{1 + \\cos(\\pi s / T)}{2} + a)

    where peak is `warmup_target`, or alpha_0 without warmup (W = 0).

    Args:
        initial_learning_rate: alpha_0.
        decay_steps: T, a positive number of steps.
        alpha: a, the final learning rate as a fraction of the peak. Default 0.
        name: default "CosineDecay".
        warmup_target: the learning rate reached after the warmup; None skips the warmup.
        warmup_steps: W, the length of the warmup. Default 0.
    """

    def __init__(self, initial_learning_rate: float, decay_steps: int, alpha: float = 0.0,
                 name: str = "CosineDecay", warmup_target: float | None = None,
                 warmup_steps: int = 0) -> None:
        _check("CosineDecay", "initial_learning_rate", initial_learning_rate,
               _is_real(initial_learning_rate), "a real number")
        _check("CosineDecay", "decay_steps", decay_steps,
               _is_real(decay_steps) and decay_steps > 0, "a number of steps > 0")
        _check("CosineDecay", "alpha", alpha, _is_real(alpha), "a real number")
        _check("CosineDecay", "warmup_target", warmup_target,
               warmup_target is None or _is_real(warmup_target), "None or a real number")
        _check("CosineDecay", "warmup_steps", warmup_steps,
               _is_real(warmup_steps) and warmup_steps >= 0, "a number of steps >= 0")
        self.initial_learning_rate, self.decay_steps, self.alpha = (
            initial_learning_rate, decay_steps, alpha)
        self.name, self.warmup_target, self.warmup_steps = name, warmup_target, warmup_steps

    def _decay(self, step: float, peak: float) -> float:
        cosine = 0.5 * (1.0 + math.cos(math.pi * step / self.decay_steps))
        return float(peak * ((1 - self.alpha) * cosine + self.alpha))

    def __call__(self, step: int) -> float:
        if self.warmup_target is None:
            return self._decay(min(step, self.decay_steps), self.initial_learning_rate)
        step = min(step, self.decay_steps + self.warmup_steps)
        if step < self.warmup_steps:
            delta = self.warmup_target - self.initial_learning_rate
            return float(delta * step / self.warmup_steps + self.initial_learning_rate)
        return self._decay(step - self.warmup_steps, self.warmup_target)

    def get_config(self) -> dict[str, Any]:
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_steps": self.decay_steps, "alpha": self.alpha, "name": self.name,
                "warmup_target": self.warmup_target, "warmup_steps": self.warmup_steps}


ALL: dict[str, type[LearningRateSchedule]] = {
    "ExponentialDecay": ExponentialDecay,
    "PiecewiseConstantDecay": PiecewiseConstantDecay,
    "CosineDecay": CosineDecay,
}


def serialize(schedule: LearningRateSchedule) -> dict[str, Any]:
    """Keras's serialized form: `{'module': 'keras.optimizers.schedules', 'class_name': ...,
    'config': schedule.get_config(), 'registered_name': None}`."""
    if not isinstance(schedule, LearningRateSchedule):
        raise ValueError(f"schedules.serialize: expected a LearningRateSchedule, "
                         f"received {schedule!r}")
    return {"module": "keras.optimizers.schedules", "class_name": type(schedule).__name__,
            "config": schedule.get_config(), "registered_name": None}


def deserialize(config: dict[str, Any]) -> LearningRateSchedule:
    """A schedule from `serialize`'s form (as Keras writes it in .keras files)."""
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(f"schedules.deserialize: expected a dict with 'class_name' and 'config', "
                         f"received {config!r}")
    class_name = config["class_name"]
    if class_name not in ALL:
        raise ValueError(f"schedules.deserialize: unknown learning rate schedule "
                         f"'{class_name}'. Known schedules: {', '.join(sorted(ALL))}")
    return ALL[class_name].from_config(dict(config.get("config", {})))
