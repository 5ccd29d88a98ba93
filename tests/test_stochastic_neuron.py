"""The stochastic (escape-noise) neuron kind: one definition, the same spikes on cpu, Lava and
Brian2, the requested firing probability, per-chip draws, float builds only."""
from __future__ import annotations

import re

import numpy as np
import pytest
from numba import njit

import neurodeploy  # noqa: F401  (installs the Lava shim)
from neurodeploy.cli import main
from neurodeploy.compiling import compile_network
from neurodeploy.compiling.artifact import Build
from neurodeploy.compilers import get_backend, load_plan, make_inputs
from neurodeploy.errors import BackendError
from neurodeploy.ir import parse_network
from neurodeploy.neurons import get, stochastic
from neurodeploy.neurons.cpu_dispatch import neuron_step
from neurodeploy.profiles import load_profile
from neurodeploy.variability.chip import Chip
from neurodeploy.variability.config import MismatchConfig

from .conftest import EXAMPLES
from .netgen import random_inputs, random_network_yaml

CODE = get("stochastic").code
LAVA_TIMEOUT = 300.0          # seconds for one guarded Lava run (LavaBackend's own guard)


# --------------------------------------------------------------------------- 1. jitted step
@njit
def _jit_run(a, z, r, du, dv, vth, bias, beta, refr):
    """Steps [T, n] of the dispatcher's stochastic branch from rest; (u, v, spikes)."""
    T, n = a.shape
    u, v = np.zeros((T, n)), np.zeros((T, n))
    s = np.zeros((T, n), np.bool_)
    uu, vv, aux = np.zeros(n), np.zeros(n), np.zeros(n, np.int64)
    for t in range(T):
        for i in range(n):
            uu[i], vv[i], aux[i], out, f = neuron_step(
                CODE, t, a[t, i], z[t, i], r[t, i], uu[i], vv[i], aux[i], du[i], dv[i],
                vth[i], bias[i], beta[i], refr, (0, 0, 0, 0, 0, 0))
            s[t, i] = f and out == 1.0
        u[t], v[t] = uu, vv
    return u, v, s


@pytest.mark.parametrize("refractory", [0, 3])
def test_jitted_step_equals_numpy_reference(refractory):
    rng = np.random.default_rng(11 + refractory)
    T, n = 400, 64
    a = rng.normal(0.05, 0.3, (T, n))
    z = np.where(rng.random((T, n)) < 0.5, rng.normal(0, 0.05, (T, n)), 0.0)
    r = rng.random((T, n))
    du, dv = rng.uniform(0.05, 1.0, n), rng.uniform(0.02, 1.0, n)
    vth, bias = rng.uniform(0.3, 2.0, n), rng.normal(0, 0.05, n)
    beta = rng.uniform(0.02, 0.8, n)
    u_j, v_j, s_j = _jit_run(a, z, r, du, dv, vth, bias, beta, refractory)
    u, v, ref_end = np.zeros(n), np.zeros(n), np.zeros(n, np.int64)
    for t in range(T):
        s = stochastic.reference_step(u, v, a[t], r[t], du, dv, vth, bias, beta, refractory,
                                      ref_end, t + 1, z[t])
        np.testing.assert_array_equal(s, s_j[t], err_msg=f"spikes, step {t}")
        np.testing.assert_array_equal(u, u_j[t], err_msg=f"u, step {t}")
        np.testing.assert_array_equal(v, v_j[t], err_msg=f"v, step {t}")
    rate = s_j.mean()
    assert 0.02 < rate < 0.6, rate           # both branches (fire / not) exercised
    if refractory:                           # never two spikes closer than the period
        for i in range(n):
            assert np.all(np.diff(np.flatnonzero(s_j[:, i])) > refractory)


# --------------------------------------------------------------------------- helpers
def _stochastic_yaml(seed: int, noise: bool = False) -> str:
    """A random float network (tests/netgen.py) whose first layer is stochastic."""
    text = random_network_yaml(seed, max_size=30)
    rng = np.random.default_rng(seed)
    beta, refr = float(rng.uniform(0.05, 0.5)), int(rng.integers(0, 3))
    text, n = re.subn(r"l0: \{kind: lif, (size: \d+), params: \{",
                      f"l0: {{kind: stochastic, \\1, params: {{beta: {beta:.3f}, "
                      f"refractory: {refr}, ", text)
    assert n == 1
    if noise:
        text += "noise: {membrane: {sigma: 0.05}, spike_drop: {p: 0.2}}\n"
    return text


