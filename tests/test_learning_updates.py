"""Imperfect weight updates of the float learner: update noise and stochastic rounding.

The network is built so that every update is known: the output never fires (v_th 1e6),
so the error is the label; inputs and labels are the same in every sample, each sample is
presented alone (traces restart) and the learning epoch is the sample, so each sample gives
every synapse onto a labelled output the same update D (measured once without noise) and
the other synapses none.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from neurodeploy.compiling import compile_network
from neurodeploy.compilers import load_plan
from neurodeploy.compilers.cpu.learner import CpuLearner
from neurodeploy.errors import BackendError
from neurodeploy.ir import parse_network
from neurodeploy.profiles import load_profile

N_IN, N_OUT, STEPS = 40, 50, 8
NET = f"""
neurodeploy: 1
name: upd
populations:
  inp: {{kind: spike_source, size: {N_IN}}}
  out: {{kind: lif, size: {N_OUT}, params: {{v_th: 1000000.0}}}}
projections:
  p: {{pre: inp, post: out, weights: {{init: constant, value: 0.5}}}}
plasticity:
  l: {{rule: feedback_alignment, projections: [p], learning_rate: 0.0005, trace_tau: 0,
      learning_epoch: {STEPS}}}
task: {{input: inp, output: out, sample_steps: {STEPS}}}
"""
LABELLED = np.arange(N_OUT) < N_OUT // 2       # outputs that get label spikes


@pytest.fixture(scope="module")
def plan(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("upd")
    net = parse_network(NET, tmp / "net.yaml")
    return load_plan(compile_network(net, load_profile("cpu"), tmp / "build").out)


def _learn(plan, samples: int, chips: int = 1, start: float = 0.5,
           **updates) -> tuple[CpuLearner, np.ndarray]:
    """Present ``samples`` identical samples to ``chips`` chips whose weights of p start
    at ``start``, with ``updates`` settings; returns the learner and the weights of p,
    [chips, post, pre]."""
    lr = CpuLearner(plan, "out", chips=chips)
    w = lr.layout.batch_weights({"p": np.full((chips, N_OUT, N_IN), start)}, chips)
    lr.state = lr.layout.new_state(chips, w)
    lr.layout.rules = lr.layout.rules._replace(upd=lr.layout.updates(**updates))
    lr.set_phase("train")
    inp = np.ones((1, STEPS, N_IN), np.uint8)
    label = np.zeros((1, STEPS, N_OUT), np.uint8)
    label[:, ::2, LABELLED] = 1
    for _ in range(samples):        # one call each: traces restart, so every sample is alike
        lr.present({"inp": inp, "l_label": label}, 1, STEPS, learn=True)
    return lr, np.stack([lr.layout.dense(w, "p") for w in lr.weights])


@pytest.fixture(scope="module")
def step_d(plan) -> float:
    """D: the update of one sample on a labelled synapse (all of them equal)."""
    _, w = _learn(plan, 1)
    d = w[0] - 0.5
    assert np.all(d[~LABELLED] == 0) and np.ptp(d[LABELLED]) == 0 and d[0, 0] > 0
    return float(d[0, 0])


def test_off_is_the_plain_update_and_counts_updates(plan, step_d):
    """sigma 0 without rounding: S samples add exactly S float updates; the update index
    is carried from one present call to the next."""
    lr, w = _learn(plan, 3, sigma=0.0, rounding=False)
    ref = 0.5
    for _ in range(3):
        ref = ref + step_d
    assert np.all(w[0][LABELLED] == ref)
    assert lr.state.nupd[0, 0] == 3
    lr.present({"inp": np.ones((1, STEPS, N_IN), np.uint8)}, 1, STEPS, learn=True)
    assert lr.state.nupd[0, 0] == 4


def test_stochastic_rounding_stays_on_grid_and_is_unbiased(plan, step_d):
    """With LSB = D / 0.35 every update is 0 or 1 LSB, up with probability 0.35: after S
    samples the change of a synapse is LSB * Binomial(S, 0.35), so the weights stay on the
    grid and the mean change over the synapses is S * D within 4 standard errors (round to
    nearest would give 0 and truncation 0)."""
    lsb, S = step_d / 0.35, 40
    _, w = _learn(plan, S, start=13 * lsb, rounding=True, lsb=[lsb], chip=2, seed=5)
    k = w[0] / lsb
    assert np.abs(k - np.rint(k)).max() < 1e-9
    change = (w[0][LABELLED] - 13 * lsb).ravel()
    assert set(np.rint(change / lsb).astype(int)) <= set(range(S + 1))
    se = lsb * np.sqrt(S * 0.35 * 0.65 / change.size)
    assert abs(change.mean() - S * step_d) < 4 * se
    assert change.std() == pytest.approx(lsb * np.sqrt(S * 0.35 * 0.65), rel=0.1)
    assert np.all(w[0][~LABELLED] == 13 * lsb)


def test_update_noise_has_the_requested_std(plan, step_d):
    """sigma 0.5 LSB per update: after S samples a labelled synapse is off the noiseless
    weight by a normal of std 0.5 * LSB * sqrt(S); synapses without updates get none."""
    lsb, S, sigma = 0.004, 30, 0.5
    _, ref = _learn(plan, S)
    _, w = _learn(plan, S, sigma=sigma, lsb=[lsb], seed=1, chip=0)
    r = ((w[0] - ref[0])[LABELLED] / (sigma * lsb * np.sqrt(S))).ravel()
    n = r.size
    assert abs(r.mean()) < 4 / np.sqrt(n)
    assert abs(r.std(ddof=1) - 1) < 4 / np.sqrt(2 * (n - 1))
    assert np.array_equal(w[0][~LABELLED], ref[0][~LABELLED])


def test_same_seed_and_chip_same_result_other_chip_or_seed_differs(plan):
    """Draws are a function of (seed, chip, projection, synapse, update index): a chip gives
    the same weights alone or in a batch; another chip or seed gives other weights."""
    kw = dict(sigma=0.7, rounding=True, lsb=[0.003])
    _, batch = _learn(plan, 4, chips=3, seed=[9, 9, 9], chip=[0, 1, 0], **kw)
    _, alone = _learn(plan, 4, seed=9, chip=1, **kw)
    _, other_seed = _learn(plan, 4, seed=10, chip=1, **kw)
    assert np.array_equal(batch[0], batch[2]) and np.array_equal(batch[1], alone[0])
    assert not np.array_equal(batch[0], batch[1])
    assert not np.array_equal(alone[0], other_seed[0])


def test_zero_gain_synapses_do_not_move(plan):
    """A synapse the device cannot change (gain 0) gets neither its update nor noise."""
    probe = CpuLearner(plan, "out").layout
    sl = probe.slices["p"]
    gain = np.ones((1, probe.w0.size))
    gain[0, sl.syn0:sl.syn0 + sl.nnz:2] = 0.0
    lr = CpuLearner(plan, "out", gain=gain)
    lr.layout.rules = lr.layout.rules._replace(upd=lr.layout.updates(sigma=2.0, lsb=[0.01]))
    lr.set_phase("train")
    label = np.zeros((2, STEPS, N_OUT), np.uint8)
    label[:, ::2] = 1
    lr.present({"inp": np.ones((2, STEPS, N_IN), np.uint8), "l_label": label}, 2, STEPS, True)
    w = lr.weights[0]
    moved = w[sl.syn0:sl.syn0 + sl.nnz] != 0.5
    assert not moved[::2].any() and moved[1::2].all()


def test_settings_need_a_weight_step(plan):
    lr = CpuLearner(plan, "out")
    with pytest.raises(BackendError, match="weight step"):
        lr.layout.updates(sigma=0.5)
    with pytest.raises(BackendError, match="weight step"):
        lr.layout.updates(rounding=True, lsb=[0.0])


STDP = """
neurodeploy: 1
name: stdp
populations:
  pre: {kind: spike_source, size: 2}
  post: {kind: lif, size: 2}
projections:
  p: {pre: pre, post: post, weights: {init: constant, value: 0.5}}
plasticity:
  s: {rule: stdp, projections: [p], learning_rate: 1.0}
"""


def test_fixed_point_learning_keeps_lavas_rounding(tmp_path: Path):
    """A fixed-point build learns with Lava's own stochastic rounding; the float settings
    are refused there."""
    net = parse_network(STDP, tmp_path / "net.yaml")
    fixed = load_plan(compile_network(net, load_profile("loihi2"), tmp_path / "b").out)
    lr = CpuLearner(fixed, "post")
    with pytest.raises(BackendError, match="fixed-point learning rounds as Lava does"):
        lr.layout.updates(rounding=True, lsb=[1.0])
