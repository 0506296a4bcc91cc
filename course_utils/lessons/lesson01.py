"""Exercises of lesson 01 (what ONNX is and why): run any classifier with the real calls, place problems on the
pipeline, and export a model with two inputs (a transfer task).

    from course_utils.lessons import lesson01
    lesson01.predict.check(my_function)
    lesson01.predict.hint()        # again for a more specific hint
    lesson01.predict.solution()    # only when you want to see it
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numpy as np
import onnx

from course_utils.lessons.exercises import Exercise, NotYet, expect
from course_utils.onnxfile.diagrams import STAGES

__all__ = ["STATEMENTS", "calibrated", "predict", "stages"]


# ------------------------------------------------------------------------------------------ 01.1


def _centroid_classifier(input_name: str, output_name: str) -> onnx.ModelProto:
    """A digits classifier written directly in ONNX (nearest centroid: scores = 2 x.c - |c|^2), no framework.

    The exercise's checker runs the learner's function on two of these, with different input and output
    names, so an answer that guesses the names instead of reading them from the session fails.
    """
    from course_utils.models.data import load_digits

    digits = load_digits()
    flat = digits.x_train.reshape(len(digits.x_train), -1)
    centroids = np.stack([flat[digits.y_train == k].mean(axis=0) for k in range(10)]).astype(np.float32)
    helper = onnx.helper
    x = helper.make_tensor_value_info(input_name, onnx.TensorProto.FLOAT, ["batch", 1, 8, 8])
    y = helper.make_tensor_value_info(output_name, onnx.TensorProto.FLOAT, ["batch", 10])
    weight = onnx.numpy_helper.from_array(2 * centroids.T, "weight")
    bias = onnx.numpy_helper.from_array(-(centroids**2).sum(axis=1), "bias")
    nodes = [
        helper.make_node("Flatten", [input_name], ["flat"]),
        helper.make_node("MatMul", ["flat", "weight"], ["product"]),
        helper.make_node("Add", ["product", "bias"], [output_name]),
    ]
    graph = helper.make_graph(nodes, "nearest_centroid", [x], [y], [weight, bias])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


def _check_predict(fn: Callable[[str, np.ndarray], Any]) -> str:
    from course_utils.models.data import load_digits
    from course_utils.paths import artifact_path

    expect(
        callable(fn),
        "check needs your function itself, not what it returns",
        expected="a function predict(path, images)",
        got=type(fn).__name__,
    )
    images = load_digits().x_test
    for input_name, output_name in (("pixels", "scores"), ("image", "logits")):
        model = _centroid_classifier(input_name, output_name)
        path = artifact_path(f"exercise_01_1_{input_name}.onnx", lesson="01")
        onnx.save(model, path)
        flat = images.reshape(len(images), -1)
        weight, bias = (onnx.numpy_helper.to_array(t) for t in model.graph.initializer)
        right = (flat @ weight + bias).argmax(axis=1)
        where = f"a classifier whose input is named '{input_name}' and output '{output_name}'"
        try:
            result = fn(str(path), images)
        except Exception as error:  # the learner's code may fail in any way: report it as feedback
            first_line = str(error).strip().splitlines()[0] if str(error).strip() else ""
            raise NotYet(
                f"predict raised {type(error).__name__} on {where}: {first_line}",
                why="exporters choose input and output names, so they differ from model to model; "
                "code that serves any model cannot assume them",
            ) from None
        got = np.asarray(result)
        expect(
            got.shape == right.shape,
            f"predict returned an array of shape {got.shape} for {len(images)} images",
            why="the caller wants one class per image, not the model's raw scores",
            expected=f"shape {right.shape}: one class number per image",
            got=f"shape {got.shape}",
        )
        expect(
            np.issubdtype(got.dtype, np.integer),
            f"predict returned {got.dtype} values",
            why="a class is a whole number 0-9, usable as an index",
            expected="integer class numbers",
            got=str(got.dtype),
        )
        wrong = int(np.sum(got != right))
        expect(
            wrong == 0,
            f"{wrong} of {len(images)} predicted classes differ from the model's on {where}",
            why="each image's class is the position of its highest score",
            expected="the model's own classes for all images",
            got=f"{len(images) - wrong} of {len(images)} agree",
        )
    return "right classes from two models with different input and output names, read from each session"


predict = Exercise(
    "01.1",
    "Run any classifier with the real calls",
    _check_predict,
    hints=[
        "`session.run(None, feed)` needs a feed `{input name: array}`. The name is chosen at export time and "
        "differs between models: which call asks the session what it expects?",
        "`session.get_inputs()` lists the inputs; each has `.name`, `.shape` and `.type`. `session.run` returns a "
        "list with one array per output; the first holds one row of 10 scores per image.",
        "name = session.get_inputs()[0].name; (scores,) = session.run(None, {name: images}); "
        "return scores.argmax(axis=1)",
    ],
    solution_code="""
