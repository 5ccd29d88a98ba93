"""A compiled build as an object: compile in Python, simulate, save only when asked.

A build compiled by :func:`compile` lives in a private temporary directory that this
object owns (the backends read builds from disk, checked against their manifest's
digest); it is removed when the object is closed or garbage-collected. :meth:`Build.save`
copies it to a directory of yours, atomically, with the CLI's rules for ``--force``.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
import weakref
from pathlib import Path
from typing import Any

from . import evaluation, nir, run, validation
from .network import Network, as_network
from .profile import Profile, as_profile
from .results import Comparison, Result


class Build:
    """A compiled build (what ``neurodeploy compile`` writes), opened for reading.

    ``path`` is its directory (a private temporary one for builds made in memory, until
    :meth:`save`); ``warnings`` are the compiler's warnings (e.g. weights clipped).
    """

    def __init__(self, path: str | Path, *, owned: Path | None = None,
                 warnings: list[str] | None = None) -> None:
        """Open the build directory ``path``; ``owned`` is a temporary folder removed with
        this object (builds made by :func:`compile` and :func:`train`)."""
        from ..compiling.artifact import Build as Artifact
        self._owned = owned
        self._cleanup = weakref.finalize(self, shutil.rmtree, str(owned), True) if owned else None
        self._artifact = Artifact(path)
        self.path = Path(path)
        self.warnings = list(warnings or [])

    @classmethod
    def open(cls, path: str | Path) -> "Build":
        """Open an existing build directory (its manifest and digest are checked)."""
        return cls(path)

    @property
    def manifest(self) -> dict:
        """The build's manifest (parameters in chip units for fixed-point profiles)."""
        return self._artifact.manifest

    @property
    def name(self) -> str:
        """The network's name."""
        return self.manifest["name"]

    @property
    def numerics(self) -> str:
        """``fixed`` or ``float``."""
        return self.manifest["numerics"]

    @property
    def profile(self) -> str:
        """Name of the profile the build was compiled for."""
        return self.manifest["profile"]["name"]

    @property
    def dt(self) -> float:
        """Time step in ms."""
        return float(self.manifest["dt"])

    def monitors(self, frozen: bool = False) -> list[tuple[str, str]]:
        """``(population, variable)`` pairs a simulation records: the network's monitors, else
        the spikes of every membrane population (``frozen`` as in :func:`neurodeploy.simulate`)."""
        from ..compilers import load_plan
        plan = load_plan(self._artifact)
        return list((plan.frozen() if frozen else plan).monitors)

    @property
    def report(self) -> dict:
        """The compile report (cores, memory in bytes, quantization errors, per population
        and projection), as ``report.json`` holds it."""
        return json.loads((self.path / "report.json").read_text(encoding="utf-8"))

    @property
    def report_txt(self) -> str:
        """The compile report as text (what ``neurodeploy compile`` prints)."""
        return (self.path / "report.txt").read_text(encoding="utf-8")

    def save(self, directory: str | Path, force: bool = False) -> Path:
        """Copy the build to ``directory`` (atomically; ``force`` replaces only a build,
        as ``compile --force`` does); returns the directory."""
        from ..compiling.artifact import _place, check_output_dir
        from ..outputs import write_error
        out = Path(directory)
        check_output_dir(out, force=force)
        target = Path(os.path.abspath(out))
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp",
                                        dir=target.parent))
        except OSError as exc:
            raise write_error(out, exc) from None
        try:
            shutil.copytree(self.path, tmp, dirs_exist_ok=True)
            _place(tmp, target, out, force)
        except OSError as exc:
            raise write_error(out, exc) from None
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return out

    def simulate(self, backend: str = "cpu", inputs: Any = None, steps: int | None = None,
                 **options: Any) -> Result:
        """Run the build on ``backend``; see :func:`neurodeploy.simulate`."""
        return run.simulate(self, backend=backend, inputs=inputs, steps=steps, **options)

    def compare(self, backends: tuple[str, ...] = ("cpu", "lava"), inputs: Any = None,
                steps: int | None = None, **options: Any) -> Comparison:
        """Run on several backends and compare; see :func:`neurodeploy.compare`."""
        return run.compare(self, backends=backends, inputs=inputs, steps=steps, **options)

    def evaluate(self, **options: Any) -> evaluation.Evaluation:
        """Test accuracy and workload; see :func:`neurodeploy.evaluate`."""
        return evaluation.evaluate(self, **options)

    def validate(self, **options: Any) -> validation.ValidationReport:
        """Monte Carlo yield under mismatch; see :func:`neurodeploy.validate`."""
        return validation.validate(self, **options)

    def to_nir(self, path: str | Path, **options: Any) -> Path:
        """Export the build (dequantized) as a ``.nir`` file; see :func:`neurodeploy.to_nir`."""
        return nir.to_nir(self, path, **options)

    def close(self) -> None:
        """Remove the temporary directory of a build made in memory (no-op otherwise)."""
        if self._cleanup is not None:
            self._cleanup()

    def __repr__(self) -> str:
        where = "in memory" if self._owned else str(self.path)
        return f"<Build '{self.name}' for {self.profile} ({self.numerics}), {where}>"


def scratch() -> Path:
    """A new private temporary folder for a build made in memory."""
    return Path(tempfile.mkdtemp(prefix="neurodeploy-"))


def compile(network: Network | str | Path, profile: Profile | str | Path = "loihi2",
            out: str | Path | None = None, force: bool = False) -> Build:
    """Quantize and map ``network`` to ``profile``; the build stays in memory until
    :meth:`Build.save`, or is written to ``out`` (atomically; ``force`` replaces only a
    build, as ``compile --force``). Errors are :class:`~neurodeploy.CompileError` (does not
    fit) or :class:`~neurodeploy.IRError`, with the CLI's message and field path."""
    from ..compiling import compile_network
    from ..compiling.artifact import check_output_dir
    net, prof = as_network(network), as_profile(profile)
    if out is not None:
        check_output_dir(Path(out), force=force)
        result = compile_network(net.ir, prof.hardware, Path(out), force=force)
        return Build(result.out, warnings=result.warnings)
    folder = scratch()
    try:
        result = compile_network(net.ir, prof.hardware, folder / "build")
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return Build(folder / "build", owned=folder, warnings=result.warnings)
