"""Preprocessing layers that run inside the model, as Keras 3's image preprocessing layers.

    Rescaling        y = x * scale + offset                      (any input)
    Resizing         bilinear or nearest resize to (height, width)
    CenterCrop       the central (height, width) window
    RandomFlip       flip left-right and/or up-down, with probability 1/2
    RandomCrop       a random (height, width) window
    RandomRotation   rotate by a random angle about the centre
    RandomZoom       zoom in or out by a random factor about the centre
    RandomContrast   y = (x - mean) * f + mean, f random, clipped to value_range

Inputs are images `(batch, height, width, channels)` or clips `(batch, time, height, width,
channels)`. A random layer draws one transform per image, or per clip, so that every frame of a
clip is flipped, cropped, rotated alike. The random layers act only with training=True (in
inference they pass the input through; RandomCrop then takes the central window); they draw from
their own generator with seed=, otherwise from tinyvid's shared one (so set_random_seed fixes
them). All are differentiable (see tinyvid/nn/image.py), so they may sit anywhere in a model.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from tinyvid.autograd.tensor import Tensor
from tinyvid.layers.base import InputSpec, Layer, check_data_format, is_positive_int
from tinyvid.nn.image import (
    FILL_MODES,
    INTERPOLATIONS,
    Pad2D,
    affine_transform,
    resize,
    smart_resize,
)
from tinyvid.training.rng import generator_for

__all__ = [
    "Rescaling", "Resizing", "CenterCrop", "RandomFlip", "RandomCrop", "RandomRotation",
    "RandomZoom", "RandomContrast",
]


class Rescaling(Layer):
    """y = x * scale + offset, e.g. `Rescaling(1 / 255)` maps uint8 frames to [0, 1].

    Args:
        scale: a number, or one per channel.
        offset: a number, or one per channel. Default 0.
    """

    def __init__(self, scale: Any, offset: Any = 0.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        for argument, value in (("scale", scale), ("offset", offset)):
            if not np.all(np.isfinite(np.asarray(value, dtype=np.float64))):
                raise self._invalid(argument, "expected finite numbers", value)
        self.scale, self.offset = scale, offset

    def call(self, x: Tensor, training: bool = False) -> Tensor:
        return x * np.asarray(self.scale, dtype=self.dtype) + np.asarray(self.offset, self.dtype)

    def get_config(self) -> dict[str, Any]:
        return {**_base_config(self), "scale": self.scale, "offset": self.offset}


class _ImageLayer(Layer):
    """Images or clips in: `transform` sees images `(n, h, w, c)` and the number of frames per
    clip (1 for images), so it can draw one transform per clip and repeat it over the frames."""

    def __init__(self, data_format: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        check_data_format(data_format, self)
        self.data_format = "channels_last"
        self.input_spec = InputSpec(min_ndim=4)

    def check_input_shape(self, shape: Any, index: int = 0) -> None:
        super().check_input_shape(shape, index)
        if len(shape) > 5:
            raise ValueError(f"Input {index} of layer '{self.name}' is incompatible with the "
                             f"layer: expected images (batch, height, width, channels) or clips "
                             f"(batch, time, height, width, channels), found shape {tuple(shape)}")

    def call(self, x: Tensor, training: bool = False) -> Tensor:
        if x.ndim == 4:
            return self.transform(x, training, 1)
        n, t, h, w, c = x.shape
        y = self.transform(x.reshape(n * t, h, w, c), training, t)
        return y.reshape(n, t, *y.shape[1:])

    def transform(self, images: Tensor, training: bool, frames: int) -> Tensor:
        raise NotImplementedError

    def output_size(self, height: int, width: int) -> tuple[int, int]:
        return height, width

    def compute_output_shape(self, input_shape: Any) -> tuple[Any, ...]:
        *lead, h, w, c = input_shape
        return (*lead, *self.output_size(h, w), c)

    def get_config(self) -> dict[str, Any]:
        return {**_base_config(self), "data_format": self.data_format}


class _SizedLayer(_ImageLayer):
    """A layer with a target (height, width), checked once here."""

    def __init__(self, height: int, width: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        for argument, value in (("height", height), ("width", width)):
            if not is_positive_int(value):
                raise self._invalid(argument, "expected a positive integer", value)
        self.height, self.width = int(height), int(width)

    def output_size(self, height: int, width: int) -> tuple[int, int]:
        return self.height, self.width


class Resizing(_SizedLayer):
    """Resize images to (height, width): y = Wh x Ww^T (see tinyvid.nn.resize).

    Args:
        height, width: the output size.
        interpolation: 'bilinear' (the default) or 'nearest'.
        crop_to_aspect_ratio: first take the largest central window of the output's aspect
            ratio, so nothing is stretched.
        pad_to_aspect_ratio: first pad the image (with fill_value) to the output's aspect ratio.
        fill_mode: 'constant', the only one Keras allows here.
        fill_value: the padding's value. Default 0.
        antialias: Keras's key; only False.
    """

    def __init__(self, height: int, width: int, interpolation: str = "bilinear",
                 crop_to_aspect_ratio: bool = False, pad_to_aspect_ratio: bool = False,
                 fill_mode: str = "constant", fill_value: float = 0.0, antialias: bool = False,
                 **kwargs: Any) -> None:
        super().__init__(height, width, **kwargs)
        if interpolation not in INTERPOLATIONS:
            raise self._invalid("interpolation", f"expected one of {INTERPOLATIONS}",
                                interpolation)
        if crop_to_aspect_ratio and pad_to_aspect_ratio:
            raise self._invalid("pad_to_aspect_ratio", "only one of `pad_to_aspect_ratio` and "
                                "`crop_to_aspect_ratio` can be True", pad_to_aspect_ratio)
        if fill_mode != "constant":
            raise self._invalid("fill_mode", "only 'constant' is supported", fill_mode)
        if antialias:
            raise self._invalid("antialias", "tinyvid resizes without antialiasing", antialias)
        self.interpolation, self.fill_mode, self.fill_value = interpolation, fill_mode, fill_value
        self.crop_to_aspect_ratio, self.pad_to_aspect_ratio = crop_to_aspect_ratio, pad_to_aspect_ratio
        self.antialias = False

    def transform(self, images: Tensor, training: bool, frames: int) -> Tensor:
        if self.crop_to_aspect_ratio:
            return smart_resize(images, self.height, self.width, self.interpolation)
        if self.pad_to_aspect_ratio:
            h, w = images.shape[1:3]
            padded_h = max(h, int(float(w * self.height) / self.width))
            padded_w = max(w, int(float(h * self.width) / self.height))
            top, left = int(float(padded_h - h) / 2), int(float(padded_w - w) / 2)
            if top or left:  # Keras pads the same amount on both sides
                images = Pad2D.apply(images, pads=(top, top, left, left), value=self.fill_value)
        return resize(images, (self.height, self.width), self.interpolation)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "height": self.height, "width": self.width,
                "interpolation": self.interpolation,
                "crop_to_aspect_ratio": self.crop_to_aspect_ratio,
                "pad_to_aspect_ratio": self.pad_to_aspect_ratio, "fill_mode": self.fill_mode,
                "fill_value": self.fill_value, "antialias": False}


class CenterCrop(_SizedLayer):
    """The central (height, width) window: rows (h - height) // 2 onwards, columns likewise.
    An image smaller than that is first cropped to the target's aspect ratio, then resized
    (bilinear), as Keras does.

    Args:
        height, width: the output size.
    """

    def transform(self, images: Tensor, training: bool, frames: int) -> Tensor:
        h, w = images.shape[1:3]
        if h < self.height or w < self.width:
            return smart_resize(images, self.height, self.width)
        top, left = (h - self.height) // 2, (w - self.width) // 2
        return images[:, top:top + self.height, left:left + self.width]

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "height": self.height, "width": self.width}


# --- the random layers ---------------------------------------------------------------------------


class _RandomLayer(_ImageLayer):
    def __init__(self, seed: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.seed = seed
        self._generator = None if seed is None else generator_for(seed)

    def draw(self, images: Tensor, frames: int, sample: Any) -> np.ndarray:
        """`sample(generator, clips)`: one value per clip, repeated for each of its frames."""
        generator = self._generator or generator_for(None)
        return np.repeat(sample(generator, images.shape[0] // frames), frames, axis=0)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "seed": self.seed}


def _factor_range(layer: Layer, argument: str, factor: Any, low: float, high: float
                  ) -> tuple[float, float]:
    """Keras's factor rule: f means (max(-f, low), f); a pair (a, b) means (a, b) sorted."""
    if isinstance(factor, (tuple, list)) and len(factor) == 2 and all(
            isinstance(f, numbers.Real) for f in factor):
        lower, upper = sorted(float(f) for f in factor)
        if lower <= high and upper >= low:
            return lower, upper
    elif isinstance(factor, numbers.Real) and not isinstance(factor, bool) and (
            low <= float(factor) <= high):
        return max(-abs(float(factor)), low), abs(float(factor))
    raise layer._invalid(argument, f"expected a number (or a list of two numbers) in the range "
                         f"[{low}, {high}]", factor)


