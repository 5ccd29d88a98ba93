"""Per-run arguments of :mod:`compilers.cpu.step_loop` for a :class:`~.learn_layout.Layout`:
the recorders a run fills and the temporal noise it draws (docs/noise.md)."""
from __future__ import annotations

from collections import namedtuple

import numpy as np

from .learn_layout import Layout

Recorder = namedtuple("Recorder", "idx spikes v_idx v u_idx u counts count_lo count_hi window "
                                  "total synops")
#: ``t_off``: added to a run's step in every draw, so a learner's successive runs (epochs,
#: alignment phases) draw fresh noise instead of repeating the first run's
Noise = namedtuple("Noise", "seed chip pop_id local sigma p_drop mem drop sigma_c cur t_off")


def recorder(lay: Layout, batch: int, steps: int = 0, spikes: np.ndarray | None = None,
             v: np.ndarray | None = None, u: np.ndarray | None = None,
             counts: tuple[int, int] = (0, 0), windows: int = 0, window: int = 1) -> Recorder:
    """Recorders of a run of ``batch`` instances: rasters of the emitters ``spikes`` and
    v / u of the neurons ``v`` / ``u`` over ``steps`` steps, spike counts of neurons
    ``counts[0]:counts[1]`` per window of ``window`` steps, totals and synaptic events."""
    idx = [np.zeros(0, np.int64) if x is None else np.asarray(x, np.int64) for x in (spikes, v, u)]
    lo, hi = counts
    vdt = np.int32 if lay.plan.fixed else np.float64     # Lava's Var types
    return Recorder(idx[0], np.zeros((batch, steps if idx[0].size else 0, idx[0].size), np.uint8),
                    idx[1], np.zeros((batch, steps if idx[1].size else 0, idx[1].size), vdt),
                    idx[2], np.zeros((batch, steps if idx[2].size else 0, idx[2].size), vdt),
                    np.zeros((batch, windows, hi - lo), np.int32), lo, hi, max(window, 1),
                    np.zeros((batch, lay.n), np.int64), np.zeros(batch))


def noise(lay: Layout, chips: np.ndarray | list[int] | None = None) -> Noise:
    """The plan's temporal noise (membrane, spike drop) for instances drawing the noise
    of ``chips`` (one per instance, or one for all; default chip 0)."""
    from neurodeploy.variability.noise import TemporalNoise
    from neurodeploy.variability.counter_rng import population_id
    m = lay.n_src + lay.n
    pop_id, local = np.zeros(m, np.uint64), np.zeros(m, np.int64)
    sigma, sigma_c, p_drop = np.zeros(lay.n), np.zeros(lay.n), np.zeros(m)
    tn = TemporalNoise.from_plan(lay.plan)
    for name, e0 in lay.emitter0.items():
        size = lay.plan.populations[name].size
        pop_id[e0:e0 + size] = population_id(name)
        local[e0:e0 + size] = np.arange(size)
        pn = tn.populations.get(name)
        if pn is None:
            continue
        p_drop[e0:e0 + size] = pn.p_drop
        if name in lay.neuron0:
            sigma[e0 - lay.n_src:e0 - lay.n_src + size] = pn.sigma_state
            sigma_c[e0 - lay.n_src:e0 - lay.n_src + size] = pn.current_sigma_state
    chips = np.zeros(1, np.int64) if chips is None else np.asarray(chips, np.int64).reshape(-1)
    return Noise(np.int64(lay.plan.seed), chips, pop_id, local, sigma, p_drop,
                 bool(sigma.any()), bool(p_drop.any()), sigma_c, bool(sigma_c.any()),
                 np.int64(0))
