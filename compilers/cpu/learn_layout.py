"""A build (fixed or float) laid out for :mod:`compilers.cpu.learn_loop`.

Emitters are numbered sources first (spike_source, poisson), then neurons (lif, graded) in
manifest order; neuron ``i`` is emitter ``n_src + i``. Synapses are kept per projection (a
contiguous slice of one weight array, CSR by presynaptic neuron), so a plastic
projection's weights are read and written as one block. Connectivity is explicit: every
synapse of the build exists, whatever its weight, and learning never adds or removes one.
"""
from __future__ import annotations

from collections import namedtuple
from dataclasses import dataclass

import numpy as np

from neurodeploy.errors import BackendError
from neurodeploy.learning.engine_rule import FACTORS, EngineRule

from ..plan import SimPlan
from . import fixed_learning

Net = namedtuple("Net", "fixed fx n_src kind du dv vth bias refr gate_win epoch p_pre0 p_npre p_post0 p_npost "
                        "p_port p_ind0 p_syn0 indptr post delay pre p_pind0 pptr pidx p_shift p_acc0 "
                        "p_ndelay")
Rules = namedtuple("Rules", "q_proj q_xoff q_yoff q_xdec q_ximp q_ydec q_yimp q_t0 t_coef "
                            "t_dep t_px1 t_px2 t_py1 t_py2 t_py3 t_pw q_wmin q_wmax gain active "
                            "q_epoch fx q_xsum")
State = namedtuple("State", "u v ring refr_end since xtr ytr w acc tfacc")
Recorder = namedtuple("Recorder", "idx spikes v_idx v counts count_lo count_hi window total synops")

DEP_CODE = {"u": 0, "x0": 1, "y0": 2}
SOURCE_KINDS = ("spike_source", "poisson")
NEURON_KINDS = {"lif": 0, "graded": 1}


@dataclass
class ProjectionSlice:
    """Where a projection lives in the flat arrays."""

    index: int
    syn0: int
    nnz: int
    rows: np.ndarray       # post index of each synapse (local), in stored order
    cols: np.ndarray       # pre index of each synapse (local)
    shape: tuple[int, int]
    order: np.ndarray      # stored synapse k is synapse order[k] of the build's array


