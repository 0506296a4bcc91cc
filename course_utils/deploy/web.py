"""The classifier page onnxruntime-web runs in the learner's browser: what it is made of, headless.

:func:`classifier_page` gathers everything the page needs into a :class:`ClassifierPage`: the model's bytes
(``.onnx`` or ORT format ``.ort``), the onnxruntime-web files the page loads (only those: the ES module and the
WebAssembly binary of the chosen backend, from the npm package in ``deploy/js/node_modules``), the page itself
(``index.html`` with its settings, ``classifier.js`` and ``classifier.css`` from ``course_utils/deploy/page/``),
and Python's own result on a fixed input (``reference``), which the page runs too and reports the largest
difference. :mod:`course_utils.views.web_classifier` serves it from the kernel's loopback server (the Netron
server's rules: 127.0.0.1, a random token path, a fixed table of paths, the server-proxy route under
JupyterLab/JupyterHub, ``connect-src 'self'``) and shows it in the notebook.

Two tasks:

* ``"digits"``: a drawing canvas for the course's DigitsCNN (``digits_cnn``). Its input is the 8x8 digits of
  scikit-learn (UCI "optdigits"; its description: "normalized bitmaps" of 32x32 pixels "divided into
  nonoverlapping blocks of 4x4 and the number of on pixels are counted in each block", 0..16), here divided by
  16 as :func:`course_utils.models.data.load_digits` does. The page crops the ink's bounding box, scales its
  longer side to 32 pixels (centred: our reading of "normalized", which the description does not detail), marks
  a pixel as ink when at least half of it is covered, and counts blocks: :func:`digits_input` is the same in
  Python (the browser test checks both give the same 8x8 from the same canvas).
* ``"photo"``: an upload control for EfficientNet-Lite0 (``efficientnet_lite0``): the centred square crop of the
  photo resized to 224x224, ``(pixel - 127) / 128``, NCHW (:func:`course_utils.models.efficientnet.preprocess`);
  :func:`photo_input` is the same in Python (Pillow's bilinear resize; a browser's canvas resize differs in the
  last bits, so their inputs are close, not equal). Top-5 with ImageNet labels.

Knobs that reproduce the two traps lesson 10 shows, with onnxruntime-web's own text: ``wasm_paths`` (where
the page tells onnxruntime-web its ``.mjs``/``.wasm`` files are: a wrong folder makes the session fail) and
``num_threads`` (more than 1 without cross-origin isolation: onnxruntime-web warns and runs on one thread;
``isolate=True`` sends the COOP/COEP headers that make a top-level tab cross-origin isolated).
"""

from __future__ import annotations

import base64
import html
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Literal

import numpy as np

from course_utils.deploy.npm import js_packages_dir, npm_packages_installed
from course_utils.errors import ModelFileNotFoundError, NpmPackagesMissingError
from course_utils.paths import relative_to_repo
from course_utils.versions.limits import NPM_VERSION

__all__ = [
    "DIST_FILES",
    "ClassifierPage",
    "PageFile",
    "classifier_page",
    "digits_input",
    "photo_input",
    "softmax",
]

Task = Literal["digits", "photo"]
Backend = Literal["wasm", "webgpu"]

#: The onnxruntime-web files a page loads, per backend (``dist/`` of the npm package): the ES module, and the
#: Emscripten module and WebAssembly binary it imports. The WebGPU build also runs the wasm backend (fallback).
DIST_FILES: dict[str, tuple[str, ...]] = {
    "wasm": ("ort.wasm.min.mjs", "ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm"),
    "webgpu": ("ort.webgpu.min.mjs", "ort-wasm-simd-threaded.asyncify.mjs", "ort-wasm-simd-threaded.asyncify.wasm"),
}
_CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".wasm": "application/wasm",
    ".onnx": "application/octet-stream",
    ".ort": "application/octet-stream",
}
# The page may load its own files only: scripts (and WebAssembly compilation) from the server, no fetch anywhere
# else. Photos are read from the learner's disk as blob: URLs.
PAGE_CSP = (
    "default-src 'none'; script-src 'self' 'wasm-unsafe-eval' blob:; worker-src 'self' blob:; connect-src 'self'; "
    "img-src 'self' data: blob:; style-src 'self'; frame-ancestors *"
)
_ISOLATION = {"Cross-Origin-Opener-Policy": "same-origin", "Cross-Origin-Embedder-Policy": "require-corp"}
_DIGIT_LABELS = tuple(str(d) for d in range(10))


