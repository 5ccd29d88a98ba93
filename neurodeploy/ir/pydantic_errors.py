"""A pydantic ``ValidationError`` as one line naming the file, line, field path and fix: the
path is cleaned of union tags, the message picks the branch the user meant and lists the
fields that exist there. Shared by the network loader and the profile loader."""
from __future__ import annotations

import types
import typing
from typing import Any

from pydantic import BaseModel, ValidationError

from ..errors import did_you_mean
from ..yamlio import LoadedYAML


def pydantic_to_error(exc: ValidationError, loaded: LoadedYAML, root: type[BaseModel],
                      error_cls: type) -> Exception:
    """Turn the first pydantic error into one line: file:line: field.path: message; fix."""
    # A union reports one error per member; the deepest location is the member the user
    # meant, and a misspelt field explains a 'missing' sibling, so it goes first.
    candidates = [(e, _clean_loc(e["loc"], loaded.data)) for e in exc.errors(include_url=False)]
    err, path = min(candidates, key=lambda c: (-len(c[1]), c[0]["type"] in _WRONG_BRANCH,
                                                 c[0]["type"] != "extra_forbidden"))
    rule_tag = err["type"] == "union_tag_invalid" and \
        (err.get("ctx") or {}).get("discriminator", "").strip("'") == "rule"
    if rule_tag:
        path = list(path) + ["rule"]
    message = _message(err, path, root, loaded.data)
    if rule_tag:
        message = message.replace("unknown value", "unknown rule", 1)
    word = loaded.bool_words.get(tuple(path))
    if word is not None and isinstance(err.get("input"), bool):
        message = (f"'{word}' is read by YAML as the boolean {err['input']}, not a name or "
                   f"text; quote it: '{word}'")
    line = loaded.line_of(tuple(path))
    shown, node = [], loaded.data
    for i, part in enumerate(path):
        is_bool_key = isinstance(node, dict) and any(k is part or (isinstance(k, bool) and k == part)
                                                     for k in node if isinstance(k, bool))
        shown.append(loaded.bool_words.get(tuple(path[:i + 1]), part) if is_bool_key else part)
        node = node.get(part) if isinstance(node, dict) else (
            node[part] if isinstance(node, list) and isinstance(part, int) and part < len(node) else None)
    return error_cls(message, file=loaded.file, path=shown, line=line)


def _clean_loc(loc: tuple, data: Any) -> list:
    """Drop the union tags pydantic puts into error locations, keeping real keys only."""
    path: list = []
    node = data
    for part in loc:
        if isinstance(node, dict) and part in node:
            node = node[part]
            path.append(part)
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            node = node[part]
            path.append(part)
        elif not isinstance(node, (dict, list)) or isinstance(part, int) or _is_tag(part):
            continue
        else:
            path.append(part)
            node = None
    return path


def _is_tag(part: str) -> bool:
    """Union member labels in pydantic locations (``SparseConnectivity``, ``constrained-int``)."""
    return part in _TAGS or part[:1].isupper() or "-" in part or "[" in part


_WRONG_BRANCH = {"int_type", "int_parsing", "float_type", "float_parsing", "literal_error",
                 "model_type", "dict_type", "list_type", "string_type", "model_attributes_type"}
_TAGS = {"lif", "stochastic", "spike_source", "poisson", "graded", "constant", "normal", "uniform",
         "file",
         "str", "int", "float", "list", "dict", "feedback_alignment", "direct_feedback_alignment",
         "dfa", "kolen_pollack", "weight_mirror", "low_rank_fa", "sal", "stdp", "lra", "bias",
         "sampling", "classification"}


def _fields_at(root: type[BaseModel], path: list, data: Any) -> list[str]:
    """Allowed field names of the model found at ``path`` (for 'did you mean')."""
    tp: Any = root
    node = data
    for part in path:
        tp = _pick(tp, node)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            field = tp.model_fields.get(part)
            if field is None:
                return []
            tp = field.annotation
        else:
            args = typing.get_args(tp)
            tp = args[-1] if args else None
        node = node.get(part) if isinstance(node, dict) else (
            node[part] if isinstance(node, list) and isinstance(part, int) else None)
    tp = _pick(tp, node)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return list(tp.model_fields)
    return []


