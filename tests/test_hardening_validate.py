"""Issue 16, silent wrong results in validate: trained classes, --resume on rewritten data
or edited results, the sealed training summary, compare-profiles rows, nominal chips."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from neurodeploy.cli import main
from neurodeploy.task import load_dataset

NET = """
neurodeploy: 1
name: small3
seed: 1
populations:
  input:  {kind: spike_source, size: 64}
  hidden: {kind: lif, size: 30, params: {tau_syn: 2.0, tau_mem: 8.0}}
  output: {kind: lif, size: 3, params: {tau_syn: 2.0, tau_mem: 4.0}}
projections:
  in_hid:  {pre: input, post: hidden, weights: {init: normal, std: 0.15}}
  hid_out: {pre: hidden, post: output, weights: {init: normal, std: 0.05}}
plasticity:
  learn: {rule: feedback_alignment, projections: [in_hid, hid_out], learning_rate: 0.0001,
          lr_decay: 0.5}
task: {input: input, output: output, encoding: regular, max_rate: 0.5, sample_steps: 12}
"""


def _data(path: Path, classes: list[int], n_train: int = 120, n_test: int = 45) -> Path:
    ds = load_dataset("digits")
    keep_tr, keep_te = np.isin(ds.y_train, classes), np.isin(ds.y_test, classes)
    np.savez(path, x_train=ds.x_train[keep_tr][:n_train], y_train=ds.y_train[keep_tr][:n_train],
             x_test=ds.x_test[keep_te][:n_test], y_test=ds.y_test[keep_te][:n_test])
    return path


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple[Path, Path]:
    """A float build trained for 2 epochs on classes 1,2 of a data set holding 0,1,2."""
    tmp = tmp_path_factory.mktemp("trust")
    net = tmp / "net.yaml"
    net.write_text(NET)
    data = _data(tmp / "d.npz", [0, 1, 2])
    out = tmp / "build"
    assert main(["train", str(net), "--profile", "cpu", "--epochs", "2", "--data", str(data),
                 "--classes", "1,2", "-o", str(out)]) == 0
    return out, data


def _one_line_error(capsys, *words: str) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    for w in words:
        assert w in err, err
    return err


def test_validate_uses_the_trained_classes_as_evaluate_does(trained, tmp_path, capsys):
    build, data = trained
    capsys.readouterr()
    assert main(["evaluate", str(build), "--data", str(data), "--json"]) == 0
    evaluated = json.loads(capsys.readouterr().out)
    assert main(["validate", str(build), "--data", str(data), "--chips", "1", "-q",
                 "-o", str(tmp_path / "v")]) == 0
    report = json.loads((tmp_path / "v" / "report.json").read_text())
    assert report["points"][0]["figures"]["accuracy"]["mean"] == pytest.approx(
        evaluated["accuracy"])
    y_test = np.load(data)["y_test"]
    assert evaluated["n"] == int(np.isin(y_test, [1, 2]).sum()) < y_test.size


def test_zero_mismatch_says_every_chip_was_nominal(trained, tmp_path, capsys):
    build, data = trained
    assert main(["validate", str(build), "--data", str(data), "--chips", "2", "-q",
                 "--spec", "accuracy>=0", "-o", str(tmp_path / "v")]) == 0
    out = capsys.readouterr().out
    assert "every chip was nominal" in out
    report = json.loads((tmp_path / "v" / "report.json").read_text())
    assert report["points"][0]["all_nominal"] is True
    assert main(["validate", str(build), "--data", str(data), "--chips", "2", "-q",
                 "--set", "variability.weights.cv=0.1", "-o", str(tmp_path / "w")]) == 0
    assert "every chip was nominal" not in capsys.readouterr().out


def test_resume_refuses_rewritten_data(trained, tmp_path, capsys):
    build, data = trained
    mine = _data(tmp_path / "d.npz", [0, 1, 2])
    out = tmp_path / "v"
    args = ["validate", str(build), "--data", str(mine), "-q", "-o", str(out),
            "--set", "variability.weights.cv=0.1"]
    assert main(args + ["--chips", "1"]) == 0
    _data(mine, [0, 1, 2], n_test=40)                  # same path, other content
    capsys.readouterr()
    assert main(args + ["--chips", "2", "--resume"]) == 1
    _one_line_error(capsys, "other settings")


def _validated(build: Path, data: Path, out: Path) -> None:
    assert main(["validate", str(build), "--data", str(data), "--chips", "2", "-q",
                 "--spec", "accuracy>=1.01", "-o", str(out)]) == 0


def test_edited_results_line_is_refused(trained, tmp_path, capsys):
    build, data = trained
    out = tmp_path / "v"
    _validated(build, data, out)
    results = out / "results.jsonl"
    lines = results.read_text().splitlines()
    assert '"pass": false' in lines[1]
    lines[1] = lines[1].replace('"pass": false', '"pass": true')
    results.write_text("\n".join(lines) + "\n")
    before = results.read_bytes()
    capsys.readouterr()
    assert main(["validate", str(build), "--data", str(data), "--chips", "3", "-q",
                 "--spec", "accuracy>=1.01", "-o", str(out), "--resume"]) == 1
    _one_line_error(capsys, "line 2", "integrity digest", "--force")
    assert results.read_bytes() == before


@pytest.mark.parametrize("bad", ["{not json", '{"kind": "chip"}', "[1, 2]"])
def test_malformed_results_line_is_one_line(trained, tmp_path, capsys, bad):
    build, data = trained
    out = tmp_path / "v"
    _validated(build, data, out)
    results = out / "results.jsonl"
    lines = results.read_text().splitlines()
    results.write_text("\n".join([lines[0], bad] + lines[1:]) + "\n")
    capsys.readouterr()
    assert main(["validate", str(build), "--data", str(data), "--chips", "3", "-q",
                 "--spec", "accuracy>=1.01", "-o", str(out), "--resume"]) == 1
    _one_line_error(capsys, "line 2")


def test_torn_last_line_is_still_recomputed(trained, tmp_path):
    build, data = trained
    out = tmp_path / "v"
    _validated(build, data, out)
    results = out / "results.jsonl"
    results.write_bytes(results.read_bytes()[:-20])            # a killed writer
    assert main(["validate", str(build), "--data", str(data), "--chips", "2", "-q",
                 "--spec", "accuracy>=1.01", "-o", str(out), "--resume"]) == 0
    assert len(results.read_text().splitlines()) == 3


def _copy(build: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "b"
    shutil.copytree(build, copy)
    return copy


@pytest.mark.parametrize("edit", [
    lambda d: {**d, "epochs": 0},                    # --finetune's learning-rate scale
    lambda d: {**d, "classes": [0, 1]},              # what validate and evaluate test on
])
def test_edited_training_summary_is_refused(trained, tmp_path, capsys, edit):
    build, data = trained
    copy = _copy(build, tmp_path)
    path = copy / "training" / "summary.json"
    path.write_text(json.dumps(edit(json.loads(path.read_text()))))
    capsys.readouterr()
    assert main(["evaluate", str(copy), "--data", str(data)]) == 1
    _one_line_error(capsys, "summary.json", "integrity digest")
    assert main(["validate", str(copy), "--data", str(data), "--chips", "1", "-q",
                 "--finetune", "-o", str(tmp_path / "v")]) == 1
    _one_line_error(capsys, "summary.json", "integrity digest")
    assert not (tmp_path / "v").exists()


def test_corrupt_training_summary_is_one_line(trained, tmp_path, capsys):
    build, data = trained
    copy = _copy(build, tmp_path)
    (copy / "training" / "summary.json").write_text("{\"epochs\": 2,")
    capsys.readouterr()
    assert main(["evaluate", str(copy), "--data", str(data)]) == 1
    _one_line_error(capsys, "summary.json", "not readable JSON")


def test_summary_of_another_build_is_refused(trained, tmp_path, capsys):
    build, data = trained
    copy = _copy(build, tmp_path)
    manifest = json.loads((copy / "manifest.json").read_text())
    from neurodeploy.compiling.artifact import dumps_manifest, seal_manifest
    manifest["name"] = "other"
    (copy / "manifest.json").write_text(dumps_manifest(seal_manifest(manifest)))
    capsys.readouterr()
    assert main(["evaluate", str(copy), "--data", str(data)]) == 1
    _one_line_error(capsys, "another build")


def test_evaluate_classes_the_data_lacks_is_one_line(trained, capsys):
    build, data = trained
    capsys.readouterr()
    assert main(["evaluate", str(build), "--data", str(data), "--classes", "1,7"]) == 1
    _one_line_error(capsys, "class(es) 7")


@pytest.mark.parametrize("command", ["validate", "compare-profiles"])
def test_output_that_is_a_file_is_one_line(trained, tmp_path, capsys, command):
    build, data = trained
    target = tmp_path / "file.txt"
    target.write_text("keep me\n")
    src = str(build) if command == "validate" else str(build / "training" / "network.yaml")
    capsys.readouterr()
    assert main([command, src, "--data", str(data), "--chips", "1", "-q",
                 "-o", str(target)]) == 1
    _one_line_error(capsys, "is a file")
    assert target.read_text() == "keep me\n"


def test_compare_profiles_gives_one_row_per_profile_file(tmp_path, capsys):
    """Two profile files with the same file name are two rows; the zero-mismatch one says
    that its chips were all nominal."""
    net = tmp_path / "net.yaml"
    net.write_text("""
