"""The kernel's Netron server: Netron's web app and the models a notebook shows, on 127.0.0.1 only.

:func:`course_utils.views.netron.netron_view` starts it on first use; lessons never call this module directly.

One server per kernel process: bound to 127.0.0.1 only (never 0.0.0.0), on a free port the OS picks
atomically (port 0), in a daemon thread, shut down at interpreter exit and reused by every later call, so
re-running a cell starts nothing new. It serves Netron's own web files (from the installed ``netron`` package)
and the models registered with it, all under a random per-server token: ``/<server-token>/`` is Netron,
``/<server-token>/models/<model-token>/<name>.onnx`` a model. Other pages register with it too
(:meth:`NetronServer.register_page`: the web classifier page of lesson 10): ``/<server-token>/pages/<page-token>/``
followed by one of the names in that page's own fixed table, each page with its own Content-Security-Policy and
headers; the most recent :data:`MAX_PAGES` are kept. Anything else is a 404: no directory listing, no
file system path reaches it (paths are looked up in a fixed table, never joined onto a folder), which matters on
a hub where users share one loopback interface. Only GET and HEAD read (OPTIONS answers the probe's
preflight); any other method gets a plain ``405``. Registering the same model again reuses its entry. The
server keeps the most recent models only: at most :data:`MAX_MODELS`, and at most :data:`MAX_BYTES` of model
bytes together (a Binder session has about 2 GB of memory in all); older ones are dropped.

Netron's page is patched as it is served (:func:`patch_index_html`): the cookie-consent prompt is answered (and
Netron's cookies are kept off the notebook's origin) by ``js/netron-config.js``, analytics are switched off and
the page may contact only its own server (``connect-src 'self'``), and its build date is removed, so the
180-day "please update" lock never fires. The patch checks that every part of the page it edits is there: a
Netron release that changes them makes the server refuse to start (and its unit test fail) rather than bring
back the prompt, the analytics or the lock. Request logging is silent.
"""

from __future__ import annotations

import atexit
import gzip
import hashlib
import re
import secrets
import threading
from collections import OrderedDict
from collections.abc import Mapping
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import NamedTuple
from urllib.parse import unquote, urlsplit

from course_utils.errors import NetronPatchError  # their home; importable from here too

__all__ = [
    "MAX_BYTES",
    "MAX_MODELS",
    "MAX_PAGES",
    "PROBE",
    "NetronPatchError",
    "NetronServer",
    "get_server",
    "patch_index_html",
    "stop_server",
]

# Models kept registered (and their total size); older ones are dropped, their views fall back to the picture.
# Binder gives a whole session about 2 GB, and the kernel also holds the models themselves, sessions, data...
MAX_MODELS = 16
"""How many models the server keeps at most (the oldest is dropped first)."""
MAX_BYTES = 256 << 20
"""How many bytes of models the server keeps at most; a bigger model alone is not served."""
MAX_PAGES = 8
"""How many registered pages (:meth:`NetronServer.register_page`) the server keeps (the oldest is dropped first)."""
PROBE = "course-probe"
"""The path (under the server token) the notebook's script reads to find a URL that reaches the server."""
_CONFIG_JS = "course-netron-config.js"

_CSP = "connect-src 'self' data: blob:; img-src 'self' data: blob:; frame-ancestors *"

# What the patch edits in Netron's index.html; each must be found exactly as written here.
_DATE_META = re.compile(r'<meta name="date" content="[^"]*"\s*/?>\n?')
_NETRON_SCRIPT = '<script type="text/javascript" src="index.js">'


def _script(name: str) -> str:
    """The text of one of the package's JavaScript files (``course_utils/views/js/<name>``)."""
    return resources.files("course_utils.views").joinpath("js", name).read_text(encoding="utf-8")


def patch_index_html(text: str) -> str:
    """Netron's ``index.html`` ready for a notebook: build date removed, the course's config script loaded first.

    Netron refuses to open models 180 days after its build date; without a date it takes the browser's "now",
    which never expires and does not depend on the server's clock agreeing with the browser's. The config script
    (``js/netron-config.js``) must run before Netron's ``index.js`` to answer the consent prompt and stop the
    analytics. Raises :class:`NetronPatchError` when either part is missing, so a Netron release that moved them
    is caught by a test instead of silently showing the prompt, sending analytics or expiring.
    """
    if len(_DATE_META.findall(text)) != 1:
        raise NetronPatchError(
            'Netron\'s index.html has no single <meta name="date"> (its build date, which starts a 180-day expiry '
            "lock): this Netron release is not one course_utils.views.netron_server knows; update patch_index_html."
        )
    if text.count(_NETRON_SCRIPT) != 1:
        raise NetronPatchError(
            f"Netron's index.html does not load {_NETRON_SCRIPT!r} exactly once, so the course's config script "
            "(consent prompt, analytics) cannot run before Netron: update patch_index_html for this Netron release."
        )
    text = _DATE_META.sub("", text)
    config = f'<script type="text/javascript" src="{_CONFIG_JS}"></script>\n'
    return text.replace(_NETRON_SCRIPT, config + _NETRON_SCRIPT, 1)


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


class PageEntry(NamedTuple):
    """One file of a registered page: its bytes (or a file to read them from), content type, cacheable or not."""

    body: bytes | Path
    content_type: str
    cacheable: bool


