"""What `compile(loss=..., metrics=..., loss_weights=...)` means for a model with several outputs.

One output: J = loss(y, y_hat), reported as "loss", metrics under their own names ("accuracy").
Several outputs (Keras's rules): a loss per output, given as a list (in output order), a dict
{output name: loss} (outputs without one are not trained by it), or one loss for every output;
the total is their weighted sum,

    J = sum over outputs k of  w_k * loss_k(y_k, y_hat_k)          (w_k from loss_weights, else 1)

reported as "loss", each term as "<output name>_loss", and each metric as "<output name>_<metric>"
("out_accuracy").
"""

from typing import Any

import numpy as np

from tinyvid.autograd.tensor import Tensor
from tinyvid.training import losses, metrics


class CompiledObjectives:
    """The losses, loss weights and metrics of a compiled model, one entry per output.

    Args:
        loss, loss_weights, metrics: as given to compile.
        output_names: the model's output names (one name for a single-output model).
        single: True if the model has one output (its logs then carry no output names).
    """

    def __init__(self, loss: Any, loss_weights: Any, metric_ids: Any, output_names: list[str],
                 single: bool) -> None:
        self.output_names, self.single = list(output_names), single
        self.losses = self._per_output(loss, "loss", losses.get)
        weights = self._per_output(1.0 if loss_weights is None else loss_weights, "loss_weights",
                                   float, missing=1.0)
        self.loss_weights = [1.0 if w is None else w for w in weights]
        self.metric_ids = [self._metric_list(m) for m in self._per_output(
            metric_ids, "metrics", lambda m: m, missing=[], broadcast_lists=True)]
        for ids in self.metric_ids:
            for identifier in ids:
                problem = metrics.check_name(identifier)
                if problem:
                    raise ValueError(problem)
        self.loss_tracker = metrics.Mean("loss")
        self.output_loss_trackers = [metrics.Mean(f"{name}_loss") for name in self.output_names]
        self.metrics: list[list[metrics.MeanMetric]] | None = None  # made on the first batch
        self.output_losses: list[float | None] = []

    def _per_output(self, value: Any, argument: str, convert: Any, missing: Any = None,
                    broadcast_lists: bool = False) -> list[Any]:
        """One entry per output from a single value, a list in output order, or a dict by name."""
        n = len(self.output_names)
        if isinstance(value, dict):
            unknown = sorted(set(value) - set(self.output_names))
            if unknown:
                raise ValueError(f"compile: `{argument}` has keys {unknown} that are not output names; "
                                 f"the model's outputs are {self.output_names}")
            return [convert(value[name]) if name in value else missing for name in self.output_names]
        is_sequence = isinstance(value, (list, tuple))
        if is_sequence and not self.single and (not broadcast_lists or (
                len(value) == n and all(isinstance(v, (list, tuple)) or v is None for v in value))):
            if len(value) != n:
                raise ValueError(f"compile: `{argument}` has {len(value)} entries, but the model has "
                                 f"{n} outputs ({self.output_names})")
            return [missing if v is None else convert(v) for v in value]
        if value is None:
            return [missing] * n
        return [convert(value)] * n  # one for every output

    @staticmethod
    def _metric_list(identifiers: Any) -> list[Any]:
        if identifiers is None:
            return []
        return [identifiers] if isinstance(identifiers, str) or callable(identifiers) else list(identifiers)

    # --- per batch ------------------------------------------------------------------------------

    def total_loss(self, ys: list[Any], y_preds: list[Tensor], sample_weights: list[Any]) -> Tensor:
        """J, the weighted sum of the outputs' losses (a scalar Tensor); each output's loss is
        kept in `output_losses` for the logs."""
        total: Tensor | None = None
        values: list[float | None] = []
        for loss, weight, y, y_pred, sw in zip(self.losses, self.loss_weights, ys, y_preds,
                                               sample_weights):
            if loss is None:
                values.append(None)
                continue
            term = loss(y, y_pred, sample_weight=sw)
            values.append(term.item())
            term = term if weight == 1.0 else term * weight
            total = term if total is None else total + term
        if total is None:
            raise ValueError("compile: no output has a loss; give `loss` for at least one output")
        self.output_losses = values
        return total

    def update(self, ys: list[Any], y_preds: list[np.ndarray], loss: float) -> dict[str, float]:
        """Add a batch (its losses from the last `total_loss`) to the running means; return the
        logs of the epoch so far."""
        if self.metrics is None:
            self.metrics = [[metrics.get(m, y, y_pred) for m in ids]
                            for ids, y, y_pred in zip(self.metric_ids, ys, y_preds)]
        batch = len(y_preds[0])
        self.loss_tracker.update(loss, weight=batch)
        for tracker, value in zip(self.output_loss_trackers, self.output_losses):
            if value is not None:
                tracker.update(value, weight=batch)
        for output_metrics, y, y_pred in zip(self.metrics, ys, y_preds):
            for metric in output_metrics:
                metric.update_state(y, y_pred)
        return self.logs()

    def logs(self) -> dict[str, float]:
        logs = {"loss": self.loss_tracker.result()}
        if not self.single:
            for tracker, loss in zip(self.output_loss_trackers, self.losses):
                if loss is not None:
                    logs[tracker.name] = tracker.result()
        for name, output_metrics in zip(self.output_names, self.metrics or []):
            for metric in output_metrics:
                logs[metric.name if self.single else f"{name}_{metric.name}"] = metric.result()
        return logs

    def reset(self) -> None:
        self.loss_tracker.reset()
        for tracker in self.output_loss_trackers:
            tracker.reset()
        for output_metrics in self.metrics or []:
            for metric in output_metrics:
                metric.reset()


def per_output(value: Any, output_names: list[str], single: bool, what: str) -> list[Any]:
    """Targets or sample weights as one entry per output: `value` itself for a single output,
    a list in output order, a dict by output name, or (sample weights only) one array for all."""
    n = len(output_names)
    if single:
        return [value]
    if isinstance(value, dict):
        return [value.get(name) for name in output_names]
    if isinstance(value, (list, tuple)):
        if len(value) != n:
            raise ValueError(f"The model has {n} outputs ({output_names}), but {what} has "
                             f"{len(value)} entries")
        return list(value)
    if value is None or what == "sample_weight":
        return [value] * n
    raise ValueError(f"The model has {n} outputs ({output_names}): pass {what} as a list or a dict "
                     f"{{output name: array}}, received a {type(value).__name__}")
