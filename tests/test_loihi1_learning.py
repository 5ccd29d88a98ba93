"""Loihi 1 learns what its engine can express (STDP in fixed point) and refuses the
error-driven rules, which need a graded third factor it does not have, naming the field."""
from __future__ import annotations

import numpy as np
import pytest

from neurodeploy.compiling import compile_network
from neurodeploy.compilers.plan import load_plan
from neurodeploy.errors import CompileError
from neurodeploy.ir import parse_network
from neurodeploy.learning.learners import get_learner
from neurodeploy.profiles import load_profile
from neurodeploy.task import encode_samples

from .test_stdp_fixed import NET

ERROR_NET = """
neurodeploy: 1
name: err
populations:
  input:  {kind: spike_source, size: 8}
  hidden: {kind: lif, size: 6}
  output: {kind: lif, size: 3}
projections:
  in_hid:  {pre: input, post: hidden, weights: {init: normal, std: 0.3}}
  hid_out: {pre: hidden, post: output, weights: {init: normal, std: 0.3}}
plasticity:
  learn: {rule: RULE, projections: [in_hid, hid_out], learning_epoch: 1}
task: {input: input, output: output, encoding: regular, max_rate: 0.5, sample_steps: 10}
"""


def _learn(tmp_path, profile: str) -> tuple[np.ndarray, np.ndarray]:
    compile_network(parse_network(NET.format(seed=4, mean=0.3, delay=0), "net.yaml"),
                    load_profile(profile), tmp_path / profile)
    learner = get_learner("cpu", load_plan(tmp_path / profile), "output")
    learner.set_phase("train")
    w0 = learner.weights.copy()
    rng = np.random.default_rng(4)
    for k in range(2):
        x = {"input": encode_samples(rng.random((5, 12)), 20, 0.5, "rate", 4 + k)}
        learner.present(x, 5, 20, learn=True)
    return w0, learner.weights.copy()


def test_stdp_learns_in_fixed_point_on_loihi1(tmp_path):
    """Same learning engine arithmetic as Loihi 2 for STDP: the same integer weights."""
    w0, w1 = _learn(tmp_path, "loihi1")
    assert w1.dtype.kind == "i" and np.abs(w1 - w0).max() > 0, "weights must learn"
    assert np.array_equal(w1, _learn(tmp_path, "loihi2")[1])


@pytest.mark.parametrize("rule", ["feedback_alignment", "dfa", "kolen_pollack", "sal"])
def test_error_driven_rules_are_refused_with_the_reason(rule):
    with pytest.raises(CompileError) as err:
        compile_network(parse_network(ERROR_NET.replace("RULE", rule), "net.yaml"),
                        load_profile("loihi1"), None)
    msg = str(err.value)
    assert tuple(err.value.path) == ("plasticity", "learn", "rule")
    assert "no graded third factor" in msg and "\n" not in msg
