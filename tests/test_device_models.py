"""Analog targets learn through a device model: pulse arithmetic, profiles, report, refusals."""
from __future__ import annotations

from collections import namedtuple
from pathlib import Path

import numpy as np
import pytest

from neurodeploy.compilers.cpu import device_update as D
from neurodeploy.errors import NeurodeployError
from neurodeploy.learning.device_models import CODES, describe, resolved
from neurodeploy.profiles import load_profile

ROOT = Path(__file__).resolve().parents[1]
Rules = namedtuple("Rules", "dev gain upd q_wmin q_wmax")
Upd = namedtuple("Upd", "pid sid")
St = namedtuple("St", "nupd")


def _pulses(model: str, w0: np.ndarray, dw: np.ndarray, *, levels: int = 16, bound: float = 1.5,
            up_down: float = 0.0, g: tuple = (0.0, 0.0), noise: float = 0.0, chip: int = 0,
            updates: int = 1) -> np.ndarray:
    """Weights after ``updates`` updates ``dw`` written by device pulses (one rule)."""
    n = w0.size
    dev = D.Device(np.array([CODES[model]]), np.array([bound]),
                   np.array([bound / (levels - 1)]), np.array([up_down]), np.array([g[0]]),
                   np.array([g[1]]), np.zeros(1), np.zeros(1), np.array([noise]),
                   np.array([31]), np.ones((1, n)), np.ones((1, n)), np.array([3]),
                   np.array([chip]))
    rules = Rules(dev, np.ones((1, n)), Upd(np.array([77]), np.arange(n)),
                  np.array([-np.inf]), np.array([np.inf]))
    st = St(np.zeros((1, 1), np.int64))
    w = np.array(w0, np.float64)
    for _ in range(updates):
        dwb = np.array(dw, np.float64)
        D.write_pulses(0, 0, 0, n, rules, st, w, 0, dwb, np.arange(n), np.ones(n, np.uint8))
    assert st.nupd[0, 0] == updates
    return w


def test_constant_step_keeps_the_level_grid_and_the_mean_update():
    g = 1.5 / 15
    w = _pulses("constant_step", np.zeros(20000), np.full(20000, 0.3 * g))
    k = w / g
    assert np.allclose(k, np.rint(k))                       # on the differential-pair grid
    assert set(np.unique(np.rint(k))) == {0.0, 1.0}
    assert np.mean(w) == pytest.approx(0.3 * g, rel=0.05)   # stochastic pulses: unbiased
    big = _pulses("constant_step", np.zeros(3), np.array([100.0, -100.0, 2.0 * g]))
    assert np.allclose(big, [1.5, -1.5, 2 * g])             # bounded, and cut at 31 pulses


def test_asymmetric_nonlinear_steps():
    g = 1.5 / 15
    up = _pulses("constant_step", np.zeros(1), np.array([g]), up_down=-0.2)
    down = _pulses("constant_step", np.zeros(1), np.array([-g]), up_down=-0.2)
    assert up[0] == pytest.approx(0.8 * g) and down[0] == pytest.approx(-1.2 * g)
    # soft bounds: the step shrinks as the weight nears its bound, and never crosses it
    near = _pulses("soft_bounds", np.array([0.0, 0.75, 1.5]), np.full(3, g))
    assert near - [0.0, 0.75, 1.5] == pytest.approx([g, 0.5 * g, 0.0])
    # pow_step (1 - x)^gamma up, (1 + x)^gamma down
    x = 0.5
    p = _pulses("pow_step", np.array([0.75, 0.75]), np.array([g, -g]), g=(2.0, 1.0))
    assert p - 0.75 == pytest.approx([g * (1 - x) ** 2, -g * (1 + x)])
    assert D.step_factor(CODES["exp_step"], True, 0.0, 1.0, 1.0, 0.5, 0.5) == pytest.approx(0.5)
    assert D.step_factor(CODES["linear_step"], False, -1.0, 0.0, 2.0, 0, 0) == 0.0


def test_write_noise_is_per_pulse_and_reproducible_per_chip():
    g = 1.5 / 15
    w0 = np.zeros(5000)
    a = _pulses("constant_step", w0, np.full(5000, g), noise=0.3)
    assert np.std(a / g) == pytest.approx(0.3, rel=0.1) and np.mean(a / g) == pytest.approx(1, abs=0.02)
    assert np.array_equal(a, _pulses("constant_step", w0, np.full(5000, g), noise=0.3))
    assert not np.array_equal(a, _pulses("constant_step", w0, np.full(5000, g), noise=0.3, chip=1))


