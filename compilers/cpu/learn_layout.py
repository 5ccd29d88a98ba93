"""A build (fixed or float) laid out for :mod:`compilers.cpu.step_loop`.

Emitters are numbered sources first (spike_source, poisson), then neurons (lif, graded,
stochastic) in manifest order; neuron ``i`` is emitter ``n_src + i``. Synapses are kept per
projection (a contiguous slice of one weight array, CSR by presynaptic neuron), so a
plastic projection's weights are read and written as one block. Connectivity is explicit: every
synapse of the build exists, whatever its weight, and learning never adds or removes one.
"""
from __future__ import annotations

from collections import namedtuple
from dataclasses import dataclass

import numpy as np

from neurodeploy.errors import BackendError
from neurodeploy.learning.engine_rule import FACTORS, EngineRule
from neurodeploy.neurons import KINDS, N_SLOTS, SOURCE_KINDS, FixedConstants

from ..plan import SimPlan
from . import fixed_learning
from .device_update import no_device

Net = namedtuple("Net", "fixed fx n_src par ipar g_code g_lo g_hi g_draw third gate_win epoch "
                        "p_pre0 p_npre p_post0 p_npost p_port p_ind0 p_syn0 indptr post delay pre "
                        "p_pind0 pptr pidx p_shift p_acc0 p_ndelay couple")
Rules = namedtuple("Rules", "q_proj q_xoff q_yoff q_xdec q_ximp q_ydec q_yimp q_t0 t_coef "
                            "t_dep t_px1 t_px2 t_py1 t_py2 t_py3 t_pw q_wmin q_wmax gain active "
                            "q_epoch fx q_xsum upd dev")
#: imperfect weight updates of float rules (:mod:`compilers.cpu.learn_rules`): per instance
#: (``[Bu]``) the noise std in LSBs, stochastic rounding on/off, the seed and chip of the
#: draws; per rule the LSB and the projection's id; per synapse its index in the build
Updates = namedtuple("Updates", "sigma rounding seed chip lsb pid sid")
State = namedtuple("State", "u v ring aux since xtr ytr w acc tfacc nupd")

