"""Compile end to end: determinism, atomic writes, core mapping limits, manifest contents."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from neurodeploy.compiling import Build, compile_network
from neurodeploy.errors import CompileError
from neurodeploy.ir import load_network, parse_network
from neurodeploy.profiles import load_profile

from .conftest import EXAMPLES, two_layer


def test_same_input_gives_byte_identical_manifest(tmp_path: Path):
    for profile in ("loihi2", "loihi1", "cpu"):
        a = compile_network(load_network(EXAMPLES / "digits_snn.yaml"), load_profile(profile),
                            tmp_path / f"a-{profile}").out
        b = compile_network(load_network(EXAMPLES / "digits_snn.yaml"), load_profile(profile),
                            tmp_path / f"b-{profile}").out
        assert (a / "manifest.json").read_bytes() == (b / "manifest.json").read_bytes()
        assert (a / "report.json").read_bytes() == (b / "report.json").read_bytes()


def test_seed_changes_weights(tmp_path: Path):
    one = compile_network(parse_network(two_layer()), load_profile("loihi2"), None).manifest
    other = compile_network(parse_network(two_layer().replace("seed: 3", "seed: 4")),
                            load_profile("loihi2"), None).manifest
    assert one["projections"]["p"]["weights"]["sha256"] != other["projections"]["p"]["weights"]["sha256"]


def test_build_contents_round_trip(tmp_path: Path):
    net = load_network(EXAMPLES / "digits_snn.yaml")
    out = compile_network(net, load_profile("loihi2"), tmp_path / "b").out
    build = Build(out)
    m = build.manifest
    assert m["numerics"] == "fixed" and m["profile"]["name"] == "loihi2"
    assert set(m["populations"]) == set(net.populations)
    hidden = m["populations"]["hidden"]
    # tau_syn 5 ms, dt 1 ms: decay 1/5 of 4096 = 819.2 -> 819, minus Lava's du offset 1
    assert hidden["params"]["du"] == 818 and hidden["params"]["dv"] == 205
    assert hidden["params"]["vth"] == round(1.0 * hidden["scale"])
    for name, proj in m["projections"].items():
        w = build.array(proj["weights"])
        assert w.dtype == np.int16 and w.size == proj["n_synapses"]
        if proj["format"] == "dense":
            assert list(w.shape) == proj["shape"]
        else:
            rows, cols = build.array(proj["rows"]), build.array(proj["cols"])
            assert rows.max() < proj["shape"][0] and cols.max() < proj["shape"][1]
            assert np.all(np.diff(rows) >= 0)
    report = json.loads((out / "report.json").read_text())
    assert report["resources"]["cores_used"] == m["cores"]["used"] == 2
    assert "quantization" in (out / "report.txt").read_text()


def test_dequantized_weights_close_to_float(tmp_path: Path):
    net = parse_network(two_layer(n_in=50, n_out=40))
    build = Build(compile_network(net, load_profile("loihi2"), tmp_path / "b").out)
    float_build = Build(compile_network(net, load_profile("cpu"), tmp_path / "f").out)
    proj = build.manifest["projections"]["p"]
    scale = build.manifest["populations"]["out"]["scale"]
    w_fixed = build.array(proj["weights"]) * 2.0 ** proj["weight_exp"] / scale
    w_float = float_build.array(float_build.manifest["projections"]["p"]["weights"])
    step = 2 * 2.0 ** proj["weight_exp"] / scale
    assert np.max(np.abs(w_fixed - w_float)) <= step / 2 + 1e-12
    assert np.abs(w_float).max() > 0.5  # a real spread, not all zeros


def test_failed_compile_leaves_nothing(tmp_path: Path):
    net = parse_network(two_layer(params="{refractory: 2}"))
    with pytest.raises(CompileError, match="refractory"):
        compile_network(net, load_profile("loihi2"), tmp_path / "out")
    assert list(tmp_path.iterdir()) == []


def test_existing_output_needs_force(tmp_path: Path):
    net = parse_network(two_layer())
    compile_network(net, load_profile("loihi2"), tmp_path / "out")
    with pytest.raises(CompileError, match="--force"):
        compile_network(net, load_profile("loihi2"), tmp_path / "out")
    compile_network(net, load_profile("cpu"), tmp_path / "out", force=True)
    assert Build(tmp_path / "out").numerics == "float"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_too_big_network_names_what_overflows():
    # loihi1: 1024 neurons per core, 128 cores; 140 cores' worth of neurons cannot fit.
    net = parse_network(two_layer(n_in=10, n_out=140 * 1024))
    with pytest.raises(CompileError) as info:
        compile_network(net, load_profile("loihi1"), None)
    msg = str(info.value)
    assert "needs 140 cores but loihi1 has 128" in msg and "exceeded by 12" in msg
    assert "populations.out" in msg and "cores.cores_per_chip" in msg
    # The same network fits Loihi 2 (8192 neurons per core).
    ok = compile_network(net, load_profile("loihi2"), None)
    assert ok.report["resources"]["cores_used"] == 18


def test_synapse_limit_splits_population():
    # 2000 inputs dense: a loihi1 core holds 131072 synapses -> 65 neurons per core.
    net = parse_network(two_layer(n_in=2000, n_out=300, weights="{init: uniform, low: -0.01, high: 0.01}"))
    rep = compile_network(net, load_profile("loihi1"), None).report
    out = rep["populations"]["out"]
    assert out["neurons_per_core"] == 65 and out["cores"] == 5
    assert out["limited_by"] == "synapses_per_core"


def test_fanin_per_core_limit_on_crossbar():
    net = parse_network(two_layer(n_in=300, n_out=10))
    with pytest.raises(CompileError, match=r"fanin_per_core.*exceeded by 44"):
        compile_network(net, load_profile("memristive"), None)


def test_sparse_connectivity_density_and_delays():
    text = two_layer(n_in=400, n_out=300, conn="{sparse: 0.1}").replace(
        "weights: {init: normal, std: 0.3}}", "weights: {init: normal, std: 0.3}, delay: {low: 1, high: 4}}")
    m = compile_network(parse_network(text), load_profile("cpu"), None).manifest
    proj = m["projections"]["p"]
    assert proj["format"] == "coo" and proj["max_delay"] == 4
    assert abs(proj["n_synapses"] / (400 * 300) - 0.1) < 0.01


def test_weight_file_is_used(tmp_path: Path, write_yaml):
    w = np.arange(20 * 10, dtype=float).reshape(10, 20) / 200.0
    np.save(tmp_path / "w.npy", w)
    path = write_yaml(two_layer(weights="{file: w.npy}"))
    build = Build(compile_network(load_network(path), load_profile("cpu"), tmp_path / "b").out)
    np.testing.assert_array_equal(build.array(build.manifest["projections"]["p"]["weights"]), w)


def test_analog_profile_quantizes_to_levels():
    rep = compile_network(parse_network(two_layer(n_in=30, n_out=20)), load_profile("mixed_signal"), None).report
    stats = rep["projections"]["p"]
    assert stats["levels"] == 16 and 0 < stats["rel_rms_error"] < 0.2


def test_profile_extends_and_user_file(tmp_path: Path):
    (tmp_path / "big.yaml").write_text("name: loihi2x8\nextends: loihi2\ncores: {max_chips: 8}\n")
    prof = load_profile(str(tmp_path / "big.yaml"))
    assert prof.total_cores == 1024 and prof.weights.bits == 8 and prof.numerics == "fixed"
    assert load_profile("loihi1").neuron.state_bits == 24  # inherited from loihi2


def test_bias_that_cannot_survive_quantization_fails_the_compile():
    """A bias is never clipped or rounded away: it fits, or the compile fails naming it."""
    for bias, why in (("1.0e+300", "does not fit"), ("1.0e-9", "rounds to 0")):
        net = parse_network(two_layer(params=f"{{bias: {bias}}}"))
        with pytest.raises(CompileError, match=f"populations.out.params.bias: .*{why}"):
            compile_network(net, load_profile("loihi2"), None)


def test_bias_above_threshold_scales_the_population_and_survives():
    """The scale comes from the bias too: a bias of 2 v_th (fires every step) is kept whole."""
    net = parse_network(two_layer(params="{bias: 2.0, v_th: 1.0}"))
    p = compile_network(net, load_profile("loihi2"), None).manifest["populations"]["out"]["params"]
    scale = p["vth"] if isinstance(p["vth"], int) else p["vth"][0]
    assert p["bias_mant"] * 2 ** p["bias_exp"] == 2 * scale * 2 ** 6
