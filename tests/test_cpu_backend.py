"""The cpu backend (numba engine) against the NumPy reference loop built from kernels.py.

Fixed builds must agree bit for bit (spikes, v and u on every step and neuron); float builds
to rounding (synaptic input is summed in another order than the reference's matrix
product). Batches with per-instance overrides must equal single runs of plans carrying the
same parameters.
"""
from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest

from neurodeploy.compilers import get_backend
from neurodeploy.compilers.cpu.backend import CpuBackend
from neurodeploy.compilers.cpu.reference import simulate
from neurodeploy.compilers.plan import (PopulationPlan, ProjectionPlan, SimPlan, load_plan,
                                        make_inputs)
from neurodeploy.errors import BackendError

from .netgen import compile_random, random_inputs

STEPS = 60
FIXED_CASES = [(seed, prof) for seed in range(20) for prof in ("loihi2", "stress")]
FLOAT_SEEDS = list(range(100, 114))
ALL_VARS = ("spikes", "v", "u")


@pytest.fixture(scope="module")
def backend() -> CpuBackend:
    return CpuBackend()


def _monitor_all(plan: SimPlan) -> SimPlan:
    plan.monitors = [(n, v) for n, p in plan.populations.items() if p.kind == "lif"
                     for v in ALL_VARS]
    plan.monitors += [(n, "spikes") for n in plan.sources()]
    return plan


@pytest.fixture(scope="module")
def fixed_plans(tmp_path_factory) -> list[SimPlan]:
    root = tmp_path_factory.mktemp("cpu_fixed")
    plans = []
    for seed, prof in FIXED_CASES:
        try:
            plans.append(_monitor_all(load_plan(compile_random(seed, root / f"{prof}{seed}", prof))))
        except Exception as exc:  # a random network may not fit the profile
            if type(exc).__name__ != "CompileError":
                raise
    # compiled builds rarely get weight_exp < 0 (floor shift of the summed activation):
    # add variants with random exponents so both shift directions are well covered
    rng = np.random.default_rng(11)
    for plan in plans[:12]:
        var = copy.deepcopy(plan)
        var.name += "-exp"
        for proj in var.projections.values():
            proj.weight_exp = int(rng.integers(-7, 4))
        plans.append(var)
    return plans


@pytest.fixture(scope="module")
def float_plans(tmp_path_factory) -> list[SimPlan]:
    root = tmp_path_factory.mktemp("cpu_float")
    return [_monitor_all(load_plan(compile_random(seed, root / f"cpu{seed}", "cpu")))
            for seed in FLOAT_SEEDS]


def _inputs(plan: SimPlan, seed: int, steps: int = STEPS) -> dict[str, np.ndarray]:
    return make_inputs(plan, steps, random_inputs(plan, steps, seed))


def _close(ref: np.ndarray, got: np.ndarray) -> bool:
    """Equal to rounding: |diff| <= 1e-12 relative to the array's magnitude."""
    scale = max(1.0, float(np.max(np.abs(ref)))) if ref.size else 1.0
    return bool(np.all(np.abs(ref - got) <= 1e-12 * scale))


