"""The capstone's page flow in real JupyterLab + Chromium: the int8 EfficientNet-Lite0 the capstone ships, in ORT
format, opened with ``web_classifier(path, task="photo", labels=imagenet_labels())`` as stage 6 does, classifies a
photo uploaded through the page's control.

* the page loads through the server-proxy route and no request leaves JupyterLab's own server (the route probe
  aside);
* the page's fixed photo: the browser's top-1 is Python's on the same ``.ort`` file;
* an uploaded photo (scikit-image's coffee, written as a PNG): the page's top-1 is what Python's onnxruntime says
  for the page's own 224x224 input on the same ``.ort`` file, named with ImageNet's label.

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

pytestmark = pytest.mark.browser

PAGE_TIMEOUT_MS = 120_000
READY = "body[data-course-ready], pre.error:not(.hidden)"


@pytest.fixture(scope="module")
def shipped(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The capstone's shipped model, made the short way: the registry's export, static QDQ int8 (U8 activations,
    per-channel weights) calibrated on 16 photo crops, converted to ORT format."""
    need_node()
    import warnings

    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    from course_utils.deploy.ort_format import convert_to_ort
    from course_utils.models.efficientnet import preprocess
    from course_utils.models.photos import calibration_crops
    from course_utils.models.registry import onnx_path

    folder = tmp_path_factory.mktemp("capstone-ort")

    class Reader(CalibrationDataReader):  # type: ignore[misc]
        def __init__(self) -> None:
            self.photos, self.next = preprocess(calibration_crops(16)), 0

        def get_next(self) -> dict[str, np.ndarray] | None:
            self.next += 1
            return {"image": self.photos[self.next - 1 : self.next]} if self.next <= len(self.photos) else None

    pre, int8 = folder / "effnet_pre.onnx", folder / "effnet_int8.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        quant_pre_process(onnx_path("efficientnet_lite0"), pre)
        quantize_static(
            pre,
            int8,
            Reader(),
            quant_format=QuantFormat.QDQ,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            per_channel=True,
        )
    return convert_to_ort(int8, out_dir=folder).ort_path


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory, shipped: Path) -> Iterator[Lab]:
    cells = [
        "from course_utils.models.efficientnet import imagenet_labels\n"
        "from course_utils.views.web_classifier import web_classifier",
        f"web_classifier({str(shipped)!r}, task='photo', labels=imagenet_labels())",
    ]
    with running_lab(tmp_path_factory.mktemp("lab-capstone"), {"capstone.ipynb": cells}, proxy=True) as started:
        yield started


def _state(frame: Any, expression: str) -> Any:
    return json.loads(frame.evaluate(f"JSON.stringify({expression})"))


def test_the_shipped_ort_model_classifies_an_uploaded_photo(
    chromium: Any, lab: Lab, shipped: Path, screenshot_dir: Path, tmp_path: Path
) -> None:
    import skimage.data
    from PIL import Image

    from course_utils.deploy.web import photo_input
    from course_utils.models.efficientnet import imagenet_labels
    from course_utils.runtime.sessions import create_session

    session = create_session(str(shipped))
    with notebook_page(
        chromium,
        lab,
        "capstone.ipynb",
        wait_for=".jp-OutputArea .course-web iframe",
        screenshot=screenshot_dir / "capstone_jupyterlab.png",
        viewport=(1300, 1100),
        timeout_ms=PAGE_TIMEOUT_MS,
    ) as shown:
        page = shown.page
        src = page.locator(".jp-OutputArea .course-web iframe").first.get_attribute("src") or ""
        assert src.startswith(f"{BASE_URL}proxy/"), src
        inner = page.frame_locator(".jp-OutputArea .course-web iframe").first
        inner.locator(READY).first.wait_for(state="attached")
        frame = next(f for f in page.frames if "/pages/" in f.url)
        assert _state(frame, "window.course.error") is None, _state(frame, "window.course.error")

        # The page's fixed photo (chelsea): the browser's int8 top-1 is Python's on the same .ort file.
        chelsea = skimage.data.chelsea()
        expected = session.run(None, {"image": photo_input(chelsea)})[0].ravel()
        browser = np.array(_state(frame, "window.course.reference.browser"))
        assert int(np.argmax(browser)) == int(np.argmax(expected))

        # Upload a photo of "your own": the top-1 is Python's on the page's own input, with its ImageNet name.
        path = tmp_path / "coffee.png"
        Image.fromarray(skimage.data.coffee()).save(path)
        upload = inner.locator("input.photo-input")
        upload.scroll_into_view_if_needed()
        upload.set_input_files(str(path))
        frame.locator(".bars .bar.top").wait_for()
        top5 = _state(frame, "window.course.photo.top5")
        page_input = np.array(_state(frame, "Array.from(window.course.photo.input)"), dtype=np.float32)
        logits = session.run(None, {"image": page_input.reshape(1, 3, 224, 224)})[0].ravel()
        assert top5[0]["index"] == int(np.argmax(logits))
        assert top5[0]["label"] == imagenet_labels()[top5[0]["index"]]
        assert len(top5) == 5

        # Offline: every request went to JupyterLab's server, or was the direct-route probe.
        port = int(src.split("/")[4])
        hosts = {urllib.parse.urlsplit(url).netloc for url in shown.requests}
        assert hosts <= {f"127.0.0.1:{lab.port}", f"127.0.0.1:{port}"}, hosts
        direct = [url for url in shown.requests if urllib.parse.urlsplit(url).port == port]
        assert all(url.endswith("/course-probe") for url in direct), direct
        assert any(url.endswith("/model.ort") for url in shown.requests)
