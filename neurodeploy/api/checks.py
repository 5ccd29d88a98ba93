"""Argument checks shared by the API and the command line, each message naming the argument
as its caller spells it (``epochs`` in Python, ``--epochs`` on the command line)."""
from __future__ import annotations

from ..errors import NeurodeployError


def positive(name: str, value: int | None) -> None:
    """``value`` is None (the default) or an integer >= 1."""
    if value is not None and value <= 0:
        raise NeurodeployError(f"{name} must be a positive integer, got {value}")


def learning_rate(name: str, value: float | None) -> None:
    """``value`` is None (the rule's own) or in (0, 10] (per unit weight, per epoch)."""
    if value is not None and not 0 < value <= 10:
        raise NeurodeployError(f"{name} must be in (0, 10], got {value:g}")


def classes(name: str, text: str | None) -> list[int] | None:
    """Comma-separated distinct labels >= 0 (``"0,1,2"``) as a list; None when empty."""
    if not text:
        return None
    try:
        out = [int(c) for c in text.split(",") if c.strip()]
    except ValueError:
        raise NeurodeployError(f"{name} must be comma-separated integers, got '{text}'") from None
    if not out or len(set(out)) != len(out) or min(out) < 0:
        raise NeurodeployError(f"{name} needs distinct labels >= 0, got '{text}'")
    return out
