"""IR network or build -> NIR graph.

Canonical export: each spike_source/poisson population becomes an Input, each lif population
the NIR neuron node its parameters describe (:func:`.params.canonical_type`) with the gain
set to 1 (so NIR weights equal IR weights), each projection one Linear node per distinct
delay (behind a Delay node when the delay is > 0), each monitor an Output. What NIR cannot
hold (refractory periods, plasticity, noise, variability, Poisson rates) goes into the graph
metadata key ``neurodeploy_ir`` and is listed in the returned notes.

Export of a YAML imported from NIR (``<stem>.source.nir`` beside it) starts from the source
graph instead: its nodes, names, ``r`` and ``w_in`` are kept and only what the IR changed is
recomputed, so NIR -> IR -> NIR gives back every parameter. It is used only when the result
maps back to exactly the IR network; otherwise the canonical form is written with a note.
Options for other readers (seconds, r = 1, one Output) are in :mod:`.export_options`; what
may be written and what a learning build exports, in :mod:`.export_checks`.
"""
from __future__ import annotations

import copy
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from .export_checks import check_target, inference_network
from .export_options import ExportOptions, topological, upstream
from .flat import FlatNet, differences, from_build, from_network
from .graphio import NirError, read_graph, write_graph
from .importer import analyse, ir_name
from .metadata import META_KEY
from .params import canonical_type, no_leak, to_nir


def _meta(flat: FlatNet, notes: list[str]) -> dict[str, Any]:
    """The graph metadata entry holding what NIR has no node field for."""
    extras = {k: v for k, v in flat.extras.items() if k != "build"}
    meta: dict[str, Any] = {"name": flat.name, "seed": flat.seed, "dt": flat.dt,
                            "steps": flat.steps}
    rates = {n: (float(p.rate[0]) if np.all(p.rate == p.rate[0]) else [float(x) for x in p.rate])
             for n, p in flat.pops.items() if p.kind == "poisson"}
    if rates:
        meta["poisson"] = rates
        notes.append(f"poisson population(s) {', '.join(rates)} exported as Input nodes; their "
                     "rates are in the graph metadata 'neurodeploy_ir'")
    refractory = {n: p.refractory for n, p in flat.pops.items() if p.refractory}
    if refractory:
        meta["refractory"] = refractory
        notes.append(f"not exported: refractory periods of {', '.join(refractory)} (NIR neurons "
                     "have none); kept in the graph metadata 'neurodeploy_ir'")
    if "build" in flat.extras:
        build = flat.extras["build"]
        meta["build"] = build
        if build.get("dequantized"):
            notes.append(f"fixed-point build for {build['profile']} dequantized to float "
                         "(decays, thresholds, biases and weights as the chip computes them)")
        for key in ("plasticity", "noise"):
            if key in extras:
                meta[f"build_{key}"] = extras.pop(key)
                notes.append(f"not exported: {key} of the build (hardware form, kept in the "
                             "graph metadata; not restored on import)")
    if extras:
        meta["extras"] = extras
        notes.append(f"{', '.join(extras)}: not part of NIR; kept in the graph metadata "
                     "'neurodeploy_ir' and restored by `neurodeploy import-nir`")
    return meta