# --------------------------------------------------------------------------- agreement
def test_fixed_builds_bit_exact_with_reference(backend, fixed_plans):
    assert len([p for p in fixed_plans if not p.name.endswith("-exp")]) >= 30
    spikes = 0
    features = {"delays": 0, "recurrent": 0, "poisson": 0, "exp<0": 0, "exp>0": 0,
                "stress": 0, "v_clip": 0, "u_beyond_24bit": 0}
    for i, plan in enumerate(fixed_plans):
        inputs = _inputs(plan, i)
        ref = simulate(plan, inputs, STEPS)
        got = backend.run(plan, inputs, STEPS)
        assert set(got.data) == set(ref)
        for key, want in ref.items():
            have = got[key]
            assert have.shape == want.shape, key
            assert have.dtype == (np.uint8 if key.endswith(".spikes") else np.int32), key
            mism = np.argwhere(have != want)
            assert mism.size == 0, f"{plan.name} ({plan.path}) {key}: first mismatch at " \
                                   f"step/neuron {mism[0].tolist()}"
            if key.endswith(".spikes") and key.split(".")[0] not in plan.sources():
                spikes += int(have.sum())
            if key.endswith(".v") and np.any(np.abs(have) == 2 ** 23 - 1):
                features["v_clip"] += 1
            if key.endswith(".u") and np.any(np.abs(have.astype(np.int64)) >= 2 ** 23):
                features["u_beyond_24bit"] += 1
        projs = plan.projections.values()
        features["delays"] += any(np.max(p.delays) > 0 for p in projs)
        features["recurrent"] += any(p.pre == p.post for p in projs)
        features["poisson"] += any(p.kind == "poisson" for p in plan.populations.values())
        features["exp<0"] += any(p.weight_exp < 0 for p in projs)
        features["exp>0"] += any(p.weight_exp > 0 for p in projs)
        features["stress"] += "stress" in plan.path
    assert spikes > 1000, spikes
    # the suite exercises what it claims to (a change in netgen cannot silently drop it)
    for name in ("delays", "recurrent", "poisson", "exp<0", "exp>0", "stress", "v_clip"):
        assert features[name] >= 3, features


def test_float_builds_match_reference(backend, float_plans):
    assert len(float_plans) >= 10
    spikes = 0
    for i, plan in enumerate(float_plans):
        inputs = _inputs(plan, i)
        ref = simulate(plan, inputs, STEPS)
        got = backend.run(plan, inputs, STEPS)
        for key, want in ref.items():
            have = got[key]
            if key.endswith(".spikes"):
                assert have.dtype == np.uint8
                assert np.array_equal(have, want), f"{plan.path} {key}"
                spikes += int(have.sum()) if key.split(".")[0] not in plan.sources() else 0
            else:
                assert have.dtype == np.float64
                assert _close(want, have), f"{plan.path} {key}: max diff " \
                                           f"{np.max(np.abs(want - have))}"
    assert spikes > 500, spikes


def _refractory_plan(refractory: int) -> SimPlan:
    rng = np.random.default_rng(5)
    n_in, n = 12, 8
    pops = {"inp": PopulationPlan("inp", "spike_source", n_in),
            "out": PopulationPlan("out", "lif", n, du=0.2, dv=0.1, vth=np.full(n, 1.0),
                                  bias_mant=rng.normal(0, 0.1, n), refractory=refractory)}
    w = rng.normal(0.3, 0.5, (n, n_in))
    wr = rng.normal(-0.2, 0.3, (n, n))
    projs = {"p": ProjectionPlan("p", "inp", "out", "dense", (n, n_in), w),
             "r": ProjectionPlan("r", "out", "out", "dense", (n, n), wr, delays=2, max_delay=2)}
    return SimPlan("refr", "<memory>", "float", 1.0, 0, 40, pops, projs,
                   [("out", "spikes"), ("out", "v"), ("out", "u")])


@pytest.mark.parametrize("refractory", [0, 1, 3])
def test_float_refractory_matches_lava_refractory_model(backend, refractory):
    """PyLifRefractoryModelFloat: v frozen at 0 for `refractory` steps after a spike."""
    plan = _refractory_plan(refractory)
    data = (np.random.default_rng(1).random((40, 12)) < 0.4).astype(np.uint8)
    got = backend.run(plan, {"inp": data}, 40)
    ref = simulate(plan, {"inp": data}, 40)
    assert np.array_equal(got["out.spikes"], ref["out.spikes"])
    assert _close(ref["out.v"], got["out.v"]) and _close(ref["out.u"], got["out.u"])
    s = got["out.spikes"].astype(bool)
    assert s.sum() > 10
    if refractory:
        # no neuron spikes again within `refractory` steps, and v stays 0 meanwhile
        for t, i in np.argwhere(s):
            window = slice(t + 1, min(t + 1 + refractory, 40))
            assert not s[window, i].any()
            assert np.all(got["out.v"][window, i] == 0.0)
    free = backend.run(_refractory_plan(0), {"inp": data}, 40)
    assert (refractory == 0) == np.array_equal(free["out.spikes"], got["out.spikes"])


