"""NIR commands on hostile input: one line, exit 1, nothing written, or the correct result."""
from __future__ import annotations

import json
import resource
from pathlib import Path

import h5py
import nir
import numpy as np
import pytest

from neurodeploy.cli import main
from neurodeploy.compiling import compile_network
from neurodeploy.ir import load_network
from neurodeploy.nir import export_file, import_file
from neurodeploy.nir.flat import differences, from_network
from neurodeploy.profiles import load_profile

from .conftest import EXAMPLES


def _cli(capsys, *argv) -> tuple[int, str]:
    code = main([str(a) for a in argv])
    return code, capsys.readouterr().err.strip()


def _graph(meta: dict | None = None) -> nir.NIRGraph:
    nodes = {"input": nir.Input(input_type=np.array([3])),
             "fc": nir.Affine(weight=np.full((2, 3), 0.5), bias=np.array([0.1, 0.2])),
             "lif": nir.LIF(tau=np.full(2, 5.0), r=np.ones(2), v_leak=np.zeros(2),
                            v_threshold=np.ones(2)),
             "out": nir.Output(output_type=np.array([2]))}
    return nir.NIRGraph(nodes=nodes, edges=[("input", "fc"), ("fc", "lif"), ("lif", "out")],
                        metadata={"neurodeploy_ir": json.dumps(meta)} if meta else {},
                        type_check=False)


def _written(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()}


