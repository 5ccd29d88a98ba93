"""numba-compiled, event-driven step loops of the cpu backend.

The arithmetic is the one of :mod:`compilers.cpu.kernels` (which reproduces Lava's
``PyLifModelBitAcc`` / ``PyDenseModelBitAcc`` / ``PyDelayDenseModelBitAcc`` and the float
models bit-exactly); this module only changes *how* it is evaluated:

* All LIF populations are concatenated into one state vector of ``n_lif`` neurons and all
  source populations into one input vector of ``n_src`` neurons. A presynaptic neuron has
  the global index ``j`` (sources first, then LIF neurons ``n_src + i``).
* Synapses are stored CSR by presynaptic neuron, so a step only touches the rows of the
  neurons that spiked (event-driven). Post indices are uint16 (fewer than 65536 LIF neurons)
  and fixed weights int16 when they fit: busy networks are bound by streaming these arrays.
* One ring buffer ``ring[depth, n_lif]`` (``depth = max delay + 1``) holds the activation
  still to be delivered to every LIF neuron, summed over all its projections. This is exact
  for fixed builds because after the per-projection ``weight_exp`` shift everything Lava does
  to an activation is an int32 wrap (port channel, ``a_buff +=``, the port sum), i.e.
  arithmetic modulo 2**32: the ring holds int64 and is wrapped once when read.
* A projection with ``weight_exp >= 0`` scatters ``w << weight_exp`` straight into the ring
  (a left shift distributes over the sum modulo 2**32). A projection with ``weight_exp < 0``
  needs the floor shift of the *summed* activation of the step, per (post neuron, delay
  slot): it accumulates into a scratch ``acc`` (group "N") that is shifted and flushed into
  the ring once all spikes of the step are in.
* Float builds: same structure, float64 ring; the LIF update has the operation order of
  ``PyLifModelFloat`` (``PyLifRefractoryModelFloat`` for populations with a refractory
  period). Activations are summed in a different order than Lava's matrix product, so float
  results agree to rounding (~1e-16 relative), not bit for bit.

The whole step loop of one instance is one jitted call (``*_single``). A batch is split into
blocks of instances simulated instance-innermost (``*_block``), one block per thread: the
functions release the GIL (``nogil``), so plain Python threads run them in parallel without
numba's (slow to compile) parallel backend.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numba
import numpy as np
from numba import njit


# --------------------------------------------------------------------------- JIT cache dir
def _writable(path: Path) -> bool:
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = tempfile.NamedTemporaryFile(dir=path, prefix=".probe", delete=True)
        probe.close()
        return True
    except OSError:
        return False


def _configure_cache() -> bool:
    """Make ``cache=True`` work even when the package directory is read-only.

    numba writes its cache next to this file (``__pycache__``) when it can. Otherwise (an
    installed, read-only site-packages) we point ``numba.config.CACHE_DIR`` at
    ``$NEURODEPLOY_CACHE_DIR/numba``, ``~/.cache/neurodeploy/numba`` or a temp dir, unless
    the user already chose one with ``NUMBA_CACHE_DIR``. Returns False when nothing is
    writable (the functions are then compiled without a disk cache)."""
    if os.environ.get("NUMBA_CACHE_DIR"):
        return _writable(Path(os.environ["NUMBA_CACHE_DIR"]))
    if _writable(Path(__file__).resolve().parent / "__pycache__"):
        return True
    candidates = []
    if os.environ.get("NEURODEPLOY_CACHE_DIR"):
        candidates.append(Path(os.environ["NEURODEPLOY_CACHE_DIR"]) / "numba")
    candidates.append(Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
                      / "neurodeploy" / "numba")
    candidates.append(Path(tempfile.gettempdir()) / f"neurodeploy-numba-{os.getuid()}")
    for cand in candidates:
        if _writable(cand):
            numba.config.CACHE_DIR = str(cand)
            return True
    return False


CACHE = _configure_cache()

MAX_UV = 1 << 23
TWO_UV = 1 << 24
VMAX = MAX_UV - 1


@njit(cache=CACHE, inline="always")
def _wrap32(x):
    """Two's-complement wrap of an int64 to the int32 range (kept in int64)."""
    return ((x + 0x80000000) & 0xFFFFFFFF) - 0x80000000


