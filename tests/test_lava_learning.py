"""The lava learner against the cpu learner (the reference).

Learning on float builds: Lava's LearningDense (float model) with our learning LIF follows
the cpu learner to float rounding (weights within 1e-12 after hundreds of steps, identical
read-out counts) for the feedback-alignment family's forward rules and STDP.

Frozen evaluation: identical read-out counts, spike totals and synaptic events on fixed
(loihi2) and float builds, many samples in one Lava run with the sample reset, against the
cpu learner's ``predict_counts`` and ``present(learn=False)`` (both run the samples in
order, as Lava does).
"""
from __future__ import annotations

import numpy as np
import pytest

import neurodeploy  # noqa: F401  (installs the Lava shim)
from neurodeploy.compiling import compile_network
from neurodeploy.compilers.plan import load_plan
from neurodeploy.errors import BackendError
from neurodeploy.ir import parse_network
from neurodeploy.learning.learners import get_learner
from neurodeploy.profiles import load_profile
from neurodeploy.task import encode_labels, encode_samples

FEEDFORWARD = """
neurodeploy: 1
name: ff
seed: {seed}
populations:
  input:  {{kind: spike_source, size: 12}}
  hidden: {{kind: lif, size: 20, params: {{tau_syn: 4.0, tau_mem: 12.0, v_th: 1.0, refractory: {refr}}}}}
  output: {{kind: lif, size: 4, params: {{tau_syn: 4.0, tau_mem: 12.0, v_th: 1.0}}}}
projections:
  in_hid:  {{pre: input, post: hidden, connectivity: dense, weights: {{init: normal, mean: 0.15, std: 0.5}}}}
  hid_out: {{pre: hidden, post: output, connectivity: {{sparse: 0.6}}, delay: {{low: 0, high: 2}},
            weights: {{init: normal, mean: 0.2, std: 0.5}}}}
  out_hid: {{pre: output, post: hidden, connectivity: dense, weights: {{init: normal, mean: 0.0, std: 0.3}}}}
task: {{input: input, output: output, encoding: rate, max_rate: 0.5, sample_steps: {steps}}}
"""

FA = """
neurodeploy: 1
name: tiny-fa
seed: {seed}
populations:
  input:  {{kind: spike_source, size: 10}}
  hidden: {{kind: lif, size: 16, params: {{tau_syn: 4.0, tau_mem: 12.0, v_th: 1.0}}}}
  output: {{kind: lif, size: 3, params: {{tau_syn: 4.0, tau_mem: 12.0, v_th: 1.0}}}}
projections:
  in_hid:  {{pre: input, post: hidden, connectivity: dense, weights: {{init: normal, mean: 0.15, std: 0.5}}}}
  hid_out: {{pre: hidden, post: output, connectivity: dense, weights: {{init: normal, mean: 0.1, std: 0.4}}}}
plasticity:
  learn: {{rule: {rule}, projections: [in_hid, hid_out], learning_rate: {eta}, target_rate: 0.5,
          gate_window: 6}}
task: {{input: input, output: output, encoding: rate, max_rate: 0.5, sample_steps: {steps}}}
"""


DEEP = """
neurodeploy: 1
name: deep-fa
seed: {seed}
populations:
  input: {{kind: spike_source, size: 10}}
  h1:    {{kind: lif, size: 14, params: {{tau_syn: 4.0, tau_mem: 12.0, v_th: 1.0}}}}
  h2:    {{kind: lif, size: 12, params: {{tau_syn: 4.0, tau_mem: 12.0, v_th: 1.0}}}}
  output: {{kind: lif, size: 3, params: {{tau_syn: 4.0, tau_mem: 12.0, v_th: 1.0}}}}
projections:
  w1: {{pre: input, post: h1, connectivity: dense, weights: {{init: normal, mean: 0.2, std: 0.5}}}}
  w2: {{pre: h1, post: h2, connectivity: dense, weights: {{init: normal, mean: 0.2, std: 0.5}}}}
  w3: {{pre: h2, post: output, connectivity: dense, weights: {{init: normal, mean: 0.1, std: 0.5}}}}
plasticity:
  learn: {{rule: {rule}, projections: [w1, w2, w3], learning_rate: 0.02, target_rate: 0.5,
          gate_window: 5{extra}}}
task: {{input: input, output: output, encoding: rate, max_rate: 0.6, sample_steps: {steps}}}
"""

