"""Lesson 11's exercise checks: every hidden solution passes; plausible wrong answers get feedback that says what is
wrong without giving the fix away."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from course_test_helpers import artifacts_in, assert_wrong

from course_utils.lessons import lesson11
from course_utils.lessons.exercises import exercises_of

fastapi = pytest.importorskip("fastapi")
from fastapi import FastAPI, HTTPException, Request  # noqa: E402
from fastapi.responses import JSONResponse  # noqa: E402


@pytest.fixture(scope="module", autouse=True)
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Solutions write to a temporary artifacts folder, never over a learner's files."""
    with artifacts_in(tmp_path_factory.mktemp("artifacts")) as folder:
        yield folder


def _name(exercise) -> str:
    return next(n for n in lesson11.__all__ if getattr(lesson11, n) is exercise)


def test_every_solution_passes_and_prints_nothing(capfd):
    exercises = exercises_of("11")
    assert [e.id for e in exercises] == ["11.1", "11.2", "11.3", "11.4"]
    for exercise in exercises:
        capfd.readouterr()
        run = exercise.run_solution({"lesson11": lesson11})
        printed = capfd.readouterr().out
        assert run.passed, run
        assert printed.strip() == "", f"{exercise.id}'s solution prints: {printed!r}"
        assert exercise.solution_code.strip().splitlines()[-1].startswith(f"lesson11.{_name(exercise)}.check(")
        assert len(exercise.hints) >= 3
        assert [word for word in exercise.giveaways if word.lower() in str(run).lower()] == []


