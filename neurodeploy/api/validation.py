"""Monte Carlo validation under device mismatch, returning the report as an object."""
from __future__ import annotations

import shutil
import tempfile
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from .buildlike import BuildLike, build_path
from .progress import enabled


class ValidationReport:
    """The report of a validation run (``report.json`` as attributes, plus helpers).

    ``yield_`` is the fraction of chips passing the spec (None without a spec) with its 95 %
    Clopper-Pearson interval ``yield_ci``; ``points`` holds one entry per sweep point,
    ``chips`` one per chip with its ``figures`` (rates in Hz, accuracy as a fraction,
    distances per neuron). ``folder`` holds report.json, report.html and results.jsonl.
    """

    def __init__(self, report: dict, folder: Path, owned: bool) -> None:
        """Wrap ``report``; an ``owned`` folder is removed with this object."""
        self.raw = report
        self.folder = folder
        self._cleanup = weakref.finalize(self, shutil.rmtree, str(folder), True) if owned else None

    @property
    def yield_(self) -> float | None:
        """Yield at the worst sweep point (fraction of chips passing), or None."""
        return self.raw["yield"]

    @property
    def yield_ci(self) -> list[float] | None:
        """95 % Clopper-Pearson interval of the yield."""
        return self.raw["yield_ci"]

    @property
    def meets_target(self) -> bool | None:
        """Whether the yield meets ``target_yield`` at every point (None without a target)."""
        return self.raw["meets_target"]

    @property
    def points(self) -> list[dict]:
        """One entry per sweep point: value, yield, CI, figure statistics."""
        return self.raw["points"]

    @property
    def chips(self) -> list[dict]:
        """One entry per chip: point, chip index, figures, pass, margin."""
        return self.raw["chips"]

    def figure(self, name: str, point: int = 0) -> np.ndarray:
        """Figure ``name`` (e.g. ``accuracy``, ``output.rate``) of every chip at ``point``."""
        return np.array([c["figures"][name] for c in self.chips if c["point"] == point])

    def table(self) -> list[dict[str, Any]]:
        """One row per sweep point (value, chips, yield, CI low/high, mean of every figure):
        plain dicts, no pandas needed (``pandas.DataFrame(report.table())`` works too)."""
        rows = []
        for e in self.points:
            row: dict[str, Any] = {"value": e["value"], "chips": e["chips"], "yield": e["yield"],
                                   "ci_low": e["yield_ci"][0] if e["yield_ci"] else None,
                                   "ci_high": e["yield_ci"][1] if e["yield_ci"] else None}
            row.update({k: v["mean"] for k, v in sorted(e["figures"].items())})
            rows.append(row)
        return rows

    def __str__(self) -> str:
        rows = self.table()
        keys = list(dict.fromkeys(k for r in rows for k in r))
        fmt = lambda v: "-" if v is None else (f"{v:.4g}" if isinstance(v, float) else str(v))  # noqa: E731
        cells = [[fmt(r.get(k)) for k in keys] for r in rows]
        widths = [max(len(k), *(len(c[i]) for c in cells)) for i, k in enumerate(keys)]
        line = lambda parts: "  ".join(p.rjust(w) for p, w in zip(parts, widths))  # noqa: E731
        return "\n".join([line(keys)] + [line(c) for c in cells])

    def plot(self, name: str | None = None, ax: Any = None) -> Any:
        """Yield against the swept value (with the 95 % interval) for a sweep, else a
        histogram of figure ``name`` (default the spec's first metric) over the chips."""
        import matplotlib.pyplot as plt
        if ax is None:
            _, ax = plt.subplots(figsize=(5, 3))
        sweep = self.raw["sweep"]
        if sweep and self.yield_ is not None and name is None:
            x = [e["value"] for e in self.points]
            y = [e["yield"] for e in self.points]
            lo = [e["yield"] - e["yield_ci"][0] for e in self.points]
            hi = [e["yield_ci"][1] - e["yield"] for e in self.points]
            ax.errorbar(x, y, yerr=[lo, hi], marker="o", capsize=3)
            ax.set(xlabel=sweep["path"], ylabel="yield", ylim=(-0.02, 1.02))
            return ax
        if name is None:
            from ..validation.report import _main_metric
            name = _main_metric(self.raw)
        ax.hist(self.figure(name), bins=20)
        ax.set(xlabel=name, ylabel="chips", title=f"{len(self.figure(name))} chips")
        return ax

    def __repr__(self) -> str:
        y = "no spec" if self.yield_ is None else f"yield {self.yield_:.3f}"
        return f"<ValidationReport {len(self.chips)} chips, {y}>"


@contextmanager
def input_file(inputs: Any) -> Iterator[str | None]:
    """An ``.npz`` path for ``inputs``: a path as is, a mapping written to a temporary file
    that is removed afterwards, None for None."""
    if inputs is None or isinstance(inputs, (str, Path)):
        yield None if inputs is None else str(inputs)
        return
    from .run import _given
    folder = Path(tempfile.mkdtemp(prefix="neurodeploy-inputs-"))
    try:
        path = folder / "inputs.npz"
        np.savez(path, **_given(inputs))
        yield str(path)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def set_texts(overrides: dict[str, Any] | list[str] | None) -> list[str]:
    """``--set`` texts (``PATH=VALUE``) from a mapping or a list of such texts."""
    if isinstance(overrides, (list, tuple)):
        return list(overrides)
    return [f"{k}={v}" for k, v in (overrides or {}).items()]


def _sweep_text(sweep: tuple[str, list] | str | None) -> str | None:
    """The ``--sweep`` text (``PATH=v1,v2``) of a (path, values) pair."""
    if sweep is None or isinstance(sweep, str):
        return sweep
    path, values = sweep
    return f"{path}=" + ",".join(str(v) for v in values)


