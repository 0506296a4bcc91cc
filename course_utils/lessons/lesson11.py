"""Exercises of lesson 11 (a model server, other languages, a CI gate for models): a FastAPI handler that refuses bad
requests with a 4xx and a reason, a reference file a gate can trust, gate settings that can fail, and (transfer) a
model that fails the gate for an older runtime made to pass it without changing its numbers.

    from course_utils.lessons import lesson11
    lesson11.safe_handler.check(app)
    lesson11.safe_handler.hint()        # again for a more specific one
    lesson11.safe_handler.solution()
"""

from __future__ import annotations

import json
import os
import tempfile
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import numpy_helper

from ..errors import first_line
from ..paths import relative_to_repo
from .exercise_models.lesson11 import (
    WEIGHTS,
    edge_model_path,
    example_features,
    exercise_model,
    exercise_model_path,
    expected_scores,
    slow_model,
)
from .exercises import Exercise, NotYet, expect

__all__ = [
    "EDGE_TARGET",
    "PREDICT_ROUTE",
    "edge_model_path",
    "exercise_model",
    "exercise_model_path",
    "gate_settings",
    "lower_for_edge",
    "reference_file",
    "safe_handler",
    "slow_model",
]

#: The route exercise 11.1's handler serves.
PREDICT_ROUTE = "/v1/models/scores:predict"
#: The older runtime exercise 11.4's model must pass the gate for.
EDGE_TARGET = "1.17"


def _load(answer: Any, what: str) -> onnx.ModelProto:
    expect(answer is not None, f"no answer yet: pass {what}")
    expect(isinstance(answer, str | os.PathLike), f"pass {what} as a path", got=type(answer).__name__)
    if not Path(answer).exists():
        raise NotYet(f"there is no file at {relative_to_repo(answer)} yet", why="save it there first")
    try:
        return onnx.load(str(answer))
    except Exception as error:  # a half-written file or another format
        raise NotYet("that file is not an ONNX model", got=first_line(error)) from None


# ------------------------------------------------------------------------------------------------- 11.1


def _post(client: Any, content: bytes) -> tuple[int, Any]:
    response = client.post(PREDICT_ROUTE, content=content, headers={"content-type": "application/json"})
    try:
        body = response.json()
    except ValueError:
        body = response.text
    return response.status_code, body


def _reason(body: Any) -> str:
    if isinstance(body, dict):
        for key in ("error", "detail", "message"):
            if body.get(key):
                return str(body[key])
    return ""


_BAD_REQUESTS: dict[str, bytes] = {
    "a body that is not JSON": b"features=1,2,3,4,5",
    "rows of 3 numbers instead of 5": json.dumps({"inputs": {"features": [[1, 2, 3]]}}).encode(),
    "one example without its batch dimension": json.dumps({"inputs": {"features": [1, 2, 3, 4, 5]}}).encode(),
    "strings instead of numbers": json.dumps({"inputs": {"features": [["a", "b", "c", "d", "e"]]}}).encode(),
    "the input under another name": json.dumps({"inputs": {"x": [[1, 2, 3, 4, 5]]}}).encode(),
    "rows of different lengths": json.dumps({"inputs": {"features": [[1, 2, 3, 4, 5], [1, 2]]}}).encode(),
    "a null among the numbers": json.dumps({"inputs": {"features": [[1, 2, 3, 4, None]]}}).encode(),
    "no 'inputs' object": json.dumps({"features": [[1, 2, 3, 4, 5]]}).encode(),
}


#: The one bad request a handler may also answer: with the scores of that one example (it added the batch dimension).
_BATCHLESS = "one example without its batch dimension"


def _batchless_answered(status: int, body: Any) -> bool:
    """True when the handler answered the batch-less example with 200 and the model's scores for it."""
    outputs = body.get("outputs") if status == 200 and isinstance(body, dict) else None
    scores = outputs.get("scores") if isinstance(outputs, dict) else None
    if scores is None:
        return False
    try:
        got = np.asarray(scores, np.float32)
    except (ValueError, TypeError):
        return False
    want = expected_scores(np.arange(1, 6, dtype=np.float32).reshape(1, 5))
    return got.size == 3 and bool(np.allclose(got.reshape(1, 3), want, rtol=1e-5, atol=1e-6))


