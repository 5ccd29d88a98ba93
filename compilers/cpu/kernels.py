"""Vectorised NumPy kernels reproducing Lava's CPU process models bit-exactly.

Reference: lava-nc 0.10.0 ``PyLifModelBitAcc`` / ``PyLifModelFloat`` (the LIF steps are
:mod:`neurodeploy.neurons.lif`'s, re-exported here),
``PyDenseModelBitAcc`` / ``PyDenseModelFloat`` (``PySparseModel*`` share the
same arithmetic) and ``PyDelayDenseModel{BitAcc,Float}``.

Conventions
-----------
* Every state array carries a leading batch axis ``B``: ``u, v: [B, N]``,
  spikes ``[B, N_pre]``, activations ``[B, N_post]``.
* Per-neuron parameters may be scalars, ``[N]`` or ``[B, N]``; use ``[B, 1]``
  for a per-instance scalar.  Per-projection scalars (``weight_exp``) may be
  scalars or ``[B]``.
* Weights are ``[post, pre]`` (shared by all instances) or ``[B, post, pre]``.

Semantics reproduced (verified against Lava in
``tests/test_cpu_kernels_vs_lava.py``):

* Ports: an activation travels through an int32 channel (Dense ``a_out`` is
  int32) and LIF's ``a_in`` recv computes ``zeros(int16) + int32`` -> int32, so
  there is NO 16-bit truncation of the synaptic input; only a 32-bit wrap.
* Dense/DelayDense deliver at step ``t + 1 + delay`` what they receive at
  step ``t`` (the one-step buffer is modelled by :class:`SynapseBuffer`).
* ``weight_exp < 0`` is an arithmetic right shift of the *summed* activation
  (floor towards -inf, e.g. ``-3 >> 1 == -2``), ``> 0`` a left shift.
* u wraps only once (``> 2**23`` -> ``-2**24``, ``<= -2**23`` -> ``+2**24``),
  i.e. not a true modulo: huge inputs may leave u outside 24 bits.  v is
  clipped to ``±(2**23 - 1)`` after an int32 (wrapping) sum ``v + u + bias``.
"""

from __future__ import annotations

import enum
from typing import Any, Optional, Sequence, Union

import numpy as np

from neurodeploy.neurons import lif

ArrayLike = Union[np.ndarray, int, float, Sequence[Any]]

__all__ = [
    "SignMode", "effective_bias", "lif_fixed_step", "lif_float_step",
    "prepare_fixed_weights", "dense_fixed", "dense_float",
    "delay_weight_stack", "dense_delay_fixed", "dense_delay_float",
    "SynapseBuffer", "DenseState",
]

MAX_DELAY_LOIHI2 = 63


class SignMode(enum.IntEnum):
    """Same values as ``lava.utils.weightutils.SignMode`` (no lava import)."""
    NULL = 0
    MIXED = 1
    EXCITATORY = 2
    INHIBITORY = 3


def _sign_mode_value(mode: Any) -> int:
    """Map a lava/our SignMode, int or name to its integer value."""
    if isinstance(mode, str):
        return int(SignMode[mode.upper()])
    return int(getattr(mode, "value", mode))


def _wrap_i32(x: np.ndarray) -> np.ndarray:
    """Two's-complement wrap to int32, as a write into an int32 buffer does."""
    return np.asarray(x).astype(np.int32, casting="unsafe")


lif_fixed_step = lif.reference_fixed_step
lif_float_step = lif.reference_float_step
effective_bias = lif.effective_bias


def _determine_mode(w: np.ndarray) -> int:
    """Lava's ``determine_sign_mode`` for one weight matrix."""
    if w.min() >= 0:
        return int(SignMode.EXCITATORY)
    if w.max() <= 0:
        return int(SignMode.INHIBITORY)
    return int(SignMode.MIXED)


