"""NIR interchange: round trips, equivalence with the NIR node equations, malformed files."""
from __future__ import annotations

import json
from pathlib import Path

import h5py
import nir
import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from neurodeploy.cli import main
from neurodeploy.compiling import compile_network
from neurodeploy.compilers import get_backend, load_plan, make_inputs
from neurodeploy.ir import load_network
from neurodeploy.nir import NirError, export_file, import_file
from neurodeploy.nir.flat import differences, from_build, from_network
from neurodeploy.profiles import load_profile

from .conftest import EXAMPLES
from .netgen import random_network_yaml

ALL_NODE_TYPES = {"Input", "Output", "Affine", "Linear", "LIF", "CubaLIF", "IF", "LI", "I",
                  "CubaLI", "Scale", "Threshold", "Flatten", "Delay", "Conv1d", "Conv2d",
                  "SumPool2d", "AvgPool2d"}


# --------------------------------------------------------------------------- reference
def _conv2d(x: np.ndarray, w: np.ndarray, stride, padding, dilation, groups) -> np.ndarray:
    """Direct PyTorch-style conv2d (cross-correlation) of one (C, H, W) image."""
    c_out, c_in_g, kh, kw = w.shape
    sh, sw = np.broadcast_to(stride, 2)
    ph, pw = np.broadcast_to(padding, 2)
    dh, dw = np.broadcast_to(dilation, 2)
    xp = np.pad(x, ((0, 0), (ph, ph), (pw, pw)))
    ho = (x.shape[1] + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    wo = (x.shape[2] + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    out = np.zeros((c_out, ho, wo))
    per_group = c_out // groups
    for o in range(c_out):
        g = o // per_group
        for i in range(ho):
            for j in range(wo):
                patch = xp[g * c_in_g:(g + 1) * c_in_g, i * sh:i * sh + dh * (kh - 1) + 1:dh,
                           j * sw:j * sw + dw * (kw - 1) + 1:dw]
                out[o, i, j] = np.sum(patch * w[o])
    return out


def _stateless(node, x: np.ndarray, in_shape) -> np.ndarray:
    kind = type(node).__name__
    if kind == "Affine":
        return node.weight @ x + node.bias
    if kind == "Linear":
        return node.weight @ x
    if kind == "Scale":
        return node.scale.reshape(-1) * x
    if kind in ("Flatten", "Identity"):
        return x
    img = x.reshape(in_shape)
    if kind == "Conv2d":
        return (_conv2d(img, node.weight, node.stride, node.padding, node.dilation, node.groups)
                + node.bias[:, None, None]).reshape(-1)
    if kind == "Conv1d":
        out = _conv2d(img[:, None, :], node.weight[:, :, None, :], (1, node.stride),
                      (0, node.padding), (1, node.dilation), node.groups)
        return (out[:, 0, :] + node.bias[:, None]).reshape(-1)
    k = tuple(np.broadcast_to(node.kernel_size, 2))
    w = np.zeros((img.shape[0], 1, *k)) + (1.0 if kind == "SumPool2d" else 1.0 / np.prod(k))
    return _conv2d(img, w, node.stride, node.padding, 1, img.shape[0]).reshape(-1)


def nir_reference(graph, dt: float, inputs: dict[str, np.ndarray], steps: int,
                  in_shapes: dict[str, tuple] | None = None) -> dict[str, np.ndarray]:
    """The NIR node equations, forward Euler, each neuron input one step after its sources.

    Built on the ``nir`` graph alone: neuron inputs at step t >= 1 are the stateless nodes'
    values computed from what Inputs and neurons emitted at step t-1; at step 0 nothing has
    been delivered yet; a Delay node outputs its input of ``delay/dt`` steps earlier (0
    before the first step). Affine and Conv biases reach a neuron from its lag on (the
    fewest steps in which input spikes can reach it), when the framework's step 0 arrives.
    Returns {output node name: [steps, size]}.
    """
    in_shapes = in_shapes or {}
    nodes, edges = graph.nodes, graph.edges
    preds = {n: [a for a, b in edges if b == n] for n in nodes}
    neuron_kinds = ("LIF", "CubaLIF", "IF", "LI", "CubaLI", "I", "Threshold")
    neurons = [n for n, v in nodes.items() if type(v).__name__ in neuron_kinds]
    size = {n: int(np.prod(getattr(nodes[n], p).shape)) for n in neurons
            for p in ("threshold", "r") if hasattr(nodes[n], p)}
    v = {n: np.zeros(size[n]) for n in neurons}
    cur = {n: np.zeros(size[n]) for n in neurons}
    emitted = {n: np.zeros(size[n]) for n in neurons}
    emitted.update({n: np.zeros(inputs[n].shape[1]) for n in inputs})
    history: dict[str, list] = {n: [] for n, x in nodes.items() if type(x).__name__ == "Delay"}
    quiet_history: dict[str, list] = {n: [] for n in history}
    records: dict[str, list] = {n: [] for n, x in nodes.items() if type(x).__name__ == "Output"}
    lag = _input_lags(graph, dt, set(inputs))
    quiet = {n: np.zeros_like(x) for n, x in emitted.items()}

    def value(name: str, memo: dict, sent: dict = emitted, history: dict = history) -> np.ndarray:
        if name in sent:
            return sent[name]
        if name in memo:
            return memo[name]
        x = sum(value(p, memo, sent, history) for p in preds[name])
        node = nodes[name]
        if type(node).__name__ == "Delay":
            history[name].append(np.asarray(x, dtype=float))
            k = np.rint(node.delay / dt).astype(int).reshape(-1)
            t = len(history[name]) - 1
            memo[name] = np.array([history[name][t - k[i]][i] if t - k[i] >= 0 else 0.0
                                   for i in range(len(k))])
        else:
            memo[name] = _stateless(node, x, in_shapes.get(name))
        return memo[name]

    for t in range(steps):
        memo: dict = {}
        if t == 0:
            x_in = {n: np.zeros(size[n]) for n in neurons}
            for name in history:
                history[name].append(np.zeros(np.size(nodes[name].delay)))
                quiet_history[name].append(np.zeros(np.size(nodes[name].delay)))
        else:
            quiet_memo: dict = {}
            bias = {n: sum((value(p, quiet_memo, quiet, quiet_history) for p in preds[n]),
                           np.zeros(size[n])) for n in neurons}
            x_in = {n: sum((value(p, memo) for p in preds[n]), np.zeros(size[n]))
                    - (bias[n] if t < lag.get(n, 1) else 0.0) for n in neurons}
            for name in history:
                if name not in memo:
                    value(name, memo)
                if name not in quiet_memo:
                    value(name, quiet_memo, quiet, quiet_history)
        out: dict[str, np.ndarray] = {}
        for n in neurons:
            node, kind, x = nodes[n], type(nodes[n]).__name__, x_in[n]
            flat = lambda a: np.asarray(a, dtype=float).reshape(-1)  # noqa: E731
            if kind in ("LIF", "LI"):
                v[n] = v[n] + dt / flat(node.tau) * (flat(node.v_leak) - v[n] + flat(node.r) * x)
            elif kind in ("CubaLIF", "CubaLI"):
                cur[n] = cur[n] + dt / flat(node.tau_syn) * (-cur[n] + flat(node.w_in) * x)
                v[n] = v[n] + dt / flat(node.tau_mem) * (flat(node.v_leak) - v[n] + flat(node.r) * cur[n])
            elif kind in ("IF", "I"):
                v[n] = v[n] + dt * flat(node.r) * x
            if kind == "Threshold":
                out[n] = (x > flat(node.threshold)).astype(float)
            elif kind in ("LIF", "CubaLIF", "IF"):
                spikes = v[n] > flat(node.v_threshold)
                v[n][spikes] = flat(node.v_reset)[spikes]
                out[n] = spikes.astype(float)
            else:
                out[n] = v[n].copy()
        for n in inputs:
            out[n] = inputs[n][t].astype(float)
        emitted.update(out)
        for name in records:
            records[name].append(sum(emitted[p] for p in preds[name]))
    return {k: np.array(r) for k, r in records.items()}


def _input_lags(graph, dt: float, inputs: set[str]) -> dict[str, int]:
    """Fewest steps from an Input to each neuron node: 1 per edge out of a neuron or Input,
    plus Delay steps (only spiking nodes pass spikes on)."""
    nodes = graph.nodes
    preds = {n: [a for a, b in graph.edges if b == n] for n in nodes}
    passes = ("LIF", "CubaLIF", "IF", "Threshold")
    neuron = passes + ("LI", "CubaLI", "I")
    sent: dict[str, float] = {n: 1.0 for n in inputs}
    lag: dict[str, float] = {}
    for _ in range(len(nodes) + 1):
        for n, node in nodes.items():
            kind = type(node).__name__
            arrive = min((sent[p] for p in preds[n] if p in sent), default=np.inf)
            if kind in neuron:
                lag[n] = min(lag.get(n, np.inf), arrive)
                if kind in passes and np.isfinite(lag[n]):
                    sent[n] = lag[n] + 1
            elif n not in inputs and kind != "Output" and np.isfinite(arrive):
                extra = np.min(np.rint(np.asarray(node.delay) / dt)) if kind == "Delay" else 0
                sent[n] = min(sent.get(n, np.inf), arrive + extra)
    return {n: int(v) for n, v in lag.items() if np.isfinite(v)}


def simulate_imported(yaml_path: Path, tmp: Path, inputs: dict[str, np.ndarray], steps: int):
    """Compile the imported YAML for the cpu profile and run it on the cpu backend."""
    net = load_network(yaml_path)
    build = compile_network(net, load_profile("cpu"), tmp / "build", force=True).out
    plan = load_plan(build)
    given = {f"{k}.spikes": v for k, v in inputs.items()}
    result = get_backend("cpu").run(plan, make_inputs(plan, steps, given), steps)
    return result.data


# --------------------------------------------------------------------------- graphs
def _lif(rng, n, tau=None, **kw):
    tau = np.full(n, tau if tau is not None else rng.uniform(2, 20))
    return nir.LIF(tau=tau, r=rng.uniform(0.5, 3, n), v_leak=rng.normal(0, 0.05, n),
                   v_threshold=rng.uniform(0.5, 1.5, n), **kw)


def _cuba(rng, n, spiking=True):
    args = dict(tau_syn=np.full(n, rng.uniform(1.5, 8)), tau_mem=np.full(n, rng.uniform(2, 20)),
                r=rng.uniform(0.5, 3, n), v_leak=rng.normal(0, 0.05, n), w_in=rng.uniform(0.5, 3, n))
    if spiking:
        return nir.CubaLIF(v_threshold=rng.uniform(0.5, 1.5, n), **args)
    return nir.CubaLI(**args)


def graph_dense(seed: int) -> tuple:
    """Input -> Affine -> LIF -> Linear -> CubaLIF (recurrent) -> LI; IF, I, Threshold, Scale, Delay."""
    rng = np.random.default_rng(seed)
    n_in, a, b, c, d = 6, 7, 5, 3, 4
    w = lambda o, i, s=1.0: rng.normal(0, s, (o, i))  # noqa: E731
    nodes = {
        "input": nir.Input(input_type=np.array([n_in])),
        "fc1": nir.Affine(weight=w(a, n_in, 1.5), bias=rng.normal(0, 0.1, a)),
        "lif1": _lif(rng, a),
        "fc2": nir.Affine(weight=w(b, a, 1.5), bias=rng.normal(0.1, 0.1, b)),
        "cuba": _cuba(rng, b),
        "rec": nir.Linear(weight=w(b, b, 0.5)),
        "fc3": nir.Linear(weight=w(c, b)),
        "li": nir.LI(tau=np.full(c, rng.uniform(2, 10)), r=rng.uniform(0.5, 2, c),
                     v_leak=rng.normal(0, 0.1, c)),
        "delay": nir.Delay(delay=rng.integers(0, 4, n_in) * 1.0),
        "fc4": nir.Linear(weight=w(d, n_in, 2.0)),
        "scale": nir.Scale(scale=rng.uniform(0.5, 2, d)),
        "if1": nir.IF(r=rng.uniform(0.5, 2, d), v_threshold=rng.uniform(1, 2, d)),
        "fc5": nir.Affine(weight=w(c, d, 1.5), bias=rng.normal(0, 0.1, c)),
        "thr": nir.Threshold(threshold=rng.uniform(0.1, 0.5, c)),
        "fc6": nir.Linear(weight=w(2, d)),
        "integ": nir.I(r=rng.uniform(0.5, 2, 2)),
        "fc7": nir.Linear(weight=w(2, b)),
        "cubali": _cuba(rng, 2, spiking=False),
        "out_li": nir.Output(output_type=np.array([c])),
        "out_cuba": nir.Output(output_type=np.array([b])),
        "out_thr": nir.Output(output_type=np.array([c])),
        "out_i": nir.Output(output_type=np.array([2])),
        "out_cubali": nir.Output(output_type=np.array([2])),
        "out_lif1": nir.Output(output_type=np.array([a])),
        "fc8": nir.Affine(weight=w(2, n_in), bias=rng.uniform(0.2, 0.5, 2)),
        "delay8": nir.Delay(delay=np.array([1.0, 3.0])),
        "if8": nir.IF(r=np.ones(2), v_threshold=np.full(2, 1.0)),
        "out_if8": nir.Output(output_type=np.array([2])),
    }
    edges = [("input", "fc1"), ("fc1", "lif1"), ("lif1", "fc2"), ("fc2", "cuba"),
             ("cuba", "rec"), ("rec", "cuba"), ("cuba", "fc3"), ("fc3", "li"), ("li", "out_li"),
             ("cuba", "out_cuba"), ("input", "delay"), ("delay", "fc4"), ("fc4", "scale"),
             ("scale", "if1"), ("if1", "fc5"), ("fc5", "thr"), ("thr", "out_thr"),
             ("if1", "fc6"), ("fc6", "integ"), ("integ", "out_i"), ("cuba", "fc7"),
             ("fc7", "cubali"), ("cubali", "out_cubali"), ("lif1", "out_lif1"),
             ("input", "fc8"), ("fc8", "delay8"), ("delay8", "if8"), ("if8", "out_if8")]
    return nir.NIRGraph(nodes=nodes, edges=edges, type_check=False), {"input": (n_in,)}


def graph_conv(seed: int) -> tuple:
    """Input (2, 6, 6) -> Conv2d -> LIF -> SumPool2d/AvgPool2d -> LIF -> Flatten -> Linear -> LIF; Conv1d."""
    rng = np.random.default_rng(seed)
    nodes = {
        "input": nir.Input(input_type=np.array([2, 6, 6])),
        "conv": nir.Conv2d(input_shape=(6, 6), weight=rng.normal(0, 1.0, (4, 2, 3, 3)), stride=1,
                           padding=1, dilation=1, groups=1, bias=rng.normal(0, 0.1, 4)),
        "lif_c": nir.LIF(tau=np.full((4, 6, 6), 4.0), r=np.full((4, 6, 6), 4.0),
                         v_leak=np.zeros((4, 6, 6)), v_threshold=np.full((4, 6, 6), 1.0)),
        "pool": nir.SumPool2d(kernel_size=np.array([2, 2]), stride=np.array([2, 2]),
                              padding=np.array([0, 0])),
        "lif_p": nir.IF(r=np.ones((4, 3, 3)), v_threshold=np.full((4, 3, 3), 1.5)),
        "avg": nir.AvgPool2d(kernel_size=np.array([3, 3]), stride=np.array([3, 3]),
                             padding=np.array([0, 0])),
        "lif_a": nir.IF(r=np.ones((4, 2, 2)), v_threshold=np.full((4, 2, 2), 0.3)),
        "flat": nir.Flatten(input_type={"input": np.array([4, 3, 3])}, start_dim=0, end_dim=-1),
        "fc": nir.Linear(weight=rng.normal(0, 1.0, (5, 36))),
        "lif_o": _lif(rng, 5),
        "flat1": nir.Flatten(input_type={"input": np.array([4, 3, 3])}, start_dim=1, end_dim=-1),
        "conv1": nir.Conv1d(input_shape=9, weight=rng.normal(0, 1.0, (3, 4, 3)), stride=2,
                            padding=1, dilation=1, groups=1, bias=np.zeros(3)),
        "lif_1": nir.IF(r=np.ones((3, 5)), v_threshold=np.full((3, 5), 1.0)),
        "out": nir.Output(output_type=np.array([5])),
        "out_a": nir.Output(output_type=np.array([4, 2, 2])),
        "out_1": nir.Output(output_type=np.array([3, 5])),
    }
    edges = [("input", "conv"), ("conv", "lif_c"), ("lif_c", "pool"), ("pool", "lif_p"),
             ("lif_c", "avg"), ("avg", "lif_a"), ("lif_a", "out_a"),
             ("lif_p", "flat"), ("flat", "fc"), ("fc", "lif_o"), ("lif_o", "out"),
             ("lif_p", "flat1"), ("flat1", "conv1"), ("conv1", "lif_1"), ("lif_1", "out_1")]
    return (nir.NIRGraph(nodes=nodes, edges=edges, type_check=False),
            {"input": (2, 6, 6), "conv": (2, 6, 6), "pool": (4, 6, 6), "avg": (4, 6, 6),
             "conv1": (4, 9)})


def _write(graph, path: Path) -> Path:
    nir.write(path, graph)
    return path


def exportable(flat):
    """``flat`` without the monitors NIR has no output for (v of spiking, u of any lif)."""
    keep = []
    for pop, var in flat.monitors:
        p = flat.pops[pop]
        spiking = p.kind != "lif" or bool(np.all(p.v_th < 1e300))
        if var == ("spikes" if spiking else "v"):
            keep.append((pop, var))
    flat.monitors = keep
    return flat


def _node_types(graph) -> set[str]:
    return {type(n).__name__ for n in graph.nodes.values()}


def test_graphs_cover_every_supported_node_type():
    kinds = _node_types(graph_dense(0)[0]) | _node_types(graph_conv(0)[0])
    assert kinds == ALL_NODE_TYPES


# --------------------------------------------------------------------------- equivalence
@pytest.mark.parametrize("make,dt,seed", [(graph_dense, 0.5, 1), (graph_dense, 0.5, 2),
                                          (graph_dense, 1.0, 3), (graph_conv, 1.0, 4)])
def test_cpu_float_backend_matches_nir_equations(tmp_path, make, dt, seed):
    graph, shapes = make(seed)
    model = _write(graph, tmp_path / "model.nir")
    out, _ = import_file(model, tmp_path / "net.yaml", dt=dt)
    steps = 60
    rng = np.random.default_rng(seed)
    n_in = int(np.prod(shapes["input"]))
    spikes = (rng.random((steps, n_in)) < 0.35).astype(np.uint8)
    ours = simulate_imported(out, tmp_path, {"input": spikes}, steps)
    ref = nir_reference(nir.read(model), dt, {"input": spikes}, steps, shapes)
    active = 0
    for out_name, values in ref.items():
        source = next(a for a, b in graph.edges if b == out_name)
        kind = type(graph.nodes[source]).__name__
        if kind in ("LIF", "CubaLIF", "IF", "Threshold"):
            np.testing.assert_array_equal(ours[f"{source}.spikes"], values, err_msg=source)
            active += int(values.sum() > 0)
        else:
            np.testing.assert_allclose(ours[f"{source}.v"], values, rtol=1e-9, atol=1e-9,
                                       err_msg=source)
            assert np.any(values != 0), f"{source} never moved; the test would not see a bug"
    assert active >= 2, "too few spiking outputs fired for the comparison to mean anything"


def test_layered_graph_is_the_instantaneous_simulation_shifted_by_depth(tmp_path):
    """snnTorch-style (no transmission delay) equals ours shifted by one step per layer."""
    rng = np.random.default_rng(5)
    w1, w2 = rng.normal(0, 1.5, (8, 5)), rng.normal(0, 1.5, (4, 8))
    b1, b2 = rng.normal(0.1, 0.2, 8), rng.normal(0.1, 0.2, 4)
    beta1, beta2 = 0.8, 0.9
    graph = nir.NIRGraph(nodes={
        "input": nir.Input(input_type=np.array([5])), "fc1": nir.Affine(weight=w1, bias=b1),
        "l1": nir.LIF(tau=np.full(8, 1 / (1 - beta1)), r=np.full(8, 1 / (1 - beta1)),
                      v_leak=np.zeros(8), v_threshold=np.ones(8)),
        "fc2": nir.Affine(weight=w2, bias=b2),
        "l2": nir.LIF(tau=np.full(4, 1 / (1 - beta2)), r=np.full(4, 1 / (1 - beta2)),
                      v_leak=np.zeros(4), v_threshold=np.ones(4)),
        "out": nir.Output(output_type=np.array([4]))},
        edges=[("input", "fc1"), ("fc1", "l1"), ("l1", "fc2"), ("fc2", "l2"), ("l2", "out")],
        type_check=False)
    out, _ = import_file(_write(graph, tmp_path / "m.nir"), tmp_path / "net.yaml")
    data = yaml.safe_load(out.read_text())
    data["monitors"] += [{"population": "l1", "var": "v"}, {"population": "l2", "var": "v"}]
    out.write_text(yaml.safe_dump(data))
    steps = 80
    x = (rng.random((steps, 5)) < 0.4).astype(np.uint8)
    ours = simulate_imported(out, tmp_path, {"input": x}, steps)
    v1, v2, z2, m1, m2 = np.zeros(8), np.zeros(4), [], [], []
    for t in range(steps):  # snnTorch Leaky, reset to zero, no delay between layers
        v1 = beta1 * v1 + w1 @ x[t] + b1
        s1 = v1 > 1
        v1[s1] = 0
        v2 = beta2 * v2 + w2 @ s1 + b2
        s2 = v2 > 1
        v2[s2] = 0
        z2.append(s2)
        m1.append(v1.copy())
        m2.append(v2.copy())
    z2 = np.array(z2, dtype=np.uint8)
    assert z2.sum() > 5
    np.testing.assert_array_equal(ours["l2.spikes"][2:], z2[:-2])
    np.testing.assert_allclose(ours["l1.v"][1:], np.array(m1)[:-1], atol=1e-9)
    np.testing.assert_allclose(ours["l2.v"][2:], np.array(m2)[:-2], atol=1e-9)
    assert not np.any(ours["l2.v"][:2]), "layer 2 moved before its first input could arrive"


# --------------------------------------------------------------------------- NIR -> IR -> NIR
def _assert_same_graph(a, b):
    assert set(a.nodes) == set(b.nodes)
    assert sorted(a.edges) == sorted(b.edges)
    for name, node in a.nodes.items():
        other = b.nodes[name]
        assert type(node) is type(other), name
        for key, value in node.to_dict().items():
            if key in ("metadata", "type"):
                continue
            np.testing.assert_array_equal(np.asarray(value), np.asarray(other.to_dict()[key]),
                                          err_msg=f"{name}.{key}")


@pytest.mark.parametrize("make", [graph_dense, graph_conv])
def test_nir_ir_nir_keeps_every_parameter(tmp_path, make):
    graph, _ = make(11)
    model = _write(graph, tmp_path / "m.nir")
    yaml_path, _ = import_file(model, tmp_path / "net.yaml", dt=0.5 if make is graph_dense else 1.0)
    back, notes = export_file(yaml_path, tmp_path / "back.nir")
    assert not [n for n in notes if "not used" in n], notes
    _assert_same_graph(nir.read(model), nir.read(back))


def _random_chain(seed: int):
    """A random chain of every neuron and weight node type with recurrent edges."""
    rng = np.random.default_rng(seed)
    size = int(rng.integers(2, 7))
    nodes = {"in": nir.Input(input_type=np.array([size]))}
    edges = []
    prev = "in"
    spiking = ["LIF", "CubaLIF", "IF", "Threshold"]
    order = list(rng.permutation(spiking)) + [rng.choice(["LI", "CubaLI", "I"])]
    for i, kind in enumerate(order):
        n = int(rng.integers(1, 7))
        head = prev
        if rng.random() < 0.5:
            nodes[f"d{i}"] = nir.Delay(delay=rng.integers(0, 3, size).astype(float))
            edges.append((head, f"d{i}"))
            head = f"d{i}"
        biased = kind in ("LIF", "IF", "Threshold", "LI", "I") and rng.random() < 0.5
        wname = f"w{i}"
        nodes[wname] = (nir.Affine(weight=rng.normal(0, 1, (n, size)), bias=rng.normal(0, .1, n))
                        if biased and head == prev else nir.Linear(weight=rng.normal(0, 1, (n, size))))
        edges.append((head, wname))
        head = wname
        if rng.random() < 0.5:
            nodes[f"s{i}"] = nir.Scale(scale=rng.uniform(0.5, 2, n))
            edges.append((head, f"s{i}"))
            head = f"s{i}"
        name = f"n{i}"
        if kind == "LIF":
            nodes[name] = _lif(rng, n)
        elif kind in ("CubaLIF", "CubaLI"):
            nodes[name] = _cuba(rng, n, spiking=kind == "CubaLIF")
        elif kind == "IF":
            nodes[name] = nir.IF(r=rng.uniform(0.5, 2, n), v_threshold=rng.uniform(0.5, 2, n))
        elif kind == "Threshold":
            nodes[name] = nir.Threshold(threshold=rng.uniform(0.1, 1, n))
        elif kind == "LI":
            nodes[name] = nir.LI(tau=np.full(n, 3.0), r=rng.uniform(0.5, 2, n), v_leak=rng.normal(0, .1, n))
        else:
            nodes[name] = nir.I(r=rng.uniform(0.5, 2, n))
        edges.append((head, name))
        if kind in ("LIF", "CubaLIF", "IF") and rng.random() < 0.5:
            nodes[f"r{i}"] = nir.Linear(weight=rng.normal(0, 0.5, (n, n)))
            edges += [(name, f"r{i}"), (f"r{i}", name)]
        prev, size = name, n
    nodes["out"] = nir.Output(output_type=np.array([size]))
    edges.append((prev, "out"))
    return nir.NIRGraph(nodes=nodes, edges=edges, type_check=False)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**31 - 1))
