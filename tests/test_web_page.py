"""The web classifier page, without a browser: what it holds, its text, its errors, and how the kernel's loopback
server serves it (the Netron server's rules: loopback, token path, fixed table, GET/HEAD only, CSP)."""

from __future__ import annotations

import http.client
import json
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from course_test_helpers import need_node

from course_utils.deploy.web import DIST_FILES, PAGE_CSP, classifier_page, digits_input, photo_input, softmax
from course_utils.errors import ModelFileNotFoundError
from course_utils.models.data import load_digits
from course_utils.models.registry import onnx_path
from course_utils.views.netron import stop_server
from course_utils.views.netron_server import MAX_PAGES, PageEntry, get_server
from course_utils.views.web_classifier import WebClassifier, web_classifier


@pytest.fixture
def live(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("COURSE_NETRON", "auto")
    need_node()
    stop_server()
    yield
    stop_server()


@pytest.fixture(scope="module")
def digits_model() -> Path:
    return onnx_path("digits_cnn")


def get(port: int, path: str, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.putrequest(method, path, skip_accept_encoding=True)
        connection.endheaders()
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


def test_static_text_is_deterministic_and_says_what_the_page_does(
    monkeypatch: pytest.MonkeyPatch, digits_model: Path
) -> None:
    monkeypatch.setenv("COURSE_NETRON", "static")
    first = web_classifier(digits_model, task="digits")
    again = web_classifier(digits_model, task="digits")
    assert isinstance(first, WebClassifier) and first.mode == "static" and first.url is None
    text = first.static_text()
    assert text == again.static_text() == repr(first)
    assert text.startswith(f"{digits_model.stem} in the browser: onnxruntime-web 1.31.1, wasm backend")
    assert "input image float32[1x1x8x8]" in text and "4x4 blocks" in text
    # Python's own answer on the fixed input (the first test digit) is in the text, and is the model's
    expected = str(int(np.argmax(first.page.python_outputs["logits"])))
    assert f"Python's onnxruntime says {expected} " in text
    bundle = first._repr_mimebundle_()
    assert bundle["text/plain"] == text and "<script" not in bundle["text/html"]
    assert "ort/" not in " ".join(first.page.files)  # static: nothing to serve


def test_bad_input_gets_one_line_errors(tmp_path: Path, digits_model: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COURSE_NETRON", "static")
    with pytest.raises(ModelFileNotFoundError, match="no model file"):
        web_classifier(tmp_path / "missing.onnx", task="digits")
    other = tmp_path / "model.txt"
    other.write_text("x")
    with pytest.raises(ValueError, match=r"\.onnx or ORT format \.ort"):
        web_classifier(other, task="digits")
    with pytest.raises(ValueError, match="task must be 'digits'"):
        web_classifier(digits_model, task="audio")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="backend must be 'wasm'"):
        web_classifier(digits_model, task="digits", backend="webgl")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="labels has 3 names"):
        web_classifier(digits_model, task="digits", labels=["a", "b", "c"])
    with pytest.raises(ValueError, match="model's one input 'image'"):
        web_classifier(digits_model, task="digits", reference={"x": np.zeros((1, 1, 8, 8), np.float32)})


def test_without_npm_packages_the_static_part_stays_with_how_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, digits_model: Path
) -> None:
    monkeypatch.setenv("COURSE_NETRON", "auto")
    monkeypatch.setenv("COURSE_JS_DIR", str(tmp_path))
    view = web_classifier(digits_model, task="digits")
    assert view.mode == "static" and view.url is None
    assert view.note is not None and "./course setup" in view.note and "npm ci" in view.note
    assert view.note in view.static_html() and "<script" not in view.html()


def test_digits_input_makes_the_training_datas_8x8() -> None:
    # A training digit blown up to a 32x32 bitmap (each 8x8 count spread over its 4x4 block) comes back the same.
    digit = load_digits().x_test[3, 0]
    counts = np.rint(digit * 16).astype(int)
    bitmap = np.zeros((32, 32))
    for i in range(8):
        for j in range(8):
            block = np.zeros(16)
            block[: counts[i, j]] = 1
            bitmap[4 * i : 4 * i + 4, 4 * j : 4 * j + 4] = block.reshape(4, 4)
    # centred in a bigger canvas, filling its height: the bounding box is the whole bitmap when rows 0 and 31
    # and columns 0 and 31 have ink; otherwise the crop-and-scale changes it, so compare the ink total
    canvas = np.zeros((64, 64))
    canvas[16:48, 16:48] = bitmap
    made = digits_input(canvas)
    assert made.shape == (1, 1, 8, 8) and made.dtype == np.float32
    assert made.sum() > 0 and np.all(made <= 1) and np.all(made * 16 == np.rint(made * 16))
    assert digits_input(np.zeros((50, 40))).sum() == 0
    # a vertical bar is a "1"-like column in the middle of the 8x8
    bar = np.zeros((100, 100))
    bar[10:90, 45:55] = 1
    column = digits_input(bar)[0, 0]
    assert column[:, 3:5].sum() > 0 and column[:, :2].sum() == 0 and column[:, 6:].sum() == 0


