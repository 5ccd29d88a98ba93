"""``training/summary.json``: what ``train`` did (epochs, classes, accuracies), sealed.

Later runs trust it (``evaluate`` and ``validate`` read the classes a build was trained on,
``validate --finetune`` the epochs its learning-rate schedule ran), so it is sealed like the
manifest (:mod:`neurodeploy.sealed`) and bound to the build it belongs to by the build
manifest's own digest: an edited summary, or one copied from another build, is refused.
"""
from __future__ import annotations

import json
from pathlib import Path

from ..errors import ArtifactError
from ..sealed import canonical, read_sealed, seal

SEAL_KEY = "summary_sha256"
BUILD_KEY = "build_manifest_sha256"
FIX = "retrain the build (`neurodeploy train ... --force`) instead of editing it"


def _manifest_seal(build: Path) -> str | None:
    try:
        return json.loads((build / "manifest.json").read_text(encoding="utf-8")).get(
            "manifest_sha256")
    except (OSError, ValueError, AttributeError):
        return None


def write_summary(path: Path, summary: dict, build: Path) -> None:
    """Write ``summary`` sealed and bound to the (finished) build directory ``build``."""
    doc = seal({**summary, BUILD_KEY: _manifest_seal(build)}, SEAL_KEY)
    path.write_text(canonical(doc), encoding="utf-8")


def read_summary(build: str | Path) -> dict | None:
    """The build's sealed training summary, or None for a build ``train`` did not write."""
    build = Path(build)
    path = build / "training" / "summary.json"
    if not path.exists():
        return None
    doc = read_sealed(path, SEAL_KEY, FIX)
    if doc.get(BUILD_KEY) != _manifest_seal(build):
        raise ArtifactError(f"belongs to another build (its {BUILD_KEY} is not this build's "
                            f"manifest digest); {FIX}", file=path)
    classes = doc.get("classes")
    if classes is not None and not (isinstance(classes, list) and classes and all(
            isinstance(c, int) and not isinstance(c, bool) and c >= 0 for c in classes)):
        raise ArtifactError(f"classes must be a list of labels >= 0 or null; {FIX}",
                            file=path, path=("classes",))
    epochs = doc.get("epochs")
    if not isinstance(epochs, int) or isinstance(epochs, bool) or epochs < 0:
        raise ArtifactError(f"epochs must be an integer >= 0; {FIX}", file=path,
                            path=("epochs",))
    return doc


def trained_classes(build: str | Path) -> list[int] | None:
    """The label subset a build was trained on (``train --classes``), if any."""
    doc = read_summary(build)
    return doc.get("classes") if doc else None
