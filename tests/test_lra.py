"""``rule: lra`` on a recurrent spiking layer: the parts it adds, its update against a NumPy
transcription, its refusals, and cpu = Lava = Brian2 (float) weights after every sample."""
from __future__ import annotations

import math

import numpy as np
import pytest

import neurodeploy  # noqa: F401  (installs the Lava shim)
from neurodeploy.compiling import compile_network
from neurodeploy.compilers import load_plan
from neurodeploy.errors import CompileError, IRError
from neurodeploy.ir import parse_network
from neurodeploy.learning.expand import expand
from neurodeploy.learning.learners import get_learner
from neurodeploy.profiles import load_profile
from neurodeploy.task.sequences import encode_inputs, encode_targets, generate

NET = """
neurodeploy: 1
name: tiny-lra
seed: {seed}
populations:
  input:  {{kind: spike_source, size: 6}}
  hidden: {{kind: lif, size: 12, params: {{tau_syn: 20.0, tau_mem: 10.0, v_th: 1.0}}}}
  output: {{kind: lif, size: 4, params: {{tau_syn: 2.0, tau_mem: 4.0, v_th: 1.0}}}}
projections:
  in_hid:  {{pre: input, post: hidden, weights: {{init: normal, mean: 0.1, std: 0.4}}}}
  hid_hid: {{pre: hidden, post: hidden, weights: {{init: normal, mean: 0.0, std: 0.2}}}}
  hid_out: {{pre: hidden, post: output, weights: {{init: normal, mean: 0.1, std: 0.3}}}}
plasticity:
  learn: {{rule: lra, projections: {projs}, learning_rate: 0.02, beta: 2.0, decay: 0.0078125, recurrent_rate: 0.5,
          readout_trace_tau: 6,
          learning_epoch: {epoch}}}
task: {{input: input, output: output, encoding: regular, max_rate: 1.0, sample_steps: 24,
        item_steps: 2, readout_steps: 4}}
"""


def _net(tmp_path, projs="[in_hid, hid_hid, hid_out]", epoch=24, seed=3):
    return parse_network(NET.format(projs=projs, epoch=epoch, seed=seed), tmp_path / "lra.yaml")


def test_parts_and_rules(tmp_path):
    ex = expand(_net(tmp_path))
    block = ex.blocks["learn"]
    net = ex.net
    assert block.hidden == ["hidden"] and block.gated == ["hidden"]
    assert net.populations["learn_error"].kind == "graded"
    fb = net.projections["learn_fb_hidden"]
    assert (fb.pre, fb.post, fb.port) == ("learn_error", "hidden", "third_factor")
    assert fb.weights.std == pytest.approx(2.0 / math.sqrt(4))       # beta / sqrt(outputs)
    assert block.pairs == [("hid_out", "learn_fb_hidden")]
    assert set(block.rules) == {"in_hid", "hid_hid", "hid_out"}
    assert all(r.t_epoch == 24 and r.third_factor for r in block.rules.values())


def test_several_recurrent_layers_each_get_feedback_and_own_traces(tmp_path):
    """Two recurrent layers (two synaptic time constants): one B and one read-out each; the
    read-outs use readout_trace_tau, the input and recurrent projections trace_tau."""
    text = NET.format(projs="[in_hid, in_slow, hid_hid, slow_slow, hid_out, slow_out]", epoch=24,
                      seed=3).replace("  output:", "  slow: {kind: lif, size: 5, params: {tau_syn: 80.0}}\n  output:")
    text = text.replace("  hid_out:", "  in_slow: {pre: input, post: slow}\n  slow_slow: {pre: slow, post: slow}\n"
                        "  slow_out: {pre: slow, post: output}\n  hid_out:")
    text = text.replace("readout_trace_tau: 6,", "trace_tau: 40, readout_trace_tau: 5,")
    block = expand(parse_network(text, tmp_path / "two.yaml")).blocks["learn"]
    assert block.hidden == ["hidden", "slow"] and block.gated == ["hidden", "slow"]
    assert block.pairs == [("hid_out", "learn_fb_hidden"), ("slow_out", "learn_fb_slow")]
    taus = {n: r.x1.tau for n, r in block.rules.items()}
    assert taus == {"in_hid": 40, "in_slow": 40, "hid_hid": 40, "slow_slow": 40, "hid_out": 5, "slow_out": 5}
    coef = {n: r.terms[0].coef for n, r in block.rules.items()}
    assert coef["slow_slow"] == pytest.approx(0.01) and coef["in_slow"] == pytest.approx(0.02)


