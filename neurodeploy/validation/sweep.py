"""``--sweep PATH=v1,v2,...`` and ``--set PATH=VALUE``: mismatch settings on the command line."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from neurodeploy.variability.config import VariabilityError, coerce, lookup


@dataclass(frozen=True)
class Sweep:
    """One parameter path and the values it takes, in order."""

    path: str
    values: tuple[Any, ...]


def _split(text: str, flag: str) -> tuple[str, str]:
    if "=" not in text:
        raise VariabilityError(f"{flag} '{text}' needs PATH=VALUE (e.g. "
                               "variability.weights.cv=0.1)", path=(flag,))
    path, _, rest = text.partition("=")
    return path.strip(), rest.strip()


def parse_sweep(text: str) -> Sweep:
    """Parse ``PATH=v1,v2,...``; unknown paths and out-of-range values are errors."""
    path, rest = _split(text, "--sweep")
    param = lookup(path)
    raw = [v.strip() for v in rest.split(",")]
    if not rest or any(v == "" for v in raw):
        raise VariabilityError(f"{path}: give values separated by commas "
                               "(e.g. =0,0.05,0.1)", path=("--sweep",))
    values = tuple(coerce(param, v) for v in raw)
    if len(set(values)) != len(values):
        raise VariabilityError(f"{path}: values repeat ({rest})", path=("--sweep",))
    return Sweep(path=path, values=values)


def parse_sets(items: list[str] | None) -> dict[str, Any]:
    """``["PATH=VALUE", ...]`` -> ``{PATH: value}`` (validated)."""
    out: dict[str, Any] = {}
    for text in items or []:
        path, raw = _split(text, "--set")
        out[path] = coerce(lookup(path), raw)
    return out
