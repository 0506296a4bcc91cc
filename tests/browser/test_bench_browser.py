"""The live benchmark in a real browser: JupyterLab runs a notebook whose cell starts ``live_benchmark``;
Chromium must see the plot (an ``<img>`` inside the widget) change at least twice while the benchmark is still
running, then the finished status. Then a control changes (batch size 8), the Run button is clicked, and the
status must report the new run. Screenshots land in ``artifacts/screenshots/``."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from lab_harness import widget_page

pytestmark = pytest.mark.browser

CELL = (
    "from course_utils.views.bench_view import live_benchmark\n\n"
    'view = live_benchmark("digits_cnn", engines=["ort-disable", "ort-all"], threads=1, budget_s=2.5)'
)
PAGE_TIMEOUT_MS = 90_000


def test_live_plot_updates_while_running(chromium: Any, tmp_path: Path, screenshot_dir: Path) -> None:
    with widget_page(
        chromium,
        tmp_path,
        [CELL],
        wait_for="img.course-bench-plot",
        screenshot=screenshot_dir / "bench_live_batch8.png",
        timeout_ms=PAGE_TIMEOUT_MS,
    ) as shown:
        page, plot = shown.page, shown.output
        status = page.locator(".course-bench-status")
        seen: list[str] = []
        deadline = time.monotonic() + PAGE_TIMEOUT_MS / 1000
        finished = False
        while time.monotonic() < deadline:
            text = status.inner_text()
            finished = text.startswith("done:")
            src = plot.get_attribute("src") or ""
            if not finished and src and (not seen or seen[-1] != src):
                seen.append(src)
            if finished:
                break
            page.wait_for_timeout(50)
        page.screenshot(path=str(screenshot_dir / "bench_live.png"))
        assert finished, f"the benchmark did not finish; status: {status.inner_text()!r}"
        assert len(seen) >= 2, f"the plot changed {len(seen)} time(s) before the run finished"
        assert "batch 1" in status.inner_text()

        # A control changes the next run: batch 8, then the Run button.
        page.locator(".course-bench-batch select").select_option("8")
        page.get_by_role("button", name="Run benchmark").click()
        page.locator(".course-bench-status", has_text="batch 8").wait_for()
        page.locator(".course-bench-status", has_text="done: digits_cnn, batch 8").wait_for()