# --------------------------------------------------------------------------- batches
def _with_params(plan: SimPlan, b: int, ov: dict) -> SimPlan:
    """A copy of ``plan`` with instance ``b`` of the overrides written into it."""
    p = copy.deepcopy(plan)
    for name, fields in ov.get("populations", {}).items():
        pop = p.populations[name]
        for key, val in fields.items():
            val = np.asarray(val)[b]
            if key in ("vth", "bias_mant"):
                setattr(pop, key, np.broadcast_to(val, (pop.size,)).astype(getattr(pop, key).dtype))
            else:
                setattr(pop, key, val.item())
    for name, fields in ov.get("projections", {}).items():
        p.projections[name].weights = np.asarray(fields["weights"])[b]
    return p


def _random_overrides(plan: SimPlan, B: int, rng) -> dict:
    fixed = plan.fixed
    pops = {}
    for name, pop in plan.populations.items():
        if pop.kind != "lif":
            continue
        f = {}
        scale = rng.uniform(0.7, 1.3, (B, pop.size) if rng.random() < 0.5 else (B,))
        vth = (pop.vth if scale.ndim == 2 else pop.vth[0]) * scale
        f["vth"] = np.maximum(np.rint(vth), 1).astype(np.int64) if fixed else vth
        if fixed:
            f["du"] = rng.integers(0, 4096, B)
            f["dv"] = rng.integers(0, 4096, B)
            f["bias_mant"] = rng.integers(-3000, 3000, (B, pop.size))
        else:
            f["du"] = rng.uniform(0.02, 0.9, B)
            f["dv"] = rng.uniform(0.02, 0.9, B)
            f["bias_mant"] = rng.normal(0, 0.2, (B, pop.size))
        pops[name] = f
    projs = {}
    for name, proj in plan.projections.items():
        w = np.broadcast_to(proj.weights, (B,) + proj.weights.shape)
        if fixed:
            w = w + rng.integers(-20, 21, w.shape)    # also hits Lava's clip/truncation
        else:
            w = w * rng.normal(1, 0.2, w.shape)
        projs[name] = {"weights": w}
    return {"populations": pops, "projections": projs}


@pytest.mark.parametrize("kind", ["fixed", "float"])
def test_batch_with_overrides_equals_single_runs(backend, fixed_plans, float_plans, kind):
    plans = fixed_plans[:6] if kind == "fixed" else float_plans[:4]
    rng = np.random.default_rng(7)
    B = 5
    for i, plan in enumerate(plans):
        ov = _random_overrides(plan, B, rng)
        per_instance = i % 2 == 1
        if per_instance:
            ins = [_inputs(plan, 1000 * i + b) for b in range(B)]
            inputs = {k: np.stack([x[k] for x in ins]) for k in ins[0]}
        else:
            inputs = _inputs(plan, i)
            ins = [inputs] * B
        res = backend.run_batch(plan, inputs, STEPS, B, ov)
        assert res.meta["batch"] == B
        for b in range(B):
            single = backend.run(_with_params(plan, b, ov), ins[b], STEPS)
            for key, arr in single.data.items():
                assert res[key].shape == (B,) + arr.shape
                assert np.array_equal(res[key][b], arr), f"{plan.path} {key} instance {b}"
        # the overrides matter: instances differ from each other
        lif = [k for k in res.data if k.endswith(".v")]
        assert any(not np.array_equal(res[k][0], res[k][1]) for k in lif)


