"""Safe YAML loading that refuses duplicate keys and remembers the line of every field.

Hostile documents are refused before they cost anything: non-regular files (devices,
FIFOs) and files above :data:`~neurodeploy.limits.MAX_YAML_BYTES` are not read, text whose
parse would exceed the memory budget is not parsed, nesting is limited to
:data:`~neurodeploy.limits.MAX_YAML_DEPTH` levels and an alias inside its own anchor is
named as such (both from the event stream, before nodes are built), and aliases that would
expand the document by more than :data:`~neurodeploy.limits.MAX_ALIAS_EXPANSION` values
("billion laughs") are refused before anything is constructed. Merge keys
(``<<: *defaults``) are supported. Parsing and composing use libyaml when PyYAML has it.
"""
from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from . import limits
from .errors import NeurodeployError

MERGE_TAG = "tag:yaml.org,2002:merge"
_DEEP = (f"nested more than {limits.MAX_YAML_DEPTH} levels deep; a network or profile needs "
         "fewer than 10, flatten the document")
BOOL_TAG = "tag:yaml.org,2002:bool"


@dataclass
class LoadedYAML:
    """Parsed data plus a map from field path to 1-based line number."""

    data: Any
    file: str
    lines: dict[tuple, int] = field(default_factory=dict)
    bool_words: dict[tuple, str] = field(default_factory=dict)

    def line_of(self, path: tuple) -> int | None:
        """Line of the deepest known prefix of ``path`` (errors often point below a node)."""
        for end in range(len(path), -1, -1):
            if path[:end] in self.lines:
                return self.lines[path[:end]]
        return None


