"""Bad-input corpus: every broken file must give exit 1 and one clear `error:` line.

The files live in ``tests/bad_inputs/{networks,profiles,compile}/*.yaml`` and the error each
must produce is listed in ``tests/bad_inputs/expected.yaml``:

* ``where``: the field path printed before the message (``projections.hid_out.pre``);
  omitted for file-level errors such as invalid YAML;
* ``says``: fragments that must all appear in the message;
* ``profile`` (compile cases only): a built-in profile name, or a path relative to
  ``tests/bad_inputs/``.

Networks run through ``neurodeploy check``, profiles through ``neurodeploy profiles show``
and compile cases through ``neurodeploy compile ... -o <tmp>/out``, all in-process.
"""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from neurodeploy.cli import main

BAD = Path(__file__).resolve().parent / "bad_inputs"
KINDS = ("networks", "profiles", "compile")


def _expected() -> dict[str, dict]:
    data = yaml.safe_load((BAD / "expected.yaml").read_text(encoding="utf-8"))
    assert isinstance(data, dict), "expected.yaml must map file -> expectation"
    return data


def _files() -> list[str]:
    """Every corpus file, relative to BAD (subfolders such as compile/profiles/ are helpers)."""
    return sorted(f"{kind}/{p.name}" for kind in KINDS for p in (BAD / kind).glob("*.yaml"))


EXPECTED = _expected()
FILES = _files()


def test_every_file_has_an_expectation() -> None:
    missing = [f for f in FILES if f not in EXPECTED]
    assert not missing, f"corpus files without an entry in expected.yaml: {missing}"


def test_every_expectation_has_a_file() -> None:
    orphans = [f for f in EXPECTED if f not in FILES]
    assert not orphans, f"expected.yaml entries without a file: {orphans}"


def test_expectations_are_well_formed() -> None:
    for name, exp in EXPECTED.items():
        assert isinstance(exp, dict), name
        assert set(exp) <= {"where", "says", "profile"}, f"{name}: unknown keys {set(exp)}"
        assert exp.get("says") and all(isinstance(s, str) and s for s in exp["says"]), name
        assert ("profile" in exp) == name.startswith("compile/"), \
            f"{name}: compile cases (and only they) name a profile"


def test_corpus_is_big_enough() -> None:
    count = {kind: sum(f.startswith(kind + "/") for f in FILES) for kind in KINDS}
    assert count["networks"] >= 30, count
    assert count["profiles"] >= 5, count
    assert count["compile"] >= 7, count
    assert len(FILES) >= 40, count


def _argv(rel: str, exp: dict, tmp_path: Path) -> list[str]:
    path = str(BAD / rel)
    kind = rel.split("/", 1)[0]
    if kind == "networks":
        return ["check", path]
    if kind == "profiles":
        return ["profiles", "show", path]
    profile = exp["profile"]
    if profile.endswith((".yaml", ".yml")):
        profile = str(BAD / profile)
    return ["compile", path, "--profile", profile, "-o", str(tmp_path / "out"), "-q"]


@pytest.mark.parametrize("rel", [f for f in FILES if f in EXPECTED])
def test_bad_input(rel: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    exp = EXPECTED[rel]
    code = main(_argv(rel, exp, tmp_path))
    out, err = capsys.readouterr()

    assert code == 1, f"exit code {code}\nstdout: {out}\nstderr: {err}"
    assert "Traceback" not in err and "Traceback" not in out
    assert "internal error" not in err
    lines = err.strip().splitlines()
    assert 1 <= len(lines) <= 2, f"expected one or two lines on stderr, got:\n{err}"
    assert lines[0].startswith("error: "), err
    assert all(line.startswith("error: ") for line in lines), err
    assert Path(rel).name in err, f"the error does not name the file {Path(rel).name}:\n{err}"
    if "where" in exp:
        assert f"{exp['where']}: " in err, f"missing field path {exp['where']!r} in:\n{err}"
    for fragment in exp["says"]:
        assert fragment in err, f"missing {fragment!r} in:\n{err}"
    assert "ok" not in out.split()

    if rel.startswith("compile/"):
        assert not (tmp_path / "out").exists(), "a failed compile left its output directory"
        leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(".out.")]
        assert not leftovers, f"a failed compile left temporary directories: {leftovers}"