@pytest.mark.parametrize("kind", ["fixed", "float"])
def test_large_batch_all_scatter_paths(backend, fixed_plans, float_plans, kind):
    """B = 24 in few blocks: a presynaptic spike shared by all, many or few instances of a
    block takes different code paths; each must give the single-run result."""
    plans = fixed_plans if kind == "fixed" else float_plans
    plan = max(plans[:12], key=lambda p: sum(pp.size for pp in p.populations.values()))
    B = 24
    rng = np.random.default_rng(5)
    ov = _random_overrides(plan, B, rng)
    del ov["projections"]               # shared weights
    ov2 = _random_overrides(plan, B, rng)   # per-instance weights
    inputs = _inputs(plan, 3)
    for o in (ov, ov2):
        res = backend.run_batch(plan, inputs, STEPS, B, o)
        for b in range(0, B, 5):
            single = backend.run(_with_params(plan, b, o), inputs, STEPS)
            for key, arr in single.data.items():
                assert np.array_equal(res[key][b], arr), f"{key} instance {b}"
    # instances that share all parameters share their spikes: all-instances path
    same = {"populations": {n: {"vth": np.repeat(p.vth[None], B, 0)}
                            for n, p in plan.populations.items() if p.kind == "lif"}}
    res = backend.run_batch(plan, inputs, STEPS, B, same)
    single = backend.run(plan, inputs, STEPS)
    for key, arr in single.data.items():
        assert all(np.array_equal(res[key][b], arr) for b in range(B)), key


def test_batch_of_fixed_build_equals_reference_with_written_params(backend, fixed_plans):
    """Overridden instances are also bit-exact with the NumPy reference."""
    plan = fixed_plans[1]
    ov = _random_overrides(plan, 3, np.random.default_rng(3))
    inputs = _inputs(plan, 5)
    res = backend.run_batch(plan, inputs, STEPS, 3, ov)
    for b in range(3):
        ref = simulate(_with_params(plan, b, ov), inputs, STEPS)
        for key, want in ref.items():
            assert np.array_equal(res[key][b], want), key


def test_run_is_batch_of_one_and_shared_inputs_broadcast(backend, fixed_plans):
    plan = fixed_plans[0]
    inputs = _inputs(plan, 0)
    one = backend.run(plan, inputs, STEPS)
    four = backend.run_batch(plan, inputs, STEPS, 4)
    stacked = backend.run_batch(plan, {k: np.stack([v] * 4) for k, v in inputs.items()},
                                STEPS, 4)
    for key, arr in one.data.items():
        assert four[key].shape == (4,) + arr.shape
        assert all(np.array_equal(four[key][b], arr) for b in range(4))
        assert np.array_equal(stacked[key], four[key])
    for src in plan.sources():   # a source's monitored spikes are its input
        assert np.array_equal(one[f"{src}.spikes"], inputs[src])
    assert one.meta["backend"] == "cpu" and one.meta["numerics"] == "fixed"
    assert one.meta["steps"] == STEPS and one.meta["wall_time_s"] > 0


def test_registry_and_longer_inputs(backend, fixed_plans):
    be = get_backend("cpu")
    assert isinstance(be, CpuBackend) and be.name == "cpu"
    plan = fixed_plans[2]
    long = _inputs(plan, 2, steps=STEPS + 15)   # extra rows are ignored
    short = {k: v[:STEPS] for k, v in long.items()}
    a, b = be.run(plan, long, STEPS), be.run(plan, short, STEPS)
    assert all(np.array_equal(a[k], b[k]) for k in a.data)
    assert all(v.shape[0] == 0 for v in be.run(plan, short, 0).data.values())


# --------------------------------------------------------------------------- refusals
def _src(plan: SimPlan) -> str:
    return next(n for n in plan.sources() if plan.populations[n].kind == "spike_source")


