"""Tests for course_utils.inspect: the model card, its numbers, bad input, and the command line."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from collections import Counter
from pathlib import Path

import numpy as np
import onnx
import pytest
from course_test_helpers import export_digits_cnn
from onnx import TensorProto, helper, numpy_helper

from course_utils.errors import ExternalDataMissingError, ModelFileNotFoundError, NotAnOnnxModelError
from course_utils.inspect import (
    ModelCard,
    ValueInfo,
    compare_cards,
    dtype_name,
    format_bytes,
    initializer_sizes,
    main,
    op_histogram,
    parameter_count,
    protobuf_fields,
    summarize,
)

BACKEND_DATA = Path(onnx.__file__).parent / "backend" / "test" / "data"


# ------------------------------------------------------------------------------------------------ fixtures
def _linear_model(**model_kwargs) -> onnx.ModelProto:
    """y = Relu(x @ W + B) with x float32[N, 4]."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 3])
    w = numpy_helper.from_array(np.arange(12, dtype=np.float32).reshape(4, 3), "W")
    b = numpy_helper.from_array(np.zeros(3, dtype=np.float32), "B")
    nodes = [
        helper.make_node("MatMul", ["x", "W"], ["h"]),
        helper.make_node("Add", ["h", "B"], ["z"]),
        helper.make_node("Relu", ["z"], ["y"]),
    ]
    graph = helper.make_graph(nodes, "linear", [x], [y], [w, b])
    kwargs = {"opset_imports": [helper.make_opsetid("", 21)], "ir_version": 10, **model_kwargs}
    return helper.make_model(graph, **kwargs)


