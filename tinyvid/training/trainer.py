"""Trainer: compile, fit, evaluate and predict, for every model (as Keras's trainers/ does).

A Model (models/model.py, a graph of layers) and a Sequential (models/sequential.py, a chain)
inherit these methods; each gives the trainer `model(x, training)`, `model.layers` and its output
names, and its weights. Training is one loop (`fit`), and each turn of it is one `train_step`:

    batch (x, y, w) -> forward: y_hat = model(x) -> loss J(y, y_hat, w) -> backward: grad J into
    each weight's .grad -> optimizer step: theta <- theta - alpha * ... (see optimizers.py)

With several outputs, J is the (weighted) sum of a loss per output (training/compile_utils.py).
"""

from typing import Any

import numpy as np

from tinyvid import distribution
from tinyvid.autograd.grad_mode import no_grad
from tinyvid.data.adapters import (
    EpochIterator,
    as_array,
    batches_for,
    class_weights_for,
    is_batch_iterable,
    is_data_source,
    num_samples,
    split_validation,
    unpack,
)
from tinyvid.kernels import process
from tinyvid.training import checks, optimizers
from tinyvid.training.callbacks import CallbackList, Progbar
from tinyvid.training.compile_utils import CompiledObjectives, per_output
from tinyvid.training.summary import print_summary


