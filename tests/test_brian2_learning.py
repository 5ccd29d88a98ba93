"""The Brian2 learner against the cpu learner, a hand derivation and the rule definition.

Tolerance: weights after learning must agree with the cpu learner within ``ATOL = 1e-12``
(absolute) and every spike count must be identical. Brian2 evaluates each rule with the
cpu kernel's operations in the cpu kernel's order (one operation per statement) and sums
each neuron's input in the cpu's synapse order, so the runs here agree to the bit; the
tolerance leaves room for a reassociation on either side (one float64 rounding of a weight
near 1 is ~1e-16), far below any weight change the tests check (> 1e-3).
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from neurodeploy.compiling import compile_network
from neurodeploy.compilers import load_plan
from neurodeploy.compilers.brian2.learner import Brian2Learner
from neurodeploy.compilers.cpu import learner as cpu_learner
from neurodeploy.compilers.cpu.learner import CpuLearner
from neurodeploy.errors import BackendError
from neurodeploy.ir import parse_network
from neurodeploy.learning.engine_rule import EngineRule, Term, Trace
from neurodeploy.profiles import load_profile

ATOL = 1e-12


def _plan(tmp_path: Path, text: str, profile: str = "cpu", name: str = "build"):
    net = parse_network(text, tmp_path / f"{name}.yaml")
    return load_plan(compile_network(net, load_profile(profile), tmp_path / name).out)


def _spikes(seed: int, shape: tuple[int, ...], p: float) -> np.ndarray:
    return (np.random.default_rng(seed).random(shape) < p).astype(np.uint8)


def _labels(y: list[int], classes: int, steps: int) -> np.ndarray:
    out = np.zeros((len(y), steps, classes), np.uint8)
    for k, c in enumerate(y):
        out[k, ::2, c] = 1
    return out


LIF = "{tau_syn: 4.0, tau_mem: 15.0, v_th: 1.0, bias: 0.0, refractory: 0}"

FROZEN_NET = f"""
neurodeploy: 1
name: frozen
seed: 11
populations:
  inp: {{kind: spike_source, size: 14}}
  aux: {{kind: spike_source, size: 5}}
  bg: {{kind: poisson, size: 4, rate: 200.0}}
  h: {{kind: lif, size: 12, params: {{tau_syn: 3.0, tau_mem: 12.0, v_th: 0.8, bias: 0.02, refractory: 2}}}}
  out: {{kind: lif, size: 4, params: {LIF}}}
projections:
  in_h: {{pre: inp, post: h, connectivity: dense, delay: {{low: 0, high: 3}},
          weights: {{init: normal, mean: 0.15, std: 0.4}}}}
  aux_h: {{pre: aux, post: h, connectivity: {{sparse: 0.6}},
           weights: {{init: uniform, low: 0.0, high: 0.5}}}}
  bg_h: {{pre: bg, post: h, weights: {{init: constant, value: 0.5}}}}
  h_h: {{pre: h, post: h, connectivity: {{sparse: 0.3}}, delay: 1, weights: {{init: normal, std: 0.3}}}}
  h_out: {{pre: h, post: out, connectivity: {{sparse: 0.7}}, delay: {{low: 0, high: 2}},
           weights: {{init: normal, mean: 0.3, std: 0.4}}}}