def _good_request(client: Any, seed: int) -> None:
    x = example_features(3, seed)
    status, body = _post(client, json.dumps({"inputs": {"features": x.tolist()}}).encode())
    expect(
        status == 200,
        f"a good request (3 rows of 5 numbers under 'features') got status {status}",
        why=f"the handler must answer POST {PREDICT_ROUTE} with the model's scores",
        got=_reason(body)[:200] or str(body)[:200],
    )
    outputs = body.get("outputs") if isinstance(body, dict) else None
    scores = outputs.get("scores") if isinstance(outputs, dict) else None
    expect(
        scores is not None,
        "the answer to a good request has no outputs.scores",
        expected='{"outputs": {"scores": [[...], ...]}}',
        got=str(body)[:200],
    )
    got = np.asarray(scores, np.float32)
    expect(
        got.shape == (3, 3) and bool(np.allclose(got, expected_scores(x), rtol=1e-5, atol=1e-6)),
        "the scores for a good request are not the model's",
        why="the handler must run the exercise model on the features it was sent",
        got=f"shape {list(got.shape)}",
    )


def _check_safe_handler(app: Any) -> str:
    expect(app is not None, "no answer yet: pass your FastAPI app")
    expect(hasattr(app, "router") and callable(app), "pass the FastAPI() app object", got=type(app).__name__)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # starlette's notice about its httpx client, not the learner's concern
        from fastapi.testclient import TestClient

    with TestClient(app, raise_server_exceptions=False) as client:
        _good_request(client, 111)
        for what, content in _BAD_REQUESTS.items():
            status, body = _post(client, content)
            if what == _BATCHLESS and _batchless_answered(status, body):
                continue  # adding the batch dimension and answering is a fair choice too
            expect(
                status != 500,
                f"{what}: the server answers 500 (its own fault)",
                why="a bad request is the client's mistake: a 4xx status tells the client to change the request, "
                "a 500 tells it the server broke, and monitoring pages someone at night",
                got=f"500 {str(body)[:120]}",
            )
            expect(
                400 <= status < 500,
                f"{what}: the answer's status is {status}, not a 4xx",
                why="clients and load balancers read the status code, not the body: a 2xx says the request "
                "succeeded, whatever the body holds"
                + (
                    " (here a 4xx, or the model's scores for that one example, are both fair answers)"
                    if what == _BATCHLESS
                    else ""
                ),
                got=f"{status} {str(body)[:120]}",
            )
            reason = _reason(body)
            expect(
                reason != "",
                f"{what}: the 4xx answer says nothing about what is wrong",
                why="the client needs a reason to fix its request",
                expected='a JSON body with "error" (or FastAPI\'s "detail")',
                got=str(body)[:120],
            )
        _good_request(client, 112)
    return (
        f"a good request answered; {len(_BAD_REQUESTS)} kinds of bad request each got a 4xx with a reason (or, for a "
    )
    "batch-less example, its scores)"


safe_handler = Exercise(
    "11.1",
    "A predict handler that answers bad requests with a 4xx and a reason",
    _check_safe_handler,
    hints=[
        "Send the handler a few bad bodies yourself with fastapi.testclient.TestClient(app, "
        "raise_server_exceptions=False) and print each status: which ones are 500, and which line of your handler "
        "raised?",
        "Every bad request fails in one of a few places: reading the JSON, finding inputs/features, turning the "
        "value into a float32 array (a JSON null becomes NaN there, silently), or the array's shape. Check each before "
        "the session runs, and answer with a "
        "JSONResponse whose status_code is 400.",
        "Read the raw body (await request.body()), json.loads it inside try/except (ValueError, KeyError, "
        "TypeError), then np.asarray(..., dtype=np.float32), np.isfinite(x).all(), and a check that x.ndim == 2 and "
        "x.shape[1] == 5.",
    ],
    solution_code="""
import json

import numpy as np
import onnxruntime as ort
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

solution_session = ort.InferenceSession(str(lesson11.exercise_model_path()), providers=["CPUExecutionProvider"])
solution_app = FastAPI()


@solution_app.post("/v1/models/scores:predict")
async def solution_predict(request: Request):
    try:
        solution_x = np.asarray(json.loads(await request.body())["inputs"]["features"], dtype=np.float32)
    except (ValueError, KeyError, TypeError) as error:  # TypeError: "inputs" that is not an object
        reason = f"send {{'inputs': {{'features': float32[batch, 5]}}}} as JSON ({type(error).__name__}: {error})"
        return JSONResponse({"error": reason}, status_code=400)
    if not np.all(np.isfinite(solution_x)):  # a JSON null becomes NaN without an error
        return JSONResponse({"error": "features holds null or NaN: send a number in every place"}, status_code=400)
    if solution_x.ndim != 2 or solution_x.shape[1] != 5:
        reason = f"features has shape {list(solution_x.shape)}; the model takes float32[batch, 5]"
        return JSONResponse({"error": reason}, status_code=400)
    return {"outputs": {"scores": solution_session.run(None, {"features": solution_x})[0].tolist()}}


lesson11.safe_handler.check(solution_app)
""",
    giveaways=("status_code=400", "x.shape[1] == 5", "json.loads"),
)


