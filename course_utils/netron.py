"""Netron's interactive graph view inside a notebook output, wherever the notebook runs.

Usage::

    from course_utils.netron import show_netron

    show_netron("artifacts/02/resnet18.onnx")  # a path, an onnx.ModelProto, or the bytes of a .onnx file
    show_netron(model, height=700)  # taller view (pixels, default 500)
    show_netron(model, max_nodes=120)  # draw up to 120 nodes in the static picture before summarising (default 60)
    view = show_netron(model)  # a NetronView: display it, or read view.summary, view.url, view.static_html

Lessons need nothing else. ``stop_server()`` stops the kernel's Netron server early (it also stops by itself
when the kernel exits); ``netron_mode()`` tells which mode is in force. The static picture alone is in
:mod:`course_utils.graph_view` (``model_summary``, ``render_svg``, ``static_html``).

:func:`show_netron` returns a :class:`NetronView`. Displayed in a notebook it shows

* **a static picture first**: an SVG of the graph (op types, edges, inputs/outputs with shapes) and a short
  summary, drawn in Python by :mod:`course_utils.graph_view`. It needs no server and no JavaScript, so it is
  what readers of the notebook on GitHub, nbviewer or an exported HTML page see;
* **then the interactive Netron view**, swapped in by a small script once it finds a URL the browser can
  reach: ``<base_url>proxy/<port>/…`` through jupyter-server-proxy (JupyterHub, Binder, any user prefix),
  else ``http://127.0.0.1:<port>/…`` when the page itself is local (JupyterLab on a laptop, VS Code).
  If neither answers (or the notebook is untrusted, so scripts do not run), the static picture stays.

Its ``text/plain`` part is the deterministic summary, so nbval compares it.

**Static mode.** With the environment variable ``COURSE_NETRON=static`` (set for every notebook under test and
when notebooks are re-executed, see ``course_utils/_notebook_env.py``) the output is only the static picture:
no server starts, no script, no random ids, byte-identical on every run. ``COURSE_NETRON=auto`` (or unset) is
the interactive behaviour above.

**The server.** One Netron server per kernel process, started on first use: bound to 127.0.0.1 only (never
0.0.0.0), on a free port the OS picks atomically (port 0), in a daemon thread, shut down at interpreter exit
and reused by every later call, so re-running a cell starts nothing new. It serves Netron's own web files
(from the installed ``netron`` package, untouched) and the models registered with it, all under a random
per-server token: ``/<server-token>/`` is Netron, ``/<server-token>/models/<model-token>/<name>.onnx`` a model.
Anything else is a 404: no directory listing, no file system path reaches it (paths are looked up in a fixed
table, never joined onto a folder), which matters on a hub where users share one loopback interface. Only
GET and HEAD read (OPTIONS answers the probe's preflight); any other method gets a plain ``405``.
Registering the same model again reuses its entry. The server keeps the most recent models only: at most 16,
and at most 256 MiB of model bytes together (a Binder session has about 2 GB of memory in all); older ones are
dropped and their views fall back to the picture. A model bigger than that alone is not served: its view is the
static picture with one line saying how to open it in Netron outside the notebook (``netron model.onnx``).

Models are served as binary protobuf under a ``.onnx`` name, which is what Netron reads: a ``.onnx`` file as is,
text forms (``.onnxtxt``, ``.textproto``, ``.json``) and models with external weights re-serialised into one file.

The Netron page is patched as it is served: the cookie-consent prompt is answered (and Netron's cookies are kept
off the notebook's origin), analytics are switched off and the page may contact only its own server
(``connect-src 'self'``), and its build date is removed, so the 180-day "please update" lock never fires.
Request logging is silent.

Bad input raises the course's one-line errors from :func:`course_utils.modelio.load_model`:
``ModelFileNotFoundError`` (no such file), ``NotAnOnnxModelError`` (not ONNX), ``ExternalDataMissingError``
(weights file missing beside the model).
"""

from __future__ import annotations

