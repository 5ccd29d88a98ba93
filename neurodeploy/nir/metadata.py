"""The ``neurodeploy_ir`` graph metadata: read, checked field by field, never above the graph.

``export-nir`` keeps there what NIR has no field for (name, seed, dt, run length, Poisson
rates, refractory periods, plasticity, task...). On import it only adds to the network the
graph describes: a malformed field, or one that would replace or contradict part of the graph
(its populations, projections, weights or monitors), is refused in one line naming the field.
"""
from __future__ import annotations

import json
import math
from typing import Any

from .graphio import NirError

META_KEY = "neurodeploy_ir"
GRAPH_KEYS = frozenset({"neurodeploy", "name", "seed", "dt", "populations", "projections",
                        "monitors", "run"})
"""IR keys the graph itself (or a checked metadata field) defines; ``extras`` may not hold them."""


def _fail(field: str, message: str, file: str) -> None:
    raise NirError(f"graph metadata '{META_KEY}'.{field}: {message}; re-export the network "
                   f"or remove the '{META_KEY}' entry", file=file)


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def read_meta(graph: Any, file: str) -> dict[str, Any]:
    """The checked metadata dict of ``graph`` ({} when it has none)."""
    raw = graph.metadata.get(META_KEY) if isinstance(graph.metadata, dict) else None
    if raw is None:
        return {}
    try:
        meta = json.loads(raw.decode() if isinstance(raw, bytes) else str(raw))
    except ValueError:
        raise NirError(f"graph metadata '{META_KEY}' is not JSON; remove it or re-export the "
                       "network", file=file) from None
    if not isinstance(meta, dict):
        raise NirError(f"graph metadata '{META_KEY}' is not a JSON object", file=file)
    if "name" in meta and not isinstance(meta["name"], str):
        _fail("name", f"must be a string, got {meta['name']!r}", file)
    for key in ("seed", "steps"):
        value = meta.get(key)
        if value is not None and not (isinstance(value, int) and not isinstance(value, bool)
                                      and 0 <= value < 2 ** 63 and (key == "seed" or value > 0)):
            _fail(key, f"must be a {'non-negative' if key == 'seed' else 'positive'} integer, "
                  f"got {value!r}", file)
    if "dt" in meta and not (_number(meta["dt"]) and meta["dt"] > 0):
        _fail("dt", f"must be a positive number, got {meta['dt']!r}", file)
    if meta.get("time_unit", "ir") not in ("ir", "s"):
        _fail("time_unit", f"must be 'ir' or 's', got {meta['time_unit']!r}", file)
    for key in ("poisson", "refractory", "extras"):
        if key in meta and not isinstance(meta[key], dict):
            _fail(key, f"must be an object, got {type(meta[key]).__name__}", file)
    for key in sorted(set(meta.get("extras", {})) & GRAPH_KEYS):
        _fail(f"extras.{key}", "would replace what the graph itself describes", file)
    return meta


def check_against(meta: dict[str, Any], inputs: dict[str, int], neurons: dict[str, int],
                  file: str) -> None:
    """Refuse Poisson rates and refractory periods naming populations the graph lacks.

    ``inputs`` and ``neurons`` map IR population names to sizes.
    """
    for name, rate in meta.get("poisson", {}).items():
        if name not in inputs:
            _fail(f"poisson.{name}", "names no Input node of the graph", file)
        rates = rate if isinstance(rate, list) else [rate]
        if not all(_number(r) and r >= 0 for r in rates) or \
                (isinstance(rate, list) and len(rate) != inputs[name]):
            _fail(f"poisson.{name}", f"must be one rate >= 0 or {inputs[name]} of them", file)
    for name, steps in meta.get("refractory", {}).items():
        if name not in neurons:
            _fail(f"refractory.{name}", "names no neuron node of the graph", file)
        if not (isinstance(steps, int) and not isinstance(steps, bool) and 0 <= steps < 2 ** 31):
            _fail(f"refractory.{name}", f"must be a whole number of steps, got {steps!r}", file)


def meta_dt(graph: Any) -> float | None:
    """The dt recorded by ``export-nir`` (None when absent or unusable)."""
    try:
        value = read_meta(graph, "<graph>").get("dt")
    except NirError:
        return None
    return float(value) if value is not None else None
