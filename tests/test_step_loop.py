"""The one cpu step loop and the neuron registry it dispatches through.

The loop is checked against the NumPy reference (an independent transcription of Lava's
models), runs continued with their state equal one long run (frozen, with temporal noise,
single and batched), and a neuron kind added as one module plus a registry entry is
dispatched to by the generated step without touching the loop.
"""
from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from neurodeploy.compiling import compile_network
from neurodeploy.compilers import load_plan, make_inputs
from neurodeploy.compilers.cpu import run_arrays
from neurodeploy.compilers.cpu.learn_layout import Layout
from neurodeploy.compilers.cpu.run_arrays import Recorder
from neurodeploy.compilers.cpu.reference import simulate
from neurodeploy.compilers.cpu.step_loop import run_instance
from neurodeploy.ir import parse_network
from neurodeploy.neurons import CODES, KINDS, FixedConstants, get, lif
from neurodeploy.profiles import load_profile

from .netgen import compile_random, random_inputs

NOISY = """
neurodeploy: 1
name: carry-noise
seed: 11
populations:
  src: {kind: spike_source, size: 10}
  hid: {kind: lif, size: 24, params: {tau_syn: 4.0, tau_mem: 12.0, v_th: 1.0, bias: 0.03}}
  out: {kind: lif, size: 6, params: {tau_syn: 3.0, tau_mem: 9.0, v_th: 1.0}}
projections:
  a: {pre: src, post: hid, connectivity: {sparse: 0.6}, weights: {init: uniform, low: 0.0, high: 0.5}}
  b: {pre: hid, post: out, weights: {init: normal, mean: 0.1, std: 0.2}, delay: 1}
  r: {pre: out, post: hid, weights: {init: normal, mean: 0.0, std: 0.2}, delay: 2}
noise: {membrane: {sigma: 0.1}, spike_drop: {p: 0.2}}
monitors: [{population: hid, var: spikes}, {population: out, var: v}]
run: {steps: 100}
"""


def _recorder(lay: Layout, steps: int, batch: int) -> Recorder:
    return run_arrays.recorder(lay, batch, steps, spikes=np.arange(lay.n_src + lay.n),
                               v=np.arange(lay.n), u=np.arange(lay.n))


@pytest.mark.parametrize("seed", range(6))
def test_step_loop_equals_the_numpy_reference(tmp_path: Path, seed: int):
    """Random networks with delays: bit for bit in fixed point, to rounding in float."""
    for profile in ("loihi2", "cpu"):
        plan = load_plan(compile_random(seed, tmp_path / profile, profile=profile))
        steps = 60
        inputs = make_inputs(plan, steps, random_inputs(plan, steps, seed))
        ref = simulate(plan, inputs, steps)
        lay = Layout(plan)
        rec = _recorder(lay, steps, 1)
        run_instance(0, 0, steps, lay.source_block(inputs, steps), lay.net, lay.rules,
                     lay.new_state(1), run_arrays.noise(lay), rec, False, 0)
        checked = 0
        for key, arr in ref.items():
            pop, var = key.split(".")
            if pop not in lay.neuron0:
                continue
            o, size = lay.neuron0[pop], plan.populations[pop].size
            e = lay.emitter0[pop]
            mine = {"spikes": rec.spikes[0, :, e:e + size], "v": rec.v[0, :, o:o + size],
                    "u": rec.u[0, :, o:o + size]}[var]
            if plan.fixed or var == "spikes":
                np.testing.assert_array_equal(mine.astype(arr.dtype), arr, err_msg=key)
            else:
                np.testing.assert_allclose(mine, arr, rtol=1e-9, atol=1e-12, err_msg=key)
            checked += 1
        assert checked > 0