def test_update_matches_numpy_transcription(tmp_path):
    """dw = eta x1 (y2 - y3) - decay w for the input, recurrent and read-out synapses: x1
    the pre trace, y2 - y3 the post neuron's local error (beta B e on the recurrent layer),
    eta times recurrent_rate on the recurrent projection."""
    rules = expand(_net(tmp_path)).rules()
    rng = np.random.default_rng(5)
    B = rng.normal(0, 1.0, (12, 4))
    for name, n_pre, n_post in (("in_hid", 6, 12), ("hid_hid", 12, 12), ("hid_out", 12, 4)):
        x1, w = rng.random(n_pre) * 4, rng.normal(size=(n_post, n_pre))
        e_out = rng.normal(size=4)
        local = 2.0 * B @ e_out if n_post == 12 else e_out
        eta = 0.02 * (0.5 if name == "hid_hid" else 1.0)       # recurrent_rate 0.5
        want = eta * np.outer(local, x1) - 2.0 ** -7 * w
        got = rules[name].reference_dw(x1=x1[None, :], x2=0, y1=0, third=local[:, None], w=w,
                                       x0=1, y0=1)
        assert np.allclose(got, want, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("projs,msg", [
    ("[in_hid, hid_hid]", "'in_hid' starts at the input"),
    ("[in_hid, hid_out, hid_hid2]", "'hid_hid2' starts at the input"),
    ("[in_hid, hid_hid2]", "starts at the input"),
    ("[in_hid, hid_out, hid_out2]", "'hidden' has two read-out projections"),
    ("[hid_out]", "at least one projection into 'hidden'"),
])
def test_bad_blocks_are_one_line_errors(tmp_path, projs, msg):
    text = NET.format(projs=projs, epoch=24, seed=3).replace(
        "  hid_out:", "  hid_hid2: {pre: input, post: output}\n  hid_out2: {pre: hidden, post: output}\n"
        "  hid_out:")
    with pytest.raises(IRError, match=msg) as info:
        expand(parse_network(text, tmp_path / "bad.yaml"))
    assert "\n" not in str(info.value) and "plasticity.learn" in str(info.value)


def test_fixed_point_is_refused_by_name(tmp_path):
    with pytest.raises(CompileError, match="'lra' runs in float only"):
        compile_network(_net(tmp_path, epoch=1), load_profile("loihi2"), tmp_path / "fixed")


@pytest.mark.parametrize("backend", ["lava", "brian2"])
def test_float_backend_weights_equal_cpu_after_each_sample(tmp_path, backend):
    """A recurrent learner (input, recurrent and read-out projections plastic) on four
    temporal-order sequences, one sample per call: the weights agree after every sample."""
    plan = load_plan(compile_network(_net(tmp_path, epoch=1), load_profile("cpu"),
                                     tmp_path / "b").out)
    data = generate("temporal_order:length=10,train=4,test=1,seed=2")
    steps = plan.task["sample_steps"]
    spikes = encode_inputs(data.x_train, plan.task, 0)
    labels = encode_targets(data.y_train, 4, plan.task, data.x_train, 0.5)
    cpu, other = get_learner("cpu", plan, "output"), get_learner(backend, plan, "output")
    w0 = cpu.weights[0].copy()
    for k in range(3):
        inputs = {"input": spikes[k:k + 1], "learn_label": labels[k:k + 1]}
        c_cpu = cpu.present(inputs, 1, steps, learn=True)[0]
        c_other = other.present(inputs, 1, steps, learn=True)[0]
        assert np.array_equal(c_cpu, c_other)
        assert np.abs(other.weights[0] - cpu.weights[0]).max() < 1e-12
    moved = np.abs(cpu.weights[0] - w0)
    for name in ("in_hid", "hid_hid", "hid_out"):
        sl = cpu.layout.slices[name]
        assert moved[sl.syn0:sl.syn0 + sl.nnz].max() > 1e-3, f"{name} must learn in this test"


def test_bptt_reference_runs_the_cpu_network(tmp_path):
    """The host BPTT reference's forward pass gives the cpu backend's read-out counts
    (frozen, one sample from a reset state), its surrogate gradient reaches the recurrent
    and input weights, and its read-out voltage term has a gradient too."""
    import torch

    from neurodeploy.learning.bptt_reference import SpikingForward
    plan = load_plan(compile_network(_net(tmp_path), load_profile("cpu"), tmp_path / "b").out)
    data = generate("temporal_order:length=10,train=6,test=1,seed=4")
    spikes = encode_inputs(data.x_train, plan.task, 0)
    net = SpikingForward(plan, ["in_hid", "hid_hid", "hid_out"])
    counts, vsum = net.run(torch.tensor(spikes, dtype=torch.float64), plan.task["readout_steps"])
    cpu = get_learner("cpu", plan.frozen(), "output")
    steps = plan.task["sample_steps"]
    want = np.concatenate([cpu.predict_counts({"input": spikes[k:k + 1]}, 1, steps)[0]
                           for k in range(6)])
    assert want.sum() > 6 and np.array_equal(counts.detach().numpy(), want)
    counts.sum().backward(retain_graph=True)
    assert all(float(net.params[n].grad.abs().sum()) > 0 for n in ("in_hid", "hid_hid", "hid_out"))
    # the loss's read-out membrane term: graded, with a gradient through the read-out weights
    net.params["hid_out"].grad = None
    vsum.sum().backward()
    assert float(net.params["hid_out"].grad.abs().sum()) > 0 and float(vsum.detach().abs().sum()) > 0
