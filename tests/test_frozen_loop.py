"""The frozen-run loop and its synapses (zero weights dropped) against the one step loop.

A frozen run (:mod:`compilers.cpu.frozen_loop`, batches in :mod:`compilers.cpu.block_loop`)
must give every recorder of :func:`~compilers.cpu.step_loop.run_instance` with learning off
bit for bit (float builds included: the same addition order), and count the synaptic
events the full layout reaches, on builds with delays, negative weight exponents, dense
projections holding zeros, chips with their own weights and temporal noise.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from neurodeploy.compiling import compile_network
from neurodeploy.compilers import get_backend, load_plan, make_inputs
from neurodeploy.compilers.cpu import backend as cpu_backend
from neurodeploy.compilers.cpu import run_arrays
from neurodeploy.compilers.cpu.block_loop import run_block
from neurodeploy.compilers.cpu.frozen_layout import frozen
from neurodeploy.compilers.cpu.frozen_loop import run_frozen
from neurodeploy.compilers.cpu.learn_layout import Layout
from neurodeploy.compilers.cpu.step_loop import run_instance
from neurodeploy.ir import parse_network
from neurodeploy.profiles import load_profile

from .netgen import compile_random, random_inputs
from .test_step_loop import NOISY

STEPS = 120


def _zeroed(plan, seed: int) -> None:
    """Zero half the weights of every projection, and give fixed builds' first projection a
    negative weight exponent (mantissas scaled up to match): the cases the frozen layout treats apart."""
    rng = np.random.default_rng(seed)
    for k, proj in enumerate(plan.projections.values()):
        w = np.array(proj.weights)
        w[rng.random(w.shape) < 0.5] = 0
        if plan.fixed and k == 0:
            w = np.clip(w * 2 ** (proj.weight_exp + 1), -255, 255)
            proj.weight_exp = -1
        proj.weights = w


def _runs(lay: Layout, src: np.ndarray, w: np.ndarray, noise, batch: int):
    """Recorders of the step loop (learning off) and of the frozen loops on the same run."""
    every = (np.arange(lay.n_src + lay.n), np.arange(lay.n), np.arange(lay.n))
    recs = [run_arrays.recorder(lay, batch, STEPS, *every, counts=(0, lay.n), windows=4,
                                window=30) for _ in range(3)]
    full = lay.new_state(batch, w)
    for b in range(batch):
        run_instance(b, 0, STEPS, src, lay.net, lay.rules, full, noise, recs[0], False, 0)
    fz = frozen(lay, w)
    assert fz.post.size == int(np.any(w != 0, axis=0).sum())
    rcol = np.arange(lay.n_src + lay.n)
    one = lay.new_state(batch, np.zeros((1, 0), lay.dtype))
    for b in range(batch):
        run_frozen(b, STEPS, src, lay.net, fz, one, noise, recs[1], rcol)
    block = lay.new_state(batch, np.zeros((1, 0), lay.dtype))
    run_block(0, batch, STEPS, src, lay.net, fz, block, noise, recs[2], rcol)
    return recs


@pytest.mark.parametrize("profile", ["loihi2", "cpu"])
@pytest.mark.parametrize("seed", [1, 2, 5])
def test_frozen_loops_equal_the_step_loop_bit_for_bit(tmp_path: Path, profile: str, seed: int):
    """Random builds with delays, zeros and negative weight exponents; chips with their own
    weights (a synapse zero on one chip only is kept): rasters, v, u, counts, totals and
    synaptic events equal."""
    plan = load_plan(compile_random(seed, tmp_path / "b", profile=profile))
    _zeroed(plan, seed)
    lay = Layout(plan)
    batch = 3
    inputs = make_inputs(plan, STEPS, random_inputs(plan, STEPS, seed, rate=0.5))
    src = lay.source_block(inputs, STEPS)
    w = np.repeat(lay.w0[None], batch, axis=0)
    nz = np.flatnonzero(lay.w0)
    w[1, nz[::3]] = 0                        # chip 1 lost some synapses, chip 2 gained one
    w[2, np.flatnonzero(lay.w0 == 0)[:1]] = 1
    ref, single, block = _runs(lay, src, w, run_arrays.noise(lay), batch)
    assert ref.total.sum() > 0
    for got in (single, block):
        for field in ("spikes", "v", "u", "counts", "total", "synops"):
            np.testing.assert_array_equal(getattr(got, field), getattr(ref, field),
                                          err_msg=field)


@pytest.mark.parametrize("profile", ["loihi2", "cpu"])
def test_frozen_loops_with_temporal_noise_equal_the_step_loop(tmp_path: Path, profile: str):
    """Membrane noise and spike drop take the general step: still bit for bit."""
    net = parse_network(NOISY, tmp_path / "net.yaml")
    plan = load_plan(compile_network(net, load_profile(profile), tmp_path / "b").out)
    lay = Layout(plan)
    rng = np.random.default_rng(4)
    src = lay.source_block({"src": (rng.random((2, STEPS, 10)) < 0.3).astype(np.uint8)}, STEPS)
    noise = run_arrays.noise(lay, np.array([3, 8]))
    ref, single, block = _runs(lay, src, lay.w0[None], noise, 2)
    for got in (single, block):
        for field in ("spikes", "v", "u", "total", "synops"):
            np.testing.assert_array_equal(getattr(got, field), getattr(ref, field),
                                          err_msg=field)


def test_backend_keeps_the_layouts_of_several_builds(tmp_path: Path, monkeypatch):
    """Runs alternating between two builds build each layout once."""
    plans = [load_plan(compile_random(s, tmp_path / str(s))) for s in (1, 2)]
    plans[1].name = "other"
    built = []
    real = cpu_backend.Layout
    monkeypatch.setattr(cpu_backend, "Layout", lambda plan: built.append(plan.name) or real(plan))
    cpu = get_backend("cpu")
    for plan in plans + plans + plans:
        cpu.run(plan, make_inputs(plan, 5, random_inputs(plan, 5, 0)), 5)
    assert len(built) == 2
