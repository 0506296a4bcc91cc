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
    """Public functions and classes, and the public methods and properties of those classes."""
    for module_name in MODULES:
        module = importlib.import_module(module_name)
        for name in getattr(module, "__all__", []):
            obj = getattr(module, name)
            if inspect.isfunction(obj) or inspect.isclass(obj):
                yield module_name, name, obj
            if inspect.isclass(obj) and obj.__module__ == module_name:
                for attr, member in vars(obj).items():
                    if attr.startswith("_"):
                        continue
                    if isinstance(member, property):
                        yield module_name, f"{name}.{attr}", member.fget
                    elif inspect.isfunction(member) or isinstance(member, staticmethod | classmethod):
                        yield module_name, f"{name}.{attr}", getattr(member, "__func__", member)


def own_docstring(obj) -> str | None:
    """The object's own docstring: a dataclass without one gets a generated signature, which does not count."""
    doc = obj.__doc__ if inspect.isclass(obj) else inspect.getdoc(obj)
    if inspect.isclass(obj) and doc and doc.startswith(f"{obj.__name__}("):
        return None
    return doc


def test_every_module_is_documented():
    for module_name in MODULES:
        assert importlib.import_module(module_name).__doc__, f"{module_name} needs a module docstring"


def test_modules_declare_their_public_names():
    # Lesson modules hold exercises (module attributes), not an API.
    missing = [m for m in MODULES if "lessons" not in m and not hasattr(importlib.import_module(m), "__all__")]
    assert not missing, f"declare __all__ in {missing}"


@pytest.mark.parametrize("module_name,name,obj", list(public_objects()), ids=lambda v: v if isinstance(v, str) else "")
def test_public_callables_have_docstrings_and_type_hints(module_name, name, obj):
    assert own_docstring(obj), f"{module_name}.{name} needs a docstring"
    if inspect.isfunction(obj):
        signature = inspect.signature(obj)
        if "." in name and next(iter(signature.parameters), None) in ("self", "cls"):
            signature = signature.replace(parameters=list(signature.parameters.values())[1:])
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


# ----------------------------------------------------------------------------------- the package's own names


def _type_checking_imports() -> dict[str, str]:
    """``{name the package exposes: 'module.attribute'}`` from the ``if TYPE_CHECKING:`` block of __init__."""
    import ast
    from pathlib import Path

    tree = ast.parse(Path(course_utils.__file__).read_text(encoding="utf-8"))
    found: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.If) and getattr(node.test, "id", "") == "TYPE_CHECKING":
            for stmt in node.body:
                assert isinstance(stmt, ast.ImportFrom), ast.dump(stmt)
                for alias in stmt.names:
                    found[alias.asname or alias.name] = f"{stmt.module}.{alias.name}"
    return found


def test_type_checkers_see_every_lazy_name_with_its_real_type():
    seen = _type_checking_imports()
    assert set(seen) == set(course_utils._LAZY), "add each lazy name to the TYPE_CHECKING imports of __init__"
    assert sorted(course_utils.__all__) == sorted(course_utils._LAZY)
    for name, target in seen.items():
        module, _, attribute = target.rpartition(".")
        assert module == f"course_utils.{course_utils._LAZY[name]}", name
        assert getattr(course_utils, name) is getattr(importlib.import_module(module), attribute)


def test_every_public_exception_is_exported_and_a_course_error():
    from course_utils import errors

    classes = {
        obj
        for module_name in MODULES
        for name in getattr(importlib.import_module(module_name), "__all__", [])
        if inspect.isclass(obj := getattr(importlib.import_module(module_name), name)) and issubclass(obj, Exception)
    }
    # NotYet is how an exercise check says "not yet" (it becomes feedback, never reaches the learner): not an error.
    from course_utils.lessons.exercises import NotYet

    assert NotYet in classes
    classes.discard(NotYet)
    assert classes, "the walk found no exception"
    for cls in classes:
        assert issubclass(cls, course_utils.CourseError), f"{cls.__module__}.{cls.__name__} is not a CourseError"
        assert cls.__module__ == "course_utils.errors", f"{cls.__name__} belongs in course_utils/errors.py"
        assert getattr(course_utils, cls.__name__) is cls, f"export {cls.__name__} from course_utils"
    assert set(errors.__all__) - {"first_line"} == {cls.__name__ for cls in classes}
