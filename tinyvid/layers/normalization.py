"""BatchNormalization: normalise each channel with the batch's statistics while training, and with
their moving averages at inference (Keras 3's layer, arguments and defaults).

    training=True:   y = gamma * (x - mean_batch) / sqrt(var_batch + epsilon) + beta
                     moving_mean <- momentum * moving_mean + (1 - momentum) * mean_batch  (same
                     for moving_variance)
    training=False:  y = gamma * (x - moving_mean) / sqrt(moving_variance + epsilon) + beta

The statistics are taken over every axis but `axis` (for clips `(batch, time, height, width,
channels)` that is batch, time, height and width). Weights, in Keras's order: gamma and beta
(trainable, the optimizer updates them), moving_mean and moving_variance (non-trainable: no
gradient, the layer updates them in training); all four are saved and loaded. The op is
tinyvid.nn.batch_normalization, fused forward and backward.
"""

import numbers
from typing import Any

from tinyvid.layers import initializers
from tinyvid.layers.base import InputSpec, Layer
from tinyvid.nn.normalization import (
    BatchNormInference,
    BatchNormTraining,
    moments,
    update_moving_statistics,
)


class BatchNormalization(Layer):
    """Batch normalisation (Ioffe and Szegedy, 2015).

    Args:
        axis: the channel axis, an int (default -1, channels-last).
        momentum: decay of the moving averages, in [0, 1]. Default 0.99.
        epsilon: added to the variance, > 0. Default 1e-3.
        center: learn an offset beta. scale: learn a factor gamma.
        beta_initializer, gamma_initializer: 'zeros' and 'ones'.
        moving_mean_initializer, moving_variance_initializer: 'zeros' and 'ones'.
        synchronized: only False (one process).

    A frozen layer (`trainable=False`) runs in inference mode even when training, as Keras 3's.
    """

    def __init__(self, axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True,
                 beta_initializer="zeros", gamma_initializer="ones",
                 moving_mean_initializer="zeros", moving_variance_initializer="ones",
                 beta_regularizer=None, gamma_regularizer=None, beta_constraint=None,
                 gamma_constraint=None, synchronized=False, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(axis, numbers.Integral) or isinstance(axis, bool):
            raise self._invalid("axis", "expected an integer", axis)
        if not isinstance(momentum, numbers.Real) or not 0 <= momentum <= 1:
            raise self._invalid("momentum", "expected a number between 0 and 1", momentum)
        if not isinstance(epsilon, numbers.Real) or not epsilon > 0:
            raise self._invalid("epsilon", "expected a positive number", epsilon)
        unsupported = {"beta_regularizer": beta_regularizer, "gamma_regularizer": gamma_regularizer,
                       "beta_constraint": beta_constraint, "gamma_constraint": gamma_constraint,
                       "synchronized": synchronized or None}
        for argument, value in unsupported.items():
            if value is not None:
                raise self._invalid(argument, "tinyvid supports only the default", value)
        self.axis, self.momentum, self.epsilon = int(axis), float(momentum), float(epsilon)
        self.center, self.scale = bool(center), bool(scale)
        self.beta_initializer, self.gamma_initializer = beta_initializer, gamma_initializer
        self.moving_mean_initializer = moving_mean_initializer
        self.moving_variance_initializer = moving_variance_initializer
        self.supports_masking = True  # the mask passes through unchanged

    def build(self, input_shape):
        ndim = len(input_shape)
        if not -ndim <= self.axis < ndim:
            raise ValueError(f"BatchNormalization layer '{self.name}': invalid value for argument "
                             f"`axis`: the input has {ndim} axes (input shape "
                             f"{tuple(input_shape)}). Received: axis={self.axis}")
        self._axis = self.axis % ndim
        channels = input_shape[self._axis]
        if channels is None:
            raise ValueError(f"BatchNormalization layer '{self.name}': axis {self.axis} of the "
                             f"input must be known, received input shape {tuple(input_shape)}")
        shape = (channels,)
        self.gamma = self.add_weight(shape, self.gamma_initializer, "gamma") if self.scale else None
        self.beta = self.add_weight(shape, self.beta_initializer, "beta") if self.center else None
        self.moving_mean = self.add_weight(shape, self.moving_mean_initializer, "moving_mean",
                                           trainable=False)
        self.moving_variance = self.add_weight(shape, self.moving_variance_initializer,
                                               "moving_variance", trainable=False)
        self.input_spec = InputSpec(ndim=ndim, axes={self._axis: channels})
        self.built = True

    def call(self, x, training=False):
        params = dict(axis=self._axis, epsilon=self.epsilon)
        if training and self.trainable:
            mean, variance = moments(x.data, self._axis)
            update_moving_statistics(self.moving_mean.data, self.moving_variance.data, mean,
                                     variance, self.momentum)
            return BatchNormTraining.apply(x, self.gamma, self.beta, mean=mean,
                                           variance=variance, **params)
        return BatchNormInference.apply(x, self.gamma, self.beta, mean=self.moving_mean.data,
                                        variance=self.moving_variance.data, **params)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self) -> dict[str, Any]:
        serialize = initializers.serialize
        return {**super().get_config(), "axis": self.axis, "momentum": self.momentum,
                "epsilon": self.epsilon, "center": self.center, "scale": self.scale,
                "beta_initializer": serialize(self.beta_initializer),
                "gamma_initializer": serialize(self.gamma_initializer),
                "moving_mean_initializer": serialize(self.moving_mean_initializer),
                "moving_variance_initializer": serialize(self.moving_variance_initializer),
                "beta_regularizer": None, "gamma_regularizer": None, "beta_constraint": None,
                "gamma_constraint": None, "synchronized": False, "renorm": False,
                "renorm_clipping": None, "renorm_momentum": 0.99}