def test_exercise_models_compute_what_they_say():
    x = np.random.default_rng(0).standard_normal((4, 5)).astype(np.float32)
    fast = ort.InferenceSession(lesson11.exercise_model().SerializeToString(), providers=["CPUExecutionProvider"])
    slow = ort.InferenceSession(lesson11.slow_model(10).SerializeToString(), providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(slow.run(None, {"features": x})[0], fast.run(None, {"features": x})[0], rtol=1e-6)
    edge = onnx.load(lesson11.edge_model_path())
    assert (edge.ir_version, edge.opset_import[0].version) == (10, 21)


# ------------------------------------------------------------------------------------------------- 11.1


def _session():
    return ort.InferenceSession(str(lesson11.exercise_model_path()), providers=["CPUExecutionProvider"])


def _starting_app() -> FastAPI:
    """The notebook's starting cell: the demo's handler on the exercise model (500 on every bad request)."""
    session = _session()
    app = FastAPI()

    @app.post(lesson11.PREDICT_ROUTE)
    def predict(body: dict):
        x = np.asarray(body["inputs"]["features"], dtype=np.float32)
        return {"outputs": {"scores": session.run(None, {"features": x})[0].tolist()}}

    return app


def _error_in_a_200() -> FastAPI:
    """Catches everything and answers {"error": ...} — with status 200."""
    session = _session()
    app = FastAPI()

    @app.post(lesson11.PREDICT_ROUTE)
    async def predict(request: Request):
        try:
            x = np.asarray(json.loads(await request.body())["inputs"]["features"], dtype=np.float32)
            return {"outputs": {"scores": session.run(None, {"features": x})[0].tolist()}}
        except Exception as error:
            return {"error": str(error)}

    return app


def _shape_checked_only() -> FastAPI:
    """Checks the shape with an HTTPException(400) — but strings and a missing key still crash (500)."""
    session = _session()
    app = FastAPI()

    @app.post(lesson11.PREDICT_ROUTE)
    def predict(body: dict):
        x = np.asarray(body["inputs"]["features"], dtype=np.float32)
        if x.ndim != 2 or x.shape[1] != 5:
            raise HTTPException(400, f"features must be float32[batch, 5], got {list(x.shape)}")
        return {"outputs": {"scores": session.run(None, {"features": x})[0].tolist()}}

    return app


def _demo_route_copied() -> FastAPI:
    """A safe handler, but on the lesson's digits route and input name."""
    session = _session()
    app = FastAPI()

    @app.post("/v1/models/digits:predict")
    async def predict(request: Request):
        try:
            x = np.asarray(json.loads(await request.body())["inputs"]["image"], dtype=np.float32)
        except (ValueError, KeyError, TypeError) as error:
            return JSONResponse({"error": str(error)}, status_code=400)
        return {"outputs": {"scores": session.run(None, {"features": x})[0].tolist()}}

    return app


def _value_and_key_errors_only() -> FastAPI:
    """Looks complete (JSON, key, shape, strings all give 400), but a null becomes NaN in np.asarray and the NaN
    scores cannot be written as JSON: 500."""
    session = _session()
    app = FastAPI()

    @app.post(lesson11.PREDICT_ROUTE)
    async def predict(request: Request):
        try:
            x = np.asarray(json.loads(await request.body())["inputs"]["features"], dtype=np.float32)
        except (ValueError, KeyError) as error:
            return JSONResponse({"error": str(error)}, status_code=400)
        if x.ndim != 2 or x.shape[1] != 5:
            return JSONResponse({"error": f"features must be float32[batch, 5], got {list(x.shape)}"}, 400)
        return {"outputs": {"scores": session.run(None, {"features": x})[0].tolist()}}

    return app


def _adds_batch_dimension(*, right_scores: bool) -> FastAPI:
    """Refuses every bad request with a 400 but answers one example without its batch dimension by adding it."""
    session = _session()
    app = FastAPI()

    @app.post(lesson11.PREDICT_ROUTE)
    async def predict(request: Request):
        try:
            x = np.asarray(json.loads(await request.body())["inputs"]["features"], dtype=np.float32)
        except (ValueError, KeyError, TypeError) as error:
            return JSONResponse({"error": str(error)}, status_code=400)
        if not np.all(np.isfinite(x)):
            return JSONResponse({"error": "features holds null or NaN"}, status_code=400)
        if x.shape == (5,):
            x = x[None, :] if right_scores else np.zeros((1, 5), np.float32)
        if x.ndim != 2 or x.shape[1] != 5:
            return JSONResponse({"error": f"features must be float32[batch, 5], got {list(x.shape)}"}, 400)
        return {"outputs": {"scores": session.run(None, {"features": x})[0].tolist()}}

    return app


def test_safe_handler_accepts_a_handler_that_adds_the_batch_dimension():
    assert lesson11.safe_handler.check(_adds_batch_dimension(right_scores=True)).passed


def _bare_400() -> FastAPI:
    """Answers 400 with an empty body to every bad request."""
    session = _session()
    app = FastAPI()

    @app.post(lesson11.PREDICT_ROUTE)
    async def predict(request: Request):
        try:
            x = np.asarray(json.loads(await request.body())["inputs"]["features"], dtype=np.float32)
            if x.ndim != 2 or x.shape[1] != 5:
                raise ValueError
        except (ValueError, KeyError, TypeError):
            return JSONResponse({}, status_code=400)
        return {"outputs": {"scores": session.run(None, {"features": x})[0].tolist()}}

    return app


@pytest.mark.parametrize(
    ("make", "fragment"),
    [
        (_starting_app, "answers 500"),
        (_error_in_a_200, "not a 4xx"),
        (_shape_checked_only, "answers 500"),
        (_demo_route_copied, "a good request"),
        (_bare_400, "says nothing"),
        (_value_and_key_errors_only, "a null among the numbers: the server answers 500"),
        (lambda: _adds_batch_dimension(right_scores=False), "batch dimension: the answer's status is 200"),
    ],
    ids=[
        "starting cell",
        "error inside a 200",
        "only the shape checked",
        "demo route copied",
        "400 without reason",
        "no TypeError caught",
        "batch added, wrong scores",
    ],
)
def test_safe_handler_rejects(make, fragment):
    assert_wrong(lesson11.safe_handler, lesson11.safe_handler.check(make()), fragment)


def test_safe_handler_rejects_no_app():
    assert_wrong(lesson11.safe_handler, lesson11.safe_handler.check(None), "no answer yet")
    assert_wrong(lesson11.safe_handler, lesson11.safe_handler.check("app"), "FastAPI() app")


# ------------------------------------------------------------------------------------------------- 11.2


def _reference(path: Path, x: np.ndarray, *, names=("input:features", "output:scores"), outputs=None) -> Path:
    y = _session().run(None, {"features": x})[0] if outputs is None else outputs
    np.savez(path, **{names[0]: x, names[1]: y})
    return path


def test_reference_file_rejects(tmp_path):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((6, 5)).astype(np.float32)
    check = lesson11.reference_file.check
    assert check(_reference(tmp_path / "ok.npz", x)).passed
    assert_wrong(lesson11.reference_file, check(None), "no answer yet")
    unprefixed = _reference(tmp_path / "plain.npz", x, names=("features", "scores"))
    assert_wrong(lesson11.reference_file, check(unprefixed), "no input:features or output:scores array")
    y = _session().run(None, {"features": x})[0]
    np.savez(tmp_path / "extra.npz", **{"input:features": x, "output:scores": y, "labels": np.arange(6)})
    extra = check(tmp_path / "extra.npz")  # the gate reads only input:/output: arrays: an extra one is harmless
    assert extra.passed and "the gate ignores ['labels']" in str(extra)
    np.savez(tmp_path / "extra_out.npz", **{"input:features": x, "output:scores": y, "output:logits": y})
    assert_wrong(
        lesson11.reference_file, check(tmp_path / "extra_out.npz"), "the model does not have: ['output:logits']"
    )
    one = _reference(tmp_path / "one.npz", x[:1])
    assert_wrong(lesson11.reference_file, check(one), "single example")
    zeros = _reference(tmp_path / "zeros.npz", np.zeros((6, 5), np.float32))
    assert_wrong(lesson11.reference_file, check(zeros), "constant or repeated")
    repeated = _reference(tmp_path / "rep.npz", np.repeat(x[:1], 6, axis=0))
    assert_wrong(lesson11.reference_file, check(repeated), "constant or repeated")
    other_inputs = _reference(tmp_path / "other.npz", x, outputs=_session().run(None, {"features": x[::-1].copy()})[0])
    assert_wrong(lesson11.reference_file, check(other_inputs), "not the exercise model's outputs")
    assert_wrong(lesson11.reference_file, check(tmp_path / "missing.npz"), "no file")
    (tmp_path / "bad.npz").write_text("not a zip")
    assert_wrong(lesson11.reference_file, check(tmp_path / "bad.npz"), "not a readable .npz")


# ------------------------------------------------------------------------------------------------- 11.3


@pytest.mark.parametrize(
    ("settings", "fragment"),
    [
        ({"target": "python", "budget_ms": 1e9, "atol": 1.0}, "weights all moved"),  # the starting cell
        ({"target": "1.17", "budget_ms": 1.0, "atol": 1.0}, "weights all moved"),  # parity that cannot fail
        ({"target": "python", "budget_ms": 1.0, "atol": 1e-4}, "IR 14 / opset 28 passes"),
        ({"target": "1.17", "budget_ms": 1e6, "atol": 1e-4}, "slow model"),  # a budget that cannot fail
        # under the slow model's median here, but within 10x of it: the verdict would depend on the machine
        ({"target": "1.17", "budget_ms": 15, "atol": 1e-4}, "slow model"),
        ({"target": "1.17", "budget_ms": 0.01, "atol": 1e-4}, "good model fails"),  # about the good median
        ({"target": "1.17", "budget_ms": 0.0001, "atol": 1e-4}, "good model fails"),  # nothing passes
        ({"target": "1.17", "budget_ms": 1.0, "atol": 0.0}, "good model fails"),
        ({"target": "1.10", "budget_ms": 1.0, "atol": 1e-4}, "good model fails"),  # too old for opset 17
    ],
    ids=[
        "starting cell",
        "atol 1",
        "newest target",
        "huge budget",
        "budget near the slow median",
        "budget near the good median",
        "tiny budget",
        "atol 0",
        "too old a target",
    ],
)
def test_gate_settings_rejects(settings, fragment):
    assert_wrong(lesson11.gate_settings, lesson11.gate_settings.check(settings), fragment)


def test_gate_settings_rejects_malformed_answers():
    check = lesson11.gate_settings.check
    assert_wrong(lesson11.gate_settings, check({"budget_ms": 1.0}), "exactly the keys")
    assert_wrong(lesson11.gate_settings, check({"target": "9.9", "budget_ms": 1.0, "atol": 1e-4}), "refuses")


# ------------------------------------------------------------------------------------------------- 11.4


def test_lower_for_edge_rejects(tmp_path):
    check = lesson11.lower_for_edge.check
    original = lesson11.edge_model_path()
    assert_wrong(lesson11.lower_for_edge, check(original), "target check")  # the starting cell: unchanged
    ir_only = onnx.load(original)
    ir_only.ir_version = 9
    onnx.save(ir_only, tmp_path / "ir_only.onnx")
    assert_wrong(lesson11.lower_for_edge, check(tmp_path / "ir_only.onnx"), "target check")
    opset_only = onnx.version_converter.convert_version(onnx.load(original), 20)
    onnx.save(opset_only, tmp_path / "opset_only.onnx")
    assert opset_only.ir_version == 10  # the converter keeps the IR version: the answer that looks right
    assert_wrong(lesson11.lower_for_edge, check(tmp_path / "opset_only.onnx"), "target check")
    too_old = onnx.version_converter.convert_version(onnx.load(original), 20)
    too_old.ir_version = 3  # IR 3 wanted every initializer listed as a graph input too
    onnx.save(too_old, tmp_path / "ir3.onnx")
    assert_wrong(lesson11.lower_for_edge, check(tmp_path / "ir3.onnx"), "the full checker rejects")
    assert "newer than it reads" not in str(check(tmp_path / "ir3.onnx"))
    drifted = lesson11.exercise_model(opset=20, ir_version=9, drift=0.05)
    onnx.save(drifted, tmp_path / "drifted.onnx")
    assert_wrong(lesson11.lower_for_edge, check(tmp_path / "drifted.onnx"), "outputs differ")
    assert_wrong(lesson11.lower_for_edge, check(tmp_path / "nothing.onnx"), "no file")
