"""course_utils is grouped by part: small modules, small folders, each part saying what it holds, and the command
lines learners know still start."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

import course_utils

PACKAGE = Path(course_utils.__file__).parent
REPO = PACKAGE.parent
MAX_LINES = 600
MAX_MODULES = 15


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def _line_count(path: Path) -> int:
    return len(path.read_text(encoding="utf-8").splitlines())


def test_no_module_over_the_line_limit() -> None:
    over = {p.relative_to(PACKAGE).as_posix(): _line_count(p) for p in _modules() if _line_count(p) > MAX_LINES}
    assert over == {}, f"split these modules by concern (at most {MAX_LINES} lines each): {over}"


def test_no_folder_with_too_many_modules() -> None:
    folders: dict[str, int] = {}
    for path in _modules():
        key = path.parent.relative_to(REPO).as_posix()
        folders[key] = folders.get(key, 0) + 1
    crowded = {folder: n for folder, n in folders.items() if n > MAX_MODULES}
    assert crowded == {}, f"group these folders' modules into subpackages (at most {MAX_MODULES} each): {crowded}"
    assert folders["course_utils"] <= MAX_MODULES  # the check saw the top folder


def _subpackages() -> list[Path]:
    return sorted(p.parent for p in PACKAGE.rglob("__init__.py") if p.parent != PACKAGE)


def test_the_parts_are_subpackages() -> None:
    names = {p.relative_to(PACKAGE).as_posix() for p in _subpackages()}
    assert {"onnxfile", "models", "runtime", "versions", "bench", "quantize", "views", "lessons"} <= names


@pytest.mark.parametrize("package", _subpackages(), ids=lambda p: p.relative_to(PACKAGE).as_posix())
def test_every_subpackage_says_what_it_holds_and_what_it_may_import(package: Path) -> None:
    docstring = ast.get_docstring(ast.parse((package / "__init__.py").read_text(encoding="utf-8")))
    assert docstring, f"{package.name}/__init__.py needs a docstring: what the part holds, which parts it may import"
    assert "May import" in docstring, f"{package.name}/__init__.py: say which other parts it may import"


def test_the_package_docstring_lists_every_part() -> None:
    docstring = course_utils.__doc__ or ""
    for package in _subpackages():
        dotted = package.relative_to(PACKAGE).as_posix().replace("/", ".")
        assert f":mod:`course_utils.{dotted}`" in docstring, dotted


def test_every_lazy_name_resolves_to_its_module() -> None:
    for name, module in course_utils._LAZY.items():
        value = getattr(course_utils, name)
        assert (PACKAGE / (module.replace(".", "/") + ".py")).is_file(), f"{name}: no module course_utils.{module}"
        defined_in = getattr(value, "__module__", None)
        if isinstance(value, type) or callable(value):
            assert defined_in == f"course_utils.{module}", f"{name} is defined in {defined_in}, _LAZY says {module}"


@pytest.mark.parametrize(
    "command", ["bench", "compat", "gate", "inspect", "progress", "providers", "quantize", "setup_check"]
)
def test_command_lines_start(command: str) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    result = subprocess.run(
        [sys.executable, "-m", f"course_utils.{command}", "--help"],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.startswith("usage: "), result.stdout[:200]