def test_generated_chains_round_trip(tmp_path_factory, seed):
    tmp = tmp_path_factory.mktemp("chain")
    graph = _random_chain(seed)
    model = _write(graph, tmp / "m.nir")
    yaml_path, _ = import_file(model, tmp / "net.yaml")
    back, notes = export_file(yaml_path, tmp / "back.nir")
    assert not [n for n in notes if "not used" in n], notes
    _assert_same_graph(nir.read(model), nir.read(back))
    # Without the source graph the canonical form is written; it is the same network.
    (tmp / "net.source.nir").unlink()
    canon, _ = export_file(yaml_path, tmp / "canon.nir")
    again, _ = import_file(canon, tmp / "again.yaml")
    assert differences(from_network(load_network(again)), from_network(load_network(yaml_path))) == []


def test_export_after_editing_the_ir_follows_the_edit_and_keeps_nir_factors(tmp_path):
    graph, _ = graph_dense(7)
    model = _write(graph, tmp_path / "m.nir")
    yaml_path, _ = import_file(model, tmp_path / "net.yaml", dt=0.5)
    weights = tmp_path / "net.fc2.npy"
    np.save(weights, np.load(weights) * 2.0)
    data = yaml.safe_load(yaml_path.read_text())
    data["populations"]["lif1"]["params"]["v_th"] = 2.0
    data["populations"]["lif1"]["params"]["tau_mem"] *= 2
    yaml_path.write_text(yaml.safe_dump(data))
    back, notes = export_file(yaml_path, tmp_path / "back.nir")
    assert not [n for n in notes if "not used" in n], notes
    src, new = nir.read(model), nir.read(back)
    np.testing.assert_allclose(new.nodes["fc2"].weight, 2 * src.nodes["fc2"].weight, rtol=1e-12)
    np.testing.assert_array_equal(new.nodes["cuba"].r, src.nodes["cuba"].r)
    np.testing.assert_array_equal(new.nodes["cuba"].w_in, src.nodes["cuba"].w_in)
    # lif1's tau doubled: its gain dt/tau * r halves, so fc1's W doubles to keep the IR weights
    np.testing.assert_array_equal(new.nodes["lif1"].tau, 2 * src.nodes["lif1"].tau)
    np.testing.assert_allclose(new.nodes["fc1"].weight, 2 * src.nodes["fc1"].weight, rtol=1e-12)
    np.testing.assert_array_equal(new.nodes["fc3"].weight, src.nodes["fc3"].weight)
    np.testing.assert_array_equal(new.nodes["lif1"].v_threshold, np.full(7, 2.0))
    np.testing.assert_array_equal(new.nodes["lif1"].r, src.nodes["lif1"].r)


