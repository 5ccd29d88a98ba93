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
