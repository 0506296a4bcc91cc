"""Scaffold a new lesson: ``./course new-lesson NN slug [--title "..."] [--term T --meaning M]``.

Writes, from the templates in ``tools/lesson_template/`` and the lessons' own structure (CONTRIBUTING, "Adding a
lesson"):

* ``notebooks/NN_slug.ipynb``: title cell (objectives, prerequisites linking the previous lesson, a time to
  measure, the cheat sheet), a first section, Summary, three Exercises ending in ``.check(...)``, Solutions (the
  ``run_solution`` cell) and the last link back to the index;
* ``course_utils/lessons/lessonNN.py``: three worked example exercises (replace them) and ``tests/test_lessonNN.py``
  with their wrong-answer tests;
* links: the index's course map row (replacing a *coming* row of the same number), a glossary row (with
  ``--term``), the cheat sheet's "where each call is taught", and the previous lesson's last cell now links here.

It refuses to overwrite anything, then prints what is left to do by hand (measure the time, execute the notebook,
``diagrams.STAGES``, the cheat sheet's calls, ...). Run ``./course execute notebooks/NN_slug.ipynb`` next.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable
from pathlib import Path
from string import Template

import nbformat

REPO_ROOT = Path(__file__).resolve().parents[1]
TEMPLATES = Path(__file__).resolve().parent / "lesson_template"
PLACEHOLDER_MINUTES = 15  # stated in the title cell and the course map until the lesson's time is measured


class ScaffoldError(Exception):
    """What is wrong with the request, and how to fix it (printed as one line)."""


def _notebooks(root: Path) -> list[Path]:
    return sorted((root / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def _title_of(path: Path) -> str:
    """``# 08 · Opsets and versions`` -> ``Opsets and versions``."""
    first = nbformat.read(path, as_version=4).cells[0].source.splitlines()[0]
    return first.split("·", 1)[-1].strip()


def _cells(nn: str, title: str, previous: Path | None, following: Path | None) -> list[tuple[str, str]]:
    """(cell type, source) of the new notebook, in order."""
    prerequisite = (
        f"[{previous.name[:2]} · {_title_of(previous)}]({previous.name}) (TODO: what it brings to this lesson)"
        if previous is not None
        else "none"
    )
    after = (
        f"**Next:** [{following.name[:2]} · {_title_of(following)}]({following.name})"
        if following is not None
        else "**Next:** coming soon · [Back to the index](00_index.ipynb)"
    )
    return [
        (
            "markdown",
            f"# {nn} · {title}\n\n"
            "TODO: two or three sentences on why this matters to someone shipping models.\n\n"
            "**Learning objectives**\n"
            "- TODO: a verb and what the learner can do (export, check, explain, ...).\n"
            "- List the op types of a model, predict its output shape and change an operator (the scaffold's "
            "examples: replace them).\n\n"
            f"**Prerequisites** {prerequisite}.\n\n"
            f"**Time** about {PLACEHOLDER_MINUTES} minutes: a placeholder until the lesson is written; measure it as "
            "CONTRIBUTING's *Time estimates* says and change the index's course map with it. Keep the "
            "[cheat sheet](cheatsheet.md) open beside you: the calls this lesson teaches are on it.",
        ),
        (
            "markdown",
            "## 1. A first section\n\nProse first, then short code that runs on its own. The real library calls "
            "come first; a course helper only after, as *the calls you know, plus ...*.",
        ),
        (
            "code",
            f"import onnx\n\nfrom course_utils.lessons.lesson{nn} import demo_model\n\n"
            "model = demo_model()\nonnx.checker.check_model(model, full_check=True)\n"
            'print("nodes:", len(model.graph.node))',
        ),
        (
            "markdown",
            "## Summary\n\n- TODO: what the learner can now do, one bullet per objective.\n"
            "- A model's nodes, their op types and its shapes are all in `model.graph`.",
        ),
        (
            "markdown",
            "## Exercises\n\nEach exercise ends with a `.check(...)` that says what is wrong and why; `.hint()` "
            "gives a hint (call again for a more specific one) and `.solution()` shows the reference solution.\n\n"
            f"**{nn}.1 · List the op types of `demo_model()` in graph order.**",
        ),
        (
            "code",
            f"from course_utils.lessons import lesson{nn}\n\n"
            "answer = None  # a list of op type names\n"
            f"lesson{nn}.op_types.check(answer)",
        ),
        ("markdown", f"**{nn}.2 · What shape does `demo_model()` give for a batch of 5?** Answer with a tuple."),
        ("code", f"shape = None  # e.g. (2, 7)\nlesson{nn}.output_shape.check(shape)"),
        (
            "markdown",
            f"**{nn}.3 · Transfer: the same model with a Sigmoid in place of the Relu.** Build it and check it.",
        ),
        ("code", f"my_model = None  # an onnx.ModelProto\nlesson{nn}.swap_activation.check(my_model)"),
        (
            "markdown",
            "## Solutions\n\nThe cell below runs each exercise's hidden reference solution and checks it, without "
            f"showing the code; call `lesson{nn}.<exercise>.solution()` to read one.",
        ),
        (
            "code",
            "from course_utils.lessons.exercises import exercises_of\n\n"
            f'for exercise in exercises_of("{nn}"):\n    print(exercise.run_solution(globals()))',
        ),
        ("markdown", after),
    ]


