"""Sequential: a stack of layers, and the Keras methods that train it and use it.

The source document's model (section 4.2) runs on tinyvid with only its imports changed:

    model = Sequential()
    model.add(Conv2D(32, (3, 3), activation='relu', input_shape=(frame_size, frame_size, 3)))
    model.add(Conv2D(64, (3, 3), activation='relu'))
    model.add(Flatten())
    model.add(Dense(64, activation='relu'))
    model.add(Dense(num_classes, activation='softmax'))
    model.compile(optimizer=Adam(lr=0.001), loss='categorical_crossentropy', metrics=['accuracy'])
    model.fit(X_train, y_train, batch_size=32, epochs=10, validation_data=(X_val, y_val))

Training is one loop (`fit`), and each turn of it is one `train_step`:

    batch (x, y) -> forward: y_hat = model(x) -> loss J(y, y_hat) -> backward: grad J into each
    weight's .grad -> optimizer step: theta <- theta - alpha * ... (see optimizers.py)
"""

import numpy as np

from tinyvid.autograd.grad_mode import no_grad
from tinyvid.autograd.tensor import Tensor
from tinyvid.data.adapters import batches_for, is_data_source, split_validation, unpack
from tinyvid.kernels import process
from tinyvid.layers.base import Layer, unique_name
from tinyvid.layers.core import InputLayer
from tinyvid.training import losses, metrics, optimizers
from tinyvid.training.callbacks import CallbackList, Progbar
from tinyvid.training.saving import load_weights, save_weights