neurodeploy: 1
name: tiny
seed: 2
populations:
  inp: {kind: spike_source, size: 4}
  out: {kind: lif, size: 3}
projections:
  p: {pre: inp, post: out, connectivity: dense, weights: {init: normal, mean: 0.6, std: 0.2}}
run: {steps: 30}
""")
    for sub, cv in (("a", 0.0), ("b", 0.2)):
        (tmp_path / sub).mkdir()
        (tmp_path / sub / "chip.yaml").write_text(
            f"name: chip_{sub}\nextends: cpu\nvariability: {{weights_cv: {cv}}}\n")
    spikes = tmp_path / "in.npz"
    np.savez(spikes, **{"inp.spikes": (np.random.default_rng(0).random((30, 4)) < 0.3
                                       ).astype(np.uint8)})
    capsys.readouterr()
    assert main(["compare-profiles", str(net), "--input", str(spikes), "--profiles",
                 f"{tmp_path / 'a' / 'chip.yaml'},{tmp_path / 'b' / 'chip.yaml'}",
                 "--chips", "2", "-q", "-o", str(tmp_path / "cmp")]) == 0
    out = capsys.readouterr().out
    compare = json.loads((tmp_path / "cmp" / "compare.json").read_text())
    assert len(compare["profiles"]) == 2, out
    rows = [line for line in out.splitlines() if "chip" in line.split(" ")[0]]
    assert len(rows) >= 2, out
    nominal = [line for line in out.splitlines() if "every chip was nominal" in line]
    assert len(nominal) == 1 and "a/chip" in nominal[0], out
