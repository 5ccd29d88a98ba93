"""The ``cpu`` backend: a numba-compiled, event-driven, batched simulator of a build.

Every run goes through the one step loop (:mod:`compilers.cpu.step_loop`) on the build's
:class:`~compilers.cpu.learn_layout.Layout`. Fixed builds are bit-exact with
:mod:`compilers.cpu.kernels` (hence with Lava's ``PyLifModelBitAcc`` /
``PyDenseModelBitAcc`` / ``PyDelayDenseModelBitAcc``) on every step, every neuron, spikes, v
and u. Float builds follow ``PyLifModelFloat`` (``PyLifRefractoryModelFloat`` when
``refractory > 0``) with the same float64 operation order; only the summation order of
synaptic input differs from Lava's matrix product (rounding).

``run_batch`` simulates ``batch`` independent instances (Monte Carlo chips) with
per-instance parameters (``overrides``), inputs and noise, one instance per thread at a time.
"""
from __future__ import annotations

import hashlib
import os
import time
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from neurodeploy.errors import BackendError
from neurodeploy.neurons import SOURCE_KINDS

from .. import Backend
from ..capabilities import Capabilities
from ..plan import SimPlan
from ..result import SimResult
from . import kernels as K
from . import run_arrays
from .block_loop import run_block
from .frozen_layout import Frozen, frozen
from .frozen_loop import run_frozen
from .inputs import source_spikes
from .learn_layout import Layout
from .overrides import check_noise_chips, split_overrides

MAX_FIXED_DELAY = K.MAX_DELAY_LOIHI2


def _kind_check(kind: Any) -> str | None:
    """Why the cpu loop cannot run ``kind``: a float state in its int64 ``aux`` slot (which
    would truncate it), or a registration after the loop was compiled in this process."""
    from neurodeploy.neurons.cpu_dispatch import COMPILED
    if kind.aux_dtype != "int":
        return (f"whose state in the cpu loop's aux slot is {kind.aux_dtype}; the slot is "
                "int64 and would truncate it")
    if kind.name not in COMPILED:
        return ("registered after the cpu loop was compiled in this process; register it "
                "before the first cpu run (docs/extending.md)")
    return None


class CpuBackend(Backend):
    """NumPy/numba simulator; bit-exact with Lava fixed_pt, batched."""

    name = "cpu"

    def __init__(self, threads: int | None = None) -> None:
        """``threads``: threads for batches (default: the CPUs this process may use)."""
        if threads is not None and (not isinstance(threads, int) or threads < 1):
            raise BackendError(f"threads must be an integer >= 1; got {threads!r}")
        self.threads = threads
        self._layouts: OrderedDict[str, tuple[Layout, Frozen]] = OrderedDict()

    capabilities = Capabilities("cpu", modes=("run", "batch", "learn"),
                                numerics=("fixed", "float"),
                                noise_channels={m: ("membrane", "current", "drop")
                                                for m in ("run", "batch", "learn")},
                                kind_check=_kind_check)

    # ------------------------------------------------------------------ refusal
    def refuse_reason(self, plan: SimPlan, mode: str = "run") -> str | None:
        reason = super().refuse_reason(plan, mode)
        if reason:
            return reason
        for name, proj in plan.projections.items():
            for end in (proj.pre, proj.post):
                if end not in plan.populations:
                    return f"projection '{name}' refers to unknown population '{end}'"
            if plan.populations[proj.post].kind in SOURCE_KINDS:
                return (f"projection '{name}' targets {plan.populations[proj.post].kind} "
                        f"population '{proj.post}', which takes no input")
            d = np.asarray(proj.delays)
            if d.size and int(d.min()) < 0:
                return f"projection '{name}' has negative delays"
            if plan.fixed and d.size and int(d.max()) > MAX_FIXED_DELAY:
                return (f"projection '{name}' has delay {int(d.max())} > {MAX_FIXED_DELAY}, "
                        "the largest delay of Lava's bit-accurate DelayDense")
            if proj.format not in ("dense", "coo"):
                return f"projection '{name}' has weight format '{proj.format}' (dense or coo)"
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
        self.check(plan, "batch" if batch != 1 else "run")
        steps = self._check_int("steps", steps, 0)
        batch = self._check_int("batch", batch, 1)
        lay, fz = self._frozen(plan)
        src = source_spikes(plan, lay.sources, inputs, steps, batch)
        pops, projs = split_overrides(plan, overrides, batch)
        net = lay.net._replace(par=lay.neuron_params(pops, batch)) if pops else lay.net
        if projs:                       # chips' own weights: keep what any chip needs
            fz = frozen(lay, lay.batch_weights(projs, batch))
        state = lay.new_state(batch, np.zeros((1, 0), lay.dtype))
        noise = run_arrays.noise(lay, check_noise_chips(noise_chips, batch))
        rec, columns = _recorder(lay, plan, batch, steps)
        rcol = np.full(lay.n_src + lay.n, -1, np.int64)
        rcol[rec.idx] = np.arange(rec.idx.size)
        t1, c1 = time.perf_counter(), time.process_time()

        n_threads = max(1, min(batch, self.threads or _cpu_count()))
        blocks = _blocks(batch, n_threads)

        def one(block: tuple[int, int]) -> None:
            b0, nb = block
            if nb == 1:
                run_frozen(b0, steps, src, net, fz, state, noise, rec, rcol)
            else:
                run_block(b0, nb, steps, src, net, fz, state, noise, rec, rcol)
        if n_threads == 1:
            for block in blocks:
                one(block)
        else:
            with ThreadPoolExecutor(n_threads) as pool:
                list(pool.map(one, blocks))
        t2, c2 = time.perf_counter(), time.process_time()
        data = {key: (arr if (a == 0 and b == arr.shape[2]) else np.ascontiguousarray(arr[:, :, a:b]))
                for key, (arr, a, b) in ((k, (getattr(rec, field), a, b))
                                         for k, (field, a, b) in columns.items())}
        meta = {"backend": self.name, "engine": "numba", "numerics": plan.numerics,
                "steps": steps, "batch": batch, "network": plan.name,
                "setup_s": round(t1 - t0, 6), "sim_s": round(t2 - t1, 6),
                "sim_cpu_s": round(c2 - c1, 6),
                "wall_time_s": round(time.perf_counter() - t0, 6)}
        return SimResult(data=data, meta=meta)

    def _frozen(self, plan: SimPlan) -> tuple[Layout, Frozen]:
        """The plan's :class:`Layout` and frozen-run synapses, reused while the plan is the
        same by content: the last ``LAYOUTS`` builds are kept, so runs alternating between
        builds (compare, several chips' builds) skip building the synapse index."""
        key = _fingerprint(plan)
        if key in self._layouts:
            self._layouts.move_to_end(key)
            return self._layouts[key]
        lay = Layout(plan)
        self._layouts[key] = (lay, frozen(lay, lay.w0[None, :]))
        while len(self._layouts) > LAYOUTS:
            self._layouts.popitem(last=False)
        return self._layouts[key]

    def frozen_layout(self, plan: SimPlan) -> Frozen:
        """The frozen-run synapses a run of ``plan`` streams (benchmarks report their size)."""
        return self._frozen(plan)[1]

    @staticmethod
    def _check_int(name: str, value: Any, low: int) -> int:
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
            raise BackendError(f"{name} must be an integer >= {low}; got {value!r}")
        return int(value)