class Sequential:
    """A linear stack of layers: each layer's output is the next one's input.

    Args:
        layers: an optional list of layers to add (an `Input(...)` may come first).
        name: the model's name; by default "sequential", "sequential_1", ...
    """

    def __init__(self, layers=None, name=None):
        self.name = name if name is not None else unique_name("sequential")
        self.layers = []
        self.built = False
        self.compiled = False
        self.stop_training = False
        self.history = None
        self._input_shape = None  # (None, h, w, c) once known: from Input, input_shape=, or data
        for layer in layers or []:
            self.add(layer)

    # --- building: layers and shapes ------------------------------------------------------------

    def add(self, layer):
        """Append a layer. If the input shape is known, the layer is built at once, so shape
        errors appear here, naming the layer, and `summary()` works before any data is seen."""
        if not isinstance(layer, Layer):
            raise ValueError(f"Only instances of tinyvid.layers.Layer can be added to a Sequential "
                             f"model. Received: {layer!r} (of type {type(layer).__name__})")
        if isinstance(layer, InputLayer):
            if self.layers:
                raise ValueError(f"Sequential model '{self.name}': an Input must come before every "
                                 f"other layer, but the model already has {len(self.layers)} layers")
            self._input_shape = layer.shape
            return
        if any(existing.name == layer.name for existing in self.layers):
            raise ValueError(f"All layers added to a Sequential model should have unique names. Name "
                             f"'{layer.name}' is already the name of a layer in this model.")
        if not self.layers and self._input_shape is None and layer._input_shape_arg is not None:
            self._input_shape = layer._input_shape_arg
        self.layers.append(layer)
        if self._input_shape is not None:
            try:
                self.build(self._input_shape)
            except ValueError:
                self.layers.pop()  # leave the model as it was, usable
                raise

    def build(self, input_shape):
        """Build every layer not yet built, passing shapes down the stack (no data needed)."""
        shape = tuple(input_shape)
        for layer in self.layers:
            layer.check_input_shape(shape)
            if not layer.built:
                layer.build(shape)
            shape = layer.compute_output_shape(shape)
        self._input_shape = tuple(input_shape)
        self.built = True

    def compute_output_shape(self, input_shape):
        shape = tuple(input_shape)
        for layer in self.layers:
            shape = layer.compute_output_shape(shape)
        return shape

    def __call__(self, x, training=False):
        """The forward pass: x `(batch, ...)` through every layer in order; returns a Tensor.

        `training=True` turns on Dropout. Arrays are converted to the first layer's dtype.
        """
        if not self.layers:
            raise ValueError(f"Sequential model '{self.name}' has no layers; add some with model.add()")
        shape = np.shape(x.data if isinstance(x, Tensor) else x)
        if self._input_shape is None:
            self.build((None,) + shape[1:])  # the first data seen fixes the input shape
        self._check_input(shape)
        for layer in self.layers:
            x = layer(x, training=training)
        return x

    def _check_input(self, shape):
        expected = self._input_shape
        fits = len(shape) == len(expected) and all(e is None or e == s for e, s in zip(expected, shape))
        if not fits:
            self.layers[0].check_input_shape(shape)  # the first layer's own message, if it objects
            raise ValueError(f"Input 0 of layer '{self.name}' is incompatible with the layer: "
                             f"expected shape={expected}, found shape={tuple(shape)}")

    # --- weights --------------------------------------------------------------------------------

    @property
    def weights(self):
        return [w for layer in self.layers for w in layer.weights]

    @property
    def trainable_weights(self):
        return [w for layer in self.layers for w in layer.trainable_weights]

    def get_weights(self):
        """Copies of all weights as NumPy arrays, layer by layer (kernel, then bias)."""
        return [w for layer in self.layers for w in layer.get_weights()]

    def set_weights(self, weights):
        """Set all weights from a flat list in the order of `get_weights()`."""
        self._check_built("set_weights")
        weights = list(weights)
        expected = sum(len(layer.weights) for layer in self.layers)
        if len(weights) != expected:
            raise ValueError(f"Sequential model '{self.name}' has {expected} weights, but "
                             f"set_weights received a list of {len(weights)}")
        start = 0
        for layer in self.layers:
            n = len(layer.weights)
            layer.set_weights(weights[start:start + n])
            start += n

    def count_params(self):
        self._check_built("count_params")
        return sum(layer.count_params() for layer in self.layers)

    def save_weights(self, filepath):
        """Save all weights to an .npz file, atomically (see tinyvid/training/saving.py)."""
        self._check_built("save_weights")
        save_weights(self, filepath)

    def load_weights(self, filepath):
        """Load weights saved by `save_weights`, checking every layer and shape."""
        self._check_built("load_weights")
        load_weights(self, filepath)

    def _check_built(self, method):
        if not self.built:
            raise ValueError(f"Sequential model '{self.name}' has not been built yet, so `{method}` "
                             f"cannot run: give the first layer input_shape=, add an Input(shape=...) "
                             f"first, or call the model on data")

    # --- compile: choose the optimizer, the loss and the metrics --------------------------------

    def compile(self, optimizer="adam", loss=None, metrics=None):
        """Configure the model for training.

        Args:
            optimizer: a name ('adam', 'sgd', 'gd') or an Optimizer. Keras defaults to
                'rmsprop', which tinyvid does not have; tinyvid defaults to 'adam'.
            loss: a name ('categorical_crossentropy', 'sparse_categorical_crossentropy',
                'binary_crossentropy', 'mse'), a Loss, or a function (y_true, y_pred) -> per-sample.
            metrics: a list of names ('accuracy', 'mse', ...) or functions.
        """
        if loss is None:
            raise ValueError("compile: a loss is required, e.g. loss='categorical_crossentropy'. "
                             f"Known losses: {', '.join(sorted(losses.ALL))}")
        self.optimizer = optimizers.get(optimizer)
        self.loss = losses.get(loss)
        metric_ids = [] if metrics is None else [metrics] if isinstance(metrics, str) else list(metrics)
        for identifier in metric_ids:
            problem = _metrics_module.check_name(identifier)
            if problem:
                raise ValueError(problem)
        self._metric_ids = metric_ids
        self._loss_tracker = _metrics_module.Mean("loss")
        self._metrics = None  # made on the first batch: what 'accuracy' means depends on its shapes
        self.compiled = True

    def _check_compiled(self, method):
        if not self.compiled:
            raise ValueError(f"You must call `compile()` before using the model: `{method}` needs an "
                             f"optimizer and a loss, e.g. model.compile(optimizer='adam', "
                             f"loss='categorical_crossentropy', metrics=['accuracy'])")

    def reset_metrics(self):
        self._loss_tracker.reset()
        for metric in self._metrics or []:
            metric.reset()

    def _update_metrics(self, y, y_pred, loss):
        if self._metrics is None:
            self._metrics = [_metrics_module.get(m, y, y_pred) for m in self._metric_ids]
        self._loss_tracker.update(loss, weight=len(y_pred))
        for metric in self._metrics:
            metric.update_state(y, y_pred)
        return {"loss": self._loss_tracker.result(),
                **{metric.name: metric.result() for metric in self._metrics}}

    # --- training ---------------------------------------------------------------------------------

    def train_step(self, x, y):
        """One step of gradient descent on one batch; returns the running logs of the epoch.

        Everything made here (the graph with every activation, the gradients) is freed when it
        returns, before the next batch's forward pass.
        """
        weights = self.trainable_weights
        for w in weights:
            w.grad = None  # gradients accumulate in backward(); start from none
        y_pred = self(x, training=True)  # forward: the engine records each op
        loss = self.loss(y, y_pred)  # J: a scalar Tensor, the mean loss over the batch
        loss.backward()  # backward: grad J(theta) into every weight's .grad
        self.optimizer.apply_gradients([(w.grad, w) for w in weights])  # step: update theta
        for w in weights:
            w.grad = None  # a 59 MB kernel gradient is not kept alive until the next step
        return self._update_metrics(y, y_pred.data, loss.item())

    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None,
            validation_split=0.0, validation_data=None, shuffle=True):
        """Train the model for `epochs` passes over the data.

        Args:
            x: inputs `(n, ...)` (e.g. frames `(n, h, w, 3)`, any numeric dtype), or a data
                source following Keras's PyDataset protocol (`len()`, `[i] -> (x, y)`, optional
                `on_epoch_end()`), e.g. tinyvid.datasets.FrameBatches.
            y: labels `(n, ...)`; None with a data source.
            batch_size: samples per step, default 32 (None with a data source). With the GD
                optimizer the whole training set is one batch.
            epochs: passes over the data.
            verbose: 'auto' or 1 (a progress bar), 2 (a line per epoch), 0 (silent).
            callbacks: a list of tinyvid.callbacks.Callback.
            validation_split: the fraction of (x, y) to hold out, taken from the end.
            validation_data: `(x_val, y_val)` or a data source, evaluated after each epoch.
            shuffle: visit the samples in a new random order each epoch (arrays only).

        Returns:
            A History: `history.history` maps 'loss', the metrics and their 'val_' versions to
            lists with one value per epoch.

        Training starts by tuning the process for speed, once per process: numba's threading
        layer and malloc's reuse of freed memory (tinyvid.kernels.tune_for_training; with
        verbose, fit prints one line saying what it changed).
        `tinyvid.kernels.set_training_tuning(False)` beforehand keeps the process as it is.
        """
        self._check_compiled("fit")
        if validation_split and validation_data is None:
            (x, y), validation_data = split_validation(x, y, validation_split)
        train_batch_size = batch_size
        if self.optimizer.full_batch and not is_data_source(x):
            if batch_size is not None and batch_size < len(x):
                raise ValueError(f"The GD optimizer is full-batch gradient descent: each step uses all "
                                 f"{len(x)} samples, so batch_size={batch_size} does not apply. "
                                 f"Use SGD for mini-batches.")
            train_batch_size = len(x)
        train = batches_for(x, y, train_batch_size, shuffle)
        if len(train) == 0:
            raise ValueError("fit: the training data has no batches")
        val = None
        if validation_data is not None:
            val = validation_data if is_data_source(validation_data) else batches_for(
                *_pair(validation_data), batch_size, shuffle=False)
        verbose = 1 if verbose == "auto" else verbose
        first_tuning = process.training_tuning_enabled() and not process.is_tuned()
        applied = process.tune_for_training()
        if verbose and first_tuning:
            print(process.describe_tuning(applied))
        callbacks = CallbackList(callbacks, self, verbose, epochs, len(train))

        self.stop_training = False
        callbacks.on_train_begin()
        for epoch in range(epochs):
            callbacks.on_epoch_begin(epoch)
            self.reset_metrics()
            for step in range(len(train)):
                callbacks.on_train_batch_begin(step)
                x_batch, y_batch = unpack(train[step])
                logs = self.train_step(x_batch, y_batch)  # forward -> loss -> backward -> step
                callbacks.on_train_batch_end(step, logs)
            if hasattr(train, "on_epoch_end"):
                train.on_epoch_end()  # a new order for the next epoch
            epoch_logs = dict(logs)
            if val is not None:
                epoch_logs.update({"val_" + k: v for k, v in self._test_loop(val).items()})
            callbacks.on_epoch_end(epoch, epoch_logs)
            if self.stop_training:
                break
        callbacks.on_train_end()
        return callbacks.history

    def train_on_batch(self, x, y, return_dict=False):
        """One training step on one batch. Returns the loss (and metrics) on that batch, computed
        before the update: a number, or [loss, *metrics] when there are metrics."""
        self._check_compiled("train_on_batch")
        self.reset_metrics()
        return _flatten(self.train_step(x, y), return_dict)

    # --- evaluating and predicting ---------------------------------------------------------------

    def _test_loop(self, batches, verbose=0):
        """Loss and metrics over all batches, without gradients and without dropout."""
        if len(batches) == 0:
            raise ValueError("the data to evaluate has no batches")
        self.reset_metrics()
        progbar = Progbar(len(batches), verbose) if verbose else None
        with no_grad():
            for step in range(len(batches)):
                x_batch, y_batch = unpack(batches[step])
                y_pred = self(x_batch)
                logs = self._update_metrics(y_batch, y_pred.data, self.loss(y_batch, y_pred).item())
                if progbar:
                    progbar.update(step + 1, sorted(logs.items()), finalize=step + 1 == len(batches))
        return logs

    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", return_dict=False):
        """The loss and metrics on (x, y) or a data source, averaged over all samples.

        Returns:
            The loss (a number) if there are no metrics, else `[loss, *metrics]` (Keras's order),
            or a dict with return_dict=True.
        """
        self._check_compiled("evaluate")
        verbose = 1 if verbose == "auto" else verbose
        logs = self._test_loop(batches_for(x, y, batch_size, shuffle=False), verbose)
        return _flatten(logs, return_dict)

    def predict(self, x, batch_size=None, verbose="auto"):
        """The model's outputs for x (or a data source's batches), batch by batch, without
        gradients. Returns a NumPy array `(n, ...)`."""
        batches = batches_for(x, None, batch_size, shuffle=False, need_y=False)
        verbose = 1 if verbose == "auto" else verbose
        progbar = Progbar(len(batches), verbose) if verbose else None
        outputs = []
        with no_grad():
            for step in range(len(batches)):
                x_batch, _ = unpack(batches[step], need_y=False)
                outputs.append(self(x_batch).data)
                if progbar:
                    progbar.update(step + 1, finalize=step + 1 == len(batches))
        return np.concatenate(outputs)

    # --- looking at the model ---------------------------------------------------------------------

    def summary(self, print_fn=None):
        """Print a table of the layers, their output shapes and parameter counts, with totals,
        in Keras's format. `print_fn` (default `print`) receives each line."""
        print_fn = print_fn or print
        widths = (33, 26, 13)
        rows = []
        shape = self._input_shape
        for layer in self.layers:
            shape = layer.compute_output_shape(shape) if shape is not None and layer.built else None
            params = f"{layer.count_params():,}" if layer.built else "0 (unbuilt)"
            name = f"{layer.name} ({type(layer).__name__})"
            rows.append((name, "?" if shape is None else str(shape), params))

        def line(left, mid, right, fill="━"):
            return left + mid.join(fill * (w + 2) for w in widths) + right

        def row(cells, edge="│"):
            name, out, params = cells
            return (f"{edge} {name:<{widths[0]}} {edge} {out:<{widths[1]}} {edge} "
                    f"{params:>{widths[2]}} {edge}")

        print_fn(f'Model: "{self.name}"')
        print_fn(line("┏", "┳", "┓"))
        print_fn(row(("Layer (type)", "Output Shape", "Param #"), edge="┃"))
        print_fn(line("┡", "╇", "┩"))
        for cells in rows:
            print_fn(row(cells))
        print_fn(line("└", "┴", "┘", fill="─"))
        total = sum(layer.count_params() for layer in self.layers if layer.built)
        trainable = sum(w.size for w in self.trainable_weights)
        totals = (("Total", total), ("Trainable", trainable), ("Non-trainable", total - trainable))
        for label, count in totals:
            print_fn(f" {label} params: {count:,} ({_readable_size(count * 4)})")

    def __repr__(self):
        return f"<Sequential name={self.name}, layers={[layer.name for layer in self.layers]}>"


_metrics_module = metrics  # compile() has an argument called `metrics`


def _pair(validation_data):
    if isinstance(validation_data, (tuple, list)) and len(validation_data) == 2:
        return validation_data
    received = type(validation_data).__name__
    if isinstance(validation_data, (tuple, list)):
        received += f" of {len(validation_data)} items"
    raise ValueError(f"validation_data must be a tuple (x_val, y_val) or a data source; "
                     f"received {received}")


def _flatten(logs, return_dict):
    """Keras's return value: the dict, or the loss alone, or [loss, *metrics]."""
    if return_dict:
        return logs
    values = list(logs.values())
    return values[0] if len(values) == 1 else values


def _readable_size(num_bytes):
    """'56.33 MB', as Keras prints parameter memory (1 KB = 1024 B)."""
    for unit in ("B", "KB", "MB", "GB"):
        if num_bytes < 1024 or unit == "GB":
            return f"{num_bytes:.2f} {unit}"
        num_bytes /= 1024
