"""Root test setup (applies to tests/ and notebooks/): every kernel nbval starts inherits the notebook environment;
parallel runs (pytest-xdist) size their workers and keep each lesson on one worker, longest units first."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

import pytest

from course_utils._notebook_env import apply_notebook_env
from course_utils.machine import parallel_processes

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


# --- Parallel runs: pytest-xdist (./course test passes -n auto --dist loadfile) ---------------------------------
# The suite runs on several worker processes. A work unit runs whole on one worker, in collection order: a file,
# or a lesson (its notebook, whose cells share one kernel, with tests/test_lessonNN.py: both write artifacts/NN/).
# Units start longest first (their durations in the last run, kept in .pytest_cache), so the workers finish
# together. COURSE_TEST_WORKERS=1 runs everything in this process, one test after another.

#: Memory a worker may need at once: its pytest process with models loaded, plus a notebook kernel (a lesson may
#: take 1.5 GB) or a Chromium with a JupyterLab server.
TEST_WORKER_MEMORY = 3 * 1024**3
#: More workers than this gain little on this suite (a dozen notebooks of 20-70 s each set the pace) and each
#: would start its own JupyterLab servers and Chromium.
MOST_TEST_WORKERS = 4
_UNIT_SECONDS_KEY = "course/unit_seconds"
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
    seconds: dict[str, float] = cache.get(_UNIT_SECONDS_KEY, {}) if cache is not None else {}

    class LessonScheduling(LoadFileScheduling):  # type: ignore[misc]
        """loadfile, with a lesson's notebook and tests in one unit, and the longest units handed out first."""

        _ordered = False

        def _split_scope(self, nodeid: str) -> str:
            return work_unit(nodeid)

        def _assign_work_unit(self, node: Any) -> None:
            if not self._ordered:  # once, before the first unit leaves: longest first (a stable sort)
                self._ordered = True
                units = sorted(self.workqueue.items(), key=lambda unit: -unit_cost(unit[0], len(unit[1]), seconds))
                self.workqueue.clear()
                self.workqueue.update(units)
            super()._assign_work_unit(node)

    return LessonScheduling(config, log)


def unit_cost(unit: str, tests: int, seconds: Mapping[str, float]) -> float:
    """A unit's expected seconds: its duration in the last run where known, else a rough guess (a lesson's
    notebook and the browser tests take tens of seconds; other files a fraction of a second per test)."""
    if unit in seconds:
        return float(seconds[unit])
    if unit.startswith("lesson ") or "/browser/" in unit:
        return 30.0 + tests * 0.5
    return tests * 0.1


_measured: dict[str, float] = {}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    unit = work_unit(report.nodeid)
    _measured[unit] = _measured.get(unit, 0.0) + report.duration


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Keep each unit's duration for the next run's order (the controller's or a serial run's view: every
    report passes through it; workers keep nothing)."""
    config = session.config
    cache = getattr(config, "cache", None)
    if hasattr(config, "workerinput") or cache is None or not _measured:
        return
    known = dict(cache.get(_UNIT_SECONDS_KEY, {}))
    known.update({unit: round(seconds, 1) for unit, seconds in _measured.items()})
    cache.set(_UNIT_SECONDS_KEY, known)
