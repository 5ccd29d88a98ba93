"""A network with every synapse realised: what export reads and what round trips compare.

Both a validated IR network (weights drawn from its seed or read from files) and a build
directory (dequantized when fixed point) become a :class:`FlatNet`; two flat networks are
the same network when :func:`differences` finds nothing.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

CORE_KEYS = ("neurodeploy", "name", "seed", "dt", "populations", "projections", "monitors", "run")


@dataclass
class FlatPop:
    """One population; lif parameters as per-neuron arrays, time constants per population."""

    kind: str
    size: int
    tau_syn: float = 0.0
    tau_mem: float = 0.0
    v_th: np.ndarray | None = None
    bias: np.ndarray | None = None
    refractory: int = 0
    rate: np.ndarray | None = None


@dataclass
class FlatProj:
    """One projection: weights and integer delays as ``[post, pre]`` matrices."""

    pre: str
    post: str
    weights: np.ndarray
    delays: np.ndarray
    exists: np.ndarray
    port: str = "current"


@dataclass
class FlatNet:
    """A whole network in float units, ready to be written as NIR or compared."""

    name: str
    dt: float
    seed: int
    steps: int
    pops: dict[str, FlatPop]
    projs: dict[str, FlatProj]
    monitors: list[tuple[str, str]]
    extras: dict[str, Any] = field(default_factory=dict)
    source: str = ""


def from_network(net: Any) -> FlatNet:
    """Realise a validated IR :class:`~neurodeploy.ir.models.Network`."""
    from ..compiling.connectivity import build_synapses
    from ..ir.load import weight_arrays

    pops: dict[str, FlatPop] = {}
    for name, pop in net.populations.items():
        if pop.kind == "lif":
            p = pop.params
            full = lambda x: np.broadcast_to(np.asarray(x, dtype=np.float64), (pop.size,)).copy()  # noqa: E731
            pops[name] = FlatPop("lif", pop.size, p.tau_syn, p.tau_mem, full(p.v_th), full(p.bias),
                                 p.refractory)
        elif pop.kind == "poisson":
            pops[name] = FlatPop("poisson", pop.size,
                                 rate=np.broadcast_to(np.asarray(pop.rate, float), (pop.size,)).copy())
        else:
            pops[name] = FlatPop(pop.kind, pop.size)
    projs = {}
    files = weight_arrays(net)
    for name in net.projections:
        syn = build_synapses(net, name, files)
        w = np.zeros(syn.shape)
        d = np.zeros(syn.shape, dtype=np.int64)
        e = np.zeros(syn.shape, dtype=bool)
        if syn.format == "dense":
            w[...], e[...] = syn.weights, True
            d[...] = syn.delays
        else:
            w[syn.rows, syn.cols] = syn.weights
            d[syn.rows, syn.cols] = syn.delays
            e[syn.rows, syn.cols] = True
        projs[name] = FlatProj(syn.pre, syn.post, w, d, e)
    dumped = net.model_dump(mode="json", exclude_defaults=True)
    extras = {k: v for k, v in dumped.items() if k not in CORE_KEYS}
    return FlatNet(net.name, net.dt, net.seed, net.run.steps, pops, projs,
                   [(m.population, m.var) for m in net.monitors], extras, net._file)


def from_build(path: str | Path) -> FlatNet:
    """Realise a build directory; fixed-point numbers are dequantized to float units."""
    from ..compiling.artifact import Build
    from ..compilers.plan import load_plan

    build = Build(path)
    plan = load_plan(build)
    m = build.manifest
    nm = m.get("neuron_model", {})
    fixed = plan.fixed
    unity = 2.0 ** nm.get("decay_bits", 12)
    act = 2.0 ** nm.get("activation_shift", 6)
    pops: dict[str, FlatPop] = {}
    for name, p in plan.populations.items():
        if p.kind == "lif":
            if fixed:
                du, dv = (p.du + nm.get("du_offset", 1)) / unity, (p.dv + nm.get("dv_offset", 0)) / unity
                v_th = p.vth.astype(np.float64) / p.scale
                bias = p.bias_mant.astype(np.float64) * 2.0 ** p.bias_exp / (p.scale * act)
            else:
                du, dv, v_th, bias = float(p.du), float(p.dv), p.vth.astype(float), p.bias_mant.astype(float)
            tau_syn = plan.dt / du if du > 0 else float("inf")
            tau_mem = plan.dt / dv if dv > 0 else plan.dt * 2.0 ** 60
            pops[name] = FlatPop("lif", p.size, tau_syn, tau_mem, v_th, bias, p.refractory)
        elif p.kind == "poisson":
            rate = m["populations"][name].get("rate_hz")
            rate = build.value(rate) if rate is not None else p.p_spike * 1000.0 / plan.dt
            pops[name] = FlatPop("poisson", p.size, rate=np.broadcast_to(np.asarray(rate, float), (p.size,)).copy())
        else:
            pops[name] = FlatPop(p.kind, p.size)
    projs = {}
    for name, pr in plan.projections.items():
        w = pr.dense_weights().astype(np.float64)
        if fixed:
            w = w * 2.0 ** pr.weight_exp / plan.populations[pr.post].scale
        exists = np.zeros(pr.shape, dtype=bool)
        if pr.format == "dense":
            exists[...] = True
        else:
            exists[pr.rows, pr.cols] = True
        projs[name] = FlatProj(pr.pre, pr.post, w, pr.dense_delays(), exists, pr.port)
    extras = {k: m[k] for k in ("plasticity", "noise") if m.get(k)}
    extras["build"] = {"profile": m["profile"]["name"], "numerics": m["numerics"],
                       "dequantized": fixed}
    return FlatNet(plan.name, plan.dt, plan.seed, plan.steps, pops, projs, list(plan.monitors),
                   extras, str(build.path))


def synapse_sets(net: FlatNet) -> dict[tuple[str, str, int], np.ndarray]:
    """Summed weight matrix per (pre, post, delay): projections split or merged compare equal."""
    out: dict[tuple[str, str, int], np.ndarray] = {}
    for pr in net.projs.values():
        for d in np.unique(pr.delays[pr.exists]) if pr.exists.any() else []:
            mask = pr.exists & (pr.delays == d)
            key = (pr.pre, pr.post, int(d))
            out[key] = out.get(key, 0) + np.where(mask, pr.weights, 0.0)
    return {k: v for k, v in out.items() if np.any(v != 0)}


def _close(a: Any, b: Any, rtol: float) -> bool:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        return False
    scale = float(np.max(np.abs(a))) if a.size else 0.0
    return bool(np.allclose(a, b, rtol=rtol, atol=rtol * scale))


def differences(a: FlatNet, b: FlatNet, rtol: float = 1e-12) -> list[str]:
    """What differs between two flat networks (empty when they are the same network)."""
    out: list[str] = []
    if a.dt != b.dt:
        out.append(f"dt {a.dt} != {b.dt}")
    if set(a.pops) != set(b.pops):
        out.append(f"populations {sorted(a.pops)} != {sorted(b.pops)}")
        return out
    for name, p in a.pops.items():
        q = b.pops[name]
        if (p.kind, p.size, p.refractory) != (q.kind, q.size, q.refractory):
            out.append(f"population {name}: {p.kind}/{p.size}/{p.refractory} != "
                       f"{q.kind}/{q.size}/{q.refractory}")
            continue
        if p.kind == "lif":
            same_leak = (1 - a.dt / p.tau_mem == 1.0) and (1 - b.dt / q.tau_mem == 1.0)
            for field_name in ("tau_syn", "tau_mem", "v_th", "bias"):
                if field_name == "tau_mem" and same_leak:
                    continue
                if not _close(getattr(p, field_name), getattr(q, field_name), rtol):
                    out.append(f"population {name}: {field_name} differs")
        if p.kind == "poisson" and not _close(p.rate, q.rate, rtol):
            out.append(f"population {name}: rate differs")
    sa, sb = synapse_sets(a), synapse_sets(b)
    if set(sa) != set(sb):
        out.append(f"synapse groups (pre, post, delay) {sorted(sa)} != {sorted(sb)}")
    for key in set(sa) & set(sb):
        if not _close(sa[key], sb[key], rtol):
            out.append(f"weights {key[0]} -> {key[1]} (delay {key[2]}) differ")
    if sorted(a.monitors) != sorted(b.monitors):
        out.append(f"monitors {sorted(a.monitors)} != {sorted(b.monitors)}")
    return out
