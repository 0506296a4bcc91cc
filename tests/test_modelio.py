from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from course_test_helpers import build_one_op_model
from onnx import TensorProto, numpy_helper

from course_utils.errors import (
    CourseError,
    ExternalDataMissingError,
    ModelFileNotFoundError,
    NotAModelTypeError,
    NotAnOnnxModelError,
    first_line,
)
from course_utils.onnxfile.modelio import external_data_files, load_model, model_bytes


def add_model(weight_size: int = 4) -> onnx.ModelProto:
    """y = x + w with a float32 weight of ``weight_size`` values (big ones go to external data)."""
    return build_one_op_model("Add", np.arange(weight_size), [weight_size], opset=17)


def test_accepts_path_bytes_and_proto(tmp_path):
    model = add_model()
    path = tmp_path / "m.onnx"
    onnx.save(model, path)
    assert load_model(model) is model
    assert load_model(path).graph.node[0].op_type == "Add"
    assert load_model(str(path)).graph.name == "tiny"
    assert load_model(path.read_bytes()).graph.name == "tiny"
    assert model_bytes(path) == model.SerializeToString()


def test_missing_file_names_nearby_models(tmp_path):
    onnx.save(add_model(), tmp_path / "real.onnx")
    with pytest.raises(ModelFileNotFoundError, match=r"No model file at .*typo\.onnx.*real\.onnx"):
        load_model(tmp_path / "typo.onnx")


@pytest.mark.parametrize("content", [b"hello, not onnx", b"\x00\x01\x02garbage\xff" * 10, b""])
def test_not_onnx(tmp_path, content):
    path = tmp_path / "bad.onnx"
    path.write_bytes(content)
    with pytest.raises(NotAnOnnxModelError, match=r"(?i)not an ONNX model"):
        load_model(path)
    with pytest.raises(NotAnOnnxModelError):
        load_model(content)


@pytest.mark.parametrize("name", ["notes.json", "readme.txt", "weights.pt", "model.onnxtxt"])
def test_not_onnx_whatever_the_suffix(tmp_path, name):
    path = tmp_path / name
    path.write_text('{"digits": {"file": "digits.npz"}}')
    with pytest.raises(NotAnOnnxModelError, match=name.replace(".", r"\.")):
        load_model(path)


@pytest.mark.parametrize("suffix,fmt", [(".textproto", "textproto"), (".json", "json")])
def test_text_forms_load(tmp_path, suffix, fmt):
    path = tmp_path / f"tiny{suffix}"
    onnx.save(add_model(), path, format=fmt)
    assert load_model(path).graph.name == "tiny"


def test_truncated_file(tmp_path):
    data = add_model(1000).SerializeToString()
    path = tmp_path / "truncated.onnx"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(NotAnOnnxModelError, match="truncated"):
        load_model(path)


def test_folder_is_not_a_model(tmp_path):
    with pytest.raises(NotAnOnnxModelError, match="is a folder"):
        load_model(tmp_path)


def test_wrong_type():
    import torch

    with pytest.raises(NotAModelTypeError, match=r"got int: pass the path of the \.onnx file"):
        load_model(42)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="got Linear: export it to ONNX first"):
        load_model(torch.nn.Linear(2, 2))  # type: ignore[arg-type]
    with pytest.raises(CourseError):
        load_model(None)  # type: ignore[arg-type]


def test_external_data_missing_and_present(tmp_path):
    path = tmp_path / "big.onnx"
    onnx.save(add_model(4096), path, save_as_external_data=True, location="big.onnx.data", size_threshold=0)
    assert external_data_files(onnx.load(path, load_external_data=False)) == ["big.onnx.data"]
    loaded = load_model(path)
    assert numpy_helper.to_array(loaded.graph.initializer[0])[-1] == 4095
    (tmp_path / "big.onnx.data").unlink()
    with pytest.raises(ExternalDataMissingError, match=r"big\.onnx\.data, not found beside it"):
        load_model(path)


def test_errors_render_as_one_line_in_ipython():
    error = NotAnOnnxModelError("bad file. Fix: re-export")
    assert isinstance(error, CourseError) and isinstance(error, ValueError)
    assert error._render_traceback_() == ["NotAnOnnxModelError: bad file. Fix: re-export"]


def test_truncated_at_a_field_boundary(tmp_path):
    """Cut just before opset_import: protobuf parses what is left, but the model is incomplete."""
    model = add_model()
    without_opsets = onnx.ModelProto()
    without_opsets.CopyFrom(model)
    del without_opsets.opset_import[:]
    path = tmp_path / "cut.onnx"
    path.write_bytes(without_opsets.SerializeToString())
    with pytest.raises(NotAnOnnxModelError, match="truncated"):
        load_model(path)


