"""Issue 16, `train --data` and `--classes`: every broken or hostile data set is one line,
exit 1, nothing written, and a file declaring huge arrays is refused from its headers
before anything is allocated."""
from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import pytest

from neurodeploy import limits
from neurodeploy.cli import main

NET = """
neurodeploy: 1
name: small
seed: 1
populations:
  input:  {kind: spike_source, size: 64}
  hidden: {kind: lif, size: 20}
  output: {kind: lif, size: 3}
projections:
  in_hid:  {pre: input, post: hidden, weights: {init: normal, std: 0.15}}
  hid_out: {pre: hidden, post: output, weights: {init: normal, std: 0.05}}
plasticity:
  learn: {rule: feedback_alignment, projections: [in_hid, hid_out], learning_rate: 0.0001}
task: {input: input, output: output, encoding: regular, max_rate: 0.5, sample_steps: 10}
"""


def _arrays() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {"x_train": rng.random((30, 64)), "y_train": rng.integers(0, 3, 30),
            "x_test": rng.random((10, 64)), "y_test": rng.integers(0, 3, 10)}


def _npy(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array)
    return buf.getvalue()


def _header(shape: tuple[int, ...], dtype: str = "<f8") -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": dtype, "fortran_order": False,
                                               "shape": shape})
    return buf.getvalue()


def _zip(path: Path, members: dict[str, bytes], compress: bool = False) -> Path:
    mode = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    with zipfile.ZipFile(path, "w", mode) as zf:
        for name, blob in members.items():
            zf.writestr(f"{name}.npy", blob)
    return path


def _good(path: Path) -> Path:
    return _zip(path, {k: _npy(v) for k, v in _arrays().items()})


def _npy_file(tmp: Path) -> Path:
    np.save(tmp / "d.npy", _arrays()["x_train"])
    return tmp / "d.npy"


def _truncated(tmp: Path) -> Path:
    blob = _good(tmp / "d.npz").read_bytes()
    (tmp / "d.npz").write_bytes(blob[: len(blob) // 2])
    return tmp / "d.npz"


def _bad_crc(tmp: Path) -> Path:
    path = _good(tmp / "d.npz")
    blob = bytearray(path.read_bytes())
    at = blob.index(b"x_train.npy") + len("x_train.npy") + 200     # inside its data
    blob[at] ^= 0xFF
    path.write_bytes(bytes(blob))
    return path


def _lying_header(tmp: Path) -> Path:
    members = {k: _npy(v) for k, v in _arrays().items()}
    members["x_train"] = _header((10_000_000, 64)) + members["x_train"][128:]
    members["y_train"] = _header((10_000_000,), "<i8") + b"\0" * 800
    return _zip(tmp / "d.npz", members)


def _huge_wrong_features(tmp: Path) -> Path:
    members = {k: _npy(v) for k, v in _arrays().items()}
    members["x_train"] = _header((100_000, 4000)) + b"\0" * 64
    return _zip(tmp / "d.npz", members)


def _label(tmp: Path, value: float) -> Path:
    arrays = _arrays()
    arrays["y_train"] = arrays["y_train"].astype(np.float64)
    arrays["y_train"][3] = value
    np.savez(tmp / "d.npz", **arrays)
    return tmp / "d.npz"


@pytest.mark.parametrize("make, says", [
    (_npy_file, "single-array .npy file"),
    (_truncated, "not an .npz archive"),
    (_bad_crc, "corrupt or truncated"),
    (_lying_header, "claims shape (10000000, 64)"),
    (_huge_wrong_features, "x_train has 4000 features but the input population has 64"),
    (lambda t: _label(t, 1e20), "label 1e+20 is not a class index"),
    (lambda t: t / "absent.npz", "data file not found"),
])
def test_bad_data_is_one_line_and_writes_nothing(tmp_path, capsys, make, says):
    (tmp_path / "net.yaml").write_text(NET)
    data = make(tmp_path)
    out = tmp_path / "b"
    capsys.readouterr()
    assert main(["train", str(tmp_path / "net.yaml"), "--data", str(data), "--epochs", "1",
                 "-o", str(out)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and says in err[0] and data.name in err[0], err
    assert not out.exists() and not list(tmp_path.glob(".b.*"))


def test_compressed_bomb_is_refused_before_it_inflates(tmp_path, capsys, monkeypatch):
    """A 100 MB x_train of zeros compressed to ~100 KB, under a 50 MB memory budget: refused
    from the header (reading it would have allocated 100 MB)."""
    members = {k: _npy(v) for k, v in _arrays().items() if k != "x_train"}
    members["y_train"] = _npy(np.zeros(200_000, np.int64))
    path = tmp_path / "d.npz"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        with zf.open("x_train.npy", "w", force_zip64=True) as fh:
            fh.write(_header((200_000, 64)))
            zero = bytes(1 << 20)
            left = 200_000 * 64 * 8
            while left:
                fh.write(zero[:min(left, len(zero))])
                left -= min(left, len(zero))
        for name, blob in members.items():
            zf.writestr(f"{name}.npy", blob)
    assert path.stat().st_size < 2 << 20
    monkeypatch.setenv(limits.MEMORY_ENV, "50M")
    (tmp_path / "net.yaml").write_text(NET)
    capsys.readouterr()
    assert main(["train", str(tmp_path / "net.yaml"), "--data", str(path), "--epochs", "1",
                 "-o", str(tmp_path / "b")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "limit is 50" in err[0], err


def test_classes_the_data_lacks_is_one_line(tmp_path, capsys):
    (tmp_path / "net.yaml").write_text(NET)
    data = _good(tmp_path / "d.npz")
    capsys.readouterr()
    assert main(["train", str(tmp_path / "net.yaml"), "--data", str(data), "--epochs", "1",
                 "--classes", "0,5", "-o", str(tmp_path / "b")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no samples of class(es) 5" in err[0], err
    assert not (tmp_path / "b").exists()
