"""Target Boltzmann distributions of sampling tasks and their read-outs: the exact
distribution, coactivations and marginals of ``p*(z) ~ exp(z^T W z / 2 + b^T z)``, the
divergence of a sampled distribution from it, and the weight asymmetry."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: floor of a sampled probability inside the logarithm (a never-visited state stays finite)
FLOOR = 1e-12


@dataclass
class Target:
    """A Boltzmann machine's parameters and its exact statistics."""

    weights: np.ndarray       # [n, n] symmetric, zero diagonal
    bias: np.ndarray          # [n]
    distribution: np.ndarray  # [2^n], state k = bits of k, neuron 0 the most significant
    coactivation: np.ndarray  # [n, n] p(z_i = z_j = 1), zero diagonal
    marginals: np.ndarray     # [n] p(z_i = 1)


def states(n: int) -> np.ndarray:
    """All 2^n binary states [2^n, n], state k = bits of k with neuron 0 the most significant."""
    k = np.arange(2 ** n)[:, None]
    return ((k >> np.arange(n - 1, -1, -1)[None, :]) & 1).astype(np.float64)


def draw_target(n: int, seed: int, alpha: float = 1.0,
                beta: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """The authors' random target: W = 2 Beta - 1 symmetrised from its upper triangle (zero
    diagonal), then b = 2 Beta - 1, both from one generator seeded with ``seed``."""
    rng = np.random.default_rng(seed)
    w = 2.0 * rng.beta(alpha, beta, size=(n, n)) - 1.0
    w = np.triu(w, k=1)
    w = w + w.T
    b = 2.0 * rng.beta(alpha, beta, size=n) - 1.0
    return w, b


def boltzmann(weights: np.ndarray, bias: np.ndarray) -> Target:
    """The exact statistics of the Boltzmann machine (``weights``, ``bias``)."""
    w = np.asarray(weights, np.float64)
    b = np.asarray(bias, np.float64)
    z = states(b.size)
    log_p = 0.5 * np.einsum("ki,ij,kj->k", z, w, z) + z @ b
    p = np.exp(log_p - log_p.max())
    p /= p.sum()
    coact = np.einsum("k,ki,kj->ij", p, z, z)
    marg = np.diag(coact).copy()
    np.fill_diagonal(coact, 0.0)
    return Target(w, b, p, coact, marg)


def dkl(target: np.ndarray, sampled: np.ndarray) -> float:
    """D_KL(p* || q) = sum p* log(p* / q), the authors' read-out (q floored at FLOOR)."""
    p = np.asarray(target, np.float64)
    q = np.maximum(np.asarray(sampled, np.float64), FLOOR)
    keep = p > 0
    return float(np.sum(p[keep] * np.log(p[keep] / q[keep])))


def asymmetry(weights: np.ndarray) -> float:
    """var(triu(W - W^T)) over the pairs above the diagonal: 0 for a symmetric W."""
    w = np.asarray(weights, np.float64)
    return float(np.var((w - w.T)[np.triu_indices(w.shape[0], k=1)]))
