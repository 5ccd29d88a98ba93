"""Nominal parameters + one chip's draws -> that chip's effective parameters.

Mismatch is applied in float (the physical quantity), then fixed builds are re-quantized to
the registers Lava's bit-accurate models take: ``du``/``dv`` of the build's decay width, 17-bit unsigned
``vth``, 13-bit signed ``bias_mant`` at the population's ``bias_exp``, and weights on the
projection's mantissa grid (sign mode and ``num_weight_bits``), so a mismatched chip is still
a valid build of the same profile. Float builds stay float (analog devices are not snapped
back to the compile-time levels).
"""
from __future__ import annotations

import numpy as np

from .config import MismatchConfig

VTH_MAX = (1 << 17) - 1     # unsigned 17-bit threshold mantissa
BIAS_MIN, BIAS_MAX = -(1 << 12), (1 << 12) - 1     # signed 13-bit bias mantissa
MIN_GAIN = 0.05             # a time constant never shrinks below 5 % of nominal


def gain(z: np.ndarray, cv: float, dist: str = "gaussian") -> np.ndarray:
    """Multiplicative factor with mean 1 and coefficient of variation ``cv``.

    gaussian: ``max(1 + cv z, 0)``; lognormal: ``exp(mu + s z)`` with ``s^2 = ln(1 + cv^2)``
    and ``mu = -s^2 / 2`` (mean exactly 1, CV exactly ``cv``)."""
    if cv == 0:
        return np.ones_like(z)
    if dist == "lognormal":
        s2 = np.log1p(cv * cv)
        return np.exp(-0.5 * s2 + np.sqrt(s2) * z)
    return np.maximum(1.0 + cv * z, 0.0)


# --------------------------------------------------------------------------- neurons
def decay(nominal: np.ndarray | float, z: np.ndarray, cv: float, fixed: bool, offset: int,
          bits: int = 12) -> np.ndarray:
    """Decay register(s) when the time constant is scaled by ``1 + cv z``; a fixed register
    is the fraction ``(d + offset) / 2**bits`` (the build's ``neuron_model``)."""
    g = np.maximum(1.0 + cv * z, MIN_GAIN)
    if not fixed:
        return np.minimum(np.asarray(nominal, np.float64) / g, 1.0)
    unity = 1 << bits
    frac = (np.asarray(nominal, np.float64) + offset) / unity
    reg = np.rint(frac / g * unity).astype(np.int64) - offset
    return np.clip(reg, 0, unity - 1)


def threshold(nominal: np.ndarray, z: np.ndarray, cv: float, fixed: bool) -> np.ndarray:
    """Threshold scaled by a gaussian gain ``max(1 + cv z, 0)``."""
    v = np.asarray(nominal, np.float64) * gain(z, cv)
    if not fixed:
        return v
    return np.clip(np.rint(v), 0, VTH_MAX).astype(np.int64)


def bias(nominal: np.ndarray, z: np.ndarray, sigma: float, fixed: bool, unit: float
         ) -> np.ndarray:
    """Bias plus ``sigma z`` float units; ``unit`` is one float unit in mantissa steps."""
    if not fixed:
        return np.asarray(nominal, np.float64) + sigma * z
    b = np.asarray(nominal, np.float64) + np.rint(sigma * z * unit)
    return np.clip(b, BIAS_MIN, BIAS_MAX).astype(np.int64)


# --------------------------------------------------------------------------- synapses
def mantissa_grid(sign_mode: str, bits: int) -> tuple[int, int, int]:
    """(low, high, step) of Lava's weight register for a sign mode and width."""
    mixed = int(sign_mode == "mixed")
    step = 1 << (8 - bits + mixed)
    top = (255 // step) * step
    if sign_mode == "mixed":
        return -256, top, step
    if sign_mode == "excitatory":
        return 0, top, step
    return -top, 0, step


def weights(nominal: np.ndarray, draws: dict[str, np.ndarray], cfg: MismatchConfig, *,
            fixed: bool, sign_mode: str = "mixed", bits: int = 8,
            dead_post: np.ndarray | None = None,
            post_gain: np.ndarray | None = None) -> np.ndarray:
    """Effective weights of one projection (same shape as the plan's weight array).

    Order: programming noise (``write_noise`` x full scale), device gain, the post
    neuron's input gain (``post_gain``: one factor per synapse, from its neuron), drift
    ``(t / 1 s)^-nu``, then stuck synapses (zero, or the largest weight with the nominal
    sign; a random sign where the nominal weight is 0 in mixed mode), then dead post
    neurons (``dead_post``: bool per synapse) lose their input; fixed builds are put back
    on the mantissa grid."""
    w = np.asarray(nominal, np.float64)
    if fixed:
        low, high, step = mantissa_grid(sign_mode, bits)
        full = float(max(abs(low), high))
    else:
        full = float(np.max(np.abs(w))) if w.size else 0.0
        low, high, step = -full, full, 0
    v = cfg.values
    out = w.copy()
    if v["write_noise"] > 0:
        out = out + v["write_noise"] * full * draws["write"]
    out = out * gain(draws["gain"], v["weights_cv"], v["weights_dist"])
    if post_gain is not None:
        out = out * post_gain
    if v["drift_nu"] > 0:
        nu = np.maximum(v["drift_nu"] * (1.0 + v["drift_nu_cv"] * draws["nu"]), 0.0)
        out = out * np.power(float(v["drift_time_s"]), -nu)
    if v["stuck_fraction"] > 0:
        stuck = draws["stuck"] < v["stuck_fraction"]
        at_max = stuck & (draws["stuck_kind"] < v["stuck_max_share"])
        sign = np.sign(w)
        sign = np.where(sign == 0, np.where(draws["sign"] < 0.5, -1.0, 1.0), sign)
        if sign_mode == "excitatory":
            sign = np.ones_like(sign)
        elif sign_mode == "inhibitory":
            sign = -np.ones_like(sign)
        top = np.where(sign > 0, high, low)
        out = np.where(stuck, np.where(at_max, top, 0.0), out)
    if dead_post is not None:
        out = np.where(dead_post, 0.0, out)
    if not fixed:
        return out
    out = np.rint(out / step) * step
    return np.clip(out, low, high).astype(np.int64)


# --------------------------------------------------------------------------- learning
def update_lsb(nominal: np.ndarray, bits: int) -> float:
    """Weight step of a float build's learning updates: a signed ``bits``-bit register
    spanning the projection's nominal full scale, ``max|w| / (2^(bits-1) - 1)`` (0 when
    every weight is 0)."""
    w = np.asarray(nominal, np.float64)
    full = float(np.max(np.abs(w))) if w.size else 0.0
    return full / ((1 << (int(bits) - 1)) - 1)
