"""Exceptions that carry the offending file and field path, so the CLI can print one line."""
from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from pathlib import Path

FieldPath = Sequence["str | int"]


def format_path(path: FieldPath) -> str:
    """Render ('projections', 'a', 'weights', 0) as 'projections.a.weights[0]'."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """A ' (did you mean 'x'?)' suffix for the closest choice, or '' when none is close."""
    match = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=0.6)
    return f" (did you mean '{match[0]}'?)" if match else ""


class NeurodeployError(Exception):
    """Base class for errors caused by the user's input; the CLI exits 1 on these."""

    def __init__(self, message: str, *, file: str | Path | None = None,
                 path: FieldPath = (), line: int | None = None) -> None:
        self.message = message
        self.file = str(file) if file is not None else None
        self.path = tuple(path)
        self.line = line
        super().__init__(self.__str__())

    def __str__(self) -> str:
        where = ""
        if self.file:
            where = self.file + (f":{self.line}" if self.line else "") + ": "
        field = format_path(self.path)
        return f"{where}{field + ': ' if field else ''}{self.message}"


class IRError(NeurodeployError):
    """The network YAML is malformed or inconsistent."""


class ProfileError(NeurodeployError):
    """A hardware profile is malformed or unknown."""


class CompileError(NeurodeployError):
    """The network does not fit the profile's limits."""


class ArtifactError(NeurodeployError):
    """A build directory is missing, incomplete or of an unknown format."""


class BackendError(NeurodeployError):
    """A backend cannot run an artifact or is not installed."""
