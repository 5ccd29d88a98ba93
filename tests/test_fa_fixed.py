"""Fixed-point feedback alignment (loihi2): the cpu learner against Lava's bit-approximate
learning engine with our learning neuron, step by step.

The error ``e = label - out`` travels as int32 graded spikes, the feedback ``B e`` reaches
each learning neuron's third-factor port as an integer activation ``r``, and the neuron
sends ``y2, y3 = min(max(+-r, 0) >> s, 127)`` (``s`` chosen at compile time from the error
range) to ``Loihi3FLearningRule`` synapses that learn ``m*2^e * x1 * (y2 - y3)``. Both
learners must give the same weights after every step, for both plastic projections.
"""
from __future__ import annotations

import numpy as np
import pytest

import neurodeploy  # noqa: F401  (installs the Lava shim)
from neurodeploy.compiling import compile_network
from neurodeploy.compilers.cpu.step_loop import run_instance
from neurodeploy.compilers.plan import load_plan
from neurodeploy.errors import CompileError
from neurodeploy.ir import parse_network
from neurodeploy.learning.fixed_point import third_factor_channels, third_factor_shift
from neurodeploy.learning.learners import get_learner
from neurodeploy.profiles import load_profile
from neurodeploy.task import encode_labels, encode_samples


pytestmark = pytest.mark.filterwarnings("ignore:Cannot import module")

FA_FIXED = """
neurodeploy: 1
name: fa-fixed
seed: {seed}
populations:
  input:  {{kind: spike_source, size: 8}}
  hidden: {{kind: lif, size: 6, params: {{tau_syn: 4.0, tau_mem: 10.0, v_th: 1.0}}}}
  output: {{kind: lif, size: 3, params: {{tau_syn: 4.0, tau_mem: 10.0, v_th: 1.0}}}}
projections:
  in_hid:  {{pre: input, post: hidden, connectivity: dense, weights: {{init: normal, mean: 0.4, std: 0.4}}}}
  hid_out: {{pre: hidden, post: output, connectivity: dense, weights: {{init: normal, mean: 0.3, std: 0.4}}}}
plasticity:
  learn: {{rule: {rule}, projections: [in_hid, hid_out], learning_rate: {eta},
          target_rate: 0.5, gate_window: 6, trace_tau: 6.0{epoch}}}
task: {{input: input, output: output, encoding: rate, max_rate: 0.5, sample_steps: {steps}}}
"""
PLASTIC = ("in_hid", "hid_out")

DEEP = """
neurodeploy: 1
name: deep-fixed
seed: {seed}
populations:
  input: {{kind: spike_source, size: 8}}
  h1:    {{kind: lif, size: 7, params: {{tau_syn: 4.0, tau_mem: 10.0, v_th: 1.0}}}}
  h2:    {{kind: lif, size: 5, params: {{tau_syn: 4.0, tau_mem: 10.0, v_th: 1.0}}}}
  output: {{kind: lif, size: 3, params: {{tau_syn: 4.0, tau_mem: 10.0, v_th: 1.0}}}}
projections:
  w1: {{pre: input, post: h1, connectivity: dense, weights: {{init: normal, mean: 0.4, std: 0.4}}}}
  w2: {{pre: h1, post: h2, connectivity: dense, weights: {{init: normal, mean: 0.4, std: 0.4}}}}
  w3: {{pre: h2, post: output, connectivity: dense, weights: {{init: normal, mean: 0.3, std: 0.4}}}}
plasticity:
  learn: {{rule: {rule}, projections: [w1, w2, w3], learning_rate: 0.005, target_rate: 0.5,
          gate_window: 6, learning_epoch: 1, trace_tau: 6.0}}
task: {{input: input, output: output, encoding: rate, max_rate: 0.5, sample_steps: 20}}
"""


def _text(seed=3, eta=0.01, steps=20, rule="feedback_alignment", epoch=", learning_epoch: 1"):
    return FA_FIXED.format(seed=seed, eta=eta, steps=steps, rule=rule, epoch=epoch)


def _build(tmp_path, text, name="b"):
    res = compile_network(parse_network(text, "net.yaml"), load_profile("loihi2"), tmp_path / name)
    return res, load_plan(tmp_path / name)


