"""The conformance matrix, generated from the registries: every neuron kind x noise model x
backend x numerics either equals the cpu backend (bit-exact in fixed point, within FLOAT_TOL
in float) or is refused in one line naming the backend and the population or noise field.

The kind and the noise model of docs/extending.md (an adaptive LIF ``alif`` with a float
adaptation state, a spike-insertion noise) are registered from outside the package here,
by running that page's code, and join the matrix with no other change.
"""
from __future__ import annotations

import copy
import dataclasses
import importlib.util
import re
import sys
from pathlib import Path

import numpy as np
import pytest

import neurodeploy  # noqa: F401  (installs the Lava shim)
from neurodeploy import neurons, noise_models
from neurodeploy.compiling import compile_network
from neurodeploy.compilers import BACKENDS, get_backend, load_plan, make_inputs
from neurodeploy.compilers.capabilities import declared
from neurodeploy.errors import BackendError
from neurodeploy.ir import parse_network
from neurodeploy.profiles import load_profile

ROOT = Path(__file__).resolve().parents[1]
STEPS = 16
FLOAT_TOL = 1e-9
NUMERICS = {"fixed": "loihi2", "float": "cpu"}
NET = """
neurodeploy: 1
name: conform
seed: 3
populations:
  src: {{kind: spike_source, size: 6}}
  hid: {{kind: {kind}, size: 6, params: {{tau_syn: 3.0, tau_mem: 8.0, v_th: 1.0, bias: 0.05{beta}}}}}
  out: {{kind: lif, size: 3, params: {{tau_syn: 4.0, tau_mem: 10.0, v_th: 1.0}}}}
projections:
  s: {{pre: src, post: hid, connectivity: dense, weights: {{init: uniform, low: 0.1, high: 0.5}}}}
  b: {{pre: hid, post: out, connectivity: dense, weights: {{init: uniform, low: 0.1, high: 0.6}}, delay: 1}}
noise: {{membrane: {{sigma: 0.3, populations: [hid, out]}}, current: {{sigma: 0.2, populations: [hid, out]}},
        spike_drop: {{p: 0.3, populations: [hid]}}}}
variability: {{v_th: {{cv: 0}}, tau_mem: {{cv: 0}}, tau_syn: {{cv: 0}}, weights: {{cv: 0}},
              bias: {{sigma: 0}}, dead_fraction: 0, stuck_fraction: 0}}
monitors: [{{population: hid, var: spikes}}, {{population: out, var: spikes}},
           {{population: out, var: v}}]
run: {{steps: {steps}}}
"""


def _doc_module(tmp: Path):
    """docs/extending.md's Python blocks as one module (they register ``alif`` and
    ``spike_insert``); the cpu loop is imported first, as a running process would have."""
    import neurodeploy.neurons.cpu_dispatch  # noqa: F401
    text = (ROOT / "docs" / "extending.md").read_text()
    code = "\n\n".join(re.findall(r"```python\n(.*?)```", text, re.S))
    path = tmp / "nd_extending_example.py"
    path.write_text(code)
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def matrix(tmp_path_factory):
    """Base plans (all three built-in noise models on ``hid``) and the outside registrations."""
    tmp = tmp_path_factory.mktemp("conformance")
    example = _doc_module(tmp)
    base = {}
    for numerics, profile in NUMERICS.items():
        for kind, beta in (("lif", ""), ("stochastic", ", beta: 0.2")):
            if kind == "stochastic" and numerics == "fixed":
                continue        # refused at compile; the cell reuses the LIF build below
            out = tmp / f"{kind}-{numerics}"
            text = NET.format(kind=kind, beta=beta, steps=STEPS)
            compile_network(parse_network(text), load_profile(profile), out, force=True)
            base[numerics, kind] = load_plan(out)
    src = (np.random.default_rng(0).random((STEPS, 6)) < 0.5).astype(np.uint8)
    yield base, {"src.spikes": src}
    neurons.unregister(example.KIND.name)
    noise_models.unregister(example.INSERT.name)
    sys.modules.pop("nd_extending_example", None)