def canonical(flat: FlatNet, opts: ExportOptions = ExportOptions()) -> tuple[Any, list[str]]:
    """The NIR graph of a flat network (canonical unless ``opts`` say otherwise), and notes
    on what was not exported."""
    import nir

    k = opts.time_scale
    dt = flat.dt * k
    if opts.record is not None and opts.record not in flat.pops:
        raise NirError(f"--record {opts.record}: no such population; choose one of "
                       f"{', '.join(flat.pops)}", file=flat.source or None)
    notes: list[str] = []
    if opts.record is not None:
        keep = upstream(flat.projs, opts.record)
        dropped = [n for n in flat.pops if n not in keep]
        if dropped:
            notes.append(f"not exported: {', '.join(dropped)} (no path into {opts.record}, "
                         "so none of its spikes depends on them)")
        flat = replace(flat, pops={n: p for n, p in flat.pops.items() if n in keep},
                       projs={n: p for n, p in flat.projs.items() if p.post in keep},
                       monitors=[(p, v) for p, v in flat.monitors if p in keep])
    nodes: dict[str, Any] = {}
    edges: list[tuple[str, str]] = []
    taken = set(flat.pops)
    gains: dict[str, np.ndarray] = {}
    kinds: dict[str, str] = {}
    for name, p in flat.pops.items():
        if p.kind != "lif":
            nodes[name] = nir.Input(input_type=np.array([p.size]))
            continue
        where = f"population '{name}'"
        kind = kinds[name] = canonical_type(p.tau_syn, p.tau_mem, p.v_th, flat.dt, where)
        if no_leak(p.tau_mem, flat.dt) and np.any(p.bias != 0):
            raise NirError(f"{where} has a bias but no leak; NIR's {kind} node has no constant "
                           "term (give it a finite tau_mem, or drive it with a projection)",
                           file=flat.source or None)
        gauge = {"r": 1.0} if opts.r_one and kind in ("LIF", "LI", "IF", "I") else None
        try:
            nodes[name], gains[name] = to_nir(kind, (p.size,), p.tau_syn * k, p.tau_mem * k,
                                              p.v_th, p.bias, dt, gauge, where=where)
        except ValueError as exc:
            raise NirError(str(exc), file=flat.source or None) from None
    for pname, pr in flat.projs.items():
        delays = np.unique(pr.delays[pr.exists]) if pr.exists.any() else np.array([0])
        for d in delays:
            mask = pr.exists & (pr.delays == d)
            lin = ir_name(pname if len(delays) == 1 else f"{pname}__d{int(d)}", taken)
            nodes[lin] = nir.Linear(weight=np.where(mask, pr.weights, 0.0) / gains[pr.post][:, None])
            head = pr.pre
            if d > 0:
                delay = ir_name(f"{lin}_delay", taken)
                nodes[delay] = nir.Delay(delay=np.full(pr.weights.shape[1], float(d) * dt))
                edges.append((pr.pre, delay))
                head = delay
            edges += [(head, lin), (lin, pr.post)]
    monitors = list(flat.monitors)
    if opts.record is not None:
        spiking = flat.pops[opts.record].kind != "lif" or \
            kinds[opts.record] in ("LIF", "CubaLIF", "IF")
        monitors = [(opts.record, "spikes" if spiking else "v")]
        others = [f"{p}.{v}" for p, v in flat.monitors if (p, v) != monitors[0]]
        if others:
            notes.append(f"not exported: monitor(s) {', '.join(others)} (--record writes one "
                         "Output)")
    for pop, var in monitors:
        p = flat.pops[pop]
        spiking = p.kind != "lif" or kinds[pop] in ("LIF", "CubaLIF", "IF")
        if (var == "spikes" and spiking) or (var == "v" and not spiking):
            out = ir_name(f"{pop}_{var}", taken)
            nodes[out] = nir.Output(output_type=np.array([p.size]))
            edges.append((pop, out))
        else:
            notes.append(f"not exported: monitor {pop}.{var} (a {kinds.get(pop, p.kind)} node "
                         f"outputs {'spikes' if spiking else 'v'})")
    meta = _meta(flat, notes)
    if opts.time_unit == "s":
        meta.update(dt=dt, time_unit="s")
    metadata = {META_KEY: json.dumps(meta, sort_keys=True)}
    ordered = {n: nodes[n] for n in topological(nodes, edges)}
    return nir.NIRGraph(nodes=ordered, edges=edges, metadata=metadata, type_check=False), notes


def _keep(old: Any, new: Any) -> Any:
    """The source value when the recomputed one equals it up to rounding, else the new one."""
    old_a, new_a = np.asarray(old, dtype=np.float64), np.asarray(new, dtype=np.float64)
    if old_a.shape == new_a.shape:
        scale = float(np.max(np.abs(old_a))) if old_a.size else 0.0
        if np.allclose(old_a, new_a, rtol=1e-12, atol=1e-12 * scale):
            return old
    return new_a


NEURON_FIELDS = ("tau", "tau_syn", "tau_mem", "r", "v_leak", "v_threshold", "w_in", "threshold")