def _inputs(seed: int, n: int, steps: int) -> dict:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    return {"input": encode_samples(rng.random((n, 8)), steps, 0.5, "rate", seed),
            "learn_label": encode_labels(y, 3, steps, 0.5)}


def _registers(plan, name, dense):
    exp = plan.projections[name].weight_exp
    return dense >> exp if exp > 0 else dense


def _cpu_trajectories(plan, inputs, n, steps, plastic=PLASTIC):
    """{projection: weight registers [steps, post, pre]} of the cpu learner after every
    step (one step per call: the loop continues a run exactly)."""
    cpu = get_learner("cpu", plan, "output")
    cpu.set_phase("train")
    total = n * steps
    src = cpu._inputs(inputs, n, steps)
    rec = cpu._recorder(1, n, steps)
    cpu.layout.reserve_steps(total)
    out = {p: np.zeros((total,) + plan.projections[p].shape, np.int64) for p in plastic}
    for t in range(total):
        run_instance(0, t, 1, src[:, t:t + 1], cpu.layout.net, cpu.layout.rules, cpu.state,
                     cpu.noise, rec, True, steps)
        for p in plastic:
            out[p][t] = _registers(plan, p, cpu.layout.dense(cpu.state.w[0], p))
    return out, rec.counts[0]


@pytest.mark.parametrize("seed,eta,deep,epoch", [
    (3, 0.01, False, ", learning_epoch: 1"), (3, 0.005, True, ", learning_epoch: 1"),
    (4, 0.01, False, ""), (3, 0.005, True, "")])
def test_fa_fixed_weights_identical_every_step(tmp_path, seed, eta, deep, epoch):
    """FA 8 -> 6 -> 3 (and DFA 8 -> 7 -> 5 -> 3), six samples of 20 steps in one run, with
    one-step and per-sample learning epochs: the weights of every plastic projection are
    identical on cpu and Lava after each of the 120 steps."""
    n, steps = 6, 20
    text = (DEEP.format(seed=seed, rule="dfa").replace(", learning_epoch: 1", epoch) if deep
            else _text(seed=seed, eta=eta, steps=steps, epoch=epoch))
    plastic = ("w1", "w2", "w3") if deep else PLASTIC
    _, plan = _build(tmp_path, text)
    inputs = _inputs(seed, n, steps)
    cpu, cpu_counts = _cpu_trajectories(plan, inputs, n, steps, plastic)
    lava = get_learner("lava", plan, "output", timeout=300)
    lava.set_phase("train")
    lava.keep_trajectories()
    lava_counts = lava.present(inputs, n, steps, learn=True)[0]
    assert np.array_equal(cpu_counts, lava_counts)
    for p in plastic:
        want = lava.trajectories[p]
        assert want.shape == cpu[p].shape
        w0 = plan.projections[p].dense_weights()
        assert np.count_nonzero(np.diff(cpu[p], axis=0)) > 30, f"{p} must learn in this test"
        assert np.abs(cpu[p][-1] - w0).max() >= 16, f"{p} must move"
        bad = [k + 1 for k in range(want.shape[0]) if not np.array_equal(cpu[p][k], want[k])]
        assert not bad, f"{p}: first divergence at step {bad[0]}"


def test_fa_fixed_presentations_identical(tmp_path):
    """Three presentations (each a new Lava run; learned weights carry over): identical
    read-out counts and weights after each, the fixed feedback weights untouched."""
    n, steps = 3, 20
    _, plan = _build(tmp_path, _text(seed=6, eta=0.01, steps=steps))
    runs = [_inputs(10 + k, n, steps) for k in range(3)]
    results = []
    for backend in ("cpu", "lava"):
        learner = get_learner(backend, plan, "output")
        learner.set_phase("train")
        results.append([(learner.present(x, n, steps, learn=True).copy(),
                         learner.weights.copy()) for x in runs])
    for k, ((c_cpu, w_cpu), (c_lava, w_lava)) in enumerate(zip(*results)):
        assert np.array_equal(c_cpu, c_lava), f"read-out differs in presentation {k}"
        assert np.array_equal(w_cpu, w_lava), f"weights differ after presentation {k}"
    w0 = get_learner("cpu", plan, "output").weights[0]
    lay = get_learner("cpu", plan, "output").layout
    sl = lay.slices["learn_fb_hidden"]
    assert np.array_equal(results[0][-1][1][0][sl.syn0:sl.syn0 + sl.nnz], w0[sl.syn0:sl.syn0 + sl.nnz])
    assert not np.array_equal(results[0][-1][1][0], w0)


