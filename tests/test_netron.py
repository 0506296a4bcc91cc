"""show_netron and its server: static mode, the loopback server, its URLs, and hostile requests."""

from __future__ import annotations

import gzip
import html
import http.client
import json
import re
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import onnx
import pytest
from course_test_helpers import build_one_op_model
from onnx import numpy_helper

from course_utils.errors import ExternalDataMissingError, ModelFileNotFoundError, NotAnOnnxModelError
from course_utils.views import netron, netron_server
from course_utils.views.graph_page import model_summary, static_html
from course_utils.views.netron import NetronView, get_server, show_netron, stop_server


def make_model(scale: float = 1.0) -> onnx.ModelProto:
    return build_one_op_model("MatMul", np.full((2, 2), scale), [1, 2], opset=17, then=("Relu",))


@pytest.fixture
def static(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COURSE_NETRON", "static")


@pytest.fixture
def live(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("COURSE_NETRON", "auto")
    stop_server()
    yield
    stop_server()


def get(
    port: int, path: str, headers: dict[str, str] | None = None, method: str = "GET", body: bytes | None = None
) -> tuple[int, dict, bytes]:
    """A raw request: http.client sends the path exactly as given (no normalisation), like an attacker would."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.putrequest(method, path, skip_accept_encoding=True)
        for key, value in (headers or {}).items():
            connection.putheader(key, value)
        connection.endheaders(body)
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


# --------------------------------------------------------------------------------------------- static mode


def test_static_mode_is_the_picture_only_and_deterministic(static: None, tiny_model_file: Path) -> None:
    stop_server()
    first = show_netron(tiny_model_file)._repr_mimebundle_()
    second = show_netron(tiny_model_file)._repr_mimebundle_()
    assert first == second
    assert set(first) == {"text/plain", "text/html"}
    assert first["text/plain"] == model_summary(tiny_model_file)
    assert first["text/html"] == static_html(tiny_model_file)
    assert "<script" not in first["text/html"]
    assert netron_server._server is None, "static mode must not start a server"


def test_accepts_path_model_and_bytes(static: None, tiny_model_file: Path) -> None:
    model = onnx.load(str(tiny_model_file))
    views = [
        show_netron(tiny_model_file),
        show_netron(str(tiny_model_file)),
        show_netron(model),
        show_netron(tiny_model_file.read_bytes()),
    ]
    assert len({view.summary for view in views}) == 1
    assert all(isinstance(view, NetronView) and view.url is None for view in views)
    assert repr(views[0]) == views[0].summary


def test_bad_input_gives_one_line_course_errors(static: None, tmp_path: Path) -> None:
    with pytest.raises(ModelFileNotFoundError, match="No model file"):
        show_netron(tmp_path / "missing.onnx")
    not_onnx = tmp_path / "weights.onnx"
    not_onnx.write_bytes(b"\x00\x01 not a protobuf \xff" * 10)
    with pytest.raises(NotAnOnnxModelError):
        show_netron(not_onnx)
    with pytest.raises(NotAnOnnxModelError):
        show_netron(b"definitely not onnx")
    external = tmp_path / "ext.onnx"
    onnx.save(make_model(), str(external), save_as_external_data=True, location="ext.onnx.data", size_threshold=0)
    (tmp_path / "ext.onnx.data").unlink()
    with pytest.raises(ExternalDataMissingError, match=r"ext\.onnx\.data"):
        show_netron(external)


@pytest.mark.parametrize("mode", ["static", "auto"])
def test_model_proto_with_unloaded_external_weights_is_refused_in_both_modes(
    mode: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What nbval sees (static) must be what the learner gets (auto): the same one-line error, and no server.
    monkeypatch.setenv("COURSE_NETRON", mode)
    stop_server()
    path = tmp_path / "ext.onnx"
    onnx.save(make_model(), str(path), save_as_external_data=True, location="ext.onnx.data", size_threshold=0)
    without_weights = onnx.load(str(path), load_external_data=False)
    with pytest.raises(ExternalDataMissingError, match=r"Pass the \.onnx file's path"):
        show_netron(without_weights)
    assert netron_server._server is None


def test_invalid_mode_and_height_are_refused(monkeypatch: pytest.MonkeyPatch, tiny_model_file: Path) -> None:
    monkeypatch.setenv("COURSE_NETRON", "sometimes")
    with pytest.raises(ValueError, match="COURSE_NETRON"):
        show_netron(tiny_model_file)
    monkeypatch.setenv("COURSE_NETRON", "static")
    with pytest.raises(ValueError, match="height"):
        show_netron(tiny_model_file, height=10)


def test_unset_mode_means_auto(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COURSE_NETRON", raising=False)
    assert netron.netron_mode() == "auto"
    monkeypatch.setenv("COURSE_NETRON", " Static ")
    assert netron.netron_mode() == "static"


# --------------------------------------------------------------------------------------------- live mode


def test_live_view_has_fallback_script_and_same_text(live: None, tiny_model_file: Path) -> None:
    view = show_netron(tiny_model_file, height=640)
    bundle = view._repr_mimebundle_()
    assert bundle["text/plain"] == model_summary(tiny_model_file)
    page = bundle["text/html"]
    assert static_html(tiny_model_file, height=640) in page  # the fallback is there before any script runs
    assert page.count("<script>") == 1
    config = json.loads(re.search(r"var cfg = (\{.*?\});", page).group(1))  # type: ignore[union-attr]
    server = get_server()
    assert config["port"] == server.port == view.port
    assert config["token"] == server.token
    assert config["model"] == view.model_path
    assert config["height"] == 640
    assert view.url == f"http://127.0.0.1:{server.port}/{server.token}/?url={view.model_path}"
    # The script knows the proxy route and the direct route.
    assert '"proxy/"' in page and "http://127.0.0.1:" in page


def test_one_loopback_server_reused_and_no_leak_on_rerun(live: None, tiny_model_file: Path) -> None:
    first = show_netron(tiny_model_file)
    server = get_server()
    host, port = server._httpd.socket.getsockname()[:2]
    assert host == "127.0.0.1"  # loopback only, never 0.0.0.0
    for _ in range(5):  # re-running the cell
        again = show_netron(tiny_model_file)
    assert again.port == first.port and again.model_path == first.model_path
    assert get_server() is server and server.model_count() == 1
    show_netron(make_model(scale=2.0))
    assert server.model_count() == 2
    assert port == first.port


def test_without_netron_the_picture_stays_with_a_reason(
    live: None, tiny_model_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def missing() -> Path:
        raise ImportError("No module named 'netron'")

    monkeypatch.setattr(netron_server, "_netron_dir", missing)
    view = show_netron(tiny_model_file)
    assert view.url is None and netron_server._server is None
    page = view._repr_mimebundle_()["text/html"]
    assert "pip install netron" in page and static_html(tiny_model_file) in page and "<script" not in page


def test_old_models_are_dropped_beyond_the_limit(live: None) -> None:
    first = show_netron(make_model(scale=0.0))
    for i in range(1, netron_server.MAX_MODELS + 1):
        show_netron(make_model(scale=float(i)))
    server = get_server()
    assert server.model_count() == netron_server.MAX_MODELS
    status, _, _ = get(server.port, f"/{server.token}/{first.model_path}")
    assert status == 404


def test_serves_netron_patched_and_the_model(live: None, tiny_model_file: Path) -> None:
    view = show_netron(tiny_model_file)
    server = get_server()
    status, headers, body = get(server.port, f"/{server.token}/")
    assert status == 200 and headers["content-type"].startswith("text/html")
    page = body.decode()
    assert '<meta name="date"' not in page  # no build date: no 180-day expiry lock
    assert page.index("course-netron-config.js") < page.index('src="index.js"')  # runs before Netron
    assert "connect-src 'self'" in headers["content-security-policy"]  # nothing but this server
    status, _, script = get(server.port, f"/{server.token}/course-netron-config.js")
    assert status == 200 and b"consent" in script and b"sendBeacon" in script
    # Netron's own files, with gzip for the big ones.
    status, headers, body = get(server.port, f"/{server.token}/view.js", {"Accept-Encoding": "gzip"})
    assert status == 200 and headers["content-encoding"] == "gzip"
    assert gzip.decompress(body) == (netron_server._netron_dir() / "view.js").read_bytes()
    # The model, with Netron's cache-busting query.
    status, headers, body = get(server.port, f"/{server.token}/{view.model_path}?cb=123")
    assert status == 200 and body == tiny_model_file.read_bytes()
    assert view.model_path.endswith("/tiny.onnx")  # Netron shows the file's name
    # The probe the notebook's script reads, readable cross-origin (direct URL from the notebook's origin).
    status, headers, body = get(server.port, f"/{server.token}/course-probe")
    assert status == 200 and server.token in body.decode() and headers["access-control-allow-origin"] == "*"
    status, headers, _ = get(server.port, f"/{server.token}/course-probe", method="OPTIONS")
    assert status == 204 and headers["access-control-allow-private-network"] == "true"


@pytest.mark.filterwarnings("ignore:The onnxtxt format is experimental:UserWarning")
@pytest.mark.parametrize("suffix", [".onnxtxt", ".textproto", ".json"])
def test_text_forms_are_served_as_binary_onnx(live: None, tmp_path: Path, suffix: str) -> None:
    model = make_model(scale=5.0)
    path = tmp_path / f"tiny{suffix}"
    onnx.save(model, str(path), format=suffix.lstrip("."))
    assert path.read_bytes() != model.SerializeToString()  # really a text form
    view = show_netron(path)
    assert view.model_path is not None and view.model_path.endswith("/tiny.onnx")  # Netron picks its parser by name
    server = get_server()
    status, _, body = get(server.port, f"/{server.token}/{view.model_path}")
    assert status == 200
    served = onnx.ModelProto()
    served.ParseFromString(body)  # binary protobuf, the model the file holds
    assert served == onnx.load(str(path), format=suffix.lstrip("."))
    assert numpy_helper.to_array(served.graph.initializer[0]).tolist() == [[5.0, 5.0], [5.0, 5.0]]
    assert view.summary == model_summary(model)


def test_old_models_are_dropped_beyond_the_byte_limit() -> None:
    datas = [make_model(scale=float(i)).SerializeToString() for i in range(4)]
    size = len(datas[0])
    assert all(len(d) == size for d in datas)
    server = netron.NetronServer(max_bytes=2 * size + size // 2, max_models=10)  # room for two models
    try:
        paths = [server.register(datas[0], "a.onnx"), server.register(datas[1], "b.onnx")]
        assert server.model_count() == 2 and server.model_bytes_held() == 2 * size
        assert server.register(datas[0], "a.onnx") == paths[0]  # re-used, and now the most recent
        paths.append(server.register(datas[2], "c.onnx"))  # evicts b, the least recently registered
        assert server.model_count() == 2 and server.model_bytes_held() == 2 * size
        served = {name: get(server.port, f"/{server.token}/{path}")[0] for name, path in zip("abc", paths, strict=True)}
        assert served == {"a": 200, "b": 404, "c": 200}
        with pytest.raises(ValueError, match="exceeds"):
            server.register(b"\x00" * (server.max_bytes + 1), "huge.onnx")
        assert server.model_count() == 2  # a refused model evicts nothing
    finally:
        server.stop()


def test_default_limits_suit_a_binder_session(live: None, tiny_model_file: Path) -> None:
    show_netron(tiny_model_file)
    server = get_server()
    assert server.max_bytes <= 256 << 20 and server.max_models <= 16  # Binder: ~2 GB for the whole session


def test_model_too_big_for_the_server_gets_the_picture_and_a_way_out(
    live: None, tiny_model_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(netron_server, "MAX_BYTES", 64)  # the tiny model (~120 bytes) plays a huge one
    view = show_netron(tiny_model_file)
    assert view.url is None and view.mode == "static"
    assert netron_server._server is None  # checked before anything is read or served
    assert view.note is not None and "\n" not in view.note
    assert "too big for the embedded Netron view" in view.note and f"`netron {tiny_model_file}`" in view.note
    page = view._repr_mimebundle_()["text/html"]
    assert html.escape(view.note) in page and static_html(tiny_model_file) in page and "<script" not in page
    assert view._repr_mimebundle_()["text/plain"] == model_summary(tiny_model_file)
    # Without a file, the note says how to get one.
    note = show_netron(make_model()).note
    assert note is not None and "onnx.save(model, 'model.onnx')" in note and "`netron model.onnx`" in note


def test_external_weights_are_served_inside_one_file(live: None, tmp_path: Path) -> None:
    path = tmp_path / "ext.onnx"
    onnx.save(make_model(scale=3.0), str(path), save_as_external_data=True, location="ext.onnx.data", size_threshold=0)
    view = show_netron(path)
    server = get_server()
    status, _, body = get(server.port, f"/{server.token}/{view.model_path}")
    assert status == 200
    served = onnx.load_from_string(body)
    weight = served.graph.initializer[0]
    assert weight.data_location == onnx.TensorProto.DEFAULT
    assert numpy_helper.to_array(weight).tolist() == [[3.0, 3.0], [3.0, 3.0]]


def test_hostile_paths_get_404(live: None, tiny_model_file: Path) -> None:
    view = show_netron(tiny_model_file)
    server = get_server()
    t, m = server.token, view.model_path.split("/")[1]
    hostile = [
        "/",
        "/index.html",
        "/view.js",
        f"/{t}",
        f"/{t}x/",
        f"/{t[:-1]}/",
        f"/{secrets_like(t)}/index.html",
        f"/{t}/../{t}/index.html",
        f"/{t}/..",
        f"/{t}/../netron/server.py",
        f"/{t}/server.py",
        f"/{t}/__init__.py",
        f"/{t}/__pycache__/",
        f"/{t}/%2e%2e/%2e%2e/etc/passwd",
        f"/{t}/..%2f..%2fetc%2fpasswd",
        f"/{t}/%2Fetc%2Fpasswd",
        f"/{t}//etc/passwd",
        f"/{t}/\\..\\server.py",
        f"/{t}/models/",
        f"/{t}/models/{m}",
        f"/{t}/models/{m}/",
        f"/{t}/models/{m}/other.onnx",
        f"/{t}/models/{m}/../../server.py",
        f"/{t}/models/../server.py",
        f"/{t}/models/{m}/tiny.onnx/..",
        f"/{t}/view.js/",
        f"/{t}/index.html/../server.py",
        "/etc/passwd",
        "//etc/passwd",
        "http://127.0.0.1/etc/passwd",
    ]
    secret = (netron_server._netron_dir() / "server.py").read_bytes()[:200]
    for path in hostile:
        status, _, body = get(server.port, path)
        assert status == 404, path
        assert secret not in body and b"root:" not in body and b"<a href" not in body, path


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "TRACE", "PROPFIND", "CONNECT", "BREW"])
def test_other_methods_get_a_plain_405(live: None, tiny_model_file: Path, method: str) -> None:
    view = show_netron(tiny_model_file)
    server = get_server()
    for path in (f"/{server.token}/", f"/{server.token}/{view.model_path}", "/etc/passwd"):
        status, headers, body = get(server.port, path, {"Content-Length": "5"}, method=method, body=b"x=..%")
        assert status == 405, (method, path)
        assert body == b"method not allowed\n", (method, path)  # no HTML page echoing the request
        assert headers["allow"] == "GET, HEAD, OPTIONS"
        assert headers["content-type"] == "text/plain; charset=utf-8"
        assert headers["connection"] == "close"  # the unread body cannot be taken for the next request
    # The server still serves after all that.
    assert get(server.port, f"/{server.token}/{view.model_path}")[0] == 200


def test_malformed_requests_get_plain_errors(live: None) -> None:
    server = get_server()
    status, headers, body = get(server.port, f"/{server.token}/" + "a" * 70_000)
    assert status == 414 and body == b"request-uri too long\n"
    assert headers["content-type"] == "text/plain; charset=utf-8"
    for request, answer in ((b"GET /<script>x y HTTP/1.1", b"400 "), (b"GET /<script>x HTTP/9.9", b"")):
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
            sock.sendall(request + b"\r\n\r\n")
            reply = sock.recv(4096)
        # (http.server answers an unknown HTTP version without a status line, as HTTP/0.9 would.)
        assert answer in reply.split(b"\r\n")[0], reply[:60]
        assert reply.endswith(b"\n") and b"<" not in reply, reply  # plain text, the request not echoed


def secrets_like(token: str) -> str:
    """Another token of the same shape (a guess)."""
    return token[::-1]


def test_requests_are_not_logged(live: None, tiny_model_file: Path, capfd: pytest.CaptureFixture[str]) -> None:
    view = show_netron(tiny_model_file)
    capfd.readouterr()
    get(view.port, f"{view.page_path}course-probe")  # type: ignore[arg-type]
    get(view.port, "/nothing-here")  # type: ignore[arg-type]
    out, err = capfd.readouterr()
    assert out == "" and err == ""


def test_aborted_downloads_are_silent(live: None, tiny_model_file: Path, capfd: pytest.CaptureFixture[str]) -> None:
    server = get_server()
    capfd.readouterr()
    for _ in range(3):
        # Ask for Netron's biggest file uncompressed and hang up after the headers: the server's write fails.
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
            sock.sendall(f"GET /{server.token}/onnx-metadata.json HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            sock.recv(1024)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")  # RST
    time.sleep(0.5)
    status, _, _ = get(server.port, f"/{server.token}/course-probe")
    assert status == 200  # still serving
    out, err = capfd.readouterr()
    assert out == "" and err == ""


def _refuses(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(2)
        return sock.connect_ex(("127.0.0.1", port)) != 0


def test_stop_server_frees_the_port(live: None, tiny_model_file: Path) -> None:
    port = show_netron(tiny_model_file).port
    assert port is not None and not _refuses(port)
    old = get_server()
    stop_server()
    assert _refuses(port)
    # A later call starts a fresh server.
    again = show_netron(tiny_model_file).port
    assert get_server() is not old and again is not None and not _refuses(again)


def test_server_stops_when_the_interpreter_exits(tiny_model_file: Path) -> None:
    # atexit runs handlers last-in first-out: one registered before importing course_utils.views.netron runs after
    # netron's own, and sees whether the port was closed by it (not merely by the process dying).
    script = textwrap.dedent(
        f"""
        import atexit, os, socket
        def after_netron():
            with socket.socket() as sock:
                print("closed" if sock.connect_ex(("127.0.0.1", port)) else "open", flush=True)
        atexit.register(after_netron)
        os.environ["COURSE_NETRON"] = "auto"
        from course_utils.views.netron import show_netron
        port = show_netron({str(tiny_model_file)!r}).port
        print(port, flush=True)
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""  # no logging noise
    port, state = done.stdout.split()
    assert state == "closed"
    assert _refuses(int(port))


# --------------------------------------------------------------------------------------- the page patch


def _netron_index() -> str:
    return (netron_server._netron_dir() / "index.html").read_text(encoding="utf-8")


def test_patch_fits_the_installed_netron() -> None:
    page = netron_server.patch_index_html(_netron_index())
    assert '<meta name="date"' not in page
    assert page.index("course-netron-config.js") < page.index('src="index.js"')


@pytest.mark.parametrize(
    ("doctor", "says"),
    [
        (lambda page: re.sub(r'<meta name="date"[^>]*>', "", page), 'no single <meta name="date">'),
        (lambda page: page.replace('<meta name="date"', '<meta name="build-date"'), 'no single <meta name="date">'),
        (lambda page: page.replace('src="index.js"', 'src="app.js"'), "index.js"),
        (
            lambda page: page.replace('type="text/javascript" src="index.js"', 'src="index.js" type="module"'),
            "index.js",
        ),
    ],
    ids=["date removed", "date renamed", "entry script renamed", "entry script rewritten"],
)
def test_patch_refuses_a_netron_page_it_does_not_know(doctor, says: str) -> None:
    doctored = doctor(_netron_index())
    assert doctored != _netron_index()
    with pytest.raises(netron_server.NetronPatchError, match=re.escape(says)):
        netron_server.patch_index_html(doctored)


def test_a_netron_the_patch_does_not_fit_leaves_the_picture_with_a_reason(
    live: None, tiny_model_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A copy of Netron's web files whose page lost its build date: serving it would bring back the expiry lock.
    fake = tmp_path / "netron"
    fake.mkdir()
    (fake / "index.html").write_text(re.sub(r'<meta name="date"[^>]*>', "", _netron_index()), encoding="utf-8")
    monkeypatch.setattr(netron_server, "_netron_dir", lambda: fake)
    view = show_netron(tiny_model_file)
    assert view.url is None and view.mode == "static" and netron_server._server is None
    assert view.note is not None and "Interactive view unavailable" in view.note and "pip install" not in view.note
    page = view._repr_mimebundle_()["text/html"]
    assert "<script" not in page and static_html(tiny_model_file) in page
