"""Self-sealed JSON documents: a document carries the sha256 of its own canonical JSON.

The build manifest was the first (``manifest_sha256``); every other file a later run trusts
(``training/summary.json``, each line of ``validate``'s ``results.jsonl``) is sealed the same
way, so an edited number is refused when the file is read instead of silently changing a
result. The seal detects edits, not forgery: it is a checksum, not a signature.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from .errors import ArtifactError, NeurodeployError


def canonical(doc: Any, allow_nan: bool = False) -> str:
    """Canonical JSON (sorted keys, fixed indentation) so equal documents are equal bytes.
    ``allow_nan``: measured figures may be NaN (a build's manifest may not)."""
    return json.dumps(doc, sort_keys=True, indent=2, allow_nan=allow_nan) + "\n"


def digest(doc: dict, key: str, allow_nan: bool = False) -> str:
    """sha256 of the canonical ``doc`` without its seal ``key``."""
    body = {k: v for k, v in doc.items() if k != key}
    return hashlib.sha256(canonical(body, allow_nan).encode()).hexdigest()


def seal(doc: dict, key: str, allow_nan: bool = False) -> dict:
    """A copy of ``doc`` carrying its own digest under ``key``."""
    return {**doc, key: digest(doc, key, allow_nan)}


def is_sealed(doc: Any, key: str, allow_nan: bool = False) -> bool:
    """Whether ``doc`` is a dict whose seal ``key`` matches its content."""
    return isinstance(doc, dict) and isinstance(doc.get(key), str) and \
        doc[key] == digest(doc, key, allow_nan)


def read_sealed(path: str | Path, key: str, fix: str,
                error: type[NeurodeployError] = ArtifactError) -> dict:
    """Load a sealed JSON file; a missing seal, unreadable JSON or an edit is one line."""
    path = Path(path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, OSError) as exc:
        raise error(f"not readable JSON ({type(exc).__name__}); {fix}", file=path) from None
    if not isinstance(doc, dict) or not isinstance(doc.get(key), str):
        raise error(f"has no integrity digest '{key}' (written by an older neurodeploy, or "
                    f"edited); {fix}", file=path)
    if not is_sealed(doc, key):
        raise error(f"does not match its integrity digest: it was edited after it was "
                    f"written; {fix}", file=path)
    return doc