def test_third_factor_channels_and_shift():
    """y2 / y3: positive / negative part, shifted (floor of the magnitude), clipped to 7 bits;
    the shift is the smallest that keeps the bound within 127."""
    r = np.array([-1000, -300, -3, 0, 5, 511, 512])
    y2, y3 = third_factor_channels(r, 2)
    assert y2.tolist() == [0, 0, 0, 0, 1, 127, 127]
    assert y3.tolist() == [127, 75, 0, 0, 0, 0, 0]
    assert [third_factor_shift(b) for b in (0, 127, 128, 255, 256, 8192)] == [0, 0, 1, 1, 2, 7]


def test_compile_quantizes_fa_on_loihi2(tmp_path):
    """The build stores each FA projection's quantized rule with its third-factor shift (the
    smallest that keeps the worst-case error within 7 bits), the learning rate as m*2^e
    (the engine's 3-bit product shift included) and reports it."""
    res, plan = _build(tmp_path, _text(seed=3, eta=0.01))
    fixed = res.manifest["plasticity"]["learn"]["fixed"]
    assert set(fixed) == set(PLASTIC)
    # worst-case |r| at the output: |e| <= 1 times the err -> output weight (scale of output)
    out_scale = plan.populations["output"].scale
    assert fixed["hid_out"]["third_factor"]["bound"] == out_scale
    fb = plan.projections["learn_fb_hidden"]
    bound_h = int((np.abs(fb.dense_weights()).sum(axis=1) * 2.0 ** fb.weight_exp).max())
    assert fixed["in_hid"]["third_factor"]["bound"] == bound_h
    for name, q in fixed.items():
        tf = q["third_factor"]
        assert tf["bound"] >> tf["shift"] <= 127 < tf["bound"] >> max(tf["shift"] - 1, 0) or tf["shift"] == 0
        scale = plan.populations[plan.projections[name].post].scale
        to_reg = scale / 2.0 ** q["weight_exp"]
        for t in q["terms"]:
            y = "y2" if "y2" in t["factors"] else "y3"
            assert t["factors"] == ["x1", y] and t["dependency"] == "u"
            x1 = q["traces"]["x1"]
            # dw (registers) = m 2^(e-3) X Y, X = x1 I / 1, Y = r_float scale / 2^s
            per_unit = (t["mantissa"] * 2.0 ** (t["exponent"] - 3) * x1["impulse_mean"]
                        * scale / 2.0 ** tf["shift"]) / to_reg
            assert per_unit == pytest.approx(0.01 if y == "y2" else -0.01, rel=0.02)
            assert per_unit == pytest.approx(t["coef_quantized"], rel=1e-12)
    assert "third factor y2/y3 = max(+-r, 0) >> " in res.report_txt


@pytest.mark.parametrize("text,where,says", [
    (_text(rule="kolen_pollack"), ("plasticity", "learn", "rule"), "7-bit unsigned"),
    (_text(rule="weight_mirror"), ("plasticity", "learn", "rule"), "payload -out, negative"),
    (_text(rule="sal"), ("plasticity", "learn", "rule"), "negative trace impulse"),
    (_text(rule="low_rank_fa", epoch=", learning_epoch: 1, rank: 1"),
     ("plasticity", "learn", "rule"), "through the rank-r bottleneck"),
    (DEEP.format(seed=1, rule="feedback_alignment"), ("plasticity", "learn", "projections"),
     "one hidden layer"),
])
def test_fixed_point_refusals(tmp_path, text, where, says):
    with pytest.raises(CompileError, match=says) as info:
        compile_network(parse_network(text, "net.yaml"), load_profile("loihi2"), None)
    assert tuple(info.value.path) == where


def test_profile_without_graded_third_factor_refuses_fa():
    """Loihi 1's engine takes no graded third factor: FA is refused there with the reason."""
    with pytest.raises(CompileError, match="no graded third factor") as info:
        compile_network(parse_network(_text(), "net.yaml"), load_profile("loihi1"), None)
    assert tuple(info.value.path) == ("plasticity", "learn", "rule")