# ------------------------------------------------------------------------------------------------- 11.2


def _check_reference_file(answer: Any) -> str:
    expect(answer is not None, "no answer yet: pass the path of your .npz reference file")
    expect(isinstance(answer, str | os.PathLike), "pass the reference file's path", got=type(answer).__name__)
    path = Path(answer)
    if not path.is_file():
        raise NotYet(f"there is no file at {relative_to_repo(path)} yet", why="save the reference there first")
    try:
        with np.load(path, allow_pickle=False) as stored:
            arrays = {key: np.asarray(stored[key]) for key in stored.files}
    except Exception as error:  # not a zip, truncated, pickled objects
        raise NotYet("that file is not a readable .npz", got=first_line(error)[:200]) from None
    keys = sorted(arrays)
    wanted = ["input:features", "output:scores"]
    expect(
        all(key in arrays for key in wanted),
        f"the file has no {' or '.join(k for k in wanted if k not in arrays)} array",
        why="the gate finds each input and output by its name behind an 'input:' or 'output:' prefix, and ignores "
        "arrays without one",
        expected="one input:<name> array per model input, one output:<name> array per model output",
        got=", ".join(keys),
    )
    prefixed_extra = [k for k in keys if k.startswith(("input:", "output:")) and k not in wanted]
    expect(
        not prefixed_extra,
        f"the file has input/output arrays the model does not have: {prefixed_extra}",
        why="the gate feeds every input: array to the model and compares every output: array with its outputs; "
        "names the model lacks make the parity check fail",
        got=", ".join(keys),
    )
    ignored = [k for k in keys if k not in wanted]
    x, y = arrays["input:features"], arrays["output:scores"]
    expect(
        x.dtype == np.float32 and x.ndim == 2 and x.shape[1] == 5,
        "the stored input is not a float32[batch, 5] batch",
        got=f"{x.dtype}{list(x.shape)}",
    )
    expect(
        x.shape[0] >= 2,
        "the reference holds a single example",
        why="a model whose batch dimension was fixed to 1 (or that mixes rows of a batch) would still pass",
        got=f"batch {x.shape[0]}",
    )
    expect(
        bool(np.all(np.isfinite(x))) and float(np.std(x)) > 0.1 and len({r.tobytes() for r in x}) == len(x),
        "the stored inputs are constant or repeated",
        why="on zeros (or one row copied) MatMul's weights leave no trace in the outputs: a model with other "
        "weights gives the same numbers and passes the gate",
        got=f"std {float(np.std(x)):.3g}, {len({r.tobytes() for r in x})} distinct row(s)",
    )
    expect(
        y.shape == (x.shape[0], 3) and bool(np.allclose(y, expected_scores(x), rtol=1e-5, atol=1e-6)),
        "the stored outputs are not the exercise model's outputs on the stored inputs",
        why="the gate compares a new model's outputs with these: they must come from the model you trust, run on "
        "exactly the stored inputs",
        got=f"shape {list(y.shape)}" if y.shape != (x.shape[0], 3) else "values differ",
    )
    note = f" (the gate ignores {ignored})" if ignored else ""
    return f"{x.shape[0]} distinct examples and the model's outputs on them, under the names the gate reads{note}"


reference_file = Exercise(
    "11.2",
    "Write a reference file the gate can trust",
    _check_reference_file,
    hints=[
        "Open the file you wrote with np.load and print .files and each array's shape: are the names the gate's "
        "'input:<name>' / 'output:<name>'? How many examples, and do they differ?",
        "Make a batch of several different examples (a seeded np.random.default_rng(...).standard_normal), run the "
        "exercise model on it with an InferenceSession, and store both arrays.",
        "np.savez(path, **{'input:features': x, 'output:scores': session.run(None, {'features': x})[0]}) with x a "
        "float32 batch of, say, 8 random rows.",
    ],
    solution_code="""
import numpy as np
import onnxruntime as ort

from course_utils.paths import artifact_path

solution_session = ort.InferenceSession(str(lesson11.exercise_model_path()), providers=["CPUExecutionProvider"])
solution_x = np.random.default_rng(7).standard_normal((8, 5)).astype(np.float32)
solution_reference = artifact_path("solution_reference.npz", lesson="11")
np.savez(solution_reference, **{"input:features": solution_x, "output:scores": solution_session.run(None, {"features": solution_x})[0]})
lesson11.reference_file.check(solution_reference)
""",
    giveaways=("'input:features'", '"input:features"', "standard_normal"),
)