import atexit
import gzip
import hashlib
import html
import json
import os
import re
import secrets
import shlex
import threading
from collections import OrderedDict
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

import onnx

from .graph_view import DEFAULT_MAX_NODES, _static_html, _summary_lines
from .modelio import ModelSource, external_data_files, load_model, model_bytes, require_embedded_weights
from .paths import relative_to_repo

__all__ = ["MODE_ENV", "NetronServer", "NetronView", "get_server", "netron_mode", "show_netron", "stop_server"]

MODE_ENV = "COURSE_NETRON"
"""Environment variable: ``static`` for the server-less picture only (CI, re-executed notebooks), ``auto``
(default) for the interactive view with the picture as fallback."""

_MODES = ("auto", "static")
# Models kept registered (and their total size); older ones are dropped, their views fall back to the picture.
# Binder gives a whole session about 2 GB, and the kernel also holds the models themselves, sessions, data...
_MAX_MODELS = 16
_MAX_BYTES = 256 << 20
_PROBE = "course-probe"
_CONFIG_JS = "course-netron-config.js"

# Runs in Netron's page before Netron itself (the page's CSP allows only same-origin scripts, hence a file).
_CONFIG_SCRIPT = """\
// Served by course_utils.netron: prepare Netron for use inside a notebook output.
(function () {
  // Netron asks for cookie consent until it finds a 'consent' cookie; on 127.0.0.1 or behind a hub proxy it
  // cannot keep one (or would write it onto the notebook's own origin). Answer 'yes' and drop its cookie writes.
  try {
    Object.defineProperty(document, "cookie", {
      configurable: true,
      get: function () { return "consent=1"; },
      set: function () {}
    });
  } catch (e) {}
  // No usage analytics: Netron reports through navigator.sendBeacon (the CSP blocks it too).
  try {
    Object.defineProperty(navigator, "sendBeacon", { configurable: true, value: function () { return true; } });
  } catch (e) {}
})();
"""

_CSP = "connect-src 'self' data: blob:; img-src 'self' data: blob:; frame-ancestors *"


def netron_mode() -> str:
    """The current mode from ``COURSE_NETRON``: ``"static"`` or ``"auto"`` (unset or empty means ``"auto"``)."""
    mode = os.environ.get(MODE_ENV, "").strip().lower() or "auto"
    if mode not in _MODES:
        raise ValueError(f"{MODE_ENV}={mode!r} is not a valid mode: use 'static' (picture only) or 'auto' (default).")
    return mode


# --------------------------------------------------------------------------------------------- the server


def _netron_dir() -> Path:
    import netron  # imported lazily: static mode never needs it

    return Path(netron.__file__).resolve().parent


_CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".json": "application/json; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".svg": "image/svg+xml",
}


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True  # a download in progress never holds up the kernel's exit

    def handle_error(self, request: object, client_address: object) -> None:
        # A browser that closes a tab mid-download breaks the pipe; socketserver would print a traceback to
        # stderr, which ipykernel shows in whatever cell runs next. Nothing here needs the learner's attention.
        pass