def predict(path, images):
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name  # chosen at export: read it, never guess it
    (scores,) = session.run(None, {name: images})
    return scores.argmax(axis=1)  # the class with the highest score, per image

lesson01.predict.check(predict)
""",
    giveaways=("get_inputs", "argmax", "axis=1"),
)


# ------------------------------------------------------------------------------------------ 01.2

#: Statements for exercise 01.2: at which stage of the pipeline diagram does each belong?
STATEMENTS: dict[str, str] = {
    "no_translation": "torch.onnx.export stops with an error: one operation in forward() has no ONNX equivalent.",
    "opset_declared": "The model declares that its nodes follow version 20 of the ai.onnx operator set.",
    "weights_beside": "Next to model.onnx lies model.onnx.data, which holds the weights.",
    "scores_differ": "Fed the same images, the exported model's scores differ from PyTorch's by 0.3.",
    "ir_too_new": "Creating the session fails: 'Unsupported model IR version: 14, max supported IR version: 13'.",
    "gpu_same_file": "The same .onnx file runs on an NVIDIA GPU once onnxruntime-gpu is installed and CUDA asked for.",
}

_RIGHT_STAGES: dict[str, str] = {
    "no_translation": "export",
    "opset_declared": "onnx",
    "weights_beside": "onnx",
    "scores_differ": "check",
    "ir_too_new": "session",
    "gpu_same_file": "provider",
}

_STAGE_KEYS = tuple(s.key for s in STAGES)


def _check_stages(where: Any) -> str:
    expect(
        isinstance(where, dict),
        "answer with a dict {statement key: stage key}",
        got=type(where).__name__,
    )
    missing, unknown = sorted(set(STATEMENTS) - set(where)), sorted(set(where) - set(STATEMENTS))
    expect(
        not missing and not unknown,
        "the dict must answer each statement of STATEMENTS once",
        expected=sorted(STATEMENTS),
        got=f"missing {missing}, unknown {unknown}",
    )
    not_stages = sorted(k for k, v in where.items() if v not in _STAGE_KEYS)
    expect(
        not not_stages,
        f"{len(not_stages)} answer(s) name no stage of the diagram: {not_stages}",
        why="each answer is the key of one box of pipeline()",
        expected=f"one of {', '.join(_STAGE_KEYS)}",
        got=", ".join(repr(where[k]) for k in not_stages),
    )
    wrong = sorted(k for k in STATEMENTS if where[k] != _RIGHT_STAGES[k])
    expect(
        not wrong,
        f"{len(wrong)} of {len(STATEMENTS)} statements sit at a stage that neither reports nor holds them: {wrong}",
        why="knowing where a problem shows up tells you which tool to reach for first",
        expected=f"{len(STATEMENTS)} of {len(STATEMENTS)} right",
        got=f"{len(STATEMENTS) - len(wrong)} of {len(STATEMENTS)} right",
    )
    return "every statement at its stage: exporter, file, checks, session, execution provider"


stages = Exercise(
    "01.2",
    "Place each problem on the pipeline",
    _check_stages,
    hints=[
        "Read each box of the diagram: its title and the tools or contents listed under it. A statement belongs "
        "to the box whose tool reports it, or whose content it describes.",
        "Two statements describe what the file holds; one is found by comparing numbers (listed in one box); "
        "one happens when the runtime loads the file; one is about the hardware that runs the nodes.",
        "export: the exporter fails. onnx: what the file declares and stores. check: parity. session: loading. "
        "provider: a GPU without changing the file.",
    ],
    solution_code="""
