"""Lesson 10's exercise checks: every hidden solution passes (the ORT conversions are real, the Node.js ones run
onnxruntime-node/-web); plausible wrong answers get feedback that says what is wrong without giving the fix away."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import onnx
import onnx.inliner
import onnx.version_converter
import pytest
from course_test_helpers import artifacts_in, assert_wrong

from course_utils.lessons import lesson10
from course_utils.lessons.exercises import exercises_of
from course_utils.lessons.lesson10 import gesture_model, sensor_model


def _node_ready() -> bool:
    try:
        from course_utils.deploy.npm import node_available
    except ImportError:
        return False
    return node_available()


needs_node = pytest.mark.skipif(not _node_ready(), reason="Node.js or the course's npm packages are not installed")


@pytest.fixture(scope="module", autouse=True)
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Solutions and cached course models go to a temporary artifacts folder, never over a learner's files."""
    with artifacts_in(tmp_path_factory.mktemp("artifacts")) as folder:
        yield folder


@pytest.fixture(scope="module")
def work(artifacts: Path) -> Path:
    folder = artifacts / "work"
    folder.mkdir()
    return folder


@pytest.fixture(scope="module")
def gesture_path(work: Path) -> Path:
    path = work / "gesture.onnx"
    onnx.save(gesture_model(), path)
    return path


@pytest.fixture(scope="module")
def digits_path(artifacts: Path) -> Path:
    from course_utils.models.registry import onnx_path

    return Path(onnx_path("digits_cnn"))


def _convert(source: Path, out: Path, style: str = "Fixed") -> Path:
    """The real converter, as a learner runs it; returns the output folder."""
    command = [sys.executable, "-m", "onnxruntime.tools.convert_onnx_models_to_ort", str(source)]
    subprocess.run([*command, "--output_dir", str(out), "--optimization_style", style], check=True, capture_output=True)
    return out


@pytest.fixture(scope="module")
def converted(work: Path, gesture_path: Path, digits_path: Path) -> dict[str, Path]:
    """Both styles of the gesture model and the Fixed style of the digits model (three real conversions)."""
    out = work / "ort"
    _convert(gesture_path, out, "Fixed")
    _convert(gesture_path, out, "Runtime")
    _convert(digits_path, out / "digits", "Fixed")
    return {
        "fixed": out / "gesture.ort",
        "runtime": out / "gesture.with_runtime_opt.ort",
        "gesture_config": out / "gesture.required_operators.config",
        "digits_ort": out / "digits" / f"{digits_path.stem}.ort",
        "digits_config": out / "digits" / f"{digits_path.stem}.required_operators.config",
    }


def _name(exercise) -> str:
    return next(n for n in lesson10.__all__ if getattr(lesson10, n) is exercise)


@needs_node
def test_every_solution_passes_and_prints_nothing(gesture_path, digits_path, capfd):
    exercises = exercises_of("10")
    assert [e.id for e in exercises] == ["10.1", "10.2", "10.3", "10.4"]
    namespace = {"lesson10": lesson10, "gesture_path": gesture_path, "digits_path": digits_path}
    for exercise in exercises:
        capfd.readouterr()
        run = exercise.run_solution(namespace)
        printed = capfd.readouterr().out
        assert run.passed, run
        assert printed.strip() == "", f"{exercise.id}'s solution prints: {printed!r}"
        assert exercise.solution_code.strip().splitlines()[-1].startswith(f"lesson10.{_name(exercise)}.check(")
        assert len(exercise.hints) >= 3
        assert [word for word in exercise.giveaways if word.lower() in str(run).lower()] == []


# ------------------------------------------------------------------------------------------------- 10.1


def test_phone_ort_accepts_the_runtime_style(converted, gesture_path):
    feedback = lesson10.phone_ort.check(converted["runtime"], gesture_path)
    assert feedback.passed, feedback
    assert "saved optimization record" in feedback.message


def test_phone_ort_accepts_a_fixed_batch(work, gesture_path):
    """Lesson 09's advice for CoreML followed first (a reviewer's answer): the batch made fixed at 1 as
    make_dynamic_shape_fixed --dim_param batch --dim_value 1 does, then the Runtime-style conversion."""
    from onnxruntime.tools.onnx_model_utils import make_dim_param_fixed

    model = onnx.load(gesture_path)
    make_dim_param_fixed(model.graph, "batch", 1)
    fixed_batch = work / "fixed_batch" / "gesture_b1.onnx"
    fixed_batch.parent.mkdir()
    onnx.save(model, fixed_batch)
    _convert(fixed_batch, fixed_batch.parent, "Runtime")
    feedback = lesson10.phone_ort.check(fixed_batch.parent / "gesture_b1.with_runtime_opt.ort", gesture_path)
    assert feedback.passed, feedback
    assert "at batch 1" in feedback.message


