"""course_utils.deploy.capi: the wheel's C API library, reached with ctypes, says the Python package's version."""

from __future__ import annotations

import sys

import onnxruntime
import pytest

from course_utils.deploy.capi import c_api, c_library_path, mapped_onnxruntime_libraries


def test_the_c_library_reports_the_python_packages_version():
    api = c_api()
    assert api.library == c_library_path() and api.library.parent.name == "capi"
    assert api.version == onnxruntime.__version__
    assert api.api_version == int(onnxruntime.__version__.split(".")[1]) and api.api_table


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/maps")
def test_mapped_libraries_include_the_c_library_once_loaded():
    c_api()
    mapped = mapped_onnxruntime_libraries()
    assert mapped is not None and c_library_path().name in mapped