"""


def test_frozen_readout_counts_identical_to_cpu(tmp_path: Path, monkeypatch):
    """Several samples, one after the other (u, v reset per sample; activations in flight
    kept): counts, spike totals and synaptic events equal the cpu learner's. The Poisson
    source gets no input and stays silent, as on cpu."""
    plan = _plan(tmp_path, FROZEN_NET).frozen()
    n, steps = 6, 25
    inputs = {"inp": _spikes(1, (n, steps, 14), 0.35), "aux": _spikes(2, (n, steps, 5), 0.3)}
    b2 = Brian2Learner(plan, "out")
    counts, totals, synops = b2.predict_counts(inputs, n, steps)
    monkeypatch.setattr(cpu_learner, "_threads", lambda: 1)   # one continuous sequence
    ref_counts, ref_totals, ref_synops = CpuLearner(plan, "out").predict_counts(inputs, n, steps)
    assert counts.shape == (n, 4)
    assert counts.sum() > 0 and len({tuple(c) for c in counts}) > 1
    np.testing.assert_array_equal(counts, ref_counts)
    np.testing.assert_array_equal(totals, ref_totals)
    assert synops == ref_synops > 0
    cpu = CpuLearner(plan, "out")
    np.testing.assert_array_equal(b2.present(inputs, n, steps, learn=False)[0],
                                  cpu.present(inputs, n, steps, learn=False)[0])
    np.testing.assert_array_equal(b2.last_totals, cpu.last_totals)


def _error_driven(rule: str, extra: str = "") -> str:
    # KP and weight mirror learn the feedback to one hidden layer: train h1 -> h2 -> out only
    trained = "h1_h2, h2_out" if rule in ("kolen_pollack", "weight_mirror") else "in_h1, h1_h2, h2_out"
    return f"""
neurodeploy: 1
name: {rule}
seed: 4
populations:
  inp: {{kind: spike_source, size: 10}}
  h1: {{kind: lif, size: 8, params: {LIF}}}
  h2: {{kind: lif, size: 6, params: {LIF}}}
  out: {{kind: lif, size: 3, params: {LIF}}}
projections:
  in_h1: {{pre: inp, post: h1, connectivity: dense, weights: {{init: normal, mean: 0.2, std: 0.5}}}}
  h1_h2: {{pre: h1, post: h2, connectivity: {{sparse: 0.8}}, delay: 1,
           weights: {{init: normal, mean: 0.3, std: 0.5}}}}
  h2_out: {{pre: h2, post: out, connectivity: dense, weights: {{init: normal, mean: 0.3, std: 0.5}}}}
plasticity:
  learn: {{rule: {rule}, projections: [{trained}], learning_rate: 0.02{extra}}}
task: {{input: inp, output: out, sample_steps: 16}}
"""


@pytest.mark.parametrize("rule,extra", [("feedback_alignment", ""),
                                        ("feedback_alignment", ", learning_epoch: 1"),
                                        ("direct_feedback_alignment", ", learning_epoch: 5"),
                                        ("kolen_pollack", ", decay: 0.01"),
                                        ("low_rank_fa", ", rank: 2")])
def test_error_driven_training_equals_cpu(tmp_path: Path, rule: str, extra: str):
    """Label spikes, graded error and relays, feedback to the third factor, gating, learning
    epochs (default: one per sample; 5 steps, across sample boundaries; 1 step): after two
    presentations of four samples every weight (forward and, for Kolen-Pollack, the learned
    feedback) equals the cpu learner's within ATOL."""
    plan = _plan(tmp_path, _error_driven(rule, extra))
    n, steps = 4, 16
    inputs = {"inp": _spikes(7, (n, steps, 10), 0.4),
              "learn_label": _labels([0, 2, 1, 2], 3, steps)}
    learners = [Brian2Learner(plan, "out"), CpuLearner(plan, "out")]
    counts = []
    for lr in learners:
        lr.set_phase("train")
        counts.append([lr.present(inputs, n, steps, learn=True) for _ in range(2)])
    for a, b in zip(*counts):
        np.testing.assert_array_equal(a, b)
    w_b2, w_cpu = learners[0].weights, learners[1].weights
    np.testing.assert_allclose(w_b2, w_cpu, rtol=0, atol=ATOL)
    lay, w0 = learners[0].layout, learners[0].layout.w0
    trained = (["h1_h2", "h2_out", "learn_fb_h2"] if rule == "kolen_pollack"
               else ["in_h1", "h1_h2", "h2_out"])
    for proj in trained:
        change = np.abs(lay.dense(w_b2[0], proj) - lay.dense(w0, proj)).max()
        assert change > 1e-3, f"{proj} did not learn ({change})"
    assert learners[0].synops == learners[1].synops