class _Refused(Exception):
    """A structural limit was hit while composing (carries the message and the line)."""

    def __init__(self, message: str, line: int | None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


class _StrictConstructor:
    """Constructor mixin: refuses duplicate and non-scalar keys; merge keys (``<<``) work."""

    def construct_mapping(self, node, deep=False):  # type: ignore[override]
        seen: dict[Any, tuple[int, str]] = {}
        for key_node, _ in node.value:
            if key_node.tag == MERGE_TAG:
                continue
            if not isinstance(key_node, yaml.ScalarNode):
                raise yaml.constructor.ConstructorError(
                    None, None, "mapping keys must be plain names, not lists or mappings",
                    key_node.start_mark)
            key = self.construct_object(key_node, deep=True)
            if key in seen:
                line, text = seen[key]
                if isinstance(key, bool):
                    message = (f"'{key_node.value}' and '{text}' (line {line}) are the same key: "
                               f"YAML reads unquoted yes/no/on/off as {key}; quote names such "
                               f"as '{key_node.value}'")
                else:
                    message = f"duplicate key '{key}' (first defined on line {line}); names must be unique"
                raise yaml.constructor.ConstructorError(None, None, message, key_node.start_mark)
            seen[key] = (key_node.start_mark.line + 1, key_node.value)
        return super().construct_mapping(node, deep=deep)  # type: ignore[misc]


class _StrictLoader(_StrictConstructor, yaml.SafeLoader):
    """Pure-Python safe loader (used when PyYAML was built without libyaml)."""


_CSafe = getattr(yaml, "CSafeLoader", None)
if _CSafe is not None:
    class _FastStrictLoader(_StrictConstructor, _CSafe):  # type: ignore[valid-type,misc]
        """libyaml parser and composer, our constructor: ~15x faster on large files."""

    LOADER: type = _FastStrictLoader
else:  # pragma: no cover - PyYAML wheels ship libyaml
    LOADER = _StrictLoader


def _check_structure(text: str) -> None:
    """Nesting depth and aliases inside their own anchor, from the event stream alone.

    Runs before any node is built, so a 10,000-deep document or a recursive anchor is
    named as such instead of exhausting the composer's recursion.
    """
    open_anchors: list[str | None] = []
    for event in yaml.parse(text, Loader=LOADER):
        if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            open_anchors.append(event.anchor)
            if len(open_anchors) > limits.MAX_YAML_DEPTH:
                raise _Refused(_DEEP, event.start_mark.line + 1)
        elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            open_anchors.pop()
        elif isinstance(event, yaml.AliasEvent) and event.anchor in open_anchors:
            raise _Refused(f"alias '*{event.anchor}' is inside the node anchored "
                           f"'&{event.anchor}' (a recursive anchor); remove the '*' "
                           "reference", event.start_mark.line + 1)


def _expanded_size(root: yaml.Node) -> tuple[int, int]:
    """(values written, values after expanding every alias and merge key)."""
    memo: dict[int, int] = {}

    def size(node: yaml.Node) -> int:
        key = id(node)
        if key in memo:
            return memo[key]
        total = 1
        if isinstance(node, yaml.SequenceNode):
            total += sum(size(item) for item in node.value)
        elif isinstance(node, yaml.MappingNode):
            total += sum(size(k) + size(v) for k, v in node.value)
        memo[key] = total
        return total

    total = size(root)
    return len(memo), total


def _collect_lines(root: yaml.Node, lines: dict[tuple, int], bools: dict[tuple, str]) -> None:
    """Line of every field path; a node reached again through an alias is not re-entered."""
    visited: set[int] = set()

    def walk(node: yaml.Node, path: tuple) -> None:
        lines[path] = node.start_mark.line + 1
        if id(node) in visited:
            return
        visited.add(id(node))
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                key = key_node.value
                if key_node.tag == BOOL_TAG:
                    key = key.lower() in ("yes", "y", "true", "on")
                    bools[path + (key,)] = key_node.value
                lines[path + (key,)] = key_node.start_mark.line + 1
                walk(value_node, path + (key,))
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                walk(item, path + (i,))
        elif node.tag == BOOL_TAG:
            bools[path] = node.value

    walk(root, ())


def read_text_bounded(path: str | Path, error_cls: type[NeurodeployError] = NeurodeployError,
                      what: str = "file", limit: int | None = None) -> str:
    """Text of a regular file of at most ``limit`` bytes; anything else is refused unread."""
    p = Path(path)
    limit = limits.MAX_YAML_BYTES if limit is None else limit
    try:
        info = os.stat(p)
    except FileNotFoundError:
        raise error_cls(f"{what} not found; check the path", file=p) from None
    except OSError as exc:
        raise error_cls(f"cannot read {what}: {exc.strerror or exc}", file=p) from None
    if stat.S_ISDIR(info.st_mode):
        raise error_cls(f"expected a YAML {what}, got a directory", file=p)
    if not stat.S_ISREG(info.st_mode):
        kind = ("a FIFO (named pipe)" if stat.S_ISFIFO(info.st_mode) else
                "a device" if stat.S_ISCHR(info.st_mode) or stat.S_ISBLK(info.st_mode) else
                "a socket" if stat.S_ISSOCK(info.st_mode) else "not a regular file")
        raise error_cls(f"{what} is {kind}, not a regular file; save the YAML to a file and "
                        "pass its path", file=p)
    if info.st_size > limit:
        raise error_cls(f"{what} is {limits.format_bytes(info.st_size)} but the limit is "
                        f"{limits.format_bytes(limit)}; a network or profile YAML is far smaller "
                        "(put large arrays in .npy weight files)", file=p)
    try:
        with open(p, "rb") as fh:
            raw = fh.read(limit + 1)
    except OSError as exc:
        raise error_cls(f"cannot read {what}: {exc.strerror or exc}", file=p) from None
    if len(raw) > limit:
        raise error_cls(f"{what} grew beyond the limit of {limits.format_bytes(limit)} while "
                        "being read", file=p)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error_cls(f"cannot read {what}: not UTF-8 text ({exc.reason} at byte "
                        f"{exc.start}); save it as UTF-8", file=p) from None


def load_yaml(path: str | Path, error_cls: type[NeurodeployError] = NeurodeployError,
              what: str = "file") -> LoadedYAML:
    """Read ``path`` with a safe, duplicate-refusing loader; errors name the file and line."""
    return parse_yaml(read_text_bounded(path, error_cls, what), str(path), error_cls)


def parse_yaml(text: str, name: str, error_cls: type[NeurodeployError] = NeurodeployError
               ) -> LoadedYAML:
    """Parse YAML text; the result keeps per-field line numbers for error messages."""
    limits.check_memory(len(text) * limits.YAML_MEMORY_PER_BYTE,
                        f"parsing {limits.format_bytes(len(text))} of YAML",
                        "keep network and profile files small (per-neuron data of large "
                        "populations belongs in .npy files)", error_cls, file=name)
    loader = None
    try:
        _check_structure(text)
        loader = LOADER(text)
        node = loader.get_single_node()
        if node is not None:
            written, expanded = _expanded_size(node)
            if expanded - written > limits.MAX_ALIAS_EXPANSION:
                raise _Refused(f"aliases expand {written:,} written values to {expanded:,} "
                               f"(limit: {limits.MAX_ALIAS_EXPANSION:,} more than written); "
                               "nested '*' references like this are an alias bomb "
                               "('billion laughs'); write the values out", None)
        data = loader.construct_document(node) if node is not None else None
    except _Refused as exc:
        raise error_cls(f"invalid YAML: {exc.message}", file=name, line=exc.line) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        problem = exc.problem or str(exc)
        if "nesting depth" in problem:  # libyaml's own limit, met while scanning ahead
            raise error_cls(f"invalid YAML: {_DEEP}", file=name, line=line) from None
        raise error_cls(f"invalid YAML: {problem}; fix the syntax", file=name, line=line) from None
    except yaml.YAMLError as exc:
        raise error_cls(f"invalid YAML: {exc}", file=name) from None
    finally:
        if loader is not None:
            loader.dispose()
    lines: dict[tuple, int] = {}
    bools: dict[tuple, str] = {}
    if node is not None:
        _collect_lines(node, lines, bools)
    return LoadedYAML(data=data, file=name, lines=lines, bool_words=bools)