class RandomFlip(_RandomLayer):
    """In training, flip each image (or clip) with probability 1/2: left-right ('horizontal'),
    up-down ('vertical'), or both at once ('horizontal_and_vertical', the default; one draw
    decides both, as in Keras).

    Args:
        mode: 'horizontal', 'vertical' or 'horizontal_and_vertical'.
        seed: for the layer's own generator.
    """

    MODES = ("horizontal", "vertical", "horizontal_and_vertical")

    def __init__(self, mode: str = "horizontal_and_vertical", seed: int | None = None,
                 **kwargs: Any) -> None:
        super().__init__(seed=seed, **kwargs)
        if mode not in self.MODES:
            raise self._invalid("mode", f"expected one of {self.MODES}", mode)
        self.mode = mode

    def transform(self, images: Tensor, training: bool, frames: int) -> Tensor:
        if not training:
            return images
        flip = self.draw(images, frames, lambda g, n: g.random(n) <= 0.5)
        n, h, w, _ = images.shape
        rows, cols = np.broadcast_to(np.arange(h), (n, h)), np.broadcast_to(np.arange(w), (n, w))
        if self.mode != "horizontal":
            rows = np.where(flip[:, None], h - 1 - rows, rows)
        if self.mode != "vertical":
            cols = np.where(flip[:, None], w - 1 - cols, cols)
        return images[np.arange(n)[:, None, None], rows[:, :, None], cols[:, None, :]]

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "mode": self.mode}