# --------------------------------------------------------------------------- fixed point
@njit(cache=CACHE, nogil=True)
def _fixed_instance(b, steps, n_lif, src, du, dv, vth6, bias,
                    indptr_a, post_a, delay_a, w_a,
                    indptr_n, acc_n, w_n, indptr_r, rows_r, row_acc0, row_post0, row_len, row_delay,
                    row_shift, n_acc, depth, rec_s, rec_v, rec_u, out_s, out_v, out_u, nz, drp):
    """Simulate instance ``b`` of a fixed-point build for ``steps`` steps.

    src [Bi, steps, n_src] uint8; du/dv/vth6/bias [Bp, n_lif] int64 (vth6 = vth << 6,
    bias = Lava's effective bias); w_a/w_n [Bw, nnz] integers (int16/int32/int64, the
    smallest that holds them: the synapse arrays are streamed at every spike). Records into
    out_* [B, steps, R] the neurons listed in rec_* (global LIF indices). Temporal noise
    (docs/noise.md): nz [Bn, steps, n_lif] int64 membrane increments, added branch-free
    ([Bn, 1, n_lif] zeros: none), drp [Bn, steps, n_lif] uint8 spikes recorded but not
    delivered (0 steps: none); Bn 1: shared by all instances."""
    b = np.int64(b)
    bi = b if src.shape[0] > 1 else 0
    bp = b if du.shape[0] > 1 else 0
    bwa = b if w_a.shape[0] > 1 else 0
    bwn = b if w_n.shape[0] > 1 else 0
    n_src = src.shape[2]
    n_rows = row_acc0.shape[0]
    u = np.zeros(n_lif, np.int64)
    v = np.zeros(n_lif, np.int64)
    spk = np.zeros(n_lif, np.uint8)
    fired = np.empty(n_lif, np.int64)
    ring = np.zeros((depth, n_lif), np.int64)
    acc = np.zeros(n_acc, np.int64)
    touched = np.empty(n_rows, np.int64)
    seen = np.zeros(n_rows, np.uint8)
    mu = np.empty(n_lif, np.int64)
    mv = np.empty(n_lif, np.int64)
    for i in range(n_lif):
        mu[i] = 4095 - du[bp, i]      # DECAY_UNITY - (du + DS_OFFSET)
        mv[i] = 4096 - dv[bp, i]      # DECAY_UNITY - (dv + DM_OFFSET)
    th = vth6[bp]
    bs = bias[bp]
    has_n = indptr_n.shape[0] > 1
    tz = 1 if nz.shape[1] > 1 else 0          # nz [Bn, 1, n]: zeros, no noise
    has_drp = drp.shape[1] > 0
    bz = b if nz.shape[0] > 1 else 0
    bd = b if drp.shape[0] > 1 else 0
    for t in range(steps):
        zr = nz[bz, t * tz]      # membrane noise of step t (zeros: none)
        slot = t % depth
        rs = ring[slot]
        # neuron update: branch-free so that LLVM vectorises it
        for i in range(n_lif):
            a = _wrap32(rs[i])
            rs[i] = 0
            p = u[i] * mu[i]
            q = np.abs(p) >> 12
            x = _wrap32((-q if p < 0 else q) + a * 64)
            x = x - TWO_UV if x > MAX_UV else x
            x = x + TWO_UV if x <= -MAX_UV else x
            u[i] = x
            p = v[i] * mv[i]
            q = np.abs(p) >> 12
            y = _wrap32((-q if p < 0 else q) + x + bs[i])
            y = min(max(y, -VMAX), VMAX)
            y = min(max(y + zr[i], -VMAX), VMAX)
            f = y > th[i]
            v[i] = 0 if f else y
            spk[i] = f
        nf = 0
        for i in range(n_lif):
            if spk[i] and not (has_drp and drp[bd, t, i]):
                fired[nf] = i
                nf += 1
        for r in range(rec_s.shape[0]):
            out_s[b, t, r] = spk[rec_s[r]]
        for r in range(rec_v.shape[0]):
            out_v[b, t, r] = v[rec_v[r]]
        for r in range(rec_u.shape[0]):
            out_u[b, t, r] = u[rec_u[r]]
        # projections take this step's spikes (sources, then LIF), delivered t + 1 + delay
        s1 = (t + 1) % depth
        nt = 0
        for jj in range(n_src + nf):
            if jj < n_src:
                if src[bi, t, jj] == 0:
                    continue
                j = jj
            else:
                j = n_src + fired[jj - n_src]
            if depth == 1:
                for k in range(indptr_a[j], indptr_a[j + 1]):
                    ring[0, post_a[k]] += w_a[bwa, k]
            else:
                for k in range(indptr_a[j], indptr_a[j + 1]):
                    sl = s1 + delay_a[k]
                    if sl >= depth:
                        sl -= depth
                    ring[sl, post_a[k]] += w_a[bwa, k]
            if has_n:
                for k in range(indptr_n[j], indptr_n[j + 1]):
                    acc[acc_n[k]] += w_n[bwn, k]
                for k in range(indptr_r[j], indptr_r[j + 1]):
                    r = rows_r[k]
                    if seen[r] == 0:
                        seen[r] = 1
                        touched[nt] = r
                        nt += 1
        # weight_exp < 0: floor shift of each (projection, delay, post) sum of this step
        for m in range(nt):
            r = touched[m]
            seen[r] = 0
            sl = s1 + row_delay[r]
            if sl >= depth:
                sl -= depth
            a0 = row_acc0[r]
            p0 = row_post0[r]
            sh = row_shift[r]
            rw = ring[sl]
            for i in range(row_len[r]):
                rw[p0 + i] += acc[a0 + i] >> sh
                acc[a0 + i] = 0


