"""Exercises of lesson 10 (ship it (1): ORT format, edge and mobile, the browser, Node.js): convert a model to ORT
format for a phone that uses CoreML, write the operator list a reduced-operator build needs for two models, write
a Node.js script that prints each row's class, and (transfer) make a model the browser refuses run in the browser.

    from course_utils.lessons import lesson10
    lesson10.phone_ort.check(ort_path, gesture_path)
    lesson10.phone_ort.hint()        # again for a more specific one
    lesson10.phone_ort.solution()

The checkers of 10.3 and 10.4 run Node.js with the course's npm packages (onnxruntime-node, onnxruntime-web).
"""

from __future__ import annotations

import json
import os
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from ..errors import CourseError, first_line
from ..paths import relative_to_repo
from .exercises import Exercise, NotYet, expect

__all__ = [
    "WEB_RUN_SCRIPT",
    "browser_fix",
    "gesture_model",
    "node_argmax",
    "phone_ort",
    "reduced_build",
    "sensor_model",
]


def _rng_weights(shape: tuple[int, ...], seed: int) -> np.ndarray:
    return (np.random.default_rng(seed).standard_normal(shape) * 0.5).astype(np.float32)


def gesture_model() -> onnx.ModelProto:
    """A gesture classifier for a phone: input ``accel`` float32[batch, 3, 32] (32 samples of a 3-axis
    accelerometer), a 1-D convolution with ReLU, a global average, a linear layer: ``gesture`` [batch, 4].
    IR 10, opset 20 (what torch 2.13's exporter writes)."""
    nodes = [
        helper.make_node("Conv", ["accel", "conv.weight", "conv.bias"], ["conv"], pads=[2, 2]),
        helper.make_node("Relu", ["conv"], ["relu"]),
        helper.make_node("GlobalAveragePool", ["relu"], ["pooled"]),
        helper.make_node("Flatten", ["pooled"], ["features"]),
        helper.make_node("Gemm", ["features", "head.weight", "head.bias"], ["gesture"], transB=1),
    ]
    weights = [
        numpy_helper.from_array(_rng_weights((8, 3, 5), 101), "conv.weight"),
        numpy_helper.from_array(_rng_weights((8,), 102), "conv.bias"),
        numpy_helper.from_array(_rng_weights((4, 8), 103), "head.weight"),
        numpy_helper.from_array(_rng_weights((4,), 104), "head.bias"),
    ]
    graph = helper.make_graph(
        nodes,
        "gesture",
        [helper.make_tensor_value_info("accel", TensorProto.FLOAT, ["batch", 3, 32])],
        [helper.make_tensor_value_info("gesture", TensorProto.FLOAT, ["batch", 4])],
        weights,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 20)], ir_version=10, producer_name="course")


def sensor_model() -> onnx.ModelProto:
    """Exercise 10.4's model, saved with onnx 1.23's defaults (IR 14, opset 28): input ``reading`` float32[batch,
    6], a MatMul, then ``sensor:soft_clip`` (a model-local function: ``tanh(h) * h``), output ``level`` [batch, 3].
    ONNX Runtime 1.32 (Python) runs it; onnxruntime-web 1.31.1 refuses it."""
    soft_clip = helper.make_function(
        "sensor",
        "soft_clip",
        ["h"],
        ["y"],
        [helper.make_node("Tanh", ["h"], ["t"]), helper.make_node("Mul", ["t", "h"], ["y"])],
        opset_imports=[helper.make_opsetid("", 28)],
    )
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", ["reading", "mix"], ["mixed"]),
            helper.make_node("soft_clip", ["mixed"], ["level"], domain="sensor"),
        ],
        "sensor",
        [helper.make_tensor_value_info("reading", TensorProto.FLOAT, ["batch", 6])],
        [helper.make_tensor_value_info("level", TensorProto.FLOAT, ["batch", 3])],
        [numpy_helper.from_array(_rng_weights((6, 3), 105), "mix")],
    )
    # helper.make_model stamps the newest IR version and opset onnx knows unless told otherwise: 14 and 28
    return helper.make_model(
        graph,
        functions=[soft_clip],
        opset_imports=[helper.make_opsetid("", 28), helper.make_opsetid("sensor", 1)],
    )


