"""The fixed-point learning encoding (per-sample epochs, count traces, the epoch-summed
third factor) and learning-rate schedules in fixed point.

* No systematic sign bias: on a symmetric case (the third factor's epoch sum drawn
  symmetric about 0) as many synapses move up as down, through Lava's engine arithmetic
  (the cpu kernel, which tests/test_fa_fixed.py holds bit for bit to Lava).
* ``lr_decay``: the rate is re-chosen in ``m * 2^e`` (and, below the smallest constant, in
  the trace impulse), the cpu and Lava learners stay identical after it, and the Lava
  learner's float rules scale too.
"""
from __future__ import annotations

import numpy as np
import pytest

import neurodeploy  # noqa: F401  (installs the Lava shim)
from neurodeploy.compilers.cpu import fixed_learning as FL
from neurodeploy.learning.engine_rule import EngineRule, Term, Trace
from neurodeploy.learning.fixed_point import quantize, third_factor_channels, third_factor_shift
from neurodeploy.learning.learners import get_learner
from neurodeploy.learning.lr_schedule import rescale_rule, scale_learning_rate

from .test_fa_fixed import PLASTIC, _build, _inputs, _text

pytestmark = pytest.mark.filterwarnings("ignore:Cannot import module")


def _fa_rule(epoch: int, eta: float = 3e-4) -> EngineRule:
    return EngineRule(terms=(Term(eta, "u", ("x1", "y2")), Term(-eta, "u", ("x1", "y3"))),
                      x1=Trace(float(epoch), 1.0), t_epoch=epoch, third_factor=True)


def _moves(epoch: int, steps: int, seed: int = 1) -> tuple[int, int, float]:
    """(synapse moves up, moves down, mean dw / mean |dw|) of the cpu engine over ``steps``
    steps of a symmetric third factor (per 30-step sample a level uniform in -64..64, plus
    per-step noise), summed over learning epochs of ``epoch`` steps and shifted for the
    epoch's range (a worst case of 1024 per step), weights at 0
    before every update (so each update is counted from the same place)."""
    npre, npost = 16, 12
    rng = np.random.default_rng(seed)
    bound = 1024 * epoch // (8 if epoch > 1 else 1)     # compile's worst case / epoch budget
    shift = third_factor_shift(bound)
    q = quantize("p", _fa_rule(30), weight_exp=0, scale=64.0, sign_mode="mixed", seed=seed,
                 third={"bound": bound, "shift": shift})
    fx = FL.tables([q], steps)
    rows, cols = np.tile(np.arange(npost), npre), np.repeat(np.arange(npre), npost)
    indptr, pptr = np.arange(0, npre * npost + 1, npost), np.arange(0, npre * npost + 1, npre)
    pidx = np.argsort(rows, kind="stable")
    x, y = np.zeros((2, npre)), np.zeros(npost)
    acc = np.zeros(npost, np.int64)
    up = down = 0
    total = absolute = 0.0
    w = np.zeros(npre * npost, np.int64)
    for k in range(1, steps + 1):
        pre = (rng.random(npre) < 0.3).astype(np.int32)
        if (k - 1) % 30 == 0:                         # a sample's error keeps its sign
            base = rng.integers(-16, 17, npost) * 4
        acc += base + rng.integers(-8, 9, npost)
        y23 = np.zeros((2, npost))
        if k % epoch == 0:
            y23 = np.stack(third_factor_channels(acc, shift)).astype(np.float64)
            acc[:] = 0
        FL.step(k, 0, fx, pre, np.zeros(npost, np.int32), x, y, y23, w, indptr, rows, cols,
                pptr, pidx)
        up += int(np.count_nonzero(w > 0))
        down += int(np.count_nonzero(w < 0))
        total += float(w.sum())
        absolute += float(np.abs(w).sum())
        w[:] = 0
    return up, down, total / absolute


def test_per_sample_epochs_have_no_sign_bias():
    """The same symmetric third factor and rate, learned once per 30-step epoch (its sum,
    count traces) or every step (the old encoding), two seeds: per epoch, up and down
    moves balance within 3 % and the mean update is within 3 % of the mean update size
    (about 1 % on average); every step, the engine's floored product shift (a small
    positive product becomes 0, a small negative one -1) biases it down several times more."""
    per_epoch = [_moves(30, 6000, seed) for seed in (1, 2)]
    per_step = [_moves(1, 6000, seed) for seed in (1, 2)]
    for up, down, bias in per_epoch:
        assert up > 5000 and down > 5000
        assert abs(up - down) / (up + down) < 0.03 and abs(bias) < 0.03, (up, down, bias)
    mean_epoch = np.mean([b for *_, b in per_epoch])
    mean_step = np.mean([b for *_, b in per_step])
    assert abs(mean_epoch) < 0.015 and mean_step < -0.03 and mean_step < 4 * -abs(mean_epoch)
    assert all(down > up for up, down, _ in per_step)


def test_rescale_rule_keeps_decaying_below_the_smallest_constant():
    """A rule at the engine's smallest constant (1*2^-7) keeps following the schedule by
    shrinking its trace impulse; the stored effective rate tracks the wanted one."""
    q = quantize("p", _fa_rule(30, 1e-3), weight_exp=3, scale=64.0, sign_mode="mixed", seed=1,
                 third={"bound": 4000, "shift": 5})
    want = q["terms"][0]["coef"]
    for _ in range(12):
        rescale_rule(q, 0.8)
        want *= 0.8
        for t in q["terms"]:
            assert abs(t["coef_quantized"]) == pytest.approx(want, rel=0.05)
            assert t["s_exp"] == t["exponent"] + 7
    assert q["traces"]["x1"]["impulse_mean"] > 0


