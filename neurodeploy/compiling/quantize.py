"""Float -> hardware numbers: decays, thresholds, biases and weights (all vectorised).

Fixed-point conventions follow Lava's bit-accurate LIF and Dense models. A population's
float voltages are multiplied by a power-of-two ``scale`` (activation units per unit of
v_th); a weight ``w`` becomes ``w * scale ~= w_int * 2**weight_exp``; the threshold
``v_th * scale ~= vth``; a bias enters v directly, so ``bias * scale * 2**activation_shift ~=
bias_mant * 2**bias_exp``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..profiles import HardwareProfile

SIGN_MODES = {"mixed": 1, "excitatory": 2, "inhibitory": 3}  # values of lava's SignMode


def decay_to_fixed(dt_over_tau: np.ndarray | float, bits: int, offset: int) -> np.ndarray:
    """Lava decay register: the per-step decay fraction is ``(d + offset) / 2**bits``.

    Lava adds ``offset`` (1 for du, 0 for dv) inside the neuron, so the register holds
    ``round(fraction * 2**bits) - offset``, clipped to the register's range.
    """
    unity = 1 << bits
    raw = np.rint(np.asarray(dt_over_tau, dtype=np.float64) * unity).astype(np.int64) - offset
    return np.clip(raw, 0, unity - 1)


def voltage_scale(v_th_max: float, max_input: float, profile: HardwareProfile,
                  bias_max: float = 0.0) -> float:
    """Largest power of two so that threshold, state, worst-case input and bias fit their widths.

    ``max_input`` is the largest float input one step can deliver to any neuron (all
    presynaptic neurons firing at once); with this scale it never overflows the
    activation register. ``bias_max`` is the largest |bias|: it must fit the bias mantissa
    at the largest bias exponent, or the bias would be clipped (a bias larger than v_th,
    e.g. a neuron that fires every step, would otherwise lose most of itself).
    Returns 0.0 when no power of two >= 1 fits.
    """
    n = profile.neuron
    limits = [(2 ** n.threshold_bits - 1) / v_th_max,
              2 ** (n.state_bits - 1 - n.threshold_shift - n.state_headroom_bits) / v_th_max]
    if max_input > 0:
        limits.append((2 ** (n.activation_bits - 1) - 1) / max_input)
    if bias_max > 0:
        limits.append(bias_limit(profile) / (bias_max * 2 ** n.activation_shift))
    best = min(limits)
    if best < 1.0:
        return 0.0
    return float(2.0 ** np.floor(np.log2(best)))


def threshold_to_fixed(v_th: np.ndarray | float, scale: float) -> np.ndarray:
    """vth register value for a float threshold at ``scale``."""
    return np.rint(np.asarray(v_th, dtype=np.float64) * scale).astype(np.int64)


def bias_limit(profile: HardwareProfile) -> float:
    """Largest |bias| register value: the mantissa's magnitude at the largest exponent."""
    n = profile.neuron
    return float((2 ** (n.bias_mant_bits - 1) - 1) * 2 ** n.bias_exp_range[1])


def bias_to_fixed(bias: np.ndarray | float, scale: float, profile: HardwareProfile
                  ) -> tuple[np.ndarray, int, int]:
    """(bias_mant, bias_exp, clipped count) with one exponent shared by the population."""
    n = profile.neuron
    target = np.asarray(bias, dtype=np.float64) * scale * 2 ** n.activation_shift
    mant_max = 2 ** (n.bias_mant_bits - 1) - 1
    lo, hi = n.bias_exp_range
    peak = float(np.max(np.abs(target))) if target.size else 0.0
    exp = lo
    while exp < hi and peak / 2 ** exp > mant_max:
        exp += 1
    ideal = np.rint(target / 2 ** exp)
    clipped = int(np.count_nonzero((ideal > mant_max) | (ideal < -mant_max - 1)))
    return np.clip(ideal, -mant_max - 1, mant_max).astype(np.int64), exp, clipped


@dataclass
class QuantizedWeights:
    """Integer weights as Lava's Dense takes them, with their exponent and error figures."""

    values: np.ndarray
    weight_exp: int
    num_weight_bits: int
    sign_mode: str
    clipped: int
    step: float  # size of one mantissa step in scaled units (2**exp * mantissa step)


def sign_mode_of(weights: np.ndarray) -> str:
    """Lava's sign mode: excitatory if no negative weight, inhibitory if no positive one."""
    if weights.size == 0 or weights.min() >= 0:
        return "excitatory"
    if weights.max() <= 0:
        return "inhibitory"
    return "mixed"


