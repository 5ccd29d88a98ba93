"""Fixed-point STDP: the cpu's arithmetic (compilers.cpu.fixed_learning) against Lava's
bit-approximate LearningDense, bit for bit.

One plastic synapse matrix in Lava (RingBuffers drive its pre spikes and its
back-propagated post spikes; it records its weights after every step) against the cpu
kernel fed the same spikes: identical weight trajectories for several seeds and sign
modes, including stochastic trace decay and impulse rounding, weight rounding and
saturation. Also the quantization of a rule (neurodeploy.learning.fixed_point).
"""
from __future__ import annotations

import math
import os

import numpy as np
import pytest

import neurodeploy  # noqa: F401  (installs the Lava shim)
from neurodeploy.compilers.cpu import fixed_learning as FL
from neurodeploy.compilers.lava import learning_processes as P
from neurodeploy.compilers.lava.imports import lava as _lava
from neurodeploy.compilers.lava.fixed_rules import lava_dw
from neurodeploy.compilers.lava.learner import run_network
from neurodeploy.compilers.lava.learning_rules import LavaRule
from neurodeploy.errors import CompileError
from neurodeploy.learning.engine_rule import EngineRule, Term, Trace
from neurodeploy.learning.fixed_point import quantize
from neurodeploy.profiles import load_profile


STEPS, NPRE, NPOST = 150, 6, 4

# Lava execs sibling modules while searching process models; harmless
pytestmark = pytest.mark.filterwarnings("ignore:Cannot import module")


def _stdp(a_plus: float, a_minus: float) -> EngineRule:
    return EngineRule(terms=(Term(a_plus, "y0", ("x1",)), Term(-a_minus, "x0", ("y1",))),
                      x1=Trace(8.0, 1.0), y1=Trace(5.0, 1.0))


def _lava_trajectory(q, pre, post, w0, sign, tmp_path):
    """Weights [steps, post, pre] of Lava's fixed-point LearningDense after each step."""
    L = _lava()
    path = os.path.join(tmp_path, "w.bin")
    with open(path, "wb") as fh:
        fh.truncate(STEPS * w0.size * 8)
    tr = q["traces"]
    rule = LavaRule(dw=lava_dw(q), x1_impulse=tr["x1"]["impulse"], x1_tau=tr["x1"]["tau"],
                    x2_impulse=0.0, x2_tau=0.0, y1_impulse=tr["y1"]["impulse"],
                    y1_tau=tr["y1"]["tau"], third_factor=False, rng_seed=q["rng_seed"])
    src = L["RingBuffer"](data=np.ascontiguousarray(pre.T))
    bap = L["RingBuffer"](data=np.ascontiguousarray(post.T))
    conn = P.RecLearningDense(weights=w0.copy(), learning_rule=rule.learning_rule(),
                              weights_file=path, record_steps=tuple(range(1, STEPS + 1)),
                              weight_exp=q["weight_exp"], num_weight_bits=8,
                              sign_mode=L["SignMode"][sign.upper()])
    src.s_out.connect(conn.s_in)
    bap.s_out.connect(conn.s_in_bap)
    run_network(L, conn, "fixed_pt", STEPS, 60, 20, "test")
    return np.fromfile(path, np.float64).reshape(STEPS, NPOST, NPRE)


def _cpu_trajectory(q, pre, post, w0):
    fx = FL.tables([q], STEPS)
    rows = np.tile(np.arange(NPOST), NPRE)
    cols = np.repeat(np.arange(NPRE), NPOST)
    indptr = np.arange(0, NPRE * NPOST + 1, NPOST)
    w = w0.T.reshape(-1).astype(np.int64)
    x, y = np.zeros((2, NPRE)), np.zeros(NPOST)
    out = np.zeros((STEPS, NPOST, NPRE))
    by_post = np.argsort(rows, kind="stable")
    pptr = np.arange(0, NPRE * NPOST + 1, NPRE)
    for k in range(1, STEPS + 1):
        FL.step(k, 0, fx, pre[k - 1], post[k - 1], x, y, np.zeros((2, NPOST)), w, indptr, rows,
                cols, pptr, by_post)
        out[k - 1, rows, cols] = w
    return out


@pytest.mark.parametrize("seed,sign", [(1, "mixed"), (2, "mixed"), (3, "excitatory"),
                                       (4, "inhibitory")])
def test_cpu_kernel_reproduces_lava_fixed_point(tmp_path, seed, sign):
    rng = np.random.default_rng(seed)
    pre = (rng.random((STEPS, NPRE)) < 0.3).astype(np.int32)
    post = (rng.random((STEPS, NPOST)) < 0.25).astype(np.int32)
    mag = rng.integers(0, 128, (NPOST, NPRE)) * 2
    w0 = {"mixed": mag - 128, "excitatory": mag, "inhibitory": -mag}[sign].astype(np.int32)
    coef = 0.03 if sign != "inhibitory" else -0.03      # inhibitory weights move towards 0
    q = quantize("p", _stdp(coef, 1.2 * coef), weight_exp=-1, scale=64.0, sign_mode=sign,
                 seed=seed)
    lava = _lava_trajectory(q, pre, post, w0, sign, str(tmp_path))
    cpu = _cpu_trajectory(q, pre, post, w0)
    moved = np.abs(lava[-1] - w0).max()
    assert moved > 20, "the weights must move for the comparison to mean something"
    diverged = np.flatnonzero([not np.array_equal(a, b) for a, b in zip(cpu, lava)])
    assert diverged.size == 0, f"first divergence at step {diverged[0] + 1}"


