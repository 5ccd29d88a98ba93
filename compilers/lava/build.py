"""Lava processes of a plan (:class:`Net`) for the lava backend, and the process to run on.

Mapping (see :mod:`neurodeploy.compilers.plan` for the timing contract, which is Lava's):

* LIF population -> :class:`~.processes.NdLIF` (Lava's LIF models, per-neuron ``vth``);
  with ``readout="monitor"`` and a uniform threshold, Lava's own ``LIF`` process.
* stochastic population (float) -> :class:`~.stochastic.NdStochastic` (the float LIF with
  the escape activation; its uniforms precomputed at the cpu loop's coordinates).
* spike_source / Poisson population -> ``RingBuffer`` with the input ``[size, steps]``
  (column ``t`` is sent at step ``t``); Poisson spikes are pre-drawn by ``make_inputs``.
* dense projection, no delay -> ``Dense``; coo projection, no delay -> ``Sparse`` (csr);
  any delay > 0 (scalar or per synapse) -> ``DelayDense`` on the densified matrix.
  Fixed builds pass ``weight_exp``, ``num_weight_bits`` and ``sign_mode``.
"""
from __future__ import annotations

import os
import typing as ty

import numpy as np

from neurodeploy.errors import BackendError
from neurodeploy.neurons import has_membrane, lif, stochastic

from ..plan import PopulationPlan, ProjectionPlan, SimPlan
from .records import LAVA_VAR, Net, prealloc


