"""Issue 10, honest exit codes: every problem in the user's input or environment exits 1
with one line naming the file (never 2, "internal error"), checked before a run starts.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from neurodeploy.cli import main
from neurodeploy.compiling.artifact import dumps_manifest, seal_manifest

CLI = [sys.executable, "-m", "neurodeploy.cli"]

NET = """
neurodeploy: 1
name: small
seed: 2
populations:
  inp: {kind: spike_source, size: 4}
  out: {kind: lif, size: 4}
projections:
  p: {pre: inp, post: out, connectivity: dense, weights: WEIGHTS}
monitors: [{population: out, var: spikes}]
run: {steps: 20}
"""


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    """A build, a good input, and a collection of broken files (made once)."""
    d = tmp_path_factory.mktemp("exitcodes")
    net = d / "net.yaml"
    net.write_text(NET.replace("WEIGHTS", "{init: normal, std: 0.5}"))
    assert main(["compile", str(net), "-o", str(d / "build"), "-q"]) == 0
    good = d / "in.npz"
    np.savez(good, **{"inp.spikes": np.ones((20, 4), np.uint8)})
    raw = good.read_bytes()
    (d / "truncated.npz").write_bytes(raw[: len(raw) // 2])
    flipped = bytearray(raw)
    flipped[len(raw) // 3] ^= 0xFF
    (d / "crc.npz").write_bytes(bytes(flipped))
    np.savez(d / "object.npz", **{"inp.spikes": np.array([[1, None]] * 20, dtype=object)})
    np.save(d / "single.npy", np.ones((20, 4), np.uint8))
    (d / "empty.npz").write_bytes(b"")
    os.mkfifo(d / "fifo.npz")
    (d / "afile").write_text("not a directory")
    return {"dir": d, "net": net, "build": d / "build", "in": good}


def run(*args: str) -> tuple[int, str]:
    """main() in-process: (exit code, stderr)."""
    import contextlib
    import io
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(list(args))
    return code, err.getvalue()


def assert_user_error(code: int, err: str, *needles: str) -> None:
    assert code == 1, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    for needle in needles:
        assert needle in lines[0], err


# ------------------------------------------------------------------ --input files
@pytest.mark.parametrize("name,needle", [
    ("truncated.npz", "not an .npz archive"), ("crc.npz", "corrupt or truncated"),
    ("object.npz", "dtype object"), ("single.npy", "single-array .npy"),
    ("empty.npz", "is empty"), ("fifo.npz", "not a regular file"), ("missing.npz", "not found"),
    ("afile", "not an .npz archive"), (".", "is a directory")])
def test_bad_input_file(files, name, needle):
    path = files["dir"] / name if name != "." else files["dir"]
    code, err = run("simulate", str(files["build"]), "--input", str(path),
                    "-o", str(files["dir"] / "o.npz"))
    assert_user_error(code, err, needle, str(path))


def test_dev_null_input(files):
    code, err = run("simulate", str(files["build"]), "--input", "/dev/null",
                    "-o", str(files["dir"] / "o.npz"))
    assert_user_error(code, err, "/dev/null", "not a regular file")


# ------------------------------------------------------------------ weight files
@pytest.mark.parametrize("name", ["truncated.npz", "crc.npz", "object.npz"])
def test_bad_weight_file(files, tmp_path, name):
    shutil.copy(files["dir"] / name, tmp_path / "w.npz")
    net = tmp_path / "net.yaml"
    net.write_text(NET.replace("WEIGHTS", "{file: w.npz, key: inp.spikes}"))
    code, err = run("compile", str(net), "-o", str(tmp_path / "b"))
    assert_user_error(code, err, "w.npz")
    assert not (tmp_path / "b").exists()


# ------------------------------------------------------------------ damaged builds
def _copy_build(files, tmp_path) -> Path:
    b = tmp_path / "b"
    shutil.copytree(files["build"], b)
    return b


def _reseal(build: Path, edit) -> None:
    """Edit the manifest and write it with a valid digest: a manifest some other writer got
    wrong, which the structure check (not the digest) must catch."""
    m = json.loads((build / "manifest.json").read_text())
    edit(m)
    (build / "manifest.json").write_text(dumps_manifest(seal_manifest(m)))


EDITS = {
    "missing dt": (lambda m: m.pop("dt"), "dt: missing"),
    "steps wrong type": (lambda m: m.update(steps="many"), "steps: expected an integer"),
    "sign_mode bogus": (lambda m: m["projections"]["p"].update(sign_mode="bogus"),
                        "projections.p.sign_mode"),
    "unknown pre": (lambda m: m["projections"]["p"].update(pre="nobody"), "projections.p.pre"),
    "numerics bogus": (lambda m: m.update(numerics="analog"), "numerics"),
    "populations a list": (lambda m: m.update(populations=[]), "populations: expected an object"),
    "params missing": (lambda m: m["populations"]["out"].pop("params"),
                       "populations.out.params: missing"),
    "vth a string": (lambda m: m["populations"]["out"]["params"].update(vth="high"),
                     "populations.out.params.vth"),
    "shape mismatch": (lambda m: m["projections"]["p"].update(shape=[4, 5]),
                       "projections.p.shape"),
    "monitor var": (lambda m: m["monitors"][0].update(var="w"), "monitors[0].var"),
    "ref escapes": (lambda m: m["projections"]["p"]["weights"].update(file="../../etc/x.npz"),
                    "inside the build directory"),
    "ref absolute": (lambda m: m["projections"]["p"]["weights"].update(file="/tmp/x.npz"),
                     "inside the build directory"),
    "manifest a list": (lambda m: (m.clear(), m.update(format="neurodeploy-build",
                                                       format_version=1)), "name: missing"),
}


@pytest.mark.parametrize("case", sorted(EDITS))
def test_malformed_manifest(files, tmp_path, case):
    edit, needle = EDITS[case]
    b = _copy_build(files, tmp_path)
    _reseal(b, edit)
    code, err = run("simulate", str(b), "--input", str(files["in"]), "-o", str(tmp_path / "o.npz"))
    assert_user_error(code, err, needle, "manifest.json")


@pytest.mark.parametrize("damage,needle", [
    ("truncate", "not an .npz archive"), ("flip", "corrupt or truncated"),
    ("delete", "missing weights/p.npz"), ("json", "not readable JSON")])
def test_damaged_build_files(files, tmp_path, damage, needle):
    b = _copy_build(files, tmp_path)
    w = b / "weights" / "p.npz"
    raw = w.read_bytes()
    if damage == "truncate":
        w.write_bytes(raw[: len(raw) // 2])
    elif damage == "flip":
        flipped = bytearray(raw)
        flipped[len(raw) // 3] ^= 0xFF
        w.write_bytes(bytes(flipped))
    elif damage == "delete":
        w.unlink()
    else:
        (b / "manifest.json").write_text('{"format": "neurodeploy-build", ')
    code, err = run("simulate", str(b), "--input", str(files["in"]), "-o", str(tmp_path / "o.npz"))
    assert_user_error(code, err, needle)


# ------------------------------------------------------------------ profiles
def test_profile_value_inf(files, tmp_path):
    prof = tmp_path / "chip.yaml"
    prof.write_text("extends: loihi2\nname: chip\nvariability: {v_th_cv: .inf}\n")
    code, err = run("compile", str(files["net"]), "-p", str(prof), "-o", str(tmp_path / "b"))
    assert_user_error(code, err, "chip.yaml")


# ------------------------------------------------------------------ output paths
def test_outputs_under_a_file(files, tmp_path):
    afile = files["dir"] / "afile"
    base = ["simulate", str(files["build"]), "--input", str(files["in"])]
    for args in (base + ["-o", f"{afile}/o.npz"],
                 base + ["-o", str(tmp_path / "o.npz"), "--plot", f"{afile}/p.png"],
                 ["compile", str(files["net"]), "-o", f"{afile}/sub/b"],
                 ["compare", str(files["build"]), "--input", str(files["in"]),
                  "--backends", "cpu,cpu", "--save-dir", f"{afile}/d"]):
        code, err = run(*args)
        assert_user_error(code, err, "is a file, not a directory")
    assert afile.read_text() == "not a directory"


def test_output_is_a_directory(files, tmp_path):
    code, err = run("simulate", str(files["build"]), "--input", str(files["in"]),
                    "-o", str(tmp_path))
    assert_user_error(code, err, "is a directory")


def test_read_only_file_system(files, tmp_path):
    """A real read-only mount in a private mount namespace (root in this environment)."""
    ro = tmp_path / "ro"
    ro.mkdir()
    cmds = {
        "simulate": CLI + ["simulate", str(files["build"]), "--input", str(files["in"]),
                           "-o", f"{ro}/o.npz"],
        "compile": CLI + ["compile", str(files["net"]), "-o", f"{ro}/b"],
    }
    for cmd in cmds.values():
        script = f'mount -t tmpfs -o ro tmpfs "{ro}" && exec "$@"'
        res = subprocess.run(["unshare", "-m", "sh", "-c", script, "sh"] + cmd,
                             capture_output=True, text=True, timeout=120)
        assert res.returncode == 1, res.stderr
        assert "read-only file system" in res.stderr
        assert len(res.stderr.strip().splitlines()) == 1


def test_unknown_plot_extension_refused_before_the_run(files, tmp_path):
    out = tmp_path / "o.npz"
    code, err = run("simulate", str(files["build"]), "--input", str(files["in"]), "-o", str(out),
                    "--plot", str(tmp_path / "r.bogus"))
    assert_user_error(code, err, "unknown plot format '.bogus'", ".png")
    assert not out.exists()


# ------------------------------------------------------------------ CLI behaviour
def test_broken_pipe_is_quiet():
    proc = subprocess.Popen(CLI + ["schema"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()                    # like `neurodeploy schema | head` after head exits
    err = proc.stderr.read()
    proc.stderr.close()
    assert proc.wait(timeout=60) == 1
    assert err == b""


def test_debug_after_the_subcommand(files, tmp_path, capsys):
    args = ["simulate", str(files["build"]), "--input", str(files["dir"] / "single.npy"),
            "-o", str(tmp_path / "o.npz")]
    assert main(args + ["--debug"]) == 1
    assert "Traceback" in capsys.readouterr().err
    assert main(["--debug"] + args) == 1
    assert "Traceback" in capsys.readouterr().err
    assert main(args) == 1
    assert "Traceback" not in capsys.readouterr().err


@pytest.mark.parametrize("steps", ["0", "-3", "ten"])
def test_steps_must_be_positive(files, tmp_path, steps, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["simulate", str(files["build"]), "--input", str(files["in"]),
              "-o", str(tmp_path / "o.npz"), "--steps", steps])
    assert exc.value.code == 1
    assert "--steps" in capsys.readouterr().err
    assert not (tmp_path / "o.npz").exists()


def test_quiet_still_prints_warnings(tmp_path, capsys):
    net = tmp_path / "clip.yaml"
    net.write_text(NET.replace("WEIGHTS", "{init: normal, std: 2000}"))  # a coarse threshold
    assert main(["compile", str(net), "-o", str(tmp_path / "b"), "-q"]) == 0
    out, err = capsys.readouterr()
    assert "warning: populations.out: threshold is only" in err
    assert "warnings" not in out                      # the report itself stays hidden
    assert main(["check", str(net), "--profile", "loihi2"]) == 0
    assert "warning: populations.out: threshold is only" in capsys.readouterr().err


def test_input_header_checked_before_allocating(files, tmp_path, monkeypatch):
    """A member whose header claims 10 GB (with 0 bytes of data), and a real 400 kB input
    over a 100 kB memory limit, are refused from the headers."""
    import io
    import zipfile
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "|u1", "fortran_order": False,
                                                  "shape": (10**6, 10**4)})
    liar = tmp_path / "liar.npz"
    with zipfile.ZipFile(liar, "w") as zf:
        zf.writestr("inp.spikes.npy", header.getvalue())
    base = ["simulate", str(files["build"]), "-o", str(tmp_path / "o.npz")]
    assert_user_error(*run(*base, "--input", str(liar)), "claims shape (1000000, 10000)")
    big = tmp_path / "big.npz"
    np.savez(big, **{"inp.spikes": np.zeros((100_000, 4), np.uint8)})
    monkeypatch.setenv("NEURODEPLOY_MAX_MEMORY", "100K")
    assert_user_error(*run(*base, "--input", str(big)), str(big), "limit is 100 KiB")
