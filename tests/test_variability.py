"""Device variability: counter-based RNG, mismatch sampling, chips on cpu, Lava and Brian2."""
from __future__ import annotations

import numpy as np
import pytest

from neurodeploy.compiling import compile_network
from neurodeploy.compiling.artifact import Build
from neurodeploy.compilers import get_backend, load_plan, make_inputs
from neurodeploy.errors import BackendError
from neurodeploy.ir import parse_network
from neurodeploy.profiles import load_profile
from neurodeploy.variability import counter_rng as R
from neurodeploy.variability import effective as E
from neurodeploy.variability.chip import Chip, batch_plan, stack_overrides
from neurodeploy.variability.config import MismatchConfig, VariabilityError
from neurodeploy.variability.noise import TemporalNoise, membrane_increment

NET = """
neurodeploy: 1
name: chipnet
seed: 5
populations:
  bg:  {{kind: poisson, size: 30, rate: 80.0}}
  hid: {{kind: lif, size: {hid}, params: {{tau_syn: 4.0, tau_mem: 15.0, v_th: 1.0, bias: 0.02}}}}
  out: {{kind: lif, size: 8, params: {{tau_syn: 5.0, tau_mem: 10.0, v_th: 1.0}}}}
projections:
  a: {{pre: bg, post: hid, connectivity: dense, weights: {{init: normal, mean: 0.08, std: 0.1}}}}
  b: {{pre: hid, post: out, connectivity: {{sparse: 0.5}}, weights: {{init: normal, mean: 0.1, std: 0.1}}, delay: 1}}
variability: {{v_th: {{cv: 0.1}}, tau_mem: {{cv: 0.2}}, tau_syn: {{cv: 0.2}}, weights: {{cv: 0.2}},
               bias: {{sigma: 0.02}}, dead_fraction: 0.05, stuck_fraction: 0.05}}
monitors: [{{population: hid, var: spikes}}, {{population: out, var: spikes}}, {{population: out, var: v}}]
run: {{steps: 120}}
"""


def _build(tmp_path, profile: str, hid: int = 40, name: str | None = None):
    net = parse_network(NET.format(hid=hid), base_dir=tmp_path)
    out = tmp_path / (name or profile)
    compile_network(net, load_profile(profile), out)
    return out