@pytest.fixture(scope="module")
def digits_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The committed DigitsCNN, exported the way lesson 04 does."""
    pytest.importorskip("torch")
    path = tmp_path_factory.mktemp("digits") / "digits_cnn.onnx"
    export_digits_cnn(path)
    return path


@pytest.fixture
def external_model(tmp_path: Path) -> Path:
    """A model whose weights live in 'weights.bin' next to it."""
    model = _linear_model()
    path = tmp_path / "ext.onnx"
    onnx.save_model(model, path, save_as_external_data=True, location="weights.bin", size_threshold=0)
    return path


# ---------------------------------------------------------------------------------------------- the numbers
def test_card_of_hand_built_model_reports_its_parts() -> None:
    model = _linear_model(producer_name="by-hand", producer_version="1.0")
    helper.set_model_props(model, {"author": "course", "task": "tests"})
    card = summarize(model)
    assert card.source == "<ModelProto>" and card.file_bytes is None
    assert card.ir_version == 10
    assert card.producer == "by-hand 1.0"
    assert card.opset == {"ai.onnx": 21}
    assert [(v.name, v.type, v.dynamic_dims) for v in card.inputs] == [("x", "float32[N, 4]", ("N",))]
    assert card.outputs[0].shape == ("N", 3)
    assert card.op_histogram == {"Add": 1, "MatMul": 1, "Relu": 1}
    assert card.parameter_count == 15 and card.parameter_bytes == 60
    assert dict(card.metadata) == {"author": "course", "task": "tests"}
    assert [i.name for i in card.largest(1)] == ["W"]
    text = str(card)
    assert "author = course" in text and "x: float32[N, 4]  (dynamic: N)" in text


def test_digits_card_matches_an_independent_count(digits_path: Path) -> None:
    model = onnx.load(digits_path)
    arrays = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    card = summarize(digits_path)
    assert card.parameter_count == sum(a.size for a in arrays.values())
    assert card.parameter_bytes == sum(a.nbytes for a in arrays.values())
    assert card.op_histogram == dict(Counter(n.op_type for n in model.graph.node))
    assert list(card.op_histogram.values()) == sorted(card.op_histogram.values(), reverse=True)
    assert card.file_bytes == digits_path.stat().st_size
    assert card.inputs[0].shape == ("batch", 1, 8, 8)
    largest = max(arrays, key=lambda k: arrays[k].nbytes)
    assert initializer_sizes(digits_path)[0].name == largest
    assert parameter_count(digits_path) == card.parameter_count
    assert op_histogram(digits_path) == card.op_histogram


def test_card_is_deterministic_and_renders(digits_path: Path) -> None:
    first, second = summarize(digits_path), summarize(digits_path)
    assert str(first) == str(second) and first._repr_html_() == second._repr_html_()
    assert repr(first) == str(first)
    html = first._repr_html_()
    assert html.startswith("<table") and "classifier.1.weight" in html
    data = first.to_dict()
    assert json.loads(json.dumps(data))["parameter_count"] == first.parameter_count
    assert data["op_histogram"] == first.op_histogram
    assert data["inputs"][0]["shape"] == ["batch", 1, 8, 8]


def test_counts_are_pluralised_and_metadata_stays_on_one_line() -> None:
    zero = numpy_helper.from_array(np.array(0.0, dtype=np.float32), "zero")
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])
    graph = helper.make_graph([helper.make_node("Add", ["x", "zero"], ["y"])], "g", [x], [x], [zero])
    graph.output[0].name = "y"
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)], ir_version=10)
    helper.set_model_props(model, {"notes": "line one\n   line two " + "x" * 80})
    card = summarize(model)
    assert card.initializers[0].text() == "zero  float32[]  1 value  4 B"
    assert "1 value in 1 initializer, 4 B" in str(card)
    assert "1 values" not in str(card) and "1 initializers" not in str(card)
    (meta,) = [line for line in str(card).splitlines() if "notes =" in line]
    assert "notes = line one line two xxx" in meta and meta.endswith("...")


def test_graph_metadata_is_shown_only_when_present() -> None:
    plain = _linear_model()
    assert summarize(plain).graph_metadata == () and "graph metadata" not in str(summarize(plain))
    model = _linear_model()
    helper.set_metadata_props(model.graph, {"exporter.note": "# inputs\nx: USER_INPUT\n", "range": "{s0: VR[0, 8]}"})
    card = summarize(model)
    assert card.graph_metadata == (("exporter.note", "# inputs\nx: USER_INPUT\n"), ("range", "{s0: VR[0, 8]}"))
    lines = str(card).splitlines()
    row = next(i for i, line in enumerate(lines) if line.lstrip().startswith("graph metadata"))
    assert lines[row] == "  graph metadata exporter.note = # inputs x: USER_INPUT"
    assert lines[row + 1].strip() == "range = {s0: VR[0, 8]}"
    assert lines[row - 1].strip() == "metadata       none"  # the model's own metadata_props stay separate
    assert card.to_dict()["graph_metadata"] == {"exporter.note": "# inputs\nx: USER_INPUT\n", "range": "{s0: VR[0, 8]}"}
    assert [label for label, _, _ in compare_cards(plain, model).rows] == ["graph metadata"]


def test_html_escapes_names() -> None:
    model = _linear_model()
    helper.set_model_props(model, {"note": "<b>bold</b> & more"})
    html = summarize(model)._repr_html_()
    assert "<b>bold</b>" not in html and "&lt;b&gt;bold&lt;/b&gt; &amp; more" in html


def test_initializers_listed_as_inputs_are_not_counted_as_inputs() -> None:
    model = _linear_model(ir_version=3, opset_imports=[helper.make_opsetid("", 9)])
    model.graph.input.extend([helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in ("W", "B")])
    card = summarize(model)
    assert [v.name for v in card.inputs] == ["x"]
    assert card.initializers_as_inputs == 2
    assert "2 initializers also listed as inputs" in str(card)


def test_subgraphs_and_functions_are_counted() -> None:
    # Loop whose body holds an If: two levels of nesting.
    then_g = helper.make_graph(
        [helper.make_node("Identity", ["v"], ["t_out"])],
        "then",
        [],
        [helper.make_tensor_value_info("t_out", TensorProto.FLOAT, [1])],
    )
    else_g = helper.make_graph(
        [helper.make_node("Neg", ["v"], ["e_out"])],
        "else",
        [],
        [helper.make_tensor_value_info("e_out", TensorProto.FLOAT, [1])],
    )
    body = helper.make_graph(
        [
            helper.make_node("Identity", ["cond_in"], ["cond_out"]),
            helper.make_node("If", ["cond_in"], ["v_out"], name="pick", then_branch=then_g, else_branch=else_g),
        ],
        "body",
        [
            helper.make_tensor_value_info("i", TensorProto.INT64, []),
            helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
            helper.make_tensor_value_info("v", TensorProto.FLOAT, [1]),
        ],
        [
            helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
            helper.make_tensor_value_info("v_out", TensorProto.FLOAT, [1]),
        ],
        [numpy_helper.from_array(np.ones(5, dtype=np.float32), "unused_in_body")],
    )
    double = helper.make_function(
        "custom", "Double", ["a"], ["b"], [helper.make_node("Add", ["a", "a"], ["b"])], [helper.make_opsetid("", 21)]
    )
    graph = helper.make_graph(
        [
            helper.make_node("Loop", ["n", "c", "v0"], ["v_final"], body=body),
            helper.make_node("Double", ["v_final"], ["out"], domain="custom"),
        ],
        "control",
        [
            helper.make_tensor_value_info("n", TensorProto.INT64, []),
            helper.make_tensor_value_info("c", TensorProto.BOOL, []),
            helper.make_tensor_value_info("v0", TensorProto.FLOAT, [1]),
        ],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, [1])],
    )
    model = helper.make_model(
        graph,
        functions=[double],
        opset_imports=[helper.make_opsetid("", 21), helper.make_opsetid("custom", 1)],
        ir_version=10,
    )
    onnx.checker.check_model(model)
    card = summarize(model)
    assert card.nodes == 2 and card.subgraph_nodes == 4
    assert [s.path for s in card.subgraphs] == [
        "Loop #0.body",
        'Loop #0.body > If "pick".else_branch',
        'Loop #0.body > If "pick".then_branch',
    ]
    assert card.op_histogram == {"Identity": 2, "If": 1, "Loop": 1, "Neg": 1, "custom.Double": 1}
    assert [(f.domain, f.name, f.nodes) for f in card.functions] == [("custom", "Double", 1)]
    assert card.opset == {"ai.onnx": 21, "custom": 1}
    assert card.parameter_count == 5 and card.initializers[0].graph == "Loop #0.body"
    assert "custom.Double: 1 node, 1 in, 1 out" in str(card)


def test_sparse_initializer_and_unusual_types() -> None:
    values = numpy_helper.from_array(np.array([1.0, 2.0], dtype=np.float32), "S")
    indices = numpy_helper.from_array(np.array([1, 7], dtype=np.int64), "S_idx")
    sparse = helper.make_sparse_tensor(values, indices, [3, 4])
    seq = helper.make_tensor_sequence_value_info("seq_in", TensorProto.FLOAT, None)
    opt = helper.make_value_info("opt_in", helper.make_optional_type_proto(helper.make_tensor_type_proto(1, [2])))
    unknown = helper.make_tensor_value_info("u", TensorProto.INT8, [None, "k"])
    out = helper.make_tensor_value_info("o", TensorProto.FLOAT, None)
    graph = helper.make_graph(
        [helper.make_node("Identity", ["S"], ["o"])], "g", [seq, opt, unknown], [out], sparse_initializer=[sparse]
    )
    card = summarize(helper.make_model(graph))
    assert [v.type for v in card.inputs] == ["seq(float32)", "optional(float32[2])", "int8[?, k]"]
    assert card.inputs[2].dynamic_dims == ("?", "k")
    assert card.outputs[0].shape is None
    (info,) = card.initializers
    assert (info.location, info.shape, info.elements, info.nbytes) == ("sparse", (3, 4), 2, 2 * 4 + 2 * 8)


def test_sub_byte_and_string_tensor_sizes() -> None:
    int4 = helper.make_tensor("q", TensorProto.INT4, [5], [1, 2, 3, 4, 5])
    text = helper.make_tensor("s", TensorProto.STRING, [2], [b"abc", b"de"])
    out = helper.make_tensor_value_info("o", TensorProto.INT4, [5])
    graph = helper.make_graph([helper.make_node("Identity", ["q"], ["o"])], "g", [], [out], [int4, text])
    sizes = {i.name: i.nbytes for i in summarize(helper.make_model(graph)).initializers}
    assert sizes == {"q": 3, "s": 5}


def test_helpers_format_bytes_and_dtype_name() -> None:
    assert [format_bytes(n) for n in (0, 1023, 1536, 5 * 1024**2)] == ["0 B", "1023 B", "1.5 KiB", "5.0 MiB"]
    assert dtype_name(TensorProto.FLOAT) == "float32" and dtype_name(TensorProto.INT64) == "int64"
    assert dtype_name(9999) == "type9999"


def test_bytes_source_and_value_info_from_proto() -> None:
    data = _linear_model().SerializeToString()
    card = summarize(data)
    assert (card.source, card.file_bytes) == ("<bytes>", len(data))
    value = helper.make_tensor_value_info("h", TensorProto.FLOAT16, ["batch", None, 7])
    info = ValueInfo.from_proto(value)
    assert (info.type, info.dtype, info.shape) == ("float16[batch, ?, 7]", "float16", ("batch", None, 7))
    assert info.text() == "h: float16[batch, ?, 7]  (dynamic: batch, ?)"


# ------------------------------------------------------------------------------------------- compare_cards
def test_compare_cards_shows_only_what_changed() -> None:
    before = _linear_model()
    after = onnx.ModelProto()
    after.CopyFrom(before)
    after.graph.input[0].name = "features"
    after.graph.node[0].input[0] = "features"
    helper.set_model_props(after, {"license": "MIT"})
    changes = compare_cards(before, after)
    assert bool(changes)
    assert [label for label, _, _ in changes.rows] == ["inputs", "metadata"]
    assert str(changes).splitlines() == [
        "changes <ModelProto> -> <ModelProto>",
        "  inputs",
        "    - x: float32[N, 4]  (dynamic: N)",
        "    + features: float32[N, 4]  (dynamic: N)",
        "  metadata",
        "    - none",
        "    + license = MIT",
    ]


def test_compare_cards_without_changes_and_with_cards(digits_path: Path) -> None:
    card = summarize(digits_path)
    assert isinstance(card, ModelCard)
    same = compare_cards(card, onnx.load(digits_path))
    assert not same and str(same) == f"no change in the model card ({card.source} -> <ModelProto>)"
    # A weight edit leaves the structure, hence the card, unchanged.
    model = onnx.load(digits_path)
    t = model.graph.initializer[0]
    t.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(t) * 2, t.name))
    assert not compare_cards(card, model)


def test_compare_cards_reordered_rows_show_both_sides() -> None:
    a, b = _linear_model(), _linear_model()
    helper.set_model_props(a, {"k1": "v1", "k2": "v2"})
    helper.set_model_props(b, {"k2": "v2", "k1": "v1"})
    (row,) = compare_cards(a, b).rows
    assert row == ("metadata", ("k1 = v1", "k2 = v2"), ("k2 = v2", "k1 = v1"))


# -------------------------------------------------------------------------------------------- external data
def test_external_data_is_listed_without_reading_it(external_model: Path) -> None:
    card = summarize(external_model)
    assert {t.name for t in card.external} == {"W", "B"}
    assert {t.file for t in card.external} == {"weights.bin"}
    assert card.external_files == (("weights.bin", (external_model.parent / "weights.bin").stat().st_size),)
    assert card.parameter_bytes == 60 and card.initializers[0].location == "weights.bin"
    first, second = sorted(card.external, key=lambda t: t.offset)
    assert first.offset == 0 and second.offset >= first.nbytes  # byte ranges in the file do not overlap
    assert "weights.bin: 2 tensors" in str(card)
    # A ModelProto loaded without its data keeps the references; the card lists them, sizes from metadata.
    proto = onnx.load(external_model, load_external_data=False)
    from_proto = summarize(proto)
    assert from_proto.external == card.external and from_proto.external_files == (("weights.bin", None),)


def test_missing_external_data_is_a_clear_error(external_model: Path) -> None:
    (external_model.parent / "weights.bin").unlink()
    with pytest.raises(ExternalDataMissingError, match=r"weights\.bin") as err:
        summarize(external_model)
    assert "\n" not in str(err.value)


# ------------------------------------------------------------------------------------------------ bad input
def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ModelFileNotFoundError, match="No model file") as err:
        summarize(tmp_path / "nope.onnx")
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    "content",
    [b"this is a text file, not a model\n", b"", b"\x89PNG\r\n\x1a\n" + bytes(range(256))],
    ids=["text", "empty", "binary"],
)
def test_not_onnx(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "model.onnx"
    path.write_bytes(content)
    with pytest.raises(NotAnOnnxModelError) as err:
        summarize(path)
    assert "\n" not in str(err.value)


def test_truncated_file(tmp_path: Path) -> None:
    data = _linear_model().SerializeToString()
    path = tmp_path / "half.onnx"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(NotAnOnnxModelError, match="truncated") as err:
        summarize(path)
    assert "\n" not in str(err.value)
    with pytest.raises(NotAnOnnxModelError, match="truncated"):
        protobuf_fields(path)


@pytest.mark.parametrize(
    ("fmt", "says"),
    [("textproto", "protobuf text format"), ("onnxtxt", "onnx.printer text syntax"), ("json", "protobuf JSON format")],
)
def test_text_forms_of_a_model_are_recognised(tmp_path: Path, fmt: str, says: str) -> None:
    model = _linear_model(producer_name="by-hand")
    text_path = tmp_path / f"model.{fmt}"
    onnx.save(model, text_path, format=fmt)
    # protobuf_fields lists the binary encoding: a text file has none, and the message says what it is instead.
    with pytest.raises(NotAnOnnxModelError, match=f"'model.{fmt}' is in the {says}, not binary protobuf") as err:
        protobuf_fields(text_path)
    assert "\n" not in str(err.value) and f"format='{fmt}'" in str(err.value)
    # The suffix tells summarize (through load_model) to parse text: same card as the binary model.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # onnx calls its onnxtxt reader experimental
        assert not compare_cards(model, text_path)
    # The same text under a binary name, or as bytes: say it is text and how to load it.
    misnamed = tmp_path / "model.onnx"
    misnamed.write_bytes(text_path.read_bytes())
    with pytest.raises(NotAnOnnxModelError, match=f"holds the {says}.*Rename it to end in .{fmt}"):
        summarize(misnamed)
    with pytest.raises(NotAnOnnxModelError, match=f"These bytes are the {says}.*format='{fmt}'"):
        summarize(text_path.read_bytes())


def test_plain_text_is_not_taken_for_a_text_model(tmp_path: Path) -> None:
    path = tmp_path / "notes.onnx"
    path.write_text("this is a text file, not a model\n")
    with pytest.raises(NotAnOnnxModelError, match=r"'notes\.onnx' is plain text") as err:
        protobuf_fields(path)
    assert "\n" not in str(err.value)
    # A broken file that is named as text keeps load_model's message (no "rename it" advice).
    broken = tmp_path / "broken.textproto"
    broken.write_text("ir_version: 9\ngraph {\n")
    with pytest.raises(NotAnOnnxModelError) as err:
        summarize(broken)
    assert "Rename" not in str(err.value)


def test_binary_is_never_taken_for_text(digits_path: Path) -> None:
    # Every backend test model walks as binary: the text detection does not fire on real protobuf.
    for path in _backend_models():
        protobuf_fields(path)
    protobuf_fields(digits_path)


def test_folder_is_not_a_model(tmp_path: Path) -> None:
    with pytest.raises(NotAnOnnxModelError, match="folder"):
        summarize(tmp_path)
    with pytest.raises(NotAnOnnxModelError, match="folder"):
        protobuf_fields(tmp_path)


# --------------------------------------------------------------------------------------- models we did not write
def _backend_models() -> list[Path]:
    return sorted(BACKEND_DATA.glob("**/*.onnx"))


def test_every_onnx_backend_test_model_summarizes() -> None:
    files = _backend_models()
    assert len([f for f in files if f.name == "model.onnx"]) >= 100, f"expected the onnx test models in {BACKEND_DATA}"
    crashes = []
    for path in files:
        try:
            card = summarize(path)
            assert sum(card.op_histogram.values()) == card.nodes + card.subgraph_nodes
            json.dumps(card.to_dict())
            assert str(card) and card._repr_html_()
        except Exception as e:
            crashes.append(f"{path.relative_to(BACKEND_DATA)}: {type(e).__name__}: {e}")
    assert not crashes, f"{len(crashes)} of {len(files)} crashed:\n" + "\n".join(crashes[:20])


def test_every_onnx_generated_test_case_summarizes() -> None:
    """onnx's node/model test cases (~1,900 models, with If/Loop/Scan bodies) built in memory."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from onnx.backend.test.case.model import collect_testcases as model_cases
        from onnx.backend.test.case.node import collect_testcases as node_cases

        cases = [c for c in [*node_cases(), *model_cases()] if c.model is not None]
    assert len(cases) > 1000
    crashes, with_subgraphs = [], 0
    for case in cases:
        try:
            card = summarize(case.model)
            str(card)
            card._repr_html_()
            json.dumps(card.to_dict())
            with_subgraphs += bool(card.subgraphs)
        except Exception as e:
            crashes.append(f"{case.name}: {type(e).__name__}: {e}")
    assert not crashes, f"{len(crashes)} of {len(cases)} crashed:\n" + "\n".join(crashes[:20])
    assert with_subgraphs >= 10  # the sweep did exercise control flow


