"""The ``cpu`` backend: a numba-compiled, event-driven, batched simulator of a build.

Fixed builds are bit-exact with :mod:`compilers.cpu.kernels` (hence with Lava's
``PyLifModelBitAcc`` / ``PyDenseModelBitAcc`` / ``PyDelayDenseModelBitAcc``) on every step,
every neuron, spikes, v and u. Float builds follow ``PyLifModelFloat`` (and
``PyLifRefractoryModelFloat`` when ``refractory > 0``) with the same float64 operation order;
only the summation order of synaptic input differs from Lava's matrix product (rounding).

``run_batch`` simulates ``batch`` independent instances (Monte Carlo chips) with
per-instance parameters (``overrides``) and/or per-instance inputs, in parallel threads.
"""
from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from neurodeploy.errors import BackendError

from .. import Backend
from ..plan import PopulationPlan, ProjectionPlan, SimPlan
from ..result import SimResult
from . import kernels as K

MONITOR_VARS = ("spikes", "v", "u")
POP_OVERRIDES = ("vth", "du", "dv", "bias_mant")
PROJ_OVERRIDES = ("weights",)
MAX_FIXED_DELAY = K.MAX_DELAY_LOIHI2
CACHE_MAX_BYTES = 64 << 20          # synapse arrays larger than this are not cached


@dataclass
class _Synapses:
    """Synapses of one projection in global indices (before CSR sorting)."""

    pre: np.ndarray      # global presynaptic index (sources first, then n_src + lif index)
    post: np.ndarray     # global LIF index
    local_post: np.ndarray
    delay: np.ndarray
    weights: np.ndarray  # [Bw, nnz] prepared (fixed: int64 before weight_exp; float64)


def _csr(pre: np.ndarray, n_pre: int) -> tuple[np.ndarray, np.ndarray]:
    """(order, indptr) sorting synapses by presynaptic index (stable counting sort)."""
    from . import engine
    return engine.csr_order(np.ascontiguousarray(pre, dtype=np.int64), n_pre)


def _compact(w: np.ndarray) -> np.ndarray:
    """int16 or int32 storage of int64 weights when the values fit: the synapse arrays are
    streamed at every spike, so their size sets the speed of busy networks."""
    if w.dtype != np.int64:
        return w
    lo, hi = (int(w.min()), int(w.max())) if w.size else (0, 0)
    for dt in (np.int16, np.int32):
        info = np.iinfo(dt)
        if info.min <= lo and hi <= info.max:
            return w.astype(dt)
    return w


def _index_dtype(n: int):
    """Smallest unsigned type holding indices < n (uint16 for populations up to 65535)."""
    return np.uint16 if n <= np.iinfo(np.uint16).max else np.int32


def _cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _transpose_weights(syn: tuple, fixed: bool) -> tuple:
    """Weights [Bw, nnz] -> [nnz, Bw] for the instance-innermost batch engine."""
    syn = list(syn)
    for i in ((3, 6) if fixed else (3,)):
        syn[i] = np.ascontiguousarray(syn[i].T)
    return tuple(syn)