class Layout:
    """Static arrays of a plan (``net``, ``rules``) and where everything is."""

    def __init__(self, plan: SimPlan, rules: dict[str, EngineRule] | None = None) -> None:
        if plan.fixed and rules:        # fixed point: Lava's bit-approximate engine
            from .fixed_learning import check_rules
            check_rules(plan, rules)
        if plan.noise:
            raise BackendError(f"temporal noise ({', '.join(plan.noise)}) is not simulated by the "
                               "cpu learning loop yet; remove the noise block or run frozen")
        from .. import mismatch_refusal
        reason = mismatch_refusal(plan)
        if reason:
            raise BackendError(reason)
        self.plan = plan
        self.dtype = np.int64 if plan.fixed else np.float64
        self.sources = [n for n, p in plan.populations.items() if p.kind in SOURCE_KINDS]
        self.neurons = [n for n, p in plan.populations.items() if p.kind in NEURON_KINDS]
        other = set(plan.populations) - set(self.sources) - set(self.neurons)
        if other:
            raise BackendError(f"populations {sorted(other)} have kinds the cpu learning loop "
                               "does not simulate")
        self.emitter0: dict[str, int] = {}
        off = 0
        for name in self.sources:
            self.emitter0[name] = off
            off += plan.populations[name].size
        self.n_src = off
        self.neuron0: dict[str, int] = {}
        for name in self.neurons:
            self.neuron0[name] = off - self.n_src
            self.emitter0[name] = off
            off += plan.populations[name].size
        self.n = off - self.n_src
        self.slices: dict[str, ProjectionSlice] = {}
        self.net, self.w0 = self._build_net()
        self.rule_names: list[str] = []
        self.rules = self._build_rules(rules or {})

    # ------------------------------------------------------------------ structure
    def _neuron_arrays(self) -> tuple:
        n = self.n
        kind = np.zeros(n, np.int8)
        du, dv, vth, bias = (np.zeros((1, n), self.dtype) for _ in range(4))
        refr = np.zeros(n, np.int64)
        gate = np.zeros(n, np.int64)
        gated = {}
        for block in self.plan.plasticity.values():
            for pop in block.get("gated", []):
                gated[pop] = int(block.get("gate_window", 0))
        for name in self.neurons:
            pop = self.plan.populations[name]
            sl = slice(self.neuron0[name], self.neuron0[name] + pop.size)
            kind[sl] = NEURON_KINDS[pop.kind]
            if pop.kind == "lif" and self.plan.fixed:
                from .kernels import effective_bias
                du[0, sl] = np.asarray(pop.du, np.int64)       # scalar or per neuron (a chip)
                dv[0, sl] = np.asarray(pop.dv, np.int64)
                vth[0, sl] = np.asarray(pop.vth, np.int64) << int(self.fx[4])
                bias[0, sl] = effective_bias(pop.bias_mant, pop.bias_exp)
            elif pop.kind == "lif":
                du[0, sl], dv[0, sl] = pop.du, pop.dv
                vth[0, sl], bias[0, sl] = pop.vth, pop.bias_mant
                refr[sl] = pop.refractory
            gate[sl] = gated.get(name, 0)
        return kind, du, dv, vth, bias, refr, gate

    def _build_net(self) -> tuple[Net, np.ndarray]:
        names = list(self.plan.projections)
        P = len(names)
        pre0, npre, post0, npost, port, ind0, syn0 = (np.zeros(P, np.int64) for _ in range(7))
        indptrs, posts, delays, weights, pres, pptrs, pidxs = [], [], [], [], [], [], []
        pind0, shift, acc0, ndelay = (np.zeros(P, np.int64) for _ in range(4))
        self.fx = self._fixed_constants()
        n_acc = 0
        nnz_total, ind_total, pind_total = 0, 0, 0
        for p, name in enumerate(names):
            proj = self.plan.projections[name]
            if proj.post not in self.neuron0:
                raise BackendError(f"projection '{name}' ends at '{proj.post}', which is not a "
                                   "lif or graded population")
            n_post, n_pre = proj.shape
            ndelay[p] = int(proj.max_delay) + 1
            if proj.format == "dense":
                rows, cols = np.divmod(np.arange(n_post * n_pre), n_pre)
                w = np.asarray(proj.weights).reshape(-1)
            else:
                rows, cols = np.asarray(proj.rows, np.int64), np.asarray(proj.cols, np.int64)
                w = np.asarray(proj.weights)
            w = w.astype(self.dtype)
            if self.plan.fixed and proj.weight_exp >= 0:
                w = w << proj.weight_exp
            elif self.plan.fixed:
                shift[p] = -proj.weight_exp
                acc0[p] = n_acc
                n_acc += ndelay[p] * n_post
            d = proj.dense_delays()[rows, cols] if np.ndim(proj.delays) else np.full(rows.size, int(proj.delays))
            order = np.argsort(cols, kind="stable")
            rows, cols, w, d = rows[order], cols[order], w[order], d[order]
            indptr = np.zeros(n_pre + 1, np.int64)
            np.cumsum(np.bincount(cols, minlength=n_pre), out=indptr[1:])
            pre0[p], npre[p] = self.emitter0[proj.pre], n_pre
            post0[p], npost[p] = self.neuron0[proj.post], n_post
            port[p] = 1 if proj.port == "third_factor" else 0
            ind0[p], syn0[p], pind0[p] = ind_total, nnz_total, pind_total
            by_post = np.argsort(rows, kind="stable")
            pptr = np.zeros(n_post + 1, np.int64)
            np.cumsum(np.bincount(rows, minlength=n_post), out=pptr[1:])
            pres.append(cols)
            pptrs.append(pptr)
            pidxs.append(by_post)
            pind_total += n_post + 1
            self.slices[name] = ProjectionSlice(p, nnz_total, rows.size, rows, cols, proj.shape,
                                                order)
            indptrs.append(indptr)
            posts.append(rows)
            delays.append(d.astype(np.int64))
            weights.append(w)
            nnz_total += rows.size
            ind_total += n_pre + 1
        cat = (lambda a, dt: np.concatenate(a).astype(dt) if a else np.zeros(0, dt))
        kind, du, dv, vth, bias, refr, gate = self._neuron_arrays()
        self.n_acc = n_acc
        net = Net(bool(self.plan.fixed), self.fx, np.int64(self.n_src), kind, du, dv, vth, bias, refr, gate,
                  np.ones(self.n, np.int64), pre0, npre, post0,
                  npost, port, ind0, syn0, cat(indptrs, np.int64), cat(posts, np.int64),
                  cat(delays, np.int64), cat(pres, np.int64), pind0, cat(pptrs, np.int64),
                  cat(pidxs, np.int64), shift, acc0, ndelay)
        self.depth = int(net.delay.max()) + 1 if net.delay.size else 1
        return net, cat(weights, self.dtype)

    def _fixed_constants(self) -> np.ndarray:
        """[decay bits, activation shift, du offset, dv offset, threshold shift] from the
        build's ``neuron_model`` (fixed builds), so no width is a literal in the loop."""
        if not self.plan.fixed:
            return np.zeros(5, np.int64)
        nm = self.plan.neuron_model
        if nm.get("state_bits", 24) != 24:
            raise BackendError(f"neuron_model.state_bits {nm['state_bits']}: the cpu backend "
                               "simulates 24-bit u/v only")
        return np.array([nm["decay_bits"], nm["activation_shift"], nm["du_offset"],
                         nm["dv_offset"], nm["threshold_shift"]], np.int64)

    def _build_rules(self, rules: dict[str, EngineRule]) -> Rules:
        Q = len(rules)
        q_proj, q_xoff, q_yoff = (np.zeros(Q, np.int64) for _ in range(3))
        q_xdec, q_ximp = np.ones((Q, 2)), np.zeros((Q, 2))
        q_xsum = np.zeros((Q, 2), np.uint8)
        q_ydec, q_yimp = np.ones(Q), np.zeros(Q)
        q_t0 = np.zeros(Q + 1, np.int64)
        coef, dep, pw = [], [], []
        wmin, wmax = np.full(Q, -np.inf), np.full(Q, np.inf)
        q_epoch = np.ones(Q, np.int64)
        epoch_of = np.zeros(self.n, np.int64)
        xo = yo = 0
        for q, (name, rule) in enumerate(rules.items()):
            if name not in self.slices:
                raise BackendError(f"plastic projection '{name}' is not in the build")
            if rule.t_epoch < 1:
                raise BackendError(f"projection '{name}': learning epoch {rule.t_epoch} < 1")
            if rule.t_epoch > 1 and any(t.dependency != "u" for t in rule.terms):
                raise BackendError(f"projection '{name}': x0/y0-dependent terms need a learning "
                                   f"epoch of 1 step on the cpu backend (got {rule.t_epoch})")
            p = self.slices[name].index
            q_epoch[q] = rule.t_epoch
            post0, npost = int(self.net.p_post0[p]), int(self.net.p_npost[p])
            have = set(epoch_of[post0:post0 + npost].tolist()) - {0}
            if have and have != {rule.t_epoch}:
                raise BackendError(f"projection '{name}' learns every {rule.t_epoch} steps but "
                                   f"its post neurons already learn every {have.pop()} steps")
            epoch_of[post0:post0 + npost] = rule.t_epoch
            self.rule_names.append(name)
            q_proj[q], q_xoff[q], q_yoff[q] = p, xo, yo
            xo += int(self.net.p_npre[p])
            yo += int(self.net.p_npost[p])
            for c, tr in enumerate((rule.x1, rule.x2)):
                q_xdec[q, c], q_ximp[q, c] = tr.decay, tr.impulse
                q_xsum[q, c] = tr.epoch_sum
            q_ydec[q], q_yimp[q] = rule.y1.decay, rule.y1.impulse
            for term in rule.terms:
                coef.append(term.coef)
                dep.append(DEP_CODE[term.dependency])
                pw.append(term.powers())
            q_t0[q + 1] = len(coef)
            wmin[q], wmax[q] = rule.w_min, rule.w_max
        self.nx, self.ny = xo, yo
        self.net = self.net._replace(epoch=np.maximum(epoch_of, 1))
        powers = np.asarray(pw, np.int64).reshape(-1, len(FACTORS))
        return Rules(q_proj, q_xoff, q_yoff, q_xdec, q_ximp, q_ydec, q_yimp, q_t0,
                     np.asarray(coef, np.float64), np.asarray(dep, np.int64),
                     *(np.ascontiguousarray(powers[:, c]) for c in range(len(FACTORS))),
                     wmin, wmax, np.ones((1, self.w0.size)), np.ones(Q, np.uint8), q_epoch,
                     fixed_learning.tables_for(self.plan, self.rule_names, 0), q_xsum)

    def reserve_steps(self, steps: int) -> None:
        """Fixed-point learning draws Lava's random numbers from tables indexed by the step
        of a run (:mod:`compilers.cpu.fixed_learning`): make them cover ``steps`` steps."""
        if self.plan.fixed and self.rule_names and self.rules.fx.rnd.shape[2] <= steps:
            self.rules = self.rules._replace(
                fx=fixed_learning.tables_for(self.plan, self.rule_names, steps))

    # ------------------------------------------------------------------ helpers
    def new_state(self, batch: int, weights: np.ndarray | None = None) -> State:
        """Fresh state for ``batch`` instances; ``weights`` [Bw, nnz] (default: the build's)."""
        dt = self.dtype
        w = np.array(self.w0[None, :] if weights is None else weights, dt, copy=True)
        return State(np.zeros((batch, self.n), dt), np.zeros((batch, self.n), dt),
                     np.zeros((batch, self.depth, 2, self.n), dt), np.zeros((batch, self.n), np.int64),
                     np.full((batch, self.n), 1 << 30, np.int64), np.zeros((batch, 2, self.nx)),
                     np.zeros((batch, self.ny)), w, np.zeros((batch, self.n_acc), dt),
                     np.zeros((batch, self.n), dt))

    def dense(self, w: np.ndarray, name: str) -> np.ndarray:
        """Weights of projection ``name`` from a flat weight row, as a [post, pre] matrix."""
        sl = self.slices[name]
        out = np.zeros(sl.shape, w.dtype)
        out[sl.rows, sl.cols] = w[sl.syn0:sl.syn0 + sl.nnz]
        return out

    def synapse_values(self, w: np.ndarray, name: str) -> np.ndarray:
        """Weights of projection ``name`` in the build's own synapse order (dense: row-major
        [post, pre]; coo: the build's rows/cols order)."""
        sl = self.slices[name]
        proj = self.plan.projections[name]
        if proj.format == "dense":
            return self.dense(w, name)
        out = np.empty(sl.nnz, w.dtype)
        out[sl.order] = w[sl.syn0:sl.syn0 + sl.nnz]
        return out

    def source_block(self, inputs: dict[str, np.ndarray], steps: int, batch: int = 1) -> np.ndarray:
        """src [Bi, steps, n_src] uint8 from per-source arrays [steps, size] or [B, steps, size]."""
        arrs = []
        for name in self.sources:
            a = np.asarray(inputs[name])
            arrs.append(a if a.ndim == 3 else a[None])
        if not arrs:
            return np.zeros((1, steps, 0), np.uint8)
        b = max(a.shape[0] for a in arrs)
        return np.ascontiguousarray(np.concatenate(
            [np.broadcast_to(a, (b,) + a.shape[1:]) for a in arrs], axis=2).astype(np.uint8))
