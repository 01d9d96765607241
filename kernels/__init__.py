"""Numba kernels: plain-Python loops with jitted aliases (installed as tinyvid.kernels).
"""
import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from .conv import col2im, conv2d_backward, conv2d_forward, im2col  # noqa: E402