class CpuBackend(Backend):
    """NumPy/numba simulator; bit-exact with Lava fixed_pt, batched."""

    name = "cpu"

    def __init__(self, threads: int | None = None) -> None:
        """``threads``: threads for batches (default: the CPUs this process may use)."""
        if threads is not None and (not isinstance(threads, int) or threads < 1):
            raise BackendError(f"threads must be an integer >= 1; got {threads!r}")
        self.threads = threads
        self._syn_cache: tuple | None = None

    # ------------------------------------------------------------------ refusal
    def refuse_reason(self, plan: SimPlan) -> str | None:
        reason = super().refuse_reason(plan)
        if reason:
            return reason
        if plan.numerics not in ("fixed", "float"):
            return f"numerics '{plan.numerics}' is neither 'fixed' nor 'float'"
        from ..noise import noise_refusal
        reason = noise_refusal(plan)
        if reason:
            return reason
        for name, pop in plan.populations.items():
            if pop.kind not in ("lif", "spike_source", "poisson"):
                return (f"population '{name}' has kind '{pop.kind}'; the cpu backend simulates "
                        "lif, spike_source and poisson populations")
            if pop.kind == "lif":
                if pop.refractory < 0:
                    return f"population '{name}' has a negative refractory period"
                if pop.refractory and plan.fixed:
                    return (f"population '{name}' has refractory {pop.refractory} in a fixed "
                            "build; Lava's bit-accurate LIF has no refractory period")
                if plan.fixed and not (0 <= np.min(pop.du) and np.max(pop.du) <= 4095
                                       and 0 <= np.min(pop.dv) and np.max(pop.dv) <= 4095):
                    return (f"population '{name}': du={pop.du}, dv={pop.dv} outside the 12-bit "
                            "decay register 0..4095")
        for name, proj in plan.projections.items():
            for end in (proj.pre, proj.post):
                if end not in plan.populations:
                    return f"projection '{name}' refers to unknown population '{end}'"
            if plan.populations[proj.post].kind != "lif":
                return (f"projection '{name}' targets {plan.populations[proj.post].kind} "
                        f"population '{proj.post}'; only lif populations take input")
            d = np.asarray(proj.delays)
            if d.size and int(d.min()) < 0:
                return f"projection '{name}' has negative delays"
            if plan.fixed and d.size and int(d.max()) > MAX_FIXED_DELAY:
                return (f"projection '{name}' has delay {int(d.max())} > {MAX_FIXED_DELAY}, "
                        "the largest delay of Lava's bit-accurate DelayDense")
            if proj.format not in ("dense", "coo"):
                return f"projection '{name}' has weight format '{proj.format}' (dense or coo)"
        for pop, var in plan.monitors:
            if pop not in plan.populations:
                return f"monitor of unknown population '{pop}'"
            if var not in MONITOR_VARS:
                return (f"monitor {pop}.{var}: the cpu backend records "
                        f"{', '.join(MONITOR_VARS)}")
            if var != "spikes" and plan.populations[pop].kind != "lif":
                return f"monitor {pop}.{var}: {plan.populations[pop].kind} populations have no {var}"
        return None

    # ------------------------------------------------------------------ public API
    def run(self, plan: SimPlan, inputs: dict[str, np.ndarray], steps: int) -> SimResult:
        """Simulate one instance; arrays ``[steps, size]``."""
        res = self.run_batch(plan, inputs, steps, 1)
        return SimResult(data={k: v[0] for k, v in res.data.items()}, meta=res.meta)

    def run_batch(self, plan: SimPlan, inputs: dict[str, np.ndarray], steps: int, batch: int,
                  overrides: dict[str, Any] | None = None,
                  noise_chips: Any = None) -> SimResult:
        """Simulate ``batch`` instances; arrays ``[batch, steps, size]``.

        ``inputs[pop]`` is ``[steps, size]`` (shared) or ``[batch, steps, size]``;
        ``overrides`` = ``{"populations": {pop: {"vth" | "du" | "dv" | "bias_mant": [B, N] |
        [B]}}, "projections": {proj: {"weights": [B, *weights.shape]}}}``;
        ``noise_chips``: the chip index each instance draws its temporal noise for (``[B]``
        integers; default chip 0 for all, see docs/noise.md).
        """
        t0 = time.perf_counter()
        self.check(plan)
        steps = self._check_int("steps", steps, 0)
        batch = self._check_int("batch", batch, 1)
        net = _Network(plan, batch, steps)
        src = net.sources(inputs)
        pops, projs = _split_overrides(plan, overrides, batch)
        params = net.neuron_params(pops)
        syn = self._synapses(net, projs)
        rec = net.recorders()
        noise, src_run = net.noise(src, _noise_chips(noise_chips, batch))
        t1 = time.perf_counter()
        from . import engine
        if batch == 1:
            run = engine.fixed_single if plan.fixed else engine.float_single
            run(0, steps, net.n_lif, src_run, *params, *syn, *rec, *noise)
        else:
            # blocks of instances, instance axis innermost, one block per thread (the jitted
            # functions release the GIL)
            n_blocks = max(1, min(batch, self.threads or _cpu_count()))
            starts = np.linspace(0, batch, n_blocks + 1).round().astype(np.int64)
            syn = _transpose_weights(syn, plan.fixed)
            run = engine.fixed_block if plan.fixed else engine.float_block
            jobs = [(int(b0), int(b1 - b0), steps, net.n_lif, src_run, *params, *syn, *rec,
                     *noise)
                    for b0, b1 in zip(starts[:-1], starts[1:])]
            if n_blocks == 1:
                run(*jobs[0])
            else:
                with ThreadPoolExecutor(n_blocks) as pool:
                    for fut in [pool.submit(run, *job) for job in jobs]:
                        fut.result()
        t2 = time.perf_counter()
        data = net.collect(src, rec)
        meta = {"backend": self.name, "engine": "numba", "numerics": plan.numerics,
                "steps": steps, "batch": batch, "network": plan.name,
                "setup_s": round(t1 - t0, 6), "sim_s": round(t2 - t1, 6),
                "wall_time_s": round(time.perf_counter() - t0, 6)}
        return SimResult(data=data, meta=meta)

    def _synapses(self, net: "_Network", projs: dict[str, np.ndarray]) -> tuple:
        """``net.synapses(projs)``, reusing the previous result when the plan's projections
        are the same by *content* (repeated runs of one build skip the CSR construction).
        The check compares copies of the arrays, so in-place edits are never missed."""
        if projs:
            return net.synapses(projs)
        plan = net.plan
        meta = (plan.numerics, tuple(net.src_off.items()), tuple(net.lif_off.items()),
                tuple((n, p.pre, p.post, p.format, p.shape, p.weight_exp, p.num_weight_bits,
                       p.sign_mode, p.max_delay) for n, p in plan.projections.items()))
        arrays = [np.asarray(x) for p in plan.projections.values()
                  for x in (p.weights, p.delays, p.rows if p.rows is not None else (),
                            p.cols if p.cols is not None else ())]
        cached = self._syn_cache
        if (cached is not None and cached[0] == meta and len(cached[1]) == len(arrays)
                and all(a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b)
                        for a, b in zip(cached[1], arrays))):
            return cached[2]
        syn = net.synapses(projs)       # internal arrays; the engine only reads them
        if sum(a.nbytes for a in arrays) > CACHE_MAX_BYTES:
            self._syn_cache = None      # huge builds: a copy would cost more than it saves
            return syn
        self._syn_cache = (meta, [a.copy() for a in arrays], syn)
        return syn

    @staticmethod
    def _check_int(name: str, value: Any, low: int) -> int:
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
            raise BackendError(f"{name} must be an integer >= {low}; got {value!r}")
        return int(value)