def test_three_factor_kernel_reproduces_lava(tmp_path):
    """The cpu kernel against Lava's bit-approximate LearningDense with a
    Loihi3FLearningRule fed by RingBuffers (pre spikes, y0, y1..y3) for 3000 steps:
    identical weights after every step, including the steps where Lava's synapse rounds a
    received y value down (its y tau of 65535 steps; checked to happen here)."""
    import os

    from neurodeploy.compilers.cpu import fixed_learning as FL
    from neurodeploy.compilers.lava import learning_processes as P
    from neurodeploy.compilers.lava.imports import lava as _lava
    from neurodeploy.compilers.lava.fixed_rules import lava_dw
    from neurodeploy.compilers.lava.learner import run_network
    from neurodeploy.compilers.lava.learning_rules import LavaRule
    from neurodeploy.learning.engine_rule import EngineRule, Term, Trace
    from neurodeploy.learning.fixed_point import quantize

    steps, npre, npost = 3000, 5, 4
    rng = np.random.default_rng(9)
    pre = (rng.random((steps, npre)) < 0.3).astype(np.int32)
    r = rng.choice([-1, 1], (steps, npost)) * rng.integers(3000, 4000, (steps, npost))
    y2, y3 = (np.asarray(c, np.int32) for c in third_factor_channels(r, 5))
    w0 = (rng.integers(-60, 60, (npost, npre)) * 2).astype(np.int32)
    rule = EngineRule(terms=(Term(0.001, "u", ("x1", "y2")), Term(-0.001, "u", ("x1", "y3"))),
                      x1=Trace(6.0, 1.0), third_factor=True)
    q = quantize("p", rule, weight_exp=0, scale=256.0, sign_mode="mixed", seed=4,
                 third={"bound": 4000, "shift": 5})
    L = _lava()
    path = os.path.join(str(tmp_path), "w.bin")
    with open(path, "wb") as fh:
        fh.truncate(steps * w0.size * 8)
    tr = q["traces"]
    lr = LavaRule(dw=lava_dw(q), x1_impulse=tr["x1"]["impulse"], x1_tau=tr["x1"]["tau"],
                  x2_impulse=0.0, x2_tau=0.0, y1_impulse=0.0, y1_tau=0.0, third_factor=True,
                  rng_seed=q["rng_seed"])
    conn = P.RecLearningDense(weights=w0.copy(), learning_rule=lr.learning_rule(),
                              weights_file=path, record_steps=tuple(range(1, steps + 1)),
                              weight_exp=0, num_weight_bits=8, sign_mode=L["SignMode"].MIXED)
    feeds = {"s_in": pre, "s_in_bap": np.zeros((steps, npost), np.int32),
             "s_in_y1": np.zeros((steps, npost), np.int32), "s_in_y2": y2, "s_in_y3": y3}
    for port, data in feeds.items():
        src = L["RingBuffer"](data=np.ascontiguousarray(data.T))
        src.s_out.connect(getattr(conn, port))
    run_network(L, conn, "fixed_pt", steps, 120, 20, "test")
    lava = np.fromfile(path, np.float64).reshape(steps, npost, npre)

    fx = FL.tables([q], steps)
    rows, cols = np.tile(np.arange(npost), npre), np.repeat(np.arange(npre), npost)
    indptr, pptr = np.arange(0, npre * npost + 1, npost), np.arange(0, npre * npost + 1, npre)
    w = w0.T.reshape(-1).astype(np.int64)
    x, y = np.zeros((2, npre)), np.zeros(npost)
    rounded_down = 0
    for k in range(1, steps + 1):
        y23 = np.stack([y2[k - 1], y3[k - 1]]).astype(np.float64)
        before = y23.copy()
        FL.step(k, 0, fx, pre[k - 1], np.zeros(npost, np.int32), x, y, y23, w, indptr, rows,
                cols, pptr, np.argsort(rows, kind="stable"))
        rounded_down += int(np.count_nonzero(y23 < before))
        got = np.zeros((npost, npre))
        got[rows, cols] = w
        assert np.array_equal(got, lava[k - 1]), f"first divergence at step {k}"
    assert rounded_down > 0, "the run must exercise the y decay's rounding down"
    assert np.abs(lava[-1] - w0).max() > 20, "the weights must learn"