def mantissa_grid(sign_mode: str, bits: int) -> tuple[int, int, int]:
    """(low, high, step) of Lava's 8-bit weight register after clip_weights/truncate_weights."""
    mixed = int(sign_mode == "mixed")
    step = 1 << (8 - bits + mixed)
    if sign_mode == "mixed":
        return -256, (255 // step) * step, step
    if sign_mode == "excitatory":
        return 0, (255 // step) * step, step
    return -(255 // step) * step, 0, step


def quantize_weights(scaled: np.ndarray, bits: int, exp_range: tuple[int, int]
                     ) -> QuantizedWeights:
    """Quantize weights already multiplied by the post population's scale.

    Picks the smallest exponent in ``exp_range`` at which no weight clips (the finest
    step); if even the largest exponent clips, clips and counts the clipped weights.
    """
    sign_mode = sign_mode_of(scaled)
    low, high, step = mantissa_grid(sign_mode, bits)
    e_lo, e_hi = exp_range
    pos = float(scaled.max()) if scaled.size else 0.0
    neg = float(scaled.min()) if scaled.size else 0.0
    with np.errstate(divide="ignore"):  # a denormal ratio may round to 0: log2 -> -inf
        need = [np.log2(pos / high) if pos > 0 and high > 0 else -np.inf,
                np.log2(neg / low) if neg < 0 and low < 0 else -np.inf]
    exp = int(np.clip(np.ceil(max(need) - 1e-12), e_lo, e_hi)) if max(need) > -np.inf else e_lo
    mant = np.rint(scaled / (step * 2.0 ** exp)).astype(np.int64) * step
    clipped = int(np.count_nonzero((mant > high) | (mant < low)))
    values = np.clip(mant, low, high).astype(np.int16)
    return QuantizedWeights(values=values, weight_exp=exp, num_weight_bits=bits,
                            sign_mode=sign_mode, clipped=clipped, step=step * 2.0 ** exp)


def quantize_levels(weights: np.ndarray, levels: int) -> tuple[np.ndarray, float]:
    """Analog weights: a differential pair of devices with ``levels`` conductances each.

    A weight takes one of ``2*levels - 1`` values ``k * g`` with ``|k| <= levels - 1`` and
    ``g = max|w| / (levels - 1)``. Returns (quantized weights, g).
    """
    peak = float(np.max(np.abs(weights))) if weights.size else 0.0
    if peak == 0.0 or levels < 2:
        return np.zeros_like(weights) if levels < 2 else weights.copy(), peak
    g = peak / (levels - 1)
    return np.rint(weights / g) * g, g


def relative_rms(original: np.ndarray, approx: np.ndarray) -> float:
    """||approx - original|| / ||original|| (0 when the original is all zeros)."""
    norm = float(np.sqrt(np.sum(np.square(original))))
    if norm == 0.0:
        return 0.0
    return float(np.sqrt(np.sum(np.square(approx - original))) / norm)


# What the simulators run for ``numerics: fixed`` (Lava 0.10's PyLifModelBitAcc and
# PyDenseModelBitAcc, generalised in neurodeploy/neurons/lif.py to the build's state and
# decay widths and shifts, which the cpu backend honours and Lava refuses unless they are
# Loihi 2's): field path -> (relation, value). "<=" fields bound what the compiler may emit
# (int32 state in the simulators), which the simulators then run exactly. ``activation_bits`` is absent: it only
# bounds the scale the compiler picks, and activations travel in int32 as in Lava's
# channels (wrapping identically; tests/netgen.py's stress profile uses 24).
LAVA_FIXED_POINT: dict[tuple[str, str], tuple[str, int]] = {
    ("neuron", "state_bits"): ("<=", 30),
    ("neuron", "decay_bits"): ("<=", 16),
    ("neuron", "threshold_bits"): ("<=", 17),
    ("neuron", "bias_mant_bits"): ("<=", 13),
    ("weights", "bits"): ("<=", 8),
}
LAVA_FIXED_RANGES: dict[tuple[str, str], tuple[int, int]] = {
    ("neuron", "bias_exp_range"): (0, 7),
    ("weights", "exp_range"): (-8, 7),
}


def unsupported_fixed_point(profile: HardwareProfile) -> list[tuple[tuple[str, str], str]]:
    """(field path, reason) for every fixed-point setting the simulators cannot honour."""
    out = []
    for (section, name), (rel, want) in LAVA_FIXED_POINT.items():
        value = getattr(getattr(profile, section), name)
        if (rel == "==" and value != want) or (rel == "<=" and value > want):
            need = f"{want}" if rel == "==" else f"at most {want}"
            out.append(((section, name), f"is {value}, but the simulators implement Lava's "
                        f"bit-accurate LIF and Dense only, where it is {want}; use {need}"))
    n = profile.neuron
    if n.threshold_shift != n.activation_shift:
        field, other = (("activation_shift", "threshold_shift") if n.activation_shift != 6
                        else ("threshold_shift", "activation_shift"))
        out.append((("neuron", field), f"is {getattr(n, field)}, but {other} is "
                    f"{getattr(n, other)}; the quantizer scales inputs and thresholds alike, "
                    "so the two shifts must be equal"))
    for (section, name), (lo, hi) in LAVA_FIXED_RANGES.items():
        a, b = getattr(getattr(profile, section), name)
        if a < lo or b > hi:
            out.append(((section, name), f"is [{a}, {b}], but the simulators implement Lava's "
                        f"range [{lo}, {hi}] only; use a range inside it"))
    return out