# --------------------------------------------------------------------------- IR -> NIR -> IR
def _random_ir(seed: int) -> str:
    """IR text covering lif (LIF, CubaLIF, IF, LI kinds), sources, delays, connectivities."""
    rng = np.random.default_rng(seed)
    dt = float(rng.choice([0.5, 1.0]))
    kinds = list(rng.permutation(["lif", "cuba", "if", "li"]))
    pops = ["  src: {kind: spike_source, size: %d}" % rng.integers(1, 8),
            "  bg: {kind: poisson, size: 3, rate: [10.0, 20.0, 30.5]}"]
    names = []
    for i, kind in enumerate(kinds):
        n = int(rng.integers(1, 8))
        tau_syn = dt if kind in ("lif", "if", "li") else round(float(rng.uniform(dt * 1.5, 10)), 3)
        tau_mem = dt * 2.0 ** 60 if kind == "if" else round(float(rng.uniform(dt, 30)), 3)
        v_th = 1.7976931348623157e308 if kind == "li" else [round(float(x), 4) for x in rng.uniform(0.2, 2, n)]
        bias = [round(float(x), 4) for x in rng.normal(0, 0.2, n)] if kind not in ("if", "cuba") else 0.0
        refr = ", refractory: 2" if kind == "lif" and rng.random() < 0.5 else ""
        pops.append(f"  p{i}: {{kind: lif, size: {n}, params: {{tau_syn: {tau_syn!r}, tau_mem: "
                    f"{tau_mem!r}, v_th: {v_th}, bias: {bias}{refr}}}}}")
        names.append((f"p{i}", kind))
    projs, prev = [], "src"
    for i, (name, kind) in enumerate(names):
        conn = rng.choice(["dense", "{sparse: 0.5}"])
        delay = rng.choice(["0", "2", "{low: 0, high: 3}"])
        projs.append(f"  f{i}: {{pre: {prev}, post: {name}, connectivity: {conn}, "
                     f"weights: {{init: normal, std: 1.0}}, delay: {delay}}}")
        if kind != "li":
            prev = name
    projs.append(f"  bgp: {{pre: bg, post: {names[0][0]}, connectivity: {{sparse: 0.7}}}}")
    spiking = [n for n, k in names if k != "li"]
    projs.append(f"  rec: {{pre: {spiking[0]}, post: {spiking[0]}, connectivity: dense, "
                 "weights: {init: uniform, low: -0.5, high: 0.5}}")
    monitors = [f"{{population: {n}, var: {'v' if k == 'li' else 'spikes'}}}" for n, k in names]
    return (f"neurodeploy: 1\nname: gen{seed}\nseed: {seed}\ndt: {dt}\npopulations:\n"
            + "\n".join(pops) + "\nprojections:\n" + "\n".join(projs)
            + f"\nmonitors: [{', '.join(monitors)}, {{population: src, var: spikes}}]\n"
            "noise: {membrane: {sigma: 0.01}}\nrun: {steps: 37}\n")