def _compile(tmp_path, text: str, name: str, profile: str = "cpu"):
    out = tmp_path / name
    compile_network(parse_network(text, name=f"{name}.yaml"), load_profile(profile), out,
                    force=True)
    return load_plan(out)


def _same_spikes(a: dict, b: dict, what: str) -> None:
    assert a.keys() == b.keys()
    for key in a:
        if key.endswith("spikes"):
            np.testing.assert_array_equal(a[key], b[key], err_msg=f"{what}: {key}")
        else:                   # input summation order: float64 rounding only
            np.testing.assert_allclose(a[key], b[key], rtol=0, atol=1e-9, err_msg=f"{what}: {key}")


STEPS = 120


# --------------------------------------------------------------------------- 2. backends agree
def test_cpu_lava_brian2_identical_spikes_on_random_networks(tmp_path):
    items, cpu_runs = [], []
    fired = 0
    for seed in (1, 2, 3):
        plan = _compile(tmp_path, _stochastic_yaml(seed, noise=seed == 3), f"s{seed}")
        assert plan.populations["l0"].kind == "stochastic"
        inputs = make_inputs(plan, STEPS, random_inputs(plan, STEPS, seed))
        cpu = get_backend("cpu").run(plan, inputs, STEPS).data
        b2 = get_backend("brian2").run(plan, inputs, STEPS).data
        _same_spikes(cpu, b2, f"seed {seed} brian2")
        fired += int(cpu["l0.spikes"].sum())
        items.append((plan, inputs))
        cpu_runs.append(cpu)
    lava = get_backend("lava", timeout=LAVA_TIMEOUT).run_many(items, STEPS)
    for seed, cpu, res in zip((1, 2, 3), cpu_runs, lava):
        _same_spikes(cpu, res.data, f"seed {seed} lava")
    assert fired > 50                       # the stochastic layers did fire


def test_backends_agree_on_a_mismatched_chip(tmp_path):
    plan = _compile(tmp_path, _stochastic_yaml(4), "chip")
    cfg = MismatchConfig.from_manifest(Build(tmp_path / "chip").manifest).with_overrides(
        {"variability.v_th.cv": 0.1, "variability.tau_mem.cv": 0.1,
         "variability.tau_syn.cv": 0.1, "variability.bias.sigma": 0.05,
         "variability.weights.cv": 0.1})
    chip = Chip(plan.seed, 5, cfg)
    applied = chip.apply(plan)
    l0 = applied.populations["l0"]
    assert np.ndim(l0.dv) == 1 and np.ptp(l0.dv) > 0 and np.ptp(l0.vth) > 0   # mismatched
    inputs = make_inputs(plan, STEPS, random_inputs(plan, STEPS, 4))
    cpu = get_backend("cpu").run_batch(applied, inputs, STEPS, 1, noise_chips=[5]).data
    cpu = {k: v[0] for k, v in cpu.items()}
    nominal = get_backend("cpu").run(plan.nominal(), inputs, STEPS).data
    assert not np.array_equal(cpu["l0.spikes"], nominal["l0.spikes"])
    b2 = get_backend("brian2", noise_chip=5).run(applied, inputs, STEPS).data
    _same_spikes(cpu, b2, "brian2 chip 5")
    lava = get_backend("lava", noise_chip=5, timeout=LAVA_TIMEOUT).run(applied, inputs, STEPS)
    _same_spikes(cpu, lava.data, "lava chip 5")
    over = chip.overrides(plan)             # the batched path: overrides on the nominal plan
    from neurodeploy.variability.chip import batch_plan
    batched = get_backend("cpu").run_batch(batch_plan(plan), inputs, STEPS, 1, overrides=over,
                                           noise_chips=[5]).data
    np.testing.assert_array_equal(batched["l0.spikes"][0], cpu["l0.spikes"])


