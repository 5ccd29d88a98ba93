"""SAL, spike-based alignment learning: the sign-flipped STDP rule, its alignment phase on
the cpu learner, the same rule on every backend's learning engine, and its refusals."""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

import neurodeploy  # noqa: F401  (installs the Lava shim)
from neurodeploy.cli import main
from neurodeploy.compiling import compile_network
from neurodeploy.compilers import load_plan
from neurodeploy.compilers.cpu.learner import CpuLearner
from neurodeploy.errors import CompileError, IRError
from neurodeploy.ir import parse_network
from neurodeploy.learning import metrics
from neurodeploy.learning.engine_rule import EngineRule
from neurodeploy.learning.learners import get_learner
from neurodeploy.learning.phases import align_phase
from neurodeploy.learning.sal import PHASE, sal_rule
from neurodeploy.learning.stdp import pair_rule
from neurodeploy.profiles import load_profile

from .conftest import EXAMPLES

NET = """
neurodeploy: 1
name: sal
seed: 5
populations:
  inp: {{kind: spike_source, size: 8}}
  h: {{kind: lif, size: 24, params: {{tau_syn: 2.0, tau_mem: 8.0, v_th: 1.0}}}}
  out: {{kind: lif, size: 6, params: {{tau_syn: 2.0, tau_mem: 4.0, v_th: 1.0}}}}
projections:
  in_h: {{pre: inp, post: h, weights: {{init: normal, std: 0.3}}}}
  h_out: {{pre: h, post: out, weights: {{init: normal, std: 0.15}}}}
plasticity:
  learn: {{rule: sal, projections: [in_h, h_out], sal_rate: 0.006, align_steps: 5000{extra}}}
task: {{input: inp, output: out, sample_steps: 20}}
"""

PAIR = """
neurodeploy: 1
name: pair
seed: 9
populations:
  inp: {kind: spike_source, size: 12}
  out: {kind: lif, size: 5, params: {tau_syn: 3.0, tau_mem: 10.0, v_th: 0.6}}
projections:
  p: {pre: inp, post: out, weights: {init: uniform, low: 0.05, high: 0.4}}
plasticity:
  s: {rule: stdp, projections: [p], learning_rate: 0.05}
task: {input: inp, output: out, sample_steps: 20}
"""


def _plan(tmp_path: Path, text: str, profile: str = "cpu"):
    net = parse_network(text, tmp_path / "net.yaml")
    return load_plan(compile_network(net, load_profile(profile), tmp_path / "build").out)


def test_sal_is_stdp_with_both_signs_flipped():
    """Post-before-pre pairs potentiate, pre-before-post pairs depress: STDP's opposite."""
    rule, stdp = sal_rule(0.1, 4.0), pair_rule(0.1, 0.1, 4.0, 4.0)
    assert [t.coef for t in rule.terms] == [-t.coef for t in stdp.terms]
    assert [(t.dependency, t.factors) for t in rule.terms] == \
        [(t.dependency, t.factors) for t in stdp.terms]
    assert rule.phase == PHASE and rule.t_epoch == 1
    one, zero = np.ones((1, 1)), np.zeros((1, 1))
    anti_causal = rule.reference_dw(zero, zero, one, zero, zero, x0=one, y0=zero)
    causal = rule.reference_dw(one, zero, zero, zero, zero, x0=zero, y0=one)
    assert anti_causal[0, 0] == pytest.approx(0.1) and causal[0, 0] == pytest.approx(-0.1)
    decayed = sal_rule(0.1, 4.0, decay=0.01).reference_dw(zero, zero, zero, zero, 2 * one,
                                                          x0=zero, y0=zero)
    assert decayed[0, 0] == pytest.approx(-0.02)


