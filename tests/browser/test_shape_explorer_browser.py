"""The shape explorer in a real browser: JupyterLab runs a notebook that shows the widget; Chromium moves the batch
slider with the keyboard and ticks the bucketing checkbox, and both the plot (an ``<img>``) and the summary must
change each time. Screenshots land in ``artifacts/screenshots/``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from lab_harness import open_notebook, run_all_cells, running_lab

pytestmark = pytest.mark.browser

CELL = (
    "from course_utils.models.seqmodel import export_seq_model\n"
    "from course_utils import shape_explorer\n\n"
    "shape_explorer(export_seq_model(), batch=4, longest=100, repeats=2)"
)
WAIT_MS = 90_000  # each wait in the page: the first cell trains and exports the model on a busy 2-core machine


def test_controls_change_the_plot_and_the_summary(chromium: Any, tmp_path: Path, screenshot_dir: Path) -> None:
    from playwright.sync_api import expect

    with running_lab(tmp_path, {"shapes.ipynb": [CELL]}) as lab:
        page = chromium.new_page(viewport={"width": 1300, "height": 1000})
        page.set_default_timeout(WAIT_MS)
        try:
            open_notebook(page, lab, "shapes.ipynb")
            summary = page.locator("pre.course-shapes-text")
            plot = page.locator("img.course-shapes-plot")
            run_all_cells(page, summary)
            expect(summary).to_contain_text("batch 4", timeout=WAIT_MS)
            expect(summary).to_contain_text("exact lengths")
            expect(plot).to_be_visible()
            first_src = plot.get_attribute("src") or ""
            assert first_src.startswith("blob:") or first_src.startswith("data:"), first_src[:40]

            # The batch slider: three steps right, the summary and the plot follow.
            handle = page.locator(".course-shapes-batch").get_by_role("slider")
            handle.focus()
            for _ in range(3):
                handle.press("ArrowRight")
            expect(handle).to_have_attribute("aria-valuenow", "7.0", timeout=WAIT_MS)
            expect(summary).to_contain_text("batch 7", timeout=WAIT_MS)
            expect(summary).to_contain_text("/7")
            page.wait_for_function(
                "old => document.querySelector('img.course-shapes-plot').src !== old", arg=first_src, timeout=WAIT_MS
            )
            second_src = plot.get_attribute("src") or ""

            # Bucketing on: the summary names the buckets, the rows show padded shapes, the plot changes again.
            page.locator(".course-shapes-bucketing input[type='checkbox']").check()
            expect(summary).to_contain_text("padded to buckets", timeout=WAIT_MS)
            expect(summary).to_contain_text("[7, 32]")
            page.wait_for_function(
                "old => document.querySelector('img.course-shapes-plot').src !== old", arg=second_src, timeout=WAIT_MS
            )
            page.screenshot(path=str(screenshot_dir / "shape_explorer_jupyterlab.png"))
        except Exception:
            page.screenshot(path=str(screenshot_dir / "shape_explorer_jupyterlab_failed.png"))
            raise
        finally:
            page.close()