def test_chips_with_own_weights_and_gain_equal_cpu(tmp_path: Path):
    """Two chips, each with its own weight row, per-input spikes and a per-synapse learning
    gain (a mismatched chip's): every chip's weights and counts equal the cpu learner's."""
    plan = _plan(tmp_path, _error_driven("feedback_alignment", ", learning_epoch: 1"))
    n, steps = 3, 16
    probe = CpuLearner(plan, "out")
    nnz = probe.weights.shape[1]
    rng = np.random.default_rng(12)
    weights = probe.weights + rng.normal(0, 0.05, (2, nnz))
    gain = rng.uniform(0.5, 1.5, (2, nnz))
    inputs = {"inp": _spikes(8, (2, n * steps, 10), 0.4),
              "learn_label": np.repeat(_labels([1, 0, 2], 3, steps).reshape(1, n * steps, 3), 2, 0)}
    out = []
    for cls in (Brian2Learner, CpuLearner):
        lr = cls(plan, "out", chips=2, weights=weights, gain=gain)
        lr.set_phase("train")
        out.append((lr.present(inputs, n, steps, learn=True), lr.weights))
    np.testing.assert_array_equal(out[0][0], out[1][0])
    np.testing.assert_allclose(out[0][1], out[1][1], rtol=0, atol=ATOL)
    assert np.abs(out[0][1] - weights).max() > 1e-3
    assert not np.array_equal(out[0][1][0] - weights[0], out[0][1][1] - weights[1])


def test_mirror_phase_equals_cpu(tmp_path: Path):
    """Weight mirror's noise phase: only the mirror-phase rule (on the feedback) learns."""
    plan = _plan(tmp_path, _error_driven("weight_mirror", ", mirror_rate: 0.05"))
    noise = {"learn_noise": _spikes(3, (1, 40, 6), 0.3)}
    out = []
    for cls in (Brian2Learner, CpuLearner):
        lr = cls(plan, "out")
        lr.set_phase("mirror")
        lr.present(noise, 1, 40, learn=True)
        out.append(lr)
    np.testing.assert_allclose(out[0].weights, out[1].weights, rtol=0, atol=ATOL)
    lay, w = out[0].layout, out[0].weights[0]
    assert np.abs(lay.dense(w, "learn_fb_h2") - lay.dense(lay.w0, "learn_fb_h2")).max() > 1e-3
    np.testing.assert_array_equal(lay.dense(w, "h2_out"), lay.dense(lay.w0, "h2_out"))


STDP_NET = f"""
neurodeploy: 1
name: stdp
seed: 9
populations:
  inp: {{kind: spike_source, size: 12}}
  out: {{kind: lif, size: 5, params: {{tau_syn: 3.0, tau_mem: 10.0, v_th: 0.6, bias: 0.0, refractory: 1}}}}
projections:
  p: {{pre: inp, post: out, connectivity: {{sparse: 0.8}}, delay: {{low: 0, high: 2}},
       weights: {{init: uniform, low: 0.05, high: 0.4}}}}
plasticity:
  s: {{rule: stdp, projections: [p], learning_rate: 0.05, a_plus: 1.0, a_minus: 0.9,
       tau_plus: 5.0, tau_minus: 8.0, w_min: 0.0, w_max: 0.45}}
"""


def test_stdp_float_weights_equal_cpu(tmp_path: Path):
    """Pair STDP with bounds, delays and a refractory post population over 120 steps."""
    plan = _plan(tmp_path, STDP_NET)
    steps = 120
    inputs = {"inp": _spikes(5, (1, steps, 12), 0.25)}
    res = []
    for cls in (Brian2Learner, CpuLearner):
        lr = cls(plan, "out")
        lr.set_phase("train")
        res.append((lr.present(inputs, 1, steps, learn=True), lr.weights.copy(), lr.layout))
    np.testing.assert_array_equal(res[0][0], res[1][0])
    assert res[0][0].sum() > 0
    np.testing.assert_allclose(res[0][1], res[1][1], rtol=0, atol=ATOL)
    w, w0 = res[0][1][0], res[0][2].w0
    assert np.abs(w - w0).max() > 1e-2
    assert w.min() >= 0.0 and w.max() <= 0.45
    assert np.any((w == 0.45) | (w == 0.0)), "no weight reached a bound"


from .test_learning_core import ONE_LAYER  # noqa: E402  (the same one-synapse network)