@pytest.mark.parametrize("seed", range(12))
def test_ir_nir_ir_same_network(tmp_path, seed):
    src = tmp_path / "orig.yaml"
    src.write_text(_random_ir(seed))
    original = from_network(load_network(src))
    model, notes = export_file(src, tmp_path / "m.nir")
    assert any("noise" in n for n in notes)
    back, _ = import_file(model, tmp_path / "back.yaml")
    net = load_network(back)
    assert differences(from_network(net), original) == []
    assert (net.name, net.seed, net.run.steps, net.dt) == (original.name, original.seed, 37, original.dt)
    assert net.noise.membrane is not None and net.noise.membrane.sigma == 0.01
    kinds = {type(n).__name__ for n in nir.read(model).nodes.values()}
    assert {"LIF", "CubaLIF", "IF", "LI", "Input", "Output", "Linear", "Delay"} <= kinds


@pytest.mark.parametrize("seed", range(4))
def test_random_networks_round_trip_through_nir(tmp_path, seed):
    src = tmp_path / "orig.yaml"
    src.write_text(random_network_yaml(100 + seed, max_size=12))
    original = exportable(from_network(load_network(src)))
    model, _ = export_file(src, tmp_path / "m.nir")
    back, _ = import_file(model, tmp_path / "back.yaml")
    assert differences(from_network(load_network(back)), original) == []


