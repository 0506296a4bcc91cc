"""``./course new-lesson 99 demo`` in a temporary copy of the repository produces a lesson that passes the structure
tests: the notebook's (title, sections, three exercises, hidden solutions, links), the index's (course map row and
time, glossary) and the lesson's own exercise tests, after one clean run of the new notebook."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from course_utils.paths import REPO_ROOT

TERM = "demo term"


def _copy_repo(target: Path) -> Path:
    """The working tree's files git knows or would add (committed or not), without ignored ones (.venv, artifacts)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO_ROOT,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for name in filter(None, (entry.decode() for entry in listed)):
        source = REPO_ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    return target


def _run(command: list[str], cwd: Path, timeout: int = 120) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(cwd)}  # the copy's course_utils, not the installed one
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def scaffolded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("git") is None:
        pytest.skip("git is needed to list the repository's files")
    root = _copy_repo(tmp_path_factory.mktemp("clone"))
    (root / ".venv").symlink_to(sys.prefix, target_is_directory=True)  # the course script runs its Python
    made = _run(
        ["bash", "course", "new-lesson", "99", "demo", "--term", TERM, "--meaning", "a word the scaffold adds"], root
    )
    assert made.returncode == 0, made.stdout + made.stderr
    assert "Left to do by hand" in made.stdout and "wrote notebooks/99_demo.ipynb" in made.stdout
    ran = _run([sys.executable, "tools/execute_notebooks.py", "notebooks/99_demo.ipynb"], root, timeout=300)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    return root


def test_the_scaffolded_lesson_passes_the_structure_tests(scaffolded: Path):
    selection = "99_demo or lesson99 or test_index or links_point or links_every or link_to_the_next or notebooks_exist"
    tests = ["tests/test_notebooks.py", "tests/test_index.py", "tests/test_lesson99.py", "tests/test_exercises.py"]
    result = _run([sys.executable, "-m", "pytest", "-v", "-p", "no:cacheprovider", "-k", selection, *tests], scaffolded)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    for picked_up in ("test_lesson_structure[99_demo.ipynb]", "test_course_map_time_is_the_lessons_own[99_demo.ipynb]"):
        assert f"{picked_up} PASSED" in result.stdout, f"{picked_up} did not run: the structure tests miss the lesson"
    lint = _run(
        [
            str(Path(sys.executable).with_name("ruff")),
            "check",
            "course_utils/lessons/lesson99.py",
            "tests/test_lesson99.py",
            "notebooks/99_demo.ipynb",
        ],
        scaffolded,
    )
    assert lint.returncode == 0, lint.stdout


def test_the_scaffold_links_the_lesson_everywhere(scaffolded: Path):
    notebooks = scaffolded / "notebooks"
    index = "\n".join(c.source for c in nbformat.read(notebooks / "00_index.ipynb", as_version=4).cells)
    assert (
        "| 99 | [Demo](99_demo.ipynb) |" in index
        and f"| {TERM} | a word the scaffold adds | [99](99_demo.ipynb) |" in index
    )
    before = max(p for p in notebooks.glob("[0-9][0-9]_*.ipynb") if p.name < "99")  # the lesson 99 follows
    previous = nbformat.read(before, as_version=4)
    assert "[99 · Demo](99_demo.ipynb)" in previous.cells[-1].source
    assert "[99](99_demo.ipynb)" in (notebooks / "cheatsheet.md").read_text(encoding="utf-8")
    title = nbformat.read(notebooks / "99_demo.ipynb", as_version=4).cells[0].source
    heading = previous.cells[0].source.splitlines()[0].removeprefix("# ")
    assert f"[{heading}]({before.name})" in title  # the prerequisite


def test_the_scaffold_refuses_to_overwrite_or_guess(scaffolded: Path):
    again = _run(["bash", "course", "new-lesson", "99", "demo"], scaffolded)
    assert again.returncode == 2 and "lesson 99 exists already" in again.stderr
    bad = _run(["bash", "course", "new-lesson", "9", "x"], scaffolded)
    assert bad.returncode == 2 and "two digits" in bad.stderr, bad.stderr


def test_bad_requests_say_what_is_wrong_and_touch_nothing(tmp_path: Path):
    import importlib.util

    spec = importlib.util.spec_from_file_location("new_lesson", REPO_ROOT / "tools" / "new_lesson.py")
    assert spec is not None and spec.loader is not None
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    (tmp_path / "notebooks").mkdir()
    for args, kwargs, message in (
        (("98", "Bad-Slug"), {}, "lower-case words"),
        (("00", "demo"), {}, "from 01 to 99"),
        (("98", "demo"), {"term": "x"}, "both --term and --meaning"),
    ):
        with pytest.raises(tool.ScaffoldError, match=message):
            tool.scaffold(tmp_path, *args, **kwargs)
    assert list(tmp_path.rglob("*")) == [tmp_path / "notebooks"]
