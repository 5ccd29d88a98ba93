"""Builds and profiles mean what they say (issue 10).

* absurd profile values are refused when the profile loads, with the field path;
* fixed-point widths the simulators cannot honour are refused at compile, naming the field,
  its line and the reason; narrower widths they do honour compile and stay bit-exact;
* every backend refuses a build whose fixed-pattern mismatch it would ignore, and explicit
  zeros in the network's ``variability`` block are kept;
* a quantization that destroys a projection is a warning in the report and on the terminal;
* ``profiles show`` takes paths, unknown names get a hint, the schema is exported and every
  field is documented in docs/profiles.md.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from neurodeploy.cli import main
from neurodeploy.compiling import compile_network
from neurodeploy.compilers import get_backend, load_plan, make_inputs
from neurodeploy.errors import BackendError, CompileError, ProfileError
from neurodeploy.ir import parse_network
from neurodeploy.profiles import HardwareProfile, load_profile, profile_schema

ROOT = Path(__file__).resolve().parent.parent


def write_profile(tmp_path: Path, body: str, name: str = "my_chip.yaml") -> Path:
    path = tmp_path / name
    path.write_text(f"name: my_chip\nextends: loihi2\n{body}\n")
    return path


def small_net(extra: str = "", fan_in: int = 20) -> str:
    return (f"neurodeploy: 1\nname: small\nseed: 3\npopulations:\n"
            f"  a: {{kind: poisson, size: {fan_in}, rate: 200.0}}\n"
            f"  b: {{kind: lif, size: 12, params: {{tau_syn: 4.0, tau_mem: 16.0, v_th: 1.0}}}}\n"
            f"projections:\n  p: {{pre: a, post: b, connectivity: dense, "
            f"weights: {{init: uniform, low: 0.0, high: 0.6}}}}\n"
            f"monitors: [{{population: b, var: spikes}}, {{population: b, var: v}}]\n"
            f"run: {{steps: 60}}\n{extra}")


def all_fields(model: type, prefix: str = "") -> list[str]:
    """Dotted paths of every field of a profile model, sections included."""
    out = []
    for name, field in model.model_fields.items():
        out.append(prefix + name)
        ann = field.annotation
        if isinstance(ann, type) and hasattr(ann, "model_fields"):
            out += all_fields(ann, prefix + name + ".")
    return out


# --------------------------------------------------------------------------- absurd values
@pytest.mark.parametrize("body, path, says", [
    ("weights: {bits: 64}", "weights.bits", "less than or equal to 16"),
    ("weights: {levels: 1}", "weights.levels", "greater than or equal to 2"),
    ("cores: {cores_per_chip: 0}", "cores.cores_per_chip", "greater than 0"),
    ("cores: {max_chips: 0}", "cores.max_chips", "greater than 0"),
    ("cores: {neurons_per_core: 100000000000000}", "cores.neurons_per_core", "less than or equal"),
    ("cores: {bytes_per_neuron: .inf}", "cores.bytes_per_neuron", "finite"),
    ("cores: {bits_per_synapse_dense: .nan}", "cores.bits_per_synapse_dense", "finite"),
    ("variability: {bias_sigma: .inf}", "variability.bias_sigma", "finite"),
    ("variability: {update_noise: .inf}", "variability.update_noise", "finite"),
    ("neuron: {threshold_shift: 100}", "neuron.threshold_shift", "less than or equal to 16"),
    ("neuron: {decay_bits: 40}", "neuron.decay_bits", "less than or equal to 32"),
    ("neuron: {state_bits: 8.5}", "neuron.state_bits", "integer"),
    ("neuron: {bias_exp_range: [0, 1000]}", "neuron.bias_exp_range", "less than or equal to 32"),
    ("weights: {exp_range: [-100, 0]}", "weights.exp_range", "greater than or equal to -32"),
    ("delays: {max: 1000000000}", "delays.max", "less than or equal"),
    ("learning: {epoch_steps: 0}", "learning.epoch_steps", "greater than 0"),
])
def test_absurd_values_are_refused_when_the_profile_loads(tmp_path: Path, body, path, says):
    prof = write_profile(tmp_path, body)
    with pytest.raises(ProfileError) as info:
        load_profile(prof)
    msg = str(info.value)
    assert f"my_chip.yaml:3: {path}" in msg and says in msg, msg


def test_threshold_must_fit_the_state(tmp_path: Path):
    prof = write_profile(tmp_path, "neuron: {threshold_bits: 20}")
    with pytest.raises(ProfileError, match=r"threshold_bits \+ threshold_shift \(20 \+ 6\) must be "
                                           r"below neuron.state_bits \(24\)"):
        load_profile(prof)


def test_absurd_value_through_the_cli_exits_1(tmp_path: Path, capsys):
    prof = write_profile(tmp_path, "cores: {bytes_per_neuron: .inf}")
    assert main(["profiles", "show", str(prof)]) == 1
    err = capsys.readouterr().err
    assert "cores.bytes_per_neuron: must be a finite number" in err and "internal" not in err


def test_builtin_profiles_load_and_compile_for_a_small_network():
    for name in ("loihi2", "loihi1", "cpu"):
        compile_network(parse_network(small_net()), load_profile(name), None)


# --------------------------------------------------------------------------- fixed-point widths
@pytest.mark.parametrize("body, path, value", [
    ("neuron: {state_bits: 31}", ("neuron", "state_bits"), "31"),
    ("neuron: {decay_bits: 20}", ("neuron", "decay_bits"), "20"),
    ("neuron: {threshold_shift: 4}", ("neuron", "threshold_shift"), "4"),
    ("neuron: {activation_shift: 5}", ("neuron", "activation_shift"), "5"),
    ("neuron: {bias_mant_bits: 16}", ("neuron", "bias_mant_bits"), "16"),
    ("neuron: {bias_exp_range: [0, 9]}", ("neuron", "bias_exp_range"), "[0, 9]"),
    ("weights: {bits: 12}", ("weights", "bits"), "12"),
    ("weights: {exp_range: [-10, 7]}", ("weights", "exp_range"), "[-10, 7]"),
])
def test_fixed_point_widths_the_simulators_cannot_honour_are_refused(tmp_path: Path, body,
                                                                     path, value):
    prof = write_profile(tmp_path, body)
    profile = load_profile(prof)  # a valid profile: describing such a chip is allowed
    with pytest.raises(CompileError) as info:
        compile_network(parse_network(small_net()), profile, tmp_path / "build")
    err = info.value
    assert err.file == str(prof) and err.path == path and err.line == 3
    assert f"is {value}" in err.message and "numerics: float" in err.message
    assert not (tmp_path / "build").exists()


def test_fixed_point_refusal_through_the_cli(tmp_path: Path, capsys):
    prof = write_profile(tmp_path, "neuron:\n  decay_bits: 20\n  state_bits: 31")
    (tmp_path / "net.yaml").write_text(small_net())
    code = main(["compile", str(tmp_path / "net.yaml"), "-p", str(prof), "-o", str(tmp_path / "b")])
    err = capsys.readouterr().err
    assert code == 1 and "my_chip.yaml:5: neuron.state_bits: profile my_chip: is 31" in err
    assert "(also neuron.decay_bits)" in err


def test_narrower_widths_compile_and_stay_bit_exact_on_cpu_and_lava(tmp_path: Path):
    prof = write_profile(tmp_path, "neuron: {threshold_bits: 12, bias_mant_bits: 10, "
                                   "activation_bits: 20}\n"
                                   "weights: {bits: 6, exp_range: [-4, 4]}")
    build = tmp_path / "b"
    result = compile_network(parse_network(small_net()), load_profile(prof), build)
    proj = result.manifest["projections"]["p"]
    assert proj["num_weight_bits"] == 6 and -4 <= proj["weight_exp"] <= 4
    vth = result.manifest["populations"]["b"]["params"]["vth"]
    assert 0 < vth < 2**12
    plan = load_plan(build)
    inputs = make_inputs(plan, 60)
    cpu = get_backend("cpu").run(plan, inputs, 60)
    lava = get_backend("lava").run(plan, inputs, 60)
    assert cpu["b.spikes"].sum() > 0
    for key in ("b.spikes", "b.v"):
        np.testing.assert_array_equal(cpu[key], lava[key])


def test_other_neuron_widths_run_on_cpu_as_the_reference_and_lava_refuses(tmp_path: Path):
    """decay_bits, state_bits and shifts come from the build's neuron_model: a chip with
    10-bit decays, a 20-bit state and 4-bit shifts runs bit-exactly as the NumPy reference
    says, differs from the loihi2 build, and Lava (Loihi 2's widths only) refuses it."""
    from neurodeploy.compilers.cpu.reference import simulate
    from neurodeploy.errors import BackendError
    prof = write_profile(tmp_path, "neuron: {decay_bits: 10, state_bits: 20, "
                                   "threshold_shift: 4, activation_shift: 4, "
                                   "threshold_bits: 12}")
    runs = {}
    for name, profile in (("mine", load_profile(prof)), ("loihi2", load_profile("loihi2"))):
        build = tmp_path / name
        result = compile_network(parse_network(small_net()), profile, build)
        plan = load_plan(build)
        inputs = make_inputs(plan, 80)
        runs[name] = cpu = get_backend("cpu").run(plan, inputs, 80)
        ref = simulate(plan, inputs, 80)
        assert cpu["b.spikes"].sum() > 0
        for key in ("b.spikes", "b.v"):
            np.testing.assert_array_equal(cpu[key], ref[key])
    assert result.manifest["neuron_model"]["decay_bits"] == 12
    assert load_plan(tmp_path / "mine").neuron_model["decay_bits"] == 10
    assert not np.array_equal(runs["mine"]["b.v"], runs["loihi2"]["b.v"])
    with pytest.raises(BackendError, match=r"decay_bits 10 \(Lava: 12\).*--backend cpu"):
        get_backend("lava").run(load_plan(tmp_path / "mine"), make_inputs(plan, 10), 10)


# --------------------------------------------------------------------------- variability
def mismatch_build(tmp_path: Path, variability: str = "") -> Path:
    out = tmp_path / ("b" + str(abs(hash(variability))))
    compile_network(parse_network(small_net(variability, fan_in=30)),
                    load_profile("mixed_signal"), out)
    return out


def test_explicit_zeros_are_kept_and_bias_sigma_follows_the_profile(tmp_path: Path):
    defaults = load_profile("mixed_signal").variability
    assert defaults.dead_fraction > 0 and defaults.bias_sigma > 0  # the case is meaningful
    eff = lambda v: compile_network(parse_network(small_net(v, fan_in=30)),  # noqa: E731
                                    load_profile("mixed_signal"), None).manifest["variability"]["effective"]
    unset = eff("")
    assert unset["dead_fraction"] == defaults.dead_fraction
    assert unset["bias_sigma"] == defaults.bias_sigma
    zero = eff("variability: {dead_fraction: 0.0, stuck_fraction: 0.0, bias: {sigma: 0.0}}\n")
    assert zero["dead_fraction"] == 0.0 and zero["stuck_fraction"] == 0.0
    assert zero["bias_sigma"] == 0.0
    assert eff("variability: {bias: {sigma: 0.2}}\n")["bias_sigma"] == 0.2


@pytest.mark.parametrize("backend", ["cpu", "lava", "brian2"])
def test_every_backend_refuses_mismatch_it_would_ignore(tmp_path: Path, backend: str):
    plan = load_plan(mismatch_build(tmp_path))
    runner = get_backend(backend)
    reason = runner.refuse_reason(plan)
    assert reason and "fixed-pattern mismatch" in reason and "dead_fraction=" in reason
    assert "dead_fraction: 0" in reason  # the block that would lift it
    with pytest.raises(BackendError, match="fixed-pattern mismatch"):
        runner.check(plan)
    assert runner.refuse_reason(plan.nominal()) is None
    plan.mismatch_applied = True
    assert runner.refuse_reason(plan) is None


def test_the_suggested_zeros_lift_the_refusal(tmp_path: Path, capsys):
    build = mismatch_build(tmp_path)
    assert main(["simulate", str(build), "-o", str(tmp_path / "o.npz")]) == 1
    err = capsys.readouterr().err
    block = re.search(r"write (variability: \{.*\}) in the network", err).group(1)
    zeroed = mismatch_build(tmp_path, block + "\n")
    assert get_backend("cpu").refuse_reason(load_plan(zeroed)) is None
    assert main(["simulate", str(zeroed), "-o", str(tmp_path / "o.npz")]) == 0


def test_builds_without_mismatch_are_not_refused(tmp_path: Path):
    build = tmp_path / "b"
    compile_network(parse_network(small_net()), load_profile("loihi2"), build)
    assert get_backend("cpu").refuse_reason(load_plan(build)) is None


# --------------------------------------------------------------------------- destroyed projections
def destroyed_net() -> str:
    return small_net().replace(
        "projections:\n",
        "  c: {kind: spike_source, size: 5}\nprojections:\n"
        "  tiny: {pre: c, post: b, weights: {init: normal, std: 0.0000001}}\n")


def test_quantization_that_destroys_a_projection_is_a_warning_everywhere(tmp_path: Path, capsys):
    result = compile_network(parse_network(destroyed_net()), load_profile("loihi2"), None)
    warning = [w for w in result.warnings if "destroys" in w]
    assert len(warning) == 1 and warning[0].startswith("projections.tiny.weights:")
    assert "all 60 weights became 0" in warning[0]  # 5 x 12 synapses
    assert result.report["projections"]["tiny"]["destroyed"] is True
    assert "destroyed" not in result.report["projections"]["p"]
    assert "projections.tiny.weights: quantization destroys" in result.report_txt
    (tmp_path / "net.yaml").write_text(destroyed_net())
    for quiet in ([], ["-q"]):
        assert main(["compile", str(tmp_path / "net.yaml"), "-o", str(tmp_path / "b"),
                     "--force", *quiet]) == 0
        out = capsys.readouterr()
        assert "projections.tiny.weights: quantization destroys" in out.out + out.err


def test_large_relative_error_counts_as_destroyed():
    text = small_net().replace("projections:\n", "  c: {kind: spike_source, size: 5}\nprojections:\n"
                               "  weak: {pre: c, post: b, weights: {init: normal, std: 0.0000006}}\n")
    result = compile_network(parse_network(text), load_profile("loihi2"), None)
    stats = result.report["projections"]["weak"]
    # a weight std of a third of the quantization step: a few weights survive, most vanish
    assert 0.2 < 0.0000006 / stats["step"] < 0.5
    assert stats["rel_rms_error"] >= 0.5 and stats.get("destroyed") is True
    assert any(w.startswith("projections.weak.weights: quantization destroys") and
               "relative RMS error" in w for w in result.warnings)


# --------------------------------------------------------------------------- show, schema, docs
def test_profiles_show_takes_a_path_and_hints_at_names(tmp_path: Path, capsys, monkeypatch):
    write_profile(tmp_path, "cores: {max_chips: 3}")
    monkeypatch.chdir(tmp_path)
    assert main(["profiles", "show", "my_chip.yaml"]) == 0
    assert "3 chip(s)" in capsys.readouterr().out
    assert main(["profiles", "show", "./my_chip.yaml", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["cores"]["max_chips"] == 3
    assert main(["profiles", "show", "my_chip"]) == 1
    err = capsys.readouterr().err
    assert "a file my_chip.yaml exists: pass it as a path" in err
    assert main(["profiles", "show", "loihi9"]) == 1
    err = capsys.readouterr().err
    assert "unknown profile 'loihi9'" in err and "loihi2" in err and "passed by path" in err
    (tmp_path / "bare").write_text("name: bare\nnumerics: float\n")
    assert main(["profiles", "show", "bare"]) == 0  # an existing file without extension


def test_profile_schema_covers_every_field_with_its_limits(capsys):
    assert main(["schema", "--profile"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert schema == json.loads(json.dumps(profile_schema()))
    assert schema["required"] == ["name"] and "profile" in schema["title"]
    defs = schema["$defs"]
    for section, model in (("NeuronSpec", "neuron"), ("WeightSpec", "weights"),
                           ("CoreSpec", "cores"), ("VariabilitySpec", "variability")):
        assert set(defs[section]["properties"]) == set(
            HardwareProfile.model_fields[model].annotation.model_fields)
    bits = defs["WeightSpec"]["properties"]["bits"]["anyOf"][0]
    assert bits["maximum"] == 16 and bits["minimum"] == 1
    levels = defs["WeightSpec"]["properties"]["levels"]["anyOf"][0]
    assert levels["minimum"] == 2
    assert main(["schema"]) == 0
    assert "network IR" in json.loads(capsys.readouterr().out)["title"]


def test_every_profile_field_is_documented():
    doc = (ROOT / "docs" / "profiles.md").read_text(encoding="utf-8")
    sections = re.split(r"\n### ", doc)
    by_section = {s.split("\n", 1)[0].strip("` "): s for s in sections[1:]}
    for path in all_fields(HardwareProfile):
        section, _, field = path.rpartition(".")
        if not section and path in by_section:
            continue  # a section: documented by its own heading and table
        text = by_section["Top level"] if not section else by_section[section]
        assert re.search(rf"^\| `{re.escape(field)}` \|", text, re.M), f"{path} undocumented"
    assert "docs/profiles.md" in (ROOT / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("name", ["loihi2", "loihi1", "mixed_signal", "memristive", "cpu"])
def test_builtin_profile_files_fit_the_exported_schema_properties(name: str):
    """Each key of each built-in file is a property of its section in the schema."""
    import yaml
    schema = profile_schema()
    data = yaml.safe_load((ROOT / "hw_profiles" / f"{name}.yaml").read_text())
    for key, value in data.items():
        assert key in schema["properties"], key
        if isinstance(value, dict):
            ref = schema["properties"][key].get("$ref", "").rsplit("/", 1)[-1]
            assert set(value) <= set(schema["$defs"][ref]["properties"]), (name, key)
