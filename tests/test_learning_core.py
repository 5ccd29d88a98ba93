"""The learning core: engine rules, the one cpu step loop, hand-derived weight changes.

Every expected value here is derived by hand from the timing contract (a projection
delivers at t + 1 what its pre population emitted at t) and the rule's formula, not taken
from a run of the code under test.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from neurodeploy.compiling import compile_network
from neurodeploy.compilers import load_plan
from neurodeploy.compilers.cpu import run_arrays
from neurodeploy.compilers.cpu.learn_layout import Layout
from neurodeploy.compilers.cpu.run_arrays import Recorder
from neurodeploy.compilers.cpu.step_loop import run_instance
from neurodeploy.compilers.cpu.learner import CpuLearner
from neurodeploy.ir import parse_network
from neurodeploy.learning.engine_rule import EngineRule
from neurodeploy.learning.expand import expand
from neurodeploy.profiles import load_profile



def _build(tmp_path: Path, text: str, profile: str = "cpu") -> Path:
    net = parse_network(text, tmp_path / "net.yaml")
    return compile_network(net, load_profile(profile), tmp_path / "build").out


def _recorder(lay: Layout, steps: int, batch: int = 1) -> Recorder:
    n = lay.n
    return run_arrays.recorder(lay, batch, steps, spikes=np.arange(lay.n_src, lay.n_src + n),
                               v=np.arange(n))


ONE_LAYER = """
neurodeploy: 1
name: one
populations:
  inp: {kind: spike_source, size: 1}
  out: {kind: lif, size: 1, params: {v_th: 1000.0}}
projections:
  p: {pre: inp, post: out, weights: {init: constant, value: 0.5}}
plasticity:
  l: {rule: feedback_alignment, projections: [p], learning_rate: 0.01, trace_tau: 0,
      learning_epoch: EPOCH}
task: {input: inp, output: out, sample_steps: 8}
"""


@pytest.mark.parametrize("epoch, expected", [(1, 6), (8, 8)])
def test_fa_output_update_matches_hand_derivation(tmp_path: Path, epoch: int, expected: int):
    """Output never fires (v_th 1000), so e = label. Label spikes at 0 and 3 reach the
    error relay at 1 and 4 and the output's third factor at 2 and 5. x1 (no decay) counts
    input spikes at 0, 1, 2 and 6. Epoch 1: dw = eta * x1 * e at steps 2 and 5 =
    0.01 * (3 + 3). Epoch 8: one update at step 7 with x1 = 4 and the summed error 2."""
    plan = load_plan(_build(tmp_path, ONE_LAYER.replace("EPOCH", str(epoch))))
    learner = CpuLearner(plan, "out")
    learner.set_phase("train")
    inp = np.zeros((1, 8, 1), np.uint8)
    inp[0, [0, 1, 2, 6], 0] = 1
    label = np.zeros((1, 8, 1), np.uint8)
    label[0, [0, 3], 0] = 1
    learner.present({"inp": inp, "l_label": label}, 1, 8, learn=True)
    w = learner.layout.dense(learner.weights[0], "p")[0, 0]
    assert w == pytest.approx(0.5 + 0.01 * expected, abs=1e-12)


def test_learning_off_leaves_weights(tmp_path: Path):
    plan = load_plan(_build(tmp_path, ONE_LAYER.replace("EPOCH", "1")))
    learner = CpuLearner(plan, "out")
    learner.set_phase("train")
    ones = np.ones((1, 8, 1), np.uint8)
    learner.present({"inp": ones, "l_label": ones}, 1, 8, learn=False)
    assert learner.layout.dense(learner.weights[0], "p")[0, 0] == 0.5


STDP_NET = """
neurodeploy: 1
name: stdp
populations:
  pre: {kind: spike_source, size: 1}
  drive: {kind: spike_source, size: 1}
  post: {kind: lif, size: 1, params: {tau_syn: 1.0, tau_mem: 1.0, v_th: 1.0}}
projections:
  p: {pre: pre, post: post, weights: {init: constant, value: 0.01}}
  d: {pre: drive, post: post, weights: {init: constant, value: 5.0}}
plasticity:
  s: {rule: stdp, projections: [p], learning_rate: 1.0, a_plus: 0.2, a_minus: 0.3,
      tau_plus: 4.0, tau_minus: 6.0}
