"""Counter-based random numbers: a draw is a pure function of (seed, chip, population, neuron,
step, stream).

Temporal noise and stochastic neurons must give the same numbers on every backend and in
every run, whatever the batch layout, thread count or order of evaluation. A counter-based
generator (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC 2011) does this
by hashing the coordinates of a draw instead of advancing a state. Here the hash is
SplitMix64's finaliser (Steele, Lea & Flood, OOPSLA 2014) applied in a chain over the
coordinates, each absorbed with a distinct odd constant:

    h = mix(seed ^ K0);  h = mix(h ^ (chip * K1));  h = mix(h ^ (pop * K2))
    h = mix(h ^ (neuron * K3));  h = mix(h ^ (step * K4));  h = mix(h ^ (stream * K5))

all in uint64 arithmetic (wrapping). ``uniform`` is the top 53 bits of ``h`` scaled to
[0, 1); ``normal`` is Box-Muller on two uniforms of streams ``NORMAL_BASE + 2*stream`` and ``+ 1``.

The scalar functions (``hash64``, ``uniform``, ``normal``) are numba ``@njit`` functions
(all constants are ``np.uint64`` so numba never promotes to float); call them from inside
the cpu backend's jitted step loop (or from Python, which compiles them on first use).
``uniform_array`` / ``normal_array`` are the vectorised NumPy twins; uniforms are
bit-identical to the scalar code, normals agree to the last bit or two of the libm's
``log``/``cos`` (the tests check both). ``draws`` precomputes a ``[steps, n]`` block for one
population with the compiled scalar code, so Lava and Brian2 runs read exactly the numbers
the cpu step loop draws.
"""
from __future__ import annotations

import math
import zlib
from functools import lru_cache

import numpy as np
from numba import njit

M64 = np.uint64(0xFFFFFFFFFFFFFFFF)
_G = np.uint64(0x9E3779B97F4A7C15)          # golden ratio increment (SplitMix64)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31, _S11 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(11)
_K = (np.uint64(0x243F6A8885A308D3), np.uint64(0x13198A2E03707345),
      np.uint64(0xA4093822299F31D1), np.uint64(0x082EFA98EC4E6C89),
      np.uint64(0x452821E638D01377), np.uint64(0xBE5466CF34E90C6D))
