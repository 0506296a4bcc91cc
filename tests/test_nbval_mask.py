"""The nbval float mask is scoped: only measured floats (printed ``≈1.4e-06``) are masked.

A tiny notebook made here prints one parity report in several cells; each cell's stored output is the real
output with one edit. nbval (strict, with ``tests/nbval_sanitize.cfg``) must fail the cells whose edit changes a
tolerance, a count or an exact (label) difference, and pass the cell whose edit changes only a measured float.
One kernel, one pytest run: a few seconds.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import nbformat
import numpy as np
import pytest

from course_utils.onnxfile.render import MEASURED_MARK, measurement
from course_utils.onnxfile.verify import compare_outputs
from course_utils.paths import REPO_ROOT

SANITIZE = REPO_ROOT / "tests" / "nbval_sanitize.cfg"

SETUP = """\
import numpy as np
from course_utils.onnxfile.verify import compare_outputs

expected = {"label": np.array([1, 2, 3]), "y": np.array([1.0, 2.0], dtype=np.float32)}
actual = {"label": np.array([1, 2, 6]), "y": np.array([1.0, 2.0 + 2.0**-21], dtype=np.float32)}
report = compare_outputs(expected, actual)"""


def _report_text() -> str:
    """What the notebook's ``print(report)`` prints (the same code, run here)."""
    expected = {"label": np.array([1, 2, 3]), "y": np.array([1.0, 2.0], dtype=np.float32)}
    actual = {"label": np.array([1, 2, 6]), "y": np.array([1.0, 2.0 + 2.0**-21], dtype=np.float32)}
    return str(compare_outputs(expected, actual)) + "\n"


def _one_edit(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, f"{old!r} should occur once in:\n{text}"
    return text.replace(old, new)


def test_measurement_marks_floats_only():
    assert measurement(1.44e-6) == f"{MEASURED_MARK}1.4e-06"
    assert measurement(None) == "-" and measurement(float("nan")) == "nan"


def test_nbval_catches_changed_tolerance_count_and_label_but_not_a_measured_float(tmp_path: Path):
    text = _report_text()
    measured = re.findall(rf"{MEASURED_MARK}\d\.\de[-+]\d\d", text)
    assert measured, f"the float output's errors should be marked as measured:\n{text}"
    variants = {
        "unchanged": text,
        "measured float": _one_edit(text, measured[0], f"{MEASURED_MARK}9.9e-01"),
        "tolerance": _one_edit(text, "1.0e-04, 1.0e-05", "1.0e-04, 1.0e-02"),
        "count": _one_edit(text, "(2 of 2 output(s) compared)", "(1 of 2 output(s) compared)"),
        "label difference": _one_edit(text, " 3.0e+00 ", " 1.0e+00 "),
    }
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_code_cell(SETUP, execution_count=1))
    for count, stored in enumerate(variants.values(), start=2):
        output = nbformat.v4.new_output("stream", name="stdout", text=stored)
        nb.cells.append(nbformat.v4.new_code_cell("print(report)", execution_count=count, outputs=[output]))
    path = tmp_path / "mask_probe.ipynb"
    nbformat.write(nb, path)

    junit = tmp_path / "junit.xml"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))}
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            str(path),
            "--nbval",
            "--nbval-current-env",
            "--nbval-sanitize-with",
            str(SANITIZE),
            "-p",
            "no:cacheprovider",
            "-q",
            f"--junitxml={junit}",
            "--rootdir",
            str(tmp_path),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if not junit.exists():
        pytest.fail(f"nbval did not run:\n{run.stdout}\n{run.stderr}")
    cases = ET.parse(junit).getroot().iter("testcase")
    failed = {
        int(m.group(1))
        for c in cases
        if c.find("failure") is not None
        for m in [re.search(r"Cell (\d+)", c.get("name", ""))]
        if m
    }
    outcome = {name: (i + 1 in failed) for i, name in enumerate(variants)}
    assert outcome == {
        "unchanged": False,
        "measured float": False,
        "tolerance": True,
        "count": True,
        "label difference": True,
    }, run.stdout[-3000:]
