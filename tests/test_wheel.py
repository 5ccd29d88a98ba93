"""A built wheel, installed into a fresh venv, finds its profiles and backends."""
from __future__ import annotations

import subprocess
import sys
import sysconfig
from pathlib import Path

from .conftest import EXAMPLES, ROOT


def test_wheel_installs_and_runs(tmp_path: Path):
    dist = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(dist), str(ROOT)], check=True, capture_output=True)
    wheel = next(dist.glob("neurodeploy-*.whl"))
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    py = venv / "bin" / "python"
    # Dependencies come from the test environment's site-packages (no network needed);
    # the project itself only from the wheel. A .pth path line does not run the editable
    # install's own .pth hook, so the source tree stays invisible.
    site = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True).stdout.strip()
    Path(site, "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([str(py), "-m", "pip", "install", "--no-deps", "-q", str(wheel)], check=True,
                   capture_output=True)
    cli = venv / "bin" / "neurodeploy"
    run = lambda *args: subprocess.run([str(cli), *args], capture_output=True, text=True,  # noqa: E731
                                       cwd=tmp_path)
    listed = run("profiles")
    assert listed.returncode == 0, listed.stderr
    for name in ("loihi2", "loihi1", "mixed_signal", "memristive", "cpu"):
        assert name in listed.stdout
    where = subprocess.run([str(py), "-c", "import neurodeploy, neurodeploy.compilers, "
                            "neurodeploy.hw_profiles; print(neurodeploy.__file__); "
                            "print(neurodeploy.compilers.__file__)"],
                           capture_output=True, text=True, cwd=tmp_path)
    assert where.returncode == 0, where.stderr
    assert str(ROOT) not in where.stdout and str(venv) in where.stdout
    built = run("compile", str(EXAMPLES / "digits_snn.yaml"), "-o", str(tmp_path / "b"), "-q")
    assert built.returncode == 0, built.stderr
    assert (tmp_path / "b" / "manifest.json").exists()