def test_random_tables_are_lavas_generators():
    """The tables hold exactly what Lava's TraceRandom / ConnVarRandom draw at each step."""
    from lava.magma.core.learning.random import ConnVarRandom, TraceRandom
    tab = FL.random_tables(11, 40)
    x, y, c = TraceRandom(11, 12), TraceRandom(13, 14), ConnVarRandom()
    for k in range(1, 41):
        for _ in range(2):
            x.advance()
            y.advance()
        c.advance()
        assert (tab[0, k], tab[1, k]) == (x.random_trace_decay, x.random_impulse_addition)
        assert (tab[2, k], tab[3, k]) == (y.random_trace_decay, y.random_impulse_addition)
        assert tab[4, k] == c.random_stochastic_round


def test_quantized_rule_numbers():
    """Mean impulse * constant equals the rate in weight-register units to the stated error;
    traces cannot saturate at one spike per step; too small a rate is refused."""
    rule = _stdp(0.01, 0.012)
    q = quantize("p", rule, weight_exp=3, scale=512.0, sign_mode="mixed", seed=0)
    to_reg = 512.0 / 2 ** 3
    for t, want in zip(q["terms"], (0.01, -0.012)):
        tr = q["traces"][t["factors"][0]]
        got = t["mantissa"] * 2.0 ** t["exponent"] * tr["impulse_mean"] / to_reg
        assert got == pytest.approx(want, rel=t["rel_error"] + 1e-12)
        assert t["rel_error"] < 0.02
        assert tr["impulse_mean"] <= 127 * (1 - math.exp(-1 / tr["tau"])) + 1 / 128
        assert tr["impulse"] == tr["impulse_int"] + tr["impulse_frac"] / 256
    with pytest.raises(CompileError, match="below what"):
        quantize("p", _stdp(1e-9, 1e-9), weight_exp=7, scale=1.0, sign_mode="mixed", seed=0)


NET = """
neurodeploy: 1
name: stdp-fixed
seed: {seed}
populations:
  input:  {{kind: spike_source, size: 12}}
  output: {{kind: lif, size: 5, params: {{tau_syn: 4.0, tau_mem: 10.0, v_th: 1.0}}}}
projections:
  in_out: {{pre: input, post: output, connectivity: dense, delay: {delay},
           weights: {{init: normal, mean: {mean}, std: 0.3}}}}
plasticity:
  stdp: {{rule: stdp, projections: [in_out], learning_rate: 0.01, a_plus: 1.0, a_minus: 1.2,
         tau_plus: 8.0, tau_minus: 6.0}}
task: {{input: input, output: output, encoding: rate, max_rate: 0.5, sample_steps: 20}}
"""


@pytest.mark.parametrize("seed,mean,delay", [(1, 0.3, 0), (2, 0.1, 2), (3, 0.5, 0)])
def test_stdp_network_identical_on_cpu_and_lava(tmp_path, seed, mean, delay):
    """A loihi2 build learning with STDP: the cpu learner and the Lava learner give the
    same read-out counts and the same weights after each of three presentations (each a
    new Lava run; learned low bits carry over), with and without a synaptic delay."""
    from neurodeploy.compiling import compile_network
    from neurodeploy.compilers.plan import load_plan
    from neurodeploy.ir import parse_network
    from neurodeploy.learning.learners import get_learner
    from neurodeploy.profiles import load_profile
    from neurodeploy.task import encode_samples
    compile_network(parse_network(NET.format(seed=seed, mean=mean, delay=delay), "net.yaml"),
                    load_profile("loihi2"), tmp_path / "b")
    plan = load_plan(tmp_path / "b")
    n, steps = 6, 20
    rng = np.random.default_rng(seed)
    runs = [{"input": encode_samples(rng.random((n, 12)), steps, 0.5, "rate", seed + k)}
            for k in range(3)]
    trajectories = []
    for backend in ("cpu", "lava"):
        learner = get_learner(backend, plan, "output")
        learner.set_phase("train")
        w0 = learner.weights.copy()
        trajectories.append([(learner.present(x, n, steps, learn=True).copy(),
                              learner.weights.copy()) for x in runs])
    for k, ((c_cpu, w_cpu), (c_lava, w_lava)) in enumerate(zip(*trajectories)):
        assert np.array_equal(c_cpu, c_lava), f"read-out differs in presentation {k}"
        assert np.array_equal(w_cpu, w_lava), f"weights differ after presentation {k}"
    moved = np.abs(trajectories[0][-1][1] - w0)
    assert moved.max() >= 8 << max(plan.projections["in_out"].weight_exp, 0), "weights must learn"
    assert trajectories[0][-1][0].sum() > 0, "the output must spike"


