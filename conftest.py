"""Root test setup (applies to tests/ and notebooks/): every kernel nbval starts inherits the notebook environment;
parallel runs (pytest-xdist) size their workers and keep each lesson on one worker, longest units first."""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pytest

from course_utils._notebook_env import apply_notebook_env
from course_utils.machine import parallel_processes

apply_notebook_env()

# Tests run side by side (pytest-xdist workers, each with notebook kernels and child processes) on few cores: an
# OpenMP thread that spins while it waits for work (PyTorch's intra-op pool) takes the core another process needs.
# Waiting threads sleep instead; results are the same (it changes scheduling only), kernels inherit it.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

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


# --- Parallel runs: pytest-xdist (./course test passes -n auto --dist loadfile) ---------------------------------
# The suite runs on several worker processes. A work unit runs whole on one worker, in collection order: a file,
# or a lesson (its notebook, whose cells share one kernel, with tests/test_lessonNN.py: both write artifacts/NN/).
# Units are handed out longest first, so the workers finish together: a unit never measured (a new file) first, as
# it may be long, then by measured duration: this checkout's earlier runs (.pytest_cache, per test), else
# tests/unit_seconds.json (committed: a fresh clone, CI). COURSE_TEST_WORKERS=1 runs everything in this process, one test after another.

#: Memory a worker may need at once: its pytest process with models loaded, plus a notebook kernel (a lesson may
#: take 1.5 GB) or a Chromium with a JupyterLab server.
TEST_WORKER_MEMORY = 3 * 1024**3
#: More workers than this gain little on this suite (a dozen notebooks of 20-70 s each set the pace) and each
#: would start its own JupyterLab servers and Chromium.
MOST_TEST_WORKERS = 4
_TEST_SECONDS_KEY = "course/test_seconds"
_UNIT_SECONDS_KEY = "course/unit_seconds"
#: Each unit's seconds in a measured full run (refresh: copy .pytest_cache/v/course/unit_seconds into "seconds").
UNIT_SECONDS_FILE = Path(__file__).parent / "tests" / "unit_seconds.json"
_LESSON_FILE = re.compile(r"(?:test_lesson(\d\d)\.py|(\d\d)_\w*\.ipynb)")


def worker_count(environ: Mapping[str, str] = os.environ) -> int:
    """How many pytest-xdist workers ``-n auto`` starts: ``COURSE_TEST_WORKERS`` when set, else one per usable CPU
    as far as the available memory holds :data:`TEST_WORKER_MEMORY` each, at most :data:`MOST_TEST_WORKERS`.
    ``0`` (for one worker) runs the tests in pytest's own process: no worker to start, ``--pdb`` works."""
    wanted = environ.get("COURSE_TEST_WORKERS", "").strip()
    if wanted:
        if not wanted.isdigit():
            raise pytest.UsageError(
                f"COURSE_TEST_WORKERS must be a whole number (1: one test at a time), got {wanted!r}"
            )
        count = int(wanted)
    else:
        count = parallel_processes(TEST_WORKER_MEMORY, most=MOST_TEST_WORKERS)
    return count if count > 1 else 0


def work_unit(nodeid: str) -> str:
    """The work unit a test belongs to: ``lesson NN`` for ``notebooks/NN_*.ipynb`` and ``tests/test_lessonNN.py``,
    else its file."""
    path = nodeid.split("::", 1)[0]
    match = _LESSON_FILE.fullmatch(path.rsplit("/", 1)[-1])
    return f"lesson {match.group(1) or match.group(2)}" if match else path


@pytest.hookimpl(optionalhook=True, tryfirst=True)
def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    return worker_count()


@pytest.hookimpl(optionalhook=True, tryfirst=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    if config.getoption("dist") != "loadfile":
        return None  # another --dist chosen on the command line: xdist's own
    from xdist.scheduler import LoadFileScheduling

    cache = getattr(config, "cache", None)
    measured: dict[str, float] = cache.get(_TEST_SECONDS_KEY, {}) if cache is not None else {}
    committed = committed_unit_seconds()

    class LessonScheduling(LoadFileScheduling):  # type: ignore[misc]
        """loadfile, with a lesson's notebook and tests in one unit, and the longest units handed out first."""

        _ordered = False

        def _split_scope(self, nodeid: str) -> str:
            return work_unit(nodeid)

        def _assign_work_unit(self, node: Any) -> None:
            if not self._ordered:  # once, before the first unit leaves: longest first (a stable sort)
                self._ordered = True
                units = sorted(
                    self.workqueue.items(), key=lambda unit: -unit_cost(unit[0], unit[1], measured, committed)
                )
                self.workqueue.clear()
                self.workqueue.update(units)
            super()._assign_work_unit(node)

    return LessonScheduling(config, log)


def committed_unit_seconds(path: Path = UNIT_SECONDS_FILE) -> dict[str, float]:
    """The committed durations (:data:`UNIT_SECONDS_FILE`), or none where the file is missing or damaged: the
    order only decides how evenly the workers finish, never what runs."""
    try:
        seconds = json.loads(path.read_text(encoding="utf-8"))["seconds"]
        return {str(unit): float(value) for unit, value in seconds.items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}


def unit_cost(
    unit: str, nodeids: Iterable[str], measured: Mapping[str, float], committed: Mapping[str, float]
) -> float:
    """The sort key of a unit, longest first: the sum of its tests' seconds measured in this checkout's runs
    (tests never measured count 0), else the committed seconds of the unit, else infinity (never measured: it
    may be long, so it starts first)."""
    known = [measured[nodeid] for nodeid in nodeids if nodeid in measured]
    if known:
        return float(sum(known))
    return committed.get(unit, math.inf)


_measured: dict[str, float] = {}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    _measured[report.nodeid] = _measured.get(report.nodeid, 0.0) + report.duration  # setup + call + teardown


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Keep each test's duration for the next run's order (the controller's or a serial run's view: every report
    passes through it; workers keep nothing). A run of a few tests updates just those; each unit's sum is kept
    too, the form of tests/unit_seconds.json."""
    config = session.config
    cache = getattr(config, "cache", None)
    if hasattr(config, "workerinput") or cache is None or not _measured:
        return
    known = {**cache.get(_TEST_SECONDS_KEY, {}), **{nodeid: round(s, 3) for nodeid, s in _measured.items()}}
    cache.set(_TEST_SECONDS_KEY, known)
    units: dict[str, float] = {}
    for nodeid, seconds in known.items():
        units[work_unit(nodeid)] = units.get(work_unit(nodeid), 0.0) + seconds
    cache.set(_UNIT_SECONDS_KEY, {unit: round(seconds) for unit, seconds in sorted(units.items(), key=lambda u: -u[1])})


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Measured times a test reports with ``record_property("timing", line)`` (the Netron and hub browser tests),
    listed after the run: a print from a pytest-xdist worker would never reach the terminal."""
    lines = [
        str(value)
        for stat in ("passed", "failed")
        for report in terminalreporter.stats.get(stat, [])
        for name, value in getattr(report, "user_properties", [])
        if name == "timing"
    ]
    if lines:
        terminalreporter.write_sep("-", "timings measured by the tests")
        for line in lines:
            terminalreporter.write_line(line)
