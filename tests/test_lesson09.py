"""Lesson 09's exercise checks: every hidden solution passes; plausible wrong answers get feedback that says what
is wrong without giving the fix away."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import onnx
import pytest
from course_test_helpers import artifacts_in, assert_wrong
from onnx import numpy_helper

from course_utils.lessons import lesson09
from course_utils.lessons.exercises import exercises_of
from course_utils.lessons.lesson09 import fixed_length_model

torch = pytest.importorskip("torch")
pytest.importorskip("onnxruntime_extensions")


@pytest.fixture(scope="module", autouse=True)
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Solutions and the cached sequence model go to a temporary artifacts folder, never over a learner's files."""
    with artifacts_in(tmp_path_factory.mktemp("artifacts")) as folder:
        yield folder


@pytest.fixture(scope="module")
def seq_path(artifacts: Path) -> Path:
    from course_utils.models.seqmodel import export_seq_model

    return export_seq_model()


@pytest.fixture(scope="module")
def net():
    return lesson09.two_channel_net()


def _namespace(net, seq_path) -> dict:
    """The learner's variables the solutions reuse (the notebook's cells define them)."""
    return {"lesson09": lesson09, "net": net, "seq_path": seq_path, "fixed_length_model": fixed_length_model}


def _name(exercise) -> str:
    return next(n for n in lesson09.__all__ if getattr(lesson09, n) is exercise)


def test_every_solution_passes_and_prints_nothing(net, seq_path, capfd):
    exercises = exercises_of("09")
    assert [e.id for e in exercises] == ["09.1", "09.2", "09.3", "09.4", "09.5"]
    for exercise in exercises:
        capfd.readouterr()
        run = exercise.run_solution(_namespace(net, seq_path))
        printed = capfd.readouterr().out
        assert run.passed, run
        assert printed.strip() == "", f"{exercise.id}'s solution prints: {printed!r}"
        assert exercise.solution_code.strip().splitlines()[-1].startswith(f"lesson09.{_name(exercise)}.check(")
        assert len(exercise.hints) >= 3
        leaked = [word for word in exercise.giveaways if word.lower() in str(run).lower()]
        assert leaked == []


# ------------------------------------------------------------------------------------------------- 09.1


def _export(module, example, path: Path, dynamic_shapes=None) -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, (example,), path, dynamic_shapes=dynamic_shapes, verbose=False)
    return path


def test_two_dims_accepts_batch_one_example(net, tmp_path):
    dims = {"signal": {0: torch.export.Dim("batch"), 2: torch.export.Dim("length")}}
    path = _export(net, torch.randn(1, 2, 50), tmp_path / "one.onnx", dims)
    assert lesson09.two_dims.check(path, net).passed


@pytest.mark.parametrize(
    "case,message",
    [
        ("missing", "there is no file"),  # the untouched starting cell
        ("fixed", "first (batch) dimension of the input is fixed"),  # exported without dynamic_shapes
        ("batch_only", "time dimension of the input is fixed"),  # copied the idea, forgot the length
        ("channel_axis", "time dimension of the input is fixed"),  # the demo's axis 1: silently specialised
        ("other_weights", "outputs differ from the PyTorch model's"),  # a freshly made net, not the one given
    ],
)
def test_two_dims_wrong_answers(net, tmp_path, case, message):
    path = tmp_path / f"{case}.onnx"
    example = torch.randn(2, 2, 64)
    if case == "fixed":
        _export(net, example, path)
    elif case == "batch_only":
        _export(net, example, path, {"signal": {0: torch.export.Dim("batch")}})
    elif case == "channel_axis":
        _export(net, example, path, {"signal": {0: torch.export.Dim("batch"), 1: torch.export.Dim("length")}})
    elif case == "other_weights":
        other = lesson09.two_channel_net()
        with torch.no_grad():
            other.head.bias.add_(0.5)
        _export(other, example, path, {"signal": {0: torch.export.Dim("batch"), 2: torch.export.Dim("length")}})
    feedback = lesson09.two_dims.check(path, net)
    assert_wrong(lesson09.two_dims, feedback)
    assert message in feedback.message


# ------------------------------------------------------------------------------------------------- 09.2


