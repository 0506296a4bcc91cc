"""The model server (course_utils.deploy.server) and its load test: answers equal a direct session's, every bad
request gets a 4xx with a one-line reason and the server keeps serving, concurrent requests on one shared session
get their own answers, and a stopped server leaves no thread and no open port behind."""

from __future__ import annotations

import json
import socket
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import onnx
import pytest
from course_test_helpers import build_one_op_model

from course_utils.deploy.loadtest import load_table, load_test
from course_utils.deploy.server import ModelServer, serve_model
from course_utils.errors import ServerError
from course_utils.runtime.sessions import create_session

httpx = pytest.importorskip("httpx")
pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

WEIGHT = np.arange(12, dtype=np.float32).reshape(3, 4) / 10


@pytest.fixture(scope="module")
def model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("server") / "tiny.onnx"
    onnx.save(build_one_op_model(weight=WEIGHT, then=("Relu",)), path)
    return path


@pytest.fixture(scope="module")
def server(model_path: Path):
    with serve_model(model_path, name="tiny", max_body_bytes=10_000) as running:
        yield running


def _predict(server: ModelServer, content: bytes, content_type: str = "application/json"):
    return httpx.post(server.model_url + ":predict", content=content, headers={"content-type": content_type})


def _serves(server: ModelServer) -> None:
    x = [[1.0, 2.0, 3.0]]
    response = httpx.post(server.model_url + ":predict", json={"inputs": {"x": x}})
    assert response.status_code == 200, response.text
    np.testing.assert_allclose(response.json()["outputs"]["y"], np.maximum(np.array(x) @ WEIGHT, 0), rtol=1e-6)


def test_serves_on_loopback_with_tf_serving_status_and_metadata_routes(server):
    assert server.url.startswith("http://127.0.0.1:")
    # TensorFlow Serving's REST API: GET /v1/models/<name> is the model status, /metadata the signature
    status = httpx.get(server.model_url).json()
    assert status == {
        "model_version_status": [
            {"version": "1", "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}}
        ]
    }
    meta = httpx.get(server.model_url + "/metadata").json()
    assert meta["inputs"] == [{"name": "x", "type": "float32[N, 3]"}]
    assert meta["outputs"] == [{"name": "y", "type": "float32[N, 4]"}]
    assert meta["session"] == "shared"
    _serves(server)
    assert server.sessions_created == 1  # shared: every request runs the session made at start


BAD = {
    "not JSON": (b"{inputs: oops", "application/json", 400, "not JSON"),
    "no inputs object": (b'{"instances": [[1, 2, 3]]}', "application/json", 400, "'inputs' object"),
    "missing input": (b'{"inputs": {}}', "application/json", 400, "missing input(s) ['x']"),
    "unknown input": (b'{"inputs": {"x": [[1, 2, 3]], "z": [1]}}', "application/json", 400, "unknown input(s) ['z']"),
    "wrong shape": (b'{"inputs": {"x": [[1, 2]]}}', "application/json", 400, "has shape [1, 2], the model takes"),
    "no batch dimension": (b'{"inputs": {"x": [1, 2, 3]}}', "application/json", 400, "batch dimension"),
    "ragged": (b'{"inputs": {"x": [[1, 2, 3], [1]]}}', "application/json", 400, "ragged"),
    "strings": (b'{"inputs": {"x": [["a", "b", "c"]]}}', "application/json", 400, "holds strings"),
    "null": (b'{"inputs": {"x": [[1, 2, null]]}}', "application/json", 400, "holds null"),
    "too large": (json.dumps({"inputs": {"x": [[0.5] * 3] * 2000}}).encode(), "application/json", 413, "over 10000"),
    "not JSON content type": (b'{"inputs": {"x": [[1, 2, 3]]}}', "text/csv", 415, "neither JSON nor .npy"),
}


@pytest.mark.parametrize("case", BAD, ids=list(BAD))
def test_bad_request_gets_a_one_line_4xx_and_the_server_keeps_serving(server, case):
    content, content_type, status, fragment = BAD[case]
    response = _predict(server, content, content_type)
    assert response.status_code == status, response.text
    reason = response.json()["error"]
    assert fragment in reason and "\n" not in reason and len(reason) < 300
    _serves(server)


def test_other_routes_say_which_exist(server):
    for response in (httpx.get(server.url + "/v1/models/other"), httpx.get(server.model_url + ":predict")):
        assert response.status_code in (404, 405)
        assert "POST /v1/models/tiny:predict" in response.json()["error"]
        assert "GET /v1/models/tiny/metadata" in response.json()["error"]


def test_concurrent_requests_on_one_session_get_their_own_answers(server, model_path):
    rng = np.random.default_rng(11)
    batches = [rng.standard_normal((1 + i % 3, 3)).astype(np.float32) for i in range(24)]
    direct = create_session(str(model_path))

    def ask(x: np.ndarray) -> np.ndarray:
        response = httpx.post(server.model_url + ":predict", json={"inputs": {"x": x.tolist()}})
        return np.asarray(response.json()["outputs"]["y"], np.float32)

    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(ask, batches))
    for x, answer in zip(batches, answers, strict=True):
        np.testing.assert_allclose(answer, direct.run(None, {"x": x})[0], rtol=1e-6, atol=1e-6)


