"""Models in Node.js: load them with onnxruntime-web or onnxruntime-node, run them with onnxruntime-node.

* :func:`npm_load_errors` asks a real npm runtime whether it loads each model (``deploy/js/load_check.mjs``):
  ``"web"`` is onnxruntime-web on its WebAssembly backend (the code a browser runs, without a browser),
  ``"node"`` is onnxruntime-node. The compatibility check's ``--target web|node`` uses it.
* :func:`run_in_node` runs a model (``.onnx`` or ORT format ``.ort``) with ``deploy/js/run_model.mjs``, the
  ~15-line script lesson 10 shows, and returns its outputs as NumPy arrays.

Both need Node.js and the course's npm packages (:mod:`course_utils.deploy.npm`), and raise its one-line errors
when they are missing.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Literal

import numpy as np

from course_utils.deploy.npm import js_packages_dir, run_node

__all__ = ["LOAD_SCRIPT", "RUN_SCRIPT", "npm_load_errors", "run_in_node", "short_ort_error"]

RUN_SCRIPT = "run_model.mjs"
"""The Node.js script :func:`run_in_node` runs (in ``deploy/js``): the one lesson 10 shows."""
LOAD_SCRIPT = "load_check.mjs"
"""The Node.js script :func:`npm_load_errors` runs (in ``deploy/js``)."""

_PREFIXES = (
    re.compile(r"^Can't create a session\. ERROR_CODE: \d+, ERROR_MESSAGE: "),
    re.compile(r"^Load model from .*? failed:"),
    re.compile(r"^Exception during initialization: "),
    # onnxruntime's own "file.cc:123 signature(args) message": the source location and C++ signature.
    re.compile(r"^/\S+:\d+ .*?\)\s(?=[A-Z\[])"),
)


def short_ort_error(message: str) -> str:
    """onnxruntime's error text without its wrapping: no "Can't create a session. ERROR_CODE: …", no source
    file, line and C++ signature; what is left says what is wrong (``Unsupported model IR version: 14, max
    supported IR version: 13``)."""
    text = message.strip()
    changed = True
    while changed:
        changed = False
        for prefix in _PREFIXES:
            shorter = prefix.sub("", text, count=1).strip()
            if shorter != text:
                text, changed = shorter, True
    return text.splitlines()[0] if text else message.strip()


def _script(name: str) -> Path:
    return js_packages_dir() / name


def npm_load_errors(
    models: Sequence[str | os.PathLike[str]], runtime: Literal["web", "node"], *, timeout: float = 120.0
) -> list[str | None]:
    """For each model file, None when the npm ``runtime`` loads it (creates a session), else its error text
    (shortened by :func:`short_ort_error`). One Node.js process loads them all, in order."""
    if runtime not in ("web", "node"):
        raise ValueError(f"runtime must be 'web' (onnxruntime-web) or 'node' (onnxruntime-node), got {runtime!r}")
    if not models:
        return []
    paths = [str(Path(m).resolve()) for m in models]
    result = run_node(_script(LOAD_SCRIPT), runtime, *paths, timeout=timeout)
    answers: dict[str, str | None] = {}
    for line in result.stdout.splitlines():
        if line.startswith("{"):
            record = json.loads(line)
            answers[record["model"]] = None if record["ok"] else short_ort_error(str(record["error"]))
    missing = [p for p in paths if p not in answers]
    if missing:
        tail = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(
            f"Node.js stopped before loading {missing[0]} with {runtime} (exit {result.returncode}): {tail}"
        )
    return [answers[p] for p in paths]


def run_in_node(
    model: str | os.PathLike[str], feeds: Mapping[str, np.ndarray], *, timeout: float = 120.0
) -> dict[str, np.ndarray]:
    """Run ``model`` (``.onnx`` or ``.ort``) once with onnxruntime-node on float32 ``feeds``; the outputs by name.

    The inputs travel as JSON (float32 values print exactly), the outputs come back the same way and are returned
    as float32 arrays of the shapes Node.js reports. A model Node.js cannot load or run raises ``RuntimeError``
    with onnxruntime's own message.
    """
    payload: dict[str, object] = {}
    for name, value in feeds.items():
        array = np.asarray(value)
        if array.dtype != np.float32:
            raise TypeError(
                f"input '{name}' is {array.dtype}: run_model.mjs feeds float32 tensors only; "
                "pass value.astype(np.float32)"
            )
        payload[name] = {"type": "float32", "dims": list(array.shape), "data": array.ravel().tolist()}
    with tempfile.TemporaryDirectory(prefix="course-node-") as tmp:
        feeds_path = Path(tmp) / "feeds.json"
        feeds_path.write_text(json.dumps(payload), encoding="utf-8")
        result = run_node(_script(RUN_SCRIPT), Path(model).resolve(), feeds_path, timeout=timeout)
    if result.returncode != 0:
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        message = next((line for line in lines if "Error" in line), lines[-1] if lines else "no output")
        raise RuntimeError(f"onnxruntime-node could not run {Path(model).name}: {short_ort_error(message)}")
    outputs = json.loads(result.stdout.strip().splitlines()[-1])
    return {
        name: np.asarray(out["data"], dtype=np.float32).reshape([int(d) for d in out["dims"]])
        for name, out in outputs.items()
    }