def _fixed_copy(seq_path: Path, path: Path, *, outputs: bool = True, shape=(4, 256), param=None) -> Path:
    from onnxruntime.tools.onnx_model_utils import fix_output_shapes, make_dim_param_fixed, make_input_shape_fixed

    model = onnx.load(seq_path)
    if not outputs:  # by hand, on the input only: the output keeps its symbolic batch
        for d, value in zip(model.graph.input[0].type.tensor_type.shape.dim, shape, strict=True):
            d.dim_value = value
        onnx.save(model, path)
        return path
    if param:
        make_dim_param_fixed(model.graph, "batch", shape[0])
        make_dim_param_fixed(model.graph, param, shape[1])
    else:
        make_input_shape_fixed(model.graph, "x", list(shape))
    fix_output_shapes(model)
    onnx.save(model, path)
    return path


@pytest.mark.parametrize(
    "case,message",
    [
        ("missing", "there is no file"),
        ("input_only", "output still declares a symbolic or unknown dimension"),  # edited the input by hand
        ("demo_shape", "input's shape is not the target's"),  # section 4's [1, 128] file copied
        ("typo", "input's shape is not the target's"),  # make_dim_param_fixed("lenght"): silently nothing
        ("in_place", "lost its symbolic dimensions"),  # overwrote the lesson's dynamic file
    ],
)
def test_fixed_target_wrong_answers(seq_path, tmp_path, case, message):
    path, original = tmp_path / "phone.onnx", seq_path
    if case == "input_only":
        _fixed_copy(seq_path, path, outputs=False)
    elif case == "demo_shape":
        _fixed_copy(seq_path, path, shape=(1, 128))
    elif case == "typo":
        _fixed_copy(seq_path, path, param="lenght")
    elif case == "in_place":
        original = _fixed_copy(seq_path, tmp_path / "overwritten.onnx")
        path = original
    feedback = lesson09.fixed_target.check(path, original)
    assert_wrong(lesson09.fixed_target, feedback)
    assert message in feedback.message


# ------------------------------------------------------------------------------------------------- 09.3


def _set_shape(model: onnx.ModelProto, name: str, values) -> None:
    for index, tensor in enumerate(model.graph.initializer):
        if tensor.name == name:
            model.graph.initializer[index].CopyFrom(numpy_helper.from_array(np.array(values, np.int64), name))


def test_unfix_length_accepts_a_symbolic_batch_too():
    model = fixed_length_model()
    dims = model.graph.input[0].type.tensor_type.shape.dim
    dims[0].dim_param, dims[1].dim_param = "batch", "length"
    _set_shape(model, "flat_shape", [-1, 4])
    _set_shape(model, "steps_shape", [0, -1, 8])  # wrong for batch 2: 0 copies the input's dim 0 (batch*length)
    assert not lesson09.unfix_length.check(model).passed
    _set_shape(model, "steps_shape", [2, -1, 8])
    assert lesson09.unfix_length.check(model).passed  # the checker runs batch 2 for a symbolic batch


@pytest.mark.parametrize(
    "case,message",
    [
        ("untouched", "time dimension of the input is still fixed"),
        ("input_only", "cannot run the model at length 5"),  # the Reshape constants still say 32
        ("first_reshape", "cannot run the model at length 5"),  # one of the two constants fixed
        ("batch_axis", "time dimension of the input is still fixed"),  # made axis 0 symbolic instead
    ],
)
def test_unfix_length_wrong_answers(case, message):
    model = fixed_length_model()
    dims = model.graph.input[0].type.tensor_type.shape.dim
    if case in ("input_only", "first_reshape"):
        dims[1].dim_param = "length"
    if case == "first_reshape":
        _set_shape(model, "flat_shape", [-1, 4])
    if case == "batch_axis":
        dims[0].dim_param = "length"
        _set_shape(model, "flat_shape", [-1, 4])
    feedback = lesson09.unfix_length.check(model)
    assert_wrong(lesson09.unfix_length, feedback)
    assert message in feedback.message


# ------------------------------------------------------------------------------------------------- 09.4