def _model_path(answer: Any, what: str, suffix: str = "") -> Path:
    expect(answer is not None, f"no answer yet: pass {what}")
    expect(isinstance(answer, str | os.PathLike), f"pass {what} (a path)", got=type(answer).__name__)
    path = Path(answer)
    if not path.is_file():
        raise NotYet(f"there is no file at {relative_to_repo(path)} yet", why=f"write {what} there first")
    return path


def _brief(message: str) -> str:
    """A long runtime message as its first and last sentences (the opset refusal names the limit at its end)."""
    sentences = [part.strip() for part in message.replace("\n", " ").split(". ") if part.strip()]
    if len(message) <= 240 or len(sentences) < 3:
        return message[:300]
    return f"{sentences[0]}. ... {sentences[-1]}"[:400]


def _session(model: str | bytes, *, replay: bool = False) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 4
    if replay:
        options.add_session_config_entry("session.enable_saved_runtime_optimizations", "1")
    try:
        return ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
    except Exception as error:
        raise NotYet("ONNX Runtime (Python) refuses to load it", got=first_line(error)[:300]) from None


# ------------------------------------------------------------------------------------------------- 10.1


def _check_phone_ort(answer: Any, original: Any) -> str:
    from ..deploy.ort_format import ORT_MAGIC, read_ort_file

    path = _model_path(answer, "the path of your .ort file")
    source = _model_path(original, "the path of the gesture model's .onnx file (the second argument)")
    expect(
        path.read_bytes()[4:8] == ORT_MAGIC,
        "that file is not in ORT format",
        why="an ORT-format file is FlatBuffers with the identifier 'ORTM'; a protobuf .onnx file stays protobuf "
        "whatever its name",
        got=f"{path.name}: bytes 4-8 are {path.read_bytes()[4:8]!r}",
    )
    info = read_ort_file(path)
    session = _session(str(path), replay=True)
    reference = _session(str(source))
    names = [i.name for i in session.get_inputs()]
    expect(
        names == [i.name for i in reference.get_inputs()],
        "the .ort file is not the gesture model",
        why="its inputs differ from the gesture model's",
        got=names,
    )
    fused = [op for op in info.op_types if op.startswith("com.microsoft:")]
    expect(
        not fused and info.runtime_optimization_records > 0,
        "the .ort file has the CPU's fusions baked in and saves no runtime optimizations",
        why="CoreML takes standard ONNX operators, and how many nodes it takes is known only on the phone; "
        "fusions made for the CPU at conversion hide nodes CoreML could have run",
        got=f"operators {list(info.op_types)}, {info.runtime_optimization_records} saved optimization records",
    )
    # a batch of 5 where the batch is symbolic; the file's own batch where it was fixed for CoreML (lesson 09)
    batch = session.get_inputs()[0].shape[0]
    batch = batch if isinstance(batch, int) and batch > 0 else 5
    x = np.random.default_rng(110).standard_normal((batch, 3, 32)).astype(np.float32)
    actual = session.run(None, {names[0]: x})[0]
    expected = reference.run(None, {names[0]: x})[0]
    expect(
        actual.shape == expected.shape and bool(np.allclose(actual, expected, rtol=1e-5, atol=1e-5)),
        "the .ort file's outputs differ from the .onnx file's",
        why="conversion must not change the numbers",
    )
    return (
        f"ORT format v{info.format_version}, standard operators {list(info.op_types)}, "
        f"{info.runtime_optimization_records} saved optimization record(s); outputs equal the .onnx file's at batch {batch}"
    )


phone_ort = Exercise(
    "10.1",
    "Convert the gesture model to ORT format for an iPhone app that runs it with CoreML",
    _check_phone_ort,
    hints=[
        "Section 2 converted the digits model twice, once in each optimization style. Read the converter's --help: "
        "which style does it recommend for NNAPI and CoreML, and why?",
        "The converter writes into --output_dir a file per style; the style that saves optimizations for the "
        "phone names its file *.with_runtime_opt.ort.",
        "python -m onnxruntime.tools.convert_onnx_models_to_ort GESTURE.onnx --output_dir DIR "
        "--optimization_style Runtime, then pass DIR/<name>.with_runtime_opt.ort.",
    ],
    solution_code="""
from course_utils.deploy.ort_format import convert_to_ort
from course_utils.paths import artifact_path

# the converter's command with --optimization_style Runtime (section 2's convert_to_ort runs it)
solution_dir = artifact_path("solution_ort", lesson="10")
solution = convert_to_ort(gesture_path, optimization_style="Runtime", out_dir=solution_dir)
lesson10.phone_ort.check(solution.ort_path, gesture_path)
""",
    giveaways=("--optimization_style Runtime", "with_runtime_opt"),
)


