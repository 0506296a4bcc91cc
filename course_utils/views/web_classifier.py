"""A classifier running in the learner's own browser with onnxruntime-web, shown inside the notebook.

Usage::

    from course_utils.views.web_classifier import web_classifier

    web_classifier(onnx_path("digits_cnn"), task="digits")  # draw a digit, see the 10 probabilities
    web_classifier("artifacts/12/model.ort", task="photo")  # upload a photo, see the top 5 ImageNet classes
    web_classifier(model, task="digits", backend="webgpu")  # WebGPU where the browser has it, else wasm (says why)

The page (:mod:`course_utils.deploy.web` says what it holds and does) is served by the kernel's loopback server,
the one behind :func:`course_utils.views.netron.netron_view` (:mod:`course_utils.views.netron_server`): 127.0.0.1
only, under a random token, a fixed table of paths, the same script finding a URL the browser can reach (the
server-proxy route under JupyterLab/JupyterHub, else the direct loopback URL), and a Content-Security-Policy that
lets the page load only its own files (nothing is fetched off the machine). The page runs a fixed input too and
shows the largest difference between the browser's outputs and Python's.

Its ``text/plain`` (:meth:`WebClassifier.static_text`) describes the page and Python's result on the fixed input,
the same on every run. :meth:`WebClassifier.static_html` is what a reader without a kernel sees (GitHub,
nbviewer): that text and Python's top 5. With ``COURSE_NETRON=static`` (tests, re-executed notebooks) only the
static part is shown and no server starts; without the npm packages (or Node.js) it shows the static part and one
line saying how to install them.

The traps lesson 10 shows, with onnxruntime-web's own text in the page: ``wasm_paths="/nowhere/"`` (the
``.mjs``/``.wasm`` files are not where onnxruntime-web is told they are), ``num_threads=4`` (threads need a
cross-origin isolated page; in a notebook's iframe it is not: onnxruntime-web warns and uses one), and
``isolate=True`` (the COOP/COEP headers that isolate the page when it is opened in its own tab).
"""

from __future__ import annotations

import functools
import html
import json
import os
import secrets
from collections.abc import Mapping, Sequence
from importlib import resources
from typing import Literal

import numpy as np

from course_utils.deploy.web import PAGE_CSP, ClassifierPage, classifier_page
from course_utils.errors import NpmPackagesMissingError
from course_utils.views.netron import netron_mode
from course_utils.views.netron_server import NetronServer, PageEntry, get_server

__all__ = ["WebClassifier", "web_classifier"]

_HEIGHTS = {"digits": 470, "photo": 520}


