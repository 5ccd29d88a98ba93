"""The cpu backend: NumPy reference kernels and a numba-compiled simulator."""
