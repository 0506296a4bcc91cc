"""A model server: one ONNX Runtime session behind FastAPI, run by uvicorn on 127.0.0.1, started and stopped from a
notebook or a test.

    from course_utils.deploy.server import serve_model
    with serve_model("digits.onnx", name="digits") as server:
        server.url                        # http://127.0.0.1:<free port>
        # GET  {url}/v1/models/digits           status: {"model_version_status": [{"version": "1", "state": ...}]}
        # GET  {url}/v1/models/digits/metadata  metadata: inputs, outputs (numpy type names), onnxruntime version
        # POST {url}/v1/models/digits:predict   {"inputs": {"x": [[...]]}} -> {"outputs": {"logits": [[...]]}}
        #      or, for a one-input model, the bytes of np.save(array) with content type application/x-npy

The URLs are TensorFlow Serving's REST API's (model status at ``/v1/models/<name>``, metadata at
``/v1/models/<name>/metadata``, ``:predict``), and ``:predict`` takes its columnar request ``{"inputs": {...}}``
and answers ``{"outputs": {...}}``, one entry per output, by name. Not TensorFlow Serving's: the metadata's contents
(ONNX types, not a SavedModel's signatures), the row format (``{"instances": [...]}``), versions and labels in the
URL. A bad request gets a 4xx status and ``{"error": "<one line: what is wrong and how to fix it>"}``, and the
server keeps serving: 400 for a body that is not JSON, lacks ``inputs``, misses or adds an input, has the wrong
shape, nulls or numbers of the wrong kind (or an ``.npy`` body that is not one array); 404 for another model name; 413 for a body over
``max_body_bytes``; 415 for a content type other than JSON or ``.npy``. Only a fault of the server itself is a 500.

Sessions: ``mode="shared"`` (default) makes one ``InferenceSession`` at start and calls its ``run`` from ``workers``
threads at once (``InferenceSession::Run()`` "is guaranteed to be thread-safe": ONNX Runtime pull request #19301;
the session holds the weights once). ``mode="per-request"`` makes a new session for every request: the pattern to
avoid, there to be measured against. Each session uses ``threads`` intra-op threads (1 by default: concurrency comes from the requests).

The server runs in a background thread with its own event loop and a thread pool of ``workers`` that runs the
sessions; :meth:`ModelServer.stop` (or leaving the ``with`` block) makes uvicorn finish, joins the thread and shuts
the pool down, so no thread of the server outlives it.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import socket
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Literal, Self

import numpy as np
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from course_utils.errors import ServerError, first_line
from course_utils.onnxfile.modelio import model_bytes
from course_utils.runtime.run import numpy_dtype
from course_utils.runtime.sessions import create_session, session_options

__all__ = ["MAX_BODY_BYTES", "NPY_TYPE", "AppServer", "ModelServer", "make_app", "serve_app", "serve_model"]

#: The largest request body accepted by default (bytes); a larger one gets 413.
MAX_BODY_BYTES = 1_000_000
#: The content type of a binary request: one array written with ``np.save`` (models with one input).
NPY_TYPE = "application/x-npy"
Mode = Literal["shared", "per-request"]
_START_TIMEOUT_S = 30.0


class _BadRequest(Exception):
    """A request the server refuses: its HTTP status and the one-line reason the client sees."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class _Signature:
    name: str
    dtype: np.dtype[Any]
    dims: tuple[int | str | None, ...]

    @property
    def text(self) -> str:
        dims = ", ".join("?" if d is None else str(d) for d in self.dims)
        return f"{self.dtype.name}[{dims}]"


def _signatures(values: list[Any]) -> list[_Signature]:
    found = []
    for value in values:
        dtype = numpy_dtype(value.type)
        if dtype is None:
            raise ServerError(f"input/output '{value.name}' has type {value.type}: the server handles tensors only")
        found.append(_Signature(value.name, dtype, tuple(value.shape)))
    return found


