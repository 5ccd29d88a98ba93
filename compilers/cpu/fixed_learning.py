"""Fixed-point learning on the cpu, bit for bit as Lava's ``LearningDense`` bit-approximate
model (``LearningConnectionModelBitApproximate``, learning epoch of one step).

Per step, for each plastic projection (Lava's order):

* traces (7-bit unsigned): ``z <- floor(d z) + [r_decay < frac(d z)]`` with ``d =
  exp(-1/tau)`` (a trace with tau 0 restarts from 0), then on a spike ``z <- z + imp_int +
  [r_imp < imp_frac]`` clipped to 0..127, where ``imp_frac`` is the impulse's fraction in
  1/256 and ``r_imp`` a 7-bit random number (so fractions >= 1/2 always round up, as in
  Lava). x1, x2 share the presynaptic random numbers, y1 the postsynaptic ones;
* every synapse: the 16-bit accumulator starts at ``w << 7``; each product ``dep * f1 * f2
  ... * mantissa`` (factors clipped to their widths) is shifted right by ``max(0, widths +
  4 - 15)``, left by ``s_exp`` (the constant's exponent + 7) and saturated, as is the sum;
  the sign mode clamps it; it is stochastically rounded to a multiple of 128 with one
  random number per step (``[r < frac]``), shifted back, and clipped to the 8-bit weight
  range of the sign mode.

Three-factor rules (feedback alignment): the post neuron's gated third-factor sum of the
step, ``r``, becomes ``y2, y3`` by :func:`neurodeploy.learning.fixed_point.third_factor_channels`
(the same function Lava's learning neuron runs); Lava's synapse decays what it receives
with ``Loihi3FLearningRule``'s y tau of 65535 steps (stochastically, with the y decay random
number) before the rule reads it, and so does this kernel. y1 is 0 there (the learning
neuron sends none in fixed point).

The random numbers are Lava's: NumPy PCG64 generators seeded with ``rng_seed`` (x decay),
``+1`` (x impulse), ``+2``, ``+3`` (y) and 2 (the synaptic-variable rounding, Lava's
``ConnVarRandom`` default), advanced twice per step (traces) and once per epoch (weights);
:func:`random_tables` draws them from the raw PCG64 streams (doubles from the top 53 bits;
7-bit integers from the top 7 bits of each 32-bit half, as NumPy's buffered bounded
integers do). A Lava run builds new synapses, so the streams restart with every run; the
cpu learner indexes the tables by the step of the run (1-based, Lava's ``time_step``).
"""
from __future__ import annotations

from collections import namedtuple

import numpy as np
from numba import njit, types
from numba.extending import overload

from neurodeploy.jit import CACHE
from neurodeploy.learning.fixed_point import third_factor_channels

from .fixed_weights import term_parts, term_row, update_weights

#: one row per plastic projection: decays/impulses of (x1, x2, y1), the sign mode and
#: weight exponent; one row per term: powers of (x1, x2, y1, y2, y3, w) and its row of the
#: term table (columns in :mod:`.fixed_weights`; fixed for a build, computed once); random
#: tables [rules, 5, steps + 1] (x decay, x impulse, y decay, y impulse, weight rounding),
#: column k = Lava time step k; per rule: three-factor flag and third-factor shift, and the
#: decay of the received y channels (Loihi3FLearningRule's tau)
FixedTables = namedtuple("FixedTables", "dec tau_nz imp_int imp_frac sign wexp q_t0 t_pow t_tab "
                                        "rnd tf tf_shift y3f_dec")

SIGN_CODE = {"mixed": 1, "excitatory": 2, "inhibitory": 3}
DEP_CODE = {"u": 0, "x0": 1, "y0": 2}
TRACE_MAX = 127
CONN_SEED = 2
Y_TAU_3F = 65535                    # Loihi3FLearningRule's y1..y3 tau (np.iinfo(uint16).max)
_channels = njit(cache=CACHE, inline="always")(third_factor_channels)


def _doubles(seed: int, n: int) -> np.ndarray:
    raw = np.random.PCG64(seed).random_raw(n)
    return (raw >> np.uint64(11)).astype(np.float64) * (1.0 / 9007199254740992.0)