def test_profiles_declare_their_device_model():
    mem = resolved(load_profile(ROOT / "hw_profiles" / "memristive.yaml"))
    ms = resolved(load_profile(ROOT / "hw_profiles" / "mixed_signal.yaml"))
    assert mem["model"] == "pow_step" and mem["levels"] == 16 and mem["up_down"] != 0
    assert ms["model"] == "constant_step" and ms["levels"] == 16 and ms["write_noise"] == 0
    assert "pow_step" in describe(mem)
    assert resolved(load_profile("loihi2")) is None


def test_a_device_on_a_fixed_point_profile_is_refused(tmp_path):
    path = tmp_path / "fixed_dev.yaml"
    path.write_text("name: fixed_dev\nextends: loihi2\nlearning:\n  device: {model: soft_bounds, "
                    "levels: 8}\n")
    with pytest.raises(NeurodeployError) as err:
        load_profile(path)
    assert "learning.device" in str(err.value) and "\n" not in str(err.value)
    path.write_text("name: bad_dev\nextends: memristive\nlearning:\n  device: {model: step}\n")
    with pytest.raises(NeurodeployError) as err:
        load_profile(path)
    assert "model" in str(err.value)


SMALL = """
neurodeploy: 1
name: devnet
seed: 2
populations:
  input:  {kind: spike_source, size: 64}
  hidden: {kind: lif, size: 30, params: {tau_syn: 2.0, tau_mem: 8.0}}
  output: {kind: lif, size: 3, params: {tau_syn: 2.0, tau_mem: 4.0}}
projections:
  in_hid:  {pre: input, post: hidden, weights: {init: normal, std: 0.15}}
  hid_out: {pre: hidden, post: output, weights: {init: normal, std: 0.05}}
plasticity:
  learn: {rule: feedback_alignment, projections: [in_hid, hid_out], learning_rate: 0.0001}
task: {input: input, output: output, encoding: regular, max_rate: 0.5, sample_steps: 20}
"""


def test_training_on_an_analog_profile_writes_through_its_device(tmp_path, capsys):
    from neurodeploy.cli import main
    net = tmp_path / "net.yaml"
    net.write_text(SMALL)
    prof = tmp_path / "grid.yaml"
    prof.write_text("name: grid\nextends: memristive\nlearning:\n  device: {model: "
                    "constant_step, levels: 4, bound: 1.5, "
                    "up_down: 0, step_dtod: 0, write_noise: 0}\nvariability: {weights_cv: 0, "
                    "stuck_fraction: 0, v_th_cv: 0, write_noise: 0, drift_nu: 0}\n")
    out = tmp_path / "build"
    code = main(["train", str(net), "--profile", str(prof), "--epochs", "1", "--classes",
                 "0,1,2", "--train-samples", "60", "--test-samples", "30", "-o", str(out)])
    assert code in (0, None)
    captured = capsys.readouterr()
    assert "learning through profile grid's device model constant_step, 4 levels" in captured.err
    assert "(constant_step device)" in captured.out
    w = np.load(out / "training" / "weights" / "in_hid.npy")
    assert np.unique(w).size <= 2 * 4 - 1               # a differential pair of 4-level devices
    assert "device model constant_step" in (out / "report.txt").read_text()


def test_only_the_cpu_learner_writes_through_devices():
    from neurodeploy.errors import BackendError
    from neurodeploy.learning.device_models import attach
    dev = resolved(load_profile(ROOT / "hw_profiles" / "memristive.yaml"))
    manifest = {"profile": {"name": "memristive"}, "plasticity": {"learn": {"device": dev}}}
    with pytest.raises(BackendError) as err:
        attach(None, manifest, "lava", 0, [0], print)
    assert "memristive" in str(err.value) and "--backend cpu" in str(err.value)
    assert attach(None, {"plasticity": {"learn": {"device": None}}}, "lava", 0, [0], print) is False


def test_a_device_build_learns_through_its_device_on_any_cpu_learner(tmp_path):
    """get_learner on a memristive build: cpu programs the device grid, Lava is refused."""
    from neurodeploy.compiling import compile_network
    from neurodeploy.compilers.plan import load_plan
    from neurodeploy.errors import BackendError
    from neurodeploy.ir import parse_network
    from neurodeploy.learning.learners import get_learner
    prof = load_profile(ROOT / "hw_profiles" / "memristive.yaml")
    compile_network(parse_network(SMALL, "net.yaml"), prof, tmp_path / "b")
    plan = load_plan(tmp_path / "b").nominal()           # the mismatch-free chip
    learner = get_learner("cpu", plan, "output")
    assert learner.layout.rules.dev.kind.tolist() == [CODES["pow_step"]] * 2
    in_hid = learner.layout.dense(learner.weights[0], "in_hid")
    g = learner.layout.rules.dev.dw_min[learner.layout.rule_names.index("in_hid")]
    assert np.allclose(in_hid / g, np.rint(in_hid / g))
    with pytest.raises(BackendError, match="learning.device"):
        get_learner("lava", plan, "output")
