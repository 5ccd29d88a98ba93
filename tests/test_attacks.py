"""validate --attack: the twin's gradient against a hand computation, eps = 0 equals evaluate
for every attack, accuracy under attack never above clean, per-chip figures, bad options."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from neurodeploy.compiling import compile_network
from neurodeploy.ir import parse_network
from neurodeploy.profiles import load_profile

LINEAR = """
neurodeploy: 1
name: linear-readout
seed: 1
populations:
  input:  {kind: spike_source, size: 4}
  output: {kind: lif, size: 3, params: {tau_syn: 1.0, tau_mem: 1.0, v_th: 1.0}}
projections:
  p: {pre: input, post: output, connectivity: dense, weights: {file: w.npy}}
task: {input: input, output: output, encoding: regular, max_rate: 0.5, sample_steps: 12}
"""

TASK_NET = """
neurodeploy: 1
name: attacknet
seed: 4
populations:
  input:  {kind: spike_source, size: 64}
  output: {kind: lif, size: 10, params: {tau_syn: 2.0, tau_mem: 4.0, v_th: 1.0}}
projections:
  a: {pre: input, post: output, connectivity: dense, weights: {file: w.npy}, delay: 1}
task: {input: input, output: output, encoding: regular, max_rate: 0.5, sample_steps: 20}
"""

# 4 pixels -> 3 outputs; multiples of 1/8, so every sum is exact in float
W = np.array([[1.25, -0.5, 0.75, 1.0], [0.5, 1.5, -0.25, 0.5], [-0.75, 0.5, 1.25, 1.5]])


def test_fgsm_on_a_linear_readout_equals_the_hand_computed_gradient(tmp_path):
    """With tau_syn = tau_mem = dt the output's v at step t is W s(t-1): the gradient of
    cross-entropy of the counts is sum_t (softmax - onehot) sg(W s - 1) W max_rate."""
    from neurodeploy.task import encode_samples
    from neurodeploy.validation.attacks.gradient import fgsm_step
    from neurodeploy.validation.attacks.target import Target
    from neurodeploy.validation.attacks.twin import input_gradient, twin_of
    from neurodeploy.compilers import load_plan
    np.save(tmp_path / "w.npy", W)
    out = tmp_path / "lin"
    compile_network(parse_network(LINEAR, base_dir=tmp_path), load_profile("cpu"), out)
    plan = load_plan(out).frozen()
    x = np.array([[0.3, 0.7, 0.55, 0.9], [0.8, 0.2, 0.65, 0.35], [0.45, 0.95, 0.15, 0.6]])
    y = np.array([0, 1, 2])
    slope, rate, T = 5.0, 0.5, 12
    spikes = encode_samples(x, T, rate, "regular", 1).astype(np.float64)     # [B, T, 4]
    z = np.einsum("btn,jn->btj", spikes[:, :T - 1], W) - 1.0                  # steps 1..T-1
    counts = (z > 0).sum(axis=1).astype(np.float64)
    sm = np.exp(counts - counts.max(1, keepdims=True))
    sm /= sm.sum(1, keepdims=True)
    dl_dc = sm - np.eye(3)[y]
    sg = 1.0 / (1.0 + slope * np.abs(z)) ** 2
    hand = np.einsum("bj,btj,jn->bn", dl_dc, sg, W) * rate
    twin = twin_of(plan, torch.float64)
    with torch.no_grad():
        twin_counts = twin.counts(torch.as_tensor(x), slope).numpy()
    # one sample per read-out: in a sequence the last step's spikes reach the next sample
    target = Target(plan, x, y, x, y, 0)
    build_counts = np.concatenate([target.counts(x[i:i + 1]) for i in range(3)])
    assert np.array_equal(twin_counts, counts) and np.array_equal(build_counts, counts)
    assert np.allclose(input_gradient(twin, x, y, slope, "ce"), hand, rtol=1e-12, atol=1e-15)
    assert np.all(hand != 0)
    eps = 0.05
    assert np.array_equal(fgsm_step(twin, x, y, eps, slope, "ce"),
                          np.clip(x + eps * np.sign(hand), 0, 1))


@pytest.fixture(scope="module")
def task_build(tmp_path_factory) -> Path:
    """A prototype classifier (class means of the training pixels, centred): 85 % on the
    first 40 test samples, so an attack has something to break."""
    from neurodeploy.task import load_dataset
    tmp = tmp_path_factory.mktemp("attack")
    data = load_dataset("digits")
    means = np.stack([data.x_train[data.y_train == c].mean(axis=0) for c in range(10)])
    np.save(tmp / "w.npy", 0.4 * (means - means.mean(axis=0)))
    out = tmp / "task"
    compile_network(parse_network(TASK_NET, base_dir=tmp), load_profile("loihi2"), out)
    return out


def test_eps_zero_equals_evaluate_for_every_attack_and_chips_follow(task_build, tmp_path, capsys):
    from neurodeploy.cli import main
    from neurodeploy.learning.evaluate import evaluate_build
    out = tmp_path / "att"
    code = main(["validate", str(task_build), "--attack", "all", "--eps", "0.1", "--samples",
                 "40", "--pgd-steps", "3", "--restarts", "2", "--queries", "4",
                 "--twin-epochs", "1", "--slopes", "2,10", "--attack-chips", "--chips", "2",
                 "--set", "variability.weights.cv=0.2", "-o", str(out), "-q"])
    assert code == 0, capsys.readouterr().err
    rep = json.loads((out / "report.json").read_text())
    assert (out / "report.html").read_text().startswith("<!doctype html>")
    clean = evaluate_build(task_build, samples=40)["accuracy"]
    assert rep["clean_accuracy"] == clean
    by = {(e["attack"], e["eps"]): e for e in rep["entries"]}
    assert sorted(by) == sorted((a, e) for a in ("fgsm", "pgd", "transfer", "blackbox")
                                for e in (0.0, 0.1))
    for (attack, eps), e in by.items():
        lo, hi = e["accuracy_ci"]
        assert lo <= e["accuracy"] <= hi and e["n"] == 40
        if eps == 0:
            assert e["accuracy"] == clean, attack
            assert e["chips"]["per_chip"] == by[("fgsm", 0.0)]["chips"]["per_chip"]
        else:
            assert e["accuracy"] <= clean, attack
    assert by[("pgd", 0.1)]["accuracy"] < clean            # the white-box attack bites
    # chip k at eps 0 is validate's chip k on the clean test set
    code = main(["validate", str(task_build), "--chips", "2", "--samples", "40",
                 "--set", "variability.weights.cv=0.2", "-o", str(tmp_path / "val"), "-q"])
    assert code == 0
    val = json.loads((tmp_path / "val" / "report.json").read_text())
    per_chip = [c["figures"]["accuracy"] for c in val["chips"]]
    assert per_chip == by[("pgd", 0.0)]["chips"]["per_chip"] and per_chip[0] != per_chip[1]


@pytest.mark.parametrize("args, message", [
    (["--attack", "fgsn"], "--attack: unknown attack 'fgsn'"),
    (["--attack", ","], "--attack: unknown attack"),
    (["--attack", "fgsm", "--eps", "0.1,abc"], "--eps: 'abc' is not a number"),
    (["--attack", "fgsm", "--eps", "-0.1"], "--eps: -0.1 is outside [0, 1]"),
    (["--attack", "fgsm", "--eps", "nan"], "--eps: nan is outside [0, 1]"),
    (["--attack", "pgd", "--pgd-steps", "0"], "--pgd-steps: must be >= 1"),
    (["--attack", "fgsm", "--slopes", "0"], "--slopes: surrogate slopes must be positive"),
    (["--attack", "fgsm", "--backend", "lava"], "--backend: attacked inputs run"),
])
def test_bad_attack_options_are_one_line_errors(task_build, tmp_path, capsys, args, message):
    from neurodeploy.cli import main
    out = tmp_path / "never"
    assert main(["validate", str(task_build), *args, "-o", str(out), "-q"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err, err
    assert not out.exists()


def test_blackbox_margin_follows_evaluates_tie_rule():
    from neurodeploy.validation.attacks.blackbox import margin
    counts = np.array([[3, 3, 1], [2, 5, 0], [4, 1, 4], [0, 0, 0]], np.float64)
    y = np.array([1, 1, 0, 2])
    # ties go to the lowest index: sample 0 is wrong (class 0 wins), sample 2 right
    assert margin(counts, y).tolist() == [-0.5, 3.0, 0.0, -0.5]


@pytest.mark.parametrize("encoding", ["regular", "rate"])
def test_twin_encoder_is_the_builds_forward_and_its_rate_backward(encoding):
    from neurodeploy.task import encode_samples
    from neurodeploy.validation.attacks.twin import encode
    x = torch.tensor(np.random.default_rng(0).uniform(0.05, 0.95, (6, 16)), dtype=torch.float64,
                     requires_grad=True)
    spikes = encode(x, 40, 0.5, encoding, torch.Generator().manual_seed(3))
    (grad,) = torch.autograd.grad(spikes.sum(), x)
    assert np.allclose(grad.numpy(), 40 * 0.5)                 # d spikes_t / dx = max_rate
    s = spikes.detach().numpy()
    assert set(np.unique(s)) <= {0.0, 1.0}
    if encoding == "regular":
        assert np.array_equal(s, encode_samples(x.detach().numpy(), 40, 0.5, "regular", 1))
    else:                                                       # Bernoulli with p = 0.5 x
        p = 0.5 * x.detach().numpy()
        assert abs(float((s.mean(axis=1) - p).mean())) < 0.02
        again = encode(x, 40, 0.5, encoding, torch.Generator().manual_seed(4))
        assert not np.array_equal(again.detach().numpy(), s)  # a fresh draw per call (EOT)


def test_the_api_attack_returns_the_report_and_writes_only_when_asked(task_build, tmp_path):
    """nd.attack (what validate --attack calls) with sequences for the flags' lists."""
    import neurodeploy as nd
    from neurodeploy.learning.evaluate import evaluate_build
    report = nd.attack(task_build, attacks=["fgsm"], eps=[0.1], samples=10, slopes=[2],
                       progress=False)
    assert report.folder is None and not (Path(task_build) / "attack").exists()
    assert sorted((e["attack"], e["eps"]) for e in report.raw["entries"]) == [("fgsm", 0.0),
                                                                            ("fgsm", 0.1)]
    assert report.raw["clean_accuracy"] == evaluate_build(task_build, samples=10)["accuracy"]
    assert str(report) == "\n".join(report.lines()) and report.lines()
    with pytest.raises(nd.NeurodeployError, match="--slopes: 'a' is not a list of numbers"):
        nd.attack(task_build, slopes="a", out=tmp_path / "never")
    assert not (tmp_path / "never").exists()
