"""Issue 10, builds mean what they say: the manifest is covered by the build's integrity
check, array references stay inside the build, and fixed-point v/u come with their scale.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from neurodeploy.cli import main
from neurodeploy.compiling.artifact import Build, manifest_digest
from neurodeploy.compilers import get_backend, load_plan, make_inputs
from neurodeploy.compilers.result import SimResult, state_scales
from neurodeploy.errors import ArtifactError

NET = """
neurodeploy: 1
name: sub
seed: 5
populations:
  inp: {kind: spike_source, size: 8}
  out: {kind: lif, size: 6, params: {tau_syn: 5.0, tau_mem: 20.0, v_th: 500.0}}
projections:
  p: {pre: inp, post: out, connectivity: dense, weights: {init: uniform, low: 0.0, high: 1.0}}
monitors: [{population: out, var: v}, {population: out, var: u}, {population: out, var: spikes}]
run: {steps: 60}
"""


@pytest.fixture(scope="module")
def builds(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("builds")
    net = d / "net.yaml"
    net.write_text(NET)
    out = {"dir": d}
    for profile in ("loihi2", "cpu"):
        assert main(["compile", str(net), "-p", profile, "-o", str(d / profile), "-q"]) == 0
        out[profile] = d / profile
    rng = np.random.default_rng(0)
    out["in"] = d / "in.npz"
    np.savez(out["in"], **{"inp.spikes": (rng.random((60, 8)) < 0.3).astype(np.uint8)})
    return out


def _copy(builds, tmp_path, which="loihi2") -> Path:
    b = tmp_path / "b"
    shutil.copytree(builds[which], b)
    return b


# ------------------------------------------------------------------ integrity
@pytest.mark.parametrize("edit", [
    lambda m: m["populations"]["out"]["params"].update(vth=m["populations"]["out"]["params"]["vth"] + 1),
    lambda m: m.update(numerics="float"),
    lambda m: m["projections"]["p"].update(weight_exp=m["projections"]["p"]["weight_exp"] - 1),
    lambda m: m.update(steps=61),
    lambda m: m["monitors"].pop(),
], ids=["threshold", "numerics", "weight_exp", "steps", "monitor"])
def test_editing_a_manifest_scalar_is_detected(builds, tmp_path, edit):
    b = _copy(builds, tmp_path)
    m = json.loads((b / "manifest.json").read_text())
    edit(m)
    (b / "manifest.json").write_text(json.dumps(m, indent=2, sort_keys=True) + "\n")
    with pytest.raises(ArtifactError, match="does not match its integrity digest"):
        Build(b)
    assert main(["simulate", str(b), "--input", str(builds["in"]),
                 "-o", str(tmp_path / "o.npz")]) == 1


def test_removing_the_digest_is_detected(builds, tmp_path):
    b = _copy(builds, tmp_path)
    m = json.loads((b / "manifest.json").read_text())
    del m["manifest_sha256"]
    (b / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(ArtifactError, match="no integrity digest"):
        Build(b)


def test_digest_covers_content_not_formatting(builds, tmp_path):
    b = _copy(builds, tmp_path)
    m = json.loads((b / "manifest.json").read_text())
    (b / "manifest.json").write_text(json.dumps(m, separators=(",", ":")))
    assert Build(b).manifest == m
    assert m["manifest_sha256"] == manifest_digest(m)


# ------------------------------------------------------------------ confinement
def test_symlinked_array_file_outside_the_build_is_refused(builds, tmp_path):
    b = _copy(builds, tmp_path)
    outside = tmp_path / "elsewhere.npz"
    shutil.move(b / "weights" / "p.npz", outside)
    (b / "weights" / "p.npz").symlink_to(outside)
    with pytest.raises(ArtifactError, match="outside the build directory"):
        load_plan(b)


def test_symlinked_weights_folder_outside_the_build_is_refused(builds, tmp_path):
    b = _copy(builds, tmp_path)
    shutil.move(b / "weights", tmp_path / "w")
    (b / "weights").symlink_to(tmp_path / "w")
    with pytest.raises(ArtifactError, match="outside the build directory"):
        load_plan(b)


# ------------------------------------------------------------------ v/u scale
def _run(build: Path, inputs_file: Path) -> SimResult:
    plan = load_plan(build)
    given = dict(np.load(inputs_file))
    res = get_backend("cpu").run(plan, make_inputs(plan, 60, given), 60)
    res.scales = state_scales(plan)
    return res


def test_fixed_point_state_divided_by_scale_matches_float(builds):
    fixed, flt = _run(builds["loihi2"], builds["in"]), _run(builds["cpu"], builds["in"])
    assert flt.scales == {"out.v": 1.0, "out.u": 1.0}
    assert fixed.scales["out.v"] > 1000 and fixed.scales["out.u"] > 1000
    assert flt["out.spikes"].sum() == 0            # subthreshold: states comparable all along
    for var in ("v", "u"):
        key = f"out.{var}"
        ref = flt[key]
        assert np.abs(ref).max() > 1.0              # the input drives the state well above 0
        err = np.abs(fixed[key] / fixed.scales[key] - ref).max() / np.abs(ref).max()
        assert err < 0.05, (var, err)


def test_cli_writes_scales_and_they_load_back(builds, tmp_path):
    out = tmp_path / "o.npz"
    assert main(["simulate", str(builds["loihi2"]), "--input", str(builds["in"]),
                 "-o", str(out), "--plot", str(tmp_path / "p.png")]) == 0
    with np.load(out) as raw:
        assert {"out.v_scale", "out.u_scale"} <= set(raw.files)
        assert raw["out.v_scale"].ndim == 0
    loaded = SimResult.load(out)
    assert set(loaded.data) == {"out.v", "out.u", "out.spikes"}
    plan = load_plan(builds["loihi2"])
    assert loaded.scales == state_scales(plan)
    assert (tmp_path / "p.png").stat().st_size > 0