def _phases(tmp_path: Path, extra: str, n: int) -> tuple[list[float], list[float]]:
    """Angle(B, W^T) and |B| / |W| after each of ``n`` alignment phases."""
    plan = _plan(tmp_path, NET.format(extra=extra))
    learner = CpuLearner(plan, "out")
    lay = learner.layout
    w0 = lay.dense(learner.weights[0], "h_out")
    angles, ratios = [], []
    for k in range(n):
        align_phase(learner, plan, plan.plasticity["learn"], [1, k])
        w = learner.weights[0]
        np.testing.assert_array_equal(lay.dense(w, "h_out"), w0)   # only B and the drive learn
        b = lay.dense(w, "learn_fb_h")
        angles.append(metrics.angle_deg(b, w0))
        ratios.append(float(np.linalg.norm(b) / np.linalg.norm(w0)))
    return angles, ratios


def test_alignment_turns_feedback_towards_w_and_bounds_it(tmp_path: Path):
    """From a random B (about 90 degrees from W^T) eight phases bring the angle below 50
    degrees; B's own causal pairs hold its size (no decay), so |B| / |W| levels off."""
    angles, ratios = _phases(tmp_path, "", 8)
    assert angles[0] < 80 and angles[-1] < 50, angles
    assert all(b <= a + 1.0 for a, b in zip(angles, angles[1:])), angles
    assert max(ratios[-3:]) / min(ratios[-3:]) < 1.1, ratios


def test_without_coupling_only_decay_bounds_the_feedback(tmp_path: Path):
    """With the feedback kept off the soma nothing depresses B: it keeps growing."""
    _, ratios = _phases(tmp_path, ", coupling: 0.0", 5)
    assert all(b > 1.05 * a for a, b in zip(ratios, ratios[1:])), ratios


def test_feedback_reaches_the_soma_in_the_alignment_phase_only(tmp_path: Path):
    """Outputs driven to fire, hidden noise silent: with a strong positive B the hidden layer
    fires in the alignment phase (coupled) and stays silent in training (third factor only)."""
    plan = _plan(tmp_path, NET.format(extra=", feedback: {init: constant, value: 2.0}"))
    steps = 200
    drive = np.ones((1, steps, 6), np.uint8)
    inputs = {"learn_mirror_drive": drive}
    n_h = 24
    hidden = []
    for phase in ("train", PHASE):
        learner = CpuLearner(plan, "out")
        learner.set_phase(phase)
        learner.layout.rules = learner.layout.rules._replace(
            active=np.zeros_like(learner.layout.rules.active))        # weights stay put
        learner.present(inputs, 1, steps, learn=True)
        lo = learner.layout.neuron0["h"]
        hidden.append(int(learner.last_totals[0, lo:lo + n_h].sum()))
        out_lo = learner.layout.neuron0["out"]
        assert learner.last_totals[0, out_lo:out_lo + 6].sum() > 0
    assert hidden[0] == 0 and hidden[1] > 100, hidden


@pytest.mark.parametrize("backend", ["lava", "brian2"])
def test_sal_rule_on_every_learning_engine(tmp_path: Path, backend: str):
    """The sign-flipped pair rule itself, on a plain projection: weights after 6 samples
    agree with the cpu learner's within 1e-12 (float), and the rule did change them."""
    plan = _plan(tmp_path, PAIR)
    plan.plasticity["s"]["projections"]["p"] = sal_rule(0.05, 5.0).to_dict()
    steps, n = 20, 6
    rng = np.random.default_rng(3)
    inputs = {"inp": (rng.random((n, steps, 12)) < 0.3).astype(np.uint8)}
    out = []
    for name in ("cpu", backend):
        learner = get_learner(name, plan, "out")
        learner.set_phase(PHASE)
        counts = learner.present(inputs, n, steps, learn=True)
        out.append((counts, learner.weights.copy()))
    w0 = CpuLearner(plan, "out").weights
    assert np.abs(out[0][1] - w0).max() > 1e-3
    np.testing.assert_array_equal(out[0][0], out[1][0])
    np.testing.assert_allclose(out[1][1], out[0][1], rtol=0, atol=1e-12)