def _array(signature: _Signature, value: Any) -> np.ndarray:
    """The JSON value of one input as an array of the model's dtype, or a :class:`_BadRequest` saying why not."""
    name, want = signature.name, signature.text
    try:
        raw = np.asarray(value)
    except ValueError:
        raise _BadRequest(
            400, f"input '{name}' is a ragged list (rows of different lengths): send a rectangular {want} array"
        ) from None
    if raw.dtype.kind == "O" and any(v is None for v in raw.flat):
        raise _BadRequest(400, f"input '{name}' holds null (a missing value): send a number in every place of {want}")
    if raw.dtype.kind not in "biuf":
        raise _BadRequest(400, f"input '{name}' holds {_kind(raw)}, not numbers: send numbers for a {want} array")
    kind = signature.dtype.kind
    if kind in "iu" and raw.dtype.kind == "f" and not np.all(np.mod(raw, 1) == 0):
        raise _BadRequest(400, f"input '{name}' holds fractions but the model takes {want}: send whole numbers")
    if kind == "b" and raw.dtype.kind != "b":
        raise _BadRequest(400, f"input '{name}' holds numbers but the model takes {want}: send true/false")
    if raw.ndim != len(signature.dims) or any(
        isinstance(d, int) and d != n for d, n in zip(signature.dims, raw.shape, strict=False)
    ):
        raise _BadRequest(
            400,
            f"input '{name}' has shape {list(raw.shape)}, the model takes {want}: reshape it (named dims may be "
            "any size; a single example still needs its batch dimension)",
        )
    return raw.astype(signature.dtype, copy=False)


def _kind(raw: np.ndarray) -> str:
    return "strings" if raw.dtype.kind in "USO" else f"{raw.dtype.name} values"


class _Model:
    """The served model: its signatures and how to run it (shared session or one per request)."""

    def __init__(self, model: str | os.PathLike[str], name: str, mode: Mode, threads: int) -> None:
        if mode not in ("shared", "per-request"):
            raise ServerError(f"mode must be 'shared' or 'per-request', got {mode!r}")
        self.name, self.mode, self.threads = name, mode, threads
        self.sessions_created = 0
        self._count_lock = threading.Lock()
        self.bytes = model_bytes(model)
        self.session = self._new_session()
        self.inputs = _signatures(self.session.get_inputs())
        self.outputs = _signatures(self.session.get_outputs())

    def _new_session(self) -> Any:
        with self._count_lock:
            self.sessions_created += 1
        return create_session(self.bytes, session_options(threads=self.threads, log_severity=3))

    def run(self, feed: dict[str, np.ndarray]) -> list[np.ndarray]:
        session = self.session if self.mode == "shared" else self._new_session()
        return list(session.run(None, feed))

    def status(self) -> dict[str, Any]:
        """TensorFlow Serving's model status answer: one version, loaded and available."""
        ok = {"error_code": "OK", "error_message": ""}
        return {"model_version_status": [{"version": "1", "state": "AVAILABLE", "status": ok}]}

    def metadata(self) -> dict[str, Any]:
        import onnxruntime

        def describe(signatures: list[_Signature]) -> list[dict[str, Any]]:
            return [{"name": s.name, "type": s.text} for s in signatures]

        return {
            "name": self.name,
            "inputs": describe(self.inputs),
            "outputs": describe(self.outputs),
            "onnxruntime": onnxruntime.__version__,
            "session": self.mode,
        }

    def feed_npy(self, body: bytes) -> dict[str, np.ndarray]:
        """The feed of a one-input model from an ``.npy`` body (``np.save`` of one array): no JSON to parse."""
        if len(self.inputs) != 1:
            names = [s.name for s in self.inputs]
            raise _BadRequest(415, f"an .npy body holds one array, the model takes {names}: send JSON instead")
        try:
            array = np.load(io.BytesIO(body), allow_pickle=False)
        except (ValueError, OSError, EOFError) as error:
            raise _BadRequest(
                400, f"the body is not an .npy array ({first_line(error)[:120]}): write it with np.save"
            ) from None
        if not isinstance(array, np.ndarray):
            raise _BadRequest(400, "the body is an .npz archive, not one .npy array: write it with np.save")
        return {self.inputs[0].name: _array(self.inputs[0], array)}

    def feed(self, body: Any) -> dict[str, np.ndarray]:
        names = [s.name for s in self.inputs]
        example = '{"inputs": {' + ", ".join(f'"{n}": [...]' for n in names) + "}}"
        if not isinstance(body, dict) or not isinstance(body.get("inputs"), dict):
            raise _BadRequest(400, f"the body needs an 'inputs' object, one array per input: send {example}")
        given = body["inputs"]
        missing = [n for n in names if n not in given]
        if missing:
            raise _BadRequest(400, f"missing input(s) {missing}: the model takes {names}, send {example}")
        extra = sorted(set(given) - set(names))
        if extra:
            raise _BadRequest(400, f"unknown input(s) {extra}: the model takes {names}")
        return {s.name: _array(s, given[s.name]) for s in self.inputs}


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise _BadRequest(
            400, f"the body is not JSON ({first_line(error)}): send {{'inputs': {{name: array}}}} as JSON"
        ) from None


