"""Learning workload per training sample (synaptic operations, learning updates)."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from neurodeploy.compiling import compile_network
from neurodeploy.compilers.plan import load_plan
from neurodeploy.ir import parse_network
from neurodeploy.learning import workload
from neurodeploy.profiles import load_profile

from .test_device_models import SMALL


@pytest.mark.parametrize("epoch", [1, 5, 20])
def test_learning_updates_count_every_plastic_synapse_per_epoch(tmp_path, epoch):
    text = SMALL.replace("learning_rate: 0.0001}", f"learning_rate: 0.0001, learning_epoch: {epoch}}}")
    compile_network(parse_network(text, "net.yaml"), load_profile("cpu"), tmp_path / "b")
    plan = load_plan(tmp_path / "b")
    block = plan.plasticity["learn"]
    got = workload.learning_updates_per_sample(plan, block, 20)
    assert got == (64 * 30 + 30 * 3) * 20 / epoch       # in_hid + hid_out, fixed B not counted
    learner = SimpleNamespace(synops=1500.0)
    out = workload.summary(learner, 300.0, 4, plan, block, 20)
    assert out["synaptic_operations_per_sample"] == 300.0
