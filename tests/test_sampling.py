"""Sampling tasks (issue 21): the task's one-line refusals, signed STDP amplitudes, the
event-driven rules' pair accounting, and SAL lowering a tiny sampling network's asymmetry."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from neurodeploy.cli import main
from neurodeploy.errors import IRError
from neurodeploy.ir.load import parse_network
from neurodeploy.learning.sampling import EXP_ALL, EXP_NEAREST, TRI_NEAREST, sleep_phase
from neurodeploy.learning.sampling_session import SamplingTrainer
from neurodeploy.task.sampling import asymmetry, boltzmann, dkl, states

TINY = """
neurodeploy: 1
name: tiny-sampling
seed: 3
populations:
  z: {kind: stochastic, size: 4, params: {refractory: 10, tau_syn: 10.0, tau_mem: 1.0,
      v_th: 2.3, beta: 1.0, bias: 0.0}}
projections:
  rec: {pre: z, post: z, weights: {init: normal, std: 0.3}}
plasticity:
  wake: {rule: stdp, projections: [rec], phase: wake, learning_rate: 0.05, a_plus: 1.0,
         a_minus: -1.0, w_min: -2.0, w_max: 2.0}
  sleep: {rule: stdp, projections: [rec], phase: sleep, learning_rate: 0.05, a_plus: -1.0,
          a_minus: 1.0, tau_plus: 10, tau_minus: 10, window: triangular, pairing: nearest,
          amplitude_cv: 0.3}
SAL
  bw: {rule: bias, populations: [z], phase: wake, learning_rate: 0.05}
  bs: {rule: bias, populations: [z], phase: sleep, learning_rate: 0.05, amplitude: -1.0}
task: {kind: sampling, population: z, projection: rec, target: {seed: 5}, iterations: 60,
       steps: 1000, validate_every: 20, validation_factor: 20}
"""
SAL = """  sal: {rule: stdp, projections: [rec], phase: sleep, learning_rate: 0.2, a_plus: -1.0,
        a_minus: -1.0, tau_plus: 10, tau_minus: 10, window: triangular, pairing: nearest}"""


def tiny(sal: bool = True, **swap: str) -> str:
    text = TINY.replace("SAL\n", SAL + "\n" if sal else "")
    for old, new in swap.items():
        assert old in text
        text = text.replace(old, new)
    return text


@pytest.mark.parametrize("psp", ["rectangular", "exponential"])
def test_sal_lowers_the_asymmetry_hebbian_learning_leaves(psp: str) -> None:
    """Same network, seed and rules but SAL: both learn the target (D_KL falls), SAL ends
    far more symmetric; with either PSP."""
    swap = {"validation_factor: 20}": f"validation_factor: 20, psp: {psp}}}"}
    with_sal = SamplingTrainer(parse_network(tiny(True, **swap))).run()
    without = SamplingTrainer(parse_network(tiny(False, **swap))).run()
    for res in (with_sal, without):
        assert res.curves.dkl[-1] < res.curves.dkl[0]
    assert with_sal.curves.asymmetry[-1] < 0.5 * without.curves.asymmetry[-1]
    assert with_sal.curves.asymmetry[-1] < with_sal.curves.asymmetry[0]


def test_signed_amplitudes_split_causal_and_anticausal_pairs() -> None:
    """Hebbian (a_plus 1, a_minus -1) and SAL (a_plus = a_minus = -1) on the same spikes:
    their difference is twice the causal pair sum C, their sum twice the anti-causal A;
    every pair is causal for one synapse and anti-causal for its reverse (A = C^T), so the
    Hebbian change is symmetric and SAL's antisymmetric: SAL moves W - W^T only."""
    n = 5
    rng = np.random.default_rng(0)
    w = rng.normal(0, 0.5, (n, n))
    codes = np.array([TRI_NEAREST, TRI_NEAREST, EXP_NEAREST, EXP_ALL])
    ones = np.ones((codes.size, n, n))
    amp_p = ones * np.array([1.0, -1.0, 1.0, 1.0])[:, None, None]
    amp_m = ones * np.array([-1.0, -1.0, -1.0, -1.0])[:, None, None]
    acc = np.zeros((codes.size, n, n))
    counts = np.zeros(n, np.int64)
    sleep_phase(w, np.zeros(n), np.full(n, 2.0), np.ones(n), 8, 8.0, True, 20000, 1, codes,
                amp_p, amp_m, np.full(codes.size, 8.0), np.full(codes.size, 8.0), acc, counts,
                np.zeros(0, np.int64))
    hebb, sal, nearest, every = acc
    causal, anti = (hebb - sal) / 2, (hebb + sal) / 2
    assert counts.min() > 100 and causal.min() >= 0 and causal.sum() > 10
    np.testing.assert_allclose(anti, causal.T, atol=1e-9)
    np.testing.assert_allclose(hebb, hebb.T, atol=1e-9)
    np.testing.assert_allclose(sal, -sal.T, atol=1e-9)
    # exponential windows: all pairs hold the nearest ones and more
    np.testing.assert_allclose(every, every.T, atol=1e-9)
    assert np.all(every >= nearest - 1e-9) and every.sum() > nearest.sum() * 1.01