def _pick(tp: Any, node: Any) -> Any:
    """Resolve Annotated/Optional/union types to the member that matches ``node``."""
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            tp = typing.get_args(tp)[0]
            continue
        if origin in (typing.Union, types.UnionType):
            members = [m for m in typing.get_args(tp) if m is not type(None)]
            models = [_pick(m, node) for m in members]
            models = [m for m in models if isinstance(m, type) and issubclass(m, BaseModel)]
            chosen = None
            for model in models:
                tag_field = next((f for f in ("kind", "init", "rule") if f in model.model_fields), None)
                if tag_field and isinstance(node, dict):
                    allowed = typing.get_args(model.model_fields[tag_field].annotation)
                    if node.get(tag_field) in allowed:
                        chosen = model
                elif isinstance(node, dict) and any(k in model.model_fields for k in node):
                    chosen = chosen or model
            if chosen is None and len(models) == 1:
                chosen = models[0]
            if chosen is None:
                containers = [m for m in members if typing.get_origin(m) in (dict, list)]
                chosen = containers[0] if containers else None
            tp = chosen
            continue
        return tp


def _message(err: dict, path: list, root: type[BaseModel], data: Any) -> str:
    kind = err["type"]
    ctx = err.get("ctx", {})
    inp = err.get("input")
    if kind == "extra_forbidden":
        allowed = _fields_at(root, path[:-1], data)
        hint = did_you_mean(path[-1], allowed)
        listing = f"; allowed: {', '.join(allowed)}" if allowed else ""
        return f"unknown field '{path[-1]}'{hint}{listing}"
    if kind == "missing":
        return "required field is missing; add it"
    if kind in ("union_tag_invalid", "literal_error"):
        expected = ctx.get("expected_tags") or ctx.get("expected", "")
        choices = [c.strip(" '") for c in str(expected).replace(" or ", ",").split(",") if c.strip()]
        got = ctx.get("tag", inp)
        return f"unknown value '{got}'{did_you_mean(str(got), choices)}; use one of {', '.join(choices)}"
    if kind == "union_tag_not_found":
        return f"missing '{ctx.get('discriminator', 'kind').strip(chr(39))}' field; add it"
    if kind == "finite_number":
        return f"must be a finite number, got {inp}; replace NaN/inf"
    if kind == "value_error":
        return str(ctx.get("error", err["msg"])).removeprefix("Value error, ")
    if kind in ("int_type", "int_parsing", "int_from_float") and _integral(inp) is not None:
        text = f"YAML reads {inp} as text" if isinstance(inp, str) else f"{inp!r} is a float"
        return f"must be a whole number, got {inp!r} ({text}); write {_integral(inp)}"
    if kind == "string_pattern_mismatch":
        return (f"invalid name '{inp}'; names start with a letter or '_' and contain only "
                "letters, digits, '_' or '-'")
    return f"{err['msg'][0].lower()}{err['msg'][1:]}, got {_short_repr(inp)}"


def _integral(value: Any) -> int | None:
    """The whole number a float or numeric text like '1e12' stands for, else None."""
    if isinstance(value, bool) or not isinstance(value, (str, float)):
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return int(number) if number.is_integer() and abs(number) < 1e300 else None


def _short_repr(value: Any, limit: int = 80) -> str:
    """repr of a user value, cut short (a value may be a large aliased structure)."""
    if isinstance(value, (dict, list)) and len(value) > 8:
        return f"a {type(value).__name__} of {len(value)} items"
    text = repr(value) if not isinstance(value, (dict, list)) else reprlib_repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def reprlib_repr(value: Any) -> str:
    """Bounded repr of nested containers (reprlib limits depth and items)."""
    import reprlib
    r = reprlib.Repr()
    r.maxlevel, r.maxlist, r.maxdict, r.maxstring, r.maxother = 3, 6, 6, 40, 40
    return r.repr(value)


# --------------------------------------------------------------------------- cross references
