"""Per-chip figures from spike rasters: rates, spike-train distance, sparsity, synaptic ops.

Everything is reduced per instance as soon as a batch finishes, so a Monte Carlo run keeps
only these numbers, never the rasters of finished chips.
"""
from __future__ import annotations

import numpy as np
from numba import njit
from scipy.signal import lfilter

DISTANCE_TAU_MS = 10.0


def filtered(spikes: np.ndarray, dt: float, tau: float = DISTANCE_TAU_MS) -> np.ndarray:
    """Exponentially filtered trains along the step axis (axis -2): ``f[t] = a f[t-1] + s[t]``
    with ``a = exp(-dt / tau)`` (reference for :func:`distance_terms`)."""
    a = float(np.exp(-dt / tau))
    return lfilter([1.0], [1.0, -a], spikes.astype(np.float64), axis=-2)


@njit(nogil=True, cache=False)
def _vr_terms(spikes, nominal, a):
    """Filter chip and nominal trains on the fly; per instance sum (f_c - f_n)^2, sum f_c^2,
    and sum f_n^2 (float64, in a fixed order: independent of the batch)."""
    B, T, n = spikes.shape
    diff = np.zeros(B)
    own = np.zeros(B)
    nom = 0.0
    g = np.zeros(n)
    for t in range(T):
        for i in range(n):
            g[i] = a * g[i] + nominal[t, i]
            nom += g[i] * g[i]
    f = np.zeros(n)
    for b in range(B):
        g[:] = 0.0
        f[:] = 0.0
        for t in range(T):
            for i in range(n):
                f[i] = a * f[i] + spikes[b, t, i]
                g[i] = a * g[i] + nominal[t, i]
                d = f[i] - g[i]
                diff[b] += d * d
                own[b] += f[i] * f[i]
    return diff, own, nom


def distance_terms(spikes: np.ndarray, nominal: np.ndarray, dt: float,
                   tau: float = DISTANCE_TAU_MS) -> tuple[np.ndarray, np.ndarray]:
    """Per instance ``(||f_c - f_n||^2, (||f_c||^2 + ||f_n||^2) / 2)`` of the filtered
    trains of ``spikes`` ``[B, T, n]`` and ``nominal`` ``[T, n]`` (0/1 rasters)."""
    diff, own, nom = _vr_terms(np.ascontiguousarray(spikes, dtype=np.uint8),
                               np.ascontiguousarray(nominal, dtype=np.uint8),
                               float(np.exp(-dt / tau)))
    return diff, (own + nom) / 2.0


def distance(spikes: np.ndarray, nominal: np.ndarray, dt: float) -> np.ndarray:
    """Normalised van Rossum distance per instance, in [0, 2]: ``||f_c - f_n|| /
    sqrt((||f_c||^2 + ||f_n||^2) / 2)`` (0 when both are silent)."""
    return _ratio(*distance_terms(spikes, nominal, dt))


def _ratio(diff: np.ndarray, norm: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        d = np.sqrt(diff) / np.sqrt(norm)
    return np.where(norm > 0, d, 0.0)


def figures(spikes: dict[str, np.ndarray], nominal: dict[str, np.ndarray] | None, dt: float,
            fanout: dict[str, np.ndarray], steps: int, base_synops: float = 0.0
            ) -> list[dict[str, float]]:
    """Figures of every instance of a batch.

    ``spikes[pop]`` is ``[B, T, n]`` 0/1; ``nominal[pop]`` the ``[T, n]`` raster of the
    nominal chip (None: no distances); ``fanout[pop]`` the outgoing synapse count of each
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
            diff, norm = distance_terms(s, nominal[pop], dt)
            d = _ratio(diff, norm)
            d_num += diff
            d_norm += norm
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