def from_source(flat: FlatNet, source: Path) -> Any:
    """The source graph updated to ``flat``; ValueError saying why when it cannot be."""
    src = read_graph(source)
    imp = analyse(src, flat.dt, str(source))
    inv = {ir: n for n, ir in imp.names.items()}
    if set(inv) | ({imp.clock} if imp.clock else set()) != set(flat.pops) or \
            set(imp.projections) != set(flat.projs):
        raise ValueError("populations or projections were renamed, added or removed")
    graph = copy.deepcopy(src)
    old_gain = {n: nm.gain.copy() for n, nm in imp.neurons.items()}
    for ir, nir_name in inv.items():
        p = flat.pops[ir]
        if nir_name in imp.inputs:
            if p.kind != "spike_source" or p.size != imp.inputs[nir_name]:
                raise ValueError(f"population {ir} is no longer the Input '{nir_name}'")
            continue
        nm = imp.neurons[nir_name]
        if p.kind != "lif" or p.size != nm.size:
            raise ValueError(f"population {ir} is no longer the {nm.type} '{nir_name}'")
        new, gain = to_nir(nm.type, nm.shape, p.tau_syn, p.tau_mem, p.v_th, p.bias, flat.dt,
                           nm.gauge, where=f"population {ir}")
        node = graph.nodes[nir_name]
        for field in NEURON_FIELDS:
            if hasattr(node, field) and hasattr(new, field):
                setattr(node, field, _keep(getattr(node, field), getattr(new, field)))
        nm.gain = gain
    for pname, proj in imp.projections.items():
        pr = flat.projs[pname]
        if (pr.pre, pr.post) != (proj.pre, proj.post):
            raise ValueError(f"projection {pname} connects other populations now")
        old = proj.matrix.toarray()
        new = np.where(pr.exists, pr.weights, 0.0)
        if np.any(pr.exists & (pr.delays != proj.delay)):
            raise ValueError(f"projection {pname} has other delays now")
        target = inv[pr.post]
        same_gain = np.allclose(old_gain[target], imp.neurons[target].gain, rtol=1e-12, atol=0)
        if same_gain and np.allclose(old, new, rtol=1e-12,
                                     atol=1e-12 * float(np.max(np.abs(old), initial=0))):
            continue
        _resolve(graph, imp, pname, new, imp.neurons[target].gain)
    graph.metadata = dict(graph.metadata or {})
    meta_notes: list[str] = []
    graph.metadata[META_KEY] = json.dumps(_meta(flat, meta_notes), sort_keys=True)
    check = analyse(graph, flat.dt, str(source))
    from .ir_files import to_flat
    diff = differences(to_flat(check, flat.name), flat)
    if diff:
        raise ValueError("the updated source graph would differ: " + "; ".join(diff[:3]))
    return graph, meta_notes


def _resolve(graph: Any, imp: Any, pname: str, weights: np.ndarray, gain: np.ndarray) -> None:
    """Write a changed projection back into its one Linear/Affine weight (or Affine bias)."""
    proj = imp.projections[pname]
    is_bias = proj.pre == imp.clock
    others = [n for n in proj.path_nodes if n not in proj.via]
    if len(proj.via) != 1 or any(type(graph.nodes[n]).__name__ not in ("Flatten", "Identity", "Delay")
                                 for n in others):
        raise ValueError(f"projection {pname} changed and its NIR path is not a single "
                         "Linear/Affine node")
    name = proj.via[0]
    node = graph.nodes[name]
    sharing = [q for q in imp.projections.values()
               if name in q.via and (q.pre == imp.clock) == is_bias]
    if type(node).__name__ not in ("Linear", "Affine") or len(sharing) != 1:
        raise ValueError(f"projection {pname} changed and its weight node '{name}' is shared "
                         "or a convolution")
    with np.errstate(divide="ignore", invalid="ignore"):
        solved = np.where(gain[:, None] != 0, weights / gain[:, None], 0.0)
    if is_bias:
        node.bias = solved[:, 0]
    else:
        node.weight = solved


def _refuse_stochastic(flat: FlatNet, source: Path) -> None:
    """NIR has no escape-noise neuron: exporting one as a LIF would change the network."""
    for name, p in flat.pops.items():
        if p.kind == "stochastic":
            raise NirError(f"populations.{name}: a stochastic population has no NIR node "
                           "(NIR's LIF is deterministic); export a network without it",
                           file=source)


def export_file(source: str | Path, out: str | Path, opts: ExportOptions = ExportOptions()
                ) -> tuple[Path, list[str]]:
    """Export a build directory or a network YAML to ``out`` (.nir); returns (path, notes)."""
    from ..ir.load import load_network

    source, out = Path(source), Path(out)
    if source.is_dir():
        check_target(source, out, [])
        flat = from_build(source)
        _refuse_stochastic(flat, source)
        notes = inference_network(flat)
        graph, more = canonical(flat, opts)
        return write_graph(graph, out), notes + more
    if not source.exists():
        raise NirError("not found; give a build directory or a network YAML", file=source)
    provenance = source.with_name(f"{source.stem}.source.nir")
    net = load_network(source)
    check_target(source, out, [provenance, *_weight_files(net, source)])
    flat = from_network(net)
    _refuse_stochastic(flat, source)
    graph = None
    notes: list[str] = []
    if provenance.exists() and not opts.canonical:
        notes.append(f"{provenance.name} not used: the export options ask for another form "
                     "than the source graph's")
    elif provenance.exists():
        try:
            graph, notes = from_source(flat, provenance)
        except (ValueError, NirError) as exc:
            notes.append(f"{provenance.name} not used ({exc}); wrote the canonical form")
    if graph is None:
        graph, more = canonical(flat, opts)
        notes += more
    return write_graph(graph, out), notes


def _weight_files(net: Any, source: Path) -> list[Path]:
    """The weight files a network YAML reads (outputs must not overwrite them)."""
    out = []
    for proj in net.projections.values():
        file = getattr(getattr(proj, "weights", None), "file", None)
        if file:
            out.append(source.parent / str(file))
    return out
