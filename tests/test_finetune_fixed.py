"""`validate --finetune` on a loihi2 build that learned in fixed point: every chip
fine-tunes with its own quantized rule in the learning engine's arithmetic, reproducibly
per seed and chip."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from neurodeploy.cli import main
from neurodeploy.validation import finetune as F

from .test_finetune import NET, PLASTIC, _chips, data  # noqa: F401  (data is a fixture)


@pytest.fixture(scope="module")
def fixed_build(tmp_path_factory, data) -> Path:  # noqa: F811
    """The 3-class network trained for 1 epoch in loihi2's fixed point."""
    tmp = tmp_path_factory.mktemp("ftfixed")
    net = tmp / "net.yaml"
    net.write_text(NET.replace("PLASTICITY", PLASTIC))
    out = tmp / "build"
    assert main(["train", str(net), "--profile", "loihi2", "--epochs", "1", "--data",
                 str(data), "-o", str(out)]) == 0
    return out


def test_fixed_finetune_is_deterministic_per_seed_and_chip(fixed_build, data):  # noqa: F811
    """Integer weights that move; the same seed gives the same weights, a chip learns the
    same alone as in a batch, another seed gives others; the quantized rules of the cached
    build plan are not rewritten by the learning-rate schedule."""
    setup = F.learn_setup(str(fixed_build), str(data), 40, 3)
    assert setup.plan.fixed
    stored = json.dumps(setup.plan.plasticity, sort_keys=True, default=str)
    chips = _chips(fixed_build, {"variability.weights.cv": 0.3}, 3)
    lay, w = F.finetune(setup, chips, 2, 3)
    assert w.dtype.kind == "i"
    _, again = F.finetune(setup, chips, 2, 3)
    np.testing.assert_array_equal(w, again)
    _, alone = F.finetune(setup, chips[1:2], 2, 3)
    np.testing.assert_array_equal(w[1], alone[0])
    _, other = F.finetune(setup, chips, 2, 4)
    assert not np.array_equal(w, other)
    _, w0, _ = F.stack_chips(lay, setup.plan, chips, lay.rule_names)
    sl = lay.slices["in_hid"]
    assert np.count_nonzero(w[:, sl.syn0:sl.syn0 + sl.nnz] != w0[:, sl.syn0:sl.syn0 + sl.nnz])
    assert json.dumps(setup.plan.plasticity, sort_keys=True, default=str) == stored
    tuned = F.tuned_plan(setup.plan, chips[0], lay, w[0])
    assert tuned.projections["in_hid"].weights.dtype == setup.plan.projections["in_hid"].weights.dtype


def test_fixed_finetune_runs_from_the_cli(fixed_build, data, tmp_path, capsys):  # noqa: F811
    """validate --finetune on the loihi2 build: before and after figures for every chip."""
    out = tmp_path / "v"
    assert main(["validate", str(fixed_build), "--data", str(data), "-o", str(out), "-q",
                 "--chips", "2", "--finetune", "--set", "variability.weights.cv=0.3"]) == 0
    assert "fine-tuning: mean accuracy" in capsys.readouterr().out