class NetronServer:
    """Netron's web app and registered models, served on 127.0.0.1 under an unguessable token.

    Use :func:`get_server` for the shared per-process instance; create one directly only in tests.
    It keeps at most ``max_models`` models and ``max_bytes`` bytes of them (defaults: 16 and 256 MiB), dropping
    the oldest first. Attributes: ``token`` (the secret first path segment), ``port``, ``max_bytes``, ``max_models``.
    """

    def __init__(self, *, max_bytes: int | None = None, max_models: int | None = None) -> None:
        self.token = secrets.token_urlsafe(18)
        self.max_bytes: int = _MAX_BYTES if max_bytes is None else max_bytes
        self.max_models: int = _MAX_MODELS if max_models is None else max_models
        self._lock = threading.Lock()
        self._models: OrderedDict[str, tuple[str, bytes]] = OrderedDict()  # model token -> (file name, bytes)
        self._total = 0
        self._by_digest: dict[str, str] = {}
        self._gzip_cache: dict[str, bytes] = {}
        root = _netron_dir()
        # A fixed table of Netron's files: request paths are looked up here, never joined onto a folder.
        self._files: dict[str, Path] = {
            p.name: p for p in sorted(root.iterdir()) if p.is_file() and p.suffix in _CONTENT_TYPES
        }
        if "index.html" not in self._files:
            raise RuntimeError(f"Netron's web files are missing from {root}: reinstall it with `pip install netron`.")
        self._httpd = _QuietServer(("127.0.0.1", 0), _make_handler(self))
        self.port: int = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="course-netron", daemon=True)
        self._thread.start()

    # -- models

    def register(self, data: bytes, name: str = "model.onnx") -> str:
        """Serve ``data`` (binary ONNX) and return its path relative to the Netron page: ``models/<token>/<name>``.

        ``name`` is the file name Netron shows; it always ends in ``.onnx``. The same bytes registered twice get
        the same path (re-running a cell leaks nothing). The oldest models are dropped to keep within
        ``max_models`` and ``max_bytes``; ``data`` bigger than ``max_bytes`` alone raises ``ValueError``.
        """
        if len(data) > self.max_bytes:
            raise ValueError(f"model of {len(data):,} bytes exceeds this server's limit of {self.max_bytes:,} bytes")
        safe = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(name).name).strip("._") or "model"
        if not safe.endswith(".onnx"):
            safe += ".onnx"
        digest = hashlib.sha256(data).hexdigest()
        with self._lock:
            token = self._by_digest.get(digest)
            if token is not None and self._models[token][0] == safe:
                self._models.move_to_end(token)
            else:
                token = secrets.token_urlsafe(18)
                self._models[token] = (safe, data)
                self._total += len(data)
                self._by_digest[digest] = token
                while len(self._models) > 1 and (len(self._models) > self.max_models or self._total > self.max_bytes):
                    old, (_, old_data) = self._models.popitem(last=False)
                    self._total -= len(old_data)
                    self._by_digest = {d: t for d, t in self._by_digest.items() if t != old}
        return f"models/{token}/{safe}"

    def model_count(self) -> int:
        """How many models the server holds now (at most ``max_models``)."""
        with self._lock:
            return len(self._models)

    def model_bytes_held(self) -> int:
        """Total size in bytes of the models the server holds now (at most ``max_bytes``)."""
        with self._lock:
            return self._total

    # -- URLs

    @property
    def page_path(self) -> str:
        """Path of Netron's page on this server (append ``?url=<model path>``)."""
        return f"/{self.token}/"

    def direct_url(self, model_path: str) -> str:
        """Loopback URL of Netron showing ``model_path`` (from :meth:`register`); works from this machine only."""
        return f"http://127.0.0.1:{self.port}{self.page_path}?url={model_path}"

    # -- lifecycle

    @property
    def running(self) -> bool:
        """Whether the server still answers requests (False after :meth:`stop`)."""
        return self._thread.is_alive()

    def stop(self) -> None:
        """Stop serving and free the port (idempotent)."""
        if self._thread.is_alive():
            self._httpd.shutdown()
            self._thread.join(timeout=5)
        self._httpd.server_close()

    # -- request handling (called from the handler)

    def _index_html(self) -> bytes:
        text = self._files["index.html"].read_text(encoding="utf-8")
        # Netron refuses to open models 180 days after its build date. Without a date it takes the browser's
        # "now", which never expires and does not depend on the server's clock agreeing with the browser's.
        text = re.sub(r'<meta name="date" content="[^"]*">\n?', "", text)
        config = f'<script type="text/javascript" src="{_CONFIG_JS}"></script>\n'
        marker = '<script type="text/javascript" src="index.js">'
        text = (
            text.replace(marker, config + marker, 1) if marker in text else text.replace("</head>", config + "</head>")
        )
        return text.encode("utf-8")

    def _resolve(self, path: str) -> tuple[bytes, str, bool] | None:
        """(body, content type, cacheable) for a request path, or None for 404."""
        prefix = self.page_path
        if not path.startswith(prefix):
            return None
        rest = path[len(prefix) :]
        if rest in ("", "index.html"):
            return self._index_html(), _CONTENT_TYPES[".html"], False
        if rest == _PROBE:
            return f"course-netron {self.token}".encode(), "text/plain; charset=utf-8", False
        if rest == _CONFIG_JS:
            return _CONFIG_SCRIPT.encode(), _CONTENT_TYPES[".js"], True
        if rest.startswith("models/"):
            parts = rest.split("/")
            if len(parts) == 3:
                with self._lock:
                    entry = self._models.get(parts[1])
                if entry is not None and entry[0] == parts[2]:
                    return entry[1], "application/octet-stream", False
            return None
        file = self._files.get(rest)
        if file is None or rest == "index.html":
            return None
        return file.read_bytes(), _CONTENT_TYPES[file.suffix], True

    def _gzipped(self, key: str, body: bytes) -> bytes:
        with self._lock:
            cached = self._gzip_cache.get(key)
        if cached is None:
            cached = gzip.compress(body, compresslevel=6, mtime=0)
            with self._lock:
                self._gzip_cache[key] = cached
        return cached