class WebClassifier:
    """What :func:`web_classifier` returns: the live page in an iframe (when a kernel serves it) with a static
    fallback. Attributes: ``page`` (the :class:`~course_utils.deploy.web.ClassifierPage`), ``mode``
    (``"auto"`` or ``"static"``), ``note`` (why the live page is not shown, else None), ``height``; when served
    also ``port``, ``page_path`` (``pages/<token>/``, relative to the server's root) and ``url`` (the direct
    loopback URL of the page, for a browser on this machine)."""

    def __init__(
        self, page: ClassifierPage, *, mode: str, height: int, server: NetronServer | None = None,
        page_path: str | None = None, note: str | None = None,
    ) -> None:  # fmt: skip
        self.page = page
        self.mode = mode
        self.height = height
        self.note = note
        self.port: int | None = server.port if server else None
        self.page_path = page_path
        self._token = server.token if server else None
        self.url: str | None = (
            f"http://127.0.0.1:{self.port}/{self._token}/{page_path}" if server and page_path else None
        )

    def static_text(self) -> str:
        """The page described in words with Python's result on the fixed input (the ``text/plain`` output)."""
        return "\n".join(self.page.lines())

    def __repr__(self) -> str:
        return self.static_text()

    def static_html(self) -> str:
        """What a reader without a kernel sees: the description and Python's top 5 on the fixed input."""
        rows = "".join(
            f"<tr><td>{html.escape(label)}</td><td style='text-align:right'>{p:.3f}</td></tr>"
            for label, p in self.page.python_top
        )
        lines = "".join(f"<li>{html.escape(line)}</li>" for line in self.page.lines())
        note = f'<div style="color:#7a5a00;font-size:12px">{html.escape(self.note)}</div>' if self.note else ""
        return (
            f'<div class="course-web-static" style="font:13px sans-serif">{note}<ul style="margin:4px 0">{lines}</ul>'
            "<table style='border-collapse:collapse;font-size:12px'><caption style='text-align:left'>Python's "
            f"onnxruntime, fixed input (the live page runs in a notebook with its kernel)</caption>{rows}</table></div>"
        )

    def html(self) -> str:
        """The ``text/html`` output: the static part alone, or with the script that swaps the live page in."""
        if self.mode == "static" or self._token is None or self.page_path is None:
            return self.static_html()
        element_id = "course-web-" + secrets.token_hex(6)
        config = {
            "id": element_id,
            "port": self.port,
            "token": self._token,
            "src": self.page_path,
            "name": self.page.model_name,
            "label": f"onnxruntime-web ({self.page.task})",
            "allow": "webgpu; cross-origin-isolated",
            "height": self.height,
            "timeout": 1500,
        }
        script = resources.files("course_utils.views").joinpath("js", "netron-live.js").read_text(encoding="utf-8")
        config_js = json.dumps(config).replace("<", "\\u003c")
        return (
            f'<div class="course-netron course-web" id="{element_id}">'
            '<div class="course-netron-live" style="display:none"></div>'
            f'<div class="course-netron-fallback">{self.static_html()}</div>'
            f"<script>{script.replace('__CONFIG__', config_js)}</script>"
            "</div>"
        )

    def _repr_mimebundle_(self, include: object = None, exclude: object = None) -> dict[str, str]:
        return {"text/plain": self.static_text(), "text/html": self.html()}


def web_classifier(
    model: str | os.PathLike[str],
    *,
    task: Literal["digits", "photo"],
    labels: Sequence[str] | None = None,
    reference: Mapping[str, np.ndarray] | None = None,
    backend: Literal["wasm", "webgpu"] = "wasm",
    wasm_paths: str | None = None,
    num_threads: int = 1,
    isolate: bool = False,
) -> WebClassifier:
    """Run ``model`` (``.onnx`` or ``.ort``) in the browser with onnxruntime-web, in a page inside the notebook.

    ``task="digits"``: a canvas to draw a digit on (the course's DigitsCNN); ``task="photo"``: an upload control
    (EfficientNet-Lite0's preprocessing, top 5). ``labels`` name the classes (default: 0-9, or ImageNet's 1,000);
    ``reference`` is the fixed input the page runs beside Python (default: a test digit, or chelsea the cat);
    ``backend`` ``"wasm"`` (default) or ``"webgpu"``. ``wasm_paths``, ``num_threads`` and ``isolate`` reproduce
    the wasmPaths and threads traps (module docstring). Bad input raises the course's one-line errors
    (``ModelFileNotFoundError``, ``ValueError``).
    """
    mode = netron_mode()
    height = _HEIGHTS.get(task, 500)
    make = functools.partial(
        classifier_page, model, task=task, labels=labels, reference=reference, backend=backend,
        wasm_paths=wasm_paths, num_threads=num_threads, isolate=isolate,
    )  # fmt: skip
    if mode == "static":
        return WebClassifier(make(serve=False), mode=mode, height=height)
    try:
        page = make()
    except NpmPackagesMissingError as error:  # the learner still gets the description and Python's result
        return WebClassifier(make(serve=False), mode="static", height=height, note=f"Live page unavailable: {error}")
    try:
        server = get_server()
    except (ImportError, RuntimeError) as error:
        return WebClassifier(page, mode="static", height=height, note=f"Live page unavailable: {error}")
    entries = {name: PageEntry(f.body, f.content_type, f.cacheable) for name, f in page.files.items()}
    path = server.register_page(entries, csp=PAGE_CSP, headers=page.headers)
    return WebClassifier(page, mode=mode, height=height, server=server, page_path=path)
