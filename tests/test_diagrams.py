"""course_utils.onnxfile.diagrams: the pipeline picture is valid, deterministic SVG whose texts fit their boxes."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest
from matplotlib.font_manager import FontProperties
from matplotlib.textpath import TextPath

from course_utils.onnxfile import diagrams
from course_utils.onnxfile.diagrams import STAGES, Diagram, pipeline, stage

SVG = "{http://www.w3.org/2000/svg}"


def parse(diagram: Diagram) -> ET.Element:
    return ET.fromstring(diagram.svg)


def groups(root: ET.Element) -> dict[str, ET.Element]:
    return {g.get("id", "").removeprefix("stage-"): g for g in root.iter(f"{SVG}g") if g.get("id")}


def test_the_stages_are_the_whole_path_in_order():
    assert [s.key for s in STAGES] == ["train", "export", "onnx", "check", "session", "provider", "outputs"]
    assert [s.group for s in STAGES] == ["framework"] * 2 + ["model"] * 2 + ["ONNX Runtime"] * 3
    assert "weights" in stage("onnx").details and any("opset" in d for d in stage("onnx").details)
    assert {"onnx.checker", "Netron", "parity"} <= set(stage("check").details)
    for item in STAGES:
        assert all(re.fullmatch(r"\d\d", n) for n in item.lessons), item.key


def test_pipeline_is_valid_deterministic_svg_with_a_box_per_stage():
    first, second = pipeline(), pipeline()
    assert first.svg == second.svg and first.text == second.text
    root = parse(first)
    assert root.tag == f"{SVG}svg" and root.get("viewBox", "").startswith("0 0 ")
    assert list(groups(root)) == [s.key for s in STAGES]
    texts = [t.text for t in root.iter(f"{SVG}text")]
    for item in STAGES:
        assert item.title in texts and all(d in texts for d in item.details)
    assert {"framework", "model", "ONNX Runtime"} <= set(texts)
    # 6 arrows between 7 boxes, and nothing that would differ between machines (no long or exponent floats).
    arrows = [p for p in root.iter(f"{SVG}path") if p.get("marker-end")]
    assert len(arrows) == len(STAGES) - 1
    assert not re.search(r"\d\.\d{3,}|e-\d", first.svg)
    assert first._repr_svg_() == first.svg
    # Small enough for a notebook's output area: JupyterLab shows SVG as an <img> at its own width, unscaled.
    assert int(root.get("width")) <= 760


def test_rows_wrap_with_one_connector_and_the_caption_in_the_free_slot():
    root = parse(pipeline())
    wraps = [p for p in root.iter(f"{SVG}path") if p.get("marker-end") and " V" in p.get("d", "")]
    assert len(wraps) == 1  # check (end of row 1) -> InferenceSession (start of row 2)
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert all(line in texts for line in diagrams._CAPTION)
    assert texts.count("ONNX Runtime") == 1


def test_text_one_liner_names_every_stage_in_order():
    assert repr(pipeline()) == str(pipeline()) == "ONNX pipeline: " + " -> ".join(s.title for s in STAGES)


@pytest.mark.parametrize("key", [s.key for s in STAGES])
def test_highlight_marks_exactly_one_stage(key):
    diagram = pipeline(highlight=key)
    boxes = groups(parse(diagram))
    lit = [k for k, g in boxes.items() if g.get("opacity") is None]
    assert lit == [key], "only the highlighted stage keeps full opacity"
    rect = boxes[key].find(f"{SVG}rect")
    assert rect is not None and rect.get("stroke-width") == "3"
    assert f"[{stage(key).title}]" in diagram.text and diagram.text.count("[") == 1
    assert f"highlighted: {stage(key).title}" in diagram.text
    assert diagram.svg != pipeline().svg


def test_highlight_names_the_lessons_in_the_text():
    assert pipeline("session").text.endswith("(highlighted: InferenceSession; lessons 05 · 06)")
    assert pipeline("train").text.endswith("(highlighted: train)")


@pytest.mark.parametrize("bad", ["runtime", "Check", ""])
def test_unknown_highlight_lists_the_stage_keys(bad):
    with pytest.raises(ValueError, match="Stages: train, export, onnx, check, session, provider, outputs"):
        pipeline(highlight=bad)


def _width(text: str, px: int, bold: bool, mono: bool) -> float:
    prop = FontProperties(family="DejaVu Sans Mono" if mono else "DejaVu Sans", weight="bold" if bold else "normal")
    return TextPath((0, 0), text, size=px, prop=prop).get_extents().width


def test_every_text_fits_its_box_in_the_widest_font():
    # Measured with DejaVu, the first (and widest) font the SVG asks for; Helvetica/Arial are narrower.
    room = diagrams._BOX_W - 2 * diagrams._PAD
    for item in STAGES:
        assert _width(item.title, diagrams._TITLE_PX, bold=True, mono=False) <= room, item.title
        for detail in item.details:
            assert _width(detail, diagrams._DETAIL_PX, bold=False, mono=True) <= room, detail
        label = diagrams._lessons_label(item)
        assert not label or _width(label, diagrams._LESSON_PX, bold=False, mono=False) <= room, label
    for line in diagrams._CAPTION:
        assert _width(line, diagrams._DETAIL_PX, bold=False, mono=False) <= diagrams._BOX_W, line
    # The detail lines stay above the lesson label at the bottom of the box.
    lowest_detail = 42 + 15 * (max(len(s.details) for s in STAGES) - 1)
    assert lowest_detail + 4 < diagrams._BOX_H - 9 - diagrams._LESSON_PX