def _plan(base, numerics: str, kind: str, noise: tuple[str, ...]):
    """The cell's plan: ``hid`` of ``kind`` with only the noise models ``noise``."""
    plan = copy.deepcopy(base.get((numerics, kind), base[numerics, "lif"]))
    hid = plan.populations["hid"]
    hid.kind = kind
    hid.beta = hid.beta if hid.beta is not None else np.full(hid.size, 0.2)
    hid.theta_plus = 0.5                                # alif's parameter
    full = plan.noise
    plan.noise = {m: full.get(m, {"hid": {"p": 0.2}}) for m in noise}  # outside the IR: p
    return plan


def _expected(backend: str, numerics: str, kind: str, noise: str | None) -> str | None:
    """What the declarations say: None (runs) or a text the refusal must contain."""
    from neurodeploy.neurons.cpu_dispatch import COMPILED
    caps = get_backend(backend).capabilities
    k = neurons.KINDS[kind]
    if numerics not in caps.numerics:
        return "fixed-point builds run on cpu or lava" if backend == "brian2" else numerics
    if not k.runs_on(backend, "run") or numerics not in k.numerics:
        return f"'hid'.*{kind}|{kind}.*'hid'"
    if backend == "cpu" and (k.aux_dtype != "int" or kind not in COMPILED):
        return f"'hid'.*{kind}"
    if noise is not None:
        model = noise_models.MODELS[noise]
        if model.channel not in caps.noise_channels["run"] or (
                model.needs_membrane and not k.has_membrane):
            return f"noise\\.{noise}"
    return None


def _same(got: dict, want: dict, fixed: bool, cell: str) -> None:
    assert set(got) == set(want), cell
    for key in want:
        if fixed or key.endswith(".spikes"):
            np.testing.assert_array_equal(got[key], want[key], err_msg=f"{cell} {key}")
        else:
            np.testing.assert_allclose(got[key], want[key], rtol=0, atol=FLOAT_TOL,
                                       err_msg=f"{cell} {key}")


def test_matrix(matrix):
    """Each cell is checked against the declarations; the cpu runs every cell that it
    runs, and Lava and Brian2 run, per kind and numerics, ONE plan holding every noise model
    of their running cells at once (one Lava runtime per numerics), compared with the cpu's
    run of that plan: a model a backend dropped would change its result, as every model
    changes the cpu's (asserted below)."""
    base, given = matrix
    assert {"alif", "lif", "graded", "stochastic"} <= set(neurons.KINDS)
    assert {"spike_insert", "membrane", "current", "spike_drop"} <= set(noise_models.MODELS)
    cells = [(b, n, k, m) for b in BACKENDS for n in NUMERICS for k in neurons.KINDS
             for m in [None, *noise_models.MODELS]]
    inputs = None
    outcome: dict = {}
    groups: dict = {}
    for cell in cells:
        backend, numerics, kind, noise = cell
        plan = _plan(base, numerics, kind, (noise,) if noise else ())
        want = _expected(*cell)
        if want is not None:
            with pytest.raises(BackendError) as err:
                get_backend(backend).check(plan)
            msg = str(err.value)
            assert "\n" not in msg and f"backend '{backend}' refuses" in msg, (cell, msg)
            assert re.search(want, msg), (cell, msg)
            outcome[cell] = "refused"
            continue
        get_backend(backend).check(plan)
        inputs = inputs or make_inputs(plan, STEPS, given)
        groups.setdefault((backend, numerics, kind), set()).update((noise,) if noise else ())
        outcome[cell] = "ran"
    assert len(outcome) == len(cells)
    cpu = get_backend("cpu")
    solo = {(n, k, m): cpu.run(_plan(base, n, k, (m,) if m else ()), inputs, STEPS).data
            for (b, n, k, m), o in outcome.items() if b == "cpu" and o == "ran"}
    for numerics in NUMERICS:       # every model changes the cpu's output: none is inert
        clean = solo[numerics, "lif", None]
        for noise in ("membrane", "current", "spike_drop"):
            noisy = solo[numerics, "lif", noise]
            assert any(not np.array_equal(noisy[k], clean[k]) for k in clean), (numerics, noise)
    for backend in ("lava", "brian2"):
        for numerics in NUMERICS:
            keys = [g for g in groups if g[:2] == (backend, numerics)]
            plans = [_plan(base, numerics, kind, tuple(sorted(groups[b, n, kind])))
                     for b, n, kind in keys]
            if backend == "lava" and plans:     # one Lava runtime for this numerics
                got = [r.data for r in get_backend("lava").run_many(
                    [(p, inputs) for p in plans], STEPS)]
            else:
                got = [get_backend(backend).run(p, inputs, STEPS).data for p in plans]
            for key, plan, data in zip(keys, plans, got):
                _same(data, cpu.run(plan, inputs, STEPS).data, numerics == "fixed", str(key))
    ran = {c for c, o in outcome.items() if o == "ran"}
    # the declarations are not vacuous: each backend runs LIF with every built-in noise model
    for backend in BACKENDS:
        for noise in (None, "membrane", "current", "spike_drop"):
            assert (backend, "float", "lif", noise) in ran
    assert ("lava", "fixed", "lif", "spike_drop") in ran
    assert ("lava", "float", "stochastic", "current") in ran
    assert ("cpu", "fixed", "graded", "spike_drop") in ran
    # the outside kind and noise model are refused by every backend (none declares them)
    assert not any(c[2] == "alif" or c[3] == "spike_insert" for c in ran)


