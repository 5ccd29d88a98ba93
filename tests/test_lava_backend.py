"""The lava backend against the cpu backend (bit-exact on fixed builds), its read-out,
timing contract, refusals and runtime cleanup.

Lava costs ~0.3 s of start-up per run, so the agreement tests run many random networks
as disconnected components of ONE Lava run (``LavaBackend.run_many``, joined by a Tie
sink process); each network's result is compared with its own cpu run.
"""
from __future__ import annotations

import os
import signal
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import neurodeploy  # noqa: E402,F401  (installs the Lava shim)
from neurodeploy.compilers import get_backend, load_plan, make_inputs  # noqa: E402
from neurodeploy.compilers.plan import PopulationPlan, ProjectionPlan, SimPlan  # noqa: E402
from neurodeploy.errors import BackendError  # noqa: E402

from netgen import compile_random, random_inputs  # noqa: E402

STEPS = 30
MAX_UV = 2 ** 23


def _child_pids() -> list[int]:
    """Live children of this process, by a /proc scan (no psutil).

    multiprocessing's resource tracker (one per interpreter, started by the first
    SharedMemory and kept for the interpreter's life by design) is not a Lava process."""
    from multiprocessing import resource_tracker
    tracker = getattr(resource_tracker._resource_tracker, "_pid", None)
    me, out = os.getpid(), []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == me and fields[0] != "Z" and int(entry) != tracker:
            out.append(int(entry))
    return out


def _assert_no_children() -> None:
    import multiprocessing as mp
    assert mp.active_children() == []
    assert _child_pids() == []


def _cases(seeds, profile: str, tmp: Path):
    cases = []
    for seed in seeds:
        plan = load_plan(compile_random(seed, tmp / f"{profile}-{seed}", profile))
        inputs = make_inputs(plan, STEPS, random_inputs(plan, STEPS, seed))
        cases.append((plan, inputs))
    return cases


def _run_both(cases):
    lava = get_backend("lava").run_many(cases, STEPS)
    cpu = get_backend("cpu")
    return lava, [cpu.run(plan, inputs, STEPS) for plan, inputs in cases]


# ------------------------------------------------------------------ fixed: bit-exact
FIXED_GROUPS = [("loihi2", range(0, 14)), ("loihi2", range(14, 28)),
                ("stress", range(100, 114)), ("stress", range(114, 128))]


@pytest.mark.parametrize("profile,seeds", FIXED_GROUPS,
                         ids=[f"{p}-{s.start}" for p, s in FIXED_GROUPS])
def test_fixed_bit_exact_with_cpu(profile, seeds, tmp_path):
    cases = _cases(seeds, profile, tmp_path)
    lava, cpu = _run_both(cases)
    stats = dict(spikes=0, v_edge=0, delayed=0, recurrent=0, poisson=0, sparse=0)
    for (plan, _), lr, cr in zip(cases, lava, cpu):
        assert set(lr.data) == set(cr.data) == {f"{p}.{v}" for p, v in plan.monitors}
        for key, want in cr.data.items():
            got = lr[key]
            assert got.shape == want.shape == (STEPS, plan.populations[key.split(".")[0]].size)
            assert got.dtype == (np.uint8 if key.endswith("spikes") else np.int32), key
            np.testing.assert_array_equal(got, want, err_msg=f"{plan.name} {key}")
            if key.endswith("spikes"):
                stats["spikes"] += int(got.sum())
            else:
                stats["v_edge"] += int((np.abs(got) == MAX_UV - 1).sum())
        assert lr.meta["backend"] == "lava" and lr.meta["numerics"] == "fixed"
        assert lr.meta["steps"] == STEPS
        assert set(lr.meta["timings"]) == {"build_s", "run_s", "readout_s"}
        projs = plan.projections.values()
        stats["delayed"] += any(np.any(np.asarray(p.delays) > 0) for p in projs)
        stats["recurrent"] += any(p.pre == p.post for p in projs)
        stats["sparse"] += any(p.format == "coo" for p in projs)
        stats["poisson"] += any(p.kind == "poisson" for p in plan.populations.values())
    assert stats["spikes"] > 0
    assert min(stats["delayed"], stats["recurrent"], stats["poisson"], stats["sparse"]) > 0, stats
    if profile == "stress":
        assert stats["v_edge"] > 0, "stress networks never reached the 24-bit v clip"


