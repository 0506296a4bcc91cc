"""The provider switcher widget in a real JupyterLab + Chromium: change the provider and the thread count, press
Run, and check that the result panel shows the providers requested and used, the fallback and why.

JupyterLab runs under a hub-like base URL (tests/browser/lab_harness.py); the notebook's only cell creates the
widget for the course's DigitsCNN. The provider picked is the first one this onnxruntime knows but lacks, so on a
machine with a GPU wheel the test still exercises a fallback. A screenshot lands in ``artifacts/screenshots/``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from lab_harness import widget_page

from course_utils.providers import provider_choices

pytestmark = pytest.mark.browser

CELL = (
    "from course_utils.views.provider_switch_view import provider_switcher\n\n"
    'switcher = provider_switcher("DigitsCNN", runs=5)\n'
    "switcher"
)
PAGE_TIMEOUT_MS = 90_000  # JupyterLab, the kernel, and the first export of the digits model on a busy machine


def _missing_provider() -> tuple[str, str]:
    """(dropdown label, name) of the first provider ONNX Runtime knows that this installation lacks."""
    return next((label, name) for label, name in provider_choices() if label.endswith("(not in this package)"))


def test_switching_provider_and_threads_updates_the_result(chromium: Any, tmp_path: Path, screenshot_dir: Path) -> None:
    from playwright.sync_api import expect

    label, name = _missing_provider()
    expect.set_options(timeout=PAGE_TIMEOUT_MS)
    with widget_page(
        chromium,
        tmp_path,
        [CELL],
        wait_for=".course-provider-switcher",
        screenshot=screenshot_dir / "provider_switcher_fallback.png",
        timeout_ms=PAGE_TIMEOUT_MS,
    ) as shown:
        widget = shown.output
        result = widget.locator(".course-switch-result")
        # The first run (CPU, ORT's default threads) is shown as soon as the widget is.
        expect(result).to_contain_text("CPUExecutionProvider")
        expect(result.locator("tr:has(th:text-is('fell back')) td")).to_contain_text("no")
        expect(result.locator("tr:has(th:text-is('threads')) td")).to_contain_text("ORT default")

        widget.locator(".course-switch-provider select").select_option(label=label)
        widget.locator(".course-switch-threads select").select_option(label="1")
        widget.locator("button.course-switch-run").click()

        expect(result.locator("tr:has(th:text-is('requested')) td")).to_contain_text(f"{name} > CPUExecutionProvider")
        expect(result.locator("tr:has(th:text-is('used')) td")).to_contain_text("CPUExecutionProvider")
        expect(result.locator("tr:has(th:text-is('fell back')) td")).to_contain_text("yes")
        expect(result.locator("tr:has(th:text-is('why')) td")).to_contain_text("is not available in this onnxruntime")
        expect(result.locator("tr:has(th:text-is('threads')) td")).to_contain_text("1")
        expect(result.locator(".course-bar[data-provider='CPUExecutionProvider']")).to_be_visible()
        expect(widget.locator(".course-switch-status")).to_contain_text("done")
        # Which nodes, not only how many: unfold the CPU provider's list.
        nodes = result.locator("details.course-node-list[data-provider='CPUExecutionProvider']")
        nodes.locator("summary").click()
        expect(nodes.locator("li").first).to_contain_text("(Conv)")
        expect(nodes.locator("li")).to_have_count(9)
        assert "ORT default" not in result.locator("tr:has(th:text-is('threads')) td").inner_text()
