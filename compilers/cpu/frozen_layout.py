"""The synapses of a frozen run (simulate, evaluate, validate, compare): what nothing learns
need not keep.

A :class:`~compilers.cpu.learn_layout.Layout` keeps every synapse of the build, whatever its
weight, because learning may change any of them. A frozen run only adds ``w * value`` at
each event, so a synapse whose weight is zero in every instance adds nothing: it is dropped
(a dense projection holding zeros streams only its non-zero entries). Per-synapse arrays are
held in the narrowest type that fits (post index, delay, fixed-point weight), and the
projections that need no delay slot and no floor shift are marked for the direct scatter.
The scatter still counts the build's synapses reached (``synops``), as a chip with the
full layout would do the work.
"""
from __future__ import annotations

from collections import namedtuple

import numpy as np

from neurodeploy.neurons import lif

from .learn_layout import Layout

#: ``indptr`` / ``post`` / ``delay`` / ``p_syn0``: the kept synapses, CSR by presynaptic
#: neuron per projection as in ``Net``; ``w`` [Bw, kept]; ``p_direct``: projection needs no
#: delay slot and no shift; ``p_onedelay``: no delay slot (shift only); ``full``: the build's
#: ``indptr`` (events counted as the full layout would); ``g_lif``: neuron group of LIF
#: neurons without a refractory period (stepped by the loop's own LIF branch); ``dropped``:
#: some synapse was dropped (else ``full`` equals ``indptr``)
Frozen = namedtuple("Frozen", "indptr post delay p_syn0 w p_direct p_onedelay full g_lif "
                              "dropped")


def _narrow_int(a: np.ndarray, signed: bool) -> np.ndarray:
    """``a`` in the smallest integer type (8, 16 or 32 bits) that holds its values."""
    lo, hi = (int(a.min()), int(a.max())) if a.size else (0, 0)
    for dt in ((np.int8, np.int16, np.int32) if signed else (np.uint8, np.uint16, np.int32)):
        info = np.iinfo(dt)
        if info.min <= lo and hi <= info.max:
            return a.astype(dt)
    return a


def narrow_weights(w: np.ndarray) -> np.ndarray:
    """Fixed-point weights in the smallest integer type that holds them (16 or 32 bits; a
    frozen run streams them at every event); float weights are kept as they are."""
    if w.dtype.kind != "i" or w.size == 0:
        return w
    lo, hi = int(w.min()), int(w.max())
    for dt in (np.int16, np.int32):
        info = np.iinfo(dt)
        if info.min <= lo and hi <= info.max:
            return w.astype(dt)
    return w


def frozen(lay: Layout, w: np.ndarray) -> Frozen:
    """The frozen-run synapses of ``lay`` for weights ``w`` [Bw, nnz] (the build's or each
    chip's): a synapse is kept when its weight is non-zero in any instance."""
    net = lay.net
    keep = np.any(w != 0, axis=0) if w.shape[0] else np.zeros(w.shape[1], bool)
    cum = np.zeros(keep.size + 1, np.int64)
    np.cumsum(keep, out=cum[1:])
    n_proj = net.p_pre0.shape[0]
    indptr = np.empty_like(net.indptr)
    p_syn0 = np.zeros(n_proj, np.int64)
    for p in range(n_proj):
        ind0, npre, syn0 = int(net.p_ind0[p]), int(net.p_npre[p]), int(net.p_syn0[p])
        p_syn0[p] = cum[syn0]
        rows = slice(ind0, ind0 + npre + 1)
        indptr[rows] = cum[syn0 + net.indptr[rows]] - cum[syn0]
    post = net.post[keep]
    delay = _narrow_int(net.delay[keep].astype(np.int64), signed=False)
    onedelay = net.p_ndelay <= 1
    if onedelay.all():                  # no projection has delays: none are held
        delay = np.zeros(0, np.uint8)
    direct = onedelay & (net.p_shift == 0)
    g_lif = np.array([net.g_code[g] == lif.KIND.code and not net.ipar[lo:hi].any()
                      for g, (lo, hi) in enumerate(zip(net.g_lo, net.g_hi))], np.bool_)
    return Frozen(indptr, post, delay, p_syn0, narrow_weights(np.ascontiguousarray(w[:, keep])),
                  direct.astype(np.bool_), onedelay.astype(np.bool_), net.indptr, g_lif,
                  bool(not keep.all()))


def bytes_per_synapse(fz: Frozen) -> float:
    """Bytes held per kept synapse: post index, delay (none when no projection has
    delays), one weight row, plus the CSR row pointers spread over the synapses."""
    n = max(fz.post.size, 1)
    return (fz.post.nbytes + fz.delay.nbytes + fz.w[:1].nbytes + fz.indptr.nbytes) / n