def test_compile_stores_and_reports_the_quantized_rule(tmp_path):
    """A loihi2 build keeps the quantized rule in its manifest (what both learners run) and
    the compile report shows it; float builds store none."""
    from neurodeploy.compiling import compile_network
    from neurodeploy.compilers.plan import load_plan
    from neurodeploy.ir import parse_network
    from neurodeploy.learning.fixed_point import plan_rule
    net = parse_network(NET.format(seed=1, mean=0.3, delay=0), "net.yaml")
    res = compile_network(net, load_profile("loihi2"), tmp_path / "fixed")
    stored = res.manifest["plasticity"]["stdp"]["fixed"]["in_out"]
    assert stored["trace_bits"] == 7 and len(stored["terms"]) == 2
    assert "learning (fixed point)" in res.report_txt and "in_out: dw = " in res.report_txt
    assert plan_rule(load_plan(tmp_path / "fixed"), "in_out") == stored
    floating = compile_network(net, load_profile("cpu"), None)
    assert "fixed" not in floating.manifest["plasticity"]["stdp"]
    assert "learning (fixed point)" not in floating.report_txt


def test_kernel_refuses_a_run_longer_than_its_tables():
    q = quantize("p", _stdp(0.03, 0.03), weight_exp=0, scale=64.0, sign_mode="mixed", seed=1)
    fx = FL.tables([q], 5)
    x, y, w = np.zeros((2, 1)), np.zeros(1), np.zeros(1, np.int64)
    one = np.ones(1, np.int32)
    idx = np.array([0, 1])
    with pytest.raises(IndexError, match="reserve_steps"):
        FL.step(6, 0, fx, one, one, x, y, np.zeros((2, 1)), w, idx, idx[:1], idx[:1], idx, idx[:1])


def _accumulate(q, wr, xs, ys, f, rw):
    """Lava's accumulator for one synapse, written out from the module docstring: factor
    values ``f`` by name, each product's factors clipped to their widths, shifted right by
    max(0, widths + 4 - 15), left by s_exp, saturated, as is the sum; rounded, clipped."""
    widths = {"x1": 7, "x2": 7, "y1": 7, "y2": 7, "y3": 7, "w": 9}
    sat = (lambda v: min(max(v, -(1 << 15) - 1), (1 << 15) - 1))
    acc = wr << 7
    for t in q["terms"]:
        if (t["dependency"] == "x0" and not xs) or (t["dependency"] == "y0" and not ys):
            continue
        cur, width = t["mantissa"], 4
        for name in t["factors"]:
            lim = 1 << widths[name]
            cur, width = cur * min(max(f[name], -lim), lim - 1), width + widths[name]
        acc = sat(acc + sat((cur >> max(0, width - 15)) << t["s_exp"]))
    return min(max((acc >> 7) + (1 if rw < (acc & 127) / 128 else 0), -256), 255)


def test_kernel_terms_reading_w_and_both_sides_match_the_written_out_accumulator():
    """Terms the quantizer does not emit today (w factors, x and y in one product, three
    terms) take the kernel's general per-synapse path: every weight equals the accumulator
    written out in Python, step after step."""
    rng = np.random.default_rng(5)
    q = quantize("p", _stdp(0.03, 0.03), weight_exp=0, scale=64.0, sign_mode="mixed", seed=2)
    q["terms"] = [{"dependency": "u", "factors": ["x1", "w"], "mantissa": -3, "s_exp": 0},
                  {"dependency": "y0", "factors": ["x1", "y1"], "mantissa": 5, "s_exp": 1},
                  {"dependency": "x0", "factors": ["y1"], "mantissa": -7, "s_exp": 2}]
    npre, npost, steps = 5, 4, 40
    fx = FL.tables([q], steps)
    indptr = np.arange(0, npre * npost + 1, npost)
    rows, cols = np.tile(np.arange(npost), npre), np.repeat(np.arange(npre), npost)
    by_post, pptr = np.argsort(rows, kind="stable"), np.arange(0, npre * npost + 1, npre)
    w = rng.integers(-256, 256, npre * npost).astype(np.int64)
    x, y = np.zeros((2, npre)), np.zeros(npost)
    changed = 0
    for k in range(1, steps + 1):
        pre = (rng.random(npre) < 0.4).astype(np.int32)
        post = (rng.random(npost) < 0.4).astype(np.int32)
        w0 = w.copy()
        FL.step(k, 0, fx, pre, post, x, y, np.zeros((2, npost)), w, indptr, rows, cols, pptr,
                by_post)
        want = [_accumulate(q, int(w0[s]), pre[cols[s]] != 0, post[rows[s]] != 0,
                            {"x1": int(x[0, cols[s]]), "y1": int(y[rows[s]]), "w": int(w0[s])},
                            fx.rnd[0, 4, k]) for s in range(w.size)]
        assert w.tolist() == want, f"step {k}"
        changed += int((w != w0).sum())
    assert changed > 50, "the weights must move for the comparison to mean something"