@pytest.mark.parametrize(
    ("case", "fragment"),
    [
        ("missing", "there is no file"),  # the untouched starting cell
        ("onnx", "not in ORT format"),  # passed the .onnx file itself
        ("renamed", "not in ORT format"),  # copied gesture.onnx to gesture.ort: looks right
        ("fixed", "fusions baked in"),  # the converter's default style
        ("digits", "not the gesture model"),  # section 2's digits .ort
    ],
)
def test_phone_ort_wrong_answers(converted, gesture_path, work, case, fragment):
    answer = {
        "missing": work / "nothing_yet.ort",
        "onnx": gesture_path,
        "fixed": converted["fixed"],
        "digits": converted["digits_ort"],
    }.get(case)
    if case == "renamed":
        answer = work / "renamed.ort"
        shutil.copy(gesture_path, answer)
    assert_wrong(lesson10.phone_ort, lesson10.phone_ort.check(answer, gesture_path), fragment)


# ------------------------------------------------------------------------------------------------- 10.2


@pytest.mark.parametrize(
    ("case", "fragment"),
    [
        ("missing", "there is no file"),  # the untouched starting cell
        ("digits_only", "lacks"),  # section 2's config: the gesture model's operators are missing
        ("gesture_only", "lacks"),  # converted the gesture model alone
        ("from_onnx_graphs", "lacks"),  # written by hand from the .onnx op types: no fused operators
        ("ort_file", "binary file"),  # the .ort model instead of the config
        ("not_config", "not in the config's format"),  # a list of op names, one per line
        ("opset_1", "not at an opset"),  # the right operators, every line at opset 1: the old kernels
    ],
)
def test_reduced_build_wrong_answers(converted, gesture_path, digits_path, work, case, fragment):
    answer = {
        "missing": work / "nothing_yet.config",
        "digits_only": converted["digits_config"],
        "gesture_only": converted["gesture_config"],
        "ort_file": converted["runtime"],
    }.get(case)
    if case == "from_onnx_graphs":
        ops = sorted({n.op_type for p in (gesture_path, digits_path) for n in onnx.load(p).graph.node})
        answer = work / "by_hand.config"
        answer.write_text(f"ai.onnx;20;{','.join(ops)}\n")
    elif case == "not_config":
        answer = work / "names.config"
        answer.write_text("Conv\nRelu\nGemm\n")
    elif case == "opset_1":  # a reviewer's answer: right names, wrong opsets
        answer = work / "opset_1.config"
        answer.write_text(
            "ai.onnx;1;Conv,Relu,MaxPool,Flatten,Gemm,GlobalAveragePool\ncom.microsoft;1;FusedConv,FusedGemm\n"
        )
    assert_wrong(lesson10.reduced_build, lesson10.reduced_build.check(answer), fragment)


def test_reduced_build_accepts_the_models_opset(work):
    """Listing each operator at the opset the models import (20) selects the same kernels as the converter's
    config (MaxPool's opset-12 definition is still the one at opset 20): a real reduced build runs both models."""
    answer = work / "opset_20.config"
    answer.write_text("ai.onnx;20;Flatten,Gemm,GlobalAveragePool,MaxPool\ncom.microsoft;1;FusedConv,FusedGemm\n")
    feedback = lesson10.reduced_build.check(answer)
    assert feedback.passed, feedback


# ------------------------------------------------------------------------------------------------- 10.3

_FEEDS = """
import * as ort from "onnxruntime-node";
import { readFileSync } from "node:fs";
const [modelPath, feedsPath] = process.argv.slice(2);
const session = await ort.InferenceSession.create(modelPath);
const feeds = {};
for (const [name, t] of Object.entries(JSON.parse(readFileSync(feedsPath, "utf8")))) {
  feeds[name] = new ort.Tensor(t.type, Float32Array.from(t.data), t.dims);
}
const out = (await session.run(feeds))[session.outputNames[0]];
const data = Array.from(out.data);
"""