# --------------------------------------------------------------------------- 3. statistics
def test_firing_probability_matches_the_sigmoid(tmp_path):
    """dv = 1 (tau_mem = dt) and no input: v = bias every step, so each step fires with
    p = sigmoid((bias - v_th) / beta), independently. Per neuron z = (k - T p) / sqrt(T p (1-p))
    must stay within 5 (all 40 neurons: a false alarm below 1e-4) and the sum of z^2 below
    chi2(0.999, 40) = 73.4."""
    n, T, beta = 40, 3000, 0.25
    bias = np.linspace(0.4, 1.6, n)
    text = ("neurodeploy: 1\nname: escape\nseed: 21\npopulations:\n"
            f"  e: {{kind: stochastic, size: {n}, params: {{tau_syn: 2.0, tau_mem: 1.0, "
            f"v_th: 1.0, beta: {beta}, bias: {list(map(float, bias))}}}}}\n"
            "projections: {}\nmonitors: [{population: e, var: spikes}, {population: e, var: v}]\n"
            f"run: {{steps: {T}}}\n")
    plan = _compile(tmp_path, text, "escape")
    data = get_backend("cpu").run(plan, {}, T).data
    v = data["e.v"]
    spikes = data["e.spikes"].astype(bool)
    np.testing.assert_allclose(v[~spikes], np.broadcast_to(bias, v.shape)[~spikes], rtol=1e-15)
    p = 1.0 / (1.0 + np.exp(-(bias - 1.0) / beta))
    k = spikes.sum(axis=0)
    z = (k - T * p) / np.sqrt(T * p * (1 - p))
    assert np.all(np.abs(z) < 5), z
    assert float(np.sum(z ** 2)) < 73.4, float(np.sum(z ** 2))
    assert k[0] < k[-1] and 0.4 < k[n // 2 - 1] / T < 0.6     # rises through 50 % at v_th


# --------------------------------------------------------------------------- 4. per-chip draws
def test_same_seed_and_chip_same_spikes_other_chip_or_seed_differs(tmp_path):
    text = _stochastic_yaml(6)
    plan = _compile(tmp_path, text, "a")
    again = _compile(tmp_path, text, "b")
    other_seed = _compile(tmp_path, text.replace("seed: 6", "seed: 7", 1), "c")
    inputs = make_inputs(plan, STEPS, random_inputs(plan, STEPS, 6))
    cpu = get_backend("cpu")

    def chip(p, k):
        return cpu.run_batch(p, inputs, STEPS, 1, noise_chips=[k]).data["l0.spikes"][0]

    first = chip(plan, 2)
    assert first.sum() > 0
    np.testing.assert_array_equal(first, chip(plan, 2))
    np.testing.assert_array_equal(first, chip(again, 2))
    assert not np.array_equal(first, chip(plan, 3))
    assert not np.array_equal(first, chip(other_seed, 2))
    batch = cpu.run_batch(plan, inputs, STEPS, 3, noise_chips=[2, 3, 2]).data["l0.spikes"]
    np.testing.assert_array_equal(batch[0], first)
    np.testing.assert_array_equal(batch[2], first)
    np.testing.assert_array_equal(batch[1], chip(plan, 3))
    b2 = get_backend("brian2", noise_chip=3).run(plan, inputs, STEPS).data["l0.spikes"]
    np.testing.assert_array_equal(b2, chip(plan, 3))


# --------------------------------------------------------------------------- 5. float only
@pytest.mark.parametrize("profile", ["loihi2", "loihi1"])
def test_fixed_point_compile_is_refused_with_the_field_path(tmp_path, capsys, profile):
    src = tmp_path / "net.yaml"
    src.write_text(_stochastic_yaml(1))
    out = tmp_path / "build"
    assert main(["compile", str(src), "--profile", profile, "-o", str(out)]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert str(src) in err and "populations.l0.kind" in err
    assert "float profile (cpu)" in err and profile in err
    assert not out.exists()


def test_other_refusals_name_the_population(tmp_path, capsys):
    plan = _compile(tmp_path, _stochastic_yaml(2), "r")
    assert main(["export-nir", str(tmp_path / "r"), "-o", str(tmp_path / "r.nir")]) == 1
    err = capsys.readouterr().err
    assert "populations.l0" in err and "stochastic" in err and not (tmp_path / "r.nir").exists()
    fixed = load_plan(tmp_path / "r")
    fixed.numerics = "fixed"
    for name in ("cpu", "lava"):
        with pytest.raises(BackendError, match="'l0' is stochastic"):
            get_backend(name).check(fixed)


# --------------------------------------------------------------------------- example
def test_example_runs_and_backends_agree(tmp_path, capsys):
    out = tmp_path / "stochastic"
    assert main(["compile", str(EXAMPLES / "stochastic.yaml"), "--profile", "cpu",
                 "-o", str(out)]) == 0
    assert main(["simulate", str(out), "--backend", "cpu", "--steps", "100",
                 "-o", str(tmp_path / "cpu.npz")]) == 0
    capsys.readouterr()
    assert main(["compare", str(out), "--backends", "cpu,brian2", "--steps", "100"]) == 0
    assert "cpu vs brian2: identical" in capsys.readouterr().out
    spikes = np.load(tmp_path / "cpu.npz")["noisy.spikes"]
    assert 0 < spikes.mean() < 0.5


# --------------------------------------------------------------------------- cpu learner
SAL_NET = """
neurodeploy: 1
name: salstoch
seed: 5
populations:
  inp: {kind: spike_source, size: 8}
  h: {kind: stochastic, size: 24, params: {tau_syn: 2.0, tau_mem: 8.0, v_th: 1.0, beta: 0.2}}
  out: {kind: lif, size: 6, params: {tau_syn: 2.0, tau_mem: 4.0, v_th: 1.0}}
projections:
  in_h: {pre: inp, post: h, weights: {init: normal, std: 0.3}}
  h_out: {pre: h, post: out, weights: {init: normal, std: 0.15}}
plasticity:
  learn: {rule: sal, projections: [in_h, h_out], sal_rate: 0.006, align_steps: 2000}
task: {input: inp, output: out, sample_steps: 20}
"""


def test_cpu_learner_runs_sal_alignment_through_stochastic_neurons(tmp_path):
    """SAL's alignment phase on a stochastic hidden layer: the feedback learns, the hidden
    layer fires, and the result is a function of (seed, chip) alone."""
    from neurodeploy.compilers.cpu.learner import CpuLearner
    from neurodeploy.learning.phases import align_phase
    plan = _compile(tmp_path, SAL_NET, "sal")

    def phase(chip: int) -> tuple[np.ndarray, int]:
        learner = CpuLearner(plan, "out", noise_chips=[chip])
        w0 = learner.weights.copy()
        align_phase(learner, plan, plan.plasticity["learn"], [1, 0])
        lo = learner.layout.neuron0["h"]
        assert not np.array_equal(learner.weights, w0)
        return learner.weights.copy(), int(learner.last_totals[0, lo:lo + 24].sum())

    w, fired = phase(0)
    assert fired > 100
    np.testing.assert_array_equal(w, phase(0)[0])
    assert not np.array_equal(w, phase(1)[0])


@pytest.mark.parametrize("backend", ["brian2", "lava"])
def test_learners_run_sal_alignment_through_stochastic_neurons_as_cpu(tmp_path, backend):
    """SAL's alignment phase on a stochastic hidden layer, twice in a row (the second phase
    draws the steps after the first): the Brian2 and Lava learners read the cpu learner's
    uniforms and give its spike counts, and weights within 1e-12."""
    from neurodeploy.learning.learners import get_learner
    from neurodeploy.learning.phases import align_phase
    plan = _compile(tmp_path, SAL_NET.replace("align_steps: 2000", "align_steps: 150"), "sal")
    out = []
    for name in ("cpu", backend):
        learner = get_learner(name, plan, "out")
        totals = []
        for k in range(2):
            align_phase(learner, plan, plan.plasticity["learn"], [1, k])
            totals.append(learner.last_totals.copy())
        out.append((totals, learner.weights.copy()))
    for a, b in zip(out[0][0], out[1][0]):
        np.testing.assert_array_equal(a, b)
    assert out[0][0][0].sum() > 0
    np.testing.assert_allclose(out[1][1], out[0][1], rtol=0, atol=1e-12)
