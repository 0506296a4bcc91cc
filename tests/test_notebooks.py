"""Notebook hygiene: committed notebooks are clean top-to-bottom runs, follow the lesson structure, and every
link between notebooks and in the README points at a file that exists. (nbval itself checks the outputs.)"""

from __future__ import annotations

import itertools
import re
from pathlib import Path
from urllib.parse import unquote, urlparse

import nbformat
import pytest

from course_utils.paths import NOTEBOOKS_DIR, REPO_ROOT

NOTEBOOKS = sorted(NOTEBOOKS_DIR.glob("*.ipynb"))
LESSONS = [p for p in NOTEBOOKS if re.match(r"\d\d_", p.name) and not p.name.startswith("00_")]
IGNORE_TAGS = {"nbval-ignore-output", "nbval-skip"}
MD_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
HTML_LINK = re.compile(r"""(?:href|src)=["']([^"']+)["']""")


def code_cells(nb) -> list:
    return [c for c in nb.cells if c.cell_type == "code" and c.source.strip()]


def tags(cell) -> set[str]:
    return set(cell.metadata.get("tags", []))


def is_ignored(cell) -> bool:
    return bool(tags(cell) & IGNORE_TAGS) or "NBVAL_IGNORE_OUTPUT" in cell.source or "NBVAL_SKIP" in cell.source


def read(path: Path):
    return nbformat.read(path, as_version=4)