def test_lr_decay_keeps_cpu_and_lava_identical(tmp_path):
    """A fixed FA build, two presentations with the rate halved between them: identical
    weights on the cpu and Lava learners after each, and the second presentation moves
    the weights by about half as much as without the decay."""
    n, steps = 4, 20
    runs = [_inputs(20 + k, n, steps) for k in range(2)]
    results = []
    for backend in ("cpu", "lava"):
        _, plan = _build(tmp_path, _text(seed=7, eta=0.01, steps=steps, epoch=""), backend)
        learner = get_learner(backend, plan, "output")
        learner.set_phase("train")
        out = [learner.present(runs[0], n, steps, learn=True), learner.weights.copy()]
        scale_learning_rate(learner, plan, 0.5)
        out += [learner.present(runs[1], n, steps, learn=True), learner.weights.copy()]
        results.append(out)
    (c0, w0c, c1, w1c), (l0, w0l, l1, w1l) = results
    assert np.array_equal(c0, l0) and np.array_equal(w0c, w0l)
    assert np.array_equal(c1, l1) and np.array_equal(w1c, w1l), "weights differ after lr_decay"
    assert not np.array_equal(w0c, w1c), "the second presentation must learn"
    assert set(PLASTIC) <= set(plan.plasticity["learn"]["fixed"])


def test_lr_decay_scales_the_lava_learners_float_rules(tmp_path):
    """Float build: the Lava learner builds its rules from its own copy, which the schedule
    scales (issue 16: it used to keep the initial rate)."""
    from neurodeploy.compiling import compile_network
    from neurodeploy.compilers.plan import load_plan
    from neurodeploy.ir import parse_network
    from neurodeploy.profiles import load_profile
    compile_network(parse_network(_text(seed=3, eta=0.01), "net.yaml"), load_profile("cpu"),
                    tmp_path / "f")
    plan = load_plan(tmp_path / "f")
    learner = get_learner("lava", plan, "output")
    before = {n: [t.coef for t in r.terms] for n, r in learner.rules.items()}
    scale_learning_rate(learner, plan, 0.25)
    for name, coefs in before.items():
        assert [t.coef for t in learner.rules[name].terms] == pytest.approx(
            [0.25 * c for c in coefs])
    assert learner.layout.rules.t_coef == pytest.approx(
        0.25 * get_learner("cpu", plan, "output").layout.rules.t_coef)


def test_stdp_bounds_on_loihi2_are_honoured_or_refused(tmp_path):
    """A w_max inside the learned register's range is refused with its field path (the
    engine clips at nothing but the register's saturation); one at or beyond the
    register's limit is what the saturation does, and compiles."""
    from neurodeploy.compiling import compile_network
    from neurodeploy.errors import CompileError
    from neurodeploy.ir import parse_network
    from neurodeploy.profiles import load_profile

    from .test_stdp_fixed import NET
    text = NET.format(seed=1, mean=0.3, delay=0)
    tight = text.replace("tau_minus: 6.0}", "tau_minus: 6.0, w_max: 0.4}")
    with pytest.raises(CompileError, match="w_max 0.4 is .* weight registers") as info:
        compile_network(parse_network(tight, "net.yaml"), load_profile("loihi2"), None)
    assert tuple(info.value.path) == ("plasticity", "stdp", "w_max")
    res = compile_network(parse_network(text, "net.yaml"), load_profile("loihi2"), None)
    q = res.manifest["plasticity"]["stdp"]["fixed"]["in_out"]
    limit = 255 * 2.0 ** q["weight_exp"] / q["scale"]
    loose = text.replace("tau_minus: 6.0}", f"tau_minus: 6.0, w_max: {limit * 1.01:.6f}}}")
    compile_network(parse_network(loose, "net.yaml"), load_profile("loihi2"), None)


@pytest.mark.parametrize("learning,where,says", [
    ("{epoch_steps: 7}", ("plasticity", "learn", "learning_epoch"),
     "not a multiple of .* epoch_steps \\(7\\)"),
    ("{trace_bits: 9}", ("learning", "trace_bits"), "is 9; .*7-bit traces only"),
])
def test_profile_learning_widths_are_used_or_refused(tmp_path, learning, where, says):
    """A profile's learning ``epoch_steps`` and ``trace_bits`` are checked against the rule
    (issue 16: never ignored): a per-sample epoch of 20 steps on an engine whose epochs are
    multiples of 7, or traces other than the modelled 7 bits, are refused with the field."""
    from neurodeploy.compiling import compile_network
    from neurodeploy.errors import CompileError
    from neurodeploy.ir import parse_network
    from neurodeploy.profiles import load_profile
    prof = tmp_path / "chip.yaml"
    prof.write_text(f"extends: loihi2\nname: chip\nlearning: {learning}\n")
    with pytest.raises(CompileError, match=says) as info:
        compile_network(parse_network(_text(seed=3, eta=0.01, epoch=""), "net.yaml"),
                        load_profile(prof), None)
    assert tuple(info.value.path) == where
    if where[0] == "learning":                  # the profile's own field, in its file
        assert info.value.file == str(prof) and info.value.line == 3
