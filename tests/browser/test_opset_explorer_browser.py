"""The opset explorer in a real browser: JupyterLab runs a notebook that shows the widget, Chromium moves the
opset slider with the keyboard, and the schema diff the widget shows must change with it.

ReduceMean is the subject: at opset 13 compared with 13 nothing changes; five steps right (opset 18) its
``axes`` attribute has become an input. The screenshot lands in ``artifacts/screenshots/``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from lab_harness import widget_page

pytestmark = pytest.mark.browser

CELL = (
    "from course_utils.views.opsets_view import opset_explorer\n\n"
    'opset_explorer(["ReduceMean", "Split"], opset=13, base_opset=13)'
)
WAIT_MS = 60_000  # each wait in the page: the kernel computing a diff on a busy 2-core machine


def test_moving_the_slider_changes_the_schema_diff(chromium: Any, tmp_path: Path, screenshot_dir: Path) -> None:
    from playwright.sync_api import expect

    with widget_page(
        chromium,
        tmp_path,
        [CELL],
        wait_for="pre.opset-explorer",
        screenshot=screenshot_dir / "opset_explorer_jupyterlab.png",
        viewport=(1280, 720),
    ) as shown:
        diff = shown.output
        expect(diff).to_contain_text("opset 13 uses ReduceMean-13", timeout=WAIT_MS)
        expect(diff).to_contain_text("nothing changes")
        before = diff.inner_text()

        handle = shown.page.get_by_role("slider")
        handle.focus()
        for _ in range(5):
            handle.press("ArrowRight")
        expect(handle).to_have_attribute("aria-valuenow", "18.0", timeout=WAIT_MS)
        expect(diff).to_contain_text("opset 18 uses ReduceMean-18", timeout=WAIT_MS)
        expect(diff).to_contain_text("attribute 'axes' (INTS) became input 'axes'")
        assert diff.inner_text() != before

        # And back: the diff follows the slider both ways.
        for _ in range(5):
            handle.press("ArrowLeft")
        expect(handle).to_have_attribute("aria-valuenow", "13.0", timeout=WAIT_MS)
        expect(diff).to_contain_text("nothing changes", timeout=WAIT_MS)


MODEL_CELL = (
    "from course_utils.lessons.lesson08 import digits_cnn_at\n"
    "from course_utils.views.opsets_view import opset_explorer\n\n"
    'opset_explorer({"DigitsCNN at opset 18": digits_cnn_at(18)}, opset=21, base_opset=18)'
)


def test_the_model_picture_outlines_the_changed_nodes(chromium: Any, tmp_path: Path, screenshot_dir: Path) -> None:
    """A model subject: at opset 21 the converted graph's one redefined node (Flatten-21) is outlined in the live
    picture; three steps left (opset 18, the file's own) nothing is."""
    from playwright.sync_api import expect

    with widget_page(
        chromium,
        tmp_path,
        [MODEL_CELL],
        wait_for="pre.opset-explorer",
        screenshot=screenshot_dir / "opset_explorer_model_jupyterlab.png",
        viewport=(1280, 720),
    ) as shown:
        page, text = shown.page, shown.output
        expect(text).to_contain_text("Flatten: Flatten-13 -> Flatten-21", timeout=WAIT_MS)
        outlined = page.locator("svg rect[stroke-width='3']")
        expect(outlined).to_have_count(1, timeout=WAIT_MS)
        expect(page.get_by_text("outlined in orange")).to_be_visible()
        page.screenshot(path=str(screenshot_dir / "opset_explorer_model_outlined.png"))

        handle = page.get_by_role("slider")
        handle.focus()
        for _ in range(3):
            handle.press("ArrowLeft")
        expect(handle).to_have_attribute("aria-valuenow", "18.0", timeout=WAIT_MS)
        expect(text).to_contain_text("no operator changed", timeout=WAIT_MS)
        expect(outlined).to_have_count(0, timeout=WAIT_MS)
        expect(page.locator("svg rect").first).to_be_visible()  # the graph is still drawn