def test_notebooks_exist():
    names = [p.name for p in NOTEBOOKS]
    assert names[:2] == ["00_index.ipynb", "00_setup_check.ipynb"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_clean_top_to_bottom_run(path):
    cells = code_cells(read(path))
    counts = [c.execution_count for c in cells]
    assert None not in counts, f"{path.name} has unexecuted code cells: run ./course execute {path.name}"
    assert counts == list(range(1, len(cells) + 1)), f"{path.name}: execution counts {counts} are not 1..n"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_errors_only_where_intended(path):
    for index, cell in enumerate(code_cells(read(path)), 1):
        errors = [o for o in cell.outputs if o.output_type == "error"]
        if "raises-exception" in tags(cell):
            assert errors, f"{path.name} cell {index} is tagged raises-exception but raised nothing"
        else:
            assert not errors, f"{path.name} cell {index} raised {errors[0].ename}: tag it or fix it"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_most_outputs_are_compared(path):
    with_output = [c for c in code_cells(read(path)) if c.outputs]
    ignored = [c for c in with_output if is_ignored(c)]
    assert len(ignored) <= 0.4 * len(with_output), (
        f"{path.name}: {len(ignored)}/{len(with_output)} cells with output are not compared by nbval"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_no_stray_state_in_outputs(path):
    text = path.read_text(encoding="utf-8")
    assert str(REPO_ROOT) not in text, f"{path.name} stores an absolute path of this checkout; print relative paths"
    # Machine-specific paths would differ on every other machine (nbval does not mask them).
    for pattern in (r"/home/\w", r"/root/", r"/Users/\w", r"site-packages", r"[A-Z]:\\\\Users"):
        assert not re.search(pattern, text), f"{path.name} stores a machine-specific path ({pattern})"
    assert "Kernel is running over TCP" not in text


SHELL_FIELD = re.compile(r"""(?<!["'])\{[^{}]+\}(?!["'])""")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_shell_commands_quote_python_values(path):
    """`!cmd {path}` splits at spaces: a learner whose home folder is "My Documents" would get a broken command."""
    for cell in code_cells(read(path)):
        for line in cell.source.splitlines():
            if line.lstrip().startswith("!"):
                unquoted = SHELL_FIELD.findall(line)
                assert not unquoted, f"{path.name}: quote {unquoted} in the shell command {line.strip()!r}"


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.name)
def test_lesson_structure(path):
    nb = read(path)
    first = nb.cells[0]
    assert first.cell_type == "markdown" and first.source.startswith(f"# {path.name[:2]} "), "title '# NN · …'"
    assert "Learning objectives" in first.source and "Prerequisites" in first.source
    headings = [line for c in nb.cells if c.cell_type == "markdown" for line in c.source.splitlines()]
    for section in ("## Summary", "## Exercises", "## Solutions"):
        assert any(h.startswith(section) for h in headings), f"{path.name} needs a '{section}' section"
    checks = [c for c in code_cells(nb) if re.search(r"\.check(_stage)?\(", c.source)]  # the capstone's stages too
    assert len(checks) >= 3, f"{path.name}: at least three exercises, each ending in a .check(...) call"
    solutions_at = next(i for i, c in enumerate(nb.cells) if c.cell_type == "markdown" and "## Solutions" in c.source)
    solution_code = [c.source for c in nb.cells[solutions_at:] if c.cell_type == "code"]
    assert any("run_solution(" in source for source in solution_code), f"{path.name}: Solutions must run_solution()"
    # Solutions stay hidden until asked: the notebook runs them through run_solution and never holds their code.
    shown = [s for s in solution_code if ".solution()" in s or ".check(" in s]
    assert not shown, f"{path.name}: the Solutions section shows solution code: {shown[0][:80]!r}"


CODE = re.compile(r"```.*?```|`[^`\n]*`", re.S)


def local_links(text: str) -> list[str]:
    """Relative links in Markdown/HTML text, ignoring code (examples of links are not links)."""
    text = CODE.sub("", text)
    links = MD_LINK.findall(text) + HTML_LINK.findall(text)
    return [link for link in links if not urlparse(link).scheme and not link.startswith(("#", "mailto:"))]


def link_sources() -> list[tuple[Path, str]]:
    sources = [(REPO_ROOT / "README.md", (REPO_ROOT / "README.md").read_text(encoding="utf-8"))]
    sources.append((REPO_ROOT / "CONTRIBUTING.md", (REPO_ROOT / "CONTRIBUTING.md").read_text(encoding="utf-8")))
    for path in NOTEBOOKS:
        markdown = "\n".join(c.source for c in read(path).cells if c.cell_type == "markdown")
        sources.append((path, markdown))
    return sources


@pytest.mark.parametrize("source,text", link_sources(), ids=lambda v: v.name if isinstance(v, Path) else "")
def test_links_point_at_existing_files(source, text):
    for link in local_links(text):
        target = (source.parent / unquote(link.split("#")[0])).resolve()
        assert target.exists(), f"{source.name} links to '{link}', which does not exist"


def test_index_links_every_notebook():
    index = "\n".join(c.source for c in read(NOTEBOOKS_DIR / "00_index.ipynb").cells if c.cell_type == "markdown")
    linked = set(local_links(index))
    missing = [p.name for p in NOTEBOOKS if p.name != "00_index.ipynb" and p.name not in linked]
    assert not missing, f"the course map in 00_index.ipynb does not link {missing}"


def test_lessons_link_to_the_next_one():
    for current, following in itertools.pairwise(NOTEBOOKS):
        markdown = read(current).cells[-1].source
        assert following.name in markdown, f"{current.name} should end with a link to {following.name}"


def exercise_module(path: Path) -> str:
    """The module that defines a notebook's exercises: lessons.lessonNN, or the capstone's own part."""
    return "course_utils.capstone" if "capstone" in path.name else f"course_utils.lessons.lesson{path.name[:2]}"


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.name)
def test_solutions_output_gives_nothing_away(path):
    """What the Solutions cell prints (a pass line per exercise) must not hold any exercise's giveaways."""
    import importlib

    from course_utils.lessons.exercises import exercises_of

    importlib.import_module(exercise_module(path))
    nb = read(path)
    start = next(i for i, c in enumerate(nb.cells) if c.cell_type == "markdown" and "## Solutions" in c.source)
    printed = "\n".join(
        output.get("text", "") if isinstance(output.get("text", ""), str) else "".join(output["text"])
        for cell in nb.cells[start:]
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
    ).lower()
    for exercise in exercises_of(path.name[:2]):
        printed_without_ids = printed.replace(f"exercise {exercise.id}", "")
        leaked = [word for word in exercise.giveaways if word.lower() in printed_without_ids]
        assert not leaked, f"{path.name}: the Solutions output gives away {leaked} of exercise {exercise.id}"