class RandomCrop(_RandomLayer):
    """In training, a random (height, width) window of each image (or clip: the same window in
    every frame), its top-left corner uniform over the positions that fit. In inference, or for
    an image not larger than the window, the largest central window of the target's aspect
    ratio, resized to (height, width) (bilinear), as Keras documents.

    Args:
        height, width: the output size.
        seed: for the layer's own generator.
    """

    def __init__(self, height: int, width: int, seed: int | None = None, **kwargs: Any) -> None:
        super().__init__(seed=seed, **kwargs)
        for argument, value in (("height", height), ("width", width)):
            if not is_positive_int(value):
                raise self._invalid(argument, "expected a positive integer", value)
        self.height, self.width = int(height), int(width)

    def output_size(self, height: int, width: int) -> tuple[int, int]:
        return self.height, self.width

    def transform(self, images: Tensor, training: bool, frames: int) -> Tensor:
        n, h, w, _ = images.shape
        if not (training and h > self.height and w > self.width):
            return smart_resize(images, self.height, self.width)
        top = self.draw(images, frames, lambda g, k: g.integers(0, h - self.height + 1, k))
        left = self.draw(images, frames, lambda g, k: g.integers(0, w - self.width + 1, k))
        rows = top[:, None, None] + np.arange(self.height)[None, :, None]
        cols = left[:, None, None] + np.arange(self.width)[None, None, :]
        return images[np.arange(n)[:, None, None], rows, cols]

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "height": self.height, "width": self.width}


class _RandomAffine(_RandomLayer):
    """Rotation and zoom: an affine warp with Keras's fill modes and interpolation."""

    def __init__(self, fill_mode: str = "reflect", interpolation: str = "bilinear",
                 seed: int | None = None, fill_value: float = 0.0, **kwargs: Any) -> None:
        super().__init__(seed=seed, **kwargs)
        if fill_mode not in FILL_MODES:
            raise self._invalid("fill_mode", f"expected one of {FILL_MODES}", fill_mode)
        if interpolation not in INTERPOLATIONS:
            raise self._invalid("interpolation", f"expected one of {INTERPOLATIONS}",
                                interpolation)
        self.fill_mode, self.interpolation, self.fill_value = fill_mode, interpolation, fill_value

    def transform(self, images: Tensor, training: bool, frames: int) -> Tensor:
        if not training:
            return images
        transforms = self.transforms(images, frames)
        return affine_transform(images, transforms, self.interpolation, self.fill_mode,
                                self.fill_value)

    def transforms(self, images: Tensor, frames: int) -> np.ndarray:
        raise NotImplementedError

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "fill_mode": self.fill_mode,
                "fill_value": self.fill_value, "interpolation": self.interpolation}