# --------------------------------------------------------------------------- overrides
def _noise_chips(chips: Any, batch: int) -> list[int]:
    """Validated chip index per instance for temporal noise (default: chip 0 for all)."""
    if chips is None:
        return [0] * batch
    arr = np.asarray(chips)
    if arr.shape != (batch,) or not np.issubdtype(arr.dtype, np.integer) or np.any(arr < 0):
        raise BackendError(f"noise_chips must be {batch} integers >= 0 (one chip per instance); "
                           f"got shape {list(arr.shape)}, dtype {arr.dtype}")
    return [int(c) for c in arr]


def _split_overrides(plan: SimPlan, overrides: dict[str, Any] | None, batch: int
                     ) -> tuple[dict[str, dict[str, np.ndarray]], dict[str, np.ndarray]]:
    """Validate ``overrides``; return ({pop: {field: array}}, {proj: weights [B, ...]})."""
    if not overrides:
        return {}, {}
    if not isinstance(overrides, dict):
        raise BackendError("overrides must be a dict with 'populations' and/or 'projections'")
    unknown = set(overrides) - {"populations", "projections"}
    if unknown:
        raise BackendError(f"overrides has unknown keys {sorted(unknown)}; expected "
                           "'populations' and/or 'projections'")
    pops: dict[str, dict[str, np.ndarray]] = {}
    for name, fields in (overrides.get("populations") or {}).items():
        where = f"overrides.populations.{name}"
        pop = plan.populations.get(name)
        if pop is None:
            raise BackendError(f"{where}: no population '{name}' in '{plan.name}'")
        if pop.kind != "lif":
            raise BackendError(f"{where}: '{name}' is a {pop.kind} population without parameters")
        bad = set(fields) - set(POP_OVERRIDES)
        if bad:
            raise BackendError(f"{where}: unknown fields {sorted(bad)}; allowed: "
                               f"{', '.join(POP_OVERRIDES)}")
        out = {}
        for key, val in fields.items():
            arr = np.asarray(val)
            f = f"{where}.{key}"
            per_neuron = True       # du/dv per neuron too (neurodeploy.variability chips)
            ok = [(batch,)] + ([(batch, pop.size)] if per_neuron else [])
            if arr.shape not in ok:
                want = " or ".join(f"[{', '.join(map(str, s))}]" for s in ok)
                raise BackendError(f"{f} has shape {list(arr.shape)}; expected {want} "
                                   f"(batch {batch}, population size {pop.size})")
            if not np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.complexfloating):
                raise BackendError(f"{f} must be numeric; got dtype {arr.dtype}")
            if not np.all(np.isfinite(arr)):
                raise BackendError(f"{f} holds non-finite values")
            if plan.fixed:
                if not np.all(arr == np.round(arr)):
                    raise BackendError(f"{f} must hold integers in a fixed build "
                                       "(hardware register values)")
                arr = arr.astype(np.int64)
                if key in ("du", "dv") and (arr.min() < 0 or arr.max() > 4095):
                    raise BackendError(f"{f} outside the 12-bit decay register 0..4095")
            else:
                arr = arr.astype(np.float64)
            out[key] = arr.reshape(batch, -1)
        pops[name] = out
    projs: dict[str, np.ndarray] = {}
    for name, fields in (overrides.get("projections") or {}).items():
        where = f"overrides.projections.{name}"
        proj = plan.projections.get(name)
        if proj is None:
            raise BackendError(f"{where}: no projection '{name}' in '{plan.name}'")
        bad = set(fields) - set(PROJ_OVERRIDES)
        if bad:
            raise BackendError(f"{where}: unknown fields {sorted(bad)}; allowed: weights")
        if "weights" not in fields:
            continue
        arr = np.asarray(fields["weights"])
        want = (batch,) + tuple(proj.weights.shape)
        if arr.shape != want:
            raise BackendError(f"{where}.weights has shape {list(arr.shape)}; expected "
                               f"{list(want)} (batch, then the plan's {proj.format} weights)")
        if not np.issubdtype(arr.dtype, np.number) or not np.all(np.isfinite(arr)):
            raise BackendError(f"{where}.weights must hold finite numbers")
        projs[name] = arr
    return pops, projs