async def _read_body(request: Any, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    too_large = _BadRequest(413, f"the body is over {limit} bytes: send fewer examples per request")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise too_large
    chunks, size = [], 0
    async for chunk in request.stream():  # a chunked body has no length header: count while reading
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


def make_app(model: _Model, executor: ThreadPoolExecutor, max_body_bytes: int = MAX_BODY_BYTES) -> Any:
    """The FastAPI application serving ``model``; sessions run in ``executor``'s threads."""
    app = FastAPI(title=f"{model.name} (ONNX Runtime)", docs_url=None, redoc_url=None, openapi_url=None)
    base = f"/v1/models/{model.name}"

    @app.exception_handler(_BadRequest)
    async def bad_request(_: Request, error: _BadRequest) -> JSONResponse:
        return JSONResponse({"error": error.reason}, status_code=error.status)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException) -> JSONResponse:
        if error.status_code == 404:
            reason = (
                f"no route {request.url.path}: this server has GET {base} (status), GET {base}/metadata and "
                f"POST {base}:predict"
            )
        elif error.status_code == 405:
            reason = (
                f"{request.method} is not allowed here: GET {base} for status, GET {base}/metadata, "
                f"POST {base}:predict to run"
            )
        else:
            reason = str(error.detail)
        return JSONResponse({"error": reason}, status_code=error.status_code)

    @app.exception_handler(Exception)
    async def server_fault(_: Request, error: Exception) -> JSONResponse:
        return JSONResponse({"error": f"server error: {first_line(error)[:300]}"}, status_code=500)

    @app.get(base)
    async def status() -> dict[str, Any]:
        return model.status()

    @app.get(base + "/metadata")
    async def metadata() -> dict[str, Any]:
        return model.metadata()

    @app.post(base + ":predict")
    async def predict(request: Request) -> JSONResponse:
        kind = request.headers.get("content-type", "").split(";")[0].strip()
        if kind not in ("", "application/json", NPY_TYPE):
            raise _BadRequest(
                415, f"content type {kind} is neither JSON nor .npy: send application/json (or {NPY_TYPE})"
            )
        body = await _read_body(request, max_body_bytes)
        feed = model.feed_npy(body) if kind == NPY_TYPE else model.feed(_json(body))
        loop = asyncio.get_running_loop()
        try:
            outputs = await loop.run_in_executor(executor, model.run, feed)
        except Exception as error:  # ORT's pybind errors: a feed it refuses is the client's, the rest ours
            message = first_line(error)[:300]
            if "INVALID_ARGUMENT" in message:
                raise _BadRequest(400, f"onnxruntime refused the input: {message}") from None
            raise
        return JSONResponse({"outputs": {s.name: o.tolist() for s, o in zip(model.outputs, outputs, strict=True)}})

    return app