DEP_CODE = {"u": 0, "x0": 1, "y0": 2}


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
        from .. import mismatch_refusal
        reason = mismatch_refusal(plan)
        if reason:
            raise BackendError(reason)
        self.plan = plan
        self.dtype = np.int64 if plan.fixed else np.float64
        self.sources = [n for n, p in plan.populations.items() if p.kind in SOURCE_KINDS]
        self.neurons = [n for n, p in plan.populations.items() if p.kind in KINDS]
        other = set(plan.populations) - set(self.sources) - set(self.neurons)
        if other:
            raise BackendError(f"populations {sorted(other)} have kinds the cpu learning loop "
                               "does not simulate")
        self.fc = FixedConstants.from_neuron_model(plan.neuron_model) if plan.fixed else None
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
    def neuron_params(self, overrides: dict[str, dict[str, np.ndarray]] | None = None,
                      batch: int = 1) -> np.ndarray:
        """Parameter slots [B, N_SLOTS, n] of every neuron through its kind's ``cpu_params``;
        ``overrides`` {pop: {"du" | "dv" | "vth" | "bias_mant": [B, N] or [B]}} (chips)."""
        overrides = overrides or {}
        par = np.zeros((batch if overrides else 1, N_SLOTS, self.n), self.dtype)
        for name in self.neurons:
            pop = self.plan.populations[name]
            lo = self.neuron0[name]
            over = {k: (np.asarray(v)[:, None] if np.ndim(v) == 1 else np.asarray(v))
                    for k, v in overrides.get(name, {}).items()}
            slots = KINDS[pop.kind].cpu_params(pop, self.plan.fixed, self.fc, over)
            for c in range(N_SLOTS):
                par[:, c, lo:lo + pop.size] = slots.get(f"p{c}", 0)
        return par

    def _neuron_arrays(self) -> tuple:
        """(integer slot, (group codes, starts, ends, draws), gate windows) per neuron: a group
        is a run of neurons of one kind, stepped by one branch of the loop; ``draws`` tells
        the loop to draw the kind's uniform."""
        ipar = np.zeros(self.n, np.int64)
        gate = np.zeros(self.n, np.int64)
        codes, los, his, draws = [], [], [], []
        gated = {}
        for block in self.plan.plasticity.values():
            for pop in block.get("gated", []):
                gated[pop] = int(block.get("gate_window", 0))
        for name in self.neurons:
            pop = self.plan.populations[name]
            kind = KINDS[pop.kind]
            lo, hi = self.neuron0[name], self.neuron0[name] + pop.size
            ipar[lo:hi] = kind.cpu_params(pop, self.plan.fixed, self.fc)["pi"]
            gate[lo:hi] = gated.get(name, 0)
            if codes and codes[-1] == kind.code and his[-1] == lo:
                his[-1] = hi
            else:
                codes.append(kind.code)
                los.append(lo)
                his.append(hi)
                draws.append(kind.draws)
        groups = (np.asarray(codes, np.int64), np.asarray(los, np.int64), np.asarray(his, np.int64),
                  np.asarray(draws, np.bool_))
        return ipar, groups, gate

    def _build_net(self) -> tuple[Net, np.ndarray]:
        names = list(self.plan.projections)
        P = len(names)
        pre0, npre, post0, npost, port, ind0, syn0 = (np.zeros(P, np.int64) for _ in range(7))
        indptrs, posts, delays, weights, pres, pptrs, pidxs = [], [], [], [], [], [], []
        pind0, shift, acc0, ndelay = (np.zeros(P, np.int64) for _ in range(4))
        self.fx = self.fc.cpu_tuple() if self.plan.fixed else np.zeros(6, np.int64)
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
            if self.plan.fixed:             # Lava's clip and truncation (identity on a build)
                from .kernels import prepare_fixed_weights
                w = prepare_fixed_weights(w, proj.sign_mode, proj.num_weight_bits)
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
        # per-synapse indices as small as they fit: the scatter streams them at every spike
        cat = (lambda a, dt: np.concatenate(a).astype(dt) if a else np.zeros(0, dt))
        post_dt = np.uint16 if int(npost.max(initial=0)) <= 0xFFFF else np.int32
        ipar, groups, gate = self._neuron_arrays()
        self.n_acc = n_acc
        third = bool(np.any(port == 1) or self.plan.plasticity)
        net = Net(bool(self.plan.fixed), self.fx, np.int64(self.n_src), self.neuron_params(),
                  ipar, *groups, third, gate, np.ones(self.n, np.int64), pre0, npre, post0,
                  npost, port, ind0, syn0, cat(indptrs, np.int64), cat(posts, post_dt),
                  cat(delays, np.int32), cat(pres, np.int32), pind0, cat(pptrs, np.int64),
                  cat(pidxs, np.int64), shift, acc0, ndelay, np.zeros(self.n, self.dtype))
        self.depth = int(net.delay.max()) + 1 if net.delay.size else 1
        return net, cat(weights, self.dtype)

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
            # the post neurons sum their third factor over one epoch; a rule that reads no
            # third factor (weight mirror's B, its drive homeostat) keeps its own epoch
            reads_third = rule.third_factor or any("y2" in t.factors or "y3" in t.factors
                                                   for t in rule.terms)
            have = set(epoch_of[post0:post0 + npost].tolist()) - {0}
            if reads_third and have and have != {rule.t_epoch}:
                raise BackendError(f"projection '{name}' learns every {rule.t_epoch} steps but "
                                   f"its post neurons already learn every {have.pop()} steps")
            if reads_third:
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
                     fixed_learning.tables_for(self.plan, self.rule_names, 0), q_xsum,
                     self.updates(), no_device(Q, self.w0.size))

    def reserve_steps(self, steps: int) -> None:
        """Fixed-point learning draws Lava's random numbers from tables indexed by the step
        of a run (:mod:`compilers.cpu.fixed_learning`): make them cover ``steps`` steps."""
        if self.plan.fixed and self.rule_names and self.rules.fx.rnd.shape[2] <= steps:
            self.rules = self.rules._replace(
                fx=fixed_learning.tables_for(self.plan, self.rule_names, steps))

    def updates(self, sigma: np.ndarray | float = 0.0, rounding: np.ndarray | bool = False,
                seed: np.ndarray | int = 0, chip: np.ndarray | int = 0,
                lsb: np.ndarray | None = None) -> Updates:
        """Imperfect weight updates of the float rules: per instance (or one for all) the
        noise std in LSBs, stochastic rounding, the seed and chip of the draws; ``lsb``
        [rules] the weight step each rule's projection updates in (needed when either is on)."""
        from neurodeploy.variability.counter_rng import population_id
        one = (lambda x, dt: np.atleast_1d(np.asarray(x, dt)))
        sigma, rounding = one(sigma, np.float64), one(rounding, np.uint8)
        seed, chip = one(seed, np.int64), one(chip, np.int64)
        Q = len(self.rule_names)
        lsb = np.zeros(Q) if lsb is None else np.asarray(lsb, np.float64).reshape(Q)
        if (sigma.any() or rounding.any()) and self.plan.fixed:
            raise BackendError("update noise and stochastic rounding of weight updates are "
                               "float-learner settings; fixed-point learning rounds as Lava does")
        if (sigma.any() or rounding.any()) and not np.all(lsb > 0):
            raise BackendError("update noise and stochastic rounding need a weight step > 0 "
                               "for every plastic projection")
        sizes = {a.shape[0] for a in (sigma, rounding, seed, chip)} - {1}
        if len(sizes) > 1:
            raise BackendError("update settings have different numbers of instances")
        n = sizes.pop() if sizes else 1
        sigma, rounding, seed, chip = (np.ascontiguousarray(np.broadcast_to(a, (n,)))
                                       for a in (sigma, rounding, seed, chip))
        sid = np.zeros(self.w0.size, np.int64)
        for sl in self.slices.values():
            sid[sl.syn0:sl.syn0 + sl.nnz] = sl.order
        pid = np.array([population_id(n) for n in self.rule_names], np.int64)
        return Updates(sigma, rounding, seed, chip, lsb, pid, sid)

    # ------------------------------------------------------------------ helpers
    def new_state(self, batch: int, weights: np.ndarray | None = None,
                  updates: np.ndarray | None = None) -> State:
        """Fresh state for ``batch`` instances; ``weights`` [Bw, nnz] (default: the build's);
        ``updates`` [batch, rules]: how many updates each rule made on each instance (the
        index of update-noise draws; carried like the weights, default 0)."""
        dt = self.dtype
        w = np.array(self.w0[None, :] if weights is None else weights, dt, copy=True)
        nupd = (np.zeros((batch, len(self.rule_names)), np.int64) if updates is None
                else np.array(updates, np.int64, copy=True))
        return State(np.zeros((batch, self.n), dt), np.zeros((batch, self.n), dt),
                     np.zeros((batch, self.depth, 2, self.n), dt), np.zeros((batch, self.n), np.int64),
                     np.full((batch, self.n), 1 << 30, np.int64), np.zeros((batch, 2, self.nx)),
                     np.zeros((batch, self.ny)), w, np.zeros((batch, self.n_acc), dt),
                     np.zeros((batch, self.n), dt), nupd)

    def batch_weights(self, projs: dict[str, np.ndarray], batch: int) -> np.ndarray:
        """Flat weights [batch, nnz]: the build's, with ``projs`` {name: [batch, *weights
        shape]} in the build's own units (fixed: mantissas, prepared as Lava does with the
        plan's sign mode and bits, then shifted by a non-negative weight_exp)."""
        w = np.repeat(self.w0[None, :], batch, axis=0)
        for name, arr in projs.items():
            proj, sl = self.plan.projections[name], self.slices[name]
            if self.plan.fixed:
                from .kernels import prepare_fixed_weights
                vals = prepare_fixed_weights(arr, proj.sign_mode, proj.num_weight_bits)
                vals = np.asarray(vals, np.int64).reshape(batch, -1)
                if proj.weight_exp >= 0:
                    vals = vals << proj.weight_exp
            else:
                vals = np.asarray(arr, np.float64).reshape(batch, -1)
            w[:, sl.syn0:sl.syn0 + sl.nnz] = vals[:, sl.order]
        return w

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