def prepare_fixed_weights(weights: ArrayLike, sign_mode: Any = None,
                          num_weight_bits: ArrayLike = 8) -> np.ndarray:
    """Lava's weight preprocessing: int32 Var storage, 8-bit clip, truncation.

    ``sign_mode`` None means ``determine_sign_mode`` (per instance for
    ``[B, post, pre]``); it may also be one mode or a length-B sequence
    (entries may be None), and
    ``num_weight_bits`` (1..8) a scalar or ``[B]``.  Returns int32 weights.
    """
    # Var storage of a float array in an int32 ndarray truncates toward 0.
    w = np.asarray(weights).astype(np.int32)
    batched = w.ndim == 3
    lead = (w.shape[0], 1, 1) if batched else ()
    if sign_mode is None:
        axes = (1, 2) if batched else None
        mn, mx = w.min(axis=axes), w.max(axis=axes)
        mode = np.where(mn >= 0, int(SignMode.EXCITATORY),
                        np.where(mx <= 0, int(SignMode.INHIBITORY),
                                 int(SignMode.MIXED)))
    elif isinstance(sign_mode, (list, tuple, np.ndarray)):
        mode = np.array([_sign_mode_value(m) if m is not None
                         else _determine_mode(w[b])
                         for b, m in enumerate(sign_mode)])
    else:
        mode = np.asarray(_sign_mode_value(sign_mode))
    mode = np.reshape(mode, lead) if mode.ndim else mode
    nwb = np.asarray(num_weight_bits, dtype=np.int32)
    nwb = np.reshape(nwb, lead) if nwb.ndim else nwb

    mixed = (mode == SignMode.MIXED).astype(np.int32)
    inhib = mode == SignMode.INHIBITORY
    w = np.where(inhib, -w, w)
    # clip_weights(num_bits=8): mixed -> [-256, 255], else [0, 255]
    w = np.clip(w, -256 * mixed, 255).astype(np.int32)
    # truncate_weights: drop (8 - num_weight_bits + mixed) LSBs
    t = 8 - nwb + mixed
    w = np.left_shift(np.right_shift(w, t), t)
    return np.where(inhib, -w, w).astype(np.int32)


def _per_instance(x: ArrayLike) -> np.ndarray:
    """Reshape a scalar-or-[B] per-projection parameter to broadcast [B, 1]."""
    arr = np.asarray(x, dtype=np.int64)
    return arr.reshape(-1, 1) if arr.ndim == 1 else arr


def _apply_weight_exp(acc: np.ndarray, weight_exp: ArrayLike) -> np.ndarray:
    """``acc << we`` if ``we > 0`` else ``acc >> -we`` (arithmetic, floor)."""
    we = _per_instance(weight_exp)
    if acc.ndim == 3 and we.ndim == 2:       # [B, D+1, post] delayed case
        we = we[:, :, None]
    return np.where(we > 0, np.left_shift(acc, np.maximum(we, 0)),
                    np.right_shift(acc, np.maximum(-we, 0)))


def _matvec(weights: np.ndarray, spikes: np.ndarray) -> np.ndarray:
    """``[B, post]`` = weights ``[post, pre]`` or ``[B, post, pre]`` @ s."""
    if weights.ndim == 2:
        return spikes @ weights.T
    return np.matmul(weights, spikes[..., None])[..., 0]


def dense_fixed(weights_int: np.ndarray, weight_exp: ArrayLike,
                spikes: np.ndarray) -> np.ndarray:
    """``PyDenseModelBitAcc`` accumulation for binary spikes -> int32 ``[B, post]``.

    Weights must already be prepared (:func:`prepare_fixed_weights`).  The
    result is what the port delivers one step later (int32-wrapped)."""
    s = (np.asarray(spikes) != 0).astype(np.int64)
    acc = _matvec(np.asarray(weights_int, dtype=np.int64), s)
    return _wrap_i32(_apply_weight_exp(acc, weight_exp))


def dense_float(weights: np.ndarray, spikes: np.ndarray) -> np.ndarray:
    """``PyDenseModelFloat`` accumulation for binary spikes (float64)."""
    s = (np.asarray(spikes) != 0).astype(np.float64)
    return _matvec(np.asarray(weights, dtype=np.float64), s)


def delay_weight_stack(weights: np.ndarray, delays: ArrayLike,
                       max_delay: Optional[int] = None) -> np.ndarray:
    """Split weights by delay: ``[..., D+1, post, pre]`` with slice k = w*(d==k).

    Precompute once per projection (Lava's ``get_delay_wgts_mat``)."""
    w = np.asarray(weights)
    d = np.broadcast_to(np.asarray(delays, dtype=np.int64), w.shape)
    if max_delay is None:
        max_delay = int(d.max())
    ks = np.arange(max_delay + 1).reshape((-1, 1, 1))
    if w.ndim == 3:
        return np.where(d[:, None] == ks, w[:, None], 0).astype(w.dtype)
    return np.where(d[None] == ks, w[None], 0).astype(w.dtype)


def _delay_matvec(stack: np.ndarray, s: np.ndarray) -> np.ndarray:
    """``[B, D+1, post]`` contributions per delay slot."""
    if stack.ndim == 3:
        return np.einsum("kij,bj->bki", stack, s)
    return np.einsum("bkij,bj->bki", stack, s)


