"""The LIF quantizer: float IR parameters to the registers of the build's neuron model.

Float builds keep the physical values (``du = dt / tau_syn``, ...). Fixed builds pick the
largest power-of-two voltage scale at which threshold, state and the worst-case input fit
the profile's widths, then quantize decays (``decay_bits``), thresholds and biases.
Failures carry the IR field path they are about; the compiler turns them into its
one-line errors.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from neurodeploy.compiling import quantize as q


class QuantizeError(ValueError):
    """A parameter that cannot be represented; ``path`` is relative to the population."""

    def __init__(self, path: tuple, message: str) -> None:
        super().__init__(message)
        self.path = path


@dataclass
class Quantized:
    """One LIF population's build parameters (arrays per neuron) and compile figures."""

    params: dict[str, Any]
    scale: float
    figures: dict[str, Any]
    warnings: list[str] = field(default_factory=list)


def quantize(name: str, params: Any, size: int, dt: float, max_input: float, inputs: str,
             profile: Any, fixed: bool) -> Quantized:
    """Quantize LIF population ``name`` (IR ``params``) for ``profile``; ``max_input`` is the
    worst-case float input per step (all of the projections ``inputs`` firing)."""
    v_th = np.broadcast_to(np.asarray(params.v_th, dtype=np.float64), (size,))
    bias = np.broadcast_to(np.asarray(params.bias, dtype=np.float64), (size,))
    if not fixed:
        return Quantized({"du": dt / params.tau_syn, "dv": dt / params.tau_mem, "vth": v_th,
                          "bias_mant": bias, "bias_exp": 0, "refractory": params.refractory},
                         1.0, {"vth": float(v_th.max()), "tau_syn_eff": params.tau_syn,
                               "tau_mem_eff": params.tau_mem})
    n = profile.neuron
    bias_max = float(np.max(np.abs(bias)))
    scale = q.voltage_scale(float(v_th.max()), max_input, profile, bias_max)
    if scale == 0.0 and q.voltage_scale(float(v_th.max()), max_input, profile) > 0.0:
        raise QuantizeError(("params", "bias"), f"bias {bias_max:g} does not fit the "
                            f"{n.bias_mant_bits}-bit bias mantissa at any scale >= 1; lower "
                            "the bias (v_th and weights scale with it)")
    if scale == 0.0 and q.voltage_scale(float(v_th.max()), 0.0, profile) == 0.0:
        raise QuantizeError(("params", "v_th"), f"v_th {v_th.max():g} does not fit the "
                            f"{n.threshold_bits}-bit threshold and {n.state_bits}-bit state "
                            "even at scale 1; lower v_th (weights and bias scale with it)")
    if scale == 0.0:
        raise QuantizeError((), f"worst-case input of {max_input:.3g} per step (all of "
                            f"{inputs} firing) does not fit {n.activation_bits}-bit activation "
                            f"at any scale >= 1 with v_th {v_th.max():g}; lower the weights or "
                            "fan-in, or raise v_th")
    du = int(q.decay_to_fixed(dt / params.tau_syn, n.decay_bits, 1))
    dv = int(q.decay_to_fixed(dt / params.tau_mem, n.decay_bits, 0))
    vth = q.threshold_to_fixed(v_th, scale)
    if vth.min() < 1:
        raise QuantizeError(("params", "v_th"), f"threshold {v_th.min():g} quantizes to 0 at "
                            f"scale {scale:g}; raise v_th or lower the weights")
    bias_mant, bias_exp, clipped = q.bias_to_fixed(bias, scale, profile)
    lost = (bias != 0) & (bias_mant == 0)
    if np.any(lost):
        raise QuantizeError(("params", "bias"), f"bias {bias[lost][0]:g} rounds to 0 at scale "
                            f"{scale:g} (the {n.bias_mant_bits}-bit mantissa's step is "
                            f"{2.0 ** bias_exp / (scale * 2 ** n.activation_shift):.3g}); raise "
                            "it, set it to 0, or lower the fan-in so the scale can grow")
    warnings = []
    if clipped:
        warnings.append(f"populations.{name}.params.bias: {clipped} biases clipped to the "
                        f"{n.bias_mant_bits}-bit mantissa at exponent {bias_exp}")
    if vth.max() < 64:
        warnings.append(f"populations.{name}: threshold is only {int(vth.max())} steps of "
                        "resolution (large fan-in forces a small scale)")
    unity = 2 ** n.decay_bits
    bias_eff = bias_mant * 2.0 ** bias_exp / (scale * 2 ** n.activation_shift)
    figures = {"vth": int(vth.max()), "max_input": max_input,
               "tau_syn_eff": dt * unity / (du + 1),
               "tau_mem_eff": dt * unity / dv if dv else float("inf"),
               "v_th_rel_err": float(np.max(np.abs(vth / scale - v_th) / v_th)),
               "bias_max_abs_err": float(np.max(np.abs(bias_eff - bias)))}
    return Quantized({"du": du, "dv": dv, "vth": vth, "bias_mant": bias_mant,
                      "bias_exp": bias_exp, "refractory": 0}, scale, figures, warnings)
