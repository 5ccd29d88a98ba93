"""A straightforward step loop over :mod:`compilers.cpu.kernels`: the readable reference.

It simulates one instance of a :class:`SimPlan` with dense matrices, one
:class:`~compilers.cpu.kernels.DenseState` per projection and the LIF kernels, in Lava's
order (every projection delivers, neurons update, projections take the new spikes). The
numba engine of the cpu backend must agree with it (bit-exact for fixed builds). Slow;
meant for tests and debugging.
"""
from __future__ import annotations

import numpy as np

from ..plan import SimPlan
from neurodeploy.neurons import MEMBRANE_KINDS, FixedConstants, lif, stochastic
from neurodeploy.variability.counter_rng import STREAM_STOCHASTIC, population_id, uniform_array

from . import kernels as K


lif_refractory_float_step = lif.reference_refractory_float_step


def simulate(plan: SimPlan, inputs: dict[str, np.ndarray], steps: int, chip: int = 0
             ) -> dict[str, np.ndarray]:
    """Monitored arrays ``{"<pop>.<var>": [steps, size]}`` of one instance (stochastic
    populations draw the uniforms of chip ``chip``)."""
    fixed = plan.fixed
    dtype = np.int32 if fixed else np.float64
    fc = FixedConstants.from_neuron_model(plan.neuron_model)
    lifs = {n: p for n, p in plan.populations.items() if p.kind in MEMBRANE_KINDS}
    state = {n: (np.zeros((1, p.size), dtype), np.zeros((1, p.size), dtype))
             for n, p in lifs.items()}
    ref_end = {n: np.zeros((1, p.size), np.int64) for n, p in lifs.items()}
    projs = {}
    for name, pr in plan.projections.items():
        delayed = np.ndim(pr.delays) > 0 or int(pr.delays) != 0
        projs[name] = K.DenseState(pr.dense_weights(), 1, fixed=fixed,
                                   weight_exp=pr.weight_exp if fixed else 0,
                                   num_weight_bits=pr.num_weight_bits,
                                   sign_mode=pr.sign_mode if fixed else None,
                                   delays=pr.dense_delays() if delayed else None,
                                   max_delay=pr.max_delay if delayed else None)
    rec = {f"{p}.{v}": [] for p, v in plan.monitors}
    for t in range(steps):
        a_in = {n: np.zeros((1, p.size), np.int64 if fixed else np.float64)
                for n, p in lifs.items()}
        for name, pr in plan.projections.items():
            a_in[pr.post] = a_in[pr.post] + projs[name].deliver()
        spikes = {}
        for n, p in lifs.items():
            u, v = state[n]
            if p.kind == "stochastic":
                r = uniform_array(plan.seed, chip, population_id(n), np.arange(p.size), t,
                                  STREAM_STOCHASTIC)
                s = stochastic.reference_step(u, v, a_in[n], r, p.du, p.dv, p.vth, p.bias_mant,
                                              p.beta, p.refractory, ref_end[n], t + 1)
            elif fixed:
                s = lif.reference_fixed_step(u, v, a_in[n], p.du, p.dv, p.vth, p.bias_mant,
                                             p.bias_exp, fc)
            elif p.refractory:
                s = lif_refractory_float_step(u, v, a_in[n], p.du, p.dv, p.vth, p.bias_mant,
                                              p.refractory, ref_end[n], t + 1)
            else:
                s = lif.reference_float_step(u, v, a_in[n], p.du, p.dv, p.vth, p.bias_mant)
            spikes[n] = s
        for n in plan.sources():
            spikes[n] = inputs[n][t][None].astype(bool)
        for name, pr in plan.projections.items():
            projs[name].accumulate(spikes[pr.pre])
        for p, var in plan.monitors:
            if var == "spikes":
                rec[f"{p}.{var}"].append(spikes[p][0].astype(np.uint8))
            else:
                rec[f"{p}.{var}"].append(state[p][0 if var == "u" else 1][0].copy())
    return {k: np.array(v) if v else np.zeros((0, plan.populations[k.split(".")[0]].size))
            for k, v in rec.items()}
