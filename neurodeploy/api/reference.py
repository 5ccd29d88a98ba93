"""Write the API reference (docs/api.md) from the public names' docstrings.

``python -m neurodeploy.api.reference docs/api.md`` regenerates it; a test checks that the
committed page equals :func:`render`.
"""
from __future__ import annotations

import inspect
import sys
from pathlib import Path
from typing import Any

HEADER = """# Python API reference

Generated from the docstrings by `python -m neurodeploy.api.reference docs/api.md` (a test
checks that this page is up to date). Everything here is importable from `neurodeploy`
(`import neurodeploy as nd`); other modules are private. Units: time in ms, rates in Hz,
voltages in the unit of the network's `v_th` unless a function says chip units.
`BuildLike` in a signature: a `Build` (or any object with its `path` and `manifest`).
The `neurodeploy` command line is a thin layer over this API: `check`, `compile`, `simulate`,
`compare`, `train`, `evaluate`, `validate` (`attack` for `--attack`) and `compare-profiles`
parse their flags, call the function of the same name and print; `profiles` and `schema` print `Profile` and `Network`
methods; `import-nir`/`export-nir` call the converters `from_nir`/`to_nir` wrap.
Tutorials: [docs/tutorials/](tutorials/).
"""


def public_objects() -> dict[str, Any]:
    """Public name -> the object it stands for."""
    import neurodeploy
    return {name: getattr(neurodeploy, name) for name in neurodeploy.__all__ if name != "__version__"}


def _signature(obj: Any) -> str:
    try:
        return str(inspect.signature(obj)).replace("'", "")
    except (TypeError, ValueError):
        return "(...)"


def _doc(obj: Any) -> str:
    return inspect.cleandoc(obj.__doc__ or "")


def members(cls: type) -> list[tuple[str, Any]]:
    """Public methods, class methods and properties defined by ``cls`` itself."""
    out = []
    for name, raw in vars(cls).items():
        if name.startswith("_"):
            continue
        if isinstance(raw, (staticmethod, classmethod)):
            raw = raw.__func__
        if inspect.isfunction(raw) or isinstance(raw, property):
            out.append((name, raw))
    return out


def _class(name: str, cls: type) -> list[str]:
    lines = [f"## `{name}`", "", _doc(cls), ""]
    if issubclass(cls, Exception):
        return lines
    init = vars(cls).get("__init__")
    if init is not None and inspect.isfunction(init):
        lines += [f"`{name}{_signature(cls)}`", ""] + ([_doc(init), ""] if _doc(init) else [])
    for attr, member in members(cls):
        if isinstance(member, property):
            lines += [f"- **`.{attr}`** (property): {_doc(member)}"]
        else:
            sig = _signature(member)
            for first in ("self", "cls"):
                sig = sig.replace(f"({first}, ", "(").replace(f"({first})", "()")
            lines += [f"- **`.{attr}{sig}`**: {_doc(member)}"]
    return lines + [""]


def render() -> str:
    """The whole reference page as Markdown."""
    objects = public_objects()
    functions = [n for n, o in objects.items() if inspect.isfunction(o)]
    classes = [n for n, o in objects.items() if inspect.isclass(o) and not issubclass(o, Exception)]
    errors = [n for n, o in objects.items() if inspect.isclass(o) and issubclass(o, Exception)]
    lines = [HEADER, "## Functions", ""]
    for name in functions:
        lines += [f"### `{name}{_signature(objects[name])}`", "", _doc(objects[name]), ""]
    for name in classes:
        lines += _class(name, objects[name])
    lines += ["## Errors", "",
              "Each carries `.message`, `.file`, `.path` (the field path as a tuple) and "
              "`.line`; `str(err)` is the line the command line prints after `error: `.", ""]
    for name in errors:
        base = objects[name].__mro__[1].__name__
        lines += [f"- **`{name}`** ({base}): {_doc(objects[name])}"]
    return "\n".join(lines).rstrip() + "\n"


def main(argv: list[str]) -> int:
    """Write the page to ``argv[0]`` (default docs/api.md)."""
    path = Path(argv[0] if argv else "docs/api.md")
    path.write_text(render(), encoding="utf-8")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
