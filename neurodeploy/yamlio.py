"""Safe YAML loading that refuses duplicate keys and remembers the line of every field."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .errors import NeurodeployError


@dataclass
class LoadedYAML:
    """Parsed data plus a map from field path to 1-based line number."""

    data: Any
    file: str
    lines: dict[tuple, int] = field(default_factory=dict)

    def line_of(self, path: tuple) -> int | None:
        """Line of the deepest known prefix of ``path`` (errors often point below a node)."""
        for end in range(len(path), -1, -1):
            if path[:end] in self.lines:
                return self.lines[path[:end]]
        return None


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that raises on duplicate mapping keys instead of keeping the last one."""

    def construct_mapping(self, node, deep=False):  # type: ignore[override]
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if not isinstance(key, (str, int, float, bool)) and key is not None:
                raise yaml.constructor.ConstructorError(
                    None, None, "mapping keys must be plain names, not lists or mappings",
                    key_node.start_mark)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None,
                    f"duplicate key '{key}' (first defined on line {seen[key]}); names must be unique",
                    key_node.start_mark)
            seen[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)


def _collect_lines(node: yaml.Node, path: tuple, out: dict[tuple, int]) -> None:
    out[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value
            out[path + (key,)] = key_node.start_mark.line + 1
            _collect_lines(value_node, path + (key,), out)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _collect_lines(item, path + (i,), out)


def load_yaml(path: str | Path, error_cls: type[NeurodeployError] = NeurodeployError,
              what: str = "file") -> LoadedYAML:
    """Read ``path`` with a safe, duplicate-refusing loader; errors name the file and line."""
    p = Path(path)
    if not p.exists():
        raise error_cls(f"{what} not found; check the path", file=p)
    if p.is_dir():
        raise error_cls(f"expected a YAML {what}, got a directory", file=p)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise error_cls(f"cannot read {what}: {exc}", file=p) from None
    return parse_yaml(text, str(p), error_cls)


def parse_yaml(text: str, name: str, error_cls: type[NeurodeployError] = NeurodeployError
               ) -> LoadedYAML:
    """Parse YAML text; the result keeps per-field line numbers for error messages."""
    try:
        node = yaml.compose(text, Loader=_StrictLoader)
        data = yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        problem = exc.problem or str(exc)
        raise error_cls(f"invalid YAML: {problem}; fix the syntax", file=name, line=line) from None
    except yaml.YAMLError as exc:
        raise error_cls(f"invalid YAML: {exc}", file=name) from None
    except RecursionError:
        raise error_cls("invalid YAML: an alias refers to itself (recursive anchor); "
                        "remove the '*' reference", file=name) from None
    lines: dict[tuple, int] = {}
    if node is not None:
        try:
            _collect_lines(node, (), lines)
        except RecursionError:
            raise error_cls("invalid YAML: an alias refers to itself (recursive anchor); "
                            "remove the '*' reference", file=name) from None
    return LoadedYAML(data=data, file=name, lines=lines)
