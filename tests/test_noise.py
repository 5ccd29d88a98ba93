"""Temporal noise (membrane and current noise, spike drop) applied identically by cpu, Lava
and Brian2."""
from __future__ import annotations

import copy

import numpy as np
import pytest

import neurodeploy  # noqa: F401  (installs the Lava shim)
from neurodeploy.compiling import compile_network
from neurodeploy.compilers import get_backend, load_plan, make_inputs
from neurodeploy.compilers.noise import noise_arrays
from neurodeploy.errors import BackendError
from neurodeploy.ir import parse_network
from neurodeploy.profiles import load_profile
from neurodeploy.variability import counter_rng as R

STEPS = 150
ZERO_MISMATCH = ("variability: {v_th: {cv: 0}, tau_mem: {cv: 0}, tau_syn: {cv: 0}, "
                 "weights: {cv: 0}, bias: {sigma: 0}, dead_fraction: 0, stuck_fraction: 0}")

NET = """
neurodeploy: 1
name: noisenet
seed: 5
populations:
  src: {{kind: spike_source, size: 12}}
  bg:  {{kind: poisson, size: 30, rate: 80.0}}
  hid: {{kind: lif, size: 40, params: {{tau_syn: 4.0, tau_mem: 15.0, v_th: 1.0, bias: 0.02}}}}
  out: {{kind: lif, size: 8, params: {{tau_syn: 5.0, tau_mem: 10.0, v_th: 1.0}}}}
projections:
  a: {{pre: bg, post: hid, connectivity: dense, weights: {{init: normal, mean: 0.08, std: 0.1}}}}
  s: {{pre: src, post: hid, connectivity: {{sparse: 0.5}}, weights: {{init: uniform, low: 0.0, high: 0.3}}}}
  b: {{pre: hid, post: out, connectivity: {{sparse: 0.5}}, weights: {{init: normal, mean: 0.1, std: 0.1}}, delay: 1}}
  r: {{pre: out, post: out, connectivity: dense, weights: {{init: normal, mean: 0.0, std: 0.2}}, delay: 2}}
{noise}
{zero}
monitors: [{{population: hid, var: spikes}}, {{population: out, var: spikes}},
           {{population: out, var: v}}, {{population: src, var: spikes}}]
run: {{steps: {steps}}}
"""
NOISE = "noise: {membrane: {sigma: 0.2}, current: {sigma: 0.05}, spike_drop: {p: 0.3}}"

# statistics: 'quiet' gets membrane noise only (no input, threshold out of reach), 'relay'
# receives every delivered spike of 'src' (all ones, 30 % dropped) one to one
STATS = """
neurodeploy: 1
name: noisestats
seed: 9
populations:
  src:   {{kind: spike_source, size: 50}}
  quiet: {{kind: lif, size: 60, params: {{tau_syn: 5.0, tau_mem: 10.0, v_th: 1.0}}}}
  relay: {{kind: lif, size: 50, params: {{tau_syn: 5.0, tau_mem: 10.0, v_th: 1.0}}}}
  cnoise: {{kind: lif, size: 40, params: {{tau_syn: 5.0, tau_mem: 10.0, v_th: 1.0}}}}
projections:
  p: {{pre: src, post: relay, connectivity: one_to_one, weights: {{init: constant, value: 0.01}}}}
noise: {{membrane: {{sigma: 0.05, populations: [quiet]}}, spike_drop: {{p: 0.3, populations: [src]}},
        current: {{sigma: 0.01, populations: [cnoise]}}}}
{zero}
monitors: [{{population: quiet, var: v}}, {{population: quiet, var: spikes}},
           {{population: relay, var: u}}, {{population: cnoise, var: u}}]
run: {{steps: 200}}
"""


def _compile(tmp, name: str, text: str, profile: str):
    out = tmp / name
    compile_network(parse_network(text), load_profile(profile), out, force=True)
    return load_plan(out)


def _net(noise: str = NOISE) -> str:
    return NET.format(noise=noise, zero=ZERO_MISMATCH, steps=STEPS)