# ------------------------------------------------------------------------------------------------- 10.2


def _ops_of_config(text: str) -> set[tuple[str, int, str]]:
    """The (domain, opset, operator) triples of a required-operators config."""
    ops: set[tuple[str, int, str]] = set()
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split(";")
        expect(
            len(parts) == 3 and parts[1].strip().isdigit() and parts[2].strip() != "",
            f"line {number} is not in the config's format",
            why="each line is domain;opset;Op1,Op2,... (lines starting with # are comments)",
            got=line[:120],
        )
        domain = parts[0].strip() or "ai.onnx"
        opset = int(parts[1].strip())
        ops |= {(domain, opset, op.strip()) for op in parts[2].split(",") if op.strip()}
    return ops


def _kernel_version(domain: str, opset: int, op: str) -> int | None:
    """The version of ``op``'s definition that a model importing ``domain`` at ``opset`` uses (the version a
    reduced build keeps kernels for); ``None`` where that opset has no such operator. Operators of other domains
    (com.microsoft) are not in onnx's schemas: their listed opset counts as it is."""
    if domain != "ai.onnx":
        return opset
    try:
        return int(onnx.defs.get_schema(op, opset, "").since_version)
    except onnx.defs.SchemaError:
        return None


def _kernels_of(ops: set[tuple[str, int, str]]) -> set[tuple[str, int | None, str]]:
    return {(domain, _kernel_version(domain, opset, op), op) for domain, opset, op in ops}


@lru_cache(maxsize=1)
def _ops_needed() -> frozenset[tuple[str, int, str]]:
    """The (domain, opset, operator) triples the digits CNN and the gesture model need once converted (Fixed
    style): the converter run once on a folder holding both, as exercise 10.2 asks."""
    import hashlib
    import subprocess
    from importlib.metadata import version

    from ..deploy.ort_format import converter_command
    from ..models.registry import onnx_path
    from ..paths import artifact_path

    models = {
        "gesture.onnx": gesture_model().SerializeToString(),
        "digits.onnx": Path(onnx_path("digits_cnn")).read_bytes(),
    }
    # kept in artifacts/ by what it depends on (both models' bytes, the converter's release): a new kernel reuses it
    key = hashlib.sha256(b"".join(models.values()) + version("onnxruntime").encode()).hexdigest()[:16]
    cached = artifact_path(f"checker_required_operators_{key}.config", lesson="10")
    if not cached.is_file():
        with tempfile.TemporaryDirectory(prefix="course-10-") as tmp:
            folder = Path(tmp) / "models"
            folder.mkdir()
            for name, data in models.items():
                (folder / name).write_bytes(data)
            command = converter_command(str(folder), "--output_dir", str(Path(tmp) / "out"))
            subprocess.run(command, check=True, capture_output=True)
            cached.write_text((Path(tmp) / "out" / "required_operators.config").read_text())
    return frozenset(_ops_of_config(cached.read_text()))