def settings(build: BuildLike | str | Path, chips: int = 100, spec: str | None = None,
             target_yield: float | None = None, overrides: dict[str, Any] | list[str] | None = None,
             sweep: tuple[str, list] | str | None = None, backend: str = "cpu",
             seed: int | None = None, steps: int | None = None, input_file: str | None = None,
             data: str = "digits", samples: int | None = None, frozen: bool = False,
             finetune: bool = False, finetune_epochs: int = 1,
             finetune_samples: int | None = None, finetune_lr_scale: float | None = None,
             finetune_freeze_feedback: bool = False, chunk: int | None = None) -> Any:
    """The checked settings of a validation run (arguments as :func:`validate`; ``input_file``
    an ``.npz``); errors name the command line's flags (``--spec``, ``--input``...)."""
    from ..compiling.artifact import Build as Artifact
    from ..errors import NeurodeployError
    from ..neurons.kind import MEMBRANE_KINDS
    from ..validation.runner import Settings
    from ..validation.spec import check_against, parse_spec
    from ..validation.sweep import parse_sets, parse_sweep
    sweep_text = _sweep_text(sweep)
    parsed = parse_spec(spec) if spec is not None else None
    if target_yield is not None and parsed is None:
        raise NeurodeployError("needs a --spec that says what passing means "
                               "(e.g. --spec 'out.rate>=5')", path=("--yield",))
    swept = parse_sweep(sweep_text) if sweep_text else None
    sets = parse_sets(set_texts(overrides))
    path = build_path(build)
    manifest = Artifact(path).manifest
    if parsed is not None:
        lif = [n for n, p in manifest["populations"].items() if p["kind"] in MEMBRANE_KINDS]
        check_against(parsed, lif, has_task=bool(manifest.get("task")))
    if parsed is not None and "accuracy" in parsed.metrics and input_file:
        raise NeurodeployError("'accuracy' is measured on the build's data set; drop --input",
                               path=("--input",))
    if finetune_freeze_feedback and not finetune:
        raise NeurodeployError("is the control of a fine-tuning run; add --finetune",
                               path=("--finetune-freeze-feedback",))
    if input_file and not Path(input_file).is_file():
        raise NeurodeployError("input file not found", file=input_file, path=("--input",))
    return Settings(build=str(path.resolve()), chips=chips,
                    seed=manifest["seed"] if seed is None else seed,
                    spec=parsed.text if parsed else None,
                    sweep_path=swept.path if swept else None,
                    sweep_values=list(swept.values) if swept else [], sets=sets,
                    backend=backend, steps=steps,
                    input=str(Path(input_file).resolve()) if input_file else None,
                    chunk=chunk, frozen=frozen, data=str(data), samples=samples,
                    finetune=finetune, finetune_epochs=finetune_epochs,
                    finetune_samples=finetune_samples, finetune_lr_scale=finetune_lr_scale,
                    finetune_freeze_feedback=finetune_freeze_feedback)


def validate(build: BuildLike | str | Path, chips: int = 100, spec: str | None = None,
             target_yield: float | None = None, overrides: dict[str, Any] | list[str] | None = None,
             sweep: tuple[str, list] | str | None = None, backend: str = "cpu",
             seed: int | None = None, steps: int | None = None, inputs: Any = None,
             data: str = "digits", samples: int | None = None, frozen: bool = False,
             finetune: bool = False, finetune_epochs: int = 1,
             finetune_samples: int | None = None, finetune_lr_scale: float | None = None,
             finetune_freeze_feedback: bool = False, out: str | Path | None = None, resume: bool = False, force: bool = False,
             dask: bool = False, workers: int | None = None, scheduler: str | None = None,
             chunk: int | None = None, progress: bool | None = None) -> ValidationReport:
    """Simulate ``chips`` mismatched chips of ``build`` and measure each against ``spec``
    (e.g. ``"accuracy>=0.9"``, ``"output.rate>=5"`` in Hz; docs/validate.md).

    ``overrides``: mismatch settings (``--set``), ``{"variability.weights.cv": 0.1}`` or
    ``["variability.weights.cv=0.1"]``; ``sweep``: one path and its values,
    ``("variability.weights.cv", [0, 0.05, 0.1])`` or ``"variability.weights.cv=0,0.05,0.1"``;
    ``inputs``: spikes per spike_source (mapping or ``.npz``); ``finetune``: chip-in-the-loop
    fine-tuning; ``finetune_freeze_feedback``: its control run with every feedback matrix B
    held (no B updates, no alignment phases). Results go to ``out`` (default a temporary folder removed with
    the report; ``resume`` continues one, ``force`` discards it).
    """
    from ..validation.core import run_validation
    owned = out is None
    folder = Path(tempfile.mkdtemp(prefix="neurodeploy-validate-")) if owned else Path(out)
    try:
        with input_file(inputs) as npz:
            checked = settings(build, chips=chips, spec=spec, target_yield=target_yield,
                               overrides=overrides, sweep=sweep, backend=backend, seed=seed,
                               steps=steps, input_file=npz, data=data, samples=samples,
                               frozen=frozen, finetune=finetune, finetune_epochs=finetune_epochs,
                               finetune_samples=finetune_samples,
                               finetune_lr_scale=finetune_lr_scale,
                               finetune_freeze_feedback=finetune_freeze_feedback, chunk=chunk)
            report = run_validation(checked, folder, target=target_yield, resume=resume,
                                    force=force or owned, scheduler=scheduler, dask=dask,
                                    workers=workers, progress=enabled(progress))
    except BaseException:
        if owned:
            shutil.rmtree(folder, ignore_errors=True)
        raise
    return ValidationReport(report, folder, owned)
