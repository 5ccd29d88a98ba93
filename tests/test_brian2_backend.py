"""The Brian2 backend against the float reference (``compilers.cpu.kernels``, Lava's float models).

The reference below is a plain step loop over ``kernels.DenseState`` / ``lif_float_step`` (and
Lava's ``PyLifRefractoryModelFloat`` arithmetic for refractory populations), following the
timing contract of ``compilers/plan.py``: every projection delivers, neurons update, projections
take the new spikes.

Tolerance: spikes must be identical and v/u agree within ``ATOL = 1e-9`` (absolute).  Brian2
performs the same float64 operations in the same order for u and v; the only difference is
the order in which simultaneous synaptic inputs are summed (synapse by synapse in Brian2, a
matrix-vector product per projection and delay slot in the reference), i.e. float64 rounding
of the input (observed max |dv| ~1e-14).  A spike could only differ if v landed within that
rounding of vth; it does not happen on these networks and the test requires identical spikes.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from netgen import compile_random, random_inputs  # noqa: E402

from neurodeploy.compiling import compile_network  # noqa: E402
from neurodeploy.compilers import get_backend, load_plan, make_inputs  # noqa: E402
from neurodeploy.compilers.brian2.backend import FIXED_REASON, Brian2Backend  # noqa: E402
from neurodeploy.compilers.cpu import kernels as K  # noqa: E402
from neurodeploy.errors import BackendError  # noqa: E402
from neurodeploy.ir import parse_network  # noqa: E402
from neurodeploy.profiles import load_profile  # noqa: E402

ATOL = 1e-9
SEEDS = list(range(18))
STEPS = 150


# --------------------------------------------------------------------------- reference
def reference(plan, inputs: dict[str, np.ndarray], steps: int) -> dict[str, np.ndarray]:
    """Kernel-based float step loop (Lava PyLifModelFloat / PyLifRefractoryModelFloat)."""
    pops = plan.populations
    lifs = [n for n, p in pops.items() if p.kind == "lif"]
    u = {n: np.zeros((1, pops[n].size)) for n in lifs}
    v = {n: np.zeros((1, pops[n].size)) for n in lifs}
    ref_end = {n: np.zeros(pops[n].size, dtype=np.int64) for n in lifs}
    syn = {}
    for name, pr in plan.projections.items():
        d = pr.dense_delays()
        syn[name] = K.DenseState(pr.dense_weights(), 1, fixed=False,
                                 delays=d if d.max() > 0 else None, max_delay=int(d.max()))
    out = {f"{p}.{var}": np.zeros((steps, pops[p].size),
                                  dtype=np.uint8 if var == "spikes" else np.float64)
           for p, var in plan.monitors}
    for t in range(steps):
        a = {n: np.zeros((1, pops[n].size)) for n in lifs}
        for name, pr in plan.projections.items():
            a[pr.post] += syn[name].deliver()
        s = {n: inputs[n][t][None] != 0 for n in pops if n not in lifs}
        for n in lifs:
            p = pops[n]
            if p.refractory == 0:
                s[n] = K.lif_float_step(u[n], v[n], a[n], p.du, p.dv, p.vth, p.bias_mant)
            else:  # PyLifRefractoryModelFloat, time_step = t + 1
                uu, vv = u[n][0], v[n][0]
                uu[:] = uu * (1 - p.du)
                uu[:] += a[n][0]
                free = ref_end[n] < t + 1
                vv[free] = vv[free] * (1 - p.dv) + (uu[free] + p.bias_mant[free])
                spk = vv > p.vth
                ref_end[n][spk] = t + 1 + p.refractory
                vv[spk] = 0
                s[n] = spk[None]
        for name, pr in plan.projections.items():
            syn[name].accumulate(s[pr.pre])
        for key in out:
            pop, var = key.split(".")
            out[key][t] = {"spikes": s[pop][0] if pop in s else None,
                           "v": v.get(pop, [None])[0], "u": u.get(pop, [None])[0]}[var]
    return out


def assert_matches(res, ref, label: str) -> float:
    """Identical spikes, v/u within ATOL; returns the max abs state difference."""
    worst = 0.0
    assert set(res.data) == set(ref), label
    for key, want in ref.items():
        got = res[key]
        assert got.shape == want.shape, f"{label} {key}: {got.shape} vs {want.shape}"
        if key.endswith(".spikes"):
            assert got.dtype == np.uint8
            bad = np.argwhere(got != want)
            assert bad.size == 0, f"{label} {key}: first spike mismatch at (step, neuron) {bad[0]}"
        else:
            assert got.dtype == np.float64
            diff = np.abs(got - want)
            worst = max(worst, float(diff.max()))
            assert diff.max() <= ATOL, (f"{label} {key}: max |diff| {diff.max():.3g} at "
                                        f"{np.unravel_index(diff.argmax(), diff.shape)}")
    return worst


def _compile_yaml(text: str, out: Path, profile: str = "cpu") -> Path:
    net = parse_network(text, name="net.yaml")
    return compile_network(net, load_profile(profile), out, force=True).out


@pytest.fixture(scope="module")
def backend() -> Brian2Backend:
    b = get_backend("brian2")
    assert isinstance(b, Brian2Backend) and b.target == "numpy"
    return b


# --------------------------------------------------------------------------- agreement
def test_random_float_builds_match_reference(tmp_path, backend):
    worst, total_spikes = 0.0, 0
    for seed in SEEDS:
        plan = load_plan(compile_random(seed, tmp_path / f"n{seed}", "cpu"))
        assert plan.numerics == "float"
        inputs = make_inputs(plan, STEPS, random_inputs(plan, STEPS, seed))
        res = backend.run(plan, inputs, STEPS)
        ref = reference(plan, inputs, STEPS)
        worst = max(worst, assert_matches(res, ref, f"seed {seed}"))
        total_spikes += sum(int(a.sum()) for k, a in ref.items() if k.endswith(".spikes"))
        assert res.meta["backend"] == "brian2" and res.meta["target"] == "numpy"
        assert res.meta["numerics"] == "float" and res.meta["steps"] == STEPS
        assert {"build", "run"} <= set(res.meta["timings"])
    assert total_spikes > 1000          # the comparison is not vacuous
    print(f"\n{len(SEEDS)} builds, {total_spikes} spikes, max |dv|,|du| = {worst:.3g}")


REFRACTORY_NET = """
neurodeploy: 1
name: refr
seed: 5
populations:
  src: {{kind: spike_source, size: 30}}
  a: {{kind: lif, size: 20, params: {{tau_syn: 3.0, tau_mem: 10.0, v_th: 0.8, bias: 0.05, refractory: {r}}}}}
  b: {{kind: lif, size: 12, params: {{tau_syn: 5.0, tau_mem: 20.0, v_th: 0.5, refractory: {r2}}}}}