def _write_notebook(path: Path, cells: list[tuple[str, str]], like: Path | None) -> None:
    nb = nbformat.v4.new_notebook()
    if like is not None:
        metadata = nbformat.read(like, as_version=4).metadata
        nb.metadata = {key: metadata[key] for key in ("kernelspec", "language_info") if key in metadata}
    for kind, source in cells:
        make = nbformat.v4.new_markdown_cell if kind == "markdown" else nbformat.v4.new_code_cell
        nb.cells.append(make(source))
    nbformat.validate(nb)
    nbformat.write(nb, path)


def _edit_markdown(path: Path, edit: Callable[[str], str | None], what: str) -> None:
    """Apply ``edit(source) -> new source or None`` to the first markdown cell it changes."""
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            new = edit(cell.source)
            if new is not None and new != cell.source:
                cell.source = new
                nbformat.write(nb, path)
                return
    raise ScaffoldError(f"{path.name}: found no {what} to edit; add it by hand (CONTRIBUTING, 'Adding a lesson')")


def _course_map_row(nn: str, title: str, notebook: str) -> Callable[[str], str | None]:
    row = f"| {nn} | [{title}]({notebook}) | TODO: what the learner will be able to do | {PLACEHOLDER_MINUTES} min |"

    def edit(source: str) -> str | None:
        if "## Course map" not in source:
            return None
        lines = source.splitlines()
        numbered = [(i, m.group(1)) for i, line in enumerate(lines) if (m := re.match(r"^\|\s*(\d\d)\s*\|", line))]
        if not numbered:
            return None
        same = [i for i, number in numbered if number == nn]
        if same:
            if "](" in lines[same[0]].split("|")[2]:
                raise ScaffoldError(f"the index's course map already links a lesson {nn}")
            lines[same[0]] = row  # a planned ("coming") row becomes the lesson
        else:
            before = [i for i, number in numbered if number < nn]
            lines.insert((before[-1] if before else numbered[0][0] - 1) + 1, row)
        return "\n".join(lines)

    return edit


def _glossary_row(term: str, meaning: str, nn: str, notebook: str) -> Callable[[str], str | None]:
    def edit(source: str) -> str | None:
        if "### Glossary" not in source:
            return None
        if re.search(rf"^\| {re.escape(term)} \|", source, re.M):
            raise ScaffoldError(f"the glossary already has a row for '{term}'")
        return source.rstrip("\n") + f"\n| {term} | {meaning} | [{nn}]({notebook}) |"

    return edit


def _cheat_sheet(root: Path, nn: str, title: str, notebook: str) -> None:
    sheet = root / "notebooks" / "cheatsheet.md"
    text = sheet.read_text(encoding="utf-8")
    marker = "Where each call is taught:"
    at = text.rfind(marker)
    if at < 0:
        raise ScaffoldError(f"{sheet.name} has no '{marker}' paragraph; link the lesson there by hand")
    end = text.rfind(".", at)
    text = text[:end] + f", {title[:1].lower() + title[1:]} in [{nn}]({notebook})" + text[end:]
    sheet.write_text(text, encoding="utf-8")