@dataclass(frozen=True)
class PageFile:
    """One file of a page: its bytes (or the path to read them from, for the big onnxruntime-web files),
    content type, and whether a browser may cache it."""

    body: bytes | Path
    content_type: str
    cacheable: bool = False

    def read(self) -> bytes:
        """The file's bytes."""
        return self.body.read_bytes() if isinstance(self.body, Path) else self.body

    @property
    def size(self) -> int:
        """Size in bytes."""
        return self.body.stat().st_size if isinstance(self.body, Path) else len(self.body)


@dataclass(frozen=True)
class ClassifierPage:
    """Everything one classifier page serves and says. ``files`` maps a path under the page's folder to its file
    (``index.html`` first); ``headers`` are extra response headers (COOP/COEP when ``isolate``); ``reference``
    and ``python_outputs`` are the fixed input and Python's onnxruntime outputs for it."""

    task: Task
    backend: Backend
    model_name: str
    model_format: str
    input_name: str
    input_shape: tuple[int, ...]
    output_name: str
    labels: tuple[str, ...]
    reference: Mapping[str, np.ndarray]
    python_outputs: Mapping[str, np.ndarray]
    files: Mapping[str, PageFile] = field(repr=False)
    headers: Mapping[str, str] = field(default_factory=dict)
    num_threads: int = 1
    wasm_paths: str | None = None

    @property
    def python_top(self) -> list[tuple[str, float]]:
        """Python's top-5 (or fewer) ``(label, probability)`` for the reference input, best first."""
        probs = softmax(np.asarray(self.python_outputs[self.output_name]).reshape(-1))
        order = np.argsort(-probs, kind="stable")[: min(5, probs.size)]
        return [(self.labels[i] if i < len(self.labels) else str(i), float(probs[i])) for i in order]

    def lines(self) -> list[str]:
        """The page described in words, the same on every run (the view's ``text/plain``)."""
        shape = "x".join(str(d) for d in self.input_shape)
        what = (
            "draw a digit with the mouse (or a finger): the page makes the 8x8 input the training data was made "
            "from (32x32 ink pixels counted in 4x4 blocks, / 16) and shows the 10 probabilities"
            if self.task == "digits"
            else "pick a photo: the page crops its centre square, resizes it to 224x224, maps pixels to "
            "(p - 127) / 128 (NCHW) and shows the top 5 ImageNet classes"
        )
        size = sum(f.size for name, f in self.files.items() if name.startswith("model."))
        top = ", ".join(f"{label} {p:.3f}" for label, p in self.python_top[:3])
        lines = [
            f"{self.model_name} in the browser: onnxruntime-web {NPM_VERSION}, {self.backend} backend",
            f"model: {self.model_format} file, {size / 1024:,.0f} KiB; input {self.input_name} float32[{shape}], "
            f"output {self.output_name}",
            f"task {self.task}: {what}",
            f"fixed input: Python's onnxruntime says {top}; the page runs it too and shows max |browser - Python|",
        ]
        threads = "1 thread" if self.num_threads == 1 else f"{self.num_threads} threads asked for"
        lines.append(f"threads: {threads} (more than 1 needs a cross-origin isolated page; the page says which)")
        if self.wasm_paths is not None:
            lines.append(f"wasmPaths overridden: {self.wasm_paths!r} (onnxruntime-web looks for its files there)")
        return lines


def softmax(logits: np.ndarray) -> np.ndarray:
    """Probabilities from logits (the page computes the same in JavaScript)."""
    z = np.asarray(logits, dtype=np.float64)
    e = np.exp(z - z.max())
    out: np.ndarray = e / e.sum()
    return out


def digits_input(ink: np.ndarray) -> np.ndarray:
    """The page's digits preprocessing in Python: ink coverage ``(H, W)`` in [0, 1] (1 = ink) -> DigitsCNN's
    input ``(1, 1, 8, 8)`` float32: crop the ink's bounding box, scale its longer side to 32 pixels (centred in a
    32x32 bitmap; a pixel is ink when at least half covered), count ink pixels in each 4x4 block, divide by 16."""
    cover = np.asarray(ink, dtype=np.float64)
    rows, cols = np.nonzero(cover > 0)
    out = np.zeros((1, 1, 8, 8), dtype=np.float32)
    if rows.size == 0:
        return out
    top, left = rows.min(), cols.min()
    height, width = rows.max() - top + 1, cols.max() - left + 1
    side = max(height, width)
    scale = 32.0 / side
    # The bounding box, centred in a square of side `side`, maps onto 32x32: bitmap pixel (i, j) covers canvas
    # rows [y0 + i / scale, y0 + (i + 1) / scale).
    y0 = top - (side - height) / 2.0
    x0 = left - (side - width) / 2.0
    padded = np.zeros((cover.shape[0] + 2 * side, cover.shape[1] + 2 * side))
    padded[side : side + cover.shape[0], side : side + cover.shape[1]] = cover
    bitmap = np.zeros((32, 32), dtype=np.float32)
    for i in range(32):
        r0, r1 = int(np.floor(y0 + i / scale)), int(np.ceil(y0 + (i + 1) / scale))
        for j in range(32):
            c0, c1 = int(np.floor(x0 + j / scale)), int(np.ceil(x0 + (j + 1) / scale))
            block = padded[r0 + side : max(r1, r0 + 1) + side, c0 + side : max(c1, c0 + 1) + side]
            bitmap[i, j] = 1.0 if block.mean() >= 0.5 else 0.0
    out[0, 0] = bitmap.reshape(8, 4, 8, 4).sum(axis=(1, 3)) / 16.0
    return out


