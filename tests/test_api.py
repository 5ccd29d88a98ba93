"""The Python API end to end without YAML: build a network as Python values, compile it for
loihi2, simulate on cpu and Lava, train it, validate it; and its errors match the CLI's."""
from __future__ import annotations

import sys

import numpy as np
import pytest

import neurodeploy as nd
from neurodeploy.cli import main

STEPS = 40


def classifier(hidden: int = 40) -> nd.Network:
    """A digits classifier trained by feedback alignment, built without any file."""
    return nd.Network(
        name="py-digits", seed=7,
        populations={"input": {"kind": "spike_source", "size": 64},
                     "hidden": {"kind": "lif", "size": hidden,
                                "params": {"tau_syn": 2.0, "tau_mem": 8.0}},
                     "output": {"kind": "lif", "size": 10,
                                "params": {"tau_syn": 2.0, "tau_mem": 4.0}}},
        projections={"in_hid": {"pre": "input", "post": "hidden",
                                "weights": {"init": "normal", "std": 0.15}},
                     "hid_out": {"pre": "hidden", "post": "output",
                                 "weights": {"init": "normal", "std": 0.05}}},
        plasticity={"learn": {"rule": "feedback_alignment", "projections": ["in_hid", "hid_out"],
                              "learning_rate": 0.00003}},
        task={"input": "input", "output": "output", "encoding": "regular", "max_rate": 0.5,
              "sample_steps": 30},
        monitors=[{"population": "output", "var": "spikes"}], run={"steps": 30})


def relay(weights: np.ndarray) -> nd.Network:
    """spike_source -> lif with weights given as an array, v monitored."""
    return nd.Network(
        name="relay", seed=1,
        populations={"inp": {"kind": "spike_source", "size": weights.shape[1]},
                     "out": {"kind": "lif", "size": weights.shape[0],
                             "params": {"tau_mem": 10.0, "v_th": np.float64(1.0)}}},
        projections={"p": {"pre": "inp", "post": "out", "weights": weights}},
        monitors=[{"population": "out", "var": "spikes"}, {"population": "out", "var": "v"}],
        run={"steps": STEPS})


def spikes(size: int, seed: int = 0) -> np.ndarray:
    return (np.random.default_rng(seed).random((STEPS, size)) < 0.3).astype(np.uint8)


def test_python_network_compiles_simulates_on_cpu_and_lava_trains_and_validates():
    w = np.random.default_rng(1).normal(0.3, 0.1, (6, 8))
    build = nd.compile(relay(w), nd.Profile.load("loihi2"))
    assert build.numerics == "fixed" and build.profile == "loihi2"
    x = {"inp": spikes(8)}
    cpu = build.simulate(backend="cpu", inputs=x)
    lava = build.simulate(backend="lava", inputs=x)
    assert cpu.spikes["out"].shape == (STEPS, 6) and cpu.spikes["out"].sum() > 0
    for key in cpu.data:
        np.testing.assert_array_equal(cpu.data[key], lava.data[key])
    chip_v = cpu.voltage("out", units="chip")
    assert np.issubdtype(chip_v.dtype, np.integer)
    scale = cpu.scales["out.v"]
    np.testing.assert_allclose(cpu.voltage("out"), chip_v / scale)
    assert cpu.voltage("out").max() <= 1.0 + 1e-9 < chip_v.max()    # below v_th in net units
    assert build.compare(("cpu", "lava"), inputs=x).agree

    trained = nd.train(classifier(), profile="loihi2", epochs=2, train_samples=300,
                       test_samples=100, progress=False)
    curves = trained.curves
    assert curves.epoch == [1, 2] and len(curves.test_accuracy) == 2
    assert trained.build.numerics == "fixed" and trained.deployed_accuracy > 0.3
    ev = nd.evaluate(trained.build, samples=40)
    assert ev.n == 40 and ev.predictions.shape == (40,) and 0 <= ev.accuracy <= 1
    report = nd.validate(trained.build, chips=6, spec="accuracy>=0.2", samples=30,
                         overrides={"variability.weights.cv": 0.1}, progress=False)
    assert len(report.figure("accuracy")) == 6
    assert report.yield_ == np.mean(report.figure("accuracy") >= 0.2)
    row = report.table()[0]
    assert row["chips"] == 6 and row["accuracy"] == pytest.approx(report.figure("accuracy").mean())
    assert "accuracy" in str(report).splitlines()[0]