@pytest.mark.parametrize("epoch, expected", [(1, 6), (8, 8)])
def test_fa_update_matches_hand_derivation(tmp_path: Path, epoch: int, expected: int):
    """Output silent (v_th 1000), so e = label. Label spikes at 0 and 3 reach the error
    relay at 1 and 4 and the output's third factor at 2 and 5; x1 (no decay) counts input
    spikes at 0, 1, 2 and 6. Epoch 1: dw = eta * x1 * e at steps 2 and 5 = 0.01 * (3 + 3).
    Epoch 8: one update at step 7 with x1 = 4 and the summed error 2. No phase: no change."""
    lr = Brian2Learner(_plan(tmp_path, ONE_LAYER.replace("EPOCH", str(epoch))), "out")
    lr.set_phase("train")
    inp = np.zeros((1, 8, 1), np.uint8)
    inp[0, [0, 1, 2, 6], 0] = 1
    label = np.zeros((1, 8, 1), np.uint8)
    label[0, [0, 3], 0] = 1
    lr.present({"inp": inp, "l_label": label}, 1, 8, learn=True)
    w = 0.5 + 0.01 * expected
    assert lr.layout.dense(lr.weights[0], "p")[0, 0] == pytest.approx(w, abs=1e-12)
    lr.set_phase(None)
    lr.present({"inp": inp, "l_label": label}, 1, 8, learn=True)
    assert lr.layout.dense(lr.weights[0], "p")[0, 0] == pytest.approx(w, abs=1e-12)


def test_learning_rate_schedule_applies(tmp_path: Path):
    """The trainer's schedule scales ``layout.rules.t_coef``; Brian2 reads the coefficients
    from there: halved, the epoch-1 example above gives dw = 0.005 * 6."""
    lr = Brian2Learner(_plan(tmp_path, ONE_LAYER.replace("EPOCH", "1")), "out")
    lr.layout.rules = lr.layout.rules._replace(t_coef=lr.layout.rules.t_coef * 0.5)
    lr.set_phase("train")
    inp = np.zeros((1, 8, 1), np.uint8)
    inp[0, [0, 1, 2, 6], 0] = 1
    label = np.zeros((1, 8, 1), np.uint8)
    label[0, [0, 3], 0] = 1
    lr.present({"inp": inp, "l_label": label}, 1, 8, learn=True)
    assert lr.layout.dense(lr.weights[0], "p")[0, 0] == pytest.approx(0.53, abs=1e-12)


def test_generated_dw_equals_reference():
    """The Brian2 statements of a rule with powers, both dependencies and a bare
    coefficient evaluate (as NumPy code) to the rule's own reference dw."""
    rule = EngineRule(terms=(Term(0.3, "u", ("x1", "y2")), Term(-0.2, "x0", ("y1", "y1", "w")),
                             Term(0.7, "y0", ("x1", "x2", "y3")), Term(0.05, "u", ())),
                      x1=Trace(3.0, 1.0), y1=Trace(2.0, 1.0))
    rng = np.random.default_rng(0)
    shape = (4, 5)
    x1, x2, y1, w = (rng.normal(size=shape) for _ in range(4))
    third = rng.normal(size=shape)
    x0, y0 = rng.random(shape) < 0.5, rng.random(shape) < 0.5
    ns = {"x1": x1, "x2": x2, "y1": y1, "w": w, "y2": np.maximum(third, 0),
          "y3": np.maximum(-third, 0), "x0": x0, "y0": y0,
          "int": lambda a: np.asarray(a, np.int64)}
    ns.update({f"c{k}": np.full(shape, t.coef) for k, t in enumerate(rule.terms)})
    for line in rule.brian2_expression().splitlines():
        name, expr = line.split(" = ", 1)
        ns[name] = eval(expr, {}, ns)
    ref = rule.reference_dw(x1, x2, y1, third, w, x0, y0)
    np.testing.assert_allclose(ns["_dw"], ref, rtol=1e-14, atol=1e-15)
    assert np.abs(ref).max() > 0.1


