"""`train` and `evaluate` end to end, and their one-line errors on bad input."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from neurodeploy.cli import main

from .conftest import EXAMPLES

SMALL = """
neurodeploy: 1
name: small
seed: 1
populations:
  input:  {kind: spike_source, size: 64}
  hidden: {kind: lif, size: 60, params: {tau_syn: 2.0, tau_mem: 8.0}}
  output: {kind: lif, size: 3, params: {tau_syn: 2.0, tau_mem: 4.0}}
projections:
  in_hid:  {pre: input, post: hidden, weights: {init: normal, std: 0.15}}
  hid_out: {pre: hidden, post: output, weights: {init: normal, std: 0.05}}
plasticity:
  learn: {rule: RULE, projections: [in_hid, hid_out], learning_rate: 0.0001}
task: {input: input, output: output, encoding: regular, max_rate: 0.5, sample_steps: 20}
"""


def _write(tmp_path: Path, text: str, name: str = "net.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize("rule,learn_in", [("feedback_alignment", "chip"),
                                           ("kolen_pollack", "float")])
def test_short_training_beats_chance(tmp_path: Path, capsys, rule: str, learn_in: str):
    """Three digit classes, 240 samples, 3 epochs: far above chance (1/3), and the build,
    curves and trained network are written; evaluate reproduces the deployed accuracy. FA
    learns in loihi2's fixed point by default; Kolen-Pollack only with --learn-in float,
    which the output says."""
    net = _write(tmp_path, SMALL.replace("RULE", rule))
    out = tmp_path / "b"
    assert main(["train", str(net), "--profile", "loihi2", "--epochs", "3", "--classes",
                 "0,1,2", "--train-samples", "240", "-o", str(out), "--learn-in", learn_in]) == 0
    text = capsys.readouterr().out
    assert "deployed to loihi2" in text
    said = "learning in loihi2's fixed point" if learn_in == "chip" else "learning in float"
    assert said in text
    summary = json.loads((out / "training" / "summary.json").read_text())
    assert summary["learned_in"] == ("fixed" if learn_in == "chip" else "float")
    curves = json.loads((out / "training" / "curves.json").read_text())
    assert len(curves["test_accuracy"]) == 3 and curves["test_accuracy"][-1] > 0.7
    assert (out / "training" / "curves.png").stat().st_size > 1000
    summary = json.loads((out / "training" / "summary.json").read_text())
    assert summary["deployed_test_accuracy"] > 0.7
    if rule == "kolen_pollack":
        angles = curves["angles"]["learn_fb_hidden"]
        assert angles[-1] < angles[0]
    assert main(["evaluate", str(out), "--classes", "0,1,2", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["accuracy"] == pytest.approx(summary["deployed_test_accuracy"])
    assert result["n"] == 135 and 0 < result["activation_sparsity"] < 1
    assert result["synaptic_operations_per_sample"] > 0 and result["mean_rate_hz"]["output"] > 0


def test_fixed_profile_refuses_a_float_only_rule_without_learn_in_float(tmp_path, capsys):
    """Kolen-Pollack on loihi2 without --learn-in float: one line naming the field and the
    way out, exit 1, nothing written."""
    net = _write(tmp_path, SMALL.replace("RULE", "kolen_pollack"))
    out = tmp_path / "b"
    assert main(["train", str(net), "--profile", "loihi2", "--epochs", "1", "-o", str(out)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "plasticity.learn.rule" in err[0] and "--learn-in float" in err[0]
    assert not out.exists()


def _npz(tmp_path: Path, **arrays) -> Path:
    rng = np.random.default_rng(0)
    base = {"x_train": rng.random((30, 64)), "y_train": rng.integers(0, 3, 30),
            "x_test": rng.random((10, 64)), "y_test": rng.integers(0, 3, 10)}
    base.update(arrays)
    path = tmp_path / "data.npz"
    np.savez(path, **{k: v for k, v in base.items() if v is not None})
    return path


@pytest.mark.parametrize("change, says", [
    ({"x_train": None}, "missing array(s) x_train"),
    ({"x_train": np.zeros((30, 8)), "x_test": np.zeros((10, 8))},
     "x_train has 8 features but the input population has 64"),
    ({"y_train": np.full(30, 7)}, "labels go up to 7 but the output population has 3"),
    ({"x_test": np.full((10, 64), np.nan)}, "x_test: 640 NaN/inf values"),
    ({"y_test": np.zeros(9, int)}, "y_test: expected shape [10]"),
    ({"y_train": np.full(30, -1)}, "label -1 is negative"),
    ({"x_train": np.zeros((30, 64, 1))}, "x_test: expected [sequences, steps, features]"),
    ({"x_train": np.zeros((30, 5, 64)), "x_test": np.zeros((10, 5, 64))},
     "sequence data ([sequences, steps, features]) need task.item_steps"),
])
def test_bad_dataset_is_one_line_and_writes_nothing(tmp_path: Path, capsys, change, says):
    net = _write(tmp_path, SMALL.replace("RULE", "feedback_alignment"))
    data = _npz(tmp_path, **change)
    out = tmp_path / "b"
    assert main(["train", str(net), "--data", str(data), "--epochs", "1", "-o", str(out)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and says in err[0] and "data.npz" in err[0]
    assert not out.exists() and not list(tmp_path.glob(".b.*"))


@pytest.mark.parametrize("block, where, says", [
    ("{rule: feedback_alignment, projections: [in_hid, hid_out], lerning_rate: 0.1}",
     "plasticity.learn.lerning_rate", "did you mean 'learning_rate'"),
    ("{rule: feedback_aligment, projections: [in_hid, hid_out]}", "plasticity.learn.rule",
     "unknown rule 'feedback_aligment' (did you mean 'feedback_alignment'?)"),
    ("{rule: low_rank_fa, projections: [in_hid, hid_out]}", "plasticity.learn.rank",
     "required field is missing"),
    ("{rule: low_rank_fa, projections: [in_hid, hid_out], rank: 4}", "plasticity.learn.rank",
     "rank 4 must be between 1 and 3"),
    ("{rule: feedback_alignment, projections: [hid_out, in_hid]}",
     "plasticity.learn.projections[1]", "list the trained projections as a chain"),
    ("{rule: kolen_pollack, projections: [in_hid, hid_out], decay: 1.5}",
     "plasticity.learn.decay", "less than 1"),
    ("{rule: stdp, projections: [in_hid], w_min: 1.0, w_max: 0.0}", "plasticity.learn",
     "w_max (0.0) must be >= w_min (1.0)"),
    ("{rule: weight_mirror, projections: [in_hid, hid_out], mirror_target_rate: 1.5}",
     "plasticity.learn.mirror_target_rate", "less than 1"),
    ("{rule: weight_mirror, projections: [in_hid, hid_out], mirror_tau: 0}",
     "plasticity.learn.mirror_tau", "greater than 0"),
])
def test_bad_plasticity_block_is_one_line(tmp_path: Path, capsys, block, where, says):
    text = SMALL.replace("{rule: RULE, projections: [in_hid, hid_out], learning_rate: 0.0001}", block)
    net = _write(tmp_path, text)
    out = tmp_path / "b"
    assert main(["train", str(net), "--epochs", "1", "-o", str(out)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"{where}: " in err[0] and says in err[0], err
    assert not out.exists()


def test_fa_on_fixed_point_compiles_per_sample_and_per_step(tmp_path: Path, capsys):
    """Fixed-point FA learns once per sample (the example's default epoch) or every step
    (learning_epoch: 1); the report shows the quantized rule. Kolen-Pollack is refused with
    the field and the way out."""
    assert main(["compile", str(EXAMPLES / "digits_fa.yaml"), "--profile", "loihi2", "-o",
                 str(tmp_path / "b")]) == 0
    assert "third factor y2/y3" in capsys.readouterr().out
    text = (EXAMPLES / "digits_fa.yaml").read_text().replace("lr_decay: 0.9",
                                                             "lr_decay: 0.9\n    learning_epoch: 1")
    net = _write(tmp_path, text)
    assert main(["compile", str(net), "--profile", "loihi2", "-o", str(tmp_path / "c")]) == 0
    assert "third factor y2/y3" in capsys.readouterr().out
    kp = (EXAMPLES / "digits_kp.yaml")
    assert main(["compile", str(kp), "--profile", "loihi2", "-o", str(tmp_path / "d")]) == 1
    err = capsys.readouterr().err
    assert "plasticity.learn.rule" in err and "--learn-in float" in err
    assert not (tmp_path / "d").exists()


def test_evaluate_needs_a_task(tmp_path: Path, capsys):
    out = tmp_path / "b"
    assert main(["compile", str(EXAMPLES / "feedforward.yaml"), "--profile", "cpu", "-o", str(out)]) == 0
    capsys.readouterr()
    assert main(["evaluate", str(out)]) == 1
    assert "no task block" in capsys.readouterr().err


def test_unknown_learning_backend(tmp_path: Path, capsys):
    net = _write(tmp_path, SMALL.replace("RULE", "feedback_alignment"))
    assert main(["train", str(net), "--backend", "lavaa", "--epochs", "1", "-o", str(tmp_path / "b")]) == 1
    assert "did you mean 'lava'" in capsys.readouterr().err


def test_sparse_and_one_to_one_projections_survive_training(tmp_path: Path, capsys):
    """The trained network YAML re-loads with a sparse trained projection (its synapses are
    the file's nonzeros) and the one-to-one error projections; the float build keeps them."""
    text = SMALL.replace("RULE", "feedback_alignment").replace(
        "in_hid:  {pre: input, post: hidden,", "in_hid:  {pre: input, post: hidden, connectivity: {sparse: 0.5},")
    net = _write(tmp_path, text)
    out = tmp_path / "b"
    assert main(["train", str(net), "--profile", "cpu", "--epochs", "1", "--classes", "0,1,2",
                 "--train-samples", "60", "-o", str(out)]) == 0
    from neurodeploy.ir import load_network
    trained = load_network(out / "training" / "network.yaml")
    w = np.load(out / "training" / "weights" / "in_hid.npy")
    assert w.shape == (60, 64) and 0.3 < np.count_nonzero(w) / w.size < 0.7
    assert trained.projections["learn_err_out"].connectivity == "one_to_one"
    assert np.load(out / "training" / "weights" / "learn_err_out.npy").shape == (3,)


@pytest.mark.parametrize("args, says", [
    (["--classes", "0,a"], "--classes must be comma-separated integers"),
    (["--classes", "1,1"], "--classes needs distinct labels"),
    (["--epochs", "0"], "--epochs must be a positive integer"),
    (["--train-samples", "-3"], "--train-samples must be a positive integer"),
])
def test_bad_train_options_are_one_line(tmp_path: Path, capsys, args, says):
    net = _write(tmp_path, SMALL.replace("RULE", "feedback_alignment"))
    out = tmp_path / "b"
    assert main(["train", str(net), *args, "-o", str(out)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and says in err[0], err
    assert not out.exists()


def test_train_learns_on_the_profiles_imperfect_plasticity(tmp_path: Path, capsys):
    """A profile with learning-rate mismatch and update noise trains chip 0's imperfect
    learning circuitry on the cpu learner (other weights than the ideal profile's, still
    well above chance); the Brian2 learner refuses it in one line and writes nothing."""
    net = _write(tmp_path, SMALL.replace("RULE", "feedback_alignment"))
    prof = tmp_path / "lossy.yaml"
    prof.write_text("name: lossy\nextends: cpu\n"
                    "variability: {learning_rate_cv: 0.5, update_noise: 0.5}\n")
    args = ["--epochs", "2", "--classes", "0,1,2", "--train-samples", "150"]
    weights = {}
    for name, profile in (("ideal", "cpu"), ("lossy", str(prof))):
        out = tmp_path / name
        assert main(["train", str(net), "--profile", profile, *args, "-o", str(out)]) == 0
        err = capsys.readouterr().err
        assert ("imperfect plasticity: learning-rate CV 0.5, update noise 0.5 LSB" in err) == \
            (name == "lossy")
        summary = json.loads((out / "training" / "summary.json").read_text())
        assert summary["deployed_test_accuracy"] > 0.6
        weights[name] = np.load(out / "weights" / "in_hid.npz")["weights"]
    assert weights["ideal"].shape == weights["lossy"].shape
    assert not np.allclose(weights["ideal"], weights["lossy"])
    assert main(["train", str(net), "--profile", str(prof), "--backend", "brian2", *args,
                 "-o", str(tmp_path / "b2")]) == 1
    err = capsys.readouterr().err
    assert "simulated by the cpu learner only" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "b2").exists()