def test_array_weights_reach_the_build_and_errors_match_the_yaml_loader(tmp_path):
    w = np.linspace(0.1, 0.6, 12).reshape(3, 4)
    net = relay(w)
    assert nd.Network.from_dict(net.to_dict()).to_dict()["projections"]["p"]["weights"].tolist() == w.tolist()
    path = net.save(tmp_path / "relay.yaml")
    assert (tmp_path / "relay.p.npy").is_file()
    from_file = nd.compile(nd.Network.load(path), "cpu")
    from_python = nd.compile(net, "cpu")
    ref = lambda b: b.manifest["projections"]["p"]["weights"]["sha256"]  # noqa: E731
    assert ref(from_file) == ref(from_python)
    with pytest.raises(nd.IRError) as err:
        net.save(path)
    assert "force=True" in str(err.value)

    with pytest.raises(nd.IRError) as err:
        relay(np.ones((3, 5))).replace(populations={"inp": {"kind": "spike_source", "size": 4},
                                                    "out": {"kind": "lif", "size": 3}})
    assert err.value.path == ("projections", "p", "weights")
    assert "shape [3, 5]" in str(err.value) and "[3, 4]" in str(err.value)

    text = ("neurodeploy: 1\nname: t\npopulations:\n  a: {kind: lif, size: 2}\n"
            "projections:\n  p: {pre: aa, post: a}\n")
    (tmp_path / "bad.yaml").write_text(text)
    with pytest.raises(nd.IRError) as from_yaml:
        nd.Network.load(tmp_path / "bad.yaml")
    with pytest.raises(nd.IRError) as from_values:
        nd.Network(name="t", populations={"a": {"kind": "lif", "size": 2}},
                   projections={"p": {"pre": "aa", "post": "a"}})
    assert from_values.value.message == from_yaml.value.message
    assert from_values.value.path == from_yaml.value.path == ("projections", "p", "pre")
    assert str(from_values.value) == "projections.p.pre: " + from_yaml.value.message


def test_profile_override_save_open_and_nir_round_trip(tmp_path):
    small = nd.Profile.load("loihi2").override({"cores.neurons_per_core": 2, "cores.cores_per_chip": 2})
    assert small.hardware.cores.neurons_per_core == 2
    with pytest.raises(nd.CompileError) as err:
        nd.compile(relay(np.ones((6, 4)) * 0.2), small)
    assert "cores" in str(err.value)
    with pytest.raises(nd.ProfileError) as err:
        small.override(cores={"max_chip": 1})
    assert "did you mean 'max_chips'" in str(err.value)

    build = nd.compile(relay(np.ones((3, 4)) * 0.2), "loihi2")
    saved = build.save(tmp_path / "b")
    reopened = nd.Build.open(saved)
    x = {"inp": spikes(4, seed=3)}
    np.testing.assert_array_equal(reopened.simulate(inputs=x).spikes["out"],
                                  build.simulate(inputs=x).spikes["out"])
    with pytest.raises(nd.CompileError):
        build.save(tmp_path / "b")
    private = build.path
    build.close()
    assert not private.exists()

    net = relay(np.full((3, 4), 0.25))
    back = nd.from_nir(nd.to_nir(net, tmp_path / "relay.nir"))
    assert np.array_equal(back.to_dict()["projections"]["p"]["weights"], np.full((3, 4), 0.25))


def test_check_and_compile_to_a_directory_as_the_commands_do(tmp_path, capsys):
    net = relay(np.full((3, 4), 0.3))
    report = nd.check(net, "loihi2")
    assert report.summary == net.describe() and report.profile == "loihi2"
    assert report.cores_used >= 1 and nd.check(net).cores_used is None
    build = nd.compile(net, "loihi2", out=tmp_path / "b")
    assert build.path == tmp_path / "b" and build._owned is None
    assert (tmp_path / "b" / "manifest.json").is_file()
    with pytest.raises(nd.CompileError):
        nd.compile(net, "loihi2", out=tmp_path / "b")                # force=False keeps it
    assert build.monitors() == [("out", "spikes"), ("out", "v")]
    assert build.simulate(inputs={"inp": spikes(4)}).network == "relay"
    assert nd.Network.schema()["title"] != nd.Profile.schema()["title"]
    capsys.readouterr()
    assert main(["check", str(net.save(tmp_path / "relay.yaml")), "--profile", "loihi2"]) == 0
    assert capsys.readouterr().out == (f"{report.summary}\nfits loihi2: {report.cores_used} "
                                       "cores\nok\n")