"""


def test_stdp_pair_matches_hand_derivation(tmp_path: Path):
    """pre fires at 2; drive fires at 4 so post fires at 5 (u = 5 > v_th, tau 1 means no
    memory). Potentiation at the post spike: 0.2 * exp(-3/4); then pre fires again at 9:
    depression 0.3 * y1(9) = 0.3 * exp(-4/6)."""
    plan = load_plan(_build(tmp_path, STDP_NET))
    learner = CpuLearner(plan, "post")
    learner.set_phase("train")
    pre = np.zeros((1, 12, 1), np.uint8)
    pre[0, [2, 9], 0] = 1
    drive = np.zeros((1, 12, 1), np.uint8)
    drive[0, 4, 0] = 1
    counts = learner.present({"pre": pre, "drive": drive}, 1, 12, learn=True)
    assert counts.sum() == 1
    w = learner.layout.dense(learner.weights[0], "p")[0, 0]
    assert w == pytest.approx(0.01 + 0.2 * math.exp(-3 / 4) - 0.3 * math.exp(-4 / 6), abs=1e-12)


def test_kolen_pollack_rules_are_transposes(tmp_path: Path):
    """For any sequence of (x, e), the generated W and B rules give
    |W_t - B_t^T| = (1 - lambda)^t |W_0 - B_0^T|."""
    text = """
neurodeploy: 1
name: kp
populations:
  inp: {kind: spike_source, size: 5}
  hid: {kind: lif, size: 4}
  out: {kind: lif, size: 3}
projections:
  a: {pre: inp, post: hid}
  b: {pre: hid, post: out}
plasticity:
  k: {rule: kolen_pollack, projections: [a, b], learning_rate: 0.05, decay: 0.01}
"""
    rules = expand(parse_network(text, tmp_path / "kp.yaml")).rules()
    rw, rb = rules["b"], rules["k_fb_hid"]
    assert rb.tied_to == "b"
    rng = np.random.default_rng(3)
    W, B = rng.normal(size=(3, 4)), rng.normal(size=(4, 3))
    gap0 = np.linalg.norm(W - B.T)
    for t in range(1, 41):
        h, e = rng.random(4) * 3, rng.normal(size=3)
        dW = rw.reference_dw(x1=h[None, :], x2=0, y1=0, third=e[:, None], w=W, x0=1, y0=1)
        dB = rb.reference_dw(x1=e[None, :], x2=0, y1=h[:, None], third=0, w=B, x0=1, y0=1)
        W, B = W + dW, B + dB
        assert np.linalg.norm(W - B.T) == pytest.approx((1 - 0.01) ** t * gap0, rel=1e-9)


def test_engine_rule_round_trips_and_translates():
    from neurodeploy.learning.engine_rule import Term, Trace
    rule = EngineRule(terms=(Term(0.5, "y0", ("x1",)), Term(-0.25, "x0", ("y1",)),
                             Term(-0.01, "u", ("w",))), x1=Trace(4.0, 1.0), y1=Trace(6.0, 1.0))
    assert EngineRule.from_dict(rule.to_dict()) == rule
    assert rule.lava_dw() == "0.5 * y0 * x1 - 0.25 * x0 * y1 - 0.01 * u0 * weights"
    assert "int(y0)" in rule.brian2_expression() and "int(x0)" in rule.brian2_expression()
    with pytest.raises(ValueError):
        Term(1.0, "z0", ("x1",))


def _kp_plan(tmp_path: Path):
    text = """
neurodeploy: 1
name: carry
seed: 4
populations:
  inp: {kind: spike_source, size: 12}
  hid: {kind: lif, size: 9, params: {tau_syn: 3.0, tau_mem: 8.0, v_th: 0.5}}
  out: {kind: lif, size: 4, params: {tau_syn: 3.0, tau_mem: 8.0, v_th: 0.5}}
projections:
  a: {pre: inp, post: hid, weights: {init: normal, mean: 0.1, std: 0.3}, delay: {low: 0, high: 2}}
  b: {pre: hid, post: out, weights: {init: normal, mean: 0.1, std: 0.3}}
