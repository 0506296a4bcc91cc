"""Deployment: shipping a model out of the notebook (ORT format for mobile and edge, the browser, Node.js, a model
server, a CI gate). Headless: never imports :mod:`course_utils.views` or widgets.

* :mod:`~course_utils.deploy.ort_format`  ``.onnx`` → ``.ort`` with ONNX Runtime's converter, and ``.ort`` files read back

May import: :mod:`course_utils.errors`, :mod:`course_utils.paths`, :mod:`course_utils.onnxfile`,
:mod:`course_utils.models`, :mod:`course_utils.runtime`, :mod:`course_utils.versions`, :mod:`course_utils.bench`,
:mod:`course_utils.machine`.
"""

from __future__ import annotations

__all__: list[str] = []
