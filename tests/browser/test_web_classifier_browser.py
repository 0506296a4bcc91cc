"""web_classifier in real JupyterLab + Chromium: onnxruntime-web runs DigitsCNN and EfficientNet-Lite0 in the page.

One JupyterLab under ``/user/alice/`` with jupyter-server-proxy (a hub's single-user server); one notebook with two
cells, the digits page and the photo page. Chromium opens it and runs the cells through JupyterLab's menu. Then:

* both pages load through the server-proxy route and no request of the page or its frames goes anywhere but
  JupyterLab's own server (the only request that may reach the kernel's server directly is the route probe);
* each page's fixed input: the browser's outputs equal Python's (computed here, not taken from the page) within
  1e-4;
* digits: synthetic mouse strokes draw a 7 on the canvas; the page's top class is what Python's onnxruntime says
  for the 8x8 input the page made from the strokes (read from the page), and the 8x8 input is the one
  ``course_utils.deploy.web.digits_input`` makes from the same canvas pixels;
* photo: chelsea the cat (scikit-image), written as a PNG, picked with the page's upload control: the top-1 is
  Python's top-1 on the page's own 224x224 input and on Python's preprocessing of the same photo.

Without Node.js and the npm packages the test skips (fails under ``COURSE_REQUIRE_BROWSER=1``).
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from course_test_helpers import need_node
from lab_harness import BASE_URL, Lab, notebook_page, running_lab

from course_utils.deploy.web import digits_input, photo_input
from course_utils.models.data import load_digits
from course_utils.models.registry import onnx_path
from course_utils.runtime.sessions import create_session

pytestmark = pytest.mark.browser

PAGE_TIMEOUT_MS = 90_000
READY = "body[data-course-ready], pre.error:not(.hidden)"
# A 7: a bar across the top, then a diagonal down to the left (canvas coordinates, 256 x 256).
SEVEN = [[(60 + 14 * t, 50) for t in range(11)] + [(200 - 6 * t, 50 + 12 * t) for t in range(1, 16)]]


@pytest.fixture(scope="module")
def models() -> dict[str, Path]:
    need_node()
    return {"digits": onnx_path("digits_cnn"), "photo": onnx_path("efficientnet_lite0")}


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory, models: dict[str, Path]) -> Iterator[Lab]:
    cells = [
        "from course_utils.views.web_classifier import web_classifier",
        f"web_classifier({str(models['digits'])!r}, task='digits')",
        f"web_classifier({str(models['photo'])!r}, task='photo')",
    ]
    with running_lab(tmp_path_factory.mktemp("lab-web"), {"web.ipynb": cells}, proxy=True) as started:
        yield started


def _page_frame(page: Any, task: str) -> Any:
    """The Playwright frame of the classifier page for ``task`` (its settings say which)."""
    for frame in page.frames:
        if "/pages/" in frame.url:
            try:
                if frame.evaluate("JSON.parse(document.getElementById('course-config').textContent).task") == task:
                    return frame
            except Exception:  # a frame still loading
                continue
    raise AssertionError(f"no {task} page among {[f.url for f in page.frames]}")


def _state(frame: Any, expression: str) -> Any:
    return json.loads(frame.evaluate(f"JSON.stringify({expression})"))


def test_pages_run_in_the_browser_through_the_proxy(
    chromium: Any, lab: Lab, models: dict[str, Path], screenshot_dir: Path, tmp_path: Path
) -> None:
    sessions = {task: create_session(str(path)) for task, path in models.items()}
    with notebook_page(
        chromium,
        lab,
        "web.ipynb",
        wait_for=".jp-OutputArea .course-web iframe >> nth=1",
        screenshot=screenshot_dir / "web_classifier_jupyterlab.png",
        viewport=(1300, 1200),
        timeout_ms=PAGE_TIMEOUT_MS,
    ) as shown:
        page = shown.page
        frames = page.locator(".jp-OutputArea .course-web iframe")
        srcs = [frames.nth(i).get_attribute("src") or "" for i in range(2)]
        assert all(src.startswith(f"{BASE_URL}proxy/") for src in srcs), srcs
        for i in range(2):
            page.frame_locator(".jp-OutputArea .course-web iframe").nth(i).locator(READY).first.wait_for(
                state="attached"
            )
        digits, photo = _page_frame(page, "digits"), _page_frame(page, "photo")
        for frame in (digits, photo):
            assert _state(frame, "window.course.error") is None, _state(frame, "window.course.error")
            assert _state(frame, "window.course.backend") == "wasm"

        # The fixed inputs: the browser's outputs against Python's, computed here.
        expected_digit = sessions["digits"].run(None, {"image": load_digits().x_test[:1]})[0].ravel()
        browser_digit = np.array(_state(digits, "window.course.reference.browser"))
        np.testing.assert_allclose(browser_digit, expected_digit, rtol=0, atol=1e-4)
        import skimage.data
        from PIL import Image

        chelsea = skimage.data.chelsea()
        expected_photo = sessions["photo"].run(None, {"image": photo_input(chelsea)})[0].ravel()
        browser_photo = np.array(_state(photo, "window.course.reference.browser"))
        np.testing.assert_allclose(browser_photo, expected_photo, rtol=0, atol=1e-4)
        assert "max |browser − Python|" in digits.locator(".reference").inner_text()

        # Digits: draw a 7 with the mouse on the canvas inside the iframe.
        pad = page.frame_locator(".jp-OutputArea .course-web iframe").nth(0).locator("canvas.pad")
        pad.scroll_into_view_if_needed()
        box = pad.bounding_box()
        assert box is not None
        sx, sy = box["width"] / 256, box["height"] / 256
        for stroke in SEVEN:
            page.mouse.move(box["x"] + stroke[0][0] * sx, box["y"] + stroke[0][1] * sy)
            page.mouse.down()
            for x, y in stroke[1:]:
                page.mouse.move(box["x"] + x * sx, box["y"] + y * sy)
            page.mouse.up()
        digits.locator(".bars .bar.top").wait_for()
        drawn = _state(digits, "window.course.digits")
        made = np.array(drawn["input"], dtype=np.float32).reshape(1, 1, 8, 8)
        assert made.sum() > 0
        logits = sessions["digits"].run(None, {"image": made})[0].ravel()
        assert drawn["top"] == int(np.argmax(logits))
        np.testing.assert_allclose(drawn["logits"], logits, rtol=0, atol=1e-4)
        # The page's downsampling is digits_input's: the same canvas pixels give the same 8x8.
        rgba = _state(
            digits,
            "Array.from(document.querySelector('canvas.pad').getContext('2d').getImageData(0, 0, 256, 256).data)",
        )
        ink = (255 - np.array(rgba, dtype=np.float64).reshape(256, 256, 4)[:, :, 0]) / 255
        np.testing.assert_array_equal(digits_input(ink), made)

        # Photo: upload chelsea.
        path = tmp_path / "chelsea.png"
        Image.fromarray(chelsea).save(path)
        upload = page.frame_locator(".jp-OutputArea .course-web iframe").nth(1).locator("input.photo-input")
        upload.scroll_into_view_if_needed()
        upload.set_input_files(str(path))
        photo.locator(".bars .bar.top").wait_for()
        top5 = _state(photo, "window.course.photo.top5")
        page_input = np.array(_state(photo, "Array.from(window.course.photo.input)"), dtype=np.float32)
        on_page_input = sessions["photo"].run(None, {"image": page_input.reshape(1, 3, 224, 224)})[0].ravel()
        assert top5[0]["index"] == int(np.argmax(on_page_input))
        assert top5[0]["index"] == int(np.argmax(expected_photo))  # Python's preprocessing of the same photo
        assert len(top5) == 5 and all(entry["label"] for entry in top5)

        # Offline: every request went to JupyterLab's server (the proxy route) or was the direct-route probe.
        hosts = {urllib.parse.urlsplit(url).netloc for url in shown.requests}
        port = int(srcs[0].split("/")[4])
        assert hosts <= {f"127.0.0.1:{lab.port}", f"127.0.0.1:{port}"}, hosts
        direct = [url for url in shown.requests if urllib.parse.urlsplit(url).port == port]
        assert all(url.endswith("/course-probe") for url in direct), direct
        proxied = [url for url in shown.requests if f"{BASE_URL}proxy/{port}/" in url]
        assert any(url.endswith("ort-wasm-simd-threaded.wasm") for url in proxied)
        assert any(url.endswith("/model.onnx") for url in proxied)


@pytest.fixture
def live_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    from course_utils.views.netron import stop_server

    monkeypatch.setenv("COURSE_NETRON", "auto")
    yield
    stop_server()


def test_traps_and_fallbacks_show_onnxruntime_webs_own_text(
    chromium: Any, live_server: None, models: dict[str, Path], tmp_path: Path
) -> None:
    """The page opened directly (no JupyterLab): an ORT-format model, and the knobs lesson 10 uses to show the
    wasmPaths trap, the threads/cross-origin-isolation warning, WebGPU's fallback and an isolated page's threads."""
    import subprocess
    import sys

    from course_utils.views.web_classifier import web_classifier

    subprocess.run(
        [sys.executable, "-m", "onnxruntime.tools.convert_onnx_models_to_ort", str(models["digits"]), "--output_dir",
         str(tmp_path)],
        check=True, capture_output=True,
    )  # fmt: skip
    ort_file = tmp_path / f"{models['digits'].stem}.ort"
    cases = {
        "ort": web_classifier(ort_file, task="digits"),
        "wasm_paths": web_classifier(models["digits"], task="digits", wasm_paths="/nowhere/"),
        "threads": web_classifier(models["digits"], task="digits", num_threads=4),
        "webgpu": web_classifier(models["digits"], task="digits", backend="webgpu"),
        "isolated": web_classifier(models["digits"], task="digits", num_threads=2, isolate=True),
    }
    context = chromium.new_context()
    try:
        seen: dict[str, dict[str, Any]] = {}
        hosts: set[str] = set()
        context.on("request", lambda request: hosts.add(urllib.parse.urlsplit(request.url).netloc))
        for name, view in cases.items():
            page = context.new_page()
            page.set_default_timeout(60_000)
            page.goto(view.url)
            page.wait_for_selector(READY, state="attached")
            seen[name] = _state(page, "window.course")
            seen[name]["text"] = page.inner_text("body")
            page.close()
    finally:
        context.close()
    assert hosts <= {f"127.0.0.1:{view.port}" for view in cases.values()}, hosts
    assert seen["ort"]["error"] is None and seen["ort"]["reference"]["maxAbsDiff"] <= 1e-4
    assert "model model.ort" in seen["ort"]["text"]
    # A wrong wasmPaths: the session fails with onnxruntime-web's own message, shown on the page.
    trap = seen["wasm_paths"]["error"]
    assert trap.startswith("no available backend found. ERR: [wasm]") and "/nowhere/ort-wasm-simd-threaded.mjs" in trap
    assert trap in seen["wasm_paths"]["text"]
    # Threads without cross-origin isolation: onnxruntime-web's warning, and one thread.
    threads = seen["threads"]
    assert threads["isolated"] is False and threads["threads"] == 1 and threads["error"] is None
    assert any("unless you enable crossOriginIsolated mode" in w for w in threads["warnings"]), threads["warnings"]
    assert "1 thread" in threads["text"]
    # WebGPU asked for in a browser without it (headless Chromium without --enable-unsafe-webgpu): wasm, and why.
    webgpu = seen["webgpu"]
    assert webgpu["backend"] == "wasm" and webgpu["error"] is None and webgpu["fallback"]
    assert "running on wasm instead" in webgpu["text"]
    # COOP/COEP: the page in its own tab is cross-origin isolated and runs the threads it asked for.
    assert seen["isolated"]["isolated"] is True and seen["isolated"]["threads"] == 2