def _check_reduced_build(answer: Any) -> str:
    path = _model_path(answer, "the path of the required-operators config")
    data = path.read_bytes()
    expect(
        b"\x00" not in data,
        "that is a binary file (a model?), not a config",
        why="a reduced build reads a text file of operators, one domain;opset;Op1,Op2 line per domain and opset",
    )
    text = data.decode("utf-8", errors="replace")
    have = _ops_of_config(text)
    expect(bool(have), "the config lists no operator", why="a build from it would have no kernels")
    needed = _ops_needed()
    listed = {(domain, op) for domain, _, op in have}
    missing = sorted((domain, op) for domain, _, op in needed if (domain, op) not in listed)
    expect(
        not missing,
        f"the config lacks {len(missing)} operator(s) the two converted models run",
        why="a reduced build has kernels only for the listed operators; the app would fail to load a model that "
        "needs another, and the config must describe the graphs as they are after conversion",
        got=", ".join(f"{domain}:{op}" for domain, op in missing),
    )
    kernels = _kernels_of(have)
    wrong_opset = sorted(
        (domain, opset, op)
        for domain, opset, op in needed
        if (domain, _kernel_version(domain, opset, op), op) not in kernels
    )
    expect(
        not wrong_opset,
        f"{len(wrong_opset)} operator(s) are listed, but not at an opset whose kernel the converted models use",
        why="a reduced build keeps an operator's kernel only for the opset listed with it (each opset where the "
        "operator's definition changed has its own kernel); the models import a given opset and need the kernel "
        "of that version",
        got=", ".join(
            f"{domain}:{op} listed at opset {', '.join(str(o) for d, o, p in sorted(have) if (d, p) == (domain, op))}"
            for domain, _, op in wrong_opset
        ),
    )
    extra = sorted(kernels - _kernels_of(set(needed)))
    note = f" ({len(extra)} more than needed)" if extra else ""
    return f"{len(have)} operators{note}: a reduced build from this config runs both models"


reduced_build = Exercise(
    "10.2",
    "Write the operator config of a reduced build for the digits and gesture models",
    _check_reduced_build,
    hints=[
        "The config describes the models after conversion, not the .onnx graphs: Fixed style fuses nodes into "
        "com.microsoft operators. Compare section 2's config with the digits model's op types.",
        "The converter reads one file or a whole folder; for a folder it converts every .onnx file in it and "
        "writes one config for all of them.",
        "Put both .onnx files in a new folder and run python -m onnxruntime.tools.convert_onnx_models_to_ort "
        "FOLDER --output_dir OUT; pass OUT/required_operators.config.",
    ],
    solution_code="""
import shutil
import subprocess
import sys

from course_utils.paths import artifact_path

both = artifact_path("solution_both_models", lesson="10")
both.mkdir(exist_ok=True)
shutil.copy(digits_path, both / "digits.onnx")
shutil.copy(gesture_path, both / "gesture.onnx")
subprocess.run(
    [sys.executable, "-m", "onnxruntime.tools.convert_onnx_models_to_ort", str(both), "--output_dir", str(both / "ort")],
    check=True, capture_output=True,
)
lesson10.reduced_build.check(both / "ort" / "required_operators.config")
""",
    giveaways=("required_operators.config", "both models in"),
)


# ------------------------------------------------------------------------------------------------- 10.3


def _node_feed(path: Path, name: str, x: np.ndarray) -> Path:
    path.write_text(json.dumps({name: {"type": "float32", "dims": list(x.shape), "data": x.ravel().tolist()}}))
    return path


def _run_script(script: str, *args: Any, what: str = "the script") -> Any:
    from ..deploy.npm import run_node

    try:
        return run_node(script, *args, timeout=60)
    except CourseError as error:
        raise NotYet(f"Node.js cannot run here, so {what} cannot be checked", got=str(error)) from None


def _gesture_batch() -> np.ndarray:
    """10.3's gesture input: 4 rows of accelerometer noise around each axis's own offset (gravity's direction),
    one row for each of the 4 classes, in an order where some row's next row starts with a score above the
    row's largest (so a loop that reads one value past its row gives another class). Deterministic."""
    from itertools import pairwise, permutations

    rng = np.random.default_rng(103)
    pool = (rng.standard_normal((64, 3, 32)) + rng.uniform(-3, 3, (64, 3, 1))).astype(np.float32)
    scores = _session(gesture_model().SerializeToString()).run(None, {"accel": pool})[0]
    classes = scores.argmax(axis=1)
    rows = [int(np.flatnonzero(classes == c)[0]) for c in range(scores.shape[1]) if (classes == c).any()]
    for order in permutations(rows):
        if any(scores[b, 0] > scores[a].max() for a, b in pairwise(order)):
            return pool[list(order)]
    return pool[rows]


