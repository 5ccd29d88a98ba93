"""Structure check of a build's ``manifest.json``: every key a backend reads exists and has
the right type, enumerations hold known values, references name existing populations and
every array reference stays inside the build directory.

Runs once when a build is opened (:class:`~.artifact.Build`), so the plan reader and the
backends can index the manifest without guarding each access; a failure is one
ArtifactError line naming the field path. Population kinds the reader does not know are
left to the backends, which refuse them by name.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import Any

from ..errors import ArtifactError

NUMERICS = ("fixed", "float")
FORMATS = ("dense", "coo")
SIGN_MODES = ("mixed", "excitatory", "inhibitory", "null")
MONITOR_VARS = ("spikes", "v", "u")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")

FieldPath = tuple


class _Checker:
    """Walks the manifest, raising on the first problem with its field path."""

    def __init__(self, manifest: Any, file: Path) -> None:
        self.m = manifest
        self.file = file

    def fail(self, path: FieldPath, message: str) -> None:
        raise ArtifactError(f"{message}; the build is damaged or was edited, recompile it",
                            file=self.file, path=path)

    def get(self, d: dict, key: str, path: FieldPath, check: Callable[[Any], bool], what: str
            ) -> Any:
        if key not in d:
            self.fail(path + (key,), f"missing (expected {what})")
        value = d[key]
        if not check(value):
            self.fail(path + (key,), f"expected {what}, got {type(value).__name__} {value!r:.60}")
        return value

    def table(self, d: dict, key: str, path: FieldPath) -> dict:
        return self.get(d, key, path, lambda v: isinstance(v, dict) and
                        all(isinstance(k, str) for k in v), "an object")

    def ref(self, value: Any, path: FieldPath) -> None:
        """An array reference: {file, key, sha256} with a relative path inside the build."""
        for key in ("file", "key", "sha256"):
            self.get(value, key, path, lambda v: isinstance(v, str) and v != "", "a string")
        if not _HEX64.match(value["sha256"]):
            self.fail(path + ("sha256",), "not a sha256 hex digest")
        rel = PurePosixPath(value["file"])
        if rel.is_absolute() or ".." in rel.parts or "\\" in value["file"] or \
                rel.suffix != ".npz":
            self.fail(path + ("file",), f"array reference '{value['file']}' is not an .npz "
                      "path inside the build directory")

    def value(self, d: dict, key: str, path: FieldPath, integer: bool) -> None:
        """A scalar (int, or number for float builds) or an array reference."""
        v = self.get(d, key, path, lambda v: isinstance(v, (int, float, dict))
                     and not isinstance(v, bool), "a number or an array reference")
        if isinstance(v, dict):
            self.ref(v, path + (key,))
        elif integer and not isinstance(v, int):
            self.fail(path + (key,), f"expected an integer on a fixed-point build, got {v!r}")

    def run(self) -> None:
        m = self.m
        if not isinstance(m, dict):
            self.fail((), "manifest is not a JSON object")
        self.get(m, "name", (), lambda v: isinstance(v, str), "a string")
        numerics = self.get(m, "numerics", (), lambda v: v in NUMERICS, " or ".join(NUMERICS))
        fixed = numerics == "fixed"
        self.get(m, "dt", (), _positive_number, "a positive number")
        self.get(m, "seed", (), _int, "an integer")
        self.get(m, "steps", (), lambda v: _int(v) and v >= 1, "an integer >= 1")
        pops = self.table(m, "populations", ())
        for name, pop in pops.items():
            self.population(name, pop, fixed)
        projs = self.table(m, "projections", ())
        for name, proj in projs.items():
            self.projection(name, proj, pops, fixed)
        monitors = self.get(m, "monitors", (), lambda v: isinstance(v, list), "a list")
        for i, mon in enumerate(monitors):
            path = ("monitors", i)
            if not isinstance(mon, dict):
                self.fail(path, "expected an object {population, var}")
            self.get(mon, "population", path, lambda v: v in pops, "a population of the build")
            self.get(mon, "var", path, lambda v: v in MONITOR_VARS, " | ".join(MONITOR_VARS))
        for key in ("plasticity", "noise"):
            if key in m:
                self.table(m, key, ())

    def population(self, name: str, pop: Any, fixed: bool) -> None:
        path = ("populations", name)
        if not isinstance(pop, dict):
            self.fail(path, "expected an object")
        kind = self.get(pop, "kind", path, lambda v: isinstance(v, str), "a string")
        self.get(pop, "size", path, lambda v: _int(v) and v >= 1, "an integer >= 1")
        if kind in ("lif", "stochastic"):
            params = self.table(pop, "params", path)
            ppath = path + ("params",)
            for key in ("du", "dv"):
                self.get(params, key, ppath, _int if fixed else _number,
                         "an integer" if fixed else "a number")
            for key in ("vth", "bias_mant"):
                self.value(params, key, ppath, fixed)
            self.get(params, "bias_exp", ppath, _int, "an integer")
            self.get(params, "refractory", ppath, lambda v: _int(v) and v >= 0,
                     "an integer >= 0")
            if "scale" in pop:
                self.get(pop, "scale", path, _positive_number, "a positive number")
            if kind == "stochastic":
                self.get(pop, "kind", path, lambda v: not fixed, "not stochastic in a fixed build")
                self.get(params, "beta", ppath, _positive_number, "a positive number")
        elif kind == "poisson":
            self.value(pop, "p_spike", path, False)

    def projection(self, name: str, proj: Any, pops: dict, fixed: bool) -> None:
        path = ("projections", name)
        if not isinstance(proj, dict):
            self.fail(path, "expected an object")
        pre = self.get(proj, "pre", path, lambda v: v in pops, "a population of the build")
        post = self.get(proj, "post", path, lambda v: v in pops, "a population of the build")
        fmt = self.get(proj, "format", path, lambda v: v in FORMATS, " or ".join(FORMATS))
        shape = (pops[post]["size"], pops[pre]["size"])
        self.get(proj, "shape", path, lambda v: v == list(shape),
                 f"[post size, pre size] = {list(shape)}")
        self.ref(self.get(proj, "weights", path, lambda v: isinstance(v, dict),
                          "an array reference"), path + ("weights",))
        if fmt == "coo":
            for key in ("rows", "cols"):
                self.ref(self.get(proj, key, path, lambda v: isinstance(v, dict),
                                  "an array reference"), path + (key,))
        self.value(proj, "delay", path, True)
        self.get(proj, "max_delay", path, lambda v: _int(v) and v >= 0, "an integer >= 0")
        for key in ("weight_exp", "num_weight_bits"):
            if key in proj or fixed:
                self.get(proj, key, path, _int, "an integer")
        if "sign_mode" in proj or fixed:
            self.get(proj, "sign_mode", path,
                     lambda v: isinstance(v, str) and v.lower() in SIGN_MODES,
                     " | ".join(SIGN_MODES))


def _int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _positive_number(v: Any) -> bool:
    return _number(v) and v > 0


def check_manifest(manifest: Any, file: Path) -> None:
    """Raise ArtifactError (with the field path) unless ``manifest`` is well formed."""
    _Checker(manifest, file).run()
