"""Lesson 05's exercise checks: every solution passes; plausible wrong answers get feedback that never gives the fix."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import onnxruntime as ort
import pytest
from course_test_helpers import artifacts_in, assert_wrong

from course_utils.lessons import lesson05
from course_utils.lessons.exercises import Exercise
from course_utils.models.data import load_digits
from course_utils.providers import course_model

pytest.importorskip("torch")

CPU = "CPUExecutionProvider"
SPINNING = "session.intra_op.allow_spinning"


@pytest.fixture(scope="module")
def namespace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """What the notebook has defined when its exercises run (in a temporary artifacts folder)."""
    with artifacts_in(tmp_path_factory.mktemp("artifacts")):
        digits_path = str(course_model("DigitsCNN"))
        session = ort.InferenceSession(digits_path, providers=[CPU])
        yield {
            "ort": ort,
            "digits": load_digits(),
            "digits_path": digits_path,
            "digits_session": session,
            "lesson05": lesson05,
        }


@pytest.mark.parametrize(
    "exercise",
    [lesson05.used_fallback, lesson05.polite_session, lesson05.io_binding, lesson05.provider_lists],
    ids=lambda e: e.id,
)
def test_solutions_pass(exercise: Exercise, namespace: dict[str, Any]):
    run = exercise.run_solution(namespace)
    assert run.passed, run.detail
    assert len(exercise.hints) >= 2 and exercise.giveaways


def test_used_fallback_must_ask_the_session(namespace: dict[str, Any]):
    exercise = lesson05.used_fallback

    # Right on every case, yet never asks the session: it reads the checker's own record of what is used.
    def from_the_case_list(session, requested):
        return any((e[0] if isinstance(e, tuple) else e) not in session._used for e in requested)

    fb = exercise.check(from_the_case_list)
    assert_wrong(exercise, fb, "without asking the session")
    # Asking through get_provider_options() is asking the session too.
    assert exercise.check(
        lambda session, requested: any(
            (e[0] if isinstance(e, tuple) else e) not in session.get_provider_options() for e in requested
        )
    ).passed


def test_hints_escalate():
    exercise = lesson05.used_fallback
    first, second = exercise.hint(), exercise.hint()
    assert first.title.startswith("Hint 1") and second.title.startswith("Hint 2")


# ------------------------------------------------------------------------------------------ 05.1


def test_used_fallback_wrong_answers(namespace: dict[str, Any]):
    exercise = lesson05.used_fallback
    # Compares the lists as they are: a (name, options) pair never equals a name.
    fb = exercise.check(lambda session, requested: session.get_providers() != requested)
    assert_wrong(exercise, fb)
    assert "CPU with options" in fb.message
    # Looks only at the first requested provider.
    fb = exercise.check(lambda session, requested: requested[0] not in session.get_providers())
    assert_wrong(exercise, fb)
    assert "CPU first, then CUDA" in fb.message
    # Asks whether CPU is used: always True.
    assert_wrong(exercise, exercise.check(lambda session, requested: CPU in session.get_providers()))
    # Calls the function instead of passing it.
    assert_wrong(exercise, exercise.check(True))
    # The starting cell's answer.
    assert_wrong(exercise, exercise.check(lambda session, requested: False))

    # Asks the package, not the session: right on this CPU machine, wrong on a GPU server whose TensorRT failed.
    def available(session, requested):
        names = [e[0] if isinstance(e, tuple) else e for e in requested]
        return any(n not in ort.get_available_providers() for n in names)

    fb = exercise.check(available)
    assert_wrong(exercise, fb, "TensorRT's libraries failed")
    # The same with the list taken once, when the function was defined (this machine's list).
    machine = list(ort.get_available_providers())
    fb = exercise.check(
        lambda session, requested: any((e[0] if isinstance(e, tuple) else e) not in machine for e in requested)
    )
    assert_wrong(exercise, fb, "a GPU server")
    # Compares list lengths: the session has fewer providers than were asked for.
    fb = exercise.check(lambda session, requested: len(session.get_providers()) < len(requested))
    assert_wrong(exercise, fb, "ONNX Runtime adds CPU itself")
    fb = exercise.check(lambda session, requested: len(session.get_providers()) != len(requested))
    assert_wrong(exercise, fb)
    # Looks only at whether the first provider used is the first one requested.
    fb = exercise.check(
        lambda session, requested: (
            session.get_providers()[0] != (requested[0][0] if isinstance(requested[0], tuple) else requested[0])
        )
    )
    assert_wrong(exercise, fb)
    # Returns the list of missing names instead of a bool.
    fb = exercise.check(lambda session, requested: [r for r in requested if r not in session.get_providers()])
    assert_wrong(exercise, fb)
    assert fb.message == "return True or False"


def test_used_fallback_asks_the_session_not_this_machine(monkeypatch: pytest.MonkeyPatch):
    """The expected answers come from each session, so the check also holds where CUDA is installed."""

    def right(session: Any, requested: list[Any]) -> bool:
        names = [entry[0] if isinstance(entry, tuple) else entry for entry in requested]
        return any(name not in session.get_providers() for name in names)

    monkeypatch.setattr(lesson05, "_absent_provider", lambda: "TensorrtExecutionProvider")
    assert lesson05.used_fallback.check(right).passed
    fb = lesson05.used_fallback.check(lambda session, requested: False)
    assert_wrong(lesson05.used_fallback, fb)
    assert "Tensorrt first, then CPU" in fb.message


# ------------------------------------------------------------------------------------------ 05.2


def _session(
    path: str,
    threads: int | None = None,
    entries: dict[str, str] | None = None,
    inter: int | None = None,
    parallel: bool = False,
) -> ort.InferenceSession:
    options = ort.SessionOptions()
    if threads is not None:
        options.intra_op_num_threads = threads
    if inter is not None:
        options.inter_op_num_threads = inter
    if parallel:
        options.execution_mode = ort.ExecutionMode.ORT_PARALLEL
    for key, value in (entries or {}).items():
        options.add_session_config_entry(key, value)
    return ort.InferenceSession(path, options, providers=[CPU])


def test_polite_session_wrong_answers(namespace: dict[str, Any]):
    exercise, path = lesson05.polite_session, namespace["digits_path"]
    # The lesson's own demo sessions are wrong answers: section 5's quiet_session and section 3.1's session.
    fb = exercise.check(_session(path, threads=2, entries={SPINNING: "0"}))
    assert_wrong(exercise, fb)
    assert "more than one core" in fb.message and "2" in (fb.got or "")
    fb = exercise.check(_session(path, threads=2, inter=1, entries={"session.record_ep_graph_assignment_info": "1"}))
    assert_wrong(exercise, fb)
    assert "more than one core" in fb.message
    fb = exercise.check(_session(path, threads=1, inter=1))  # spinning left on
    assert_wrong(exercise, fb)
    assert "spin" in fb.message and "not set" in (fb.got or "")
    fb = exercise.check(_session(path, threads=1, entries={SPINNING: "0"}))  # inter-op pool left at its default
    assert_wrong(exercise, fb)
    assert "inter-op" in fb.message
    # Parallel with the inter-op pool at its default (ORT itself falls back to sequential with one inter-op thread).
    fb = exercise.check(_session(path, threads=1, parallel=True, entries={SPINNING: "0"}))
    assert_wrong(exercise, fb)
    assert "same time" in fb.message
    fb = exercise.check(_session(path, entries={SPINNING: "0"}, inter=1))  # default intra-op threads
    assert_wrong(exercise, fb)
    assert "(ONNX Runtime's default)" in (fb.got or "")
    # The inter-op pool's key instead of the intra-op one.
    assert_wrong(
        exercise, exercise.check(_session(path, threads=1, inter=1, entries={"session.inter_op.allow_spinning": "0"}))
    )
    assert_wrong(exercise, exercise.check(_session(path, threads=1, inter=1, entries={SPINNING: "1"})))
    # Every setting right, but made on the options object after the session was created: the session kept its
    # own copy, so the check reads what the session runs with, not the learner's object.
    options = ort.SessionOptions()
    late = ort.InferenceSession(path, options, providers=[CPU])
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.add_session_config_entry(SPINNING, "0")
    assert_wrong(exercise, exercise.check(late), "more than one core")
    assert_wrong(exercise, exercise.check(ort.SessionOptions()))  # the options, not the session
    assert_wrong(exercise, exercise.check(None))


# ------------------------------------------------------------------------------------------ 05.3


def test_io_binding_wrong_answers(namespace: dict[str, Any]):
    exercise, session, digits = lesson05.io_binding, namespace["digits_session"], namespace["digits"]
    unrun = session.io_binding()
    unrun.bind_cpu_input("image", digits.x_test[:64])
    unrun.bind_output("logits")
    fb = exercise.check(unrun)  # bound but never run
    assert_wrong(exercise, fb)
    assert "no output yet" in fb.message
    few = session.io_binding()
    few.bind_cpu_input("image", digits.x_test[:8])
    few.bind_output("logits")
    session.run_with_iobinding(few)
    fb = exercise.check(few)  # the wrong images
    assert_wrong(exercise, fb)
    assert "shape" in fb.message
    shifted = session.io_binding()
    shifted.bind_cpu_input("image", digits.x_test[1:65])
    shifted.bind_output("logits")
    session.run_with_iobinding(shifted)
    assert_wrong(exercise, exercise.check(shifted))
    assert_wrong(exercise, exercise.check(session.run(None, {"image": digits.x_test[:64]})[0]))  # plain run's array
    assert_wrong(exercise, exercise.check(None))  # the starting cell's answer


# ------------------------------------------------------------------------------------------ 05.4

RIGHT = {
    "gpu_server": ["TensorrtExecutionProvider", "CUDAExecutionProvider", CPU],
    "intel_laptop": ["OpenVINOExecutionProvider", CPU],
    "mac": ["CoreMLExecutionProvider", CPU],
    "windows_amd": ["DmlExecutionProvider", CPU],
}


def test_provider_lists_wrong_answers():
    exercise = lesson05.provider_lists
    assert exercise.check(RIGHT).passed
    # No CPU at the end of the GPU server's list.
    fb = exercise.check({**RIGHT, "gpu_server": ["CUDAExecutionProvider"]})
    assert_wrong(exercise, fb)
    assert "does not end with" in fb.message
    # TensorRT left out: CUDA then CPU is valid, but not the fastest.
    fb = exercise.check({**RIGHT, "gpu_server": ["CUDAExecutionProvider", CPU]})
    assert_wrong(exercise, fb)
    assert "best use" in fb.message
    # A misspelt name (ORT would only warn and skip it).
    fb = exercise.check({**RIGHT, "intel_laptop": ["OpenVINOProvider", CPU]})
    assert_wrong(exercise, fb)
    assert "not an ONNX Runtime provider name" in fb.message
    # CUDA on a Mac.
    assert_wrong(exercise, exercise.check({**RIGHT, "mac": ["CUDAExecutionProvider", CPU]}))
    # The AMD GPU through a provider the package does not have.
    assert_wrong(exercise, exercise.check({**RIGHT, "windows_amd": ["MIGraphXExecutionProvider", CPU]}))
    # A machine forgotten.
    assert_wrong(exercise, exercise.check({k: v for k, v in RIGHT.items() if k != "mac"}))
    # The starting cell's answer: the CPU everywhere.
    assert_wrong(exercise, exercise.check({key: [CPU] for key in RIGHT}))


def test_provider_lists_order_matters():
    exercise = lesson05.provider_lists
    with warnings.catch_warnings():
        fb = exercise.check({**RIGHT, "gpu_server": ["CUDAExecutionProvider", "TensorrtExecutionProvider", CPU]})
    assert not fb.passed and "order" in fb.message
    # This feedback may name what the learner wrote (it is their own answer), never the fix.
    assert "list order" in (fb.why or "")


def test_exercise_machines_match_the_checker():
    assert set(lesson05.MACHINES) == set(RIGHT)


def test_checkers_need_no_notebook_state(tmp_path: Path):
    # A learner may check in a fresh kernel: the checker exports its own reference model when needed.
    with artifacts_in(tmp_path):
        fb = lesson05.used_fallback.check(lambda session, requested: False)
    assert not fb.passed and len(list((tmp_path / "models").glob("digits_cnn-*.onnx"))) == 1