where = {
    "no_translation": "export",  # the exporter meets an operation it cannot write as ONNX
    "opset_declared": "onnx",  # the file declares its opset (and IR version)
    "weights_beside": "onnx",  # the weights are part of the model: here as external data
    "scores_differ": "check",  # a parity test compares the numbers
    "ir_too_new": "session",  # the runtime reads the file when the session is created
    "gpu_same_file": "provider",  # the execution provider picks the hardware; the file stays the same
}
lesson01.stages.check(where)
""",
    giveaways=tuple(f"'{k}': '{v}'" for k, v in _RIGHT_STAGES.items())
    + tuple(f"{k} -> {v}" for k, v in _RIGHT_STAGES.items()),
)


# ------------------------------------------------------------------------------------------ 01.3


def _temperature_feed(model: onnx.ModelProto, value: float) -> np.ndarray:
    """The temperature as the model declares it: shape (1,) as asked, or a scalar if exported that way."""
    declared = next(i for i in model.graph.input if i.name == "temperature")
    rank = len(declared.type.tensor_type.shape.dim)
    return np.full((1,) * rank, value, dtype=np.float32)


def _check_calibrated(path: Any) -> str:
    import onnxruntime as ort

    from course_utils.errors import CourseError
    from course_utils.onnxfile.modelio import load_model

    expect(path is not None, "there is no model yet", expected="the path of the .onnx file you exported", got=None)
    expect(
        isinstance(path, str | os.PathLike),
        "check needs the path of the exported file",
        expected="a str or pathlib.Path",
        got=type(path).__name__,
    )
    try:
        model = load_model(path)
        onnx.checker.check_model(model, full_check=True)
    except CourseError as error:
        raise NotYet(str(error)) from None
    except onnx.checker.ValidationError as error:
        raise NotYet(f"the ONNX checker rejects the model: {str(error).strip().splitlines()[0]}") from None
    inputs = [i.name for i in model.graph.input]
    outputs = [o.name for o in model.graph.output]
    expect(
        sorted(inputs) == ["image", "temperature"],
        f"the model has {len(inputs)} input(s): {inputs}",
        why="the temperature must be chosen when the model runs, so it has to be an input, not a constant",
        expected="two inputs, named 'image' and 'temperature'",
        got=inputs,
    )
    expect(
        "probabilities" in outputs,
        "the model has no output named 'probabilities'",
        why="the serving code asks for outputs by name",
        got=outputs,
    )
    from course_utils.models.data import load_digits, load_digits_cnn

    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    digits = load_digits()
    cnn = load_digits_cnn()
    import torch

    for batch, temperature in ((5, 2.0), (3, 0.5)):
        images = digits.x_test[:batch]
        feed = {"image": images, "temperature": _temperature_feed(model, temperature)}
        try:
            got = session.run(["probabilities"], feed)[0]
        except Exception as error:  # onnxruntime's own message says which dimension it rejected
            raise NotYet(
                f"the session rejects {batch} images at temperature {temperature}: {str(error).strip()}",
                why="a server runs whatever number of requests arrive together, not only the example's count",
            ) from None
        with torch.no_grad():
            scores = cnn(torch.from_numpy(images)).numpy() / temperature
        exp = np.exp(scores - scores.max(axis=1, keepdims=True))
        expected = exp / exp.sum(axis=1, keepdims=True)
        sums = got.sum(axis=1)
        expect(
            got.shape == expected.shape and bool(np.allclose(sums, 1.0, atol=1e-5)) and bool((got >= 0).all()),
            "the outputs are not probabilities",
            why="each row must be >= 0 and sum to 1 so a server can read it as confidence",
            expected=f"shape {expected.shape}, rows summing to 1",
            got=f"shape {got.shape}, row sums from {sums.min():.3f} to {sums.max():.3f}",
        )
        largest = float(np.abs(got - expected).max())
        expect(
            largest <= 1e-5,
            f"at temperature {temperature} the probabilities differ from the trained classifier's by up to "
            f"{largest:.2g}",
            why="parity: the exported model must give the numbers of the trained PyTorch model, at every temperature",
            expected="differences <= 1e-5",
            got=f"{largest:.2g}",
        )
    return "two inputs, any batch size, and the trained model's probabilities at temperatures 2.0 and 0.5"


calibrated = Exercise(
    "01.3",
    "Export a model with two inputs (transfer)",
    _check_calibrated,
    hints=[
        "forward(image, temperature) receives both tensors; the probabilities are the classifier's scores divided "
        "by the temperature, turned into probabilities along the class axis. The export's example is a tuple with "
        "one tensor per forward() argument.",
        "torch.softmax(self.classifier(image) / temperature, dim=1). Name both inputs when you export, and let "
        "the first dimension of the image vary; the temperature keeps its shape (1,).",
        'torch.onnx.export(model, (images, torch.tensor([2.0])), path, input_names=["image", "temperature"], '
        'output_names=["probabilities"], dynamic_shapes={"image": {0: torch.export.Dim("batch")}, '
        '"temperature": None}, external_data=False)',
    ],
    solution_code="""
class Calibrated(torch.nn.Module):
    def __init__(self, classifier):
        super().__init__()
        self.classifier = classifier

    def forward(self, image, temperature):
        return torch.softmax(self.classifier(image) / temperature, dim=1)


calibrated_model = Calibrated(cnn).eval()
example = (torch.from_numpy(digits.x_test[:2]), torch.tensor([2.0]))
solution_path = artifact_path("solution_01_3_calibrated.onnx", lesson="01")
torch.onnx.export(
    calibrated_model, example, solution_path,
    input_names=["image", "temperature"], output_names=["probabilities"],
    dynamic_shapes={"image": {0: torch.export.Dim("batch")}, "temperature": None},
    external_data=False, verbose=False,
)
session = ort.InferenceSession(solution_path, providers=["CPUExecutionProvider"])
images, temperature = digits.x_test[:5], np.array([2.0], dtype=np.float32)
(probabilities,) = session.run(None, {"image": images, "temperature": temperature})
with torch.no_grad():
    expected = calibrated_model(torch.from_numpy(images), torch.from_numpy(temperature)).numpy()
np.testing.assert_allclose(probabilities, expected, rtol=1e-4, atol=1e-6)
lesson01.calibrated.check(solution_path)
""",
    giveaways=("dynamic_shapes", "dynamic_axes", "Dim(", "softmax", "input_names"),
)
