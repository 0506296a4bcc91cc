"""Root test setup (applies to tests/ and notebooks/): every kernel nbval starts inherits the notebook environment."""

from __future__ import annotations

import os

from course_utils._notebook_env import apply_notebook_env

apply_notebook_env()

# onnxruntime_extensions sets PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION=python in os.environ when it is imported (its
# cvt module), so every process started afterwards (notebook kernels, the tf2onnx command line) would run protobuf's
# slow pure-Python code and tf2onnx would log a warning nbval compares. Each test starts with this run's choice.
_PROTOBUF = "PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION"
_PROTOBUF_CHOICE = os.environ.get(_PROTOBUF)


def pytest_runtest_setup() -> None:
    if _PROTOBUF_CHOICE is None:
        os.environ.pop(_PROTOBUF, None)
    else:
        os.environ[_PROTOBUF] = _PROTOBUF_CHOICE