plasticity:
  k: {rule: kolen_pollack, projections: [a, b], learning_rate: 0.01, decay: 0.001}
task: {input: inp, output: out}
"""
    return load_plan(_build(tmp_path, text))


@pytest.mark.parametrize("batch", [1, 3])
def test_state_carried_runs_equal_one_long_run(tmp_path: Path, batch: int):
    """1000 steps in one call equal 2 x 500 with state and weights carried, bit for bit,
    with learning on (per-instance weights when batched)."""
    plan = _kp_plan(tmp_path)
    rules = {p: EngineRule.from_dict(d) for b in plan.plasticity.values()
             for p, d in b["projections"].items()}
    lay = Layout(plan, rules)
    rng = np.random.default_rng(1)
    steps = 1000
    inputs = {"inp": (rng.random((batch, steps, 12)) < 0.2).astype(np.uint8),
              "k_label": (rng.random((batch, steps, 4)) < 0.3).astype(np.uint8)}
    src = lay.source_block(inputs, steps)
    weights = np.repeat(lay.w0[None, :], batch, axis=0)
    one, two = lay.new_state(batch, weights), lay.new_state(batch, weights)
    r1, r2 = _recorder(lay, steps, batch), _recorder(lay, steps, batch)
    noise = run_arrays.noise(lay)
    for b in range(batch):
        run_instance(b, 0, steps, src, lay.net, lay.rules, one, noise, r1, True, 50)
        run_instance(b, 0, 500, src[:, :500], lay.net, lay.rules, two, noise, r2, True, 50)
        run_instance(b, 500, 500, np.ascontiguousarray(src[:, 500:]), lay.net, lay.rules, two, noise,
                     _recorder(lay, 500, batch), True, 50)
    for a, b in zip(one, two):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(one.w[0], lay.w0)
    if batch > 1:
        assert not np.array_equal(one.w[0], one.w[1])


KP_TINY = """
neurodeploy: 1
name: kp-tiny
populations:
  inp: {kind: spike_source, size: 1}
  hid: {kind: lif, size: 1, params: {tau_syn: 1.0, tau_mem: 1.0}}
  out: {kind: lif, size: 1, params: {v_th: 1000.0}}
projections:
  a: {pre: inp, post: hid, weights: {init: constant, value: 5.0}}
  b: {pre: hid, post: out, weights: {init: constant, value: 0.5}}
plasticity:
  k: {rule: kolen_pollack, projections: [a, b], learning_rate: 0.01, decay: 0.1,
      trace_tau: 0, feedback: {init: constant, value: 0.25}}
task: {input: inp, output: out, sample_steps: 8}
"""


def test_kolen_pollack_pathway_matches_hand_derivation(tmp_path: Path):
    """One sample of 8 steps (one learning epoch). Input spikes at 0 and 3 make the hidden
    neuron fire at 1 and 4 (tau 1: no memory); the output never fires. Label spikes at 0
    and 2 leave the error relay at 1 and 3 and reach the output's and (through B) the
    hidden neuron's third factor at 2 and 4. With traces that count (tau 0):
    W_b: 0.5 + 0.01 * 2 (hidden spikes) * 2 (error sum) - 0.1 * 0.5 = 0.49;
    B:   0.25 + 0.01 * 2 (error sum) * 2 (hidden spikes) - 0.1 * 0.25 = 0.265;
    W_a: 5 + 0.01 * 2 (input spikes) * (2 * 0.25) (gated feedback) - 0.1 * 5 = 4.51."""
    plan = load_plan(_build(tmp_path, KP_TINY))
    learner = CpuLearner(plan, "out")
    learner.set_phase("train")
    inp = np.zeros((1, 8, 1), np.uint8)
    inp[0, [0, 3], 0] = 1
    label = np.zeros((1, 8, 1), np.uint8)
    label[0, [0, 2], 0] = 1
    learner.present({"inp": inp, "k_label": label}, 1, 8, learn=True)
    dense = lambda name: learner.layout.dense(learner.weights[0], name)[0, 0]
    assert dense("b") == pytest.approx(0.49, abs=1e-12)
    assert dense("k_fb_hid") == pytest.approx(0.265, abs=1e-12)
    assert dense("a") == pytest.approx(4.51, abs=1e-12)
