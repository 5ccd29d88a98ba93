"""NIR graph -> IR: neuron nodes become lif populations, weight paths become projections.

Every path from a source (an Input or a spiking neuron node) through stateless nodes
(Affine, Linear, Scale, Flatten, Identity, Delay, Conv1d/Conv2d, Sum/AvgPool2d, all unrolled to
sparse matrices) to a neuron node is one linear map; the maps that share (source, target,
delay) are summed into one projection whose weights also carry the target's gain (see
:mod:`.params`). Affine and Conv biases are constant inputs: they come from a one-neuron
``bias_clock`` population that fires every step, so they reach a neuron through its synaptic
filter and Delay nodes exactly, starting with the first input that can reach it
(:mod:`.bias_timing`). What
cannot be mapped exactly is refused with the node's name and type.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

from .bias_timing import realign
from .conv import MAX_ENTRIES, conv_matrix
from .graphio import NirError
from .metadata import check_against, read_meta
from .params import NEURON_TYPES, NeuronMap, from_nir, shape_of

LINEAR = ("Affine", "Linear", "Scale", "Flatten", "Identity", "Delay", "Conv1d", "Conv2d",
          "SumPool2d", "AvgPool2d")
WEIGHTED = ("Affine", "Linear", "Conv1d", "Conv2d")
PURE = ("Flatten", "Identity")
MAX_DENSE_ENTRIES = MAX_ENTRIES
MAX_NODE_SIZE = 4_194_304
"""Most neurons (or values) one node may have: checked before any matrix is built."""


@dataclass
class ImportedProjection:
    """One IR projection: weights ``[post, pre]`` (gain applied) and one delay."""

    name: str
    pre: str
    post: str
    delay: int
    matrix: sp.csr_matrix
    via: tuple[str, ...]
    path_nodes: tuple[str, ...] = ()


@dataclass
class Imported:
    """A NIR graph mapped to IR pieces, before anything is written."""

    dt: float
    names: dict[str, str]
    inputs: dict[str, int]
    neurons: dict[str, NeuronMap]
    bias: dict[str, np.ndarray]
    projections: dict[str, ImportedProjection]
    monitors: list[tuple[str, str]]
    meta: dict[str, Any] = field(default_factory=dict)
    clock: str | None = None


CLOCK = "\0clock"
"""Source label of constant inputs: a one-neuron population that fires every step."""
CLOCK_V_TH, CLOCK_BIAS = 0.5, 1.0
"""The clock: a lif neuron with tau_syn = tau_mem = dt, so v[k] = bias = 1 > 0.5 every step."""


def _kind(node: Any) -> str:
    return type(node).__name__


class _Analysis:
    """Shapes, linear maps and biases of one graph."""

    def __init__(self, graph: Any, dt: float, file: str) -> None:
        self.g, self.dt, self.file = graph, dt, file
        self.nodes: dict[str, Any] = graph.nodes
        self.preds: dict[str, list[str]] = {n: [] for n in self.nodes}
        self.succs: dict[str, list[str]] = {n: [] for n in self.nodes}
        for a, b in graph.edges:
            self.succs[a].append(b)
            self.preds[b].append(a)
        self._shapes: dict[str, tuple] = {}
        self._ops: dict[str, tuple[Any, np.ndarray | None]] = {}

    def fail(self, message: str) -> None:
        raise NirError(message, file=self.file)

    # ------------------------------------------------------------------ shapes
    def out_shape(self, name: str, _stack: tuple = ()) -> tuple:
        if name in self._shapes:
            return self._shapes[name]
        if name in _stack:
            self.fail(f"node '{name}' ({_kind(self.nodes[name])}) is in a loop of stateless "
                      "nodes; a cycle needs a neuron node to break it")
        node, kind = self.nodes[name], _kind(self.nodes[name])
        if kind == "Input":
            shape = tuple(int(n) for n in np.asarray(node.input_type["input"]).reshape(-1))
        elif kind == "Output":
            shape = self.in_shape(name, _stack + (name,))
        elif kind in NEURON_TYPES:
            shape = shape_of(node)
        elif kind in ("Affine", "Linear"):
            if np.ndim(node.weight) != 2:
                self.fail(f"node '{name}' ({kind}): weight has shape {np.shape(node.weight)}; "
                          "only 2-D weights [out, in] can be mapped")
            shape = (int(np.shape(node.weight)[0]),)
        elif kind == "Scale":
            shape = tuple(np.shape(node.scale))
        elif kind == "Delay":
            shape = tuple(np.shape(node.delay))
        elif kind in ("Flatten", "Identity"):
            in_shape = self.in_shape(name, _stack + (name,))
            if kind == "Identity":
                shape = in_shape
            else:
                from nir.ir.utils import calc_flatten_output
                try:
                    shape = tuple(int(n) for n in np.atleast_1d(calc_flatten_output(
                        list(in_shape), int(node.start_dim), int(node.end_dim))))
                except Exception:  # noqa: BLE001 - bad dims for this input
                    shape = (int(np.prod(in_shape)),)
                if int(np.prod(shape)) != int(np.prod(in_shape)):
                    shape = (int(np.prod(in_shape)),)
        else:
            _, shape, _ = self.conv(name, _stack)
        if any(n < 0 for n in shape) or np.prod(shape, dtype=np.float64) > MAX_NODE_SIZE:
            self.fail(f"node '{name}' ({kind}) has shape {tuple(shape)}; a node may have at "
                      f"most {MAX_NODE_SIZE} elements and no negative dimension")
        self._shapes[name] = tuple(shape)
        return self._shapes[name]

    def in_shape(self, name: str, _stack: tuple = ()) -> tuple:
        """Shape a node takes: its own declaration, else what its predecessors give."""
        node, kind = self.nodes[name], _kind(self.nodes[name])
        if kind == "Output":
            value = node.output_type.get("output")
        else:
            declared = getattr(node, "input_type", None)
            value = declared.get("input") if isinstance(declared, dict) else None
        if value is not None and np.size(value):
            return tuple(int(n) for n in np.asarray(value).reshape(-1))
        if not self.preds[name]:
            self.fail(f"node '{name}' ({kind}) has no input edge and no declared input shape")
        return self.out_shape(self.preds[name][0], _stack)

    def in_size(self, name: str) -> int:
        node, kind = self.nodes[name], _kind(self.nodes[name])
        if kind in ("Affine", "Linear"):
            return int(np.shape(node.weight)[1])
        if kind in ("Scale", "Delay") or kind in NEURON_TYPES:
            return int(np.prod(self.out_shape(name)))
        return int(np.prod(self.in_shape(name)))

    def conv(self, name: str, _stack: tuple = ()) -> tuple[sp.csr_matrix, tuple, np.ndarray]:
        node = self.nodes[name]
        shape = getattr(node, "input_shape", None)
        weight = getattr(node, "weight", None)
        if shape is not None and np.size(shape) and weight is not None:
            in_shape = (int(np.shape(weight)[1]) * int(getattr(node, "groups", 1)),
                        *[int(n) for n in np.atleast_1d(shape)])
        else:
            in_shape = self.in_shape(name, _stack + (name,))
        try:
            matrix, out, bias = conv_matrix(node, tuple(in_shape), name)
        except NirError as exc:
            raise NirError(exc.message, file=self.file) from None
        self._ops[name] = (matrix, bias)
        return matrix, tuple(out), bias

    def check_edges(self) -> None:
        for a, b in self.g.edges:
            kind_b = _kind(self.nodes[b])
            if kind_b == "Input":
                self.fail(f"edge ('{a}', '{b}') points into an Input node; Inputs take no edges")
            if _kind(self.nodes[a]) == "Output":
                self.fail(f"edge ('{a}', '{b}') leaves an Output node; Outputs end the graph")
            out = self.out_shape(a)
            size = self.in_size(b)
            if int(np.prod(out)) != size:
                self.fail(f"edge ('{a}', '{b}'): shape mismatch, {a} ({_kind(self.nodes[a])}) "
                          f"gives {int(np.prod(out))} values (shape {out}) but {b} ({kind_b}) "
                          f"takes {size}")

    # ------------------------------------------------------------------ linear maps
    def op(self, name: str) -> tuple[Any, np.ndarray | None]:
        """(matrix or None for identity, bias or None) of a stateless node."""
        if name in self._ops:
            return self._ops[name]
        node, kind = self.nodes[name], _kind(self.nodes[name])
        if kind in ("Affine", "Linear"):
            w = np.asarray(node.weight, dtype=np.float64)
            if not np.all(np.isfinite(w)):
                self.fail(f"node '{name}' ({kind}): weight holds NaN or inf")
            bias = None
            if kind == "Affine":
                bias = np.asarray(node.bias, dtype=np.float64).reshape(-1)
                if bias.size == 1 and w.shape[0] != 1:
                    bias = np.full(w.shape[0], float(bias[0]))
                if bias.shape != (w.shape[0],):
                    self.fail(f"node '{name}' (Affine): bias has shape {np.shape(node.bias)} but "
                              f"weight has {w.shape[0]} rows")
                if not np.all(np.isfinite(bias)):
                    self.fail(f"node '{name}' (Affine): bias holds NaN or inf")
            self._ops[name] = (sp.csr_matrix(w), bias)
        elif kind == "Scale":
            s = np.asarray(node.scale, dtype=np.float64).reshape(-1)
            if not np.all(np.isfinite(s)):
                self.fail(f"node '{name}' (Scale): scale holds NaN or inf")
            self._ops[name] = (sp.diags(s, format="csr"), None)
        elif kind in ("Flatten", "Identity", "Delay"):
            self._ops[name] = (None, None)
        else:
            self.conv(name)
        return self._ops[name]

    def delay_steps(self, name: str) -> np.ndarray:
        d = np.asarray(self.nodes[name].delay, dtype=np.float64).reshape(-1)
        steps = np.rint(d / self.dt)
        bad = ~np.isfinite(d) | (d < 0) | (np.abs(d / self.dt - steps) > 1e-9 * np.maximum(1, steps))
        if np.any(bad):
            self.fail(f"node '{name}' (Delay): delay {d[bad][0]:g} is not a whole number of "
                      f"steps of dt = {self.dt:g}; choose --dt so every delay is a multiple")
        return steps.astype(np.int64)


def _walk(an: _Analysis, source: str, size: int, neurons: set[str], spiking: bool,
          acc: dict, via: dict, trail: dict, monitors: list, bias_of: str | None = None) -> None:
    """Propagate the identity map from ``source`` through stateless nodes to neuron nodes.

    With ``bias_of``, propagate instead the bias of that Affine/Conv node as a map from the
    one-neuron clock (``source`` is then :data:`CLOCK`).
    """
    def visit(name: str, mats: dict[int, Any], weights: tuple, pure: bool, stack: tuple) -> None:
        node_kind = _kind(an.nodes[name])
        if name in neurons:
            if not spiking:
                an.fail(f"node '{source}' ({_kind(an.nodes[source])}) does not spike; it can "
                        f"only feed Output nodes, not '{name}' ({node_kind})")
            for d, m in mats.items():
                key = (source, name, d)
                acc[key] = acc[key] + m if key in acc else m
                via.setdefault(key, set()).update(weights)
                trail.setdefault(key, set()).update(stack[1:])
            return
        if node_kind == "Output":
            if not pure:
                origin = f"the bias of '{bias_of}'" if bias_of else f"'{source}'"
                an.fail(f"Output '{name}' is fed by {origin} through "
                        f"{', '.join(weights) or 'Scale/Delay nodes'}; only neuron and Input "
                        "outputs can be recorded")
            monitors.append((source, name))
            return
        if not spiking and node_kind not in PURE:
            an.fail(f"node '{source}' ({_kind(an.nodes[source])}) does not spike; it can only "
                    f"feed Output nodes, not '{name}' ({node_kind})")
        if name in stack:
            an.fail(f"node '{name}' ({node_kind}) is in a loop of stateless nodes; a cycle "
                    "needs a neuron node to break it")
        matrix, _ = an.op(name)
        if node_kind == "Delay":
            steps = an.delay_steps(name)
            new: dict[int, Any] = {}
            for d, m in mats.items():
                for k in np.unique(steps):
                    part = sp.diags((steps == k).astype(np.float64), format="csr") @ m
                    new[d + int(k)] = new[d + int(k)] + part if d + int(k) in new else part
            mats = new
        elif matrix is not None:
            mats = {d: (matrix @ m).tocsr() for d, m in mats.items()}
        weights = weights + ((name,) if node_kind in WEIGHTED else ())
        pure = pure and node_kind in PURE
        for nxt in an.succs[name]:
            visit(nxt, mats, weights, pure, stack + (name,))

    if bias_of is not None:
        _, vec = an.op(bias_of)
        start = {0: sp.csr_matrix(np.asarray(vec, dtype=np.float64).reshape(-1, 1))}
        for nxt in an.succs[bias_of]:
            visit(nxt, start, (bias_of,), False, (source, bias_of))
        return
    start = {0: sp.identity(size, format="csr", dtype=np.float64)}
    for nxt in an.succs[source]:
        visit(nxt, start, (), True, (source,))


_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]*$")


def ir_name(raw: str, taken: set[str]) -> str:
    """A valid, unused IR name for a NIR node name ('0' -> 'n0', 'fc.1' -> 'fc_1')."""
    name = re.sub(r"[^A-Za-z0-9_\-]", "_", str(raw)) or "node"
    if not _NAME.match(name):
        name = "n" + name
    name = name[:60]
    base, i = name, 1
    while name in taken:
        name = f"{base[:56]}_{i}"
        i += 1
    taken.add(name)
    return name


def analyse(graph: Any, dt: float, file: str = "<graph>", exact: bool = False,
            jump: bool = False) -> Imported:
    """Map a NIRGraph to IR pieces (nothing written); NirError when it has no exact form.

    ``exact``, ``jump``: the discretisation choices of :func:`.params.from_nir`."""
    an = _Analysis(graph, dt, file)
    kinds = {n: _kind(node) for n, node in an.nodes.items()}
    for name, kind in kinds.items():
        if kind not in NEURON_TYPES + LINEAR + ("Input", "Output"):
            an.fail(f"node '{name}' has type {kind}, which has no IR form")
    an.check_edges()
    neurons_set = {n for n, k in kinds.items() if k in NEURON_TYPES}
    taken: set[str] = set()
    names = {n: ir_name(n, taken) for n, k in kinds.items() if k == "Input" or k in NEURON_TYPES}
    inputs = {n: int(np.prod(an.out_shape(n))) for n, k in kinds.items() if k == "Input"}
    try:
        neurons = {n: from_nir(n, an.nodes[n], dt, exact, jump) for n in an.nodes
                   if n in neurons_set}
    except NirError as exc:
        raise NirError(exc.message, file=file) from None
    acc: dict = {}
    via: dict = {}
    trail: dict = {}
    outs: list = []
    for name, kind in kinds.items():
        if kind == "Input":
            _walk(an, name, inputs[name], neurons_set, True, acc, via, trail, outs)
        elif name in neurons:
            _walk(an, name, neurons[name].size, neurons_set, neurons[name].spiking, acc, via,
                  trail, outs)
    for name, kind in kinds.items():
        if kind in ("Affine", "Conv1d", "Conv2d"):
            _, vec = an.op(name)
            if vec is not None and np.any(vec != 0):
                _walk(an, CLOCK, 1, neurons_set, True, acc, via, trail, outs, bias_of=name)
    realign(acc, via, trail, set(inputs), CLOCK)
    clock = None
    if any(key[0] == CLOCK for key in acc):
        clock = names[CLOCK] = ir_name("bias_clock", taken)
    bias = {name: nm.leak_bias for name, nm in neurons.items()}
    projections = _projections(acc, via, trail, names, neurons, taken)
    monitors = []
    for source, _output in outs:
        var = "spikes" if kinds[source] == "Input" or neurons[source].spiking else "v"
        if (names[source], var) not in monitors:
            monitors.append((names[source], var))
    meta = read_meta(graph, file)
    check_against(meta, {names[n]: s for n, s in inputs.items()},
                  {names[n]: nm.size for n, nm in neurons.items()}, file)
    names.pop(CLOCK, None)
    return Imported(dt, names, inputs, neurons, bias, projections, monitors, meta, clock)


def _projections(acc: dict, via: dict, trail: dict, names: dict[str, str],
                 neurons: dict[str, NeuronMap], taken: set[str]) -> dict[str, ImportedProjection]:
    """One projection per (source, target, delay), named after its weight node when unique."""
    pairs: dict[tuple[str, str], list[int]] = {}
    for src, tgt, d in acc:
        pairs.setdefault((src, tgt), []).append(d)
    users: dict[str, set] = {}
    for (src, tgt, _d), nodes in via.items():
        for node in nodes:
            if src != CLOCK:
                users.setdefault(node, set()).add((src, tgt))
    out: dict[str, ImportedProjection] = {}
    for (src, tgt, d), matrix in sorted(acc.items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][2])):
        nodes = tuple(sorted(via[(src, tgt, d)]))
        many = len(pairs[(src, tgt)]) > 1
        if src == CLOCK:
            raw = (f"{nodes[0]}__bias" if len(nodes) == 1 else f"bias__{names[tgt]}") \
                + (f"__d{d}" if many else "")
        elif len(nodes) == 1 and len(users[nodes[0]]) == 1:
            raw = nodes[0] + (f"__d{d}" if many else "")
        else:
            raw = f"{names[src]}__{names[tgt]}" + (f"__d{d}" if many else "")
        name = ir_name(raw, taken)
        weights = (sp.diags(neurons[tgt].gain, format="csr") @ matrix).tocsr()
        out[name] = ImportedProjection(name, names[src], names[tgt], int(d), weights, nodes,
                                       tuple(sorted(trail[(src, tgt, d)])))
    return out