def test_external_weights_need_a_path(tmp_path):
    path = tmp_path / "big.onnx"
    onnx.save(add_model(4096), path, save_as_external_data=True, location="big.onnx.data", size_threshold=0)
    unloaded = onnx.load(path, load_external_data=False)
    for source in (unloaded, unloaded.SerializeToString()):
        with pytest.raises(ExternalDataMissingError, match=r"Pass the \.onnx file's path instead"):
            model_bytes(source)
    assert len(model_bytes(path)) > 4096 * 4  # by path the weights are folded in
    assert model_bytes(onnx.load(path)) == onnx.load(path).SerializeToString()


def test_sessions_and_checks_explain_unloaded_external_weights(tmp_path):
    from course_utils.onnxfile.verify import check_model
    from course_utils.runtime import run_onnx

    path = tmp_path / "big.onnx"
    onnx.save(add_model(64), path, save_as_external_data=True, location="big.onnx.data", size_threshold=0)
    unloaded = onnx.load(path, load_external_data=False)
    x = np.ones(64, dtype=np.float32)
    with pytest.raises(ExternalDataMissingError, match=r"big\.onnx\.data"):
        run_onnx(unloaded, x)
    assert run_onnx(path, x)["y"][-1] == 64.0
    report = check_model(unloaded)
    assert not report.passed and "check the model by its path" in str(report)
    assert check_model(path).passed


def test_empty_modelproto_is_not_a_model():
    with pytest.raises(NotAnOnnxModelError, match=r"onnx\.ModelProto given does not hold a graph"):
        load_model(onnx.ModelProto())


@pytest.mark.parametrize("location", ["../outside.data", "/etc/hostname"])
def test_external_data_outside_the_folder(tmp_path, location):
    model = add_model(16)
    tensor = model.graph.initializer[0]
    onnx.external_data_helper.set_external_data(tensor, location=location)
    tensor.data_location = TensorProto.EXTERNAL
    tensor.ClearField("raw_data")
    tensor.ClearField("float_data")
    folder = tmp_path / "model"
    folder.mkdir()
    (tmp_path / "outside.data").write_bytes(b"\0" * 64)
    path = folder / "m.onnx"
    path.write_bytes(model.SerializeToString())
    with pytest.raises(ExternalDataMissingError, match="outside its folder"):
        load_model(path)


# ------------------------------------------------------------------------------- text forms under binary names


def test_textproto_named_onnx_gets_one_clear_error_from_every_helper(
    textproto_named_onnx: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from course_utils.inspect import summarize
    from course_utils.runtime import run_onnx
    from course_utils.views.netron import show_netron

    monkeypatch.setenv("COURSE_NETRON", "static")
    expected = (
        "'text.onnx' holds the protobuf text format of a model, but its name does not say so, so it was read as "
        "binary. Rename it to end in .textproto, or load it with onnx.load(path, format='textproto')."
    )
    messages = set()
    for helper_call in (
        lambda: load_model(textproto_named_onnx),
        lambda: summarize(textproto_named_onnx),
        lambda: show_netron(textproto_named_onnx),
        lambda: run_onnx(textproto_named_onnx, np.ones((1, 3), np.float32)),
    ):
        with pytest.raises(NotAnOnnxModelError) as err:
            helper_call()
        messages.add(str(err.value))
    assert messages == {expected}
    # The same text given as bytes: one message too, saying how to parse it.
    data = textproto_named_onnx.read_bytes()
    messages = set()
    for helper_call in (lambda: summarize(data), lambda: show_netron(data), lambda: run_onnx(data, np.ones((1, 3)))):
        with pytest.raises(NotAnOnnxModelError, match="These bytes are the protobuf text format") as err:
            helper_call()
        messages.add(str(err.value))
    assert len(messages) == 1 and "format='textproto'" in messages.pop()


def test_renamed_text_still_loads_under_its_own_suffix(textproto_named_onnx: Path, tiny_model: onnx.ModelProto) -> None:
    proper = textproto_named_onnx.with_suffix(".textproto")
    textproto_named_onnx.rename(proper)
    assert load_model(proper) == tiny_model


def test_external_weights_of_sparse_initializers_are_found() -> None:
    # onnx's own walker (what this module used before course_utils.onnxfile.graph) skips sparse initializers.
    model = add_model()
    values = numpy_helper.from_array(np.array([1.0, 2.0], np.float32), "s")
    indices = numpy_helper.from_array(np.array([0, 3], np.int64), "s_indices")
    model.graph.sparse_initializer.append(onnx.helper.make_sparse_tensor(values, indices, [4]))
    sparse_values = model.graph.sparse_initializer[0].values
    onnx.external_data_helper.set_external_data(sparse_values, location="sparse.bin", offset=0, length=8)
    sparse_values.data_location = TensorProto.EXTERNAL
    sparse_values.ClearField("raw_data")
    assert external_data_files(model) == ["sparse.bin"]
    with pytest.raises(ExternalDataMissingError, match=r"sparse\.bin"):
        model_bytes(model)


def test_first_line_keeps_what_failed_and_names_an_empty_error():
    assert first_line(RuntimeError("  Load model failed\n  at node Conv_0\n")) == "Load model failed"
    assert first_line(ValueError("")) == "ValueError"
