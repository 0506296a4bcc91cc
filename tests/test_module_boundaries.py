"""Modules of course_utils use each other's public names only, and ship what they read at run time."""

from __future__ import annotations

import ast
import tomllib
from fnmatch import fnmatch
from pathlib import Path

import pytest

import course_utils

PACKAGE = Path(course_utils.__file__).parent
REPO = PACKAGE.parent


def _private_imports(source: str, module: str) -> list[str]:
    """Every ``from .x import _y`` / ``from course_utils.x import _y`` in ``source``, as ``"module: statement"``.

    Importing *from* a package-private module (``from ._answers import load_answer``) is fine: its names are public
    to the package. Importing an underscore name is not, whatever it is.
    """
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom):
            internal = node.level > 0 or (node.module or "").split(".")[0] == "course_utils"
            if not internal:
                continue
            for alias in node.names:
                if alias.name.startswith("_") and not alias.name.startswith("__"):
                    found.append(f"{module}: from {'.' * node.level}{node.module or ''} import {alias.name}")
    return found


def test_the_check_finds_private_imports() -> None:
    # The test below could pass by finding nothing: show it finds each form it is meant to catch.
    source = (
        "from .inspect import _dim\nfrom course_utils.onnxfile.modelio import _TEXT_SUFFIXES\nfrom ..x import a, _b\n"
    )
    assert _private_imports(source, "m") == [
        "m: from .inspect import _dim",
        "m: from course_utils.onnxfile.modelio import _TEXT_SUFFIXES",
        "m: from ..x import _b",
    ]
    assert _private_imports("from . import _notebook_env\nfrom .graph import dim\nfrom os import _exit\n", "m") == [
        "m: from . import _notebook_env"
    ]


def test_no_module_imports_another_modules_private_names() -> None:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = path.relative_to(REPO).with_suffix("").as_posix().replace("/", ".")
        found += _private_imports(path.read_text(encoding="utf-8"), module)
    assert found == [], "use (or add) a public name instead:\n" + "\n".join(found)


@pytest.mark.parametrize("script", ["netron-config.js", "netron-live.js"])
def test_javascript_files_are_package_data(script: str) -> None:
    path = PACKAGE / "views" / "js" / script
    assert path.is_file() and path.read_text(encoding="utf-8").strip()
    patterns = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    assert any(fnmatch(f"views/js/{script}", pattern) for pattern in patterns["course_utils"]), (
        "list views/js/*.js in [tool.setuptools.package-data] so an installed course_utils has its scripts"
    )
