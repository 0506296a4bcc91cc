"""The index (notebooks/00_index.ipynb): its course map states the same time as each lesson's title cell, and its
glossary defines the terms learners meet, each linked to the lesson that teaches it."""

from __future__ import annotations

import re

import nbformat
import pytest

from course_utils.paths import NOTEBOOKS_DIR

INDEX = NOTEBOOKS_DIR / "00_index.ipynb"
TIME = re.compile(r"\*\*Time\W*(?:about\s+)?(\d+)\s*min", re.IGNORECASE)
MAP_ROW = re.compile(r"^\|\s*(\d\d)\s*\|\s*\[[^\]]+\]\((\d\d_[\w]+\.ipynb)\)\s*\|[^|]*\|\s*([^|]+?)\s*\|\s*$")


def markdown(path) -> str:
    return "\n".join(c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "markdown")


def course_map() -> dict[str, str]:
    """Notebook file name -> the Time column of its row in the index's course map."""
    rows = (MAP_ROW.match(line) for line in markdown(INDEX).splitlines())
    return {m.group(2): m.group(3) for m in rows if m}


def title_minutes(path) -> int:
    first = nbformat.read(path, as_version=4).cells[0].source
    match = TIME.search(first)
    assert match, f"{path.name}: the title cell states no **Time** in minutes"
    return int(match.group(1))


def test_course_map_lists_the_lessons_up_to_08():
    names = course_map()
    assert {"00_setup_check.ipynb", "01_what_is_onnx.ipynb"} <= set(names)
    for planned in (
        "05_onnx_runtime.ipynb",
        "06_performance.ipynb",
        "07_quantization.ipynb",
        "08_opsets_versions.ipynb",
    ):
        assert planned in names, planned


def test_course_map_has_a_row_for_every_lesson_notebook():
    lessons = sorted(p.name for p in NOTEBOOKS_DIR.glob("[0-9][0-9]_*.ipynb") if p.name != "00_index.ipynb")
    missing = [name for name in lessons if name not in course_map()]
    assert not missing, f"the index's course map has no row (| NN | [title](file) | ... | N min |) for {missing}"


@pytest.mark.parametrize("name", sorted(course_map()), ids=str)
def test_course_map_time_is_the_lessons_own(name):
    path = NOTEBOOKS_DIR / name
    if not path.exists():
        pytest.skip(f"{name} is not in this checkout yet")
    column = course_map()[name]
    match = re.fullmatch(r"(\d+) min", column)
    assert match, f"the index's Time for {name} is '{column}', not 'N min'"
    assert int(match.group(1)) == title_minutes(path), f"the index and {name}'s title cell state different times"
    assert int(match.group(1)) <= (90 if "capstone" in name else 45)  # the capstone: 60-90 minutes (issue 21)


GLOSSARY_TERMS = (
    "IR version",
    "protobuf",
    "initializer",
    "external data",
    "NCHW / NHWC",
    "ZipMap",
    "ATen",
    "symbolic dimension",
    "opset",
    "execution provider (EP)",
    "top-1 agreement",
    "SQNR",
)


@pytest.mark.parametrize("term", GLOSSARY_TERMS)
def test_glossary_defines_each_term_and_links_its_lesson(term):
    rows = [line for line in markdown(INDEX).splitlines() if line.startswith(f"| {term} |")]
    assert len(rows) == 1, f"the glossary needs one row for '{term}'"
    cells = [c.strip() for c in rows[0].strip("|").split("|")]
    assert len(cells) == 3 and len(cells[1].split()) >= 5, f"'{term}' needs a one-line meaning"
    assert re.search(r"\]\(\d\d_\w+\.ipynb\)", cells[2]), f"'{term}' needs a link to the lesson that teaches it"


def test_index_links_the_cheat_sheet_and_shows_the_pipeline():
    text = markdown(INDEX)
    assert "](cheatsheet.md)" in text.split("## ")[0], "the title cell links the cheat sheet"
    sources = [c.source for c in nbformat.read(INDEX, as_version=4).cells if c.cell_type == "code"]
    assert any("pipeline()" in s for s in sources)