# ------------------------------------------------------------------------------------------------- 11.3


def _gate_cases(folder: Path) -> dict[str, tuple[Path, Path]]:
    from ..deploy.gate import write_reference

    # The good model as another export (or another CPU) gives it: weights one float step away from the reference's.
    good = exercise_model()
    good.graph.initializer[0].CopyFrom(numpy_helper.from_array(np.nextafter(WEIGHTS, np.float32(np.inf)), "w"))
    models = {
        "good": good,
        "drifted": exercise_model(drift=0.01),
        "too new": exercise_model(opset=28, ir_version=14),
        "slow": slow_model(),
    }
    feeds = {"features": example_features(8, 113)}
    reference = write_reference(_write(exercise_model(), folder / "trusted.onnx"), feeds, folder / "reference.npz")
    return {
        name: (_write(model, folder / f"{name.replace(' ', '_')}.onnx"), reference) for name, model in models.items()
    }


#: How far a latency budget must stay from the good and the slow model's medians measured in the same check: a
#: factor that keeps the verdict on a machine several times faster, slower or busier than this one.
_LATENCY_MARGIN = 10.0


def _median_ms(model: Path, feeds: Mapping[str, np.ndarray], runs: int) -> float:
    """The median latency of ``model`` on ``feeds`` in ms (one warm-up run first), timed in this check."""
    import statistics
    import time

    from ..runtime.sessions import create_session, session_options

    session = create_session(str(model), session_options(threads=1, log_severity=3))
    feed = dict(feeds)
    session.run(None, feed)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        session.run(None, feed)
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def _write(model: onnx.ModelProto, path: Path) -> Path:
    onnx.save(model, path)
    return path


def _check_gate_settings(settings: Any) -> str:
    from ..deploy.gate import run_gate
    from ..errors import CourseError

    expect(settings is not None, "no answer yet: pass a dict with target, budget_ms and atol")
    expect(
        isinstance(settings, Mapping) and set(settings) == {"target", "budget_ms", "atol"},
        "the answer is not a dict with exactly the keys target, budget_ms and atol",
        got=sorted(settings) if isinstance(settings, Mapping) else type(settings).__name__,
    )
    with tempfile.TemporaryDirectory() as tmp:
        cases = _gate_cases(Path(tmp))
        reports = {}
        for name, (model, reference) in cases.items():
            try:
                reports[name] = run_gate(model, reference=reference, **dict(settings))
            except (CourseError, TypeError) as error:
                raise NotYet("the gate refuses these settings", got=first_line(error)[:200]) from None
        budget, good_ms, slow_ms = settings["budget_ms"], 0.0, 0.0
        if isinstance(budget, int | float):  # the two medians on this machine now, to judge the budget's margins
            feeds = {"features": example_features(8, 113)}
            good_ms = _median_ms(cases["good"][0], feeds, runs=9)
            slow_ms = _median_ms(cases["slow"][0], feeds, runs=3)
    good = reports["good"]
    good_failed = [line for line in good.lines() if line.startswith("FAIL")]
    if isinstance(budget, int | float) and good_failed in ([], [str(good.check("latency"))]):
        expect(
            budget >= _LATENCY_MARGIN * good_ms,
            "the good model fails your gate's latency check, or would on a slower or busier machine",
            why=f"a budget needs room: the good model's median was ≈{good_ms:.2g} ms in this check, and a machine "
            f"a few times slower (or a CI runner doing other work) must still pass it; keep {_LATENCY_MARGIN:g}× "
            "its median",
            got=f"budget {budget:g} ms",
        )
    expect(
        good.passed,
        "the good model fails your gate",
        why="it is the trusted model exported again (its weights one float step away, as another exporter or "
        "CPU gives them): a gate that rejects it blocks every release and will be switched off",
        got=[line for line in good.lines() if line.startswith("FAIL")],
    )
    expect(
        not reports["drifted"].passed,
        "a model whose weights all moved by 0.01 passes your gate",
        why="its scores differ from the reference far more than float rounding does: the tolerance lets a "
        "different model through",
        got=reports["drifted"].check("parity").detail,
    )
    expect(
        not reports["too new"].passed,
        "a model saved at IR 14 / opset 28 passes your gate",
        why="the model must also run on the older runtimes it ships to; the target you chose reads IR 14",
        got=reports["too new"].check("target").detail,
    )
    expect(
        not reports["slow"].passed,
        "the slow model (a loop of 40,000 steps) passes your gate",
        why="a budget no model can exceed checks nothing",
        got=reports["slow"].check("latency").detail,
    )
    expect(
        budget * _LATENCY_MARGIN <= slow_ms,
        "the slow model fails your gate here, but would pass it on a faster machine",
        why=f"its median was ≈{slow_ms:.2g} ms in this check, within {_LATENCY_MARGIN:g}× of your budget: on a "
        "CPU a few times faster it comes in under the budget, and the verdict depends on the machine",
        got=f"budget {budget:g} ms",
    )
    return "the good model passes; the drifted, too-new and slow models each fail your gate"