def test_photo_input_is_efficientnets_preprocessing() -> None:
    from course_utils.models.efficientnet import preprocess

    pixels = np.zeros((300, 400, 3), dtype=np.uint8)
    pixels[:, :50, 0] = 255  # red margin left, blue margin right: outside the centred 300x300 square
    pixels[:, 350:, 2] = 255
    pixels[:, 50:350, 1] = 255  # the centre square is green
    made = photo_input(pixels)
    assert made.shape == (1, 3, 224, 224) and made.dtype == np.float32
    inner = made[0, :, 2:-2, 2:-2]  # Pillow's filter reaches one source pixel past the box at the edges
    assert np.all(inner[1] == (255 - 127) / 128) and np.all(inner[0] == -127 / 128) and np.all(inner[2] == -127 / 128)
    square = np.random.default_rng(1).integers(0, 256, (224, 224, 3), dtype=np.uint8)
    np.testing.assert_array_equal(photo_input(square), preprocess(square))  # no resize: exactly preprocess
    assert np.isclose(softmax(np.array([0.0, 0.0])).sum(), 1.0)


def test_the_page_is_served_with_its_own_fixed_table_and_csp(live: None, digits_model: Path) -> None:
    view = web_classifier(digits_model, task="digits")
    server = get_server()
    assert view.url is not None and view.page_path is not None and view.mode == "auto"
    host, _ = server._httpd.socket.getsockname()[:2]
    assert host == "127.0.0.1"
    base = f"/{server.token}/{view.page_path}"
    assert set(view.page.files) == {"index.html", "classifier.js", "classifier.css", "model.onnx"} | {
        f"ort/{name}" for name in DIST_FILES["wasm"]
    }
    status, headers, body = get(server.port, base)
    assert status == 200 and headers["content-security-policy"] == PAGE_CSP and "connect-src 'self'" in PAGE_CSP
    config = json.loads(re.search(rb"id='course-config'>(.*?)</script>", body).group(1))  # type: ignore[union-attr]
    assert config["task"] == "digits" and config["model"] == "model.onnx" and config["wasmPaths"] is None
    assert get(server.port, base + "model.onnx")[2] == digits_model.read_bytes()
    status, headers, wasm = get(server.port, base + "ort/ort-wasm-simd-threaded.wasm")
    assert status == 200 and headers["content-type"] == "application/wasm" and wasm[:4] == b"\0asm"
    assert "cross-origin-opener-policy" not in headers
    html = view.html()
    assert f'"src": "{view.page_path}"' in html and '"proxy/"' in html and "course-netron-fallback" in html


def test_hostile_requests_and_other_methods(live: None, digits_model: Path) -> None:
    view = web_classifier(digits_model, task="digits")
    server = get_server()
    t, page = server.token, view.page_path
    assert page is not None
    p = page.split("/")[1]
    for path in [
        f"/pages/{p}/index.html",  # no server token
        f"/{t[:-1]}/{page}",
        f"/{t}/pages/{p[:-1]}/",
        f"/{t}/pages/{p}/ort/",
        f"/{t}/pages/{p}/ort/ort.webgpu.min.mjs",  # a dist file this page does not load
        f"/{t}/pages/{p}/ort/ort.min.mjs",
        f"/{t}/pages/{p}/../../{t}/",
        f"/{t}/pages/{p}/%2e%2e/model.onnx",
        f"/{t}/pages/{p}//model.onnx",
        f"/{t}/pages/{p}/node_modules/onnxruntime-web/package.json",
        f"/{t}/pages/",
    ]:
        assert get(server.port, path)[0] == 404, path
    for method in ("POST", "PUT", "DELETE"):
        assert get(server.port, f"/{t}/{page}model.onnx", method=method)[0] == 405
    assert get(server.port, f"/{t}/{page}model.onnx", method="HEAD")[0] == 200


def test_pages_are_bounded_and_knobs_reach_the_page(live: None, digits_model: Path) -> None:
    server = get_server()
    for k in range(MAX_PAGES + 2):
        server.register_page(
            {"index.html": PageEntry(f"page {k}".encode(), "text/html", False)}, csp="default-src 'none'"
        )
    assert server.page_count() == MAX_PAGES
    with pytest.raises(ValueError, match="plain relative paths"):
        server.register_page({"../x": PageEntry(b"", "text/plain", False)}, csp="")
    view = web_classifier(digits_model, task="digits", wasm_paths="/nowhere/", num_threads=4, isolate=True)
    assert get(server.port, f"/{server.token}/{view.page_path}")[0] == 200
    _, headers, body = get(server.port, f"/{server.token}/{view.page_path}")
    assert headers["cross-origin-opener-policy"] == "same-origin"
    assert headers["cross-origin-embedder-policy"] == "require-corp"
    assert b'"wasmPaths": "/nowhere/"' in body and b'"numThreads": 4' in body
    assert "wasmPaths overridden: '/nowhere/'" in view.static_text()


def test_ort_files_and_the_photo_task(live: None, digits_model: Path, tmp_path: Path) -> None:
    page = classifier_page(digits_model, task="digits", backend="webgpu", labels=[f"d{i}" for i in range(10)])
    assert {f"ort/{name}" for name in DIST_FILES["webgpu"]} <= set(page.files)
    assert page.python_top[0][0].startswith("d")