# --------------------------------------------------------------------------- float
@njit(cache=CACHE, nogil=True)
def _float_instance(b, steps, n_lif, src, du, dv, vth, bias, refr,
                    indptr_a, post_a, delay_a, w_a,
                    depth, rec_s, rec_v, rec_u, out_s, out_v, out_u, nz, drp):
    """Simulate instance ``b`` of a float build (PyLifModelFloat / PyLifRefractoryModelFloat).

    du/dv/vth/bias [Bp, n_lif] float64, refr [n_lif] int64 (0: plain LIF model); nz/drp
    temporal noise as in :func:`_fixed_instance` (nz float64)."""
    b = np.int64(b)
    bi = b if src.shape[0] > 1 else 0
    bp = b if du.shape[0] > 1 else 0
    bwa = b if w_a.shape[0] > 1 else 0
    n_src = src.shape[2]
    u = np.zeros(n_lif, np.float64)
    v = np.zeros(n_lif, np.float64)
    spk = np.zeros(n_lif, np.uint8)
    fired = np.empty(n_lif, np.int64)
    ring = np.zeros((depth, n_lif), np.float64)
    ref_end = np.zeros(n_lif, np.int64)
    ku = np.empty(n_lif, np.float64)
    kv = np.empty(n_lif, np.float64)
    for i in range(n_lif):
        ku[i] = 1 - du[bp, i]
        kv[i] = 1 - dv[bp, i]
    th = vth[bp]
    bs = bias[bp]
    any_refr = False
    for i in range(n_lif):
        if refr[i] != 0:
            any_refr = True
    tz = 1 if nz.shape[1] > 1 else 0
    has_drp = drp.shape[1] > 0
    bz = b if nz.shape[0] > 1 else 0
    bd = b if drp.shape[0] > 1 else 0
    for t in range(steps):
        zr = nz[bz, t * tz]
        slot = t % depth
        rs = ring[slot]
        if not any_refr:
            # PyLifModelFloat, branch-free so that LLVM vectorises it
            for i in range(n_lif):
                x = u[i] * ku[i]
                x += rs[i]
                rs[i] = 0.0
                u[i] = x
                y = v[i] * kv[i] + x + bs[i]
                y += zr[i]
                f = y > th[i]
                v[i] = 0.0 if f else y
                spk[i] = f
        else:
            time_step = t + 1            # Lava's time_step counts from 1
            for i in range(n_lif):
                x = u[i] * ku[i]
                x += rs[i]
                rs[i] = 0.0
                u[i] = x
                if refr[i] == 0:
                    y = v[i] * kv[i] + x + bs[i]
                elif ref_end[i] < time_step:          # PyLifRefractoryModelFloat
                    y = v[i] * kv[i] + (x + bs[i])
                else:
                    y = v[i]
                y += zr[i]
                f = y > th[i]
                if f:
                    y = 0.0
                    if refr[i] != 0:
                        ref_end[i] = time_step + refr[i]
                v[i] = y
                spk[i] = f
        nf = 0
        for i in range(n_lif):
            if spk[i] and not (has_drp and drp[bd, t, i]):
                fired[nf] = i
                nf += 1
        for r in range(rec_s.shape[0]):
            out_s[b, t, r] = spk[rec_s[r]]
        for r in range(rec_v.shape[0]):
            out_v[b, t, r] = v[rec_v[r]]
        for r in range(rec_u.shape[0]):
            out_u[b, t, r] = u[rec_u[r]]
        s1 = (t + 1) % depth
        for jj in range(n_src + nf):
            if jj < n_src:
                if src[bi, t, jj] == 0:
                    continue
                j = jj
            else:
                j = n_src + fired[jj - n_src]
            if depth == 1:
                for k in range(indptr_a[j], indptr_a[j + 1]):
                    ring[0, post_a[k]] += w_a[bwa, k]
            else:
                for k in range(indptr_a[j], indptr_a[j + 1]):
                    sl = s1 + delay_a[k]
                    if sl >= depth:
                        sl -= depth
                    ring[sl, post_a[k]] += w_a[bwa, k]


