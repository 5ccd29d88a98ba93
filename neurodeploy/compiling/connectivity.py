"""Materialise each projection's synapses (float weights, delays) from its IR description.

Random draws use a generator seeded from the network seed and the projection name, so a
projection's weights do not change when another projection is added or renamed. Sparse
masks are drawn as geometric gaps of a Bernoulli process: O(synapses), never O(pre x post).
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np

from ..ir.models import (ConstantInit, DelayRange, FileWeights, Network, NormalInit,
                         SparseConnectivity, UniformInit)

DENSE_FILE_MIN_DENSITY = 0.25


@dataclass
class Synapses:
    """One projection's synapses in float units.

    ``format == "dense"``: ``weights`` is ``[post, pre]``. ``format == "coo"``: ``weights``,
    ``rows`` (post index) and ``cols`` (pre index) are ``[nnz]``, sorted by row.
    ``delays`` is an int, or an int array shaped like ``weights``.
    """

    name: str
    pre: str
    post: str
    shape: tuple[int, int]
    format: str
    weights: np.ndarray
    delays: int | np.ndarray
    rows: np.ndarray | None = None
    cols: np.ndarray | None = None

    @property
    def n_synapses(self) -> int:
        return int(self.weights.size)

    def in_degree(self) -> np.ndarray:
        """Synapses stored per post neuron."""
        if self.format == "dense":
            return np.full(self.shape[0], self.shape[1], dtype=np.int64)
        return np.bincount(self.rows, minlength=self.shape[0]).astype(np.int64)

    def abs_row_sum(self, values: np.ndarray | None = None) -> np.ndarray:
        """Sum of |w| per post neuron: the largest input one step can deliver."""
        w = np.abs(self.weights if values is None else values)
        if self.format == "dense":
            return w.sum(axis=1)
        return np.bincount(self.rows, weights=w, minlength=self.shape[0])

    @property
    def max_delay(self) -> int:
        return int(np.max(self.delays)) if np.size(self.delays) else 0


def projection_rng(seed: int, name: str, stream: str = "weights") -> np.random.Generator:
    """Generator for one projection and purpose, independent of all other projections."""
    return np.random.default_rng([seed, zlib.crc32(name.encode()), zlib.crc32(stream.encode())])


def draw_init(init: ConstantInit | NormalInit | UniformInit | None, size: int | tuple,
              rng: np.random.Generator, fan_in: float) -> np.ndarray:
    """Draw weights from an init rule; ``None`` means N(0, 1/fan_in)."""
    if init is None:
        return rng.standard_normal(size) / np.sqrt(max(fan_in, 1.0))
    if isinstance(init, ConstantInit):
        return np.full(size, float(init.value))
    if isinstance(init, NormalInit):
        return rng.standard_normal(size) * init.std + init.mean
    return rng.uniform(init.low, init.high, size)


def bernoulli_indices(total: int, p: float, rng: np.random.Generator) -> np.ndarray:
    """Sorted flat indices in [0, total) each included independently with probability p."""
    if p >= 1.0:
        return np.arange(total, dtype=np.int64)
    chunks = []
    position = -1
    expected = int(total * p * 1.05 + 10 * np.sqrt(total * p + 1) + 16)
    while position < total:
        gaps = rng.geometric(p, size=expected)
        flat = position + np.cumsum(gaps, dtype=np.int64)
        chunks.append(flat)
        position = int(flat[-1])
        expected = max(16, int((total - position) * p * 1.1) + 16)
    flat = np.concatenate(chunks)
    return flat[flat < total]


def build_synapses(net: Network, name: str, file_weights: dict[str, np.ndarray]) -> Synapses:
    """The float synapses of projection ``name``."""
    proj = net.projections[name]
    n_pre = net.populations[proj.pre].size
    n_post = net.populations[proj.post].size
    rng = projection_rng(net.seed, name)
    common = dict(name=name, pre=proj.pre, post=proj.post, shape=(n_post, n_pre))
    if isinstance(proj.weights, FileWeights):
        syn = _from_array(file_weights[name], proj.connectivity, **common)
    elif proj.connectivity == "dense":
        syn = Synapses(format="dense", delays=0, **common,
                       weights=draw_init(proj.weights, (n_post, n_pre), rng, n_pre))
    else:
        if proj.connectivity == "one_to_one":
            rows = cols = np.arange(n_post, dtype=np.int64)
            fan_in = 1.0
        else:
            assert isinstance(proj.connectivity, SparseConnectivity)
            p = proj.connectivity.sparse
            flat = bernoulli_indices(n_post * n_pre, p, rng)
            rows, cols = np.divmod(flat, n_pre)
            fan_in = n_pre * p
        values = draw_init(proj.weights, rows.size, rng, fan_in)
        syn = Synapses(format="coo", delays=0, rows=rows.astype(np.int32),
                       cols=cols.astype(np.int32), weights=values, **common)
    syn.delays = draw_delays(proj.delay, syn.weights.shape, projection_rng(net.seed, name, "delays"))
    return syn


def draw_delays(delay: int | DelayRange, shape: tuple, rng: np.random.Generator) -> int | np.ndarray:
    """A scalar delay, or per-synapse integer delays drawn uniformly from [low, high]."""
    if isinstance(delay, DelayRange):
        if delay.low == delay.high:
            return int(delay.low)
        return rng.integers(delay.low, delay.high + 1, size=shape, dtype=np.int64)
    return int(delay)


def _from_array(array: np.ndarray, connectivity: str, **common) -> Synapses:
    n_post, _ = common["shape"]
    if connectivity == "one_to_one":
        idx = np.arange(n_post, dtype=np.int32)
        return Synapses(format="coo", delays=0, rows=idx, cols=idx,
                        weights=np.asarray(array, dtype=np.float64), **common)
    density = np.count_nonzero(array) / max(array.size, 1)
    if density >= DENSE_FILE_MIN_DENSITY:
        return Synapses(format="dense", delays=0, weights=np.asarray(array, dtype=np.float64),
                        **common)
    rows, cols = np.nonzero(array)
    return Synapses(format="coo", delays=0, rows=rows.astype(np.int32),
                    cols=cols.astype(np.int32), weights=array[rows, cols].astype(np.float64),
                    **common)


@dataclass
class SynapseEstimate:
    """What a projection will cost, known before any synapse is built.

    ``min_degree``/``max_degree`` bound the synapses per post neuron (``max_degree`` None
    when random); ``total_low``/``total_high`` bound the synapse count (equal unless random).
    """

    name: str
    pre: str
    post: str
    shape: tuple[int, int]
    format: str
    min_degree: int
    max_degree: int | None
    total_low: int
    total_high: int
    per_synapse_delays: bool


def estimate_synapses(net: Network, name: str, file_weights: dict[str, np.ndarray]) -> SynapseEstimate:
    """Bounds on projection ``name``'s synapses, from its description alone (O(1) memory,
    except for weight files, which are already in memory)."""
    proj = net.projections[name]
    n_pre = net.populations[proj.pre].size
    n_post = net.populations[proj.post].size
    delays = isinstance(proj.delay, DelayRange) and proj.delay.low != proj.delay.high
    common = dict(name=name, pre=proj.pre, post=proj.post, shape=(n_post, n_pre),
                  per_synapse_delays=delays)
    if proj.connectivity == "one_to_one":
        return SynapseEstimate(format="coo", min_degree=1, max_degree=1, total_low=n_post,
                               total_high=n_post, **common)
    if isinstance(proj.weights, FileWeights):
        array = file_weights[name]
        density = np.count_nonzero(array) / max(array.size, 1)
        if density < DENSE_FILE_MIN_DENSITY:
            degree = np.count_nonzero(array, axis=1)
            nnz = int(degree.sum())
            return SynapseEstimate(format="coo", min_degree=int(degree.min(initial=0)),
                                   max_degree=int(degree.max(initial=0)), total_low=nnz,
                                   total_high=nnz, **common)
    if proj.connectivity == "dense":
        total = n_pre * n_post
        return SynapseEstimate(format="dense", min_degree=n_pre, max_degree=n_pre,
                               total_low=total, total_high=total, **common)
    assert isinstance(proj.connectivity, SparseConnectivity)
    mean = proj.connectivity.sparse * n_pre * n_post
    spread = 8.0 * np.sqrt(mean)  # a binomial count stays within 8 sigma of its mean
    return SynapseEstimate(format="coo", min_degree=0, max_degree=n_pre,
                           total_low=int(max(0.0, mean - spread)),
                           total_high=int(min(n_pre * n_post, mean + spread + 1)), **common)