class AppServer:
    """Any ASGI app (a ``FastAPI()``) served by uvicorn on 127.0.0.1 in a background thread: ``url``, ``port``,
    ``start()``, ``stop()``; a context manager. ``on_stop`` runs after uvicorn has finished (closing pools);
    ``log_level`` is uvicorn's (``"critical"`` keeps an app's tracebacks out of a notebook)."""

    def __init__(self, app: Any, *, name: str = "app", on_stop: Any = None, log_level: str = "warning") -> None:
        import uvicorn

        self._on_stop = on_stop
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.bind(("127.0.0.1", 0))  # a free port on the loopback address only
        self.port: int = self._socket.getsockname()[1]
        config = uvicorn.Config(app, log_level=log_level, access_log=False, lifespan="off", timeout_graceful_shutdown=5)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, name=f"uvicorn-{name}", daemon=True
        )

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        """True between :meth:`start` and :meth:`stop`."""
        return self._thread.is_alive()

    def start(self) -> Self:
        """Start serving and wait until the socket accepts requests; returns the server."""
        self._thread.start()
        waiting = threading.Event()
        for _ in range(int(_START_TIMEOUT_S / 0.01)):
            if self._server.started or not self._thread.is_alive():
                break
            waiting.wait(0.01)
        if not self._server.started:
            self.stop()
            raise ServerError(f"the server did not start on port {self.port} within {_START_TIMEOUT_S:g} s")
        return self

    def stop(self) -> None:
        """Finish open requests, stop uvicorn and join its thread, then ``on_stop``. Idempotent."""
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(timeout=_START_TIMEOUT_S)
        if self._on_stop is not None:
            self._on_stop()
        self._socket.close()

    def __enter__(self) -> Self:
        return self if self.running else self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({'serving' if self.running else 'stopped'} at {self.url})"


def serve_app(app: Any, *, log_level: str = "warning") -> AppServer:
    """Serve your own ASGI app (``FastAPI()``) on 127.0.0.1 at a free port, running; stop it with ``stop()``.
    ``log_level``: uvicorn's (``"critical"`` silences the tracebacks it logs for a failing handler)."""
    return AppServer(app, log_level=log_level).start()


class ModelServer(AppServer):
    """A running model server (see the module docstring): ``url``, ``model_url``, ``port``, ``stop()``; a context
    manager."""

    def __init__(
        self,
        model: str | os.PathLike[str],
        *,
        name: str = "model",
        mode: Mode = "shared",
        workers: int = 4,
        threads: int = 1,
        max_body_bytes: int = MAX_BODY_BYTES,
    ) -> None:
        if not name or "/" in name or ":" in name:
            raise ServerError(f"the model name {name!r} must be non-empty without '/' or ':': it is part of the URL")
        self.model = _Model(model, name, mode, threads)
        self.name, self.mode = name, mode
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"ort-{name}")
        app = make_app(self.model, self._executor, max_body_bytes)
        super().__init__(app, name=name, on_stop=lambda: self._executor.shutdown(wait=True))

    @property
    def model_url(self) -> str:
        """``<url>/v1/models/<name>``: GET for the status, ``/metadata`` for the inputs and outputs; append
        ``:predict`` and POST to run."""
        return f"{self.url}/v1/models/{self.name}"

    @property
    def sessions_created(self) -> int:
        """How many ``InferenceSession`` objects this server has made: 1 for a shared session, one more per
        request for ``mode="per-request"``."""
        return self.model.sessions_created

    def __repr__(self) -> str:
        state = "serving" if self.running else "stopped"
        return f"ModelServer({self.name!r}, {self.mode} session, {state} at {self.model_url})"


def serve_model(
    model: str | os.PathLike[str],
    *,
    name: str = "model",
    mode: Mode = "shared",
    workers: int = 4,
    threads: int = 1,
    max_body_bytes: int = MAX_BODY_BYTES,
) -> ModelServer:
    """Start a :class:`ModelServer` for ``model`` on 127.0.0.1 (a free port) and return it, running. Stop it with
    ``server.stop()``, or use it in a ``with`` block."""
    server = ModelServer(model, name=name, mode=mode, workers=workers, threads=threads, max_body_bytes=max_body_bytes)
    server.start()
    return server