_WRONG_SCRIPTS = {
    # the whole output as one list: argmax of everything (looks right at batch 1)
    "flat_argmax": _FEEDS + "console.log(JSON.stringify([data.indexOf(Math.max(...data))]));",
    # the largest score of each row, not where it is
    "max_value": _FEEDS
    + "const n = out.dims[1]; const r = [];\n"
    + "for (let i = 0; i < out.dims[0]; i++) r.push(Math.max(...data.slice(i * n, (i + 1) * n)));\n"
    + "console.log(JSON.stringify(r));",
    # rows cut by the batch size instead of the class count
    "wrong_stride": _FEEDS
    + "const b = out.dims[0]; const r = [];\n"
    + "for (let i = 0; i < b; i++) { const row = data.slice(i * b, (i + 1) * b); r.push(row.indexOf(Math.max(...row))); }\n"
    + "console.log(JSON.stringify(r));",
    # a reviewer's answer: the solution's loop with k <= n, reading one value into the next row
    "one_past_the_row": _FEEDS
    + "const [rows, n] = out.dims; const r = [];\n"
    + "for (let i = 0; i < rows; i++) { let best = 0;\n"
    + "  for (let k = 1; k <= n; k++) if (out.data[i * n + k] > out.data[i * n + best]) best = k;\n"
    + "  r.push(best); }\n"
    + "console.log(JSON.stringify(r));",
    # float64 feeds: onnxruntime refuses the type
    "float64": _FEEDS.replace("t.type, Float32Array.from(t.data)", '"float64", Float64Array.from(t.data)')
    + "console.log('[]');",
}


@needs_node
@pytest.mark.parametrize(
    ("case", "fragment"),
    [
        ("start", "printed nothing"),  # the untouched starting cell: a comment only
        ("empty", "no script yet"),
        ("flat_argmax", "class(es)"),
        ("max_value", "not class indices"),
        ("wrong_stride", "differ from Python's"),
        ("one_past_the_row", "differ from Python's"),
        ("float64", "stopped with an error"),
    ],
)
def test_node_argmax_wrong_answers(case, fragment):
    answer = {"start": "\n// your script here\n", "empty": "", **_WRONG_SCRIPTS}[case]
    assert_wrong(lesson10.node_argmax, lesson10.node_argmax.check(answer), fragment)


def test_node_argmax_gesture_rows_have_different_classes():
    """The gesture batch's rows give different classes (noise alone gives class 3 for every row)."""
    import onnxruntime as ort

    x = lesson10._gesture_batch()
    session = ort.InferenceSession(gesture_model().SerializeToString(), providers=["CPUExecutionProvider"])
    classes = session.run(None, {"accel": x})[0].argmax(axis=1).tolist()
    assert len(set(classes)) == len(classes) >= 3, classes


# ------------------------------------------------------------------------------------------------- 10.4


def _graph_opset_only() -> onnx.ModelProto:
    model = sensor_model()
    model.ir_version = 13
    for opset in model.opset_import:
        if opset.domain == "":
            opset.version = 26
    return model


def _converted_keeps_ir() -> onnx.ModelProto:
    return onnx.version_converter.convert_version(sensor_model(), 26)


def _converted_drops_function() -> onnx.ModelProto:
    model = onnx.version_converter.convert_version(sensor_model(), 26)
    model.ir_version = 13
    return model


def _other_math() -> onnx.ModelProto:
    model = onnx.inliner.inline_local_functions(sensor_model())
    model = onnx.version_converter.convert_version(model, 26)
    model.ir_version = 13
    del model.graph.node[-1]  # tanh(h) only: the Mul dropped
    model.graph.node[-1].output[0] = "level"
    return model


@needs_node
@pytest.mark.parametrize(
    ("case", "fragment"),
    [
        ("start", "IR version: 14"),  # the untouched starting cell: sensor_model() as it is
        ("ir_only", "opset"),  # ir_version lowered, opsets left at 28
        ("converted_keeps_ir", "IR version: 14"),  # convert_version does not change ir_version
        ("drops_function", "not a registered function/op"),  # convert_version drops the local function
        ("graph_opset_only", "opset"),  # the model's opset lowered, the function's left at 28
        ("other_math", "outputs differ"),  # loads, but computes something else
    ],
)
def test_browser_fix_wrong_answers(case, fragment):
    if case == "ir_only":
        answer = sensor_model()
        answer.ir_version = 13
    else:
        answer = {
            "start": sensor_model,
            "converted_keeps_ir": _converted_keeps_ir,
            "drops_function": _converted_drops_function,
            "graph_opset_only": _graph_opset_only,
            "other_math": _other_math,
        }[case]()
    assert_wrong(lesson10.browser_fix, lesson10.browser_fix.check(answer), fragment)