STDP = """
neurodeploy: 1
name: tiny-stdp
seed: {seed}
populations:
  input:  {{kind: spike_source, size: 10}}
  output: {{kind: lif, size: 4, params: {{tau_syn: 4.0, tau_mem: 10.0, v_th: 1.0}}}}
projections:
  in_out: {{pre: input, post: output, connectivity: dense, weights: {{init: normal, mean: 0.3, std: 0.3}}}}
plasticity:
  stdp: {{rule: stdp, projections: [in_out], learning_rate: 0.01, a_plus: 1.0, a_minus: 1.1,
         tau_plus: 8.0, tau_minus: 6.0{extra}}}
task: {{input: input, output: output, encoding: rate, max_rate: 0.5, sample_steps: {steps}}}
"""


def build(tmp_path, text: str, profile: str):
    """Compile YAML text for a profile and load its plan."""
    net = parse_network(text, "net.yaml")
    out = tmp_path / f"b-{profile}-{abs(hash(text)) % 10**8}"
    compile_network(net, load_profile(profile), out)
    return load_plan(out)


def samples(n: int, features: int, steps: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return encode_samples(rng.random((n, features)), steps, 0.5, "rate", seed)


@pytest.mark.parametrize("profile,refr", [("loihi2", 0), ("cpu", 2)])
def test_frozen_counts_identical(tmp_path, profile, refr):
    """Fixed (bit-accurate) and float builds: same counts per sample, totals and synops."""
    steps, n = 15, 36
    plan = build(tmp_path, FEEDFORWARD.format(seed=5, refr=refr, steps=steps), profile)
    inputs = {"input": samples(n, 12, steps, 3)}
    cpu = get_learner("cpu", plan, "output")
    want = cpu.present(inputs, n, steps, learn=False)[0]
    lava = get_learner("lava", plan, "output")
    counts, totals, synops = lava.predict_counts(inputs, n, steps)
    assert want.sum() > n, "the network must spike for the comparison to mean something"
    assert np.array_equal(counts, want)
    assert np.array_equal(totals, cpu.last_totals[0])
    assert synops == cpu.synops
    c_pred, t_pred, s_pred = cpu.predict_counts(inputs, n, steps)
    assert np.array_equal(counts, c_pred) and np.array_equal(totals, t_pred) and synops == s_pred
    # the sample reset matters: without it the counts would differ from sample to sample
    assert len({tuple(r) for r in counts}) > 3


def test_frozen_counts_with_learning_pathway(tmp_path):
    """A float FA build evaluated with its error relays and feedback in place (learning
    off): identical counts and synaptic events, the graded relays included."""
    steps, n = 12, 30
    plan = build(tmp_path, FA.format(seed=2, rule="feedback_alignment", eta=0.01, steps=steps), "cpu")
    inputs = {"input": samples(n, 10, steps, 4)}
    cpu = get_learner("cpu", plan, "output")
    want = cpu.present(inputs, n, steps, learn=False)[0]
    counts, totals, synops = get_learner("lava", plan, "output").predict_counts(inputs, n, steps)
    assert np.array_equal(counts, want)
    assert np.array_equal(totals, cpu.last_totals[0])
    assert synops == cpu.synops


def test_lava_learner_refusals(tmp_path):
    plan = build(tmp_path, FEEDFORWARD.format(seed=5, refr=0, steps=10), "cpu")
    with pytest.raises(BackendError, match="one chip"):
        get_learner("lava", plan, "output", chips=2)
    with pytest.raises(BackendError, match="not a lif"):
        get_learner("lava", plan, "input")


def _train_both(plan, inputs, n, steps):
    """Present the same samples with learning on to both learners: (cpu, lava) learners and
    their read-out counts."""
    out = []
    for backend in ("cpu", "lava"):
        learner = get_learner(backend, plan, "output")
        learner.set_phase("train")
        out.append((learner, learner.present(inputs, n, steps, learn=True)[0]))
    return out


@pytest.mark.parametrize("rule,extra", [("feedback_alignment", ""),
                                        ("direct_feedback_alignment", ""),
                                        ("low_rank_fa", ", rank: 2")])
def test_fa_family_float_follows_cpu(tmp_path, rule, extra):
    """Two hidden layers (FA: error -> relay -> B chain; DFA: B per layer; low-rank: graded
    bottleneck): weights within 1e-12 of the cpu learner's after 30 samples (360 steps)."""
    steps, n = 12, 30
    plan = build(tmp_path, DEEP.format(seed=6, rule=rule, extra=extra, steps=steps), "cpu")
    rng = np.random.default_rng(8)
    y = rng.integers(0, 3, n)
    inputs = {"input": samples(n, 10, steps, 8),
              "learn_label": encode_labels(y, 3, steps, 0.5)}
    (cpu, c_cpu), (lava, c_lava) = _train_both(plan, inputs, n, steps)
    w0 = get_learner("cpu", plan, "output").weights[0]
    moved = np.abs(cpu.weights[0] - w0)
    for name in ("w1", "w2", "w3"):
        sl = cpu.layout.slices[name]
        assert moved[sl.syn0:sl.syn0 + sl.nnz].max() > 1e-3, f"{name} must learn in this test"
    assert np.array_equal(c_cpu, c_lava)
    assert np.abs(lava.weights[0] - cpu.weights[0]).max() < 1e-12
    fb = [p for p in plan.projections if p.startswith("learn_fb")]
    assert fb and all(np.array_equal(lava.layout.dense(lava.weights[0], p),
                                     cpu.layout.dense(cpu.weights[0], p)) for p in fb)


def test_stdp_float_follows_cpu(tmp_path):
    """Pair STDP (Loihi2FLearningRule, y1 computed by the synapse): within 1e-12."""
    steps, n = 20, 25
    plan = build(tmp_path, STDP.format(seed=4, extra="", steps=steps), "cpu")
    inputs = {"input": samples(n, 10, steps, 5)}
    (cpu, c_cpu), (lava, c_lava) = _train_both(plan, inputs, n, steps)
    w0 = get_learner("cpu", plan, "output").weights[0]
    assert np.abs(cpu.weights[0] - w0).max() > 1e-2
    assert np.array_equal(c_cpu, c_lava)
    assert np.abs(lava.weights[0] - cpu.weights[0]).max() < 1e-12
    # learning carries over calls: a second presentation starts from the learned weights
    first = {"input": inputs["input"][:2]}
    c2 = lava.present(first, 2, steps, learn=False)[0]
    assert np.array_equal(c2, cpu.present(first, 2, steps, learn=False)[0])


@pytest.mark.parametrize("text,why", [
    (FA.format(seed=1, rule="kolen_pollack", eta=0.02, steps=10), "cannot run this rule"),
    (STDP.format(seed=1, extra=", w_max: 1.0", steps=10), "clip"),
])
def test_rules_lava_cannot_run_are_refused(tmp_path, text, why):
    plan = build(tmp_path, text, "cpu")
    learner = get_learner("lava", plan, "output")
    learner.set_phase("train")
    with pytest.raises(BackendError, match=why):
        learner.present({"input": samples(2, 10, 10, 1)}, 2, 10, learn=True)
    # evaluation needs no rule: it still runs
    counts, _, _ = learner.predict_counts({"input": samples(2, 10, 10, 1)}, 2, 10)
    assert counts.shape == (2, plan.populations["output"].size)


def test_timeout_kills_the_runtime(tmp_path):
    """A run past its deadline is a BackendError and leaves no Lava process behind."""
    import multiprocessing
    steps, n = 15, 400
    plan = build(tmp_path, FEEDFORWARD.format(seed=5, refr=0, steps=steps), "cpu")
    before = {p.pid for p in multiprocessing.active_children()}
    learner = get_learner("lava", plan, "output", timeout=0.5)
    with pytest.raises(BackendError, match="did not finish"):
        learner.predict_counts({"input": samples(n, 12, steps, 3)}, n, steps)
    left = [p for p in multiprocessing.active_children() if p.pid not in before]
    assert not left, f"Lava processes left running: {left}"


def test_delayed_plastic_projection_follows_cpu(tmp_path):
    """A uniform synaptic delay on a plastic projection (a delay line after Lava's
    LearningDense; the traces see the spikes when emitted, as on cpu)."""
    steps, n = 12, 25
    text = FA.format(seed=3, rule="feedback_alignment", eta=0.02, steps=steps).replace(
        "hid_out: {pre: hidden, post: output, connectivity: dense,",
        "hid_out: {pre: hidden, post: output, connectivity: dense, delay: 2,")
    plan = build(tmp_path, text, "cpu")
    assert int(np.max(plan.projections["hid_out"].delays)) == 2
    y = np.random.default_rng(1).integers(0, 3, n)
    inputs = {"input": samples(n, 10, steps, 2), "learn_label": encode_labels(y, 3, steps, 0.5)}
    (cpu, c_cpu), (lava, c_lava) = _train_both(plan, inputs, n, steps)
    w0 = get_learner("cpu", plan, "output").weights[0]
    assert np.abs(cpu.weights[0] - w0).max() > 1e-3
    assert np.array_equal(c_cpu, c_lava)
    assert np.abs(lava.weights[0] - cpu.weights[0]).max() < 1e-12
