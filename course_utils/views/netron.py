"""Netron's interactive graph view inside a notebook output, wherever the notebook runs.

Usage::

    from course_utils.views.netron import netron_view

    netron_view("artifacts/02/resnet18.onnx")  # a path, an onnx.ModelProto, or the bytes of a .onnx file
    netron_view(model, height=700)  # taller view (pixels, default 500)
    netron_view(model, max_nodes=120)  # draw up to 120 nodes in the static picture before summarising (default 60)
    view = netron_view(model)  # a NetronView: display it, or read view.summary, view.url, view.static_html()

Lessons need nothing else. ``stop_server()`` stops the kernel's Netron server early (it also stops by itself
when the kernel exits); ``netron_mode()`` tells which mode is in force. The static picture alone is in
:mod:`course_utils.views.graph_view` (``model_summary``, ``render_svg``, ``static_html``).

:func:`netron_view` (older name: ``show_netron``, the same function) returns a :class:`NetronView`. Displayed in a notebook it shows

* **a static picture first**: an SVG of the graph (op types, edges, inputs/outputs with shapes) and a short
  summary, drawn in Python by :mod:`course_utils.views.graph_view`. It needs no server and no JavaScript, so it is
  what readers of the notebook on GitHub, nbviewer or an exported HTML page see;
* **then the interactive Netron view**, swapped in by a small script (``course_utils/views/js/netron-live.js``) once it finds a URL the browser can
  reach: ``<base_url>proxy/<port>/…`` through jupyter-server-proxy (JupyterHub, Binder, any user prefix),
  else ``http://127.0.0.1:<port>/…`` when the page itself is local (JupyterLab on a laptop, VS Code).
  If neither answers (or the notebook is untrusted, so scripts do not run), the static picture stays.

Its ``text/plain`` part is the deterministic summary, so nbval compares it.

**Static mode.** With the environment variable ``COURSE_NETRON=static`` (set for every notebook under test and
when notebooks are re-executed, see ``course_utils/_notebook_env.py``) the output is only the static picture:
no server starts, no script, no random ids, byte-identical on every run. ``COURSE_NETRON=auto`` (or unset) is
the interactive behaviour above.

**The server** (:mod:`course_utils.views.netron_server`): one per kernel, started on first use, bound to 127.0.0.1
on a free port, serving Netron's web files (patched: no consent prompt, no analytics, no expiry lock) and the
models registered with it under random tokens; it keeps the most recent 16 models, at most 256 MiB together. A
model bigger than that alone is not served: its view is the static picture with one line saying how to open it
in Netron outside the notebook (``netron model.onnx``). ``get_server``, ``stop_server`` and ``NetronServer``
are importable from here too.

Models are served as binary protobuf under a ``.onnx`` name, which is what Netron reads: a ``.onnx`` file as is,
text forms (``.onnxtxt``, ``.textproto``, ``.json``) and models with external weights re-serialised into one file.

Bad input raises the course's one-line errors from :func:`course_utils.onnxfile.modelio.load_model`:
``ModelFileNotFoundError`` (no such file), ``NotAnOnnxModelError`` (not ONNX), ``ExternalDataMissingError``
(weights file missing beside the model).
"""

from __future__ import annotations

import html
import json
import os
import secrets
import shlex
from importlib import resources
from pathlib import Path

import onnx

from course_utils.onnxfile.modelio import (
    ModelSource,
    external_data_files,
    load_model,
    model_bytes,
    require_embedded_weights,
)
from course_utils.paths import relative_to_repo
from course_utils.views import netron_server
from course_utils.views.graph_page import model_summary, static_html
from course_utils.views.graph_view import DEFAULT_MAX_NODES
from course_utils.views.netron_server import NetronPatchError, NetronServer, get_server, stop_server

__all__ = [
    "MODE_ENV",
    "NetronServer",
    "NetronView",
    "get_server",
    "netron_mode",
    "netron_view",
    "show_netron",
    "stop_server",
]

MODE_ENV = "COURSE_NETRON"
"""Environment variable: ``static`` for the server-less picture only (CI, re-executed notebooks), ``auto``
(default) for the interactive view with the picture as fallback."""

_MODES = ("auto", "static")


def netron_mode() -> str:
    """The current mode from ``COURSE_NETRON``: ``"static"`` or ``"auto"`` (unset or empty means ``"auto"``)."""
    mode = os.environ.get(MODE_ENV, "").strip().lower() or "auto"
    if mode not in _MODES:
        raise ValueError(f"{MODE_ENV}={mode!r} is not a valid mode: use 'static' (picture only) or 'auto' (default).")
    return mode


# --------------------------------------------------------------------------------------------- the view


def _live_script() -> str:
    """``js/netron-live.js``: chooses a reachable URL in the browser and swaps the live view in."""
    return resources.files("course_utils.views").joinpath("js", "netron-live.js").read_text(encoding="utf-8")


class NetronView:
    """What :func:`netron_view` returns: displays as the live Netron view with a static fallback.

    Attributes: ``summary`` (the deterministic text summary, also the ``text/plain`` output and
    :meth:`static_text`), ``mode`` (``"static"`` or ``"auto"``), ``height``, ``note`` (the one line shown
    above the picture when the interactive view is unavailable, else ``None``); in auto mode also ``port``,
    ``page_path`` (``/<server-token>/``), ``model_path`` (``models/<token>/<name>.onnx``, relative to the page)
    and ``url`` (the direct loopback URL); these are ``None`` in static mode.
    """

    def __init__(
        self,
        summary: str,
        picture: str,
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
            picture = f'<div style="color:#7a5a00;font-size:12px">{html.escape(note)}</div>{picture}'
        self._picture = picture
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

    def static_text(self) -> str:
        """The deterministic text summary of the graph (the ``text/plain`` output; nbval compares it)."""
        return self.summary

    def static_html(self) -> str:
        """The server-less picture (with the note, if any): what a reader without a kernel or Netron sees."""
        return self._picture

    def html(self) -> str:
        """The ``text/html`` output: the static picture alone (static mode) or with the live-view script."""
        if self.mode == "static" or self._token is None:
            return self._picture
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
            f'<div class="course-netron-fallback">{self._picture}</div>'
            f"<script>{_live_script().replace('__CONFIG__', config_js)}</script>"
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
    size: int = model.ByteSize()
    return size


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


def netron_view(model_or_path: ModelSource, *, height: int = 500, max_nodes: int = DEFAULT_MAX_NODES) -> NetronView:
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
    summary = model_summary(model)
    picture = static_html(model, max_nodes=max_nodes, height=height, summary=summary)
    if mode == "static":
        return NetronView(summary, picture, mode=mode, height=height, name=name)
    size = _size_estimate(model_or_path, model)
    limit = netron_server.MAX_BYTES
    if size > limit:
        # Checked before reading the weights: the kernel never holds a second copy of a huge model.
        note = _too_big_note(model_or_path, size, limit)
        return NetronView(summary, picture, mode="static", height=height, name=name, note=note)
    try:
        server = get_server()
    except (ImportError, RuntimeError) as error:
        # Without Netron (or its web files), or with a Netron release the page patch does not fit, the learner
        # still gets the picture, and one line saying why.
        fix = "" if isinstance(error, NetronPatchError) else "; install it with `pip install netron`"
        note = f"Interactive view unavailable ({str(error).rstrip('.')}){fix}."
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


show_netron = netron_view
"""The older name of :func:`netron_view` (the same function): notebooks written before the naming rule use it."""