def _make_handler(server: NetronServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "course-netron"
        sys_version = ""
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            # Keep the notebook quiet: http.server logs every request to stderr by default.
            pass

        def _send(self, status: int, body: bytes, content_type: str, extra: dict[str, str] | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("X-Content-Type-Options", "nosniff")
            self.send_header("Content-Security-Policy", _CSP)
            self.send_header("Referrer-Policy", "no-referrer")
            for key, value in (extra or {}).items():
                self.send_header(key, value)
            self.end_headers()
            if getattr(self, "command", None) != "HEAD":
                self.wfile.write(body)

        def _not_found(self) -> None:
            self._send(HTTPStatus.NOT_FOUND, b"not found\n", "text/plain; charset=utf-8", {"Cache-Control": "no-store"})

        def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
            # http.server answers methods it has no do_* for with 501 and malformed requests with 400/414, each
            # with an HTML page echoing the request; a read-only server says 405 and nothing more.
            extra = {"Cache-Control": "no-store", "Connection": "close"}
            if code == HTTPStatus.NOT_IMPLEMENTED:
                code = HTTPStatus.METHOD_NOT_ALLOWED
                extra["Allow"] = "GET, HEAD, OPTIONS"
            status = HTTPStatus(code)
            # The request's body (if any) is never read, so the connection cannot carry another request.
            self.close_connection = True
            self._send(status, f"{status.phrase.lower()}\n".encode(), "text/plain; charset=utf-8", extra)

        def do_GET(self) -> None:
            raw = urlsplit(self.path).path
            path = unquote(raw)
            # Decoded and raw paths must agree: an encoded '/' or '..' is never a name in the table anyway,
            # but refusing them outright keeps the rule simple to check.
            if path != raw or "\\" in path or "/../" in path + "/" or "//" in path:
                self._not_found()
                return
            found = server._resolve(path)
            if found is None:
                self._not_found()
                return
            body, content_type, cacheable = found
            extra = {"Cache-Control": "private, max-age=3600" if cacheable else "no-store"}
            if path.endswith("/" + _PROBE):
                # The notebook page (another origin when the URL is direct) reads this to choose a URL.
                extra["Access-Control-Allow-Origin"] = "*"
            accepts_gzip = "gzip" in self.headers.get("Accept-Encoding", "")
            if cacheable and accepts_gzip and len(body) > 1024:
                body = server._gzipped(path, body)
                extra["Content-Encoding"] = "gzip"
                extra["Vary"] = "Accept-Encoding"
            self._send(HTTPStatus.OK, body, content_type, extra)

        def do_HEAD(self) -> None:
            self.do_GET()

        def do_OPTIONS(self) -> None:
            # CORS / Private Network Access preflight, answered for the probe only.
            if urlsplit(self.path).path == server.page_path + _PROBE:
                self._send(
                    HTTPStatus.NO_CONTENT,
                    b"",
                    "text/plain",
                    {
                        "Access-Control-Allow-Origin": "*",
                        "Access-Control-Allow-Methods": "GET",
                        "Access-Control-Allow-Private-Network": "true",
                    },
                )
            else:
                self._not_found()

    return Handler


_server: NetronServer | None = None
_server_lock = threading.Lock()


def get_server() -> NetronServer:
    """The kernel's Netron server, started on first use and reused afterwards."""
    global _server
    with _server_lock:
        if _server is None or not _server.running:
            _server = NetronServer()
        return _server


def stop_server() -> None:
    """Stop the kernel's Netron server if one runs (done automatically at interpreter exit)."""
    global _server
    with _server_lock:
        if _server is not None:
            _server.stop()
            _server = None


atexit.register(stop_server)


# --------------------------------------------------------------------------------------------- the view

# Chooses a reachable URL in the browser and swaps the live view in; the static picture stays otherwise.
_LIVE_SCRIPT = """\
(function () {
  var cfg = __CONFIG__;
  var script = document.currentScript;
  function root() {
    var el = script;
    while (el && !(el.classList && el.classList.contains("course-netron"))) { el = el.parentElement; }
    return el || document.getElementById(cfg.id);
  }
  function jupyterBase() {
    try {
      var data = document.getElementById("jupyter-config-data");
      if (data) { var b = JSON.parse(data.textContent).baseUrl; if (b) { return b; } }
    } catch (e) {}
    if (document.body && document.body.dataset && document.body.dataset.baseUrl) { return document.body.dataset.baseUrl; }
    var m = window.location.pathname.match(/^(.*?\\/)(lab|notebooks|tree|doc|edit|voila|retro)(\\/|$)/);
    return m ? m[1] : null;
  }
  function candidates() {
    var list = [];
    var web = /^https?:$/.test(window.location.protocol);
    var base = web ? jupyterBase() : null;
    if (base) {
      if (base.charAt(base.length - 1) !== "/") { base += "/"; }
      list.push({ kind: "proxy", root: base + "proxy/" + cfg.port + "/" + cfg.token + "/" });
    }
    var host = window.location.hostname;
    if (!web || /^(localhost|127(\\.\\d+){3}|\\[::1\\]|::1)$/.test(host)) {
      list.push({ kind: "direct", root: "http://127.0.0.1:" + cfg.port + "/" + cfg.token + "/" });
    }
    return list;
  }
  function probe(c) {
    var ctrl = window.AbortController ? new AbortController() : null;
    var timer = setTimeout(function () { if (ctrl) { ctrl.abort(); } }, cfg.timeout);
    return fetch(c.root + "course-probe", { cache: "no-store", credentials: "same-origin", signal: ctrl ? ctrl.signal : undefined })
      .then(function (r) { return r.ok ? r.text() : ""; })
      .then(function (t) { clearTimeout(timer); return t.indexOf(cfg.token) >= 0 ? c : null; })
      .catch(function () { clearTimeout(timer); return null; });
  }
  function show(el, c) {
    var src = c.root + "?url=" + cfg.model;
    var live = el.querySelector(".course-netron-live");
    var frame = document.createElement("iframe");
    frame.src = src;
    frame.title = "Netron: " + cfg.name;
    frame.setAttribute("data-course-netron", c.kind);
    frame.style.cssText = "width:100%;height:" + cfg.height + "px;border:1px solid #ddd;border-radius:4px;display:block";
    var bar = document.createElement("div");
    bar.style.cssText = "font:12px sans-serif;color:#666;margin:2px 0 4px 0";
    var link = document.createElement("a");
    link.href = src; link.target = "_blank"; link.rel = "noopener";
    link.textContent = "open in a new tab";
    bar.appendChild(document.createTextNode("Netron (" + c.kind + ") · " + cfg.name + " · "));
    bar.appendChild(link);
    live.appendChild(bar);
    live.appendChild(frame);
    live.style.display = "block";
    var fallback = el.querySelector(".course-netron-fallback");
    if (fallback) { fallback.style.display = "none"; }
    el.setAttribute("data-course-netron-url", src);
  }
  function start(tries) {
    var el = root();
    if (!el) { if (tries < 50) { setTimeout(function () { start(tries + 1); }, 100); } return; }
    if (el.getAttribute("data-course-netron-started")) { return; }
    el.setAttribute("data-course-netron-started", "1");
    var list = candidates();
    var pending = list.map(probe);
    var i = 0;
    (function next() {
      if (i >= pending.length) { el.setAttribute("data-course-netron-url", "none"); return; }
      pending[i++].then(function (found) { if (found) { show(el, found); } else { next(); } });
    })();
  }
  start(0);
})();
"""


class NetronView:
    """What :func:`show_netron` returns: displays as the live Netron view with a static fallback.

    Attributes: ``summary`` (the deterministic text summary, also the ``text/plain`` output), ``static_html``
    (the server-less picture), ``mode`` (``"static"`` or ``"auto"``), ``height``, ``note`` (the one line shown
    above the picture when the interactive view is unavailable, else ``None``); in auto mode also ``port``,
    ``page_path`` (``/<server-token>/``), ``model_path`` (``models/<token>/<name>.onnx``, relative to the page)
    and ``url`` (the direct loopback URL); these are ``None`` in static mode.
    """

    def __init__(
        self,
        summary: str,
        static_html: str,
        *,
        mode: str,
        height: int,
        name: str,
        server: NetronServer | None = None,
        model_path: str | None = None,
        note: str | None = None,
    ) -> None:
        self.summary = summary
        self.note = note
        if note:
            static_html = f'<div style="color:#7a5a00;font-size:12px">{html.escape(note)}</div>{static_html}'
        self.static_html = static_html
        self.mode = mode
        self.height = height
        self.name = name
        self.port: int | None = server.port if server else None
        self.page_path: str | None = server.page_path if server else None
        self.model_path = model_path
        self.url: str | None = server.direct_url(model_path) if server and model_path else None
        self._token = server.token if server else None

    def __repr__(self) -> str:
        return self.summary

    def html(self) -> str:
        """The ``text/html`` output: the static picture alone (static mode) or with the live-view script."""
        if self.mode == "static" or self._token is None:
            return self.static_html
        element_id = "course-netron-" + secrets.token_hex(6)
        config = {
            "id": element_id,
            "port": self.port,
            "token": self._token,
            "model": self.model_path,
            "name": self.name,
            "height": self.height,
            "timeout": 1500,
        }
        # json.dumps output is safe inside <script> once '<' cannot start a closing tag.
        config_js = json.dumps(config).replace("<", "\\u003c")
        return (
            f'<div class="course-netron" id="{element_id}">'
            '<div class="course-netron-live" style="display:none"></div>'
            f'<div class="course-netron-fallback">{self.static_html}</div>'
            f"<script>{_LIVE_SCRIPT.replace('__CONFIG__', config_js)}</script>"
            "</div>"
        )

    def _repr_mimebundle_(self, include: object = None, exclude: object = None) -> dict[str, str]:
        return {"text/plain": self.summary, "text/html": self.html()}


def _display_name(source: ModelSource, model: onnx.ModelProto) -> str:
    if isinstance(source, str | os.PathLike):
        return Path(source).name
    return (model.graph.name or "model") + ".onnx"


def _is_binary_onnx_file(source: ModelSource) -> bool:
    """A path whose bytes can be served as they are: a ``.onnx`` file (binary protobuf) with no external data."""
    return isinstance(source, str | os.PathLike) and Path(source).suffix.lower() == ".onnx"


def _size_estimate(source: ModelSource, model: onnx.ModelProto) -> int:
    """Bytes Netron would receive, known before reading any weights into memory."""
    if isinstance(source, bytes | bytearray):
        return len(source)
    if isinstance(source, str | os.PathLike):
        path = Path(source)
        # A text form is larger than its binary; close enough for a memory limit.
        return path.stat().st_size + sum((path.parent / name).stat().st_size for name in external_data_files(model))
    return model.ByteSize()


def _too_big_note(source: ModelSource, size: int, limit: int) -> str:
    mib = 1 << 20
    if isinstance(source, str | os.PathLike):
        how = f"run `netron {shlex.quote(relative_to_repo(source))}` in a terminal or open the file in Netron desktop"
    else:
        how = "save it with onnx.save(model, 'model.onnx') and run `netron model.onnx` in a terminal (or use Netron desktop)"
    return (
        f"This model ({size / mib:,.0f} MiB) is too big for the embedded Netron view (limit {limit / mib:,.0f} MiB, "
        f"to spare the notebook's memory), so only the static picture is shown: {how}."
    )


def show_netron(model_or_path: ModelSource, *, height: int = 500, max_nodes: int = DEFAULT_MAX_NODES) -> NetronView:
    """Show a model in Netron inside the notebook (a path, an ``onnx.ModelProto``, or ``.onnx`` bytes).

    Returns a :class:`NetronView`; as a cell's last expression it displays the interactive view with the static
    picture as fallback, or only the picture when ``COURSE_NETRON=static``. ``height`` is the view's height in
    pixels; graphs with more than ``max_nodes`` nodes are summarised in the static picture (Netron shows all).

    Text forms of a model (``.onnxtxt``, ``.textproto``, ``.json``) are shown too: Netron receives them as binary
    ``.onnx``. A model bigger than the server's memory limit (256 MiB) gets the picture and one line saying how to
    open it in Netron outside the notebook.

    Raises ``ModelFileNotFoundError``, ``NotAnOnnxModelError`` or ``ExternalDataMissingError`` (one line each)
    for a missing file, a file that is not ONNX, or external weights missing beside the model (or not loaded into
    a ModelProto or bytes given without their folder).
    """
    if not isinstance(height, int) or isinstance(height, bool) or not 100 <= height <= 5000:
        raise ValueError(f"height must be a whole number of pixels between 100 and 5000, got {height!r}.")
    mode = netron_mode()
    # The picture needs the graph, not the weights: external data is checked for, but only loaded to serve it.
    model = load_model(model_or_path, load_external_data=False)
    # Same error in both modes: what nbval sees (static) is what the learner gets (auto).
    require_embedded_weights(model, model_or_path)
    name = _display_name(model_or_path, model)
    summary = _summary_lines(model)
    picture = _static_html(model, max_nodes=max_nodes, height=height)
    if mode == "static":
        return NetronView(summary, picture, mode=mode, height=height, name=name)
    size = _size_estimate(model_or_path, model)
    if size > _MAX_BYTES:
        # Checked before reading the weights: the kernel never holds a second copy of a huge model.
        note = _too_big_note(model_or_path, size, _MAX_BYTES)
        return NetronView(summary, picture, mode="static", height=height, name=name, note=note)
    try:
        server = get_server()
    except (ImportError, RuntimeError) as error:
        # Without Netron (or its web files) the learner still gets the picture, and one line saying why.
        note = f"Interactive view unavailable ({error}); install it with `pip install netron`."
        return NetronView(summary, picture, mode="static", height=height, name=name, note=note)
    if isinstance(model_or_path, bytes | bytearray):
        data = bytes(model_or_path)
    elif _is_binary_onnx_file(model_or_path) and not external_data_files(model):
        data = Path(model_or_path).read_bytes()  # the file as is: no re-serialisation of large weights
    else:
        # Netron reads binary protobuf: text forms are re-serialised, external weights folded into one file.
        data = model_bytes(model_or_path)
    try:
        model_path = server.register(data, Path(name).stem + ".onnx")
    except ValueError:  # bigger than the server's own limit (one started with a smaller max_bytes)
        note = _too_big_note(model_or_path, len(data), server.max_bytes)
        return NetronView(summary, picture, mode="static", height=height, name=name, note=note)
    return NetronView(summary, picture, mode=mode, height=height, name=name, server=server, model_path=model_path)