projections:
  p: {{pre: src, post: a, connectivity: {{sparse: 0.5}}, weights: {{init: uniform, low: 0.0, high: 0.6}}}}
  q: {{pre: a, post: b, connectivity: dense, weights: {{init: normal, mean: 0.2, std: 0.4}}, delay: {{low: 0, high: 3}}}}
  r: {{pre: b, post: a, connectivity: {{sparse: 0.3}}, weights: {{init: uniform, low: -0.5, high: 0.0}}, delay: 2}}
monitors: [{{population: a, var: spikes}}, {{population: a, var: v}}, {{population: a, var: u}},
           {{population: b, var: spikes}}, {{population: b, var: v}}, {{population: src, var: spikes}}]
"""


@pytest.mark.parametrize("r,r2", [(0, 0), (1, 3), (4, 0)])
def test_refractory_and_u_monitors(tmp_path, backend, r, r2):
    plan = load_plan(_compile_yaml(REFRACTORY_NET.format(r=r, r2=r2), tmp_path / "b"))
    assert plan.populations["a"].refractory == r
    steps = 200
    inputs = make_inputs(plan, steps, random_inputs(plan, steps, 1, rate=0.3))
    res = backend.run(plan, inputs, steps)
    ref = reference(plan, inputs, steps)
    assert_matches(res, ref, f"refractory {r},{r2}")
    assert ref["a.spikes"].sum() > 50 and ref["b.spikes"].sum() > 10
    np.testing.assert_array_equal(res["src.spikes"], inputs["src"])
    if r:   # no neuron of 'a' spikes again within r steps of a spike
        s = res["a.spikes"]
        for lag in range(1, r + 1):
            assert not np.any(s[lag:] & s[:-lag])


@pytest.mark.parametrize("dt", [1.0, 0.1, 0.25])
def test_timing_contract_by_hand(tmp_path, backend, dt):
    """A source spike at step t reaches u at step t + 1 + delay; monitors see post-reset v."""
    text = f"""
