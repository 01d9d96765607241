"""TimeDistributed: apply one layer, with one set of weights, to every frame of a clip.

    x (batch, time, ...)  -fold->  (batch * time, ...)  -layer->  (batch * time, ...')
                          -unfold->  y (batch, time, ...')

Every frame goes through the same layer, so there is one kernel however long the clip (Keras's
`TimeDistributed(Conv2D(16, 3))` on `(batch, 8, 64, 64, 3)` has Conv2D's weights, once). The
wrapper's weights are the wrapped layer's; saving, loading, `get_weights` and `summary()` see
them as the wrapper's, as Keras shows them.
"""

from typing import Any

from tinyvid.layers.base import InputSpec, Layer


class TimeDistributed(Layer):
    """Applies `layer` to every temporal slice of the input (axis 1).

    Args:
        layer: a Layer, not yet used on other data (it is built for one frame's shape).

    Shapes:
        x `(batch, time, *frame)` -> y `(batch, time, *layer_output)`, where `layer_output` is
        `layer.compute_output_shape((None, *frame))[1:]`.
    """

    def __init__(self, layer, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(layer, Layer):
            raise self._invalid("layer", "expected a tinyvid.layers.Layer instance", layer)
        self.layer = layer
        self.input_spec = InputSpec(min_ndim=3)

    def build(self, input_shape):
        frame_shape = (None,) + tuple(input_shape[2:])
        self.layer.check_input_shape(frame_shape)
        if not self.layer.built:
            self.layer.build(frame_shape)
        # one set of weights: the wrapped layer's own lists (saving and summary read them here)
        self._weights = self.layer._weights
        self._weight_names = self.layer._weight_names
        self._weight_trainable = self.layer._weight_trainable
        self.built = True

    @property
    def trainable_weights(self):
        return self.layer.trainable_weights if self.trainable else []

    @property
    def non_trainable_weights(self):
        return self.layer.non_trainable_weights if self.trainable else self.layer.weights

    def call(self, x, training=False):
        batch, time = x.shape[:2]
        frames = x.reshape((batch * time,) + tuple(x.shape[2:]))  # fold time into the batch
        y = self.layer(frames, training=training)
        return y.reshape((batch, time) + tuple(y.shape[1:]))  # unfold

    def compute_output_shape(self, input_shape):
        batch, time = input_shape[:2]
        frame = self.layer.compute_output_shape((None,) + tuple(input_shape[2:]))
        return (batch, time) + tuple(frame[1:])

    def get_config(self) -> dict[str, Any]:
        """Keras's keys: the wrapped layer's whole serialized form nests under "layer"."""
        from tinyvid.training.serialization import serialize_layer

        return {**super().get_config(), "layer": serialize_layer(self.layer)}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "TimeDistributed":
        """The wrapped layer first (from its nested config, named as saved), then the wrapper."""
        from tinyvid.training.serialization import deserialize_layer

        config = dict(config)
        if not isinstance(config.get("layer"), dict):
            raise ValueError(f"TimeDistributed layer '{config.get('name')}': the config needs the "
                             f"wrapped layer under 'layer'. Received: {config.get('layer')!r}")
        layer = deserialize_layer(config.pop("layer"))
        return super().from_config({**config, "layer": layer})  # type: ignore[return-value]