TRAIN_NET = f"""
neurodeploy: 1
name: train-cli
seed: 5
populations:
  input: {{kind: spike_source, size: 64}}
  hidden: {{kind: lif, size: 16, params: {LIF}}}
  output: {{kind: lif, size: 3, params: {LIF}}}
projections:
  in_hid: {{pre: input, post: hidden, connectivity: dense,
            weights: {{init: normal, mean: 0.05, std: 0.3}}}}
  hid_out: {{pre: hidden, post: output, connectivity: dense, delay: 1,
             weights: {{init: normal, mean: 0.1, std: 0.3}}}}
plasticity:
  learn: {{rule: feedback_alignment, projections: [in_hid, hid_out], learning_rate: 0.02}}
task: {{input: input, output: output, sample_steps: 10}}
"""


def test_train_cli_brian2_equals_cpu(tmp_path: Path):
    """``neurodeploy train --backend brian2`` (digits, classes 0-2, 24 samples): the same
    curves and trained weights as ``--backend cpu``."""
    (tmp_path / "net.yaml").write_text(TRAIN_NET)
    cli = Path(sys.executable).parent / "neurodeploy"
    runs = {}
    for backend in ("brian2", "cpu"):
        out = tmp_path / backend
        proc = subprocess.run([str(cli), "train", str(tmp_path / "net.yaml"), "--profile", "cpu",
                               "--backend", backend, "--epochs", "1", "--classes", "0,1,2",
                               "--train-samples", "24", "--test-samples", "12", "-o", str(out)],
                              capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr
        assert f"on {backend}" in proc.stdout
        runs[backend] = out / "training"
    curves = [json.loads((runs[b] / "curves.json").read_text()) for b in ("brian2", "cpu")]
    for key in ("train_accuracy", "test_accuracy", "loss", "angles"):
        assert curves[0][key] == curves[1][key], key
    files = sorted(p.name for p in (runs["cpu"] / "weights").glob("*.npy"))
    assert "in_hid.npy" in files and "learn_fb_hidden.npy" in files
    for name in files:
        np.testing.assert_allclose(np.load(runs["brian2"] / "weights" / name),
                                   np.load(runs["cpu"] / "weights" / name), rtol=0, atol=ATOL)


FIXED_NET = """
neurodeploy: 1
name: fixed
populations:
  inp: {kind: spike_source, size: 64}
  out: {kind: lif, size: 10}
projections:
  p: {pre: inp, post: out, weights: {init: normal, std: 0.3}}
task: {input: inp, output: out}
"""


def test_fixed_build_refused(tmp_path: Path):
    """A fixed-point build: the learner refuses it by name, and ``evaluate --backend
    brian2`` exits 1 with one line naming the build and the fix."""
    plan = _plan(tmp_path, FIXED_NET, profile="loihi2")
    with pytest.raises(BackendError, match="float builds only"):
        Brian2Learner(plan, "out")
    cli = Path(sys.executable).parent / "neurodeploy"
    proc = subprocess.run([str(cli), "evaluate", plan.path, "--backend", "brian2",
                           "--samples", "4"], capture_output=True, text=True, timeout=120)
    err = proc.stderr.strip()
    assert proc.returncode == 1, err
    assert len(err.splitlines()) == 1
    assert plan.path in err and "--profile cpu" in err and "numerics" in err


def test_bad_inputs_refused(tmp_path: Path):
    plan = _plan(tmp_path, ONE_LAYER.replace("EPOCH", "1"))
    lr = Brian2Learner(plan, "out")
    with pytest.raises(BackendError, match="not a source population"):
        lr.present({"nope": np.zeros((1, 4, 1), np.uint8)}, 1, 4, learn=False)
    with pytest.raises(BackendError, match="has shape"):
        lr.present({"inp": np.zeros((1, 4, 3), np.uint8)}, 1, 4, learn=False)
    with pytest.raises(BackendError, match="weights have shape"):
        Brian2Learner(plan, "out", chips=2, weights=np.zeros((3, lr.weights.shape[1])))
    with pytest.raises(BackendError, match="gain has shape"):
        Brian2Learner(plan, "out", gain=np.ones(5))
    for readout in ("inp", "l_error", "nope"):
        with pytest.raises(BackendError, match="read-out"):
            Brian2Learner(plan, readout)