fixed_single = _fixed_instance
float_single = _float_instance


# --------------------------------------------------------------------------- setup helpers
@njit(cache=CACHE, nogil=True)
def csr_order(keys, n):
    """Stable counting sort of ``keys`` (0 <= key < n): (order, indptr[n + 1])."""
    indptr = np.zeros(n + 1, np.int64)
    for k in keys:
        indptr[k + 1] += 1
    for i in range(n):
        indptr[i + 1] += indptr[i]
    pos = indptr[:-1].copy()
    order = np.empty(keys.shape[0], np.int64)
    for s in range(keys.shape[0]):
        k = keys[s]
        order[pos[k]] = s
        pos[k] += 1
    return order, indptr


@njit(cache=CACHE, nogil=True)
def strictly_increasing(x):
    """True when every element is larger than the one before."""
    for i in range(1, x.shape[0]):
        if x[i] <= x[i - 1]:
            return False
    return True


@njit(cache=CACHE, nogil=True)
def rows_per_pre(indptr, row_of_syn, n_rows):
    """CSR (indptr, rows) of the distinct accumulator rows each presynaptic neuron reaches."""
    n_pre = indptr.shape[0] - 1
    out_ptr = np.zeros(n_pre + 1, np.int64)
    out = np.empty(row_of_syn.shape[0], np.int64)
    mark = np.full(n_rows, -1, np.int64)
    n = 0
    for j in range(n_pre):
        for k in range(indptr[j], indptr[j + 1]):
            r = row_of_syn[k]
            if mark[r] != j:
                mark[r] = j
                out[n] = r
                n += 1
        out_ptr[j + 1] = n
    return out_ptr, out[:n].copy()


# --------------------------------------------------------------------------- batch blocks
# A block simulates instances b0 .. b0 + nb - 1 together with the instance axis innermost
# (state [n_lif, nb], ring [depth, n_lif, nb], weights [nnz, Bw]): a presynaptic spike shared
# by many instances (shared input, correlated activity) is one vectorised add over the
# instances instead of one scatter per instance. For every instance the additions happen in
# the same order as in the single-instance functions above (sources ascending, then LIF
# neurons ascending, CSR order within a row), so batch and single runs agree exactly,
# float builds included.

@njit(cache=CACHE, inline="always")
def _dest(k, idx, delay, s1, depth, n_lif):
    """Ring row of synapse k: idx[k] (+ n_lif * slot of its delay when depth > 1)."""
    if depth == 1:
        return np.int64(idx[k])
    sl = s1 + delay[k]
    if sl >= depth:
        sl -= depth
    return sl * n_lif + idx[k]