@pytest.fixture(scope="module")
def builds(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("chips")
    return {"fixed": _build(tmp, "loihi2"), "float": _build(tmp, "cpu")}


def _config(build, **overrides) -> MismatchConfig:
    cfg = MismatchConfig.from_manifest(Build(build).manifest)
    return cfg.with_overrides({f"variability.{k}": v for k, v in overrides.items()})


# --------------------------------------------------------------------------- counter RNG
def test_counter_rng_scalar_and_numpy_twin_agree():
    neuron = np.arange(300)[None, :]
    step = np.arange(40)[:, None]
    for seed, chip, pop in ((0, 0, 0), (7, 3, R.population_id("out")), (2**40, 999, 12345)):
        u_np = R.uniform_array(seed, chip, pop, neuron, step, 1)
        u_jit = R.draws(seed, chip, pop, 300, 40, 1, "uniform")
        assert np.array_equal(u_np, u_jit)                    # bit-identical
        n_np = R.normal_array(seed, chip, pop, neuron, step, 1)
        n_jit = R.draws(seed, chip, pop, 300, 40, 1, "normal")
        np.testing.assert_array_max_ulp(n_np, n_jit, maxulp=4)
        for i, t in ((0, 0), (17, 5), (299, 39)):
            assert R.uniform(seed, chip, pop, i, t, 1) == u_np[t, i]
            assert R.normal(seed, chip, pop, i, t, 1) == n_jit[t, i]


def test_counter_rng_distribution_and_independence():
    u = R.draws(1, 0, 7, 2000, 100, 1, "uniform")
    z = R.draws(1, 0, 7, 2000, 100, 1, "normal")
    n = u.size
    assert 0 <= u.min() and u.max() < 1
    assert abs(u.mean() - 0.5) < 4 * np.sqrt(1 / 12 / n)
    assert abs(z.mean()) < 4 / np.sqrt(n) and abs(z.std() - 1) < 4 / np.sqrt(2 * n)
    # every coordinate changes the numbers: correlation of neighbouring streams is ~0
    others = [R.draws(2, 0, 7, 2000, 100, 1), R.draws(1, 1, 7, 2000, 100, 1),
              R.draws(1, 0, 8, 2000, 100, 1), R.draws(1, 0, 7, 2000, 100, 2)]
    for o in others:
        assert abs(np.corrcoef(z.ravel(), o.ravel())[0, 1]) < 4 / np.sqrt(n)
    assert abs(np.corrcoef(z[:-1].ravel(), z[1:].ravel())[0, 1]) < 4 / np.sqrt(n)
    # no two noise models share a random number: membrane noise's magnitude is independent
    # of the spike-drop and stochastic-neuron uniforms at the same coordinates
    zm = np.abs(R.draws(1, 0, 7, 2000, 100, R.STREAM_MEMBRANE, "normal")).ravel()
    for stream in (R.STREAM_SPIKE_DROP, R.STREAM_STOCHASTIC, R.STREAM_CURRENT):
        ud = R.draws(1, 0, 7, 2000, 100, stream, "uniform").ravel()
        assert abs(np.corrcoef(zm, ud)[0, 1]) < 4 / np.sqrt(n), stream


def test_temporal_noise_precompute_matches_scalar(builds):
    plan = load_plan(builds["fixed"])
    plan.noise = {"membrane": {"hid": {"sigma": 0.1, "sigma_state": 37.5}},
                  "current": {"hid": {"sigma": 0.1, "sigma_state": 12.0}},
                  "spike_drop": {"out": {"p": 0.3}}}
    noise = TemporalNoise.from_plan(plan)
    assert noise.active
    blk = noise.precompute(11, 2, "hid", 40, 30)
    pid = R.population_id("hid")
    for i, t in ((0, 0), (39, 29), (5, 12)):
        assert blk["membrane"][t, i] == membrane_increment(37.5, True, 11, 2, pid, i, t)
    cur = blk["current"]
    assert cur.dtype == np.int64 and abs(cur.std() - 12.0) < 1.5
    assert not np.array_equal(cur, np.floor(12.0 / 37.5 * blk["membrane"] + 0.5))
    assert cur[3, 4] == np.floor(12.0 * R.normal(11, 2, pid, 4, 3, R.STREAM_CURRENT) + 0.5)
    drop = noise.precompute(11, 2, "out", 8, 2000)["drop"]
    assert abs(drop.mean() - 0.3) < 4 * np.sqrt(0.3 * 0.7 / drop.size)
    assert noise.precompute(11, 2, "bg", 30, 5) == {}


# --------------------------------------------------------------------------- sampling
@pytest.mark.parametrize("dist", ["gaussian", "lognormal"])
@pytest.mark.parametrize("cv", [0.05, 0.3])
def test_gain_has_requested_cv(dist, cv):
    z = np.random.default_rng(0).standard_normal(400_000)
    g = E.gain(z, cv, dist)
    se = cv / np.sqrt(2 * z.size)                     # standard error of a sample CV
    assert abs(g.mean() - 1) < 5 * cv / np.sqrt(z.size)
    assert abs(g.std() / g.mean() - cv) < 6 * se + (2e-3 if dist == "gaussian" and cv > 0.2 else 0)
    assert g.min() >= 0


def test_sampled_mismatch_matches_requested_spreads_and_fractions(tmp_path):
    build = _build(tmp_path, "cpu", hid=4000, name="big")
    plan = load_plan(build)
    cfg = _config(build, **{"stuck_on_fraction": 0.03, "stuck_max_share": 0.25})
    chip = Chip(3, 0, cfg)
    hid = plan.populations["hid"]
    p = chip.population_params(plan, "hid")
    dead, stuck = chip.masks("hid", hid.size)
    n = hid.size
    for frac, mask in ((0.05, dead), (0.03, stuck)):
        assert abs(mask.mean() - frac) < 4 * np.sqrt(frac * (1 - frac) / n)
    assert not (dead & stuck).any()
    ok = ~(dead | stuck)
    ratio = p["vth"][ok] / hid.vth[ok]
    assert abs(ratio.std() - 0.1) < 5 * 0.1 / np.sqrt(2 * ok.sum())
    # tau_mem x (1 + cv z) -> dv / (1 + cv z): the implied time constants have the CV
    tau = hid.dv / p["dv"][ok]
    assert abs(tau.std() / tau.mean() - 0.2) < 5 * 0.2 / np.sqrt(2 * ok.sum())
    assert abs((p["bias_mant"][ok] - 0.02).std() - 0.02) < 5 * 0.02 / np.sqrt(2 * ok.sum())
    assert np.all(p["bias_mant"][dead] == 0) and np.all(p["vth"][stuck] == 0)
    # synapses: stuck fraction, share at max, gain CV of the rest
    proj = plan.projections["a"]
    w = chip.projection_weights(plan, "a")
    rows = ~(dead | stuck)
    w0, w1 = proj.weights[rows], w[rows]
    full = np.abs(proj.weights).max()
    at_max = np.isclose(np.abs(w1), full) & (np.abs(w0) < full)
    zero = (w1 == 0) & (w0 != 0)
    m = w0.size
    assert abs((at_max.sum() + zero.sum()) / m - 0.05) < 4 * np.sqrt(0.05 * 0.95 / m) + 0.002
    assert abs(at_max.sum() / (at_max.sum() + zero.sum()) - 0.25) < 0.06
    normal = ~(at_max | zero)
    g = w1[normal] / w0[normal]
    assert abs(g.std() - 0.2) < 5 * 0.2 / np.sqrt(2 * normal.sum())
    assert np.all(w[dead | stuck] == 0)                        # silenced neurons get no input


def test_chip_is_a_pure_function_of_seed_and_index(builds):
    plan = load_plan(builds["fixed"])
    cfg = _config(builds["fixed"])
    a, b, c = Chip(9, 4, cfg), Chip(9, 4, cfg), Chip(9, 5, cfg)
    for name in ("hid", "out"):
        pa, pb, pc = (x.population_params(plan, name) for x in (a, b, c))
        assert all(np.array_equal(pa[k], pb[k]) for k in pa)
        assert not all(np.array_equal(pa[k], pc[k]) for k in pa)
    # the batch a chip is stacked in does not change it
    ov = stack_overrides([c, a], plan)
    alone = a.overrides(plan)
    assert np.array_equal(ov["projections"]["a"]["weights"][1],
                          alone["projections"]["a"]["weights"][0])
    assert np.array_equal(ov["populations"]["hid"]["vth"][1], alone["populations"]["hid"]["vth"][0])
    # a sweep changes the setting, not the chip's draws (common random numbers)
    lo = Chip(9, 4, cfg.with_overrides({"variability.weights.cv": 0.05}))
    hi = Chip(9, 4, cfg.with_overrides({"variability.weights.cv": 0.3}))
    assert np.array_equal(lo.synapse_draws("a", (40, 30))["gain"],
                          hi.synapse_draws("a", (40, 30))["gain"])


def test_fixed_chip_is_requantized_to_lava_registers(builds):
    plan = load_plan(builds["fixed"])
    cfg = _config(builds["fixed"], **{"weights.cv": 0.9, "v_th.cv": 0.9, "tau_syn.cv": 0.9,
                                       "tau_mem.cv": 0.9, "bias.sigma": 50.0})
    chip = Chip(1, 2, cfg)
    for name in ("hid", "out"):
        p = chip.population_params(plan, name)
        assert p["vth"].dtype == np.int64 and p["vth"].min() >= 0 and p["vth"].max() < 2**17
        for k in ("du", "dv"):
            assert p[k].min() >= 0 and p[k].max() <= 4095
        assert p["bias_mant"].min() >= -4096 and p["bias_mant"].max() <= 4095
    for name, proj in plan.projections.items():
        w = chip.projection_weights(plan, name)
        low, high, step = E.mantissa_grid(proj.sign_mode, proj.num_weight_bits)
        assert w.min() >= low and w.max() <= high and np.all(w % step == 0)


def test_memristive_drift_and_write_noise():
    w = np.linspace(-1, 1, 101)
    cfg = MismatchConfig().with_overrides({"variability.memristive.drift_nu": 0.05,
                                           "variability.memristive.drift_time_s": 3600})
    zeros = {k: np.zeros_like(w) for k in ("gain", "write", "nu")}
    zeros.update({k: np.ones_like(w) for k in ("stuck", "stuck_kind", "sign")})
    out = E.weights(w, zeros, cfg, fixed=False)
    assert np.allclose(out, w * 3600.0 ** -0.05)
    noisy = cfg.with_overrides({"variability.memristive.write_noise": 0.1,
                                "variability.memristive.drift_nu": 0.0})
    z = np.random.default_rng(1).standard_normal((2000, w.size))
    d = E.weights(np.broadcast_to(w, z.shape), {**{k: np.broadcast_to(v, z.shape)
                                                  for k, v in zeros.items()}, "write": z},
                  noisy, fixed=False) - w
    assert abs(d.std() - 0.1) < 0.005                       # 10 % of full scale (1.0)


def test_learning_gain_independent_per_projection(builds):
    plan = load_plan(builds["float"])
    chip = Chip(4, 1, _config(builds["float"], **{"learning.cv": 0.2}))
    fwd = chip.learning_gain("a", plan=plan)
    fb = chip.learning_gain("a_feedback", shape=fwd.shape)
    assert fwd.shape == plan.projections["a"].weights.shape
    assert np.array_equal(fwd, Chip(4, 1, chip.config).learning_gain("a", plan=plan))
    assert abs(np.corrcoef(fwd.ravel(), fb.ravel())[0, 1]) < 4 / np.sqrt(fwd.size)
    big = chip.learning_gain("big", shape=(300, 300))
    assert abs(big.mean() - 1) < 0.005 and abs(big.std() - 0.2) < 0.005
    assert chip.learning_settings["cv"] == 0.2


def test_config_sources_and_errors(builds):
    cfg = MismatchConfig.from_manifest(Build(builds["fixed"]).manifest)
    assert cfg.values["v_th_cv"] == 0.1 and cfg.sources["v_th_cv"].startswith("IR")
    assert cfg.sources["stuck_max_share"].startswith("profile loihi2")
    assert cfg.with_overrides({"variability.weights.cv": 0.3}).sources["weights_cv"] == "command line"
    with pytest.raises(VariabilityError, match="did you mean 'variability.weights.cv'"):
        cfg.with_overrides({"variability.weight.cv": 0.1})
    with pytest.raises(VariabilityError, match="negative"):
        cfg.with_overrides({"variability.weights.cv": -0.1})
    with pytest.raises(VariabilityError, match="gaussian or lognormal"):
        cfg.with_overrides({"variability.weights.dist": "uniform"})


# --------------------------------------------------------------------------- backends
def test_backends_refuse_unapplied_mismatch_and_run_chips(builds):
    plan = load_plan(builds["fixed"])
    cpu = get_backend("cpu")
    inputs = make_inputs(plan, 20)
    with pytest.raises(BackendError, match="fixed-pattern mismatch"):
        cpu.run(plan, inputs, 20)
    chip = Chip(0, 0, _config(builds["fixed"]))
    assert cpu.run(chip.apply(plan), inputs, 20)["out.spikes"].shape == (20, 8)
    assert cpu.run(plan.nominal(), inputs, 20)["out.spikes"].shape == (20, 8)


def _faulty(build):
    return _config(build, **{"stuck_on_fraction": 0.1, "dead_fraction": 0.1})


@pytest.mark.parametrize("kind", ["fixed", "float"])
def test_same_chip_on_cpu_batch_lava_and_brian2(builds, kind):
    plan = load_plan(builds[kind])
    steps = 120
    inputs = make_inputs(plan, steps)
    chips = [Chip(21, k, _faulty(builds[kind])) for k in (0, 7, 3)]
    cpu = get_backend("cpu")
    batch = cpu.run_batch(batch_plan(plan), inputs, steps, len(chips),
                          overrides=stack_overrides(chips, plan))
    applied = [c.apply(plan) for c in chips]
    lava = get_backend("lava").run_many([(p, inputs) for p in applied], steps)
    others = {"lava": lava}
    if kind == "float":
        br = get_backend("brian2")
        others["brian2"] = [br.run(p, inputs, steps) for p in applied]
    for i, (chip, p) in enumerate(zip(chips, applied)):
        single = cpu.run(p, inputs, steps)
        for key in single.data:
            assert np.array_equal(single[key], batch[key][i]), key
        # the batch overrides and the applied plan carry the same effective parameters
        ov = stack_overrides(chips, plan)
        for pop in ("hid", "out"):
            for key in ("vth", "du", "dv", "bias_mant"):
                assert np.array_equal(np.broadcast_to(getattr(p.populations[pop], key),
                                                      (plan.populations[pop].size,)),
                                      ov["populations"][pop][key][i]), (pop, key)
        for name in plan.projections:
            assert np.array_equal(p.projections[name].weights, ov["projections"][name]["weights"][i])
        dead, stuck = chip.masks("hid", 40)
        assert dead.any() and stuck.any()
        spikes = single["hid.spikes"]
        assert spikes[:, dead].sum() == 0                     # dead neurons never fire
        assert np.all(spikes[:, stuck] == 1)                  # stuck-on fire every step
        for name, results in others.items():
            r = results[i]
            for key in single.data:
                if kind == "fixed" or key.endswith(".spikes"):
                    assert np.array_equal(r[key], single[key]), (name, key)
                else:
                    np.testing.assert_allclose(r[key], single[key], rtol=1e-9, atol=1e-9)
    # the chips differ from each other and from the nominal chip
    nominal = cpu.run(plan.nominal(), inputs, steps)
    assert not np.array_equal(nominal["hid.spikes"], batch["hid.spikes"][0])
    assert not np.array_equal(batch["hid.spikes"][0], batch["hid.spikes"][1])


def test_per_neuron_decays_change_the_run_and_reach_brian2(builds):
    plan = load_plan(builds["float"])
    p = Chip(2, 0, _config(builds["float"], **{"tau_mem.cv": 0.5, "tau_syn.cv": 0.5})).apply(plan)
    assert np.ndim(p.populations["hid"].du) == 1 and len(np.unique(p.populations["hid"].du)) > 10
    inputs = make_inputs(plan, 60)
    ref = get_backend("cpu").run(p, inputs, 60)
    uniform = Chip(2, 0, _config(builds["float"], **{"tau_mem.cv": 0.0, "tau_syn.cv": 0.0})).apply(plan)
    assert not np.allclose(get_backend("cpu").run(uniform, inputs, 60)["out.v"], ref["out.v"])
    br = get_backend("brian2").run(p, inputs, 60)
    np.testing.assert_allclose(br["out.v"], ref["out.v"], rtol=1e-9, atol=1e-9)


def test_simulate_and_compare_take_a_chip(builds, tmp_path, capsys):
    from neurodeploy.cli import main
    build = str(builds["fixed"])
    assert main(["simulate", build, "-o", str(tmp_path / "plain.npz")]) == 1
    assert "--chip K" in capsys.readouterr().err
    assert main(["simulate", build, "--chip", "3", "-o", str(tmp_path / "c3.npz")]) == 0
    assert main(["compare", build, "--backends", "cpu,lava", "--chip", "3"]) == 0
    assert "backends agree" in capsys.readouterr().out
    plan = load_plan(builds["fixed"])
    want = get_backend("cpu").run(Chip(plan.seed, 3, _config(builds["fixed"])).apply(plan),
                                  make_inputs(plan, plan.steps), plan.steps)
    got = np.load(tmp_path / "c3.npz")
    assert np.array_equal(got["hid.spikes"], want["hid.spikes"])
    assert main(["simulate", build, "--nominal", "-o", str(tmp_path / "n.npz")]) == 0
    assert main(["simulate", build, "--chip", "1", "--nominal", "-o", str(tmp_path / "x.npz")]) == 1


def test_explicit_zero_in_the_ir_beats_the_profile_default(tmp_path):
    text = NET.format(hid=10).replace("dead_fraction: 0.05", "dead_fraction: 0.0")
    text = text.replace(", delay: 1}", "}")                      # mixed_signal has no delays
    net = parse_network(text, base_dir=tmp_path)
    out = tmp_path / "ms"
    compile_network(net, load_profile("mixed_signal"), out)      # profile: dead 0.01
    cfg = MismatchConfig.from_manifest(Build(out).manifest)
    assert cfg.values["dead_fraction"] == 0.0 and cfg.sources["dead_fraction"].startswith("IR")
    assert cfg.values["weights_dist"] == "lognormal"               # from the profile
    assert cfg.sources["weights_dist"] == "profile mixed_signal"