def _op_classes() -> dict:
    from onnx.reference.op_run import OpRun

    class SegmentSum(OpRun):  # the unique() version: looks right on ids starting at 0
        op_domain = "ai.onnx.contrib"

        def _run(self, data, segment_ids):
            ids = np.unique(segment_ids)
            return (np.stack([data[segment_ids == i].sum(axis=0) for i in ids]).astype(data.dtype),)

    unique_based = SegmentSum

    class SegmentSum(OpRun):  # no domain
        def _run(self, data, segment_ids):
            out = np.zeros((segment_ids.max() + 1, *data.shape[1:]), data.dtype)
            np.add.at(out, segment_ids, data)
            return (out,)

    no_domain = SegmentSum

    class SegmentSum(OpRun):  # float64 output
        op_domain = "ai.onnx.contrib"

        def _run(self, data, segment_ids):
            out = np.zeros((segment_ids.max() + 1, *data.shape[1:]))
            np.add.at(out, segment_ids, data)
            return (out,)

    float64 = SegmentSum

    class SegmentSum(OpRun):  # rows only (2-D data)
        op_domain = "ai.onnx.contrib"

        def _run(self, data, segment_ids):
            out = np.zeros((segment_ids.max() + 1, data.shape[1]), data.dtype)
            for row, i in zip(data, segment_ids, strict=True):
                out[i] += row
            return (out,)

    rows_only = SegmentSum

    class SegmentSums(OpRun):  # the wrong class name
        op_domain = "ai.onnx.contrib"

        def _run(self, data, segment_ids):
            return (data,)

    return {
        "unique_based": unique_based,
        "no_domain": no_domain,
        "float64": float64,
        "rows_only": rows_only,
        "wrong_name": SegmentSums,
    }


@pytest.mark.parametrize(
    "case,message",
    [
        ("none", "no answer yet"),
        ("instance", "not a class derived from"),
        ("wrong_name", "class's name is not the operator's op_type"),
        ("no_domain", "does not use your class"),
        ("unique_based", "output's shape differs from the kernel's"),
        ("float64", "element type differs"),
        ("rows_only", "your operator raised"),
    ],
)
def test_reference_op_wrong_answers(case, message):
    classes = _op_classes()
    answer = {"none": None, "instance": 3.0}.get(case, classes.get(case))
    feedback = lesson09.reference_op.check(answer)
    assert_wrong(lesson09.reference_op, feedback)
    assert message in feedback.message


# ------------------------------------------------------------------------------------------------- 09.5


def _plan(**changes):
    import onnxruntime as ort

    trt = {
        "trt_engine_cache_enable": "1",
        "trt_engine_cache_path": "cache",
        "trt_profile_min_shapes": "x:1x32",
        "trt_profile_opt_shapes": "x:8x256",
        "trt_profile_max_shapes": "x:16x512",
    }
    trt.update({k: v for k, v in changes.items() if k.startswith("trt_")})
    for key in [k for k, v in trt.items() if v is None]:
        del trt[key]
    providers = [(changes.get("name", "TensorrtExecutionProvider"), trt), changes.get("then", "CUDAExecutionProvider")]
    options = ort.SessionOptions()
    if changes.get("strict", True):
        options.add_session_config_entry("session.disable_cpu_ep_fallback", "1")
    return providers, options


def test_tensorrt_plan_accepts_booleans_and_a_cpu_entry_last():
    providers, options = _plan(trt_engine_cache_enable="True")
    providers.append("CPUExecutionProvider")
    assert lesson09.tensorrt_plan.check(providers, options).passed


@pytest.mark.parametrize(
    "changes,message",
    [
        ({"name": "TensorRTExecutionProvider"}, "knows no provider by that name"),  # the usual misspelling
        ({"then": "CPUExecutionProvider"}, "no GPU provider to go to"),
        ({"trt_engine_cache_path": None}, "not kept between sessions"),
        ({"trt_profile_opt_shapes": None}, "profile is incomplete"),  # min and max only
        ({"trt_profile_min_shapes": "input:1x32"}, "profile is incomplete or does not name the model's input"),
        ({"trt_profile_min_shapes": "x:32x1"}, "does not describe the traffic"),  # length and batch swapped
        ({"trt_profile_max_shapes": "x:256x1024"}, "does not describe the traffic"),  # the export's bounds
        ({"strict": False}, "would still start"),
    ],
)
def test_tensorrt_plan_wrong_answers(changes, message):
    feedback = lesson09.tensorrt_plan.check(*_plan(**changes))
    assert_wrong(lesson09.tensorrt_plan, feedback)
    assert message in feedback.message


def test_tensorrt_plan_starting_cell_and_a_bare_name():
    import onnxruntime as ort

    assert_wrong(lesson09.tensorrt_plan, lesson09.tensorrt_plan.check(None, None), "no answer yet")
    bare = lesson09.tensorrt_plan.check(["TensorrtExecutionProvider"], ort.SessionOptions())  # the starting cell
    assert_wrong(lesson09.tensorrt_plan, bare, "carries no options")
