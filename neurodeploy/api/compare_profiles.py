"""One network on several profiles, nominal and mismatched, as an object (``compare-profiles``)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .progress import enabled
from .validation import input_file


@dataclass
class ProfileComparison:
    """Per profile label: ``profile``, ``numerics`` and either ``error`` (does not compile) or
    the ``nominal`` chip's figures, the ``mismatch`` figures' statistics over the chips and
    the ``yield`` (fraction) with its 95 % ``yield_ci``. ``table`` is what
    ``neurodeploy compare-profiles`` prints; ``folder`` holds builds and results (None
    when none was asked for)."""

    profiles: dict[str, dict]
    table: list[str]
    folder: Path | None

    def __str__(self) -> str:
        return "\n".join(self.table)


def compare_profiles(network: str | Path, profiles: list[str] | tuple[str, ...] = (
                         "cpu", "loihi2", "mixed_signal"), chips: int = 50,
                     spec: str | None = None, out: str | Path | None = None,
                     inputs: Any = None, steps: int | None = None, seed: int | None = None,
                     frozen: bool = False, data: str = "digits", samples: int | None = None,
                     progress: bool | None = None) -> ProfileComparison:
    """Compile the network YAML ``network`` for each profile and run it as the nominal chip
    and as ``chips`` mismatched chips (``spec``, ``inputs``, ``steps``, ``seed``, ``frozen``,
    ``data`` and ``samples`` as in :func:`neurodeploy.validate`); builds and results go to
    ``out`` when given, else to a temporary folder that is removed."""
    from ..validation.profiles import compare_profiles as run
    with input_file(inputs) as npz:
        rows = run(str(network), list(profiles), chips=chips, spec=spec,
                   out=None if out is None else str(out), input_file=npz, steps=steps,
                   seed=seed, progress=enabled(progress), frozen=frozen, data=str(data),
                   samples=samples)
    return ProfileComparison(profiles=rows["profiles"], table=list(rows["table"]),
                             folder=None if out is None else Path(rows["folder"]))