class _Page(NamedTuple):
    files: dict[str, PageEntry]
    headers: dict[str, str]


class _Found(NamedTuple):
    body: bytes
    content_type: str
    cacheable: bool
    gzip_key: str
    headers: dict[str, str]


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
        self.max_bytes: int = MAX_BYTES if max_bytes is None else max_bytes
        self.max_models: int = MAX_MODELS if max_models is None else max_models
        self._lock = threading.Lock()
        self._models: OrderedDict[str, tuple[str, bytes]] = OrderedDict()  # model token -> (file name, bytes)
        self._total = 0
        self._by_digest: dict[str, str] = {}
        self._pages: OrderedDict[str, _Page] = OrderedDict()
        self._gzip_cache: dict[str, bytes] = {}
        root = _netron_dir()
        # A fixed table of Netron's files: request paths are looked up here, never joined onto a folder.
        self._files: dict[str, Path] = {
            p.name: p for p in sorted(root.iterdir()) if p.is_file() and p.suffix in _CONTENT_TYPES
        }
        if "index.html" not in self._files:
            raise RuntimeError(f"Netron's web files are missing from {root}: reinstall it with `pip install netron`.")
        # Patched once, before serving anything: a Netron release the patch does not fit raises here, and
        # netron_view falls back to the static picture instead of showing an unpatched Netron.
        self._index = patch_index_html(self._files["index.html"].read_text(encoding="utf-8")).encode("utf-8")
        self._config_js = _script("netron-config.js").encode("utf-8")
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

    def register_page(
        self, files: Mapping[str, PageEntry], *, csp: str, headers: Mapping[str, str] | None = None
    ) -> str:
        """Serve a page made of ``files`` (a fixed table: name -> :class:`PageEntry`; names are plain relative
        paths such as ``index.html`` or ``ort/ort.wasm.min.mjs``) and return its folder relative to the server's
        root: ``pages/<token>/``. Every response of the page carries ``csp`` as its Content-Security-Policy and
        ``headers`` (e.g. COOP/COEP). The oldest pages are dropped beyond :data:`MAX_PAGES`."""
        for name in files:
            parts = name.split("/")
            if not name or name.startswith("/") or any(p in ("", ".", "..") or "\\" in p for p in parts):
                raise ValueError(f"page file names are plain relative paths, got {name!r}")
        token = secrets.token_urlsafe(18)
        with self._lock:
            self._pages[token] = _Page(dict(files), {"Content-Security-Policy": csp, **(headers or {})})
            while len(self._pages) > MAX_PAGES:
                self._pages.popitem(last=False)
        return f"pages/{token}/"

    def page_count(self) -> int:
        """How many registered pages the server holds now (at most :data:`MAX_PAGES`)."""
        with self._lock:
            return len(self._pages)

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

    def _resolve(self, path: str) -> _Found | None:
        """What to answer for a request path (body, content type, cacheable, gzip cache key, extra headers), or
        None for 404."""
        prefix = self.page_path
        if not path.startswith(prefix):
            return None
        rest = path[len(prefix) :]
        if rest.startswith("pages/"):
            _, token, name = [*rest.split("/", 2), "", ""][:3]
            with self._lock:
                page = self._pages.get(token)
            entry = page.files.get(name or "index.html") if page is not None else None
            if page is None or entry is None:
                return None
            key = str(entry.body) if isinstance(entry.body, Path) else path
            body = entry.body.read_bytes() if isinstance(entry.body, Path) else entry.body
            return _Found(body, entry.content_type, entry.cacheable, key, page.headers)
        found = self._resolve_netron(rest)
        return None if found is None else _Found(found[0], found[1], found[2], path, {})

    def _resolve_netron(self, rest: str) -> tuple[bytes, str, bool] | None:
        """(body, content type, cacheable) of Netron's page, its files, the probe and the models."""
        if rest in ("", "index.html"):
            return self._index, _CONTENT_TYPES[".html"], False
        if rest == PROBE:
            return f"course-netron {self.token}".encode(), "text/plain; charset=utf-8", False
        if rest == _CONFIG_JS:
            return self._config_js, _CONTENT_TYPES[".js"], True
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
            extra = dict(extra or {})
            self.send_header("Content-Security-Policy", extra.pop("Content-Security-Policy", _CSP))
            self.send_header("Referrer-Policy", "no-referrer")
            for key, value in extra.items():
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
            body, content_type, cacheable, gzip_key, headers = found
            extra = {"Cache-Control": "private, max-age=3600" if cacheable else "no-store", **headers}
            if path.endswith("/" + PROBE):
                # The notebook page (another origin when the URL is direct) reads this to choose a URL.
                extra["Access-Control-Allow-Origin"] = "*"
            accepts_gzip = "gzip" in self.headers.get("Accept-Encoding", "")
            if cacheable and accepts_gzip and len(body) > 1024:
                body = server._gzipped(gzip_key, body)
                extra["Content-Encoding"] = "gzip"
                extra["Vary"] = "Accept-Encoding"
            self._send(HTTPStatus.OK, body, content_type, extra)

        def do_HEAD(self) -> None:
            self.do_GET()

        def do_OPTIONS(self) -> None:
            # CORS / Private Network Access preflight, answered for the probe only.
            if urlsplit(self.path).path == server.page_path + PROBE:
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
