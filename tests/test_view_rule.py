"""The naming rule of interactive parts (course_utils/views/__init__.py, CONTRIBUTING "Adding an interactive part").

A view class is a class of course_utils.views that displays itself (``_repr_mimebundle_``). For each: a function
named after it in snake_case opens it and is annotated to return it, it is exported (module ``__all__`` and the
package's lazy map), and the class has the static result (``static_text()``, ``static_html()``). Every public
function of the views that returns a view object is that one entry point (or an alias: the same object).
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
import typing
from types import ModuleType

import pytest

import course_utils
import course_utils.views

MODULES = [
    importlib.import_module(f"course_utils.views.{info.name}")
    for info in pkgutil.iter_modules(course_utils.views.__path__)
]


def snake(name: str) -> str:
    """``LiveBenchmark`` -> ``live_benchmark``, ``NetronView`` -> ``netron_view``."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def view_classes(module: ModuleType) -> list[type]:
    return [
        cls
        for name, cls in vars(module).items()
        if inspect.isclass(cls) and cls.__module__ == module.__name__ and hasattr(cls, "_repr_mimebundle_")
        if name == cls.__name__  # aliases (BenchView = LiveBenchmark) are checked through the class itself
    ]


VIEWS = [(module, cls) for module in MODULES for cls in view_classes(module)]


def test_the_known_parts_are_found():
    found = {cls.__name__ for _, cls in VIEWS}
    assert {"LiveBenchmark", "ProviderSwitcher", "OpsetExplorer", "NetronView"} <= found, found


@pytest.mark.parametrize(("module", "cls"), VIEWS, ids=[cls.__name__ for _, cls in VIEWS])
def test_each_view_is_opened_by_a_function_named_after_it(module: ModuleType, cls: type):
    name = snake(cls.__name__)
    opener = getattr(module, name, None)
    assert inspect.isfunction(opener), f"{module.__name__} has no function {name}() that opens {cls.__name__}"
    assert opener.__name__ == name, f"{name} is an alias of {opener.__name__}, not the entry point itself"
    assert typing.get_type_hints(opener).get("return") is cls, f"{name}() must be annotated '-> {cls.__name__}'"
    assert name in module.__all__ and cls.__name__ in module.__all__
    assert course_utils._LAZY.get(name) == module.__name__.removeprefix("course_utils."), (
        f"add {name!r} to course_utils._LAZY"
    )
    for method in ("static_text", "static_html"):
        assert callable(getattr(cls, method, None)), f"{cls.__name__} needs a {method}() method (its static result)"


def test_no_second_way_to_open_a_view():
    classes = {cls for _, cls in VIEWS}
    for module in MODULES:
        for public in getattr(module, "__all__", []):
            function = getattr(module, public)
            if not inspect.isfunction(function):
                continue
            returned = typing.get_type_hints(function).get("return")
            if returned in classes:
                assert function.__name__ == snake(returned.__name__), (
                    f"{module.__name__}.{public}() returns a {returned.__name__}: open it only with "
                    f"{snake(returned.__name__)}() (keep an older name as an alias of that function)"
                )


def test_older_names_are_aliases_of_the_entry_points():
    from course_utils.views import bench_view, netron

    assert netron.show_netron is netron.netron_view
    assert bench_view.BenchView is bench_view.LiveBenchmark
