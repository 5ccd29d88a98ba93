"""What the functions that take a build accept: a :class:`~neurodeploy.Build` or a build
directory. They read only ``.path`` (duck typing), so they never import the ``Build`` class,
whose methods call them: the API's modules import each other without a cycle."""
from __future__ import annotations

from pathlib import Path
from typing import Protocol, runtime_checkable

from ..errors import ArtifactError


@runtime_checkable
class BuildLike(Protocol):
    """An opened build: :class:`~neurodeploy.Build` (or any object with its ``path`` and
    ``manifest``)."""

    path: Path
    manifest: dict


def build_path(build: BuildLike | str | Path) -> Path:
    """The directory of ``build`` (a Build or a path; the path is checked where it is read)."""
    if isinstance(build, (str, Path)):
        return Path(build)
    if isinstance(build, BuildLike):
        return Path(build.path)
    raise ArtifactError(f"expected a neurodeploy.Build or a build directory, got "
                        f"{type(build).__name__}")