#: instances stepped together by the block loop (they share each spike's synapse reads)
BLOCK = 16
#: builds whose layouts a backend keeps (least recently used dropped first)
LAYOUTS = 8


def _blocks(batch: int, n_threads: int) -> list[tuple[int, int]]:
    """(first instance, count) of each block: at most BLOCK instances, and at least one
    block per thread."""
    size = max(1, min(BLOCK, -(-batch // n_threads)))
    return [(b0, min(size, batch - b0)) for b0 in range(0, batch, size)]


def _fingerprint(plan: SimPlan) -> str:
    """A digest of everything a Layout is built from (arrays by content)."""
    h = hashlib.blake2b(digest_size=16)
    h.update(repr((plan.numerics, plan.seed, sorted(plan.neuron_model.items()),
                   repr(plan.noise), repr(plan.plasticity))).encode())
    for name, pop in plan.populations.items():
        h.update(repr((name, pop.kind, pop.size, getattr(pop, "refractory", 0),
                       getattr(pop, "bias_exp", 0))).encode())
        for attr in ("du", "dv", "vth", "bias_mant"):
            if hasattr(pop, attr):
                h.update(np.ascontiguousarray(np.asarray(getattr(pop, attr))).tobytes())
    for name, proj in plan.projections.items():
        h.update(repr((name, proj.pre, proj.post, proj.format, proj.port, proj.shape,
                       proj.weight_exp, proj.num_weight_bits, proj.sign_mode)).encode())
        for arr in (proj.weights, proj.delays, proj.rows, proj.cols):
            if arr is not None:
                a = np.ascontiguousarray(np.asarray(arr))
                h.update(str(a.dtype).encode() + str(a.shape).encode())
                h.update(a.tobytes())
    return h.hexdigest()


def _recorder(lay: Layout, plan: SimPlan, batch: int, steps: int
              ) -> tuple[Any, dict[str, tuple[str, int, int]]]:
    """Recorders for the plan's monitors and where each monitor's columns are."""
    idx: dict[str, list[np.ndarray]] = {"spikes": [], "v": [], "u": []}
    columns: dict[str, tuple[str, int, int]] = {}
    for pop, var in dict.fromkeys(plan.monitors):
        size = plan.populations[pop].size
        base = lay.emitter0[pop] if var == "spikes" else lay.neuron0[pop]
        start = sum(len(x) for x in idx[var])
        idx[var].append(np.arange(base, base + size, dtype=np.int64))
        columns[f"{pop}.{var}"] = (var, start, start + size)
    cat = {k: (np.concatenate(v) if v else None) for k, v in idx.items()}
    rec = run_arrays.recorder(lay, batch, steps, spikes=cat["spikes"], v=cat["v"], u=cat["u"])
    return rec, columns


def _cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1
