"""Weight mirror: a mirror phase aligns the learned feedback B with W^T.

A small network (24 hidden, 6 outputs) with random W and B = 0 runs one mirror phase of
noise spikes on the cpu learner, as ``train`` does after each epoch; the angle between B
and W^T must fall far below the 90 degrees of an unrelated matrix, and B must carry no
rank-one offset (the failure of an uncentred mirror statistic: B's mean swamps W's shape).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from neurodeploy.compiling import compile_network
from neurodeploy.compilers import load_plan
from neurodeploy.compilers.cpu.learner import CpuLearner
from neurodeploy.ir import parse_network
from neurodeploy.learning import metrics
from neurodeploy.profiles import load_profile

NET = """
neurodeploy: 1
name: mirror
seed: 5
populations:
  inp: {kind: spike_source, size: 8}
  h: {kind: lif, size: 24, params: {tau_syn: 2.0, tau_mem: 8.0, v_th: 1.0}}
  out: {kind: lif, size: 6, params: {tau_syn: 2.0, tau_mem: 4.0, v_th: 1.0}}
projections:
  in_h: {pre: inp, post: h, weights: {init: normal, std: 0.3}}
  h_out: {pre: h, post: out, weights: {init: normal, mean: -0.02, std: 0.15}}
plasticity:
  learn: {rule: weight_mirror, projections: [in_h, h_out], feedback: {init: constant, value: 0.0},
          mirror_rate: 0.001, decay: 0.0}
task: {input: inp, output: out, sample_steps: 20}
"""


def _mirror(learner: CpuLearner, steps: int, seed: int) -> None:
    """One mirror phase as ``Trainer._mirror`` presents it: noise spikes into the hidden
    layer, drive spikes every other step into the outputs."""
    rng = np.random.default_rng(seed)
    noise = (rng.random((1, steps, 24)) < 0.2).astype(np.uint8)
    drive = np.tile((np.arange(steps) % 2 == 0)[None, :, None], (1, 1, 6)).astype(np.uint8)
    learner.set_phase("mirror")
    learner.present({"learn_noise": noise, "learn_mirror_drive": drive}, 1, steps, learn=True)


def test_mirror_phase_aligns_feedback_with_w_transposed(tmp_path: Path):
    net = parse_network(NET, tmp_path / "net.yaml")
    plan = load_plan(compile_network(net, load_profile("cpu"), tmp_path / "build").out)
    learner = CpuLearner(plan, "out")
    lay = learner.layout
    w0 = lay.dense(learner.weights[0], "h_out")
    _mirror(learner, 20000, seed=1)
    w = learner.weights[0]
    b = lay.dense(w, "learn_fb_h")
    np.testing.assert_array_equal(lay.dense(w, "h_out"), w0)       # only B (and the drive) learn
    angle = metrics.angle_deg(b, w0)
    assert angle < 30.0, angle
    # no rank-one offset: B's mean is small next to its spread, as W's is
    assert abs(b.mean()) < 0.25 * b.std()
    rates = np.diag(lay.dense(w, "learn_drive_out"))
    assert np.ptp(rates) > 0.05                                    # the homeostat adapted each drive