# ----------------------------------------------------------------------------------------------- protobuf
def test_protobuf_fields_walk_the_whole_file(digits_path: Path) -> None:
    data = digits_path.read_bytes()
    fields = protobuf_fields(digits_path)
    model = onnx.load(digits_path)
    first = fields[0]
    assert (first.offset, first.field_number, first.wire, first.name) == (0, 1, "varint", "ir_version")
    assert first.value == str(model.ir_version) and first.key == data[0] == (1 << 3) | 0
    names = [f.name for f in fields]
    assert "graph" in names and names.count("opset_import") == len(model.opset_import)
    graph = fields[names.index("graph")]
    assert graph.size == model.graph.ByteSize()
    # Offsets are increasing and the last field ends exactly at the end of the file.
    assert [f.offset for f in fields] == sorted(f.offset for f in fields)
    last = fields[-1]
    assert last.offset < len(data) and last.offset + 2 + last.size == len(data)
    producer = fields[names.index("producer_name")]
    assert producer.value == repr(model.producer_name)


def test_protobuf_fields_accepts_bytes_and_protos() -> None:
    model = _linear_model()
    assert protobuf_fields(model) == protobuf_fields(model.SerializeToString())


def test_protobuf_fields_rejects_bad_wire_type() -> None:
    with pytest.raises(NotAnOnnxModelError, match="wire type"):
        protobuf_fields(bytes([(1 << 3) | 3]))  # group start: never used by ONNX
    with pytest.raises(ModelFileNotFoundError):
        protobuf_fields("definitely/not/here.onnx")


