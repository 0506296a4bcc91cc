"""Learner progress: what a check records, where, how it is turned off and deleted, and what the learner and the
instructor read back (course_utils.classroom.progress and .report; python -m course_utils.progress)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from course_utils.classroom import progress
from course_utils.classroom.progress import (
    CheckRecord,
    NotAProgressFileError,
    course_exercises,
    my_progress,
    read_records,
    record_check,
    summarize,
)
from course_utils.classroom.report import class_report, find_progress_files
from course_utils.lessons.lesson00 import acronym
from course_utils.paths import REPO_ROOT

RIGHT, WRONG = "Open Neural Network Exchange", "Open Network Format"


@pytest.fixture
def progress_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "home" / ".onnx-course" / "progress.jsonl"
    monkeypatch.setenv(progress.FILE_ENV, str(path))
    monkeypatch.delenv(progress.SWITCH_ENV, raising=False)
    monkeypatch.setattr(acronym, "_hints_shown", 0)
    return path


def test_tests_and_notebooks_never_record_into_the_real_home() -> None:
    # The root conftest applies the notebook environment: checks go to the null device.
    assert os.environ[progress.FILE_ENV] == os.devnull
    assert progress.progress_file() == Path(os.devnull)
    record_check("00.1", True)  # appends to the null device, and nothing breaks
    assert read_records() == []


def test_each_check_is_recorded_with_attempts_and_hints(progress_file: Path) -> None:
    assert not progress_file.exists()
    assert not acronym.check(WRONG).passed
    acronym.hint()
    acronym.hint()
    assert acronym.check(RIGHT).passed
    lines = [json.loads(line) for line in progress_file.read_text().splitlines()]
    assert [(r["exercise"], r["passed"], r["attempt"], r["hints"]) for r in lines] == [
        ("00.1", False, 1, 0),
        ("00.1", True, 2, 2),
    ]
    assert all(r["v"] == 1 and r["time"].endswith("Z") for r in lines)
    assert summarize(read_records(progress_file)) == {"00.1": progress.Attempts("00.1", True, 2, 2)}


def test_a_reference_solution_run_is_not_the_learners_attempt(progress_file: Path) -> None:
    assert acronym.run_solution({"acronym": acronym}).passed
    assert not progress_file.exists()


@pytest.mark.parametrize("off", ["0", "off", "false", "NO"])
def test_recording_can_be_turned_off(progress_file: Path, monkeypatch: pytest.MonkeyPatch, off: str) -> None:
    monkeypatch.setenv(progress.SWITCH_ENV, off)
    assert acronym.check(RIGHT).passed  # the check works the same
    assert not progress_file.exists()
    assert "Recording is off" in str(my_progress())


def test_an_unwritable_home_never_breaks_a_check(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    monkeypatch.setenv(progress.FILE_ENV, str(blocker / "progress.jsonl"))  # its folder is a file
    assert acronym.check(RIGHT).passed


def test_later_checks_after_a_pass_do_not_count() -> None:
    records = [
        CheckRecord("02.1", False, 1, 0, "t"),
        CheckRecord("02.1", True, 2, 1, "t"),
        CheckRecord("02.1", False, 3, 3, "t"),  # trying again later changes nothing
        CheckRecord("01.1", False, 1, 2, "t"),
    ]
    assert list(summarize(records).values()) == [
        progress.Attempts("01.1", False, 1, 2),
        progress.Attempts("02.1", True, 2, 1),
    ]


def test_the_course_exercises_are_read_without_importing_the_lessons() -> None:
    from course_utils.lessons.exercises import EXERCISES, exercises_of

    found = course_exercises()
    assert found["00"] == ["00.1"] and found["02"][0] == "02.1"
    for lesson in ("00", "01"):
        __import__(f"course_utils.lessons.lesson{lesson}")
        assert found[lesson] == [e.id for e in exercises_of(lesson)]
    assert sum(map(len, found.values())) >= len([e for e in EXERCISES if e.startswith(("00.", "01."))])


def test_my_progress_without_a_file_is_one_fixed_line(progress_file: Path) -> None:
    report = my_progress()
    assert str(report) == (
        "No exercise checked yet: once you run an exercise's check(...), this shows, per lesson, what you passed."
    )
    assert "No exercise checked yet" in report._repr_html_()


def test_my_progress_per_lesson(progress_file: Path) -> None:
    progress_file.parent.mkdir(parents=True)
    records = [
        CheckRecord("00.1", True, 1, 0, "t"),
        CheckRecord("02.1", False, 1, 1, "t"),
        CheckRecord("02.2", True, 1, 0, "t"),
    ]
    progress_file.write_text("".join(r.to_json() + "\n" for r in records))
    text = str(my_progress())
    assert text.splitlines()[0].startswith("Your progress: 2 of ")
    assert "1 lesson complete" in text
    rows = [line.split() for line in text.splitlines()[3:]]
    assert rows[0] == ["00", "complete", "00.1", "-", "1", "0"]
    assert rows[1][:5] == ["02", "1", "of", "5", "passed"] and rows[1][5:] == ["02.2", "02.1", "2", "1"]


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ('{"cells": []}\n', "fields must be exactly"),  # a notebook
        ("hello\n", "not JSON"),
        ('{"v": 1, "exercise": "02.1", "passed": "yes", "attempt": 1, "hints": 0, "time": "t"}\n', "'passed'"),
        ('{"v": 1, "exercise": "rm -rf", "passed": true, "attempt": 1, "hints": 0, "time": "t"}\n', "exercise id"),
        ('{"v": 1, "exercise": "02.1", "passed": true, "attempt": true, "hints": 0, "time": "t"}\n', "'attempt'"),
    ],
)
def test_anything_but_a_progress_record_is_refused(tmp_path: Path, content: str, problem: str) -> None:
    path = tmp_path / "progress.jsonl"
    path.write_text(CheckRecord("00.1", True, 1, 0, "t").to_json() + "\n" + content)
    with pytest.raises(NotAProgressFileError, match="line 2") as error:
        read_records(path)
    assert problem in str(error.value) and "\n" not in str(error.value)


def test_delete_removes_the_file_and_only_a_progress_file(progress_file: Path, tmp_path: Path) -> None:
    assert "nothing to delete" in progress.delete_progress()
    acronym.check(WRONG)
    assert progress.delete_progress() == f"Deleted {progress_file} (1 recorded check)."
    assert not progress_file.exists() and not progress_file.parent.exists()
    other = tmp_path / "notes.txt"
    other.write_text("my notes\n")
    with pytest.raises(NotAProgressFileError):
        progress.delete_progress(other)
    assert other.exists()


def _write(home: Path, records: list[CheckRecord]) -> None:
    path = home / ".onnx-course" / "progress.jsonl"
    path.parent.mkdir(parents=True)
    path.write_text("".join(r.to_json() + "\n" for r in records))


@pytest.fixture
def homes(tmp_path: Path) -> Path:
    folder = tmp_path / "home"
    _write(folder / "ana", [CheckRecord("00.1", True, 1, 0, "t"), CheckRecord("01.1", False, 1, 0, "t")])
    _write(
        folder / "ben",
        [
            CheckRecord("00.1", False, 1, 1, "t"),
            CheckRecord("00.1", False, 2, 2, "t"),
            CheckRecord("00.1", True, 3, 3, "t"),
        ],
    )
    _write(folder / "cleo", [CheckRecord("00.1", False, 1, 0, "t")])
    (folder / "dan").mkdir()  # logged in, checked nothing
    return folder


def test_the_class_report_counts_per_exercise_and_learner(homes: Path) -> None:
    report = class_report([homes])
    assert report.exercise_rows() == [["00.1", "3", "2", "67%", "1", "0"], ["01.1", "1", "0", "0%", "1", "0"]]
    assert report.learner_rows() == [["ana", "00", "1", "2"], ["ben", "00", "1", "3"], ["cleo", "-", "0", "1"]]
    assert "3 learners" in str(report) and "<table" in report._repr_html_()


def test_homes_and_files_name_the_same_learner(homes: Path) -> None:
    by_folder = find_progress_files([homes])
    by_home = find_progress_files([homes / "ana", homes / "ben" / ".onnx-course" / "progress.jsonl"])
    assert sorted(by_folder) == ["ana", "ben", "cleo"] and sorted(by_home) == ["ana", "ben"]


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "course_utils.progress", *args], capture_output=True, text=True, cwd=REPO_ROOT, env=env
    )


def test_the_instructor_command_prints_and_writes_csv(homes: Path, tmp_path: Path) -> None:
    run = _cli("--class", str(homes), "--csv", str(tmp_path / "csv"))
    assert run.returncode == 0, run.stderr
    assert "00.1      3      2       67%           1              0" in run.stdout
    assert (tmp_path / "csv" / "learners.csv").read_text().splitlines() == [
        "learner,lessons completed,exercises passed,checks",
        "ana,00,1,2",
        "ben,00,1,3",
        "cleo,-,0,1",
    ]


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("README.md", "is not a progress file"),
        ("notebooks", "holds no progress files"),
        ("no/such/folder", "does not exist"),
    ],
)
def test_the_instructor_command_refuses_anything_else(target: str, message: str, tmp_path: Path) -> None:
    run = _cli("--class", str(REPO_ROOT / target), "--csv", str(tmp_path / "csv"))
    assert run.returncode == 2 and run.stdout == ""
    assert run.stderr.count("\n") == 1 and message in run.stderr, run.stderr
    assert not (tmp_path / "csv").exists()


def test_a_damaged_progress_file_is_refused_with_its_line(homes: Path, tmp_path: Path) -> None:
    with (homes / "ana" / ".onnx-course" / "progress.jsonl").open("a") as out:
        out.write("{not json\n")
    run = _cli("--class", str(homes), "--csv", str(tmp_path / "csv"))
    assert run.returncode == 2 and "line 3" in run.stderr and run.stderr.count("\n") == 1


def test_the_learner_command_prints_and_deletes(tmp_path: Path) -> None:
    path = tmp_path / "p.jsonl"
    path.write_text(CheckRecord("00.1", True, 1, 0, "t").to_json() + "\n")
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), progress.FILE_ENV: str(path)}
    shown = subprocess.run([sys.executable, "-m", "course_utils.progress"], capture_output=True, text=True, env=env)
    assert shown.returncode == 0 and shown.stdout.startswith("Your progress: 1 of ")
    gone = subprocess.run(
        [sys.executable, "-m", "course_utils.progress", "--delete"], capture_output=True, text=True, env=env
    )
    assert gone.returncode == 0 and "Deleted" in gone.stdout and not path.exists()
    wrong = subprocess.run(
        [sys.executable, "-m", "course_utils.progress", "--bogus"], capture_output=True, text=True, env=env
    )
    assert wrong.returncode == 2