def test_plasticity_and_task_survive_ir_nir_ir(tmp_path):
    src = EXAMPLES / "digits_fa.yaml"
    original = load_network(src)
    assert original.plasticity, "the example should carry a plasticity block"
    model, notes = export_file(src, tmp_path / "m.nir")
    assert any("plasticity" in n and "metadata" in n for n in notes)
    back = load_network(import_file(model, tmp_path / "back.yaml")[0])
    assert back.plasticity == original.plasticity and back.task == original.task
    assert differences(from_network(back), exportable(from_network(original))) == []


def test_float_build_exports_the_same_network(tmp_path):
    src = tmp_path / "orig.yaml"
    src.write_text(_random_ir(3).replace("noise: {membrane: {sigma: 0.01}}\n", ""))
    build = compile_network(load_network(src), load_profile("cpu"), tmp_path / "b").out
    model, notes = export_file(build, tmp_path / "m.nir")
    back, _ = import_file(model, tmp_path / "back.yaml")
    assert differences(from_network(load_network(back)), exportable(from_build(build)),
                       rtol=1e-9) == []


def test_fixed_build_exports_dequantized(tmp_path):
    src = tmp_path / "orig.yaml"
    src.write_text(random_network_yaml(7, max_size=10, delays=False))
    build = compile_network(load_network(src), load_profile("loihi2"), tmp_path / "b").out
    model, notes = export_file(build, tmp_path / "m.nir")
    assert any("dequantized" in n for n in notes)
    meta = json.loads(nir.read(model).metadata["neurodeploy_ir"])
    assert meta["build"]["profile"] == "loihi2"
    back = from_network(load_network(import_file(model, tmp_path / "back.yaml")[0]))
    flat = exportable(from_build(build))
    assert differences(back, flat, rtol=1e-9) == []
    orig = from_network(load_network(src))
    for name, proj in orig.projs.items():  # dequantized weights are close to the float ones
        step = np.abs(proj.weights).max() / 100
        assert np.max(np.abs(flat.projs[name].weights - proj.weights)) <= step