def test_load_test_counts_requests_and_errors(server):
    good = load_test(server.model_url + ":predict", {"inputs": {"x": [[1, 2, 3]]}}, requests=30, clients=3)
    assert (good.requests, good.clients, good.errors) == (30, 3, 0)
    assert 0 < good.p50_ms <= good.p99_ms and good.throughput > 0
    bad = load_test(server.model_url + ":predict", {"inputs": {"x": [[1, 2]]}}, requests=5, clients=2, label="bad")
    assert bad.errors == 5 and bad.first_error.startswith("400 ")
    table = load_table([good, bad])
    text, html = str(table), table._repr_html_()
    assert text.splitlines()[0].split()[:4] == ["server", "requests", "clients", "errors"]
    assert all(cell in text and cell in html for row in table._rows() for cell in row)  # one source, two forms
    assert "≈" in text  # measured numbers carry the mark nbval masks


def test_load_test_goes_to_loopback_only():
    with pytest.raises(ServerError, match=r"127\.0\.0\.1 only"):
        load_test("http://192.0.2.1:80/v1/models/x:predict", {"inputs": {}}, requests=1)
    with pytest.raises(ServerError, match="requests must be"):
        load_test("http://127.0.0.1:9/x", {"inputs": {}}, requests=0)


def test_per_request_sessions_serve_and_stop_without_leaks(model_path):
    before = set(threading.enumerate())
    server = serve_model(model_path, name="tiny", mode="per-request", workers=2)
    port = server.port
    assert httpx.get(server.model_url + "/metadata").json()["session"] == "per-request"
    report = load_test(server.model_url + ":predict", {"inputs": {"x": [[1, 2, 3]]}}, requests=10, clients=2)
    assert report.errors == 0
    assert server.sessions_created == 1 + 10  # the one read at start for the signatures, then one per request
    server.stop()
    server.stop()  # idempotent
    assert not server.running
    assert set(threading.enumerate()) - before == set(), "threads left running after stop()"
    with socket.socket() as probe, pytest.raises(OSError):
        probe.settimeout(1)
        probe.connect(("127.0.0.1", port))


def test_bad_server_arguments(model_path):
    with pytest.raises(ServerError, match="mode"):
        ModelServer(model_path, mode="pooled")  # type: ignore[arg-type]
    with pytest.raises(ServerError, match="URL"):
        ModelServer(model_path, name="a/b")


def test_npy_bodies_for_a_one_input_model(server):
    import io

    x = np.array([[1.0, 2.0, 3.0], [-1.0, 0.5, 2.0]], np.float32)
    buffer = io.BytesIO()
    np.save(buffer, x)
    reply = _predict(server, buffer.getvalue(), "application/x-npy")
    assert reply.status_code == 200, reply.text
    np.testing.assert_allclose(reply.json()["outputs"]["y"], np.maximum(x @ WEIGHT, 0), rtol=1e-6)
    for content, fragment in ((b"not npy", "not an .npy"), (_npy(np.zeros((1, 2), np.float32)), "has shape [1, 2]")):
        bad = _predict(server, content, "application/x-npy")
        assert bad.status_code == 400 and fragment in bad.json()["error"]
    objects = _npy(np.array([{"a": 1}], dtype=object), allow_pickle=True)  # a pickle inside is never loaded
    assert _predict(server, objects, "application/x-npy").status_code == 400
    _serves(server)


def _npy(array: np.ndarray, allow_pickle: bool = False) -> bytes:
    import io

    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=allow_pickle)
    return buffer.getvalue()


def test_a_chunked_body_over_the_limit_is_refused_while_read(server):
    def chunks():  # no Content-Length: httpx sends it chunked, so the server counts while it reads
        for _ in range(20):
            yield b"[0.5, 0.5, 0.5], " * 100

    reply = httpx.post(server.model_url + ":predict", content=chunks(), headers={"content-type": "application/json"})
    assert reply.status_code == 413 and "over 10000 bytes" in reply.json()["error"]
    _serves(server)