@pytest.fixture(scope="module")
def plans(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("noise")
    out = {}
    for numerics, profile in (("fixed", "loihi2"), ("float", "cpu")):
        out[numerics] = _compile(tmp, f"noisy_{numerics}", _net(), profile)
        out[numerics + "_zero"] = _compile(
            tmp, f"zero_{numerics}", _net("noise: {membrane: {sigma: 0.0}, spike_drop: {p: 0.0}}"),
            profile)
        out[numerics + "_clean"] = _compile(tmp, f"clean_{numerics}", _net(""), profile)
    return out


def _inputs(plan):
    rng = np.random.default_rng(3)
    given = {"src.spikes": (rng.random((STEPS, 12)) < 0.4).astype(np.uint8)}
    return make_inputs(plan, STEPS, given)


def _assert_same(a: dict, b: dict, exact: bool = True) -> None:
    assert a.keys() == b.keys()
    for key in a:
        if exact or key.endswith("spikes"):
            np.testing.assert_array_equal(a[key], b[key], err_msg=key)
        else:
            np.testing.assert_allclose(a[key], b[key], rtol=0, atol=1e-9, err_msg=key)


def test_noise_is_applied_and_lifted_from_refusals(plans):
    for numerics in ("fixed", "float"):
        plan = plans[numerics]
        assert set(plan.noise) == {"membrane", "current", "spike_drop"}
        assert plan.unsupported_features() == []
        noisy = get_backend("cpu").run(plan, _inputs(plan), STEPS).data
        frozen = get_backend("cpu").run(plan.frozen(), _inputs(plan), STEPS).data
        clean = get_backend("cpu").run(plans[numerics + "_clean"], _inputs(plan), STEPS).data
        _assert_same(frozen, clean)         # --frozen = the same network without noise
        assert not np.array_equal(noisy["hid.spikes"], clean["hid.spikes"])
        assert not np.array_equal(noisy["out.spikes"], clean["out.spikes"])
        # monitored source spikes are the given input, dropped or not
        np.testing.assert_array_equal(noisy["src.spikes"], _inputs(plan)["src"])
    other = copy.copy(plans["fixed"])
    other.noise = {**other.noise, "burst": {"hid": {"sigma": 0.1, "sigma_state": 5.0}}}
    assert other.unsupported_features() == ["noise.burst"]
    with pytest.raises(BackendError, match="noise.burst"):
        get_backend("cpu").run(other, _inputs(other), STEPS)


def test_cpu_and_lava_identical_on_fixed_build(plans):
    plan = plans["fixed"]
    cpu = get_backend("cpu").run(plan, _inputs(plan), STEPS).data
    batch = get_backend("cpu").run_batch(plan, _inputs(plan), STEPS, 3).data
    for key in cpu:
        for b in range(3):
            np.testing.assert_array_equal(batch[key][b], cpu[key], err_msg=key)
    fplan = plans["float"]
    lava_fixed, = get_backend("lava").run_many([(plan, _inputs(plan))], STEPS)
    _assert_same(cpu, lava_fixed.data)
    lava_float, = get_backend("lava").run_many([(fplan, _inputs(fplan))], STEPS)
    _assert_same(get_backend("cpu").run(fplan, _inputs(fplan), STEPS).data, lava_float.data,
                 exact=False)
    with pytest.raises(BackendError, match="readout 'recorder'"):
        get_backend("lava", readout="monitor").run(plan, _inputs(plan), STEPS)


def test_cpu_and_brian2_agree_on_float_build(plans):
    plan = plans["float"]
    cpu = get_backend("cpu").run(plan, _inputs(plan), STEPS).data
    b2 = get_backend("brian2").run(plan, _inputs(plan), STEPS).data
    _assert_same(cpu, b2, exact=False)
    clean = get_backend("brian2").run(plans["float_clean"], _inputs(plan), STEPS).data
    assert not np.array_equal(b2["out.spikes"], clean["out.spikes"])


def test_different_seed_gives_different_spikes(plans):
    for numerics in ("fixed", "float"):
        plan = plans[numerics]
        inputs = _inputs(plan)           # same input spikes (Poisson drawn from seed 5)
        other = copy.copy(plan)
        other.seed = plan.seed + 1
        a = get_backend("cpu").run(plan, inputs, STEPS).data
        b = get_backend("cpu").run(other, inputs, STEPS).data
        again = get_backend("cpu").run(plan, inputs, STEPS).data
        _assert_same(a, again)
        assert not np.array_equal(a["hid.spikes"], b["hid.spikes"])


def test_sigma_zero_is_the_noise_free_result(plans):
    for numerics in ("fixed", "float"):
        zero, clean = plans[numerics + "_zero"], plans[numerics + "_clean"]
        assert zero.noise and not clean.noise
        _assert_same(get_backend("cpu").run(zero, _inputs(zero), STEPS).data,
                     get_backend("cpu").run(clean, _inputs(clean), STEPS).data)
    zero, clean = plans["float_zero"], plans["float_clean"]
    _assert_same(get_backend("brian2").run(zero, _inputs(zero), STEPS).data,
                 get_backend("brian2").run(clean, _inputs(clean), STEPS).data)


@pytest.mark.parametrize("profile", ["cpu", "loihi2"])
def test_noise_statistics_match_requested(tmp_path, profile):
    plan = _compile(tmp_path, "stats", STATS.format(zero=ZERO_MISMATCH), profile)
    steps = 200
    inputs = make_inputs(plan, steps, {"src.spikes": np.ones((steps, 50), np.uint8)})
    data = get_backend("cpu").run(plan, inputs, steps).data
    assert data["quiet.spikes"].sum() == 0
    # membrane: quiet has no input and no bias, so v_t = decay(v_{t-1}) + increment
    sigma_state = plan.noise["membrane"]["quiet"]["sigma_state"]
    v = data["quiet.v"].astype(np.int64 if plan.fixed else np.float64)
    prev = np.vstack([np.zeros((1, v.shape[1]), v.dtype), v[:-1]])
    dv = plan.populations["quiet"].dv
    if plan.fixed:
        p = prev * (4096 - int(dv))
        inc = v - np.sign(p) * (np.abs(p) >> 12)
        assert np.all(inc == np.round(inc))
    else:
        inc = v - prev * (1 - dv)
    n = inc.size
    assert abs(inc.std() / sigma_state - 1) < 4 / np.sqrt(2 * n)
    assert abs(inc.mean()) < 4 * sigma_state / np.sqrt(n)
    # the increments are the counter-based draws of (seed, chip 0, 'quiet', neuron, step)
    z = R.draws(plan.seed, 0, "quiet", 60, steps, R.STREAM_MEMBRANE)
    want = np.floor(sigma_state * z + 0.5) if plan.fixed else sigma_state * z
    np.testing.assert_allclose(inc, want, rtol=0, atol=1e-9 * sigma_state)
    # spike drop: relay.u integrates the delivered spikes of src (step t arrives at t + 1)
    u = data["relay.u"].astype(np.int64 if plan.fixed else np.float64)
    du = plan.populations["relay"].du
    uprev = np.vstack([np.zeros((1, 50), u.dtype), u[:-1]])
    if plan.fixed:
        pu = uprev * (4095 - int(du))
        delivered = (u - np.sign(pu) * (np.abs(pu) >> 12)) != 0
    else:
        w = float(np.max(plan.projections["p"].weights))
        delivered = np.abs(u - uprev * (1 - du)) > w / 2
    delivered = delivered[1:].astype(int)              # spikes of steps 0 .. steps-2
    dropped = 1 - delivered.mean()
    assert abs(dropped - 0.3) < 4 * np.sqrt(0.3 * 0.7 / delivered.size)
    drop = noise_arrays(plan, steps).drop["src"]
    np.testing.assert_array_equal(delivered, (~drop[:-1]).astype(int))
    # current: cnoise has no input, so u_t = decay(u_{t-1}) + the input noise (in fixed
    # point an integer activation, shifted like any input)
    sc = plan.noise["current"]["cnoise"]["sigma_state"]
    u = data["cnoise.u"].astype(np.int64 if plan.fixed else np.float64)
    uprev = np.vstack([np.zeros((1, 40), u.dtype), u[:-1]])
    du = plan.populations["cnoise"].du
    z = R.draws(plan.seed, 0, "cnoise", 40, steps, R.STREAM_CURRENT)
    if plan.fixed:
        pu = uprev * (4095 - int(du))
        inc = u - np.sign(pu) * (np.abs(pu) >> 12)
        np.testing.assert_array_equal(inc, np.floor(sc * z + 0.5).astype(np.int64) << 6)
    else:
        np.testing.assert_allclose(u - uprev * (1 - du), sc * z, rtol=0, atol=1e-12)
    assert abs(np.std(sc * z) / sc - 1) < 0.1 and sc > 0


def test_cli_simulates_noise_and_validate_draws_it_per_chip(plans, tmp_path, capsys):
    from neurodeploy.cli import main
    build = plans["fixed"].path
    inp = tmp_path / "in.npz"
    np.savez(inp, **{"src.spikes": _inputs(plans["fixed"])["src"]})
    out = tmp_path / "sim.npz"
    assert main(["simulate", build, "--backend", "cpu", "--input", str(inp), "-o", str(out)]) == 0
    with np.load(out) as sim:
        want = get_backend("cpu").run(plans["fixed"], _inputs(plans["fixed"]), STEPS).data
        np.testing.assert_array_equal(sim["hid.spikes"], want["hid.spikes"])
    capsys.readouterr()
    code = main(["validate", build, "--chips", "2", "--input", str(inp), "--spec",
                 "hid.rate>=0", "-o", str(tmp_path / "v"), "-q"])
    assert code == 0, capsys.readouterr().err
    import json
    chips = json.loads((tmp_path / "v" / "report.json").read_text())["chips"]
    assert len(chips) == 2 and chips[0]["figures"] != chips[1]["figures"]


def test_noise_is_drawn_per_chip_and_the_same_chip_everywhere(plans):
    plan, fplan = plans["fixed"], plans["float"]
    cpu = get_backend("cpu")
    single = {c: cpu.run_batch(plan, _inputs(plan), STEPS, 1, noise_chips=[c]).data
              for c in (0, 4)}
    _assert_same({k: v[0] for k, v in single[0].items()}, cpu.run(plan, _inputs(plan), STEPS).data)
    assert not np.array_equal(single[0]["hid.spikes"], single[4]["hid.spikes"])
    batch = cpu.run_batch(plan, _inputs(plan), STEPS, 3, noise_chips=[0, 4, 0]).data
    for b, c in enumerate((0, 4, 0)):
        for key in batch:
            np.testing.assert_array_equal(batch[key][b], single[c][key][0], err_msg=key)
    lava, = get_backend("lava", noise_chip=4).run_many([(plan, _inputs(plan))], STEPS)
    _assert_same({k: v[0] for k, v in single[4].items()}, lava.data)
    want = cpu.run_batch(fplan, _inputs(fplan), STEPS, 1, noise_chips=[4]).data
    b2 = get_backend("brian2", noise_chip=4).run(fplan, _inputs(fplan), STEPS).data
    _assert_same({k: v[0] for k, v in want.items()}, b2, exact=False)
    with pytest.raises(BackendError, match="noise_chips must be 3 integers"):
        cpu.run_batch(plan, _inputs(plan), STEPS, 3, noise_chips=[0, 1])


def test_learner_presentations_continue_the_noise(tmp_path):
    """A cpu learner's successive presentations draw fresh noise (two calls with the same
    input differ), a new learner repeats the first call exactly, and frozen read-outs are
    the same at every call."""
    from neurodeploy.compilers.cpu.learner import CpuLearner
    text = NET.format(noise=NOISE, zero="", steps=60)
    plan = load_plan(compile_network(parse_network(text, tmp_path / "n.yaml"),
                                     load_profile("cpu"), tmp_path / "b").out)
    src = (np.random.default_rng(2).random((3, 20, 12)) < 0.3).astype(np.uint8)
    first = CpuLearner(plan, "hid")
    a = first.present({"src": src}, 3, 20, learn=False)
    b = first.present({"src": src}, 3, 20, learn=False)
    assert not np.array_equal(a, b)
    np.testing.assert_array_equal(a, CpuLearner(plan, "hid").present({"src": src}, 3, 20, False))
    p1 = first.predict_counts({"src": src}, 3, 20)[0]
    np.testing.assert_array_equal(p1, first.predict_counts({"src": src}, 3, 20)[0])
    np.testing.assert_array_equal(p1, a[0])                 # the first call's own noise
