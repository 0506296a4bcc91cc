"""The test suite on several cores (pytest-xdist): ``./course test`` asks for workers, the root conftest.py sizes
them and keeps each lesson on one worker, and cached artifacts stay whole when two processes build them at once.

No timing is asserted here: how much faster the parallel run is was measured (README, the test command section).
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from types import ModuleType

import onnx
import pytest

from course_utils.paths import REPO_ROOT, atomic_output, build_once

COURSE_ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")])}


@pytest.fixture(scope="module")
def root_conftest() -> ModuleType:
    """The repository's root conftest.py as a module of its own (pytest loaded it as a plugin already)."""
    spec = importlib.util.spec_from_file_location("root_conftest_under_test", REPO_ROOT / "conftest.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ------------------------------------------------------------------------------------------- how many workers


def test_one_worker_means_no_worker_process(root_conftest: ModuleType) -> None:
    assert root_conftest.worker_count({"COURSE_TEST_WORKERS": "1"}) == 0  # pytest's own process runs every test
    assert root_conftest.worker_count({"COURSE_TEST_WORKERS": "0"}) == 0
    assert root_conftest.worker_count({"COURSE_TEST_WORKERS": " 3 "}) == 3


@pytest.mark.parametrize("value", ["two", "-1", "1.5"])
def test_a_worker_count_that_is_not_a_number_is_refused(root_conftest: ModuleType, value: str) -> None:
    with pytest.raises(pytest.UsageError, match="COURSE_TEST_WORKERS must be a whole number"):
        root_conftest.worker_count({"COURSE_TEST_WORKERS": value})


def test_workers_follow_cpus_and_memory(root_conftest: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[tuple[int, int]] = []

    def fake(memory_each: int, *, most: int) -> int:
        asked.append((memory_each, most))
        return 2

    monkeypatch.setattr(root_conftest, "parallel_processes", fake)
    assert root_conftest.worker_count({}) == 2
    assert asked == [(root_conftest.TEST_WORKER_MEMORY, root_conftest.MOST_TEST_WORKERS)]
    monkeypatch.setattr(root_conftest, "parallel_processes", lambda memory_each, most: 1)
    assert root_conftest.worker_count({}) == 0  # a one-CPU (or small-memory) machine runs serially


# ------------------------------------------------------------------------------------------- what runs together


@pytest.mark.parametrize(
    ("nodeid", "unit"),
    [
        ("notebooks/02_export_pytorch.ipynb::Cell 0", "lesson 02"),
        ("notebooks/02_export_pytorch.ipynb::Cell 47", "lesson 02"),
        ("tests/test_lesson02.py::test_solutions_pass[02.1]", "lesson 02"),
        ("notebooks/00_setup_check.ipynb::Cell 1", "lesson 00"),
        ("notebooks/12_capstone_photo_classifier.ipynb::Cell 3", "lesson 12"),
        ("tests/test_bench.py::test_cli_errors_are_one_line", "tests/test_bench.py"),
        ("tests/browser/test_netron_browser.py::test_x", "tests/browser/test_netron_browser.py"),
        ("tests/test_lesson_structure.py::test_x", "tests/test_lesson_structure.py"),
    ],
)
def test_a_lessons_notebook_and_tests_are_one_unit(root_conftest: ModuleType, nodeid: str, unit: str) -> None:
    assert root_conftest.work_unit(nodeid) == unit


def test_units_are_ordered_by_measured_seconds_and_new_ones_first(root_conftest: ModuleType) -> None:
    cost = root_conftest.unit_cost
    ids = ["tests/test_bench.py::test_a", "tests/test_bench.py::test_b"]
    committed = {"tests/test_bench.py": 40.0, "lesson 07": 60.0}
    # This checkout's own measurements of the unit's tests come first (a test not measured yet counts 0) ...
    assert cost("tests/test_bench.py", ids, {ids[0]: 2.5, "tests/other.py::t": 9.0}, committed) == 2.5
    # ... else the committed seconds of the unit; a unit never measured may be long: it starts first.
    assert cost("tests/test_bench.py", ids, {}, committed) == 40.0
    assert cost("tests/test_new.py", ["tests/test_new.py::t"], {}, committed) == float("inf")


def test_the_committed_durations_are_readable_and_name_real_units(root_conftest: ModuleType) -> None:
    committed = root_conftest.committed_unit_seconds()
    assert committed, f"{root_conftest.UNIT_SECONDS_FILE} is missing or damaged"
    for unit in committed:
        path = REPO_ROOT / unit
        assert unit.startswith("lesson ") or path.is_file(), f"{unit}: no such file (refresh unit_seconds.json)"


def test_damaged_committed_durations_mean_none(root_conftest: ModuleType, tmp_path: Path) -> None:
    for text in ("", "[1, 2]", '{"seconds": {"a": "b"}}', '{"about": "no seconds"}'):
        (tmp_path / "u.json").write_text(text)
        assert root_conftest.committed_unit_seconds(tmp_path / "u.json") == {}


SUITE = {
    "rec.py": """
        import os
        def record(unit):
            with open(os.environ["RAN_LOG"], "a") as out:
                out.write(f"{unit} {os.environ.get('PYTEST_XDIST_WORKER', 'main')}\\n")
    """,
    "test_lesson05.py": """
        from rec import record
        def test_a(): record("lesson05")
        def test_b(): record("lesson05")
        def test_c(): record("lesson05")
    """,
    "test_slow.py": """
        import time
        from rec import record
        def test_slow(): time.sleep(0.5); record("slow")
    """,
    **{f"test_quick{k}.py": f"from rec import record\ndef test_q(): record('quick{k}')\n" for k in range(4)},
}


def test_two_workers_keep_a_unit_on_one_worker_and_learn_durations(tmp_path: Path) -> None:
    """A real xdist run with the root conftest on a small suite: every test of a unit runs on one worker, and the
    run leaves each unit's duration for the next run's order."""
    project = tmp_path / "project"
    (project / "tests").mkdir(parents=True)
    (project / "conftest.py").write_text((REPO_ROOT / "conftest.py").read_text())
    (project / "pytest.ini").write_text("[pytest]\n")  # the project's root, as the course's pyproject.toml is
    log = tmp_path / "ran.txt"
    for name, source in SUITE.items():
        (project / "tests" / name).write_text(textwrap.dedent(source))
    # Only xdist among the installed plugins: each worker starts in a fraction of a second instead of seconds.
    env = {**COURSE_ENV, "COURSE_TEST_WORKERS": "2", "RAN_LOG": str(log), "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    command = [sys.executable, "-m", "pytest", "-p", "xdist", "-n", "auto", "--dist", "loadfile", "-q", "tests"]
    result = subprocess.run(command, cwd=project, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    ran = [line.split() for line in log.read_text().splitlines()]
    assert len(ran) == 8
    assert len({worker for unit, worker in ran}) == 2, ran  # both workers got work
    assert len({worker for unit, worker in ran if unit == "lesson05"}) == 1, ran  # the unit stayed whole
    cache = project / ".pytest_cache" / "v" / "course"
    units = json.loads((cache / "unit_seconds").read_text())
    assert set(units) == {"lesson 05", "tests/test_slow.py", *(f"tests/test_quick{k}.py" for k in range(4))}
    assert json.loads((cache / "test_seconds").read_text())["tests/test_slow.py::test_slow"] >= 0.5


# ------------------------------------------------------------------------------------- shared cached artifacts


def test_atomic_output_replaces_whole_or_not_at_all(tmp_path: Path) -> None:
    target = tmp_path / "model.onnx"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError), atomic_output(target) as partial:
        partial.write_bytes(b"half")
        raise RuntimeError("the build failed half way")
    assert target.read_bytes() == b"old" and sorted(tmp_path.iterdir()) == [target]  # no partial file left
    with atomic_output(target) as partial:
        assert partial.parent == target.parent and partial.suffix == ".onnx" and partial != target
        partial.write_bytes(b"new")
        assert target.read_bytes() == b"old"  # readers see the old file until the new one is whole
    assert target.read_bytes() == b"new" and sorted(tmp_path.iterdir()) == [target]


def test_build_once_builds_once_for_threads_asking_together(tmp_path: Path) -> None:
    target = tmp_path / "cache" / "value.txt"
    builds: list[int] = []
    start = threading.Barrier(4)

    def build(partial: Path) -> None:
        builds.append(1)
        partial.write_text("built")

    def ask() -> None:
        start.wait()
        build_once(target, build)

    threads = [threading.Thread(target=ask) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert builds == [1] and target.read_text() == "built"
    build_once(target, build, force=True)
    assert builds == [1, 1]


_EXPORT_CHILD = """
import sys, time
from pathlib import Path
from course_utils.models import registry

log, go = Path(sys.argv[1]), Path(sys.argv[2])
real_export = registry.export

def export(name, path, options=None):
    with log.open("a") as out:
        out.write(f"export {name}\\n")
    return real_export(name, path, options)

registry.export = export
while not go.exists():  # both children start the export at the same moment
    time.sleep(0.01)
print(registry.onnx_path("digits_cnn"))
"""


def test_two_processes_asking_for_the_same_registry_export_get_one_valid_file(tmp_path: Path) -> None:
    artifacts, log, go = tmp_path / "artifacts", tmp_path / "exports.log", tmp_path / "go"
    env = {**COURSE_ENV, "COURSE_ARTIFACTS_DIR": str(artifacts)}
    children = [
        subprocess.Popen(
            [sys.executable, "-c", _EXPORT_CHILD, str(log), str(go)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    go.touch()
    results = [child.communicate(timeout=300) for child in children]
    assert [child.returncode for child in children] == [0, 0], results
    paths_printed = {stdout.strip().splitlines()[-1] for stdout, _ in results}
    assert len(paths_printed) == 1  # the same cached file for both
    model = Path(paths_printed.pop())
    assert model.parent == artifacts / "models"
    onnx.checker.check_model(onnx.load(str(model)), full_check=True)  # whole, valid
    assert log.read_text().splitlines() == ["export digits_cnn"]  # built once: the other waited and reused it
    assert sorted(p.name for p in model.parent.iterdir() if p.suffix == ".onnx") == [model.name]  # no partial left