# --------------------------------------------------------------------------- errors
def _cli(capsys, *argv) -> tuple[int, str]:
    code = main(list(argv))
    err = capsys.readouterr().err.strip()
    return code, err


def _small():
    return {"input": nir.Input(input_type=np.array([3])), "fc": nir.Linear(weight=np.ones((2, 3))),
            "lif": nir.LIF(tau=np.full(2, 5.0), r=np.ones(2), v_leak=np.zeros(2),
                           v_threshold=np.ones(2)), "out": nir.Output(output_type=np.array([2]))}


EDGES = [("input", "fc"), ("fc", "lif"), ("lif", "out")]


def test_truncated_hdf5_is_exit_1(tmp_path, capsys):
    good = _write(nir.NIRGraph(nodes=_small(), edges=EDGES, type_check=False), tmp_path / "g.nir")
    bad = tmp_path / "bad.nir"
    bad.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    code, err = _cli(capsys, "import-nir", str(bad), "-o", str(tmp_path / "net.yaml"))
    assert code == 1 and "cannot read the file as NIR" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "net.yaml").exists()


def _malformed(tmp_path, nodes, edges) -> Path:
    return _write(nir.NIRGraph(nodes=nodes, edges=edges, type_check=False), tmp_path / "m.nir")


def _set_type(path: Path, node: str, new: str) -> None:
    with h5py.File(path, "r+") as f:
        del f["node"]["nodes"][node]["type"]
        f["node"]["nodes"][node].create_dataset("type", data=new, dtype=h5py.string_dtype())