def photo_input(pixels: np.ndarray, size: int = 224) -> np.ndarray:
    """The page's photo preprocessing in Python: RGB ``uint8`` ``(H, W, 3)`` -> EfficientNet-Lite0's input
    ``(1, 3, size, size)``: the centred square crop (side = the shorter side), Pillow's bilinear resize,
    ``(pixel - 127) / 128`` (:func:`course_utils.models.efficientnet.preprocess`), NCHW."""
    from PIL import Image

    array = np.asarray(pixels)
    if array.ndim != 3 or array.shape[2] < 3:
        raise ValueError(f"photo_input takes an RGB image shaped (H, W, 3), got {array.shape}")
    height, width = array.shape[:2]
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    image = Image.fromarray(np.ascontiguousarray(array[:, :, :3], dtype=np.uint8))
    crop = np.asarray(image.resize((size, size), Image.Resampling.BILINEAR, box=(left, top, left + side, top + side)))
    return np.ascontiguousarray(((crop.astype(np.float32) - 127.0) / 128.0).transpose(2, 0, 1)[None])


@cache
def _page_asset(name: str) -> bytes:
    return resources.files("course_utils.deploy").joinpath("page", name).read_bytes()


def _dist_dir() -> Path:
    dist = js_packages_dir() / "node_modules" / "onnxruntime-web" / "dist"
    if not npm_packages_installed() or not dist.is_dir():
        raise NpmPackagesMissingError(
            f"onnxruntime-web is not installed in {js_packages_dir()}/node_modules: run ./course setup (it runs "
            "`npm ci` in deploy/js with ONNXRUNTIME_NODE_INSTALL=skip)."
        )
    return dist


def _default_reference(task: Task, input_name: str) -> dict[str, np.ndarray]:
    if task == "digits":
        from course_utils.models.data import load_digits

        return {input_name: load_digits().x_test[:1].copy()}
    from course_utils.models.photos import load_photos

    chelsea = next(p for p in load_photos() if p.name == "chelsea")
    return {input_name: photo_input(chelsea.pixels)}


def _tensor_json(array: np.ndarray) -> dict[str, object]:
    data = np.ascontiguousarray(array, dtype=np.float32)
    return {"dims": list(data.shape), "b64": base64.b64encode(data.tobytes()).decode("ascii")}


def _index_html(title: str, config: Mapping[str, object]) -> bytes:
    # The settings travel as a JSON data block (never executed, so the CSP needs no inline scripts); '<' escaped
    # so no text in them can close the element.
    settings = json.dumps(config).replace("<", "\\u003c")
    return (
        "<!doctype html>\n<html lang='en'><head><meta charset='utf-8'>\n"
        f"<title>{html.escape(title)}</title>\n"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>\n"
        "<link rel='stylesheet' href='classifier.css'>\n"
        f"<script type='application/json' id='course-config'>{settings}</script>\n"
        "<script type='module' src='classifier.js'></script>\n"
        "</head><body><main id='course-app'><p class='status'>loading…</p></main></body></html>\n"
    ).encode()


