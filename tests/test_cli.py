"""The command line: exit codes, help, profiles, schema, compile."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from neurodeploy.cli import main
from neurodeploy.ir.models import IR_CLASSES
from neurodeploy.profiles import builtin_profiles

from .conftest import EXAMPLES, ROOT


def test_profiles_lists_all_builtins(capsys):
    assert main(["profiles"]) == 0
    out = capsys.readouterr().out
    assert set(builtin_profiles()) == {"cpu", "loihi1", "loihi2", "memristive", "mixed_signal"}
    for name in builtin_profiles():
        assert name in out


def test_profiles_show(capsys):
    assert main(["profiles", "show", "loihi2"]) == 0
    out = capsys.readouterr().out
    assert "24-bit u/v" in out and "128 per chip" in out
    assert main(["profiles", "show", "loihi1", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["cores"]["neurons_per_core"] == 1024 and data["neuron"]["decay_bits"] == 12


def test_unknown_profile_suggests(capsys):
    assert main(["profiles", "show", "loihi3"]) == 1
    err = capsys.readouterr().err
    assert "unknown profile 'loihi3'" in err and "did you mean" in err and "Traceback" not in err


def test_schema_covers_every_ir_class(capsys):
    assert main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert schema["title"].startswith("neurodeploy network IR")
    defs = set(schema.get("$defs", {})) | {"Network"}
    for cls in IR_CLASSES:
        assert cls.__name__ in defs, cls.__name__
        assert cls.__doc__ and cls.__doc__.strip(), f"{cls.__name__} needs a docstring"


def test_every_ir_class_round_trips():
    """Each IR class dumps to data that validates back to an equal object."""
    from neurodeploy.ir import load_network
    net = load_network(EXAMPLES / "digits_fa.yaml")
    again = type(net).model_validate(net.model_dump())
    assert again.model_dump() == net.model_dump()
    seen = set()

    def walk(obj):
        if isinstance(obj, tuple(IR_CLASSES)):
            seen.add(type(obj).__name__)
            assert type(obj).model_validate(obj.model_dump()).model_dump() == obj.model_dump()
            for value in obj.__dict__.values():
                walk(value)
        elif isinstance(obj, dict):
            for value in obj.values():
                walk(value)
        elif isinstance(obj, list):
            for value in obj:
                walk(value)
    walk(net)
    assert {"Network", "LIFPopulation", "Projection", "FeedbackAlignment", "Task", "Monitor"} <= seen


def test_check_and_compile(tmp_path: Path, capsys):
    assert main(["check", str(EXAMPLES / "digits_fa.yaml")]) == 0
    assert "population hidden: lif, 200 neurons" in capsys.readouterr().out
    out = tmp_path / "b"
    assert main(["compile", str(EXAMPLES / "digits_snn.yaml"), "--profile", "loihi2", "-o", str(out)]) == 0
    assert (out / "manifest.json").exists() and (out / "report.txt").exists()
    assert main(["compile", str(EXAMPLES / "digits_snn.yaml"), "-o", str(out)]) == 1
    assert "--force" in capsys.readouterr().err


def test_usage_error_exits_1(capsys):
    with pytest.raises(SystemExit) as info:
        main(["compile"])
    assert info.value.code == 1
    assert main([]) == 1


def test_help_describes_commands():
    result = subprocess.run([sys.executable, "-m", "neurodeploy.cli", "--help"],
                            capture_output=True, text=True, check=True)
    for cmd in ("check", "compile", "profiles", "schema"):
        assert cmd in result.stdout
    result = subprocess.run([sys.executable, "-m", "neurodeploy.cli", "compile", "--help"],
                            capture_output=True, text=True, check=True)
    assert "--profile" in result.stdout and "--force" in result.stdout


def test_internal_error_exits_2(monkeypatch, capsys):
    import neurodeploy.cli as cli

    def boom(args):
        raise RuntimeError("kaboom")
    monkeypatch.setitem(cli.COMMANDS, "schema", boom)
    assert main(["schema"]) == 2
    err = capsys.readouterr().err
    assert "internal error" in err and "kaboom" in err and "Traceback" not in err
    assert main(["--debug", "schema"]) == 2
    assert "Traceback" in capsys.readouterr().err


def test_lava_imports_after_neurodeploy_in_plain_python():
    """The compatibility shim makes Lava importable on Python 3.11 after `import neurodeploy`."""
    code = ("import neurodeploy, lava.proc.lif.process, lava.proc.dense.process; "
            "from lava.magma.core.run_configs import Loihi2SimCfg; print('ok')")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=ROOT.parent)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "ok"