class RandomRotation(_RandomAffine):
    """In training, rotate each image (or clip) about its centre by theta = 2 pi u, u uniform in
    the factor's range; positive angles turn counter-clockwise. Output pixel (x, y) reads the
    input at the centre + R(theta) (x - cx, y - cy), bilinear, outside points by fill_mode.

    Args:
        factor: a fraction of a full turn: f means [-f, f], (a, b) means [a, b]; in [-1, 1].
        fill_mode: 'reflect' (the default), 'wrap', 'constant' or 'nearest'.
        interpolation: 'bilinear' (the default) or 'nearest'.
        seed: for the layer's own generator.
        fill_value: the value outside the image with fill_mode='constant'.
    """

    def __init__(self, factor: Any, fill_mode: str = "reflect", interpolation: str = "bilinear",
                 seed: int | None = None, fill_value: float = 0.0, **kwargs: Any) -> None:
        super().__init__(fill_mode, interpolation, seed, fill_value, **kwargs)
        self.factor = _factor_range(self, "factor", factor, -1.0, 1.0)

    def transforms(self, images: Tensor, frames: int) -> np.ndarray:
        lower, upper = self.factor
        theta = self.draw(images, frames, lambda g, n: g.uniform(lower, upper, n)) * 2 * math.pi
        h, w = images.shape[1:3]
        cx, cy, cos, sin = (w - 1) / 2, (h - 1) / 2, np.cos(theta), np.sin(theta)
        zeros = np.zeros_like(theta)
        return np.stack([cos, -sin, cx - cos * cx + sin * cy,
                         sin, cos, cy - sin * cx - cos * cy, zeros, zeros], axis=1)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "factor": self.factor}


class RandomZoom(_RandomAffine):
    """In training, zoom each image (or clip) about its centre: output pixel (x, y) reads the
    input at cx + z_w (x - cx), cy + z_h (y - cy), with z = 1 + u, u uniform in the factor's
    range (z > 1 zooms out, z < 1 zooms in).

    Args:
        height_factor: f means [-f, f], (a, b) means [a, b]; in [-1, 1].
        width_factor: the same for the width; None zooms the width as the height.
        fill_mode, interpolation, seed, fill_value: as RandomRotation.
    """

    def __init__(self, height_factor: Any, width_factor: Any = None, fill_mode: str = "reflect",
                 interpolation: str = "bilinear", seed: int | None = None,
                 fill_value: float = 0.0, **kwargs: Any) -> None:
        super().__init__(fill_mode, interpolation, seed, fill_value, **kwargs)
        self.height_factor, self.width_factor = height_factor, width_factor
        self.height_lower, self.height_upper = _factor_range(
            self, "height_factor", height_factor, -1.0, 1.0)
        if width_factor is not None:
            self.width_lower, self.width_upper = _factor_range(
                self, "width_factor", width_factor, -1.0, 1.0)

    def transforms(self, images: Tensor, frames: int) -> np.ndarray:
        zoom_h = 1 + self.draw(images, frames, lambda g, n: g.uniform(
            self.height_lower, self.height_upper, n))
        zoom_w = zoom_h if self.width_factor is None else 1 + self.draw(
            images, frames, lambda g, n: g.uniform(self.width_lower, self.width_upper, n))
        h, w = images.shape[1:3]
        zeros = np.zeros_like(zoom_h)
        return np.stack([zoom_w, zeros, (w - 1) / 2 * (1 - zoom_w), zeros, zoom_h,
                         (h - 1) / 2 * (1 - zoom_h), zeros, zeros], axis=1)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "height_factor": self.height_factor,
                "width_factor": self.width_factor}


class RandomContrast(_RandomLayer):
    """In training, y = clip((x - mean) * f + mean, value_range) with mean each image's mean
    per channel and f uniform in [1 - lower, 1 + upper], one f per image (or clip).

    Args:
        factor: f means (0, f) (Keras's rule, with bounds [0, 1]); (a, b) means (a, b).
        value_range: the range the output is clipped to. Default (0, 255).
        seed: for the layer's own generator.
    """

    def __init__(self, factor: Any, value_range: tuple[float, float] = (0, 255),
                 seed: int | None = None, **kwargs: Any) -> None:
        super().__init__(seed=seed, **kwargs)
        self.factor = _factor_range(self, "factor", factor, 0.0, 1.0)
        if len(value_range) != 2 or not value_range[0] < value_range[1]:
            raise self._invalid("value_range", "expected (low, high) with low < high",
                                value_range)
        self.value_range = tuple(value_range)

    def transform(self, images: Tensor, training: bool, frames: int) -> Tensor:
        if not training:
            return images
        lower, upper = self.factor
        f = self.draw(images, frames, lambda g, n: g.uniform(1 - lower, 1 + upper, n))
        mean = images.mean(axis=(1, 2), keepdims=True)
        y = (images - mean) * f.astype(self.dtype)[:, None, None, None] + mean
        return y.clip(*self.value_range)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "factor": self.factor, "value_range": self.value_range}


def _base_config(layer: Layer) -> dict[str, Any]:
    """The keys every Keras layer config starts with (the Layer base's own, once it has one)."""
    base = getattr(Layer, "get_config", None)
    if base is not None:
        return dict(base(layer))
    return {"name": layer.name, "trainable": layer.trainable, "dtype": layer.dtype.name}
