"""Issue 16, security: weight files outside the network's folder (``../``, absolute, a
symlink out) are refused without reading them or echoing their bytes; a profile name with a
newline cannot forge lines in report.txt."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from neurodeploy.cli import main

NET = """
neurodeploy: 1
name: sec
populations:
  inp: {{kind: spike_source, size: 4}}
  out: {{kind: lif, size: 3}}
projections:
  p: {{pre: inp, post: out, weights: {{file: {file}}}}}
"""
SECRET = b"root:x:0:0:secret-bytes-of-a-system-file\n" * 4


def _check(tmp_path: Path, capsys, file: str) -> str:
    model = tmp_path / "model"
    model.mkdir(exist_ok=True)
    (model / "net.yaml").write_text(NET.format(file=file))
    capsys.readouterr()
    assert main(["compile", str(model / "net.yaml"), "-o", str(tmp_path / "b"), "-q"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert "secret-bytes" not in err and "root:x" not in err
    assert not (tmp_path / "b").exists()
    return err


def test_relative_path_out_of_the_folder_is_refused(tmp_path, capsys):
    np.save(tmp_path / "w.npy", np.ones((3, 4)))       # a valid file, but outside
    err = _check(tmp_path, capsys, "../w.npy")
    assert "resolves outside the network's folder" in err and "weights.file" in err


def test_absolute_path_is_refused(tmp_path, capsys):
    np.save(tmp_path / "w.npy", np.ones((3, 4)))
    err = _check(tmp_path, capsys, str(tmp_path / "w.npy"))
    assert "is an absolute path" in err


def test_symlink_out_of_the_folder_is_refused_without_echoing_bytes(tmp_path, capsys):
    secret = tmp_path / "secret"
    secret.write_bytes(SECRET)
    (tmp_path / "model").mkdir()
    os.symlink(secret, tmp_path / "model" / "w.npy")
    err = _check(tmp_path, capsys, "w.npy")
    assert "resolves outside the network's folder" in err


def test_not_numpy_file_inside_the_folder_does_not_echo_its_bytes(tmp_path, capsys):
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "w.npy").write_bytes(SECRET)
    err = _check(tmp_path, capsys, "w.npy")
    assert "not a NumPy file" in err


def test_profile_name_cannot_forge_report_lines(tmp_path, capsys):
    profile = tmp_path / "p.yaml"
    profile.write_text('name: "chip\\nerror: forged"\nextends: cpu\n')
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "net.yaml").write_text(NET.replace(
        "weights: {{file: {file}}}", "weights: {{init: normal, std: 0.5}}").format())
    capsys.readouterr()
    assert main(["compile", str(tmp_path / "model" / "net.yaml"), "--profile", str(profile),
                 "-o", str(tmp_path / "b"), "-q"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "printable" in err, err
    assert not (tmp_path / "b").exists()
