"""Per-chip figures from spike rasters: rates, spike-train distance, sparsity, synaptic ops.

Everything is reduced per instance as soon as a batch finishes, so a Monte Carlo run keeps
only these numbers, never the rasters of finished chips.
"""
from __future__ import annotations

import numpy as np
from scipy.signal import lfilter

DISTANCE_TAU_MS = 10.0


def filtered(spikes: np.ndarray, dt: float, tau: float = DISTANCE_TAU_MS) -> np.ndarray:
    """Exponentially filtered trains along the step axis (axis -2): ``f[t] = a f[t-1] + s[t]``."""
    a = float(np.exp(-dt / tau))
    return lfilter([1.0], [1.0, -a], spikes.astype(np.float64), axis=-2)


def distance(chip_f: np.ndarray, nominal_f: np.ndarray) -> np.ndarray:
    """Normalised van Rossum distance per instance, in [0, 2]: ``||f_c - f_n|| /
    sqrt((||f_c||^2 + ||f_n||^2) / 2)`` (0 when both are silent). ``chip_f`` is
    ``[B, T, n]``, ``nominal_f`` ``[T, n]``."""
    diff = np.sum((chip_f - nominal_f[None]) ** 2, axis=(1, 2))
    norm = (np.sum(chip_f ** 2, axis=(1, 2)) + np.sum(nominal_f ** 2)) / 2.0
    with np.errstate(invalid="ignore", divide="ignore"):
        d = np.sqrt(diff) / np.sqrt(norm)
    return np.where(norm > 0, d, 0.0)


def figures(spikes: dict[str, np.ndarray], nominal: dict[str, np.ndarray] | None, dt: float,
            fanout: dict[str, np.ndarray], steps: int, base_synops: float = 0.0
            ) -> list[dict[str, float]]:
    """Figures of every instance of a batch.

    ``spikes[pop]`` is ``[B, T, n]`` 0/1; ``nominal[pop]`` the filtered ``[T, n]`` trains
    of the nominal chip (:func:`filtered`; None: no distances); ``fanout[pop]`` the outgoing synapse count of each
    neuron of every population for synaptic operations; ``base_synops`` the events caused by
    source populations (the same for every chip)."""
    pops = list(spikes)
    B = next(iter(spikes.values())).shape[0] if spikes else 0
    seconds = steps * dt / 1000.0
    out: list[dict[str, float]] = [{} for _ in range(B)]
    total_spikes = np.zeros(B)
    total_cells = 0
    synops = np.full(B, float(base_synops))
    d_num = np.zeros(B)
    d_norm = np.zeros(B)
    for pop in pops:
        s = spikes[pop]
        n = s.shape[2]
        counts = s.sum(axis=1, dtype=np.int64)                       # [B, n]
        rate = counts.sum(axis=1) / (n * seconds) if n and seconds else np.zeros(B)
        active = counts.sum(axis=1)
        sparsity = 1.0 - active / float(n * steps) if n and steps else np.ones(B)
        total_spikes += active
        total_cells += n * steps
        if pop in fanout:
            synops += counts @ fanout[pop].astype(np.float64)
        for b in range(B):
            out[b][f"{pop}.rate"] = float(rate[b])
            out[b][f"{pop}.sparsity"] = float(sparsity[b])
        if nominal is not None and pop in nominal:
            fc, fn = filtered(s, dt), nominal[pop]
            d = distance(fc, fn)
            d_num += np.sum((fc - fn[None]) ** 2, axis=(1, 2))
            d_norm += (np.sum(fc ** 2, axis=(1, 2)) + np.sum(fn ** 2)) / 2.0
            for b in range(B):
                out[b][f"{pop}.distance"] = float(d[b])
    for b in range(B):
        out[b]["sparsity"] = float(1.0 - total_spikes[b] / total_cells) if total_cells else 1.0
        out[b]["synops"] = float(synops[b])
        if nominal is not None:
            out[b]["distance"] = float(np.sqrt(d_num[b]) / np.sqrt(d_norm[b])) if d_norm[b] > 0 else 0.0
    return out


def fanout_of(plan) -> dict[str, np.ndarray]:
    """Outgoing synapses per neuron of every population (nonzero nominal weights)."""
    out = {name: np.zeros(pop.size, np.int64) for name, pop in plan.populations.items()}
    for proj in plan.projections.values():
        w = proj.dense_weights()
        out[proj.pre] += np.count_nonzero(w, axis=0)
    return out