# ------------------------------------------------------------------ float
def test_float_matches_cpu_within_tolerance(tmp_path):
    """Float: spikes identical, v within 1e-9 relative (+1e-12 absolute).

    Only the summation order of synaptic input differs (Lava sums
    ``weights[:, s].sum(axis=1)`` per projection and the ports in connection order;
    the cpu backend adds synapse by synapse), so v differs by float64 rounding only."""
    cases = _cases(range(200, 212), "cpu", tmp_path)
    # a refractory population: Lava's LIFRefractory float model
    cases[0][0].populations["l0"].refractory = 2
    lava, cpu = _run_both(cases)
    spikes, worst = 0, 0.0
    for (plan, _), lr, cr in zip(cases, lava, cpu):
        for key, want in cr.data.items():
            got = lr[key]
            if key.endswith("spikes"):
                np.testing.assert_array_equal(got, want, err_msg=f"{plan.name} {key}")
                spikes += int(got.sum())
            else:
                assert got.dtype == np.float64
                np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12,
                                           err_msg=f"{plan.name} {key}")
                worst = max(worst, float(np.max(np.abs(got - want))))
    assert spikes > 0


# ------------------------------------------------------------------ read-out
def _small_case(tmp_path, profile, seed=1):
    plan = load_plan(compile_random(seed, tmp_path / f"small-{profile}", profile))
    lifs = [n for n, p in plan.populations.items() if p.kind == "lif"]
    plan.monitors = [(n, var) for n in lifs for var in ("spikes", "v", "u")]
    plan.monitors += [(n, "spikes") for n in plan.sources()]
    return plan, make_inputs(plan, STEPS, random_inputs(plan, STEPS, seed))


@pytest.mark.parametrize("profile", ["stress", "cpu"])
def test_recorder_equals_lava_monitor(profile, tmp_path):
    """Our in-process recorder returns exactly what Lava's Monitor returns (Monitor mode
    also runs Lava's own LIF process for uniform thresholds: checks NdLIF too).

    Float v is compared to 1e-12 relative: Lava itself sums the activations of several
    projections into one InPort in an order that depends on process creation order, so
    two float Lava runs of the same network may differ in the last bits (observed
    3.4e-13 absolute on |v| ~ 700), whatever the read-out."""
    plan, inputs = _small_case(tmp_path, profile)
    rec = get_backend("lava").run(plan, inputs, STEPS)
    mon = get_backend("lava", readout="monitor").run(plan, inputs, STEPS)
    assert rec.meta["readout"] == "recorder" and mon.meta["readout"] == "monitor"
    assert set(rec.data) == set(mon.data) == {f"{p}.{v}" for p, v in plan.monitors}
    for key in rec.data:
        assert rec[key].dtype == mon[key].dtype, key
        if plan.fixed or key.endswith("spikes"):
            np.testing.assert_array_equal(rec[key], mon[key], err_msg=key)
        else:
            np.testing.assert_allclose(rec[key], mon[key], rtol=1e-12, atol=1e-12, err_msg=key)
    assert sum(int(rec[k].sum()) for k in rec.data if k.endswith("spikes")) > 0
    _assert_no_children()


def test_per_neuron_threshold(tmp_path):
    """Lava's LIF has one vth per population; NdLIF takes one per neuron."""
    plan, inputs = _small_case(tmp_path, "loihi2", seed=3)
    rng = np.random.default_rng(0)
    for pop in plan.populations.values():
        if pop.kind == "lif":
            pop.vth = (pop.vth * rng.uniform(0.3, 1.5, pop.size)).astype(np.int64) + 1
    got = get_backend("lava").run(plan, inputs, STEPS)
    want = get_backend("cpu").run(plan, inputs, STEPS)
    for key in want.data:
        np.testing.assert_array_equal(got[key], want[key], err_msg=key)


# ------------------------------------------------------------------ timing contract
def _chain_plan(delay: int, fixed: bool = True) -> SimPlan:
    big = np.array([[100]], dtype=np.int16) if fixed else np.array([[5.0]])
    pops = {"src": PopulationPlan("src", "spike_source", 1),
            "out": PopulationPlan("out", "lif", 1, du=4095 if fixed else 1.0,
                                  dv=4095 if fixed else 1.0,
                                  vth=np.array([1 if fixed else 1.0]),
                                  bias_mant=np.zeros(1, np.int64 if fixed else np.float64))}
    proj = ProjectionPlan("p", "src", "out", "dense", (1, 1), big, delays=delay,
                          max_delay=delay, sign_mode="excitatory")
    return SimPlan(name="chain", path="<test>", numerics="fixed" if fixed else "float", dt=1.0,
                   seed=0, steps=12, populations=pops, projections={"p": proj},
                   monitors=[("out", "spikes"), ("src", "spikes")])