def test_input_validation(backend, fixed_plans):
    plan = fixed_plans[0]
    inputs = _inputs(plan, 0)
    src = _src(plan)
    size = plan.populations[src].size

    def fails(match, **kw):
        args = dict(plan=plan, inputs=inputs, steps=STEPS, batch=2)
        args.update(kw)
        with pytest.raises(BackendError, match=match):
            backend.run_batch(**args)

    fails(f"no input spikes for spike_source population '{src}'",
          inputs={k: v for k, v in inputs.items() if k != src})
    fails(rf"input '{src}' has shape \[{STEPS - 1}, {size}\]",
          inputs={**inputs, src: inputs[src][:-1]})
    fails(rf"input '{src}' has shape \[3, {STEPS}, {size}\]",
          inputs={**inputs, src: np.stack([inputs[src]] * 3)})
    graded = inputs[src].astype(np.int32) * 3
    fails("graded spikes are not supported", inputs={**inputs, src: graded})
    fails("match no source population", inputs={**inputs, "nope": inputs[src]})
    fails("steps must be an integer >= 0", steps=-1)
    fails("batch must be an integer >= 1", batch=0)
    lif = next(n for n, p in plan.populations.items() if p.kind == "lif")
    n = plan.populations[lif].size
    fails(rf"overrides.populations.{lif}.vth has shape \[3\]; expected \[2\] or \[2, {n}\]",
          overrides={"populations": {lif: {"vth": np.ones(3)}}})
    fails(rf"overrides.populations.{lif}.du has shape \[2, {n + 1}\]; expected \[2\] or \[2, {n}\]",
          overrides={"populations": {lif: {"du": np.ones((2, n + 1))}}})
    fails(f"overrides.populations.{lif}.vth must hold integers in a fixed build",
          overrides={"populations": {lif: {"vth": np.full(2, 1.5)}}})
    fails(f"overrides.populations.{lif}.dv outside the 12-bit decay register",
          overrides={"populations": {lif: {"dv": np.array([0, 4096])}}})
    fails(f"overrides.populations.{lif}: unknown fields \\['tau'\\]",
          overrides={"populations": {lif: {"tau": np.ones(2)}}})
    fails("no population 'ghost'", overrides={"populations": {"ghost": {"vth": np.ones(2)}}})
    fails(f"'{src}' is a spike_source population without parameters",
          overrides={"populations": {src: {"vth": np.ones(2)}}})
    proj, pp = next(iter(plan.projections.items()))
    fails(rf"overrides.projections.{proj}.weights has shape \[{', '.join(map(str, pp.weights.shape))}\]",
          overrides={"projections": {proj: {"weights": pp.weights}}})
    fails("overrides has unknown keys", overrides={"neurons": {}})


def test_refusals(backend, fixed_plans):
    plan = fixed_plans[0]
    inputs = _inputs(plan, 0)
    learn = copy.deepcopy(plan)
    learn.plasticity = {"stdp1": {"rule": "stdp"}}
    with pytest.raises(BackendError, match=r"backend 'cpu' refuses .*plasticity.stdp1"):
        backend.run(learn, inputs, STEPS)
    noisy = copy.deepcopy(plan)
    noisy.noise = {"membrane": {"nowhere": {"sigma": 0.1, "sigma_state": 1.0}}}
    with pytest.raises(BackendError, match="noise.membrane names unknown population"):
        backend.run(noisy, inputs, STEPS)
    refr = copy.deepcopy(plan)
    lif = next(n for n, p in refr.populations.items() if p.kind == "lif")
    refr.populations[lif].refractory = 2
    with pytest.raises(BackendError, match="Lava's bit-accurate LIF has no refractory"):
        backend.run(refr, inputs, STEPS)
    bad_mon = copy.deepcopy(plan)
    bad_mon.monitors = [(_src(plan), "v")]
    with pytest.raises(BackendError, match="spike_source populations have no v"):
        backend.run(bad_mon, inputs, STEPS)
    far = copy.deepcopy(plan)
    next(iter(far.projections.values())).delays = 64
    with pytest.raises(BackendError, match="delay 64 > 63"):
        backend.run(far, inputs, STEPS)


def test_repeated_runs_see_in_place_weight_changes(backend, fixed_plans):
    """The synapse cache compares content: editing a plan's arrays in place is honoured."""
    plan = copy.deepcopy(fixed_plans[4])
    inputs = _inputs(plan, 4)
    before = backend.run(plan, inputs, STEPS)
    proj = next(iter(plan.projections.values()))
    proj.weights[...] = 0
    after = backend.run(plan, inputs, STEPS)
    ref = simulate(plan, inputs, STEPS)
    assert all(np.array_equal(after[k], ref[k]) for k in ref)
    assert any(not np.array_equal(after[k], before[k]) for k in ref if k.endswith(".v"))