@pytest.mark.parametrize("profile", ["loihi2", "cpu"])
@pytest.mark.parametrize("batch", [1, 3])
def test_noisy_runs_continued_with_their_state_equal_one_long_run(tmp_path: Path, profile: str,
                                                                   batch: int):
    """1000 steps equal 2 x 500 with the state carried, bit for bit, with membrane noise
    and spike drop drawn per (chip, neuron, global step); each instance its own chip."""
    net = parse_network(NOISY, tmp_path / "net.yaml")
    plan = load_plan(compile_network(net, load_profile(profile), tmp_path / "b").out)
    lay = Layout(plan)
    steps = 1000
    rng = np.random.default_rng(3)
    src = lay.source_block({"src": (rng.random((batch, steps, 10)) < 0.3).astype(np.uint8)},
                           steps)
    noise = run_arrays.noise(lay, np.arange(batch) + 4)
    assert noise.mem and noise.drop
    one, two = lay.new_state(batch), lay.new_state(batch)
    r1, r2a, r2b = (_recorder(lay, s, batch) for s in (steps, 500, 500))
    for b in range(batch):
        run_instance(b, 0, steps, src, lay.net, lay.rules, one, noise, r1, False, 0)
        run_instance(b, 0, 500, np.ascontiguousarray(src[:, :500]), lay.net, lay.rules, two,
                     noise, r2a, False, 0)
        run_instance(b, 500, 500, np.ascontiguousarray(src[:, 500:]), lay.net, lay.rules, two,
                     noise, r2b, False, 0)
    for a, b in zip(one, two):
        np.testing.assert_array_equal(a, b)
    for field in ("spikes", "v", "u"):
        joined = np.concatenate([getattr(r2a, field), getattr(r2b, field)], axis=1)
        np.testing.assert_array_equal(getattr(r1, field), joined, err_msg=field)
    assert r1.spikes.sum() > 0
    if batch > 1:      # different chips draw different noise
        assert not np.array_equal(r1.v[0], r1.v[1])


def test_registry_lists_each_kind_once_with_its_translations():
    assert set(KINDS) >= {"lif", "graded"}
    assert len(CODES) == len(KINDS)
    for kind in KINDS.values():
        assert callable(kind.cpu_params) and callable(kind.reference_step)
        assert kind.module.startswith("neurodeploy.neurons.")
    with pytest.raises(KeyError, match="known: lif, graded"):
        get("izhikevich")


def test_lif_step_reads_its_constants_from_the_neuron_model():
    """The jitted LIF step equals the NumPy reference for non-Loihi widths too."""
    from numba import njit

    from neurodeploy.neurons.cpu_dispatch import neuron_step

    @njit
    def run(a, u, v, du, dv, vth, bias, fx):
        out = np.zeros_like(u)
        for i in range(u.shape[0]):
            u[i], v[i], _, o, _ = neuron_step(0, 0, a[i], 0, 0.0, u[i], v[i], 0, du, dv, vth,
                                              bias, 0, 0, fx)
            out[i] = o
        return out

    rng = np.random.default_rng(0)
    for fc in (FixedConstants(), FixedConstants(decay_bits=10, state_bits=20,
                                                activation_shift=4, threshold_shift=4)):
        u = rng.integers(-(1 << 18), 1 << 18, 500).astype(np.int32)
        v = rng.integers(-(1 << 18), 1 << 18, 500).astype(np.int32)
        a = rng.integers(-3000, 3000, 500).astype(np.int64)
        ru, rv = u.copy(), v.copy()
        spikes = lif.reference_fixed_step(ru, rv, a, 300, 200, 900, 40, 2, fc)
        p = lif.cpu_params(type("P", (), {"du": 300, "dv": 200, "vth": 900, "bias_mant": 40,
                                          "bias_exp": 2})(), True, fc)
        fired = run(a, u, v, np.int64(p["p0"]), np.int64(p["p1"]), np.int64(p["p2"]),
                    np.int64(p["p3"]), tuple(int(x) for x in fc.cpu_tuple()))
        np.testing.assert_array_equal(u, ru)
        np.testing.assert_array_equal(v, rv)
        np.testing.assert_array_equal(fired.astype(bool), spikes)
        assert 0 < spikes.sum() < 500


NEW_KIND = '''
"""A test kind: integrate without leak, emit the count when it reaches p2."""
from numba.extending import overload

from neurodeploy.jit import CACHE
from neurodeploy.neurons.kind import NeuronKind


def cpu_step(t, a, z, r, u, v, aux, p0, p1, p2, p3, p4, pi, fx):
    """Counter step."""


@overload(cpu_step, inline="always", jit_options={"cache": CACHE})
def _impl(t, a, z, r, u, v, aux, p0, p1, p2, p3, p4, pi, fx):
    def step(t, a, z, r, u, v, aux, p0, p1, p2, p3, p4, pi, fx):
        y = v + a
        f = y >= p2
        return u, (y - p2 if f else y), aux, (y if f else 0 * y), f
    return step


KIND = NeuronKind(name="counter", code=7, module=__name__, spiking=True, state=("v",),
                  cpu_params=lambda *a, **k: {}, reference_step=lambda *a: None)
'''