@njit(cache=CACHE)
def _scatter(dst, k0, k1, idx, delay, s1, depth, n_lif, wt, wcol, pmask, j, c, nb, qs):
    """dst[row(k), q] += weight of synapse k (column wcol + q, or 0 when shared) for the
    synapses k0..k1-1 of pre neuron j and the instances q where j spiked (pmask[j, q]; c of
    them, listed in qs[:c] when few). The branches are hoisted out of the synapse loop:
    numba/LLVM do not do it for us."""
    if wt.shape[1] == 1:
        if c == nb:
            for k in range(k0, k1):
                d = _dest(k, idx, delay, s1, depth, n_lif)
                w = wt[k, 0]
                for q in range(nb):
                    dst[d, q] += w
        elif 4 * c >= nb:
            for k in range(k0, k1):
                d = _dest(k, idx, delay, s1, depth, n_lif)
                w = wt[k, 0]
                for q in range(nb):
                    if pmask[j, q]:
                        dst[d, q] += w
        else:
            for k in range(k0, k1):
                d = _dest(k, idx, delay, s1, depth, n_lif)
                w = wt[k, 0]
                for m in range(c):
                    dst[d, qs[m]] += w
    else:
        if c == nb:
            for k in range(k0, k1):
                d = _dest(k, idx, delay, s1, depth, n_lif)
                for q in range(nb):
                    dst[d, q] += wt[k, wcol + q]
        elif 4 * c >= nb:
            for k in range(k0, k1):
                d = _dest(k, idx, delay, s1, depth, n_lif)
                for q in range(nb):
                    if pmask[j, q]:
                        dst[d, q] += wt[k, wcol + q]
        else:
            for k in range(k0, k1):
                d = _dest(k, idx, delay, s1, depth, n_lif)
                for m in range(c):
                    q = qs[m]
                    dst[d, q] += wt[k, wcol + q]


@njit(cache=CACHE, inline="always")
def _block_inputs(b0, nb, t, src, pmask, pcnt):
    """Source spikes of step t into pmask[:n_src] / pcnt[:n_src]."""
    n_src = src.shape[2]
    if src.shape[0] == 1:
        for j in range(n_src):
            f = src[0, t, j] != 0
            pcnt[j] = nb if f else 0
            for q in range(nb):
                pmask[j, q] = f
    else:
        for j in range(n_src):
            pcnt[j] = 0
        for q in range(nb):
            for j in range(n_src):
                x = src[b0 + q, t, j]
                pmask[j, q] = x
                pcnt[j] += x


@njit(cache=CACHE, inline="always")
def _block_record(b0, nb, t, n_src, pmask, v, u, rec_s, rec_v, rec_u, out_s, out_v, out_u):
    for q in range(nb):
        for r in range(rec_s.shape[0]):
            out_s[b0 + q, t, r] = pmask[n_src + rec_s[r], q]
        for r in range(rec_v.shape[0]):
            out_v[b0 + q, t, r] = v[rec_v[r], q]
        for r in range(rec_u.shape[0]):
            out_u[b0 + q, t, r] = u[rec_u[r], q]


@njit(cache=CACHE, inline="always")
def _block_drop(b0, t, n_src, nb, drp, pmask, pcnt):
    """Spike drop after recording: dropped LIF spikes of step t are not delivered."""
    many = drp.shape[0] > 1
    for i in range(drp.shape[2]):
        if pcnt[n_src + i] == 0:
            continue
        for q in range(nb):
            if pmask[n_src + i, q] and drp[b0 + q if many else 0, t, i]:
                pmask[n_src + i, q] = 0
                pcnt[n_src + i] -= 1


@njit(cache=CACHE, inline="always")
def _list_instances(pmask, j, nb, qs):
    m = 0
    for q in range(nb):
        if pmask[j, q]:
            qs[m] = q
            m += 1