def components(plan: SimPlan, used: set[str]) -> list[set[str]]:
    """Connected components of the populations in ``used`` (via projections)."""
    parent = {n: n for n in used}

    def find(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for proj in plan.projections.values():
        if proj.pre in parent and proj.post in parent:
            parent[find(proj.pre)] = find(proj.post)
    comps: dict[str, set[str]] = {}
    for n in used:
        comps.setdefault(find(n), set()).add(n)
    return [comps[k] for k in sorted(comps)]


def build(L: dict, idx: int, plan: SimPlan, inputs: dict[str, np.ndarray], steps: int,
          tmp: str, readout: str, noise_chip: int) -> Net:
    """The processes of network ``idx`` of a run, wired; recorder files go to ``tmp``."""
    net = Net(plan=plan, inputs=check_inputs(plan, inputs, steps))
    used = {n for n, p in plan.populations.items() if has_membrane(p.kind)}
    for proj in plan.projections.values():
        used |= {proj.pre, proj.post}
    if readout == "monitor":
        used |= {pop for pop, _ in plan.monitors}
    mon_vars: dict[str, list[str]] = {}
    for pop, var in plan.monitors:
        mon_vars.setdefault(pop, []).append(var)
    from ..noise import delivered, noise_arrays, stochastic_uniforms
    noise = noise_arrays(plan, steps, noise_chip)     # docs/noise.md
    draws = stochastic_uniforms(plan, steps, noise_chip)   # the cpu loop's
    for name in sorted(used):
        pop = plan.populations[name]
        if has_membrane(pop.kind):
            record = {}
            if readout == "recorder":
                for var in mon_vars.get(name, []):
                    path = os.path.join(tmp, f"{idx}-{len(net.records)}-{var}.bin")
                    record[var] = path
                    net.records[(name, var)] = path
                    prealloc(path, pop.size, var, steps, plan.fixed)
            net.procs[name] = membrane(L, pop, plan.fixed, readout, record, steps,
                                       noise.membrane.get(name), noise.drop.get(name),
                                       noise.current.get(name), draws.get(name))
        else:
            # dropped source spikes are not sent; the record keeps the given input
            data = delivered(np.asarray(net.inputs[name][:steps]), noise.drop.get(name))
            data = data.T.astype(np.int32 if plan.fixed else np.float64)
            net.procs[name] = L["RingBuffer"](data=np.ascontiguousarray(data))
    for proj in plan.projections.values():
        conn = connection(L, proj, plan.fixed)
        net.procs[proj.pre].s_out.connect(conn.s_in)
        conn.a_out.connect(net.procs[proj.post].a_in)
        net.conns.append(conn)
    if readout == "monitor":
        for pop, var in plan.monitors:
            m = L["Monitor"]()
            m.probe(getattr(net.procs[pop], LAVA_VAR[var]), steps)
            net.monitors[(pop, var)] = m
    net.components = components(plan, used)
    return net


def check_inputs(plan: SimPlan, inputs: dict[str, np.ndarray], steps: int
                 ) -> dict[str, np.ndarray]:
    """The input spikes of every source of ``plan``; raise when one is missing or misshapen."""
    out = {}
    for name in plan.sources():
        pop = plan.populations[name]
        if name not in inputs:
            raise BackendError(f"no input spikes for source population '{name}' "
                               "(use make_inputs(plan, steps, given))")
        arr = np.asarray(inputs[name])
        if arr.ndim != 2 or arr.shape[1] != pop.size or arr.shape[0] < steps:
            raise BackendError(f"input '{name}' has shape {arr.shape}; expected "
                               f"[>= {steps}, {pop.size}]")
        out[name] = arr
    return out


def membrane(L: dict, pop: PopulationPlan, fixed: bool, readout: str, record: dict[str, str],
             steps: int, noise: np.ndarray | None = None, drop: np.ndarray | None = None,
             current: np.ndarray | None = None, uniforms: np.ndarray | None = None) -> ty.Any:
    """The Lava process of a LIF or (``uniforms`` given) stochastic population."""
    n = pop.size
    if uniforms is not None:
        from . import stochastic as S
        kw = stochastic.lava_kwargs(pop)
        if noise is not None or drop is not None or current is not None:
            kw.update(noise=noise, drop=drop, current=current)
        cls = S.NdStochasticRefractory if pop.refractory > 0 else S.NdStochastic
        return cls(shape=(n,), record=record, steps=steps, uniforms=uniforms, **kw)
    # du/dv may be per neuron (a mismatched chip, neurodeploy.variability): NdLIF takes
    # them as arrays; Lava's own LIF only as scalars
    kw = lif.lava_kwargs(pop, fixed)
    vth = kw.pop("vth")
    du, dv = kw["du"], kw["dv"]
    uniform_decay = bool(np.all(du == du[0]) and np.all(dv == dv[0]))
    P = L["processes"]
    if noise is not None or drop is not None or current is not None:
        kw.update(noise=noise, drop=drop, current=current)
    elif readout == "monitor" and np.all(vth == vth[0]) and uniform_decay:
        kw.update(du=du[0].item(), dv=dv[0].item())
        # Lava's own LIF / LIFRefractory process and models, untouched
        cls = L["LIFRefractory"] if pop.refractory > 0 else L["LIF"]
        return cls(shape=(n,), vth=vth[0].item(), **kw)
    cls = P.NdLIFRefractory if pop.refractory > 0 else P.NdLIF
    return cls(shape=(n,), vth=vth, record=record, steps=steps, **kw)


def connection(L: dict, proj: ProjectionPlan, fixed: bool) -> ty.Any:
    """The Lava process of a projection: ``Dense``, ``Sparse`` or (any delay) ``DelayDense``."""
    kw: dict[str, ty.Any] = {}
    if fixed:
        kw = dict(weight_exp=int(proj.weight_exp), num_weight_bits=int(proj.num_weight_bits),
                  sign_mode=L["SignMode"][proj.sign_mode.upper()])
    wdtype = np.int32 if fixed else np.float64
    delayed = np.any(np.asarray(proj.delays) != 0)
    if delayed:
        # Lava checks ``delays.dtype == int`` (int64), or a Python int
        delays = (int(proj.delays) if np.ndim(proj.delays) == 0
                  else proj.dense_delays().astype(int))
        return L["DelayDense"](weights=proj.dense_weights().astype(wdtype),
                               delays=delays, **kw)
    if proj.format == "coo":
        from scipy.sparse import csr_matrix
        w = csr_matrix((np.asarray(proj.weights, dtype=wdtype),
                        (np.asarray(proj.rows), np.asarray(proj.cols))), shape=proj.shape)
        return L["Sparse"](weights=w, **kw)
    return L["Dense"](weights=np.asarray(proj.weights, dtype=wdtype), **kw)


def tie(L: dict, nets: list[Net]) -> tuple[ty.Any, int]:
    """The process to run on: a Tie joining all components, or the only component; and the
    number of Lava processes in the run."""
    taps = []
    n_procs = 0
    for net in nets:
        n_procs += len(net.procs) + len(net.conns) + len(net.monitors)
        for comp in net.components:
            name = sorted(comp)[0]
            taps.append(net.procs[name].s_out)
    if not taps:
        raise BackendError("nothing to simulate: the network has no LIF population "
                           "and no projection")
    if len(taps) == 1:
        return taps[0].process, n_procs
    tie_proc = L["processes"].make_tie([t.shape for t in taps])
    for i, port in enumerate(taps):
        port.connect(getattr(tie_proc, f"in_{i}"))
    return tie_proc, n_procs + 1