gate_settings = Exercise(
    "11.3",
    "Gate settings that pass the good model and can fail the others",
    _check_gate_settings,
    hints=[
        "Run run_gate on the lesson's model with your settings and read each line: a check that cannot fail is "
        "as bad as no check. Which of your three numbers would let anything through?",
        "Parity: float32 rounding of a small model is around 1e-7, a retrained model moves by far more. Target: "
        "the python target is the newest runtime, and reads everything. Budget: run_gate prints the median it "
        "timed; the check times the good and the slow model too, and wants your budget at least 10 times away from "
        "each, so that a faster or slower machine gives the same verdict.",
        "Pick a released target such as '1.17' (or web/node where the compatibility checker knows them), atol "
        "1e-4 and a budget well between the two medians: half a millisecond.",
    ],
    solution_code="""
solution_gate = {"target": "1.17", "budget_ms": 0.5, "atol": 1e-4}
lesson11.gate_settings.check(solution_gate)
""",
    giveaways=("1e-4", "'1.17'", '"1.17"'),
)


# ------------------------------------------------------------------------------------------------- 11.4


def _check_lower_for_edge(answer: Any) -> str:
    from ..deploy.gate import run_gate, write_reference

    model = _load(answer, "the path of your version of the edge model")
    expect(
        [i.name for i in model.graph.input] == ["features"] and [o.name for o in model.graph.output] == ["scores"],
        "the model's input or output names changed",
        why="clients and the gate's reference find them by name",
        got=([i.name for i in model.graph.input], [o.name for o in model.graph.output]),
    )
    with tempfile.TemporaryDirectory() as tmp:
        original = _write(exercise_model(opset=21, ir_version=10), Path(tmp) / "original.onnx")
        reference = write_reference(original, {"features": example_features(6, 114)}, Path(tmp) / "reference.npz")
        report = run_gate(str(answer), reference=reference, target=EDGE_TARGET)
    failed = [line for line in report.lines() if line.startswith("FAIL")]
    expect(
        report.check("checker").status == "PASS",
        "the full checker rejects your file",
        why="a version stamp is a promise about the contents: the checker (and the runtime) read the file by the "
        "rules of the IR version and opset it states, and these contents break them",
        got=report.check("checker").detail,
    )
    expect(
        report.check("target").status == "PASS",
        f"the gate's target check for onnxruntime {EDGE_TARGET} fails",
        why=f"onnxruntime {EDGE_TARGET} refuses to load a file newer than it reads (both its IR version and its "
        "opset count)",
        got=report.check("target").detail,
    )
    expect(
        report.check("parity").status == "PASS",
        "your model's outputs differ from the original's on the gate's reference inputs",
        why="only the file's version stamps may change; the numbers must stay",
        got=report.check("parity").detail,
    )
    expect(not failed, "the gate still fails", got=failed)
    return f"passes the gate for onnxruntime {EDGE_TARGET} with the original's outputs"


lower_for_edge = Exercise(
    "11.4",
    f"Transfer: make the edge model pass the gate for onnxruntime {EDGE_TARGET}",
    _check_lower_for_edge,
    hints=[
        f"Run the gate on edge_model_path() with target {EDGE_TARGET!r} and read its target line: it names each "
        "number the runtime cannot read, and lesson 08 showed how to change each.",
        "Two numbers are too new: the opset the nodes are written against, and the file format's IR version. "
        "Converting the opset does not change the IR version; check both in the saved file.",
        "onnx.version_converter.convert_version(model, 20), then set model.ir_version = 9, save, and run the gate "
        "again with the lesson's reference.",
    ],
    solution_code="""
import onnx

from course_utils.paths import artifact_path

solution_edge = onnx.version_converter.convert_version(onnx.load(lesson11.edge_model_path()), 20)
solution_edge.ir_version = 9
solution_edge_path = artifact_path("solution_edge_scores.onnx", lesson="11")
onnx.save(solution_edge, solution_edge_path)
lesson11.lower_for_edge.check(solution_edge_path)
""",
    giveaways=("convert_version(", "ir_version = 9", "ir_version=9"),
)
