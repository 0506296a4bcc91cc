"""Shipping a model out of the notebook: ORT format for mobile and edge, the checks before it leaves (a CI gate),
a model server and its load test, and the C library under every language binding.

* :mod:`~course_utils.deploy.gate`  ``write_reference`` and ``run_gate``: checker, target compatibility, parity
  against stored outputs and a latency budget, one line each and a verdict (``python -m course_utils.gate``)
* :mod:`~course_utils.deploy.ort_format`  ``.onnx`` → ``.ort`` with ONNX Runtime's converter, and ``.ort`` files read back
* :mod:`~course_utils.deploy.server`  ``serve_model``: one InferenceSession behind FastAPI + uvicorn on 127.0.0.1
  (TensorFlow Serving's REST routes, one-line 4xx reasons), stopped without leaked threads
* :mod:`~course_utils.deploy.loadtest`  ``load_test``: a bounded load test (fixed requests, a few clients), its report

Headless: never imports :mod:`course_utils.views`. May import :mod:`course_utils.errors`, :mod:`course_utils.paths`,
:mod:`course_utils.onnxfile`, :mod:`course_utils.models`, :mod:`course_utils.runtime`, :mod:`course_utils.versions`,
:mod:`course_utils.bench`, :mod:`course_utils.machine`.
"""

from __future__ import annotations

__all__: list[str] = []