def test_boltzmann_read_outs() -> None:
    """The exact distribution is the normalised exp(-E); D_KL of p with itself is 0 and
    positive otherwise; a symmetric W has asymmetry 0."""
    w = np.array([[0, 0.5, -1], [0.5, 0, 0.2], [-1, 0.2, 0]])
    b = np.array([0.1, -0.3, 0.4])
    t = boltzmann(w, b)
    z = states(3)
    e = np.exp([0.5 * s @ w @ s + b @ s for s in z])
    np.testing.assert_allclose(t.distribution, e / e.sum())
    np.testing.assert_allclose(t.marginals, (e / e.sum()) @ z)
    assert dkl(t.distribution, t.distribution) == pytest.approx(0.0, abs=1e-12)
    assert dkl(t.distribution, np.full(8, 1 / 8)) > 0.01
    assert asymmetry(w) == 0.0 and asymmetry(w + np.triu(np.arange(9.0).reshape(3, 3), 1)) > 0


@pytest.mark.parametrize("swap, path, words", [
    ({"kind: stochastic": "kind: lif", "beta: 1.0, ": ""}, "task.population",
     "stochastic population"),
    ({"tau_mem: 1.0": "tau_mem: 5.0"}, "populations.z.params.tau_mem", "tau_mem to dt"),
    ({"refractory: 10": "refractory: 0"}, "populations.z.params.refractory", "refractory >= 1"),
    ({"projection: rec": "projection: nope"}, "task.projection", "unknown projection"),
    ({"a_minus: -1.0, w_min": "a_minus: 1.0, w_min"}, "plasticity.wake.a_minus",
     "set a_minus to -a_plus"),
    ({"target: {seed: 5}": "target: {weights: [[0, 1, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0], "
      "[0, 0, 0, 0]], bias: [0, 0, 0, 0]}"}, "task.target.weights", "symmetric"),
    ({"target: {seed: 5}": "target: {alpha: 2.0}"}, "task.target", "either seed"),
    ({"phase: wake, learning_rate: 0.05, a_plus": "learning_rate: 0.05, a_plus"},
     "plasticity.sleep.projections[0]", "several stdp blocks with a phase"),
    ({"pairing: nearest,\n          amplitude_cv": "pairing: all,\n          amplitude_cv"},
     "plasticity.sleep.pairing", "pairing: nearest"),
])
def test_sampling_task_refusals(swap: dict, path: str, words: str) -> None:
    """Each bad sampling network is one IRError naming the field and the fix."""
    with pytest.raises(IRError) as exc:
        parse_network(tiny(True, **swap), name="net.yaml")
    text = str(exc.value)
    assert "\n" not in text and "net.yaml" in text and path in text and words in text


def test_sampling_options_are_refused_outside_sampling_tasks(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture) -> None:
    """compile cannot run the sampling rules' phases, nor a sampling task: one line, exit
    1, nothing written."""
    net = tmp_path / "net.yaml"
    net.write_text("\n".join(line for line in tiny(True).split("task:")[0].splitlines()
                             if "rule: bias" not in line))
    code = main(["compile", str(net), "--profile", "cpu", "-o", str(tmp_path / "b")])
    err = capsys.readouterr().err.strip()
    assert code == 1 and len(err.splitlines()) == 1 and "task of kind sampling" in err
    assert not (tmp_path / "b").exists()
    net.write_text(tiny(True))                    # the sampling task itself: no build
    assert main(["compile", str(net), "--profile", "cpu", "-o", str(tmp_path / "b")]) == 1
    assert "trains on the sampling simulator" in capsys.readouterr().err
    assert not (tmp_path / "b").exists()


def test_train_sampling_writes_sealed_summary(tmp_path: Path,
                                             capsys: pytest.CaptureFixture) -> None:
    """train of a sampling task: summary.json with final dkl/asymmetry and their curves,
    the plot and the trained network; a refused backend or flag writes nothing."""
    net = tmp_path / "net.yaml"
    net.write_text(tiny(True, **{"iterations: 60": "iterations: 6", "validate_every: 20":
                                 "validate_every: 2"}))
    out = tmp_path / "out"
    for extra, words in ((["--backend", "lava"], "cannot run a sampling task"),
                         (["--learning-rate", "0.1"], "--learning-rate does not apply"),
                         (["--epochs", "3"], "--epochs does not apply")):
        assert main(["train", str(net), "-o", str(out), *extra]) == 1
        assert words in capsys.readouterr().err and not out.exists()
    assert main(["train", str(net), "-o", str(out)]) == 0
    doc = json.loads((out / "training" / "summary.json").read_text())
    assert doc["kind"] == "sampling" and doc["curves"]["iteration"] == [0, 2, 4, 5]
    assert doc["dkl"] == doc["curves"]["dkl"][-1] > 0 and doc["asymmetry"] >= 0
    assert (out / "training" / "curves.png").stat().st_size > 1000
    trained = (out / "training" / "network.yaml").read_text()
    assert "weights/rec.npy" in trained and (out / "training" / "weights" / "rec.npy").exists()
    assert main(["train", str(net), "-o", str(out)]) == 1      # exists: --force replaces
    assert main(["train", str(net), "-o", str(out), "--force"]) == 0
    assert main(["train", str(net), "-o", str(net), "--force"]) == 1   # never onto an input
    assert main(["train", str(net), "-o", str(tmp_path), "--force"]) == 1
    assert net.read_text().startswith("\nneurodeploy: 1")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["net.yaml", "out"]