def dense_delay_fixed(weight_stack: np.ndarray, weight_exp: ArrayLike,
                      spikes: np.ndarray) -> np.ndarray:
    """``PyDelayDenseModelBitAcc`` accumulation -> int64 ``[B, D+1, post]``.

    ``weight_stack`` comes from :func:`delay_weight_stack` on prepared
    weights; push the result into a :class:`SynapseBuffer` (wraps to int32)."""
    s = (np.asarray(spikes) != 0).astype(np.int64)
    acc = _delay_matvec(np.asarray(weight_stack, dtype=np.int64), s)
    return _apply_weight_exp(acc, weight_exp)


def dense_delay_float(weight_stack: np.ndarray,
                      spikes: np.ndarray) -> np.ndarray:
    """``PyDelayDenseModelFloat`` accumulation -> float64 ``[B, D+1, post]``."""
    s = (np.asarray(spikes) != 0).astype(np.float64)
    return _delay_matvec(np.asarray(weight_stack, dtype=np.float64), s)


class SynapseBuffer:
    """Ring buffer of pending activation for one projection, ``[B, D+1, post]``.

    Each step: :meth:`pop` returns what is delivered now (Lava sends
    ``a_buff[:, 0]`` first), then :meth:`push` adds this step's contributions,
    slot k arriving ``k + 1`` steps later.  Dense is ``max_delay=0``."""

    def __init__(self, batch: int, n_post: int, max_delay: int = 0,
                 dtype: Any = np.int32) -> None:
        self.depth = int(max_delay) + 1
        self.buf = np.zeros((batch, self.depth, n_post), dtype=dtype)
        self.head = 0

    def pop(self) -> np.ndarray:
        """Return (a copy of) the activation delivered this step; clear slot."""
        out = self.buf[:, self.head].copy()
        self.buf[:, self.head] = 0
        self.head = (self.head + 1) % self.depth
        return out

    def push(self, contrib: np.ndarray) -> None:
        """Add ``[B, post]`` (delay 0) or ``[B, D'+1, post]`` contributions."""
        c = np.asarray(contrib)
        if c.ndim == 2:
            c = c[:, None]
        idx = (self.head + np.arange(c.shape[1])) % self.depth
        if self.buf.dtype == np.int32:   # int32 a_buff: wraps like Lava's +=
            self.buf[:, idx] = (self.buf[:, idx].astype(np.int64)
                                + c).astype(np.int32)
        else:
            self.buf[:, idx] += c


class DenseState:
    """A (Delay)Dense projection with its buffer: ``step(spikes) -> a_out``.

    ``fixed=True`` prepares weights like Lava's BitAcc models and uses int32
    arithmetic; ``fixed=False`` follows the float models.  ``delays=None`` is a
    plain Dense (delivers at t+1); otherwise a DelayDense (t+1+delay).

    Lava step order, usable with recurrent graphs: for every step, first
    ``deliver()`` on all projections, then update all neurons with the summed
    activations, then ``accumulate(spikes)`` with the spikes of *this* step.
    """

    def __init__(self, weights: np.ndarray, batch: int, *, fixed: bool,
                 weight_exp: ArrayLike = 0, num_weight_bits: ArrayLike = 8,
                 sign_mode: Any = None, delays: Optional[ArrayLike] = None,
                 max_delay: Optional[int] = None) -> None:
        w = np.asarray(weights)
        self.fixed = fixed
        self.weight_exp = weight_exp
        if fixed:
            w = prepare_fixed_weights(w, sign_mode, num_weight_bits)
        else:
            w = w.astype(np.float64)
        self.weights = w
        self.delayed = delays is not None
        if self.delayed:
            if max_delay is None or max_delay == 0:
                max_delay = int(np.max(delays))
            if fixed and int(np.max(delays)) > MAX_DELAY_LOIHI2:
                raise ValueError("DelayDense delays must be in 0..63")
            self.stack = delay_weight_stack(w, delays, max_delay)
        n_post = w.shape[-2]
        self.buffer = SynapseBuffer(batch, n_post,
                                    max_delay if self.delayed else 0,
                                    np.int32 if fixed else np.float64)

    def deliver(self) -> np.ndarray:
        """Activation arriving at the targets this step (from earlier steps)."""
        return self.buffer.pop()

    def accumulate(self, spikes: np.ndarray) -> None:
        """Accumulate this step's presynaptic ``spikes`` for later delivery."""
        if self.delayed:
            c = (dense_delay_fixed(self.stack, self.weight_exp, spikes)
                 if self.fixed else dense_delay_float(self.stack, spikes))
        else:
            c = (dense_fixed(self.weights, self.weight_exp, spikes)
                 if self.fixed else dense_float(self.weights, spikes))
        self.buffer.push(c)

    def step(self, spikes: np.ndarray) -> np.ndarray:
        """``deliver()`` then ``accumulate(spikes)`` (Lava's run_spk order)."""
        out = self.deliver()
        self.accumulate(spikes)
        return out