def scaffold(
    root: Path, nn: str, slug: str, *, title: str | None = None, term: str = "", meaning: str = ""
) -> list[Path]:
    """Create lesson ``nn`` (``"09"``) named ``slug`` under ``root``; returns the files created or changed."""
    if not re.fullmatch(r"\d\d", nn) or nn == "00":
        raise ScaffoldError(f"the lesson number must be two digits from 01 to 99, e.g. 09; got '{nn}'")
    if not re.fullmatch(r"[a-z][a-z0-9_]*", slug):
        raise ScaffoldError(f"the slug must be lower-case words joined by '_', e.g. dynamic_shapes; got '{slug}'")
    if bool(term) != bool(meaning):
        raise ScaffoldError("a glossary row needs both --term and --meaning")
    title = title or slug.replace("_", " ").capitalize()
    notebook = f"{nn}_{slug}.ipynb"
    existing = [p for p in _notebooks(root) if p.name.startswith(f"{nn}_")]
    if existing:
        raise ScaffoldError(f"lesson {nn} exists already: notebooks/{existing[0].name}; pick another number")
    paths = {
        "notebook": root / "notebooks" / notebook,
        "module": root / "course_utils" / "lessons" / f"lesson{nn}.py",
        "test": root / "tests" / f"test_lesson{nn}.py",
    }
    for path in paths.values():
        if path.exists():
            raise ScaffoldError(f"{path.relative_to(root)} exists already: the scaffold never overwrites a file")
    lessons = [p for p in _notebooks(root) if not p.name.startswith("00_")]
    previous = max((p for p in lessons if p.name[:2] < nn), default=None)
    following = min((p for p in lessons if p.name[:2] > nn), default=None)

    values = {"NN": nn, "title": title, "notebook": notebook}
    paths["module"].write_text(Template((TEMPLATES / "lesson.py.tmpl").read_text()).substitute(values))
    paths["test"].write_text(Template((TEMPLATES / "test_lesson.py.tmpl").read_text()).substitute(values))
    _write_notebook(paths["notebook"], _cells(nn, title, previous, following), previous)

    index = root / "notebooks" / "00_index.ipynb"
    _edit_markdown(index, _course_map_row(nn, title, notebook), "course map")
    if term:
        _edit_markdown(index, _glossary_row(term, meaning, nn, notebook), "glossary")
    changed = [*paths.values(), index]
    if previous is not None:
        nb = nbformat.read(previous, as_version=4)
        link = f"**Next:** [{nn} · {title}]({notebook}) · [Back to the index](00_index.ipynb)"
        lines = nb.cells[-1].source.splitlines()
        at = [i for i, line in enumerate(lines) if "Next" in line]
        if at:
            lines[at[-1]] = link  # the old "Next" line
        else:
            lines.append(link)
        nb.cells[-1].source = "\n".join(lines)
        nbformat.write(nb, previous)
        changed.append(previous)
    _cheat_sheet(root, nn, title, notebook)
    changed.append(root / "notebooks" / "cheatsheet.md")
    return changed


LEFT_TO_DO = """\
Left to do by hand (CONTRIBUTING, "Adding a lesson"):
  - write the lesson; replace the TODOs and the three example exercises (module, tests, notebook cells)
  - ./course execute notebooks/{notebook}   (then measure the Time: title cell and the index's course map)
  - the index's course map row: what the learner will be able to do{glossary}
  - the cheat sheet: the calls the lesson teaches, in a ```python block that runs (tests/test_cheatsheet.py)
  - course_utils/onnxfile/diagrams.py STAGES: add "{nn}" to the stage(s) the lesson teaches
  - a helper the lesson adds: its part's module, its tests, course_utils/__init__.py's lazy map
  - an interactive part: CONTRIBUTING, "Adding an interactive part"
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("number", help="two digits, e.g. 09")
    parser.add_argument("slug", help="the notebook's name after the number, e.g. dynamic_shapes")
    parser.add_argument("--title", help="the lesson's title (default: from the slug)")
    parser.add_argument("--term", default="", help="a glossary term the lesson introduces")
    parser.add_argument("--meaning", default="", help="the term's one-line meaning")
    parser.add_argument("--root", type=Path, default=REPO_ROOT, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    try:
        changed = scaffold(args.root, args.number, args.slug, title=args.title, term=args.term, meaning=args.meaning)
    except ScaffoldError as error:
        print(f"new-lesson: {error}", file=sys.stderr)
        return 2
    for path in changed:
        print(f"wrote {path.relative_to(args.root)}")
    glossary = "" if args.term else "\n  - the index's glossary: a row for each new term, linked to the lesson"
    print(LEFT_TO_DO.format(notebook=changed[0].name, nn=args.number, glossary=glossary), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
