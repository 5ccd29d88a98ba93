"""Issue 16, exit 2 on user errors: a full disk during compile (no ZipFile.__del__
traceback), `compile -o` onto a file or a foreign folder (no --force advice that --force
then refuses), plotting a run without monitors."""
from __future__ import annotations

import resource
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from neurodeploy.cli import main
from neurodeploy.errors import NeurodeployError

NET = """
neurodeploy: 1
name: big
seed: 1
populations:
  inp: {kind: spike_source, size: 300}
  out: {kind: lif, size: 300}
projections:
  p: {pre: inp, post: out, connectivity: dense, weights: {init: normal, std: 0.5}}
"""


def _small_files() -> None:
    """Writes past 100 kB fail with EFBIG, as on a full disk."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (100_000, 100_000))


def test_full_disk_during_compile_is_one_line(tmp_path):
    (tmp_path / "net.yaml").write_text(NET)
    proc = subprocess.run([sys.executable, "-m", "neurodeploy.cli", "compile",
                           str(tmp_path / "net.yaml"), "-o", str(tmp_path / "b"), "-q"],
                          capture_output=True, text=True, preexec_fn=_small_files, timeout=120)
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.strip().splitlines() == [
        f"error: {tmp_path / 'b'}: cannot write it: File too large"], proc.stderr
    assert not (tmp_path / "b").exists() and not list(tmp_path.glob(".b.*"))


@pytest.mark.parametrize("make, says", [
    (lambda p: p.write_text("keep\n"), "exists and is not a directory"),
    (lambda p: (p.mkdir(), (p / "notes.txt").write_text("keep\n")), "not a neurodeploy build"),
])
def test_compile_onto_a_non_build_never_advises_force(tmp_path, capsys, make, says):
    (tmp_path / "net.yaml").write_text(NET)
    target = tmp_path / "out"
    make(target)
    for extra in ([], ["--force"]):
        capsys.readouterr()
        assert main(["compile", str(tmp_path / "net.yaml"), "-o", str(target), "-q",
                     *extra]) == 1
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and says in err and "pass --force" not in err, err


def test_plotting_nothing_is_a_user_error(tmp_path):
    from neurodeploy.plot import plot_result
    with pytest.raises(NeurodeployError, match="no monitors"):
        plot_result({}, tmp_path / "r.png")
    assert not (tmp_path / "r.png").exists()


def test_simulate_plot_without_monitors_is_refused_before_writing(tmp_path, capsys):
    """A build that monitors nothing (only a spike source): exit 1 before the run, no
    result file (it exited 2 after writing the result)."""
    import numpy as np
    (tmp_path / "src.yaml").write_text("neurodeploy: 1\nname: src\npopulations:\n"
                                       "  inp: {kind: spike_source, size: 4}\nrun: {steps: 20}\n")
    np.savez(tmp_path / "in.npz", **{"inp.spikes": np.ones((20, 4), np.uint8)})
    assert main(["compile", str(tmp_path / "src.yaml"), "-o", str(tmp_path / "b"), "-q"]) == 0
    capsys.readouterr()
    assert main(["simulate", str(tmp_path / "b"), "--input", str(tmp_path / "in.npz"),
                 "-o", str(tmp_path / "r.npz"), "--plot", str(tmp_path / "r.png")]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "nothing to plot" in err, err
    assert not (tmp_path / "r.npz").exists() and not (tmp_path / "r.png").exists()