def _check_node_argmax(script: Any) -> str:
    from ..deploy.node import short_ort_error
    from ..models.registry import onnx_path

    expect(
        isinstance(script, str) and script.strip() != "",
        "no script yet: pass the JavaScript source as a string",
        got=type(script).__name__ if not isinstance(script, str) else "an empty string",
    )
    rng = np.random.default_rng(103)
    with tempfile.TemporaryDirectory(prefix="course-10-") as tmp:
        gesture = Path(tmp) / "gesture.onnx"
        onnx.save(gesture_model(), gesture)
        cases = [
            (gesture, "accel", _gesture_batch()),
            (Path(onnx_path("digits_cnn")), "image", rng.uniform(0, 16, (4, 1, 8, 8)).astype(np.float32)),
        ]
        for number, (model, name, x) in enumerate(cases):
            feeds = _node_feed(Path(tmp) / f"feeds{number}.json", name, x)
            done = _run_script(script, model, feeds)
            said = [line for line in (done.stderr or "").splitlines() if line.strip()]
            if done.returncode != 0:
                message = next((line for line in said if "Error" in line), said[-1] if said else "no message")
                raise NotYet(
                    f"the script stopped with an error on {model.name}",
                    why="it must run any model given as the first argument, with the feeds file as the second",
                    got=short_ort_error(message)[:300],
                )
            printed = [line for line in done.stdout.splitlines() if line.strip()]
            expect(bool(printed), "the script printed nothing", why="the checker reads its last line as JSON")
            try:
                classes = json.loads(printed[-1])
            except json.JSONDecodeError:
                raise NotYet(
                    "the last line the script printed is not JSON",
                    why="the checker reads a JSON list of class indices",
                    got=printed[-1][:200],
                ) from None
            expected = _session(str(model)).run(None, {name: x})[0].argmax(axis=1).tolist()
            expect(
                isinstance(classes, list) and len(classes) == len(expected),
                f"for a batch of {len(expected)} the script printed {len(classes) if isinstance(classes, list) else 'no list of'} class(es)",
                why="one class per row: the output is [batch, classes], stored flat, row after row",
                got=printed[-1][:200],
            )
            expect(
                all(isinstance(c, int) and not isinstance(c, bool) for c in classes),
                "the printed values are not class indices",
                why="a class is the position of the largest score in its row, an integer",
                got=printed[-1][:200],
            )
            expect(
                classes == expected,
                f"the classes differ from Python's on {model.name}",
                why="each row's class is where that row's scores are largest",
                got=f"{classes}, Python {expected}",
            )
    batches = " and ".join(str(len(x)) for _, _, x in cases)
    return f"one class per row, equal to Python's argmax on two models (batch {batches})"


node_argmax = Exercise(
    "10.3",
    "A Node.js script that prints the class of each row",
    _check_node_argmax,
    hints=[
        "Start from section 4's run_model.mjs: same arguments (model, feeds file), same session.run. What differs "
        "is what you print: the output's data is one flat Float32Array, and its dims say how to cut it.",
        "For an output of dims [batch, classes], row r is data.slice(r * classes, (r + 1) * classes); its class is "
        "the index of the largest value in that slice.",
        "After session.run: const out = results[session.outputNames[0]]; const [rows, n] = out.dims; for each "
        "row, loop over its n values keeping the index of the largest; console.log(JSON.stringify(classes)).",
    ],
    solution_code='''
solution_script = """
import * as ort from "onnxruntime-node";
import { readFileSync } from "node:fs";

const [modelPath, feedsPath] = process.argv.slice(2);
const session = await ort.InferenceSession.create(modelPath);
const feeds = {};
for (const [name, t] of Object.entries(JSON.parse(readFileSync(feedsPath, "utf8")))) {
  feeds[name] = new ort.Tensor(t.type, Float32Array.from(t.data), t.dims);
}
const out = (await session.run(feeds))[session.outputNames[0]];
const [rows, n] = out.dims;
const classes = [];
for (let r = 0; r < rows; r++) {
  let best = 0;
  for (let k = 1; k < n; k++) if (out.data[r * n + k] > out.data[r * n + best]) best = k;
  classes.push(best);
}
console.log(JSON.stringify(classes));
"""
lesson10.node_argmax.check(solution_script)
''',
    giveaways=("r * n + k", "data.slice(r *"),
)


# ------------------------------------------------------------------------------------------------- 10.4