neurodeploy: 1
name: hand
dt: {dt}
populations:
  src: {{kind: spike_source, size: 1}}
  n: {{kind: lif, size: 2, params: {{tau_syn: 1.0e9, tau_mem: 1.0e9, v_th: 1.5}}}}
projections:
  p0: {{pre: src, post: n, connectivity: dense, weights: {{init: constant, value: 1.0}}, delay: 2}}
monitors: [{{population: n, var: spikes}}, {{population: n, var: v}}, {{population: n, var: u}}]
"""
    plan = load_plan(_compile_yaml(text, tmp_path / "h"))
    steps = 10
    src = np.zeros((steps, 1), dtype=np.uint8)
    src[0] = 1
    res = backend.run(plan, {"src": src}, steps)
    u = res["n.u"][:, 0]
    assert np.all(u[:3] == 0) and u[3] == pytest.approx(1.0)    # 0 + 1 + delay 2
    # u stays 1 (no decay); v: 1 at step 3, 2 at step 4 (> 1.5: spike, reset to 0 before
    # monitoring), 1 at step 5, 2 at step 6 (spike), ...
    assert res["n.v"][3, 0] == pytest.approx(1.0)
    assert res["n.spikes"][:, 0].tolist() == [0, 0, 0, 0, 1, 0, 1, 0, 1, 0]
    assert res["n.v"][4, 0] == 0.0 and res["n.v"][5, 0] == pytest.approx(1.0)
    assert plan.dt == dt
    assert_matches(res, reference(plan, {"src": src}, steps), f"dt {dt}")


# --------------------------------------------------------------------------- isolation
def test_repeated_runs_do_not_interfere(tmp_path, backend):
    import brian2 as b2
    target_before = b2.prefs["codegen.target"]
    dt_before = b2.defaultclock.dt
    plans, inputs = [], []
    for seed in (101, 102):
        plan = load_plan(compile_random(seed, tmp_path / f"n{seed}", "cpu"))
        plans.append(plan)
        inputs.append(make_inputs(plan, 80, random_inputs(plan, 80, seed)))
    a1 = backend.run(plans[0], inputs[0], 80)
    b1 = backend.run(plans[1], inputs[1], 80)
    a2 = backend.run(plans[0], inputs[0], 80)
    assert set(a1.data) == set(a2.data)
    for key in a1.data:
        np.testing.assert_array_equal(a1[key], a2[key], err_msg=key)   # bit-identical
    assert_matches(b1, reference(plans[1], inputs[1], 80), "B between two A runs")
    assert b2.prefs["codegen.target"] == target_before
    assert b2.defaultclock.dt == dt_before
    # a second backend instance in the same process gives the same result too
    a3 = Brian2Backend(target="numpy").run(plans[0], inputs[0], 80)
    for key in a1.data:
        np.testing.assert_array_equal(a1[key], a3[key], err_msg=key)


# --------------------------------------------------------------------------- refusals
def test_refuses_fixed_build(tmp_path, backend):
    plan = load_plan(compile_random(4, tmp_path / "fixed", "loihi2"))
    assert plan.fixed
    assert backend.refuse_reason(plan) == FIXED_REASON
    assert FIXED_REASON == ("fixed-point builds run on cpu or lava; Brian2 is the float "
                            "reference — compile with --profile cpu")
    with pytest.raises(BackendError, match="compile with --profile cpu"):
        backend.check(plan)
    with pytest.raises(BackendError, match="Brian2 is the float reference"):
        backend.run(plan, make_inputs(plan, 10, random_inputs(plan, 10, 4)), 10)


def test_bad_target_and_inputs(tmp_path):
    with pytest.raises(BackendError, match="numpy, cython"):
        Brian2Backend(target="cpp_standalone")
    plan = load_plan(compile_random(7, tmp_path / "n", "cpu"))
    with pytest.raises(BackendError, match="no input spikes"):
        Brian2Backend().run(plan, {}, 10)
