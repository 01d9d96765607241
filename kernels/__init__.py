"""Numba kernels: plain-Python loops with jitted aliases (installed as tinyvid.kernels)."""