#: The script exercise 10.4's checker runs: onnxruntime-web (WebAssembly backend, the browser's code) in Node.js.
WEB_RUN_SCRIPT = """
import * as ort from "onnxruntime-web";
import { readFileSync } from "node:fs";

ort.env.wasm.numThreads = 1;
const [modelPath, feedsPath] = process.argv.slice(2);
try {
  const session = await ort.InferenceSession.create(modelPath);
  const feeds = {};
  for (const [name, t] of Object.entries(JSON.parse(readFileSync(feedsPath, "utf8")))) {
    feeds[name] = new ort.Tensor(t.type, Float32Array.from(t.data), t.dims);
  }
  const out = (await session.run(feeds))[session.outputNames[0]];
  console.log(JSON.stringify({ ok: true, dims: out.dims, data: Array.from(out.data) }));
} catch (error) {
  console.log(JSON.stringify({ ok: false, error: String(error?.message ?? error) }));
}
"""


def _check_browser_fix(answer: Any) -> str:
    from ..deploy.node import short_ort_error

    expect(answer is not None, "no answer yet: pass your model (a path or an onnx.ModelProto)")
    if isinstance(answer, onnx.ModelProto):
        model_bytes = answer.SerializeToString()
    else:
        model_bytes = _model_path(answer, "your model's path or the model").read_bytes()
    x = np.random.default_rng(104).standard_normal((5, 6)).astype(np.float32)
    expected = _session(sensor_model().SerializeToString()).run(None, {"reading": x})[0]
    with tempfile.TemporaryDirectory(prefix="course-10-") as tmp:
        model_path = Path(tmp) / "answer.onnx"
        model_path.write_bytes(model_bytes)
        done = _run_script(
            WEB_RUN_SCRIPT,
            model_path,
            _node_feed(Path(tmp) / "feeds.json", "reading", x),
            what="the model in onnxruntime-web",
        )
    printed = [line for line in done.stdout.splitlines() if line.startswith("{")]
    expect(bool(printed), "onnxruntime-web stopped without an answer", got=(done.stderr.strip() or "-")[-300:])
    result = json.loads(printed[-1])
    expect(
        bool(result["ok"]),
        "onnxruntime-web refuses the model",
        why="the browser build is onnxruntime-web 1.31.1: what it refuses, no browser runs",
        got=_brief(short_ort_error(str(result.get("error")))),
    )
    actual = np.asarray(result["data"], np.float32).reshape(result["dims"])
    expect(
        actual.shape == expected.shape and bool(np.allclose(actual, expected, rtol=1e-5, atol=1e-5)),
        "onnxruntime-web runs it, but the outputs differ from the original model's",
        why="the model must still compute the same thing: mix, then tanh(h) * h",
        got=f"shape {list(actual.shape)}" if actual.shape != expected.shape else "values differ",
    )
    model = onnx.load_from_string(model_bytes)
    opsets = ", ".join(f"{o.domain or 'ai.onnx'} {o.version}" for o in model.opset_import)
    return f"IR {model.ir_version}, opsets {opsets}: onnxruntime-web 1.31.1 loads it and matches Python within 1e-5"


browser_fix = Exercise(
    "10.4",
    "Transfer: make a model the browser refuses run in the browser",
    _check_browser_fix,
    hints=[
        "Load the model in the browser's runtime first and read its message (the check shows it); section 1 fixed "
        "one such model. Fix one message, check again: this model may have more than one problem.",
        "A model-local function carries its own opset imports (model.functions[i].opset_import), and "
        "onnx.version_converter.convert_version does not keep functions: print model.functions after it.",
        "Copy sensor_model(); set model.ir_version = 13 and, in model.opset_import and in each function's "
        "opset_import, the ai.onnx version to 26 (Tanh, Mul and MatMul did not change between 26 and 28); or "
        "inline the function first with onnx.inliner.inline_local_functions, then convert_version(model, 26).",
    ],
    solution_code="""
import onnx
import onnx.inliner
import onnx.version_converter

from course_utils.lessons.lesson10 import sensor_model

solution_sensor = onnx.inliner.inline_local_functions(sensor_model())
solution_sensor = onnx.version_converter.convert_version(solution_sensor, 26)
solution_sensor.ir_version = 13
onnx.checker.check_model(solution_sensor, full_check=True)
lesson10.browser_fix.check(solution_sensor)
""",
    giveaways=("ir_version = 13", "inline_local_functions", "version to 26"),
)
