"""Adversarial validation as an object: accuracy of a build under crafted inputs."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import NeurodeployError
from .buildlike import BuildLike, build_path
from .progress import enabled, reporter


@dataclass
class AttackReport:
    """``report.json`` of an attack run: accuracy (fraction) with its 95 % Clopper-Pearson
    interval per attack and budget ``eps`` (pixel units, features scaled to [0, 1]), on the
    nominal build and, when asked, on mismatched chips. ``folder`` holds report.json and
    report.html (None when no ``out`` was given)."""

    raw: dict
    folder: Path | None

    def lines(self) -> list[str]:
        """The summary ``neurodeploy validate --attack`` prints."""
        from ..validation.attacks.report import summary_lines
        return summary_lines(self.raw)

    def __str__(self) -> str:
        return "\n".join(self.lines())


def _texts(values: str | Sequence[Any]) -> str:
    """``"a,b"`` as is; a sequence joined with commas (as the command line's flag reads)."""
    return values if isinstance(values, str) else ",".join(str(v) for v in values)


def _slopes(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise NeurodeployError(f"'{text}' is not a list of numbers, e.g. 1,5,25",
                               path=("--slopes",)) from None


def attack(build: BuildLike | str | Path, attacks: str | Sequence[str] = "all",
           eps: str | Sequence[float] = (0.01, 0.03, 0.1), data: str = "digits",
           samples: int | None = None, slopes: str | Sequence[float] = (1, 5, 25),
           pgd_steps: int = 40, restarts: int = 2, queries: int = 200, twin_epochs: int = 10,
           chips: int = 0, seed: int | None = None,
           overrides: dict[str, Any] | list[str] | None = None, out: str | Path | None = None,
           progress: bool | None = None) -> AttackReport:
    """Accuracy of ``build`` (a classifier with a task; cpu numerics, bit-exact with Lava)
    under ``attacks`` (fgsm, pgd, transfer, blackbox or ``"all"``) at L-infinity budgets
    ``eps`` in pixel units (0 is always added); ``chips`` > 0 also runs the crafted examples
    on that many mismatched chips (``seed``, ``overrides`` as in :func:`neurodeploy.validate`).
    ``out``: folder for report.json and report.html (docs/attacks.md)."""
    from ..outputs import check_writable
    from ..validation.attacks.report import write_reports
    from ..validation.attacks.run import AttackSettings, parse_attacks, parse_eps, run_attacks
    from ..validation.sweep import parse_sets
    from .validation import set_texts
    settings = AttackSettings(
        attacks=parse_attacks(_texts(attacks)), eps=parse_eps(_texts(eps)), data=str(data),
        samples=samples, slopes=_slopes(_texts(slopes)), steps=pgd_steps, restarts=restarts,
        queries=queries, twin_epochs=twin_epochs, chips=chips, chip_seed=seed,
        sets=parse_sets(set_texts(overrides)))
    folder = None if out is None else Path(out)
    if folder is not None:
        check_writable(folder, directory=True)
    report = run_attacks(str(build_path(build)), settings,
                         reporter(progress) if enabled(progress) else None)
    if folder is not None:
        write_reports(folder, report)
    return AttackReport(report, folder)
