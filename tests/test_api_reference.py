"""docs/api.md is generated from the docstrings and up to date; every public name has one."""
from __future__ import annotations

import inspect

from neurodeploy.api.reference import members, public_objects, render
from tests.conftest import ROOT


def test_api_reference_is_up_to_date():
    committed = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    assert committed == render(), ("docs/api.md is stale; run "
                                   "`python -m neurodeploy.api.reference docs/api.md`")


def test_every_public_function_method_and_property_has_a_docstring():
    missing = []
    for name, obj in public_objects().items():
        if not inspect.getdoc(obj):
            missing.append(name)
        if inspect.isclass(obj) and not issubclass(obj, Exception):
            init = vars(obj).get("__init__")
            generated = hasattr(obj, "__dataclass_fields__")     # a dataclass's own __init__
            if inspect.isfunction(init) and not generated and not init.__doc__:
                missing.append(f"{name}.__init__")
            missing += [f"{name}.{attr}" for attr, m in members(obj) if not m.__doc__]
    assert missing == []


def test_functions_say_their_units_where_they_take_times():
    text = render()
    for phrase in ("in ms", "in Hz", "chip units", "fraction"):
        assert phrase in text


def test_internal_packages_do_not_shadow_the_api_functions():
    """`nd.compile` / `nd.validate` stay plain functions after the internal packages are imported."""
    import importlib

    import neurodeploy as nd
    for internal in ("neurodeploy.compiling", "neurodeploy.validation",
                     "neurodeploy.compiling.artifact", "neurodeploy.validation.core"):
        importlib.import_module(internal)
    from neurodeploy.api.build import compile as api_compile
    from neurodeploy.api.validation import validate as api_validate
    assert nd.compile is api_compile and inspect.isfunction(nd.compile)
    assert nd.validate is api_validate and inspect.isfunction(nd.validate)
    assert not (ROOT / "neurodeploy" / "compile").exists()
    assert not (ROOT / "neurodeploy" / "validate").exists()


def test_the_api_modules_import_each_other_without_a_cycle():
    """Build's methods call run/evaluation/validation/nir, which take builds duck-typed."""
    from graphlib import TopologicalSorter

    from tests.test_import_graph import import_graph
    api = "neurodeploy.api."
    graph = {m[len(api):]: {d[len(api):] for d in deps if d.startswith(api)}
             for m, deps in import_graph().items() if m.startswith(api)}
    assert "build" in graph["learn"] and "run" in graph["build"]     # the graph is read
    order = list(TopologicalSorter(graph).static_order())           # CycleError on a cycle
    assert order.index("buildlike") < order.index("run") < order.index("build")


def test_the_commands_call_the_api_not_the_internals_it_wraps():
    """cli.py and commands/ reach compiling, learning sessions and validation runs through
    neurodeploy.api only."""
    import re
    files = [ROOT / "neurodeploy" / "cli.py", *(ROOT / "neurodeploy" / "commands").glob("*.py")]
    text = "\n".join(f.read_text(encoding="utf-8") for f in files)
    for internal in ("compiling", "compile_network", "run_session", "evaluate_build",
                     "run_validation", "run_attacks", "load_plan", "get_backend",
                     r"validation\.(core|profiles|runner|attacks\.run)"):
        assert not re.search(rf"\b{internal}\b", text), internal
