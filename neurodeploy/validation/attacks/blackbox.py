"""Black-box attack from the build's outputs only: random search on the output counts.

A score-based L-infinity random search (in the spirit of Andriushchenko et al.'s Square
Attack, for flat pixel vectors): every perturbation is a corner of the eps-box
(``delta = eps * signs``). Each iteration redraws the signs of a random fraction of the
pixels of every unbroken sample, runs all of them through the build in one batched read-out
(one query per sample), and keeps a change when the build's margin
``count_true - max_other`` does not grow (equal is kept, to cross the plateaus of integer
spike counts). The fraction shrinks from 0.3 to 0.05 over the budget. No gradient, no twin,
no weights: only what a user of the deployed chip sees.
"""
from __future__ import annotations

import numpy as np

from . import select
from .target import Target


def margin(counts: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``count_true - max_other`` per sample, with evaluate's tie rule (ties go to the lowest
    index): negative or a lost tie means misclassified, reported as -0.5."""
    counts = np.asarray(counts, np.float64)
    true = counts[np.arange(y.size), y]
    other = counts.copy()
    other[np.arange(y.size), y] = -np.inf
    m = (true - other.max(axis=1)).astype(np.float64)
    wrong = np.argmax(counts, axis=1) != y
    return np.where(wrong, np.minimum(m, -0.5), m)


def run_blackbox(target: Target, worst: select.Worst, eps: float, queries: int = 200,
                 seed: int = 0) -> None:
    """Random search with ``queries`` build read-outs per sample; the sample's final
    perturbation is offered to the build (a broken one is kept as soon as found)."""
    rows = select.still_correct(worst)
    if rows.size == 0 or eps == 0 or queries < 1:
        return
    rng = np.random.default_rng(seed)
    x0, y = target.x[rows], target.y[rows]
    signs = rng.choice([-1.0, 1.0], size=x0.shape)
    best = margin(target.counts(np.clip(x0 + eps * signs, 0.0, 1.0)), y)
    live = best >= 0
    n = x0.shape[1]
    for q in range(1, queries):
        if not live.any():
            break
        frac = 0.3 - 0.25 * q / max(queries - 1, 1)
        idx = np.flatnonzero(live)
        trial = signs[idx].copy()
        flip = rng.random((idx.size, n)) < frac
        trial[flip] = rng.choice([-1.0, 1.0], size=int(flip.sum()))
        m = margin(target.counts(np.clip(x0[idx] + eps * trial, 0.0, 1.0)), y[idx])
        keep = m <= best[idx]
        signs[idx[keep]] = trial[keep]
        best[idx[keep]] = m[keep]
        live[idx[keep & (m < 0)]] = False
    select.offer(target, worst, "blackbox random search",
                 np.clip(x0 + eps * signs, 0.0, 1.0), rows)