# ------------------------------------------------------------------------------------------------- the CLI
def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "course_utils.inspect", *args], capture_output=True, text=True, timeout=120
    )


def test_cli_prints_the_card(digits_path: Path) -> None:
    result = _cli(str(digits_path))
    assert result.returncode == 0, result.stderr
    assert result.stdout == str(summarize(digits_path)) + "\n"
    assert result.stderr == ""


def test_cli_json(digits_path: Path) -> None:
    result = _cli("--json", str(digits_path))
    assert result.returncode == 0
    assert json.loads(result.stdout) == json.loads(json.dumps(summarize(digits_path).to_dict()))


@pytest.mark.parametrize("kind", ["missing", "text", "truncated", "external-missing"])
def test_cli_bad_input_exits_2_with_one_line(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "model.onnx"
    if kind == "text":
        path.write_text("hello, I am not a model\n")
    elif kind == "truncated":
        data = _linear_model().SerializeToString()
        path.write_bytes(data[: len(data) // 2])
    elif kind == "external-missing":
        onnx.save_model(_linear_model(), path, save_as_external_data=True, location="w.bin", size_threshold=0)
        (tmp_path / "w.bin").unlink()
    result = _cli(str(path))
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr


def test_cli_model_cut_just_before_opset_import(tmp_path: Path) -> None:
    """A copy that stopped exactly at a field boundary still parses; the CLI must call it truncated, in one line."""
    data = _linear_model().SerializeToString()
    opset_at = next(f.offset for f in protobuf_fields(data) if f.name == "opset_import")
    path = tmp_path / "cut.onnx"
    path.write_bytes(data[:opset_at])
    assert onnx.load(path).graph.node  # onnx itself loads it without complaint
    result = _cli(str(path))
    assert (result.returncode, result.stdout) == (2, "")
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "opset" in lines[0] and "cut.onnx" in lines[0], lines[0]


def test_cli_is_quiet_when_the_reader_stops_early(digits_path: Path) -> None:
    """`python -m course_utils.inspect model.onnx | head -3` must not end in a BrokenPipeError traceback."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "course_utils.inspect", str(digits_path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    proc.stdout.close()  # closed before the child writes: its write fails with EPIPE
    stderr = proc.stderr.read().decode()
    proc.wait(timeout=120)
    assert "Traceback" not in stderr and "BrokenPipeError" not in stderr, stderr


def test_main_in_process(digits_path: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main([str(digits_path)]) == 0
    assert "logits: float32[batch, 10]" in capsys.readouterr().out
    assert main([str(tmp_path / "missing.onnx")]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.startswith("error: No model file")


def test_card_counts_flops_of_conv_gemm_and_matmul(tmp_path):
    from course_test_helpers import export_digits_cnn

    card = summarize(export_digits_cnn(tmp_path / "digits.onnx"))
    # by hand: Conv 1->16 3x3 at 8x8, Conv 16->32 3x3 at 8x8, Gemm 512x64, Gemm 64x10; 2 FLOPs per multiply-add
    expected = 2 * (16 * 64 * 9 * 1 + 32 * 64 * 9 * 16 + 512 * 64 + 64 * 10)
    assert card.flops == expected == 675_072 and card.flops_unknown == 0
    assert "675 kFLOP per run at batch 1" in str(card) and "675 kFLOP" in card._repr_html_()
    assert card.to_dict()["flops"] == expected


def test_card_without_countable_nodes_has_no_compute_row():
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["y"])],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])],
    )
    card = summarize(helper.make_model(graph))
    assert card.flops == 0 and "compute" not in str(card)