@pytest.mark.parametrize("fixed", [True, False])
def test_timing_contract(fixed):
    """Source column t is emitted at step t; the projection delivers at t + 1 + delay."""
    cases = []
    for delay in (0, 3):
        plan = _chain_plan(delay, fixed)
        spikes = np.zeros((12, 1), np.uint8)
        spikes[2] = 1
        cases.append((plan, make_inputs(plan, 12, {"src.spikes": spikes})))
    results = get_backend("lava").run_many(cases, 12)
    for (plan, _), res in zip(cases, results):
        delay = int(plan.projections["p"].delays)
        assert res["src.spikes"][:, 0].nonzero()[0].tolist() == [2]
        assert res["out.spikes"][:, 0].nonzero()[0].tolist() == [2 + 1 + delay]


# ------------------------------------------------------------------ refusals
def test_refusals(tmp_path):
    lava = get_backend("lava")
    plan = _chain_plan(0)
    assert lava.refuse_reason(plan) is None
    plan.populations["out"].refractory = 2
    assert "refractory" in lava.refuse_reason(plan)
    with pytest.raises(BackendError, match="refractory"):
        lava.run(plan, make_inputs(plan, 5, {"src.spikes": np.zeros((5, 1))}), 5)
    plan = _chain_plan(0)
    plan.noise = {"membrane": {"std": 0.1}}
    assert "noise" in lava.refuse_reason(plan)
    plan = _chain_plan(70)
    assert "0..63" in lava.refuse_reason(plan)
    with pytest.raises(BackendError, match="readout"):
        get_backend("lava", readout="nope")


# ------------------------------------------------------------------ cleanup
def _failing_step(self):
    if self.time_step == 3:
        raise RuntimeError("boom in run_spk")
    type(self).__mro__[2].run_spk(self)      # PyLifModelBitAcc.run_spk


def test_model_exception_cleans_up(monkeypatch):
    from neurodeploy.compilers.lava import processes
    monkeypatch.setattr(processes.PyNdLifModelBitAcc, "run_spk", _failing_step)
    plan = _chain_plan(1)
    inputs = make_inputs(plan, 10, {"src.spikes": np.ones((10, 1))})
    with pytest.raises(BackendError, match="boom in run_spk"):
        get_backend("lava", timeout=60).run(plan, inputs, 10)
    _assert_no_children()


def test_hung_run_times_out_and_cleans_up(monkeypatch):
    """A model that never finishes its step (like a port nobody sends to)."""
    import time as _time
    from neurodeploy.compilers.lava import processes

    def hang(self):
        _time.sleep(3600)

    monkeypatch.setattr(processes.PyNdLifModelBitAcc, "run_spk", hang)
    plan = _chain_plan(0)
    inputs = make_inputs(plan, 10, {"src.spikes": np.ones((10, 1))})
    t0 = _time.monotonic()
    with pytest.raises(BackendError, match="did not finish within 2 s"):
        get_backend("lava", timeout=2).run(plan, inputs, 10)
    assert _time.monotonic() - t0 < 30
    _assert_no_children()


def test_keyboard_interrupt_cleans_up(monkeypatch):
    import time as _time
    from neurodeploy.compilers.lava import processes

    monkeypatch.setattr(processes.PyNdLifModelBitAcc, "run_spk",
                        lambda self: _time.sleep(3600))
    plan = _chain_plan(0)
    inputs = make_inputs(plan, 10, {"src.spikes": np.ones((10, 1))})
    from neurodeploy.compilers.lava import runtime
    running = threading.Event()
    real_await = runtime.await_done

    def await_and_flag(*args, **kwargs):
        running.set()
        return real_await(*args, **kwargs)

    monkeypatch.setattr(runtime, "await_done", await_and_flag)

    done = threading.Event()

    def interrupt_when_running() -> None:
        # wait on the condition (the run is being awaited), not the clock
        while not done.is_set():
            if running.wait(0.05):
                os.kill(os.getpid(), signal.SIGINT)
                return

    watcher = threading.Thread(target=interrupt_when_running, daemon=True)
    watcher.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            get_backend("lava", timeout=120).run(plan, inputs, 10)
    finally:
        done.set()
        watcher.join()
    _assert_no_children()
    # the backend is usable again afterwards
    monkeypatch.undo()
    res = get_backend("lava").run(plan, inputs, 10)
    assert res["out.spikes"][:, 0].nonzero()[0].tolist() == list(range(1, 10))
    _assert_no_children()