def classifier_page(
    model: str | os.PathLike[str],
    *,
    task: Task,
    labels: Sequence[str] | None = None,
    reference: Mapping[str, np.ndarray] | None = None,
    backend: Backend = "wasm",
    wasm_paths: str | None = None,
    num_threads: int = 1,
    isolate: bool = False,
    serve: bool = True,
) -> ClassifierPage:
    """The page for ``model`` (a ``.onnx`` or ``.ort`` file with one float32 image input and one output of
    logits). ``task`` is ``"digits"`` (drawing canvas) or ``"photo"`` (upload control); ``labels`` name the
    classes (default: the digits 0-9, or the 1,000 ImageNet names for ``"photo"``); ``reference`` is the fixed
    input (default: the first test digit, or the photo of chelsea the cat); ``backend`` ``"wasm"`` (default) or
    ``"webgpu"`` (the page falls back to wasm, saying why, where the browser has no WebGPU). ``wasm_paths``,
    ``num_threads`` and ``isolate`` reproduce the traps (module docstring). ``serve=False`` leaves the
    onnxruntime-web files out (a page described, not served: no npm packages needed). Raises
    :class:`ModelFileNotFoundError` (no such file), ``ValueError`` (bad argument) or
    :class:`NpmPackagesMissingError` (onnxruntime-web not installed).
    """
    from course_utils.runtime.sessions import create_session

    if task not in ("digits", "photo"):
        raise ValueError(f"task must be 'digits' (drawing canvas) or 'photo' (upload control), got {task!r}")
    if backend not in DIST_FILES:
        raise ValueError(f"backend must be 'wasm' (default) or 'webgpu', got {backend!r}")
    if not isinstance(num_threads, int) or isinstance(num_threads, bool) or not 1 <= num_threads <= 64:
        raise ValueError(f"num_threads must be a whole number from 1 to 64, got {num_threads!r}")
    path = Path(model)
    if not path.is_file():
        raise ModelFileNotFoundError(
            f"no model file at {relative_to_repo(path)}: check the path (a .onnx or .ort file)"
        )
    suffix = path.suffix.lower()
    if suffix not in (".onnx", ".ort"):
        raise ValueError(f"{path.name}: the page loads .onnx or ORT format .ort files, not '{suffix or 'no suffix'}'")
    dist = _dist_dir() if serve else None
    session = create_session(str(path))
    first, out = session.get_inputs()[0], session.get_outputs()[0]
    shape = tuple(d if isinstance(d, int) and d > 0 else 1 for d in first.shape)
    feeds = dict(reference) if reference is not None else _default_reference(task, first.name)
    feeds = {name: np.ascontiguousarray(value, dtype=np.float32) for name, value in feeds.items()}
    if set(feeds) != {first.name}:
        raise ValueError(f"reference must give the model's one input '{first.name}', got {sorted(feeds)}")
    outputs = dict(zip([o.name for o in session.get_outputs()], session.run(None, feeds), strict=True))
    if labels is None:
        if task == "digits":
            chosen: tuple[str, ...] = _DIGIT_LABELS
        else:
            from course_utils.models.efficientnet import imagenet_labels

            chosen = imagenet_labels()
    else:
        chosen = tuple(str(label) for label in labels)
    classes = int(np.asarray(outputs[out.name]).reshape(-1).size)
    if len(chosen) != classes:
        raise ValueError(f"labels has {len(chosen)} names, but the model's output '{out.name}' has {classes} classes")

    model_file = f"model{suffix}"
    name = path.stem
    config = {
        "task": task,
        "backend": backend,
        "title": name,
        "model": model_file,
        "ortModule": f"ort/{DIST_FILES[backend][0]}",
        "wasmPaths": wasm_paths,
        "numThreads": num_threads,
        "inputName": first.name,
        "inputShape": list(shape),
        "outputName": out.name,
        "labels": list(chosen),
        "reference": {"input": _tensor_json(feeds[first.name]), "python": _tensor_json(outputs[out.name])},
    }
    files: dict[str, PageFile] = {
        "index.html": PageFile(_index_html(f"{name}: onnxruntime-web", config), _CONTENT_TYPES[".html"]),
        "classifier.js": PageFile(_page_asset("classifier.js"), _CONTENT_TYPES[".js"], cacheable=False),
        "classifier.css": PageFile(_page_asset("classifier.css"), _CONTENT_TYPES[".css"], cacheable=False),
        model_file: PageFile(path.read_bytes(), _CONTENT_TYPES[suffix]),
    }
    if dist is not None:
        for dist_name in DIST_FILES[backend]:
            kind = _CONTENT_TYPES[Path(dist_name).suffix]
            files[f"ort/{dist_name}"] = PageFile(dist / dist_name, kind, cacheable=True)
    return ClassifierPage(
        task=task,
        backend=backend,
        model_name=name,
        model_format=suffix,
        input_name=first.name,
        input_shape=shape,
        output_name=out.name,
        labels=chosen,
        reference=feeds,
        python_outputs=outputs,
        files=files,
        headers=dict(_ISOLATION) if isolate else {},
        num_threads=num_threads,
        wasm_paths=wasm_paths,
    )