@njit(cache=CACHE, nogil=True)
def _fixed_block(b0, nb, steps, n_lif, src, du, dv, vth6, bias,
                 indptr_a, post_a, delay_a, wt_a,
                 indptr_n, acc_n, wt_n, indptr_r, rows_r, row_acc0, row_post0, row_len,
                 row_delay, row_shift, n_acc, depth, rec_s, rec_v, rec_u, out_s, out_v, out_u,
                 nz, drp):
    """Instances b0 .. b0+nb-1 of a fixed build; wt_a/wt_n are weights [nnz, Bw]; nz/drp
    temporal noise shared by the instances (as in :func:`_fixed_instance`)."""
    b0 = np.int64(b0)
    n_src = src.shape[2]
    wcol_a = b0 if wt_a.shape[1] > 1 else 0
    wcol_n = b0 if wt_n.shape[1] > 1 else 0
    u = np.zeros((n_lif, nb), np.int64)
    v = np.zeros((n_lif, nb), np.int64)
    pmask = np.zeros((n_src + n_lif, nb), np.uint8)    # spikes of sources, then LIF
    pcnt = np.zeros(n_src + n_lif, np.int64)
    ring = np.zeros((depth * n_lif, nb), np.int64)     # row sl * n_lif + i
    acc = np.zeros((n_acc, nb), np.int64)
    n_rows = row_acc0.shape[0]
    touched = np.empty(n_rows, np.int64)
    seen = np.zeros(n_rows, np.uint8)
    qs = np.empty(nb, np.int64)
    mu = np.empty((n_lif, nb), np.int64)
    mv = np.empty((n_lif, nb), np.int64)
    th = np.empty((n_lif, nb), np.int64)
    bs = np.empty((n_lif, nb), np.int64)
    for q in range(nb):
        bp = b0 + q if du.shape[0] > 1 else 0
        for i in range(n_lif):
            mu[i, q] = 4095 - du[bp, i]
            mv[i, q] = 4096 - dv[bp, i]
            th[i, q] = vth6[bp, i]
            bs[i, q] = bias[bp, i]
    has_n = indptr_n.shape[0] > 1
    tz = 1 if nz.shape[1] > 1 else 0
    zb = 1 if nz.shape[0] > 1 else 0
    has_drp = drp.shape[1] > 0
    for t in range(steps):
        ro = (t % depth) * n_lif
        zt = nz[:, t * tz]       # [Bn, n_lif] membrane noise of step t
        for i in range(n_lif):
            c = 0
            z0 = zt[0, i]           # shared noise: loop-invariant (LLVM unswitches on zb)
            for q in range(nb):
                a = _wrap32(ring[ro + i, q])
                ring[ro + i, q] = 0
                p = u[i, q] * mu[i, q]
                z = np.abs(p) >> 12
                x = _wrap32((-z if p < 0 else z) + a * 64)
                x = x - TWO_UV if x > MAX_UV else x
                x = x + TWO_UV if x <= -MAX_UV else x
                u[i, q] = x
                p = v[i, q] * mv[i, q]
                z = np.abs(p) >> 12
                y = _wrap32((-z if p < 0 else z) + x + bs[i, q])
                y = min(max(y, -VMAX), VMAX)
                y = min(max(y + (zt[b0 + q, i] if zb else z0), -VMAX), VMAX)
                f = y > th[i, q]
                v[i, q] = 0 if f else y
                pmask[n_src + i, q] = f
                c += f
            pcnt[n_src + i] = c
        _block_record(b0, nb, t, n_src, pmask, v, u, rec_s, rec_v, rec_u, out_s, out_v, out_u)
        if has_drp:
            _block_drop(b0, t, n_src, nb, drp, pmask, pcnt)
        _block_inputs(b0, nb, t, src, pmask, pcnt)
        s1 = (t + 1) % depth
        nt = 0
        for j in range(n_src + n_lif):
            c = pcnt[j]
            if c == 0:
                continue
            if 4 * c < nb:
                _list_instances(pmask, j, nb, qs)
            _scatter(ring, indptr_a[j], indptr_a[j + 1], post_a, delay_a, s1, depth, n_lif,
                     wt_a, wcol_a, pmask, j, c, nb, qs)
            if has_n:
                _scatter(acc, indptr_n[j], indptr_n[j + 1], acc_n, delay_a, 0, 1, n_lif,
                         wt_n, wcol_n, pmask, j, c, nb, qs)
                for k in range(indptr_r[j], indptr_r[j + 1]):
                    r = rows_r[k]
                    if seen[r] == 0:
                        seen[r] = 1
                        touched[nt] = r
                        nt += 1
        for m in range(nt):
            r = touched[m]
            seen[r] = 0
            sl = s1 + row_delay[r]
            if sl >= depth:
                sl -= depth
            a0 = row_acc0[r]
            d0 = sl * n_lif + row_post0[r]
            sh = row_shift[r]
            for i in range(row_len[r]):
                for q in range(nb):
                    ring[d0 + i, q] += acc[a0 + i, q] >> sh
                    acc[a0 + i, q] = 0