class Trainer:
    """The training methods shared by Model and Sequential (see the module docstring)."""

    def __init__(self) -> None:
        self.name = ""
        self.built = False
        self.compiled = False
        self.stop_training = False
        self.history = None
        self.optimizer: Any = None

    # --- what the model gives the trainer -------------------------------------------------------

    @property
    def layers(self) -> list[Any]:
        raise NotImplementedError

    @property
    def output_names(self) -> list[str]:
        raise NotImplementedError

    def _output_is_single(self) -> bool:
        raise NotImplementedError

    def _input_is_single(self) -> bool:
        raise NotImplementedError

    def _single(self) -> tuple[bool, bool]:
        """(one input?, one output?): how lists in x and y are read (data/adapters.py)."""
        return self._input_is_single(), self._output_is_single()

    def __call__(self, x: Any, training: bool = False) -> Any:
        raise NotImplementedError

    def _summary_rows(self) -> list[Any]:
        raise NotImplementedError

    @property
    def trainable_weights(self) -> list[Any]:
        raise NotImplementedError

    def _unique_layers(self) -> list[Any]:
        raise NotImplementedError

    # --- compile: choose the optimizer, the losses and the metrics ------------------------------

    def compile(self, optimizer: Any = "adam", loss: Any = None, metrics: Any = None,
                loss_weights: Any = None) -> None:
        """Configure the model for training.

        Args:
            optimizer: a name ('adam', 'sgd', 'gd') or an Optimizer. Keras defaults to
                'rmsprop', which tinyvid does not have; tinyvid defaults to 'adam'.
            loss: a name ('categorical_crossentropy', 'sparse_categorical_crossentropy',
                'binary_crossentropy', 'mse'), a Loss, or a function (y_true, y_pred) ->
                per-sample; for several outputs a list (output order) or a dict by output name.
            metrics: a list of names ('accuracy', 'mse', ...) or functions; for several outputs
                a list of lists or a dict by output name (a flat list applies to every output).
            loss_weights: the w_k of J = sum_k w_k J_k: a list or a dict by output name.
        """
        from tinyvid.training import losses

        if loss is None:
            raise ValueError("compile: a loss is required, e.g. loss='categorical_crossentropy'. "
                             f"Known losses: {', '.join(sorted(losses.ALL))}")
        self.optimizer = optimizers.get(optimizer)
        self._objectives = CompiledObjectives(loss, loss_weights, metrics, self.output_names,
                                              self._output_is_single())
        self.loss = self._objectives.losses[0] if self._output_is_single() else loss
        self._compile_config = {"optimizer": optimizer, "loss": loss, "metrics": metrics,
                                "loss_weights": loss_weights}
        self.compiled = True

    def _check_compiled(self, method: str) -> None:
        if not self.compiled:
            raise ValueError(f"You must call `compile()` before using the model: `{method}` needs an "
                             f"optimizer and a loss, e.g. model.compile(optimizer='adam', "
                             f"loss='categorical_crossentropy', metrics=['accuracy'])")

    @property
    def _metrics(self) -> list | None:
        """The metric objects of every output, once the first batch has made them."""
        made = self._objectives.metrics if self.compiled else None
        return None if made is None else [metric for metrics in made for metric in metrics]

    def reset_metrics(self) -> None:
        if self.compiled:
            self._objectives.reset()

    # --- one step -------------------------------------------------------------------------------

    def compute_loss(self, y: Any, y_pred: Any, sample_weight: Any = None) -> Any:
        """J, a scalar Tensor, for targets and predictions in the model's output structure: the
        loss (or the weighted sum of the outputs' losses), each weighted per sample if asked."""
        names, single = self.output_names, self._output_is_single()
        return self._objectives.total_loss(per_output(y, names, single, "y"),
                                           per_output(y_pred, names, single, "the prediction"),
                                           per_output(sample_weight, names, single, "sample_weight"))

    def _update_metrics(self, y: Any, y_pred: Any, loss: float) -> dict:
        names, single = self.output_names, self._output_is_single()
        return self._objectives.update(per_output(y, names, single, "y"),
                                       [t.data for t in per_output(y_pred, names, single, "y_pred")],
                                       loss)

    def train_step(self, x: Any, y: Any, sample_weight: Any = None) -> dict[str, float]:
        """One step of gradient descent on one batch; returns the running logs of the epoch.

        Everything made here (the graph with every activation, the gradients) is freed when it
        returns, before the next batch's forward pass.
        """
        weights = self.trainable_weights
        for w in weights:
            w.grad = None  # gradients accumulate in backward(); start from none
        n = num_samples(x)
        if n == 0:  # data-parallel: this rank's share of a short last batch is empty
            return distribution.step_without_samples(self.optimizer, weights, self._trackers())
        y_pred = self(x, training=True)  # forward: the engine records each op
        loss = self.compute_loss(y, y_pred, sample_weight)  # J: a scalar Tensor, the batch's mean
        loss.backward(retain_graph=False)  # backward: grad J(theta) into every weight's .grad
        # (retain_graph=False: each op's saved arrays go as soon as its backward has run, as the
        # graph is not needed again; that lowers the step's peak memory)
        distribution.average_gradients(weights, n)  # data-parallel: one Allreduce of them all
        self.optimizer.apply_gradients([(w.grad, w) for w in weights])  # step: update theta
        for w in weights:
            w.grad = None  # a 59 MB kernel gradient is not kept alive until the next step
        logs = self._update_metrics(y, y_pred, loss.item())
        return distribution.reduce_logs(self._trackers(), logs)  # data-parallel: global means

    def _trackers(self) -> list[Any]:
        """The running means behind the logs (what data-parallel training sums over ranks)."""
        if not self.compiled:
            return []
        objectives = self._objectives
        return [objectives.loss_tracker, *objectives.output_loss_trackers, *(self._metrics or [])]

    def test_step(self, x: Any, y: Any, sample_weight: Any = None) -> dict[str, float]:
        """The loss and metrics on one batch, added to the running logs; no gradients."""
        with no_grad():
            y_pred = self(x)
            loss = self.compute_loss(y, y_pred, sample_weight)
        return self._update_metrics(y, y_pred, loss.item())

    def predict_step(self, x: Any) -> Any:
        """The model's outputs for one batch, as NumPy arrays in the outputs' structure."""
        with no_grad():
            y_pred = self(x)
        return _to_numpy(y_pred)

    # --- training ---------------------------------------------------------------------------------

    def fit(self, x: Any = None, y: Any = None, batch_size: int | None = None, epochs: int = 1,
            verbose: Any = "auto", callbacks: list | None = None, validation_split: float = 0.0,
            validation_data: Any = None, shuffle: bool = True, class_weight: dict | None = None,
            sample_weight: Any = None, initial_epoch: int = 0, steps_per_epoch: int | None = None,
            validation_steps: int | None = None, validation_freq: int = 1) -> Any:
        """Train the model for `epochs - initial_epoch` passes over the data.

        Args:
            x: inputs `(n, ...)` (a list or dict of arrays for several inputs), a data source
                following Keras's PyDataset protocol (`len()`, `[i] -> (x, y)`, optional
                `on_epoch_end()`, e.g. tinyvid.datasets.FrameBatches), or a generator / any
                iterable of batches `(x, y)` or `(x, y, sample_weight)` (a list of them too).
            y: labels `(n, ...)` (a list or dict for several outputs); None with batches.
            batch_size: samples per step, default 32 (None with batches). With the GD
                optimizer the whole training set is one batch.
            epochs: the index of the last epoch (Keras's meaning, with initial_epoch).
            verbose: 'auto' or 1 (a progress bar), 2 (a line per epoch), 0 (silent).
            callbacks: a list of tinyvid.callbacks.Callback.
            validation_split: the fraction of (x, y) to hold out, taken from the end.
            validation_data: `(x_val, y_val)`, `(x_val, y_val, sample_weight_val)` or batches.
            shuffle: visit the samples in a new random order each epoch (arrays only).
            class_weight: {class index: weight}: each sample's loss weighs its class's weight.
            sample_weight: one weight per sample `(n,)`: J = sum_i w_i l_i / n (arrays only).
            initial_epoch: the epoch to start at (to resume a run); epochs are 0-based inside.
            steps_per_epoch: batches per epoch (default: one pass over the data).
            validation_steps: batches of the validation data per validation (default: all).
            validation_freq: validate after every `validation_freq`-th epoch.

        Returns:
            A History: `history.history` maps 'loss', the metrics and their 'val_' versions to
            lists with one value per epoch.

        Training starts by tuning the process for speed, once per process: numba's threading
        layer and malloc's reuse of freed memory (tinyvid.kernels.tune_for_training; with
        verbose, fit prints one line saying what it changed).
        `tinyvid.kernels.set_training_tuning(False)` beforehand keeps the process as it is.
        """
        self._check_compiled("fit")
        epochs = checks.check_epochs(epochs)  # 2.5 and -1 refused, with a clear message
        _check_fit_options(class_weight, sample_weight, initial_epoch, epochs, validation_freq,
                           self._output_is_single())
        if validation_split and validation_data is None:
            (x, y, sample_weight), validation_data = split_validation(
                x, y, validation_split, sample_weight, self._single())
        train_batch_size = batch_size
        if self.optimizer.full_batch and not (is_data_source(x) or is_batch_iterable(x)):
            n = num_samples(as_array(x, "x", self._input_is_single()))
            if batch_size is not None and batch_size < n:
                raise ValueError(f"The GD optimizer is full-batch gradient descent: each step uses all "
                                 f"{n} samples, so batch_size={batch_size} does not apply. "
                                 f"Use SGD for mini-batches.")
            train_batch_size = n
        train = EpochIterator(batches_for(x, y, train_batch_size, shuffle, sample_weight=sample_weight,
                                          single=self._single()), steps_per_epoch)
        if train.steps == 0:
            raise ValueError("fit: the training data has no batches")
        val = None if validation_data is None else EpochIterator(
            _validation_batches(validation_data, batch_size, self._single()), validation_steps)
        checks.check_fit_arrays(train.data, None if val is None else val.data)  # NaN, inf
        verbose = 1 if verbose == "auto" else verbose
        first_tuning = process.training_tuning_enabled() and not process.is_tuned()
        applied = process.tune_for_training()
        if verbose and first_tuning and distribution.is_chief():
            print(process.describe_tuning(applied))
        hooks = CallbackList(callbacks, self, verbose, epochs - initial_epoch, train.steps)

        self.stop_training = False
        self._initial_epoch: int | None = None  # BackupAndRestore sets it in on_train_begin
        hooks.on_train_begin()
        distribution.on_train_begin(self, train.data)  # data-parallel: rank 0's weights everywhere
        start = initial_epoch if self._initial_epoch is None else self._initial_epoch
        for epoch in range(start, epochs):
            hooks.on_epoch_begin(epoch)
            self.reset_metrics()
            logs = None
            distribution.prepare_epoch(train.data)  # data-parallel: one order on every rank
            for step, batch in train.epoch():
                hooks.on_train_batch_begin(step)
                x_batch, y_batch, w_batch = distribution.local_rows(train.data, unpack(batch))
                checks.check_source_batch(train.data, x_batch, y_batch, step)  # NaN, inf, empty
                if class_weight is not None:
                    w_batch = class_weights_for(y_batch, class_weight)
                logs = self.train_step(x_batch, y_batch, w_batch)  # forward, loss, backward, step
                hooks.on_train_batch_end(step, logs)
                if self.stop_training:  # TerminateOnNaN stops at once, as in Keras
                    break
            if logs is None:  # a generator used up by an earlier epoch
                break
            epoch_logs = dict(logs)  # <- the epoch's logs: the place to reduce them over workers
            if val is not None and (epoch + 1) % validation_freq == 0:
                epoch_logs.update({"val_" + k: v for k, v in self._test_loop(val).items()})
            hooks.on_epoch_end(epoch, epoch_logs)
            self.stop_training = distribution.stop_flag(self.stop_training)  # rank 0 decides
            if self.stop_training or train.ran_out:
                break
        hooks.on_train_end()
        return hooks.history

    def train_on_batch(self, x: Any, y: Any, sample_weight: Any = None,
                       class_weight: dict | None = None, return_dict: bool = False) -> Any:
        """One training step on one batch. Returns the loss (and metrics) on that batch, computed
        before the update: a number, or [loss, *metrics] when there are metrics."""
        self._check_compiled("train_on_batch")
        if checks.is_single_array(x) and checks.is_single_array(y):
            checks.check_batch(x, y, "the batch", "train_on_batch")  # 0 samples, NaN, inf
        if class_weight is not None:
            sample_weight = class_weights_for(y, class_weight)
        self.reset_metrics()
        return _flatten_logs(self.train_step(x, y, sample_weight), return_dict)

    # --- evaluating and predicting ---------------------------------------------------------------

    def _test_loop(self, batches: EpochIterator, verbose: int = 0) -> dict[str, float]:
        """Loss and metrics over all batches, without gradients and without dropout."""
        self.reset_metrics()
        progbar = Progbar(batches.steps, verbose) if verbose else None
        logs = None
        for step, batch in batches.epoch():
            x_batch, y_batch, w_batch = distribution.local_rows(batches.data, unpack(batch))
            if num_samples(x_batch) == 0:  # data-parallel: this rank's share is empty
                continue
            logs = self.test_step(x_batch, y_batch, w_batch)
            if progbar:
                progbar.update(step + 1, sorted(logs.items()),
                               finalize=batches.steps is not None and step + 1 == batches.steps)
        if logs is None and not distribution.is_parallel():
            raise ValueError("the data to evaluate has no batches")
        return distribution.reduce_logs(self._trackers(), logs or {})  # data-parallel: global

    def evaluate(self, x: Any = None, y: Any = None, batch_size: int | None = None,
                 verbose: Any = "auto", sample_weight: Any = None, steps: int | None = None,
                 return_dict: bool = False) -> Any:
        """The loss and metrics on (x, y) or on batches, averaged over all samples.

        Returns:
            The loss (a number) if there are no metrics, else `[loss, *metrics]` (Keras's order),
            or a dict with return_dict=True.
        """
        self._check_compiled("evaluate")
        verbose = 1 if verbose == "auto" else verbose
        batches = EpochIterator(batches_for(x, y, batch_size, shuffle=False,
                                            sample_weight=sample_weight, single=self._single()),
                                steps)
        return _flatten_logs(self._test_loop(batches, verbose), return_dict)

    def test_on_batch(self, x: Any, y: Any, sample_weight: Any = None,
                      return_dict: bool = False) -> Any:
        """The loss (and metrics) on one batch, without training."""
        self._check_compiled("test_on_batch")
        self.reset_metrics()
        return _flatten_logs(self.test_step(x, y, sample_weight), return_dict)

    def predict(self, x: Any, batch_size: int | None = None, verbose: Any = "auto",
                steps: int | None = None) -> Any:
        """The model's outputs for x (or for batches), batch by batch, without gradients.

        Returns:
            A NumPy array `(n, ...)`, or a list/dict of them for several outputs.
        """
        batches = EpochIterator(batches_for(x, None, batch_size, shuffle=False, need_y=False,
                                            single=self._single()), steps)
        verbose = 1 if verbose == "auto" else verbose
        progbar = Progbar(batches.steps, verbose) if verbose else None
        outputs = []
        warned = False  # NaN inputs give NaN outputs: say so once per call
        for step, batch in batches.epoch():
            x_batch, _, _ = unpack(batch, need_y=False)
            warned = warned or checks.warn_if_non_finite(x_batch)
            outputs.append(self.predict_step(x_batch))
            if progbar:
                progbar.update(step + 1, finalize=batches.steps is not None
                               and step + 1 == batches.steps)
        first = outputs[0]
        if isinstance(first, dict):
            return {key: np.concatenate([o[key] for o in outputs]) for key in first}
        if isinstance(first, list):
            return [np.concatenate([o[i] for o in outputs]) for i in range(len(first))]
        return np.concatenate(outputs)

    def predict_on_batch(self, x: Any) -> Any:
        """The model's outputs for one batch x, as NumPy arrays."""
        return self.predict_step(x)

    # --- looking at the model ---------------------------------------------------------------------

    def summary(self, print_fn: Any = None) -> None:
        """Print a table of the layers, their output shapes and parameter counts (and, for a
        functional model, what each layer is connected to), with totals, in Keras's format.
        `print_fn` (default `print`) receives each line."""
        total = sum(layer.count_params() for layer in self._unique_layers() if layer.built)
        trainable = sum(w.size for w in self.trainable_weights)
        print_summary(self.name, self._summary_rows(), total, trainable, print_fn or print)