@pytest.mark.parametrize("backend", ["brian2", "lava"])
def test_alignment_phase_on_every_learner_equals_cpu(tmp_path: Path, backend: str):
    """The coupled phase on the Brian2 and Lava learners (Lava: our learning LIF carries the
    coupling, Lava's LearningDense learns B from the graded error relay as regular impulses,
    its LearningSparse the drive homeostat): the cpu learner's spike counts, weights within
    1e-12, and B moved."""
    plan = _plan(tmp_path, NET.format(extra="").replace("sal_rate: 0.006, align_steps: 5000",
                                                        "sal_rate: 0.05, align_steps: 300"))
    out = []
    for name in ("cpu", backend):
        learner = get_learner(name, plan, "out")
        align_phase(learner, plan, plan.plasticity["learn"], [4, 1])
        out.append((learner.last_totals.copy(), learner.weights.copy(), learner.layout))
    np.testing.assert_array_equal(out[0][0], out[1][0])
    np.testing.assert_allclose(out[1][1], out[0][1], rtol=0, atol=1e-12)
    lay = out[0][2]
    moved = lay.dense(out[0][1][0], "learn_fb_h") - lay.dense(lay.w0, "learn_fb_h")
    assert np.abs(moved).max() > 1e-3


def test_fixed_point_profile_refuses_sal(tmp_path: Path):
    net = parse_network(NET.format(extra=""), tmp_path / "net.yaml")
    with pytest.raises(CompileError) as err:
        compile_network(net, load_profile("loihi2"), tmp_path / "build")
    assert "plasticity.learn.rule" in str(err.value) and "float" in str(err.value)
    assert not (tmp_path / "build").exists()


@pytest.mark.parametrize("extra,path", [(", decay: -1", "plasticity.learn.decay"),
                                        (", sal_tau: 0", "plasticity.learn.sal_tau"),
                                        (", coupling: .nan", "plasticity.learn.coupling"),
                                        (", align_step: 10", "plasticity.learn")])
def test_bad_sal_fields_name_their_path(tmp_path: Path, extra: str, path: str):
    with pytest.raises(IRError) as err:
        parse_network(NET.format(extra=extra), tmp_path / "net.yaml")
    assert path in str(err.value)


def test_sal_rule_magnitudes_follow_the_block():
    """The block's eta and window become the rule's coefficients and traces."""
    rule = sal_rule(0.003, 6.0, pre_payload=-1.0)
    assert rule.terms[0].coef == -0.003 and rule.terms[1].coef == 0.003
    assert rule.x1.impulse == -1.0 and rule.y1.impulse == 1.0
    assert rule.meta == {"pre_payload": -1.0}
    assert EngineRule.from_dict(rule.to_dict()).meta == rule.meta       # kept in the build
    assert rule.x1.decay == pytest.approx(math.exp(-1 / 6.0))


def test_train_cli_learns_with_sal(tmp_path: Path):
    """`train` runs the example's alignment phases on the cpu learner: the angle is recorded
    per epoch, B ends far from orthogonal to W^T, and the network learns."""
    text = (EXAMPLES / "digits_sal.yaml").read_text().replace("align_steps: 30000",
                                                             "align_steps: 4000")
    net = tmp_path / "sal.yaml"
    net.write_text(text)
    args = ["--epochs", "2", "--classes", "0,1,2", "--train-samples", "120",
            "--test-samples", "60"]
    assert main(["train", str(net), "--profile", "cpu", *args, "-o", str(tmp_path / "b")]) == 0
    curves = json.loads((tmp_path / "b" / "training" / "curves.json").read_text())
    angles = curves["angles"]["learn_fb_hidden"]
    assert len(angles) == 2 and max(angles) < 60, angles
    assert curves["test_accuracy"][-1] > 0.6
