"""Course diagrams as deterministic SVG: the ONNX pipeline, with the stage a lesson zooms in on highlighted.

    >>> from course_utils.onnxfile.diagrams import pipeline
    >>> pipeline()                      # in Jupyter: the picture; elsewhere: a one-line text version
    >>> pipeline(highlight="session")   # a lesson about sessions marks its stage

The picture is the whole path of the course, read like text (left to right, then the second row): train ->
export/convert -> the ``.onnx`` file (graph, weights, opset and IR version) -> check (checker, Netron, parity) ->
``InferenceSession`` -> execution provider -> outputs, grouped as framework / model / ONNX Runtime (the
Model -> Session -> EP picture). Each box names the lessons that teach its stage.

The SVG is built from strings only (no plotting library, no random ids, no floats that depend on the platform),
so it is byte-identical on every machine and nbval can compare it.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

__all__ = ["STAGES", "Diagram", "Stage", "pipeline", "stage"]


@dataclass(frozen=True)
class Stage:
    """One stage of the pipeline: ``key`` (used by ``highlight=``), the box's title, its detail lines, and the
    numbers of the lessons that teach it (empty when no lesson is about it)."""

    key: str
    title: str
    details: tuple[str, ...]
    lessons: tuple[str, ...]
    group: str


STAGES: tuple[Stage, ...] = (
    Stage("train", "train", ("PyTorch", "TensorFlow/Keras", "scikit-learn"), (), "framework"),
    Stage("export", "export / convert", ("torch.onnx.export", "tf2onnx", "skl2onnx"), ("02", "03"), "framework"),
    Stage("onnx", ".onnx file", ("graph of operators", "weights", "opset, IR version"), ("04", "07", "08"), "model"),
    Stage("check", "check", ("onnx.checker", "Netron", "parity"), ("02", "04", "11"), "model"),
    Stage("session", "InferenceSession", ("load, optimize", "session.run(...)"), ("05", "06"), "ONNX Runtime"),
    Stage("provider", "execution provider", ("CPU, CUDA,", "TensorRT,", "OpenVINO, ..."), ("05", "10"), "ONNX Runtime"),
    Stage("outputs", "outputs", ("numpy arrays", "for your app"), ("11",), "ONNX Runtime"),
)

# Layout in SVG user units (pixels at 100%): two rows of four columns, so the picture fits a notebook's width
# (about 730 px) without being scaled down. Every string above must fit its box at these sizes in DejaVu, the widest
# of the listed fonts (the unit tests measure it with matplotlib's copy of DejaVu).
_COLUMNS = 4
_MARGIN, _BOX_W, _BOX_H, _GAP = 12, 150, 112, 34
_BAND_H, _BAND_GAP, _ROW_GAP = 24, 10, 30
_TITLE_PX, _DETAIL_PX, _LESSON_PX, _GROUP_PX = 12, 11, 10, 12
_PAD = 6  # the least room left between a text and its box's edge
_CAPTION = ("model → session → EP:", "the file stays", "the same when", "the hardware changes")

_BLUE, _BLUE_FILL, _ORANGE, _ORANGE_FILL, _GREY = "#1f5fa8", "#eef3fb", "#c4620a", "#fff1dc", "#5a6270"


@dataclass(frozen=True)
class Diagram:
    """A picture for notebooks: ``_repr_svg_`` gives the SVG, ``repr()`` a deterministic one-line text."""

    svg: str
    text: str

    def _repr_svg_(self) -> str:
        return self.svg

    def __repr__(self) -> str:
        return self.text

    def __str__(self) -> str:
        return self.text


def stage(key: str) -> Stage:
    """The stage with this key (``"train"``, ``"export"``, ``"onnx"``, ``"check"``, ``"session"``,
    ``"provider"``, ``"outputs"``); a ``ValueError`` lists the keys otherwise."""
    for item in STAGES:
        if item.key == key:
            return item
    raise ValueError(f"No pipeline stage '{key}'. Stages: {', '.join(s.key for s in STAGES)}.")


def _lessons_label(item: Stage) -> str:
    if not item.lessons:
        return ""
    word = "lesson" if len(item.lessons) == 1 else "lessons"
    return f"{word} {' · '.join(item.lessons)}"


def _text(x: float, y: float, text: str, *, px: int, fill: str, weight: str = "normal", mono: bool = False) -> str:
    family = "DejaVu Sans Mono, Menlo, Consolas, monospace" if mono else "DejaVu Sans, Helvetica, Arial, sans-serif"
    return (
        f'<text x="{x:g}" y="{y:g}" text-anchor="middle" font-family="{family}" font-size="{px}" '
        f'font-weight="{weight}" fill="{fill}">{html.escape(text)}</text>'
    )


def pipeline(highlight: str | None = None) -> Diagram:
    """The ONNX pipeline as a :class:`Diagram`, optionally with one stage highlighted (``highlight="check"``).

    In a notebook the returned object displays as SVG; its ``repr()`` is a one-line text version, e.g.
    ``ONNX pipeline: train -> ... -> [check] -> ... -> outputs``, with the highlighted stage in brackets.
    Raises ``ValueError`` (listing the stage keys) for an unknown ``highlight``.
    """
    if highlight is not None:
        stage(highlight)  # validates the key
    rows = -(-len(STAGES) // _COLUMNS)
    width = 2 * _MARGIN + _COLUMNS * _BOX_W + (_COLUMNS - 1) * _GAP
    row_h = _BAND_H + _BAND_GAP + _BOX_H
    height = 2 * _MARGIN + rows * row_h + (rows - 1) * _ROW_GAP
    title = "The ONNX pipeline" + (f", highlighted: {stage(highlight).title}" if highlight else "")
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" style="max-width:100%;height:auto">',
        f"<title>{html.escape(title)}</title>",
        '<defs><marker id="onnx-pipeline-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
        f'markerHeight="7" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="{_GREY}"/></marker></defs>',
    ]

    def box_x(index: int) -> int:
        return _MARGIN + (index % _COLUMNS) * (_BOX_W + _GAP)

    def band_y(index: int) -> int:
        return _MARGIN + (index // _COLUMNS) * (row_h + _ROW_GAP)

    def box_y(index: int) -> int:
        return band_y(index) + _BAND_H + _BAND_GAP

    # Group bands above the boxes (framework | model | ONNX Runtime), split where a row ends.
    groups: list[tuple[str, int, int]] = []
    for index, item in enumerate(STAGES):
        same_row = groups and index // _COLUMNS == groups[-1][1] // _COLUMNS
        if groups and groups[-1][0] == item.group and same_row:
            groups[-1] = (item.group, groups[-1][1], index)
        else:
            groups.append((item.group, index, index))
    for name, first, last in groups:
        x0, x1, y = box_x(first), box_x(last) + _BOX_W, band_y(first)
        parts.append(
            f'<rect x="{x0}" y="{y}" width="{x1 - x0}" height="{_BAND_H}" rx="4" fill="#f4f5f7" '
            f'stroke="#c9ced6" stroke-width="1"/>'
        )
        parts.append(_text((x0 + x1) / 2, y + 17, name, px=_GROUP_PX, fill=_GREY, weight="bold"))
    arrow = f'stroke="{_GREY}" stroke-width="2" fill="none" marker-end="url(#onnx-pipeline-arrow)"'
    for index, item in enumerate(STAGES):
        x, top = box_x(index), box_y(index)
        lit = item.key == highlight
        faded = highlight is not None and not lit
        stroke, fill = (_ORANGE, _ORANGE_FILL) if lit else (_BLUE, _BLUE_FILL)
        opacity = ' opacity="0.55"' if faded else ""
        parts.append(f'<g id="stage-{item.key}"{opacity}>')
        parts.append(
            f'<rect x="{x}" y="{top}" width="{_BOX_W}" height="{_BOX_H}" rx="8" fill="{fill}" '
            f'stroke="{stroke}" stroke-width="{3 if lit else 1.5}"/>'
        )
        centre = x + _BOX_W / 2
        parts.append(_text(centre, top + 22, item.title, px=_TITLE_PX, fill=stroke, weight="bold"))
        for line, detail in enumerate(item.details):
            parts.append(_text(centre, top + 42 + 15 * line, detail, px=_DETAIL_PX, fill="#222222", mono=True))
        label = _lessons_label(item)
        if label:
            parts.append(_text(centre, top + _BOX_H - 9, label, px=_LESSON_PX, fill=_GREY))
        parts.append("</g>")
        if index == len(STAGES) - 1:
            break
        if (index + 1) % _COLUMNS:  # the next box is to the right
            y = top + _BOX_H // 2
            parts.append(f'<path d="M{x + _BOX_W + 2},{y} H{x + _BOX_W + _GAP - 3}" {arrow}/>')
        else:  # the row ends: down, back to the first column, and down into the next row's first box
            below = top + _BOX_H + _ROW_GAP // 2
            target = box_x(index + 1) + _BOX_W // 2
            parts.append(
                f'<path d="M{x + _BOX_W // 2},{top + _BOX_H + 2} V{below} H{target} V{box_y(index + 1) - 3}" {arrow}/>'
            )
    free = len(STAGES) % _COLUMNS
    if free:  # the empty end of the last row holds the picture's one-sentence moral
        cx, cy = box_x(len(STAGES)) + _BOX_W / 2, box_y(len(STAGES) - 1) + 30
        for line, text in enumerate(_CAPTION):
            parts.append(_text(cx, cy + 16 * line, text, px=_DETAIL_PX, fill=_GREY))
    parts.append("</svg>")
    names = [f"[{s.title}]" if s.key == highlight else s.title for s in STAGES]
    text = "ONNX pipeline: " + " -> ".join(names)
    if highlight is not None:
        lit_stage = stage(highlight)
        where = _lessons_label(lit_stage)
        text += f"  (highlighted: {lit_stage.title}{'; ' + where if where else ''})"
    return Diagram("\n".join(parts), text)