USE = '''
import sys
sys.path.insert(0, sys.argv[1])
import numpy as np
import counter_kind
import neurodeploy.neurons as N
N.KINDS["counter"] = counter_kind.KIND          # the registry line
N.CODES[7] = counter_kind.KIND
from neurodeploy.neurons import cpu_dispatch
assert "step_7" in cpu_dispatch.source()
step = cpu_dispatch.neuron_step
v, outs = 0.0, []
for a in (2.0, 2.0, 2.0, 1.0):
    u, v, aux, out, f = step(7, 0, a, 0.0, 0.0, 0.0, v, 0, 0.0, 0.0, 5.0, 0.0, 0.0, 0,
                             (0, 0, 0, 0, 0, 0))
    outs.append(out)
print(outs, v)
'''


def test_a_new_kind_is_one_module_and_a_registry_line(tmp_path: Path):
    """The generated dispatcher picks up a kind registered from outside the package."""
    (tmp_path / "counter_kind.py").write_text(textwrap.dedent(NEW_KIND))
    (tmp_path / "use.py").write_text(USE)
    run = subprocess.run([sys.executable, str(tmp_path / "use.py"), str(tmp_path)],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["[0.0,", "0.0,", "6.0,", "0.0]", "2.0"]


@pytest.mark.parametrize("seed", range(4))
def test_block_loop_equals_one_instance_at_a_time(tmp_path: Path, seed: int, monkeypatch):
    """A batch stepped in blocks (shared synapse reads) is bit for bit the same batch run one
    instance at a time: per-instance weights, thresholds and noise chips, with delays."""
    from neurodeploy.compilers import get_backend
    from neurodeploy.compilers.cpu import backend as cpu_backend
    for profile in ("loihi2", "cpu"):
        plan = load_plan(compile_random(seed, tmp_path / profile, profile=profile))
        steps, batch = 60, 5
        inputs = make_inputs(plan, steps, random_inputs(plan, steps, seed))
        rng = np.random.default_rng(seed)
        name, proj = next(iter(plan.projections.items()))
        w = np.asarray(proj.weights)
        ws = np.stack([w if b == 0 else (w * rng.uniform(0.5, 1.5, w.shape)).astype(w.dtype)
                       for b in range(batch)])
        over = {"projections": {name: {"weights": ws}}}
        runs = {}
        for block in (1, 16):
            monkeypatch.setattr(cpu_backend, "BLOCK", block)
            runs[block] = get_backend("cpu", threads=1).run_batch(
                plan, inputs, steps, batch, overrides=over, noise_chips=list(range(batch))).data
        assert runs[1].keys() == runs[16].keys()
        for key in runs[1]:
            np.testing.assert_array_equal(runs[1][key], runs[16][key], err_msg=f"{profile} {key}")
        # the instances differ (their own weights and noise), so a mix-up would show
        assert any(not np.array_equal(runs[1][k][0], runs[1][k][b])
                   for k in runs[1] for b in range(1, batch))


def test_block_loop_draws_each_instance_its_own_noise(tmp_path: Path, monkeypatch):
    """With membrane noise and spike drop, blocks and single instances agree bit for bit."""
    from neurodeploy.compilers import get_backend
    from neurodeploy.compilers.cpu import backend as cpu_backend
    net = parse_network(NOISY, tmp_path / "net.yaml")
    for profile in ("loihi2", "cpu"):
        plan = load_plan(compile_network(net, load_profile(profile), tmp_path / profile).out)
        rng = np.random.default_rng(2)
        inputs = make_inputs(plan, 200, {"src.spikes": (rng.random((200, 10)) < 0.3)
                                         .astype(np.uint8)})
        runs = {}
        for block in (1, 16):
            monkeypatch.setattr(cpu_backend, "BLOCK", block)
            runs[block] = get_backend("cpu", threads=1).run_batch(
                plan, inputs, 200, 4, noise_chips=[3, 1, 4, 1]).data
        for key in runs[1]:
            np.testing.assert_array_equal(runs[1][key], runs[16][key], err_msg=f"{profile} {key}")
        v = runs[16]["out.v"]
        np.testing.assert_array_equal(v[1], v[3])            # chip 1 twice: the same run
        assert not np.array_equal(v[0], v[1])