def _refused(capsys, folder: Path, *argv, match: str) -> None:
    """The command exits 1 with one error line containing ``match`` and writes nothing."""
    before = {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    code, err = _cli(capsys, *argv)
    assert code == 1, err
    assert len(err.splitlines()) == 1 and err.startswith("error: ") and match in err, err
    after = {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    assert after == before, "a refused command changed or added files"


# --------------------------------------------------------------------------- data loss
def test_export_never_writes_onto_its_input(tmp_path, capsys):
    net = tmp_path / "net.yaml"
    net.write_text((EXAMPLES / "feedforward.yaml").read_text())
    _refused(capsys, tmp_path, "export-nir", net, "-o", net, match="must be a .nir file")
    assert main(["import-nir", str(_write(_graph(), tmp_path / "m.nir")), "-o",
                 str(tmp_path / "imp.yaml")]) == 0
    _refused(capsys, tmp_path, "export-nir", tmp_path / "imp.yaml", "-o",
             tmp_path / "imp.source.nir", match="is an input of this export")


def test_export_never_writes_into_a_build(tmp_path, capsys):
    build = compile_network(load_network(EXAMPLES / "feedforward.yaml"), load_profile("cpu"),
                            tmp_path / "b").out
    _refused(capsys, tmp_path, "export-nir", build, "-o", build / "manifest.json",
             match="must be a .nir file")
    _refused(capsys, tmp_path, "export-nir", build, "-o", build / "net.nir",
             match="inside the build directory")
    _refused(capsys, tmp_path, "export-nir", EXAMPLES / "feedforward.yaml", "-o",
             build / "net.nir", match="inside the build directory")


def test_export_of_a_learning_build_is_its_inference_network(tmp_path, capsys):
    """A build with a learning pathway exports the network it infers with, and says so."""
    build = compile_network(load_network(EXAMPLES / "digits_fa.yaml"), load_profile("cpu"),
                            tmp_path / "b").out
    code = main(["export-nir", str(build), "-o", str(tmp_path / "m.nir")])
    out = capsys.readouterr().out
    assert code == 0 and "inference network only" in out and "learn_error" in out
    graph = nir.read(tmp_path / "m.nir")
    kinds = {n: type(v).__name__ for n, v in graph.nodes.items()}
    assert {n for n, k in kinds.items() if k in ("Input", "CubaLIF", "LIF")} == \
        {"input", "hidden", "output"}
    assert not any(n.startswith("learn") for n in kinds)
    assert main(["import-nir", str(tmp_path / "m.nir"), "-o", str(tmp_path / "back.yaml")]) == 0


# --------------------------------------------------------------------------- metadata
@pytest.mark.parametrize("meta, field", [
    ({"extras": {"projections": {"x": {"pre": "input", "post": "lif"}}}}, "extras.projections"),
    ({"extras": {"populations": {}}}, "extras.populations"),
    ({"seed": "abc"}, "seed"), ({"seed": 1.5}, "seed"), ({"steps": -3}, "steps"),
    ({"dt": "fast"}, "dt"), ({"poisson": {"nope": 5.0}}, "poisson.nope"),
    ({"refractory": {"lif": 2.5}}, "refractory.lif"), ({"extras": []}, "extras")])
def test_metadata_never_overrides_the_graph(tmp_path, capsys, meta, field):
    model = _write(_graph(meta), tmp_path / "m.nir")
    _refused(capsys, tmp_path, "import-nir", model, "-o", tmp_path / "net.yaml",
             match=f"'neurodeploy_ir'.{field}:")


def test_metadata_that_fits_the_graph_is_restored(tmp_path):
    model = _write(_graph({"seed": 4, "steps": 7, "refractory": {"lif": 2}}), tmp_path / "m.nir")
    assert main(["import-nir", str(model), "-o", str(tmp_path / "net.yaml")]) == 0
    net = load_network(tmp_path / "net.yaml")
    assert net.seed == 4 and net.run.steps == 7
    assert net.populations["lif"].params.refractory == 2
    np.testing.assert_array_equal(np.load(tmp_path / "net.fc.npy"), np.full((2, 3), 0.5 * 0.2))


# --------------------------------------------------------------------------- bombs
def _declare(model: Path, node: str, field: str, shape: tuple) -> Path:
    """Replace one dataset by a declared-only (never written, compressed) one of ``shape``."""
    with h5py.File(model, "r+") as f:
        path = f"node/nodes/{node}/{field}"
        del f[path]
        f.create_dataset(path, shape=shape, dtype="f8", chunks=(64, 64), compression="gzip")
    return model


@pytest.mark.parametrize("shape", [(20000, 20000), (100000, 100000)])
def test_declared_giant_arrays_are_refused_before_reading(tmp_path, capsys, shape):
    """A KB-sized file declaring 3.2 GB (or 80 GB) of weights: exit 1 before allocating."""
    model = _declare(_write(_graph(), tmp_path / "m.nir"), "fc", "weight", shape)
    assert model.stat().st_size < 100_000
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    _refused(capsys, tmp_path, "import-nir", model, "-o", tmp_path / "net.yaml",
             match="refused before reading")
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak < 200_000  # KB


def test_a_huge_declared_input_size_is_refused(tmp_path, capsys):
    graph = _graph()
    graph.nodes["input"] = nir.Input(input_type=np.array([10 ** 9]))
    model = _write(graph, tmp_path / "m.nir")
    _refused(capsys, tmp_path, "import-nir", model, "-o", tmp_path / "net.yaml",
             match="node 'input' (Input) has shape (1000000000,)")


def _write(graph: nir.NIRGraph, path: Path) -> Path:
    nir.write(path, graph)
    return path


# --------------------------------------------------------------------------- export options
@pytest.mark.parametrize("seed", range(3))
def test_export_options_write_the_same_network(tmp_path, seed):
    """--time-unit s and --r-one change how the graph is written, not the network: it comes
    back identical (in ms), nodes are in topological order, times are in seconds."""
    from .test_nir import _random_ir, exportable

    src = tmp_path / "orig.yaml"
    src.write_text(_random_ir(seed))
    original = exportable(from_network(load_network(src)))
    model, _ = export_file(src, tmp_path / "m.nir", time_unit="s", r_one=True)
    graph = nir.read(model)
    order = list(graph.nodes)
    kinds = {n: type(v).__name__ for n, v in graph.nodes.items()}
    assert all(order.index(a) < order.index(b) for a, b in graph.edges
               if kinds[b] not in ("LIF", "CubaLIF", "IF", "LI", "I", "CubaLI"))
    assert [kinds[n] for n in order if kinds[n] == "Output"] == \
        [kinds[n] for n in order[-sum(k == "Output" for k in kinds.values()):]]
    for name, node in graph.nodes.items():
        if kinds[name] in ("LIF", "LI", "IF", "I"):
            assert np.all(node.r == 1), name
        if kinds[name] in ("LIF", "LI"):
            tau = original.pops[name].tau_mem
            np.testing.assert_allclose(node.tau, tau * 1e-3, rtol=1e-12)
    back, _ = import_file(model, tmp_path / "back.yaml")
    net = load_network(back)
    assert net.dt == original.dt
    assert differences(from_network(net), original, rtol=1e-9) == []


def test_record_writes_one_output(tmp_path, capsys):
    src = EXAMPLES / "feedforward.yaml"
    code = main(["export-nir", str(src), "-o", str(tmp_path / "m.nir"), "--record", "hidden"])
    assert code == 0 and "not exported: output (no path into hidden" in capsys.readouterr().out
    graph = nir.read(tmp_path / "m.nir")  # NIR would give the leaf 'output' an Output of its own
    assert "output" not in graph.nodes
    outputs = [(a, b) for a, b in graph.edges if type(graph.nodes[b]).__name__ == "Output"]
    assert outputs == [("hidden", "hidden_spikes")]
    _refused(capsys, tmp_path, "export-nir", src, "-o", tmp_path / "x.nir", "--record", "nope",
             match="--record nope: no such population")


def test_exact_integrator_maps_lif_and_refuses_cubalif(tmp_path, capsys):
    """--integrator exact: dv = 1 - exp(-dt/tau) for LIF (Sinabs's update); CubaLIF refused."""
    model = _write(_graph(), tmp_path / "m.nir")
    assert main(["import-nir", str(model), "-o", str(tmp_path / "net.yaml"),
                 "--integrator", "exact"]) == 0
    net = load_network(tmp_path / "net.yaml")
    dv = 1 - np.exp(-1 / 5.0)
    assert net.populations["lif"].params.tau_mem == pytest.approx(1 / dv, rel=1e-12)
    np.testing.assert_allclose(np.load(tmp_path / "net.fc.npy"), np.full((2, 3), 0.5 * dv))
    graph = _graph()
    graph.nodes["lif"] = nir.CubaLIF(tau_syn=np.full(2, 2.0), tau_mem=np.full(2, 5.0),
                                     r=np.ones(2), v_leak=np.zeros(2), w_in=np.ones(2),
                                     v_threshold=np.ones(2))
    cuba = _write(graph, tmp_path / "c.nir")
    _refused(capsys, tmp_path, "import-nir", cuba, "-o", tmp_path / "c.yaml", "--integrator",
             "exact", match="--integrator exact maps LIF and LI nodes only")
    assert main(["import-nir", str(cuba), "-o", str(tmp_path / "j.yaml"), "--current-input",
                 "jump"]) == 0  # Norse's LIFCell: the gain has no dt/tau_syn factor
    np.testing.assert_allclose(np.load(tmp_path / "j.fc.npy"), np.full((2, 3), 0.5 / 5.0))
    assert main(["import-nir", str(cuba), "-o", str(tmp_path / "e.yaml")]) == 0
    np.testing.assert_allclose(np.load(tmp_path / "e.fc.npy"), np.full((2, 3), 0.5 / 5.0 / 2.0))
