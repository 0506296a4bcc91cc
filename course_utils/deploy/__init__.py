"""Shipping a model: the browser, Node.js, ORT format, a model server, other languages, a CI gate for models.

* :mod:`~course_utils.deploy.npm`   Node.js and the course's npm packages (onnxruntime-web, onnxruntime-node):
  ``js_packages_dir()``, ``node_available()``, ``run_node(script, *args)``
* :mod:`~course_utils.deploy.node`  models in Node.js: ``npm_load_errors`` (does onnxruntime-web/-node load it?),
  ``run_in_node`` (outputs of a ``.onnx``/``.ort`` file from onnxruntime-node)
* :mod:`~course_utils.deploy.web`   the classifier page onnxruntime-web runs in the learner's browser, served by the
  kernel's loopback server (headless: what is served and where; the view is ``views.web_classifier``)
* :mod:`~course_utils.deploy.ort_format`  ORT format: ``convert_to_ort`` (ONNX Runtime's converter, Fixed or Runtime
  style) and ``read_ort_file`` (an ``.ort`` file's format version, operators, saved optimizations)
* :mod:`~course_utils.deploy.server`  ``serve_model``: one InferenceSession behind FastAPI + uvicorn on 127.0.0.1
  (TensorFlow Serving's REST routes, one-line 4xx reasons), stopped without leaked threads; ``serve_app`` (not
  imported here: it imports FastAPI)
* :mod:`~course_utils.deploy.loadtest`  ``load_test``: a bounded load test (fixed requests, a few clients), its report
* :mod:`~course_utils.deploy.capi`  ``c_api``: the wheel's C API library through ctypes (``OrtGetApiBase``)
* :mod:`~course_utils.deploy.gate`  ``write_reference`` and ``run_gate``: checker, target compatibility, parity
  against stored outputs and a latency budget, one line each and a verdict (``python -m course_utils.gate``)

Headless: never imports :mod:`course_utils.views` or widgets. May import :mod:`course_utils.errors`,
:mod:`course_utils.paths`, :mod:`course_utils.onnxfile`, :mod:`course_utils.models`, :mod:`course_utils.runtime`,
:mod:`course_utils.versions`, :mod:`course_utils.bench`, :mod:`course_utils.machine`. The npm packages live
outside the Python package, in the course's ``deploy/js`` folder (``package.json``, ``package-lock.json``, the
scripts Node.js runs, and the git-ignored ``node_modules``), because Node.js resolves a script's imports from the
script's own folder.
"""

from __future__ import annotations

from course_utils.deploy.capi import c_api
from course_utils.deploy.gate import run_gate, write_reference
from course_utils.deploy.loadtest import load_table, load_test
from course_utils.deploy.node import npm_load_errors, run_in_node
from course_utils.deploy.npm import js_packages_dir, node_available, run_node
from course_utils.deploy.ort_format import convert_to_ort, read_ort_file
from course_utils.deploy.web import ClassifierPage, classifier_page, digits_input, photo_input

__all__ = [
    "ClassifierPage",
    "c_api",
    "classifier_page",
    "convert_to_ort",
    "digits_input",
    "js_packages_dir",
    "load_table",
    "load_test",
    "node_available",
    "npm_load_errors",
    "photo_input",
    "read_ort_file",
    "run_gate",
    "run_in_node",
    "run_node",
    "write_reference",
]