def test_declarations_are_generated_from_the_registries(matrix):
    cpu = declared(get_backend("cpu").capabilities)
    assert "alif" in cpu["kinds"]["run"] and "graded" in cpu["kinds"]["run"]
    assert "spike_insert" not in cpu["noise"]["run"]
    lava = declared(get_backend("lava").capabilities)
    assert lava["kinds"]["run"] == ["lif", "stochastic"]
    assert set(lava["kinds"]["learn"]) == {"lif", "graded", "stochastic"}
    assert lava["noise"]["learn"] == [] and "batch" not in lava["modes"]
    brian2 = declared(get_backend("brian2").capabilities)
    assert brian2["numerics"] == ["float"]


def test_a_claimed_translation_the_backend_lacks_is_refused(matrix):
    """A kind whose ``backends`` claims Lava and Brian2 is refused by them by name (their
    builders do not translate it), never built as a LIF; the cpu refuses it as registered
    after its loop compiled."""
    base, _ = matrix
    claim = neurons.register(dataclasses.replace(
        neurons.KINDS["alif"], name="alif_claims", code=8, aux_dtype="int",
        backends={b: ("run", "learn") for b in BACKENDS}))
    try:
        plan = _plan(base, "float", claim.name, ())
        for backend in ("lava", "brian2"):
            with pytest.raises(BackendError, match=f"'hid' has kind 'alif_claims', which "
                                                   f"claims a {backend} translation"):
                get_backend(backend).check(plan)
        with pytest.raises(BackendError, match="'hid' has kind 'alif_claims', registered "
                                               "after the cpu loop was compiled"):
            get_backend("cpu").check(plan)
    finally:
        neurons.unregister(claim.name)


def test_ir_and_profile_noise_come_from_the_registry(tmp_path):
    """The IR's noise block has one field per built-in model, and a profile naming an
    unregistered noise source is refused with the field and the registered names."""
    from neurodeploy.errors import ProfileError
    from neurodeploy.ir.models import Noise
    assert set(noise_models.BUILTIN) <= set(Noise.model_fields)
    cpu = ROOT / "hw_profiles" / "cpu.yaml"
    text = cpu.read_text()
    assert "sources: [membrane, current, spike_drop]" in text
    bad = tmp_path / "bad.yaml"
    bad.write_text(text.replace("sources: [membrane, current, spike_drop]",
                                "sources: [membrane, burst]"))
    with pytest.raises(ProfileError, match=r"noise\.sources\[1\]: unknown value 'burst'; "
                                           "registered noise models: membrane, current"):
        load_profile(str(bad))