@njit(cache=CACHE, nogil=True)
def _float_block(b0, nb, steps, n_lif, src, du, dv, vth, bias, refr,
                 indptr_a, post_a, delay_a, wt_a,
                 depth, rec_s, rec_v, rec_u, out_s, out_v, out_u, nz, drp):
    """Instances b0 .. b0+nb-1 of a float build; wt_a is weights [nnz, Bw]; nz/drp
    temporal noise shared by the instances (as in :func:`_float_instance`)."""
    b0 = np.int64(b0)
    n_src = src.shape[2]
    wcol_a = b0 if wt_a.shape[1] > 1 else 0
    u = np.zeros((n_lif, nb), np.float64)
    v = np.zeros((n_lif, nb), np.float64)
    pmask = np.zeros((n_src + n_lif, nb), np.uint8)
    pcnt = np.zeros(n_src + n_lif, np.int64)
    ring = np.zeros((depth * n_lif, nb), np.float64)   # row sl * n_lif + i
    ref_end = np.zeros((n_lif, nb), np.int64)
    qs = np.empty(nb, np.int64)
    ku = np.empty((n_lif, nb), np.float64)
    kv = np.empty((n_lif, nb), np.float64)
    th = np.empty((n_lif, nb), np.float64)
    bs = np.empty((n_lif, nb), np.float64)
    for q in range(nb):
        bp = b0 + q if du.shape[0] > 1 else 0
        for i in range(n_lif):
            ku[i, q] = 1 - du[bp, i]
            kv[i, q] = 1 - dv[bp, i]
            th[i, q] = vth[bp, i]
            bs[i, q] = bias[bp, i]
    tz = 1 if nz.shape[1] > 1 else 0
    zb = 1 if nz.shape[0] > 1 else 0
    has_drp = drp.shape[1] > 0
    for t in range(steps):
        ro = (t % depth) * n_lif
        zt = nz[:, t * tz]
        time_step = t + 1
        for i in range(n_lif):
            c = 0
            z0 = zt[0, i]
            if refr[i] == 0:
                for q in range(nb):          # PyLifModelFloat
                    x = u[i, q] * ku[i, q]
                    x += ring[ro + i, q]
                    ring[ro + i, q] = 0.0
                    u[i, q] = x
                    y = v[i, q] * kv[i, q] + x + bs[i, q]
                    y += (zt[b0 + q, i] if zb else z0)
                    f = y > th[i, q]
                    v[i, q] = 0.0 if f else y
                    pmask[n_src + i, q] = f
                    c += f
            else:
                for q in range(nb):          # PyLifRefractoryModelFloat
                    x = u[i, q] * ku[i, q]
                    x += ring[ro + i, q]
                    ring[ro + i, q] = 0.0
                    u[i, q] = x
                    if ref_end[i, q] < time_step:
                        y = v[i, q] * kv[i, q] + (x + bs[i, q])
                    else:
                        y = v[i, q]
                    y += (zt[b0 + q, i] if zb else z0)
                    f = y > th[i, q]
                    if f:
                        y = 0.0
                        ref_end[i, q] = time_step + refr[i]
                    v[i, q] = y
                    pmask[n_src + i, q] = f
                    c += f
            pcnt[n_src + i] = c
        _block_record(b0, nb, t, n_src, pmask, v, u, rec_s, rec_v, rec_u, out_s, out_v, out_u)
        if has_drp:
            _block_drop(b0, t, n_src, nb, drp, pmask, pcnt)
        _block_inputs(b0, nb, t, src, pmask, pcnt)
        s1 = (t + 1) % depth
        for j in range(n_src + n_lif):
            c = pcnt[j]
            if c == 0:
                continue
            if 4 * c < nb:
                _list_instances(pmask, j, nb, qs)
            _scatter(ring, indptr_a[j], indptr_a[j + 1], post_a, delay_a, s1, depth, n_lif,
                     wt_a, wcol_a, pmask, j, c, nb, qs)




fixed_block = _fixed_block
float_block = _float_block