def _check_fit_options(class_weight: Any, sample_weight: Any, initial_epoch: Any, epochs: Any,
                       validation_freq: Any, single: bool) -> None:
    if class_weight is not None:
        if not isinstance(class_weight, dict):
            raise ValueError(f"`class_weight` must be a dict {{class index: weight}}, received "
                             f"{type(class_weight).__name__}")
        if sample_weight is not None:
            raise ValueError("You cannot use `class_weight` and `sample_weight` at the same time.")
        if not single:
            raise ValueError("`class_weight` is only supported for models with a single output.")
    for name, value, lowest in (("initial_epoch", initial_epoch, 0), ("epochs", epochs, 0),
                                ("validation_freq", validation_freq, 1)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < lowest:
            raise ValueError(f"`{name}` must be an integer >= {lowest}, received {name}={value!r}")


def _validation_batches(validation_data: Any, batch_size: int | None,
                        single: tuple[bool, bool]) -> Any:
    if is_data_source(validation_data) or is_batch_iterable(validation_data) and not (
            isinstance(validation_data, tuple) and len(validation_data) in (2, 3)):
        return validation_data
    if isinstance(validation_data, (tuple, list)) and len(validation_data) in (2, 3):
        x, y, *rest = validation_data
        return batches_for(x, y, batch_size, shuffle=False, sample_weight=rest[0] if rest else None,
                           single=single)
    received = type(validation_data).__name__
    if isinstance(validation_data, (tuple, list)):
        received += f" of {len(validation_data)} items"
    raise ValueError(f"validation_data must be a tuple (x_val, y_val) or (x_val, y_val, "
                     f"sample_weight_val), or batches; received {received}")


def _to_numpy(structure: Any) -> Any:
    if isinstance(structure, dict):
        return {key: value.data for key, value in structure.items()}
    if isinstance(structure, (list, tuple)):
        return [value.data for value in structure]
    return structure.data


def _flatten_logs(logs: dict[str, float], return_dict: bool) -> Any:
    """Keras's return value: the dict, or the loss alone, or [loss, *metrics]."""
    if return_dict:
        return logs
    values = list(logs.values())
    return values[0] if len(values) == 1 else values


__all__ = ["Trainer"]