# --------------------------------------------------------------------------- network arrays
class _Network:
    """Global indexing of a plan and the arrays the numba engine takes."""

    def __init__(self, plan: SimPlan, batch: int, steps: int) -> None:
        self.plan, self.batch, self.steps = plan, batch, steps
        self.src_off: dict[str, int] = {}
        self.lif_off: dict[str, int] = {}
        n_src = n_lif = 0
        for name, pop in plan.populations.items():
            if pop.kind == "lif":
                self.lif_off[name] = n_lif
                n_lif += pop.size
            else:
                self.src_off[name] = n_src
                n_src += pop.size
        self.n_src, self.n_lif = n_src, n_lif
        self.monitors = list(dict.fromkeys(plan.monitors))

    def pre_offset(self, name: str) -> int:
        return self.src_off[name] if name in self.src_off else self.n_src + self.lif_off[name]

    # ---------------------------------------------------------------- inputs
    def sources(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        """Validated source spikes as one ``[Bi, steps, n_src]`` uint8 array (Bi 1 or B)."""
        plan, B, T = self.plan, self.batch, self.steps
        if not isinstance(inputs, dict):
            raise BackendError("inputs must be a dict {population: spikes [steps, size]}")
        inputs = dict(inputs)
        arrays = {}
        for name in self.src_off:
            pop = plan.populations[name]
            key = name if name in inputs else f"{name}.spikes" if f"{name}.spikes" in inputs else None
            if key is None:
                raise BackendError(f"no input spikes for {pop.kind} population '{name}': pass "
                                   f"inputs['{name}'] of shape [steps, {pop.size}] (make_inputs "
                                   "draws Poisson populations from the seed)")
            arr = np.asarray(inputs.pop(key))
            if arr.ndim == 2:
                shared = True
            elif arr.ndim == 3 and arr.shape[0] == B:
                shared = False
            else:
                shared = None
            if shared is None or arr.shape[-1] != pop.size or arr.shape[-2] < T:
                want = f"[steps >= {T}, {pop.size}]" + (f" or [{B}, steps >= {T}, {pop.size}]"
                                                        if B > 1 else "")
                raise BackendError(f"input '{name}' has shape {list(arr.shape)}; expected {want}")
            arr = arr[..., :T, :] if arr.shape[-2] != T else arr
            if arr.dtype == np.bool_:
                arr = arr.view(np.uint8)
            elif arr.dtype != np.uint8 or (arr.size and arr.max() > 1):
                if not np.issubdtype(arr.dtype, np.number) or not np.all((arr == 0) | (arr == 1)):
                    raise BackendError(f"input '{name}' must hold 0/1 spikes; found other values "
                                       "(graded spikes are not supported by the cpu backend)")
                arr = arr.astype(np.uint8)
            arrays[name] = arr if not shared else arr[None]
        if inputs:
            raise BackendError(f"inputs {', '.join(sorted(map(str, inputs)))} match no source "
                               f"population of '{plan.name}' (sources: "
                               f"{', '.join(self.src_off) or 'none'})")
        if not arrays:
            return np.zeros((1, T, 0), np.uint8)
        lead = B if any(a.shape[0] > 1 for a in arrays.values()) else 1
        if len(arrays) == 1 and lead == 1:
            return np.ascontiguousarray(next(iter(arrays.values())))
        return np.ascontiguousarray(np.concatenate(
            [np.broadcast_to(a, (lead, T, a.shape[-1])) for a in arrays.values()], axis=2))

    # ---------------------------------------------------------------- neurons
    def neuron_params(self, overrides: dict[str, dict[str, np.ndarray]]) -> tuple:
        plan, N = self.plan, self.n_lif
        fixed = plan.fixed
        per_inst = bool(overrides)
        Bp = self.batch if per_inst else 1
        dt = np.int64 if fixed else np.float64
        du = np.zeros((Bp, N), dt)
        dv = np.zeros((Bp, N), dt)
        vth = np.zeros((Bp, N), dt)
        bias = np.zeros((Bp, N), dt)
        refr = np.zeros(N, np.int64)
        for name, off in self.lif_off.items():
            pop = plan.populations[name]
            sl = slice(off, off + pop.size)
            o = overrides.get(name, {})
            du[:, sl] = o["du"] if "du" in o else pop.du
            dv[:, sl] = o["dv"] if "dv" in o else pop.dv
            v = o.get("vth", pop.vth)
            b = o.get("bias_mant", pop.bias_mant)
            if fixed:
                vth[:, sl] = np.left_shift(np.asarray(v, dtype=np.int64), K.VTH_SHIFT)
                bias[:, sl] = K.effective_bias(b, pop.bias_exp)
            else:
                vth[:, sl] = v
                bias[:, sl] = b
                refr[sl] = pop.refractory
        if fixed:
            return du, dv, vth, bias
        return du, dv, vth, bias, refr

    # ---------------------------------------------------------------- synapses
    def _projection(self, proj: ProjectionPlan, w_override: np.ndarray | None) -> _Synapses:
        fixed = self.plan.fixed
        w = proj.weights if w_override is None else w_override
        batched = w_override is not None
        if fixed:
            # the plan's sign mode (not Lava's per-matrix guess) for every instance: Lava
            # backends must pass sign_mode explicitly to agree on overridden weights
            w = K.prepare_fixed_weights(w, proj.sign_mode, proj.num_weight_bits)
        else:
            w = np.asarray(w, dtype=np.float64)
        if not batched:
            w = w[None]
        B = w.shape[0]
        if proj.format == "dense":
            mask = (w != 0).any(axis=0)
            rows, cols = np.nonzero(mask)
            vals = w[:, rows, cols]
            d = np.asarray(proj.delays)
            delay = (np.full(rows.shape, int(d), np.int64) if d.ndim == 0
                     else d.astype(np.int64)[rows, cols])
        else:
            rows = np.asarray(proj.rows, dtype=np.int64)
            cols = np.asarray(proj.cols, dtype=np.int64)
            vals = w.reshape(B, -1)
            d = np.asarray(proj.delays)
            delay = (np.full(rows.shape, int(d), np.int64) if d.ndim == 0
                     else d.astype(np.int64).reshape(-1))
            # dense_weights() keeps the last of duplicate (row, col) entries: do the same
            lin = rows * proj.shape[1] + cols
            from . import engine
            if not engine.strictly_increasing(lin) and len(np.unique(lin)) != len(lin):
                _, first_of_rev = np.unique(lin[::-1], return_index=True)
                keep = np.sort(len(lin) - 1 - first_of_rev)
                rows, cols, vals, delay = rows[keep], cols[keep], vals[:, keep], delay[keep]
            keep = (vals != 0).any(axis=0)
            if not keep.all():
                rows, cols, vals, delay = rows[keep], cols[keep], vals[:, keep], delay[keep]
        pre = cols + self.pre_offset(proj.pre)
        post = rows + self.lif_off[proj.post]
        if fixed:
            vals = vals.astype(np.int64)
        return _Synapses(pre=pre, post=post, local_post=rows, delay=delay, weights=vals)

    def synapses(self, overrides: dict[str, np.ndarray]) -> tuple:
        plan, fixed = self.plan, self.plan.fixed
        n_pre = self.n_src + self.n_lif
        a_parts: list[_Synapses] = []
        n_parts: list[tuple[_Synapses, ProjectionPlan]] = []
        for name, proj in plan.projections.items():
            s = self._projection(proj, overrides.get(name))
            if fixed and proj.weight_exp < 0:
                n_parts.append((s, proj))
                continue
            if fixed and proj.weight_exp > 0:
                s.weights = s.weights << proj.weight_exp
            a_parts.append(s)
        Bw = self.batch if overrides else 1
        wdt = np.int64 if fixed else np.float64
        max_delay = max([0] + [int(np.max(np.asarray(p.delays))) if np.size(p.delays) else 0
                               for p in plan.projections.values()])
        depth = max_delay + 1

        def weights_of(parts):
            if not parts:
                return np.zeros((Bw, 0), wdt)
            return np.concatenate([np.broadcast_to(p.weights, (Bw, p.weights.shape[1]))
                                   for p in parts], axis=1).astype(wdt, copy=False)

        # group A: direct scatter
        pre = np.concatenate([p.pre for p in a_parts]) if a_parts else np.zeros(0, np.int64)
        order, indptr_a = _csr(pre, n_pre)
        post_a = (np.concatenate([p.post for p in a_parts]) if a_parts
                  else np.zeros(0, np.int64))[order]
        delay_a = (np.concatenate([p.delay for p in a_parts]) if a_parts
                   else np.zeros(0, np.int64))[order]
        w_a = _compact(np.ascontiguousarray(weights_of(a_parts)[:, order]))
        post_a = post_a.astype(_index_dtype(self.n_lif))
        delay_a = delay_a.astype(np.int32) if depth > 1 else np.zeros(0, np.int32)
        if not fixed:
            return indptr_a, post_a, delay_a, w_a, depth
        # group N (weight_exp < 0): per-step sums per (projection, delay, post) in a scratch
        # accumulator, one "row" of npost entries per (projection, delay)
        acc_idx, row_idx = [], []
        rows = {"acc0": [], "post0": [], "len": [], "delay": [], "shift": []}
        base = 0
        for s, proj in n_parts:
            d1 = int(s.delay.max()) + 1 if s.delay.size else 1
            npost = proj.shape[0]
            acc_idx.append(base + s.delay * npost + s.local_post)
            row_idx.append(len(rows["acc0"]) + s.delay)
            for k in range(d1):
                rows["acc0"].append(base + k * npost)
                rows["post0"].append(self.lif_off[proj.post])
                rows["len"].append(npost)
                rows["delay"].append(k)
                rows["shift"].append(-proj.weight_exp)
            base += d1 * npost
        cat = lambda xs: np.concatenate(xs).astype(np.int64) if xs else np.zeros(0, np.int64)
        pre_n = cat([s.pre for s, _ in n_parts])
        order_n, indptr_n = _csr(pre_n, n_pre)
        acc_n = cat(acc_idx)[order_n].astype(np.int32)
        from . import engine
        indptr_r, rows_r = engine.rows_per_pre(indptr_n, cat(row_idx)[order_n],
                                               len(rows["acc0"]))
        w_n = _compact(np.ascontiguousarray(weights_of([s for s, _ in n_parts])[:, order_n]))
        if not n_parts:
            indptr_n = np.zeros(1, np.int64)
        r = {k: np.asarray(v, dtype=np.int64) for k, v in rows.items()}
        return (indptr_a, post_a, delay_a, w_a, indptr_n, acc_n, w_n, indptr_r, rows_r, r["acc0"],
                r["post0"], r["len"], r["delay"], r["shift"], base, depth)

    # ---------------------------------------------------------------- temporal noise
    def noise(self, src: np.ndarray, chips: list[int]
              ) -> tuple[tuple[np.ndarray, np.ndarray], np.ndarray]:
        """((nz [Bn, steps, n_lif], drp [Bn, steps, n_lif] uint8), source spikes to deliver)
        of the plan's temporal noise drawn for ``chips`` (one per instance, or one shared;
        docs/noise.md); nz is [Bn, 1, n_lif] zeros and drp has 0 steps without noise. Dropped source spikes are
        removed from the delivered copy only (monitors record the input as given)."""
        from ..noise import MAX_NOISE_BYTES, noise_arrays
        plan, T, N = self.plan, self.steps, self.n_lif
        probe = noise_arrays(plan, 1)
        lif_mem = [n for n in probe.membrane if n in self.lif_off]
        lif_drop = [n for n in probe.drop if n in self.lif_off]
        src_drop = [n for n in probe.drop if n in self.src_off]
        uniq = sorted(set(chips))
        Bn = 1 if len(uniq) == 1 else len(chips)
        need = Bn * T * (N * ((8 if lif_mem else 0) + (1 if lif_drop else 0))
                         + (self.n_src if src_drop else 0))
        if need > MAX_NOISE_BYTES:
            raise BackendError(f"temporal noise of {T} steps x {N} neurons x {Bn} chips needs "
                               f"{need / 2**20:.0f} MiB of precomputed draws (limit "
                               f"{MAX_NOISE_BYTES >> 20} MiB); run fewer steps or pass --frozen")
        ndt = np.int64 if plan.fixed else np.float64
        nz = np.zeros((Bn, T if lif_mem else 1, N), ndt)
        drp = np.zeros((Bn, T if lif_drop else 0, N), np.uint8)
        if not (lif_mem or lif_drop or src_drop):
            return (nz, drp), src
        if src_drop:
            src = np.array(np.broadcast_to(src, (max(Bn, src.shape[0]),) + src.shape[1:]))
        for chip in uniq:
            arrs = noise_arrays(plan, T, chip)
            rows = [0] if Bn == 1 else [b for b, c in enumerate(chips) if c == chip]
            for name in lif_mem:
                off = self.lif_off[name]
                nz[rows, :, off:off + plan.populations[name].size] = arrs.membrane[name]
            for name in lif_drop:
                off = self.lif_off[name]
                drp[rows, :, off:off + plan.populations[name].size] = arrs.drop[name]
            srows = list(range(src.shape[0])) if Bn == 1 else rows
            for name in src_drop:
                off = self.src_off[name]
                cols = slice(off, off + plan.populations[name].size)
                for r in srows:
                    src[r, :, cols] = np.where(arrs.drop[name], 0, src[r, :, cols])
        return (nz, drp), src

    # ---------------------------------------------------------------- monitors
    def recorders(self) -> tuple:
        idx = {var: [] for var in MONITOR_VARS}
        self.columns: dict[tuple[str, str], tuple[int, int]] = {}
        for pop, var in self.monitors:
            if pop not in self.lif_off:
                continue
            start = sum(len(x) for x in idx[var])
            off, size = self.lif_off[pop], self.plan.populations[pop].size
            idx[var].append(np.arange(off, off + size, dtype=np.int64))
            self.columns[(pop, var)] = (start, start + size)
        B, T = self.batch, self.steps
        vdt = np.int32 if self.plan.fixed else np.float64
        rec = [np.concatenate(idx[v]) if idx[v] else np.zeros(0, np.int64) for v in MONITOR_VARS]
        outs = [np.zeros((B, T, len(rec[0])), np.uint8),
                np.zeros((B, T, len(rec[1])), vdt),
                np.zeros((B, T, len(rec[2])), vdt)]
        return (*rec, *outs)

    def collect(self, src: np.ndarray, rec: tuple) -> dict[str, np.ndarray]:
        outs = dict(zip(MONITOR_VARS, rec[3:]))
        B, T = self.batch, self.steps
        data = {}
        for pop, var in self.monitors:
            key = f"{pop}.{var}"
            if pop in self.src_off:
                off, size = self.src_off[pop], self.plan.populations[pop].size
                arr = src[:, :, off:off + size]
                data[key] = np.array(np.broadcast_to(arr, (B, T, size)))
                continue
            a, b = self.columns[(pop, var)]
            full = outs[var]
            data[key] = full if (a == 0 and b == full.shape[2]) else np.ascontiguousarray(full[:, :, a:b])
        return data