def _ints7(seed: int, n: int) -> np.ndarray:
    raw = np.random.PCG64(seed).random_raw((n + 1) // 2)
    u32 = np.empty(2 * raw.size, np.uint64)
    u32[0::2] = raw & np.uint64(0xFFFFFFFF)
    u32[1::2] = raw >> np.uint64(32)
    return ((u32 * np.uint64(128)) >> np.uint64(32))[:n].astype(np.float64)


def random_tables(rng_seed: int, steps: int) -> np.ndarray:
    """[5, steps + 1]: column k holds the random numbers Lava's synapse uses at step k."""
    out = np.zeros((5, steps + 1))
    draws = 2 * steps + 1
    idx = 2 * np.arange(steps + 1)
    out[0] = _doubles(rng_seed, draws)[idx]
    out[1] = _ints7(rng_seed + 1, draws)[idx]
    out[2] = _doubles(rng_seed + 2, draws)[idx]
    out[3] = _ints7(rng_seed + 3, draws)[idx]
    out[4] = _doubles(CONN_SEED, steps + 1)
    return out


def decay_factor(tau: float) -> float:
    """exp(-1/tau) as Lava's synapse computes it (an array expression), 0 for tau 0."""
    if tau == 0:
        return 0.0
    return float(np.exp(-1 / np.array([[float(tau)]]))[0, 0])


def impulse_parts(impulse: float) -> tuple[int, int]:
    """(integer part, fraction in 1/256) as Lava's ``_decompose_impulses``."""
    i = np.floor(np.array([impulse]))
    return int(i[0]), int(np.round((np.array([impulse]) - i) * 2 ** 8)[0])


def tables(rules: list[dict], steps: int) -> FixedTables:
    """Tables of quantized rules (``neurodeploy.learning.fixed_point`` form, each with its
    ``rng_seed``) for a run of ``steps`` steps."""
    Q = len(rules)
    dec, tau_nz = np.zeros((Q, 3)), np.zeros((Q, 3), np.uint8)
    imp_int, imp_frac = np.zeros((Q, 3), np.int64), np.zeros((Q, 3), np.int64)
    sign, wexp, q_t0 = np.zeros(Q, np.int64), np.zeros(Q, np.int64), np.zeros(Q + 1, np.int64)
    pw, tab = [], []
    tf, tf_shift = np.zeros(Q, np.uint8), np.zeros(Q, np.int64)
    for q, r in enumerate(rules):
        if "third_factor" in r:
            tf[q], tf_shift[q] = 1, r["third_factor"]["shift"]
        for c, key in enumerate(("x1", "x2", "y1")):
            tr = r["traces"][key]
            dec[q, c] = decay_factor(tr["tau"])
            tau_nz[q, c] = tr["tau"] != 0
            imp_int[q, c], imp_frac[q, c] = tr["impulse_int"], tr["impulse_frac"]
        sign[q], wexp[q] = SIGN_CODE[r["sign_mode"]], r["weight_exp"]
        for t in r["terms"]:
            pw.append([t["factors"].count(f) for f in ("x1", "x2", "y1", "y2", "y3", "w")])
            tab.append(term_row(DEP_CODE[t["dependency"]], pw[-1], t["mantissa"], t["s_exp"]))
        q_t0[q + 1] = len(pw)
    return FixedTables(dec, tau_nz, imp_int, imp_frac, sign, wexp, q_t0,
                       np.asarray(pw, np.int64).reshape(-1, 6),
                       np.asarray(tab, np.int64).reshape(-1, 6),
                       np.stack([random_tables(int(r["rng_seed"]), steps) for r in rules])
                       if rules else np.zeros((0, 5, 1)), tf, tf_shift, decay_factor(Y_TAU_3F))


@njit(cache=CACHE, inline="always")
def _decay(z, d, nz, r):
    if not nz:
        return 0.0
    v = d * z
    fl = np.floor(v)
    return fl + (1.0 if r < v - fl else 0.0)


@njit(cache=CACHE, inline="always")
def _impulse(z, ii, fr, r):
    v = z + ii + (1.0 if r < fr else 0.0)
    return min(max(v, 0.0), float(TRACE_MAX))


@njit(cache=CACHE, nogil=True)
def step(k, q, fx, pre_spk, post_spk, x, y, y23, w, indptr, post, pre, pptr, pidx):
    """One learning epoch (Lava time step ``k``) of plastic projection ``q``.

    pre_spk [npre], post_spk [npost] (non-zero: spiked), x [2, npre] and y [npost] traces
    (integers held in floats), y23 [2, npost] the y2, y3 channels the post neurons send
    this step (three-factor rules; decayed here as Lava's synapse does), w the projection's weights in the cpu layout (register
    values shifted left by a non-negative weight exponent); its synapses by presynaptic
    neuron (indptr, post) and by postsynaptic neuron (pptr, pidx: local synapse indices),
    pre: the presynaptic neuron of each synapse. Traces and weights are updated in place.

    A synapse no term touches keeps its weight exactly (its accumulator is a multiple of
    128), so rules whose every term depends on x0 or y0 visit only the synapses of neurons
    that spiked, each once, and a three-factor rule (every term reads y2 or y3) visits none
    while y2 and y3 are 0 (the steps inside a learning epoch)."""
    if k >= fx.rnd.shape[2]:
        raise IndexError("fixed-point learning: the random tables are shorter than the run; "
                         "call Layout.reserve_steps(steps) first")
    rnd = fx.rnd[q]
    rxd, rxi, ryd, ryi, rw = rnd[0, k], rnd[1, k], rnd[2, k], rnd[3, k], rnd[4, k]
    npre = x.shape[1]
    for j in range(npre):
        for c in range(2):
            z = _decay(x[c, j], fx.dec[q, c], fx.tau_nz[q, c], rxd)
            if pre_spk[j] != 0:
                z = _impulse(z, fx.imp_int[q, c], fx.imp_frac[q, c], rxi)
            x[c, j] = z
    for i in range(y.shape[0]):
        if fx.tf[q]:                        # Loihi3FLearningRule: received values, decayed
            y[i] = 0.0
            for c in range(2):
                y23[c, i] = _decay(y23[c, i], fx.y3f_dec, True, ryd)
            continue
        z = _decay(y[i], fx.dec[q, 2], fx.tau_nz[q, 2], ryd)
        if post_spk[i] != 0:
            z = _impulse(z, fx.imp_int[q, 2], fx.imp_frac[q, 2], ryi)
        y[i] = z
    if fx.tf[q] and not np.any(y23):
        return                              # every term reads y2 or y3: no weight moves
    tt = fx.t_tab[fx.q_t0[q]:fx.q_t0[q + 1]]
    nt = tt.shape[0]
    pre_part = np.empty((nt, npre), np.int64)
    post_part = np.empty((nt, y.shape[0]), np.int64)
    term_parts(q, fx, x, y, y23, tt, pre_part, post_part)
    update_weights(pre_spk, post_spk, tt, pre_part, post_part, w, indptr, post, pre, pptr, pidx,
             fx.wexp[q] if fx.wexp[q] > 0 else 0, fx.sign[q], np.int64(np.floor(rw * 128.0)))


# --------------------------------------------------------------------------- loop hook
def fixed_epoch(k, b, q, p, net, rules, st, w, emit, spiked, third):
    """One fixed-point learning step of plastic projection ``q`` (projection ``p``) in the
    cpu learn loop (``third``: each neuron's gated third factor summed over its learning
    epoch so far; sent as y2 / y3 at the epoch's last step only, 0 at the others, as
    Lava's learning neuron does); compiles to nothing for float builds (float weights)."""


@overload(fixed_epoch, jit_options={"cache": CACHE})
def _fixed_epoch_overload(k, b, q, p, net, rules, st, w, emit, spiked, third):
    if isinstance(w.dtype, types.Integer):
        return lambda k, b, q, p, net, rules, st, w, emit, spiked, third: _epoch(
            k, b, q, p, net, rules, st, w, emit, spiked, third)
    return lambda k, b, q, p, net, rules, st, w, emit, spiked, third: None


@njit(cache=CACHE, nogil=True)
def _epoch(k, b, q, p, net, rules, st, w, emit, spiked, third):
    pre0, npre = net.p_pre0[p], net.p_npre[p]
    post0, npost = net.p_post0[p], net.p_npost[p]
    syn0, ind0 = net.p_syn0[p], net.p_ind0[p]
    nnz = net.indptr[ind0 + npre]
    x0, y0 = rules.q_xoff[q], rules.q_yoff[q]
    pind0 = net.p_pind0[p]
    y23 = np.zeros((2, npost))
    if rules.fx.tf[q] and k % rules.q_epoch[q] == 0:    # the epoch's sum, at its last step
        for i in range(npost):
            y23[0, i], y23[1, i] = _channels(np.int64(third[post0 + i]), rules.fx.tf_shift[q])
    step(k, q, rules.fx, emit[pre0:pre0 + npre], spiked[post0:post0 + npost],
         st.xtr[b, :, x0:x0 + npre], st.ytr[b, y0:y0 + npost], y23, w[syn0:syn0 + nnz],
         net.indptr[ind0:ind0 + npre + 1], net.post[syn0:syn0 + nnz], net.pre[syn0:syn0 + nnz],
         net.pptr[pind0:pind0 + npost + 1], net.pidx[syn0:syn0 + nnz])


# --------------------------------------------------------------------------- host side
def check_rules(plan, rules: dict) -> None:
    """Refuse, with the reason, rules a fixed-point build cannot learn with."""
    from neurodeploy.learning.fixed_point import plan_rule
    for name in rules:
        plan_rule(plan, name)


def tables_for(plan, rule_names: list[str], steps: int) -> FixedTables:
    """Tables of a layout's plastic projections (in its rule order) for runs of up to
    ``steps`` steps; empty for float builds."""
    from neurodeploy.learning.fixed_point import plan_rule
    rules = [plan_rule(plan, n) for n in rule_names] if plan.fixed else []
    return tables(rules, steps if rules else 0)