def _dense_with(**change):
    nodes = _small()
    nodes.update(change)
    return nodes


CASES = {
    "missing edge target": (_small(), EDGES + [("lif", "ghost")], "refers to node 'ghost'"),
    "shape mismatch": (_dense_with(fc=nir.Linear(weight=np.ones((2, 4)))), EDGES,
                       "edge ('input', 'fc'): shape mismatch"),
    "v_reset": (_dense_with(lif=nir.LIF(tau=np.full(2, 5.0), r=np.ones(2), v_leak=np.zeros(2),
                                        v_threshold=np.ones(2), v_reset=np.full(2, 0.2))),
                EDGES, "node 'lif' (LIF): v_reset is not 0"),
    "per-neuron tau": (_dense_with(lif=nir.LIF(tau=np.array([5.0, 6.0]), r=np.ones(2),
                                               v_leak=np.zeros(2), v_threshold=np.ones(2))),
                       EDGES, "node 'lif' (LIF): tau varies per neuron"),
    "tau below dt": (_dense_with(lif=nir.LIF(tau=np.full(2, 0.5), r=np.ones(2), v_leak=np.zeros(2),
                                             v_threshold=np.ones(2))), EDGES, "shorter than dt"),
    "negative threshold": (_dense_with(lif=nir.LIF(tau=np.full(2, 5.0), r=np.ones(2),
                                                   v_leak=np.zeros(2), v_threshold=-np.ones(2))),
                           EDGES, "node 'lif' (LIF): v_threshold must be > 0"),
    "fractional delay": (_dense_with(d=nir.Delay(delay=np.full(3, 0.3))),
                         [("input", "d"), ("d", "fc"), ("fc", "lif"), ("lif", "out")],
                         "node 'd' (Delay): delay 0.3 is not a whole number"),
    "non-spiking source": (_dense_with(lif=nir.LI(tau=np.full(2, 5.0), r=np.ones(2), v_leak=np.zeros(2)),
                                       fc2=nir.Linear(weight=np.ones((2, 2))),
                                       lif2=nir.IF(r=np.ones(2), v_threshold=np.ones(2))),
                           EDGES + [("lif", "fc2"), ("fc2", "lif2")],
                           "node 'lif' (LI) does not spike"),
    "readout transform": (_small(), [("input", "fc"), ("fc", "lif"), ("fc", "out")],
                          "Output 'out' is fed by 'input' through fc"),
    "stateless loop": (_dense_with(fc2=nir.Linear(weight=np.ones((2, 2))),
                                   sc=nir.Scale(scale=np.ones(2))),
                       EDGES + [("fc2", "sc"), ("sc", "fc2"), ("lif", "fc2")], "loop of stateless"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_unmappable_graphs_are_exit_1_with_the_node(tmp_path, capsys, case):
    nodes, edges, expected = CASES[case]
    model = _malformed(tmp_path, nodes, edges)
    code, err = _cli(capsys, "import-nir", str(model), "-o", str(tmp_path / "net.yaml"))
    assert code == 1, err
    assert expected in err and len(err.splitlines()) == 1, err
    assert not list(tmp_path.glob("net*")), "nothing may be written on error"


def test_unknown_node_type_is_exit_1(tmp_path, capsys):
    model = _malformed(tmp_path, _small(), EDGES)
    _set_type(model, "fc", "Quantum")
    code, err = _cli(capsys, "import-nir", str(model), "-o", str(tmp_path / "net.yaml"))
    assert code == 1 and "node 'fc' has unknown type 'Quantum'" in err


def test_missing_field_is_exit_1(tmp_path, capsys):
    model = _malformed(tmp_path, _small(), EDGES)
    with h5py.File(model, "r+") as f:
        del f["node"]["nodes"]["lif"]["tau"]
    code, err = _cli(capsys, "import-nir", str(model), "-o", str(tmp_path / "net.yaml"))
    assert code == 1 and "node 'lif' (LIF) is malformed" in err


def test_not_a_file_and_bad_output(tmp_path, capsys):
    code, err = _cli(capsys, "import-nir", str(tmp_path / "none.nir"), "-o", str(tmp_path / "n.yaml"))
    assert code == 1 and "NIR file not found" in err
    (tmp_path / "x.nir").write_text("not hdf5")
    code, err = _cli(capsys, "import-nir", str(tmp_path / "x.nir"), "-o", str(tmp_path / "n.yaml"))
    assert code == 1 and "cannot read the file as NIR" in err
    code, err = _cli(capsys, "export-nir", str(tmp_path / "nothing"), "-o", str(tmp_path / "o.nir"))
    assert code == 1 and "not found" in err


def test_cli_round_trip_prints_notes(tmp_path, capsys):
    src = tmp_path / "orig.yaml"
    src.write_text(_random_ir(1))
    assert main(["export-nir", str(src), "-o", str(tmp_path / "m.nir")]) == 0
    out = capsys.readouterr().out
    assert "note: noise" in out and "wrote" in out
    assert main(["import-nir", str(tmp_path / "m.nir"), "-o", str(tmp_path / "b.yaml")]) == 0
    assert (tmp_path / "b.yaml").exists() and (tmp_path / "b.source.nir").exists()


def _recurrent_sub(rng, inner_edges=None, extra_input=False):
    nodes = {"input": nir.Input(input_type=np.array([4])),
             "lif": nir.CubaLIF(tau_syn=np.full(4, 2.0), tau_mem=np.full(4, 4.0), r=np.full(4, 4.0),
                                v_leak=np.zeros(4), v_threshold=np.ones(4), w_in=np.full(4, 2.0)),
             "w_rec": nir.Affine(weight=rng.normal(0, 0.5, (4, 4)), bias=np.full(4, 0.05)),
             "output": nir.Output(output_type=np.array([4]))}
    if extra_input:
        nodes["input2"] = nir.Input(input_type=np.array([4]))
    edges = inner_edges or [("input", "lif"), ("lif", "w_rec"), ("w_rec", "lif"), ("lif", "output")]
    return nir.NIRGraph(nodes=nodes, edges=edges, type_check=False)


def _with_sub(sub, rng):
    nodes = {"input": nir.Input(input_type=np.array([3])),
             "fc1": nir.Linear(weight=rng.normal(0, 1, (4, 3))), "rl": sub,
             "fc2": nir.Linear(weight=rng.normal(0, 1, (2, 4))),
             "lif2": nir.LIF(tau=np.full(2, 3.0), r=np.full(2, 3.0), v_leak=np.zeros(2),
                             v_threshold=np.ones(2)),
             "output": nir.Output(output_type=np.array([2]))}
    edges = [("input", "fc1"), ("fc1", "rl"), ("rl", "fc2"), ("fc2", "lif2"), ("lif2", "output")]
    return nir.NIRGraph(nodes=nodes, edges=edges, type_check=False)


def test_nested_graphs_are_inlined(tmp_path):
    """snnTorch writes RLeaky/RSynaptic as a subgraph; it imports as its inlined form."""
    rng = np.random.default_rng(9)
    nested = _with_sub(_recurrent_sub(rng), np.random.default_rng(10))
    sub = nested.nodes["rl"]
    flat_nodes = {k: v for k, v in nested.nodes.items() if k != "rl"}
    flat_nodes.update({"rl_lif": sub.nodes["lif"], "rl_w_rec": sub.nodes["w_rec"]})
    flat = nir.NIRGraph(nodes=flat_nodes, edges=[
        ("input", "fc1"), ("fc1", "rl_lif"), ("rl_lif", "rl_w_rec"), ("rl_w_rec", "rl_lif"),
        ("rl_lif", "fc2"), ("fc2", "lif2"), ("lif2", "output")], type_check=False)
    a, _ = import_file(_write(nested, tmp_path / "nested.nir"), tmp_path / "a.yaml")
    b, _ = import_file(_write(flat, tmp_path / "flat.nir"), tmp_path / "b.yaml")
    na, nb = from_network(load_network(a)), from_network(load_network(b))
    assert "rl_lif" in na.pops and differences(na, nb) == []


@pytest.mark.parametrize("inner,extra,expected", [
    ([("input", "lif"), ("lif", "w_rec"), ("w_rec", "lif"), ("lif", "output"), ("w_rec", "ghost")],
     False, "refers to node 'rl.ghost'"),
    (None, True, "subgraph 'rl', which has 2 Input nodes"),
])
def test_malformed_nested_graphs_are_exit_1(tmp_path, capsys, inner, extra, expected):
    rng = np.random.default_rng(1)
    graph = _with_sub(_recurrent_sub(rng, inner, extra), rng)
    model = _write(graph, tmp_path / "m.nir")
    code, err = _cli(capsys, "import-nir", str(model), "-o", str(tmp_path / "net.yaml"))
    assert code == 1 and expected in err, err


def test_export_refuses_a_bias_without_leak(tmp_path, capsys):
    src = tmp_path / "net.yaml"
    src.write_text("neurodeploy: 1\nname: x\npopulations:\n  a: {kind: lif, size: 2, params: "
                   "{tau_syn: 1.0, tau_mem: 1.152921504606847e+18, bias: 0.5}}\n")
    code, err = _cli(capsys, "export-nir", str(src), "-o", str(tmp_path / "m.nir"))
    assert code == 1 and "population 'a' has a bias but no leak" in err
    assert not (tmp_path / "m.nir").exists()


def test_conv_too_large_is_refused(tmp_path):
    graph = nir.NIRGraph(nodes={
        "input": nir.Input(input_type=np.array([64, 128, 128])),
        "conv": nir.Conv2d(input_shape=(128, 128), weight=np.ones((64, 64, 3, 3)), stride=1,
                           padding=1, dilation=1, groups=1, bias=np.zeros(64)),
        "lif": nir.IF(r=np.ones((64, 128, 128)), v_threshold=np.ones((64, 128, 128)))},
        edges=[("input", "conv"), ("conv", "lif")], type_check=False)
    with pytest.raises(NirError, match="node 'conv' \\(Conv2d\\) unrolls to a"):
        import_file(_write(graph, tmp_path / "big.nir"), tmp_path / "net.yaml")