def test_validate_takes_input_arrays_and_sweeps_and_cleans_up():
    build = nd.compile(relay(np.full((3, 4), 0.3)), "loihi2")
    x = {"inp": spikes(4)}
    report = nd.validate(build, chips=4, spec="out.rate>=1", inputs=x, progress=False,
                         sweep=("variability.weights.cv", [0.0, 0.5]))
    rows = report.table()
    assert [r["value"] for r in rows] == [0.0, 0.5] and all(r["chips"] == 4 for r in rows)
    assert rows[0]["distance"] == 0.0 < rows[1]["distance"]     # mismatch moves the spikes
    nominal = build.simulate(inputs=x).rates_hz()["out"]
    np.testing.assert_allclose(report.figure("out.rate", point=0), nominal.mean())
    folder = report.folder
    assert (folder / "report.json").is_file()
    del report
    import gc
    gc.collect()
    assert not folder.exists()
    with pytest.raises(nd.NeurodeployError) as err:
        nd.validate(build, chips=2, spec="outt.rate>=1", inputs=x)
    assert "did you mean 'out'" in str(err.value)


def test_missing_optional_dependency_names_the_extra(monkeypatch, capsys, tmp_path):
    monkeypatch.setitem(sys.modules, "sklearn", None)
    with pytest.raises(nd.MissingExtraError) as err:
        nd.train(classifier(), profile="cpu", epochs=1, progress=False)
    assert "pip install 'neurodeploy[digits]'" in str(err.value)
    from tests.conftest import EXAMPLES
    code = main(["train", str(EXAMPLES / "digits_fa.yaml"), "--epochs", "1", "-o",
                 str(tmp_path / "never")])
    assert code == 1 and list(tmp_path.iterdir()) == []
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "neurodeploy[digits]" in lines[0]
    monkeypatch.setitem(sys.modules, "distributed", None)
    build = nd.compile(relay(np.full((3, 4), 0.3)), "cpu")
    with pytest.raises(nd.MissingExtraError) as err:
        nd.validate(build, chips=2, inputs={"inp": spikes(4)}, dask=True, progress=False)
    assert "pip install 'neurodeploy[dask]'" in str(err.value)


def test_missing_lava_is_a_one_line_error_naming_the_extra(monkeypatch, capsys):
    build = nd.compile(classifier(hidden=20).replace(plasticity={}), "cpu")   # has a task
    monkeypatch.setitem(sys.modules, "lava", None)
    with pytest.raises(nd.MissingExtraError) as err:
        nd.evaluate(build, backend="lava", samples=5)
    assert "neurodeploy[lava]" in str(err.value)
    assert main(["evaluate", str(build.path), "--backend", "lava", "--samples", "5"]) == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "neurodeploy[lava]" in lines[0]


def test_progress_is_silent_off_a_terminal_and_can_be_forced(capsys):
    from neurodeploy.api.progress import enabled, reporter
    assert enabled(None) is False          # pytest captures stderr: not a terminal
    reporter(None)("hidden")
    reporter(False)("hidden")
    reporter(True)("shown")
    assert capsys.readouterr().err == "shown\n"


def test_version_flag(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0
    assert capsys.readouterr().out.strip() == f"neurodeploy {nd.__version__}"


def test_the_wheel_ships_every_package_of_the_api():
    import tomllib

    from tests.conftest import ROOT
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(ROOT).parts)
             for p in (ROOT / "neurodeploy").rglob("__init__.py")}
    assert found <= listed
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    from neurodeploy.extras import EXTRAS
    assert {extra for extra, _, _ in EXTRAS.values()} <= set(extras)


def test_first_kernel_compile_is_announced_once(capsys, monkeypatch):
    """A cache miss on one of our kernels says so on stderr, once per process; others' are silent."""
    import numba

    from neurodeploy.jit import _FirstCompileNotice
    monkeypatch.setattr(_FirstCompileNotice, "said", False)
    space: dict = {"__name__": "elsewhere"}
    exec("def theirs(x):\n    return x + 1\n", space)
    numba.njit(space["theirs"])(1)
    assert capsys.readouterr().err == ""
    ours: dict = {"__name__": "neurodeploy.kernels_under_test"}
    exec("def f(x):\n    return x * 2\n\ndef g(x):\n    return x - 1\n", ours)
    assert numba.njit(ours["f"])(2) == 4 and numba.njit(ours["g"])(2) == 1
    err = capsys.readouterr().err
    assert err.count("compiling the cpu simulator's numba kernels") == 1