_K0, _K1, _K2, _K3, _K4, _K5 = _K
_KS = np.uint64((0x243F6A8885A308D3 + 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF)
_ONE = np.uint64(1)
_INV53 = 1.0 / 9007199254740992.0           # 2**-53
#: a normal of stream s reads the uniforms of streams NORMAL_BASE + 2s and NORMAL_BASE + 2s
#: + 1, a range no model draws uniforms from, so no two models share a random number
NORMAL_BASE = np.uint64(1 << 32)
TWO_PI = 2.0 * math.pi

from .streams import (STREAM_CURRENT, STREAM_MEMBRANE, STREAM_SPIKE_DROP,  # noqa: F401,E402
                      STREAM_STOCHASTIC, STREAM_UPDATE_NOISE, STREAM_UPDATE_ROUNDING)


def population_id(name: str) -> int:
    """Stable integer id of a population name (CRC-32), the ``pop`` coordinate of a draw."""
    return zlib.crc32(name.encode("utf-8"))


# --------------------------------------------------------------------------- scalar (numba)
@njit(nogil=True)
def _mix(z):
    """SplitMix64 finaliser of a uint64."""
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


@njit(nogil=True)
def hash64(seed, chip, pop, neuron, step, stream):
    """uint64 hash of the six coordinates (all non-negative integers)."""
    h = _mix(np.uint64(seed) ^ _KS)
    h = _mix(h ^ (np.uint64(chip) * _K1))
    h = _mix(h ^ (np.uint64(pop) * _K2))
    h = _mix(h ^ (np.uint64(neuron) * _K3))
    h = _mix(h ^ (np.uint64(step) * _K4))
    return _mix(h ^ (np.uint64(stream) * _K5))


@njit(nogil=True)
def uniform(seed, chip, pop, neuron, step, stream):
    """Uniform draw in [0, 1) with 53 random bits."""
    return float(hash64(seed, chip, pop, neuron, step, stream) >> _S11) * _INV53


@njit(nogil=True)
def normal(seed, chip, pop, neuron, step, stream):
    """Standard normal draw (Box-Muller on the uniform streams ``NORMAL_BASE + 2 stream`` and
    ``NORMAL_BASE + 2 stream + 1``)."""
    s = NORMAL_BASE + np.uint64(stream) + np.uint64(stream)
    u1 = 1.0 - uniform(seed, chip, pop, neuron, step, s)                # (0, 1]
    u2 = uniform(seed, chip, pop, neuron, step, s + _ONE)
    return math.sqrt(-2.0 * math.log(u1)) * math.cos(TWO_PI * u2)


def jit_scalar():
    """(hash64, uniform, normal) as numba dispatchers, for use inside jitted step loops."""
    return hash64, uniform, normal


# --------------------------------------------------------------------------- NumPy twin
def _u64(x) -> np.ndarray:
    return np.asarray(x).astype(np.uint64)


def _mix_array(z: np.ndarray) -> np.ndarray:
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


def hash64_array(seed, chip, pop, neuron, step, stream) -> np.ndarray:
    """Vectorised :func:`hash64` (arguments broadcast against each other)."""
    with np.errstate(over="ignore"):
        h = _mix_array(_u64(seed) ^ _KS)
        h = _mix_array(h ^ (_u64(chip) * _K1))
        h = _mix_array(h ^ (_u64(pop) * _K2))
        h = _mix_array(h ^ (_u64(neuron) * _K3))
        h = _mix_array(h ^ (_u64(step) * _K4))
        return _mix_array(h ^ (_u64(stream) * _K5))


def uniform_array(seed, chip, pop, neuron, step, stream) -> np.ndarray:
    """Vectorised :func:`uniform`: bit-identical to the scalar code."""
    return (hash64_array(seed, chip, pop, neuron, step, stream) >> _S11).astype(np.float64) * _INV53


def normal_array(seed, chip, pop, neuron, step, stream) -> np.ndarray:
    """Vectorised :func:`normal` (same formula; NumPy's log/cos may differ in the last bit)."""
    s = NORMAL_BASE + _u64(stream) + _u64(stream)
    u1 = 1.0 - uniform_array(seed, chip, pop, neuron, step, s)
    u2 = uniform_array(seed, chip, pop, neuron, step, s + _ONE)
    return np.sqrt(-2.0 * np.log(u1)) * np.cos(TWO_PI * u2)


# --------------------------------------------------------------------------- precomputed blocks
@lru_cache(maxsize=1)
def _block_kernel():
    @njit(nogil=True)
    def block(seed, chip, pop, n_neurons, step0, steps, stream, gaussian, out):
        for t in range(steps):
            for i in range(n_neurons):
                if gaussian:
                    out[t, i] = normal(seed, chip, pop, i, step0 + t, stream)
                else:
                    out[t, i] = uniform(seed, chip, pop, i, step0 + t, stream)
    return block


def draws(seed: int, chip: int, population: str | int, size: int, steps: int, stream: int,
          kind: str = "normal", step0: int = 0) -> np.ndarray:
    """``[steps, size]`` draws of one population, computed by the same compiled scalar code
    the cpu step loop uses (for Lava and Brian2, which read them as precomputed inputs)."""
    if kind not in ("normal", "uniform"):
        raise ValueError(f"kind must be 'normal' or 'uniform'; got {kind!r}")
    pop = population_id(population) if isinstance(population, str) else int(population)
    for name, val in (("seed", seed), ("chip", chip), ("size", size), ("steps", steps),
                      ("stream", stream), ("step0", step0)):
        if int(val) < 0:
            raise ValueError(f"{name} must be >= 0; got {val}")
    out = np.empty((int(steps), int(size)), np.float64)
    _block_kernel()(np.uint64(seed), np.uint64(chip), np.uint64(pop), int(size), int(step0),
                    int(steps), np.uint64(stream), kind == "normal", out)
    return out
