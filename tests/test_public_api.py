"""course_utils is a real library: every public function and class is documented and typed."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

import course_utils

MODULES = sorted(
    name
    for _, name, _ in pkgutil.walk_packages(course_utils.__path__, prefix="course_utils.")
    if not name.rsplit(".", 1)[-1].startswith("_")
)


def public_objects():
    for module_name in MODULES:
        module = importlib.import_module(module_name)
        for name in getattr(module, "__all__", []):
            obj = getattr(module, name)
            if inspect.isfunction(obj) or inspect.isclass(obj):
                yield module_name, name, obj


def test_every_module_is_documented():
    for module_name in MODULES:
        assert importlib.import_module(module_name).__doc__, f"{module_name} needs a module docstring"


def test_modules_declare_their_public_names():
    # Lesson modules hold exercises (module attributes), not an API.
    missing = [m for m in MODULES if "lessons" not in m and not hasattr(importlib.import_module(m), "__all__")]
    assert not missing, f"declare __all__ in {missing}"


@pytest.mark.parametrize("module_name,name,obj", list(public_objects()), ids=lambda v: v if isinstance(v, str) else "")
def test_public_callables_have_docstrings_and_type_hints(module_name, name, obj):
    assert inspect.getdoc(obj), f"{module_name}.{name} needs a docstring"
    if inspect.isfunction(obj):
        signature = inspect.signature(obj)
        untyped = [
            p.name
            for p in signature.parameters.values()
            if p.annotation is inspect.Parameter.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        ]
        assert not untyped, f"{module_name}.{name}: parameters without type hints: {untyped}"
        assert signature.return_annotation is not inspect.Signature.empty, f"{module_name}.{name} needs a return type"


def test_lazy_names_resolve():
    for name in course_utils.__all__:
        assert getattr(course_utils, name) is not None, name
