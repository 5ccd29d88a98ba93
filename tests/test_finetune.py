"""`validate --finetune`: chip-in-the-loop fine-tuning with the build's own learning rule."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from neurodeploy.cli import main
from neurodeploy.task import load_dataset
from neurodeploy.validation import finetune as F
from neurodeploy.variability.chip import Chip
from neurodeploy.variability.config import MismatchConfig

NET = """
neurodeploy: 1
name: small3
seed: 1
populations:
  input:  {kind: spike_source, size: 64}
  hidden: {kind: lif, size: 60, params: {tau_syn: 2.0, tau_mem: 8.0}}
  output: {kind: lif, size: 3, params: {tau_syn: 2.0, tau_mem: 4.0}}
projections:
  in_hid:  {pre: input, post: hidden, weights: {init: normal, std: 0.15}}
  hid_out: {pre: hidden, post: output, weights: {init: normal, std: 0.05}}
PLASTICITY
task: {input: input, output: output, encoding: regular, max_rate: 0.5, sample_steps: 20}
"""
PLASTIC = ("plasticity:\n  learn: {rule: feedback_alignment, projections: [in_hid, hid_out], "
           "learning_rate: 0.0001}")


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    """Digits 0, 1, 2: 240 training and 90 test samples, as an .npz."""
    ds = load_dataset("digits").subset([0, 1, 2])
    path = tmp_path_factory.mktemp("data") / "d3.npz"
    np.savez(path, x_train=ds.x_train[:240], y_train=ds.y_train[:240],
             x_test=ds.x_test[:90], y_test=ds.y_test[:90])
    return path


@pytest.fixture(scope="module")
def build(tmp_path_factory, data) -> Path:
    """The 3-class network trained for 2 epochs with feedback alignment, float build."""
    tmp = tmp_path_factory.mktemp("ft")
    net = tmp / "net.yaml"
    net.write_text(NET.replace("PLASTICITY", PLASTIC))
    out = tmp / "build"
    assert main(["train", str(net), "--profile", "cpu", "--epochs", "2", "--data", str(data),
                 "-o", str(out)]) == 0
    return out


def _validate(build: Path, data: Path, out: Path, *args: str) -> int:
    return main(["validate", str(build), "--data", str(data), "-o", str(out), "-q", *args])


def test_accuracy_before_and_after_and_high_cv_is_won_back(build, data, tmp_path, capsys):
    """Weight CV 0.5 costs accuracy (below the nominal chip); one fine-tuning epoch wins
    part of it back on average, and every chip's record, report entry and the HTML page
    carry both figures."""
    out = tmp_path / "v"
    assert _validate(build, data, out, "--chips", "6", "--finetune",
                     "--set", "variability.weights.cv=0.5",
                     "--set", "variability.learning.cv=0.2") == 0
    assert "fine-tuning: mean accuracy" in capsys.readouterr().out
    report = json.loads((out / "report.json").read_text())
    chips = report["chips"]
    assert len(chips) == 6
    before = np.array([c["figures"]["accuracy_before"] for c in chips])
    after = np.array([c["figures"]["accuracy"] for c in chips])
    assert before.mean() < report["nominal"]["accuracy"]          # the mismatch hurts
    assert after.mean() >= before.mean()
    assert not np.array_equal(before, after)                      # fine-tuning changed chips
    records = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()
               if '"figures"' in line]
    assert all({"accuracy", "accuracy_before"} <= set(r["figures"]) for r in records)
    page = (out / "report.html").read_text()
    assert "Chip-in-the-loop fine-tuning" in page and f"{after.mean():.4f}" in page
    # angle(B, W^T) against each chip's own W: it differs per chip (W carries the chip's
    # mismatch) and moves as W learns (FA's B is fixed)
    a0 = np.array([c["figures"]["angle_before"] for c in chips])
    a1 = np.array([c["figures"]["angle"] for c in chips])
    assert np.all((a0 > 0) & (a0 < 180)) and np.all((a1 > 0) & (a1 < 180))
    assert np.unique(np.round(a0, 9)).size == 6
    assert not np.allclose(a0, a1)


def test_resume_keeps_finetuned_chips_and_refuses_other_settings(build, data, tmp_path, capsys):
    """A resumed fine-tuning run computes only the missing chips, and its result equals
    an uninterrupted run; changing the fine-tuning epochs is refused."""
    args = ("--finetune", "--finetune-samples", "60", "--set", "variability.weights.cv=0.3")
    ref, out = tmp_path / "ref", tmp_path / "out"
    assert _validate(build, data, ref, "--chips", "3", *args) == 0
    assert _validate(build, data, out, "--chips", "2", *args) == 0
    assert _validate(build, data, out, "--chips", "3", "--resume", *args) == 0
    a = json.loads((ref / "report.json").read_text())["chips"]
    b = json.loads((out / "report.json").read_text())["chips"]
    assert [c["figures"] for c in a] == [c["figures"] for c in b]
    capsys.readouterr()
    assert _validate(build, data, out, "--chips", "3", "--resume", *args,
                     "--finetune-epochs", "2") == 1
    assert "settings" in capsys.readouterr().err.lower()


def test_build_without_plasticity_is_refused(tmp_path, data, capsys):
    """A build that has no learning pathway: exit 1, one line saying how to get one."""
    net = tmp_path / "frozen.yaml"
    net.write_text(NET.replace("PLASTICITY", ""))
    out = tmp_path / "b"
    assert main(["compile", str(net), "--profile", "cpu", "-o", str(out), "-q"]) == 0
    capsys.readouterr()
    assert _validate(out, data, tmp_path / "v", "--chips", "2", "--finetune") == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "--finetune" in err and "profile such as cpu" in err
    assert not (tmp_path / "v" / "results.jsonl").exists()


@pytest.mark.parametrize("args, says", [
    (("--backend", "lava"), "--backend cpu"),
    (("--backend", "brian2"), "--backend cpu"),
    (("--finetune-epochs", "0"), "--finetune-epochs"),
    (("--finetune-lr-scale", "-1"), "--finetune-lr-scale"),
    (("--set", "variability.learning.weight_bits=8.5"), "whole number"),
])
def test_unsupported_settings_are_refused(build, data, tmp_path, capsys, args, says):
    assert _validate(build, data, tmp_path / "v", "--chips", "2", "--finetune", *args) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and says in err


def test_the_feedback_control_needs_finetune(build, data, tmp_path, capsys):
    assert _validate(build, data, tmp_path / "v", "--chips", "2",
                     "--finetune-freeze-feedback") == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--finetune-freeze-feedback: " in err
    assert "add --finetune" in err and not (tmp_path / "v").exists()
    assert not (tmp_path / "v" / "results.jsonl").exists()


@pytest.mark.parametrize("setting", ["variability.learning.update_noise=0.5",
                                     "variability.learning.stochastic_rounding=true"])
def test_update_noise_and_stochastic_rounding_run(build, data, tmp_path, capsys, setting):
    """Imperfect updates run through the command line: accuracy before and after for
    every chip."""
    out = tmp_path / "v"
    args = ("--chips", "2", "--finetune", "--finetune-samples", "60",
            "--set", "variability.weights.cv=0.2")
    assert _validate(build, data, out, *args, "--set", setting) == 0
    assert "fine-tuning: mean accuracy" in capsys.readouterr().out
    chips = json.loads((out / "report.json").read_text())["chips"]
    assert len(chips) == 2
    for c in chips:
        assert 0 <= c["figures"]["accuracy_before"] <= 1 and 0 <= c["figures"]["accuracy"] <= 1


def test_zero_weight_projection_has_no_lsb(tmp_path, data, capsys):
    """Update noise needs each plastic projection's full scale: all-zero weights are
    refused with one line."""
    net = tmp_path / "zero.yaml"
    net.write_text(NET.replace("PLASTICITY", PLASTIC).replace(
        "{init: normal, std: 0.05}", "{init: constant, value: 0.0}"))
    out = tmp_path / "b"
    assert main(["compile", str(net), "--profile", "cpu", "-o", str(out), "-q"]) == 0
    capsys.readouterr()
    assert _validate(out, data, tmp_path / "v", "--chips", "2", "--finetune",
                     "--set", "variability.learning.update_noise=0.5") == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "hid_out" in err and "update_noise=0" in err


def _chips(build: Path, sets: dict, n: int) -> list[Chip]:
    from neurodeploy.compiling.artifact import Build
    cfg = MismatchConfig.from_manifest(Build(build).manifest).with_overrides(sets)
    return [Chip(3, k, cfg) for k in range(n)]


def test_per_chip_learning_gain_scales_the_update(build, data):
    """Chips equal but for their learning-rate gains: after the same one sample, each
    plastic synapse moved by its gain times the update of a chip without gain mismatch;
    synapses that are not plastic did not move."""
    setup = F.learn_setup(str(build), str(data), 1, 3)
    plain = _chips(build, {}, 1)
    varied = _chips(build, {"variability.learning.cv": 0.3}, 2)
    lay, w0 = F.finetune(setup, plain, 1, 3)
    _, w = F.finetune(setup, varied, 1, 3)
    start = lay.w0
    d0 = w0[0] - start
    plastic = np.zeros(start.size, bool)
    for name in lay.rule_names:
        sl = lay.slices[name]
        plastic[sl.syn0:sl.syn0 + sl.nnz] = True
    assert np.count_nonzero(d0[plastic]) > 100 and not d0[~plastic].any()
    _, _, gains = F.stack_chips(lay, setup.plan, varied, lay.rule_names)
    for c in range(2):
        np.testing.assert_allclose(w[c] - start, gains[c] * d0, rtol=1e-9, atol=1e-15)
    assert not np.allclose(w[0], w[1])


def test_chips_learn_alone_as_in_a_batch(build, data):
    """A chip's weights after fine-tuning do not depend on the other chips of its batch,
    and its stacked neuron parameters and forward weights are its own applied plan's (the
    learning pathway keeps nominal weights)."""
    setup = F.learn_setup(str(build), str(data), 40, 3)
    sets = {"variability.weights.cv": 0.3, "variability.v_th.cv": 0.1,
            "variability.learning.cv": 0.2, "variability.stuck_fraction": 0.05}
    chips = _chips(build, sets, 3)
    lay, w = F.finetune(setup, chips, 1, 3)
    _, alone = F.finetune(setup, chips[2:], 1, 3)
    np.testing.assert_array_equal(w[2], alone[0])
    applied = chips[1].apply(setup.plan)
    par, wst, _ = F.stack_chips(lay, setup.plan, chips, lay.rule_names)
    np.testing.assert_array_equal(lay.dense(wst[1], "in_hid"), applied.projections["in_hid"].weights)
    for name in setup.plan.learning_parts()[1]:     # the learning pathway stays nominal
        sl = lay.slices[name]
        np.testing.assert_array_equal(wst[1, sl.syn0:sl.syn0 + sl.nnz],
                                      lay.w0[sl.syn0:sl.syn0 + sl.nnz])
    h = lay.neuron0["hidden"]
    np.testing.assert_array_equal(par[1, 2, h:h + 60], applied.populations["hidden"].vth)


NOISE = "noise: {membrane: {sigma: 0.1}, spike_drop: {p: 0.1}}"


def test_noisy_build_fine_tunes_with_each_chip_drawing_its_own_noise(tmp_path, data, capsys):
    """Temporal noise rides along in training and fine-tuning on the cpu learner (each chip
    draws its own, so the same chip read out with another chip's noise differs), and the
    learners that do not draw it refuse the build by name."""
    from neurodeploy.compilers import load_plan
    from neurodeploy.errors import BackendError
    from neurodeploy.learning.learners import get_learner
    from neurodeploy.validation import accuracy
    net = tmp_path / "net.yaml"
    net.write_text(NET.replace("PLASTICITY", PLASTIC + "\n" + NOISE))
    build = tmp_path / "build"
    assert main(["train", str(net), "--profile", "cpu", "--epochs", "1", "--data", str(data),
                 "-o", str(build)]) == 0
    plan = load_plan(build)
    assert set(plan.noise) == {"membrane", "spike_drop"}
    out = tmp_path / "v"
    assert _validate(build, data, out, "--chips", "3", "--finetune",
                     "--set", "variability.weights.cv=0.3") == 0
    chips = json.loads((out / "report.json").read_text())["chips"]
    assert all({"accuracy", "accuracy_before"} <= set(c["figures"]) for c in chips)
    read = plan.frozen(keep_noise=True)
    work = accuracy.load_workload(read, str(data), 30, 0)
    a = accuracy.chip_figures(read, "cpu", work, plan.dt, noise_chip=0)
    assert a == accuracy.chip_figures(read, "cpu", work, plan.dt, noise_chip=0)
    assert a["synops"] != accuracy.chip_figures(read, "cpu", work, plan.dt, noise_chip=1)["synops"]
    quiet = accuracy.chip_figures(plan.frozen(), "cpu", work, plan.dt)
    assert quiet["synops"] != a["synops"]          # the noise is applied, not dropped
    for backend in ("lava", "brian2"):
        with pytest.raises(BackendError, match=f"temporal noise.*{backend} learner"):
            get_learner(backend, plan, "output")
    assert main(["train", str(net), "--profile", "cpu", "--backend", "lava", "--epochs", "1",
                 "--data", str(data), "-o", str(tmp_path / "lava")]) == 1
    assert "temporal noise" in capsys.readouterr().err
    assert not (tmp_path / "lava").exists()


#: sha256 of the weights below, computed before update noise and stochastic rounding
#: existed (commit a89cfff); fine-tuning with both off must still give exactly them.
OFF_SHA256 = "cab3d4cdbcf88312114b6c7468ff60b00da68ad0cd224cc49eb9f064845bfd39"


@pytest.mark.parametrize("sets", [{}, {"variability.learning.update_noise": 0,
                                       "variability.learning.stochastic_rounding": False}])
def test_updates_off_are_bit_for_bit_as_before(build, data, sets):
    import hashlib
    setup = F.learn_setup(str(build), str(data), 60, 3)
    _, w = F.finetune(setup, _chips(build, sets, 3), 2, 3)
    assert hashlib.sha256(np.ascontiguousarray(w).tobytes()).hexdigest() == OFF_SHA256


def test_update_noise_is_per_chip_and_reproducible(build, data):
    """Chips equal but for their update-noise draws: chip 1 learns the same alone as in a
    batch, chips 0 and 1 end differently, and the plastic synapses moved away from the
    noiseless run by about the requested std (0.5 LSB per update, a few updates each)."""
    setup = F.learn_setup(str(build), str(data), 20, 3)
    noisy = _chips(build, {"variability.learning.update_noise": 0.5}, 2)
    lay, w = F.finetune(setup, noisy, 1, 3)
    _, alone = F.finetune(setup, noisy[1:], 1, 3)
    _, again = F.finetune(setup, noisy, 1, 3)
    _, plain = F.finetune(setup, _chips(build, {}, 1), 1, 3)
    np.testing.assert_array_equal(w[1], alone[0])
    np.testing.assert_array_equal(w, again)
    assert not np.array_equal(w[0], w[1])
    sl = lay.slices["hid_out"]
    lsb = lay.rules.upd.lsb[lay.rule_names.index("hid_out")]
    diff = (w[0] - plain[0])[sl.syn0:sl.syn0 + sl.nnz] / lsb
    assert lsb > 0 and 0.5 < diff.std() < 0.5 * np.sqrt(20 * 20)


def test_stochastic_rounding_moves_weights_by_whole_lsbs(build, data):
    """With stochastic rounding every plastic weight moved by a whole number of its
    projection's LSBs (some by none, some by several); other weights did not move."""
    setup = F.learn_setup(str(build), str(data), 20, 3)
    chips = _chips(build, {"variability.learning.stochastic_rounding": True,
                           "variability.weights.cv": 0.2}, 1)
    lay, w = F.finetune(setup, chips, 1, 3)
    _, start, _ = F.stack_chips(lay, setup.plan, chips, lay.rule_names)
    moved = np.zeros(start.shape[1], bool)
    for q, name in enumerate(lay.rule_names):
        sl = lay.slices[name]
        k = (w[0] - start[0])[sl.syn0:sl.syn0 + sl.nnz] / lay.rules.upd.lsb[q]
        assert np.abs(k - np.rint(k)).max() < 1e-6
        assert np.count_nonzero(np.rint(k)) > 10 and np.abs(k).max() >= 2
        moved[sl.syn0:sl.syn0 + sl.nnz] = True
    np.testing.assert_array_equal(w[0][~moved], start[0][~moved])


def test_freeze_feedback_holds_b_and_the_start_weights_are_reported(data, tmp_path):
    """Kolen-Pollack's B learns with W; the control run (``freeze_feedback``) keeps every B
    synapse at its start value while W still learns, and ``start_out`` holds the weights
    the chips started from."""
    net = tmp_path / "kp.yaml"
    net.write_text(NET.replace("PLASTICITY", PLASTIC.replace("feedback_alignment", "kolen_pollack")))
    out = tmp_path / "kp"
    assert main(["train", str(net), "--profile", "cpu", "--epochs", "1", "--data", str(data),
                 "-o", str(out)]) == 0
    setup = F.learn_setup(str(out), str(data), 40, 3)
    chips = _chips(out, {"variability.weights.cv": 0.2}, 2)
    feedback = [b for _, *chain in setup.block["pairs"] for b in chain]
    start: list = []
    lay, w = F.finetune(setup, chips, 1, 3, start_out=start)
    _, held = F.finetune(setup, chips, 1, 3, freeze_feedback=True)
    for name in feedback:
        sl = lay.slices[name]
        part = slice(sl.syn0, sl.syn0 + sl.nnz)
        assert not np.array_equal(w[:, part], start[0][:, part])          # B learned
        np.testing.assert_array_equal(held[:, part], start[0][:, part])  # B held
    sl = lay.slices["in_hid"]
    fwd = slice(sl.syn0, sl.syn0 + sl.nnz)
    assert not np.array_equal(held[:, fwd], start[0][:, fwd])                # W still learns
