"""course_utils.onnxfile.graph answers each graph question once; course_utils.onnxfile.render prints reports one way."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from course_test_helpers import build_one_op_model
from onnx import TensorProto, helper, numpy_helper

from course_utils.onnxfile import graph
from course_utils.onnxfile.render import counts_text, format_bytes, html_table, plural, text_table


def _value(name: str, elem_type: int, shape: list | None) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, elem_type, shape)


# ------------------------------------------------------------------------------------------ types and dims


@pytest.mark.parametrize(
    ("elem_type", "name"),
    [
        (TensorProto.FLOAT, "float32"),
        (TensorProto.DOUBLE, "float64"),
        (TensorProto.FLOAT16, "float16"),
        (TensorProto.BFLOAT16, "bfloat16"),
        (TensorProto.INT64, "int64"),
        (TensorProto.UINT8, "uint8"),
        (TensorProto.BOOL, "bool"),
        (TensorProto.STRING, "string"),
        (TensorProto.COMPLEX64, "complex64"),
        (TensorProto.FLOAT8E4M3FN, "float8e4m3fn"),
        (TensorProto.UNDEFINED, "?"),
        (999, "type999"),
    ],
)
def test_dtype_names_are_numpy_names(elem_type: int, name: str) -> None:
    assert graph.dtype_name(elem_type) == name


def test_numpy_agrees_where_it_has_the_type() -> None:
    for code in (TensorProto.FLOAT, TensorProto.DOUBLE, TensorProto.INT8, TensorProto.UINT64, TensorProto.BOOL):
        assert graph.dtype_name(code) == helper.tensor_dtype_to_np_dtype(code).name


def test_one_answer_for_each_kind_of_dimension() -> None:
    value = _value("x", TensorProto.FLOAT, ["batch", 3, None])
    value.type.tensor_type.shape.dim.add()  # a dim with neither value nor name
    assert graph.shape(value.type) == ("batch", 3, None, None)
    assert graph.value_type(value) == ("float32", ("batch", 3, None, None))
    assert graph.type_text(value.type) == "float32[batch, 3, ?, ?]"
    assert graph.shape_text(None) == "?" and graph.shape_text(()) == "[]"


def test_unknown_rank_and_other_kinds_of_type() -> None:
    no_shape = helper.make_tensor_value_info("x", TensorProto.INT64, None)
    assert graph.shape(no_shape.type) is None and graph.type_text(no_shape.type) == "int64"
    seq = helper.make_tensor_sequence_value_info("s", TensorProto.FLOAT, [2])
    assert graph.type_text(seq.type) == "seq(float32[2])" and graph.value_type(seq) == (None, None)
    sparse = helper.make_sparse_tensor_value_info("sp", TensorProto.FLOAT, [10, 10])
    assert graph.type_text(sparse.type) == "sparse float32[10, 10]"
    assert graph.type_text(onnx.TypeProto()) == "?"


# ------------------------------------------------------------------------------------------ inputs, walkers


def test_graph_inputs_leave_out_initializers_dense_and_sparse() -> None:
    model = build_one_op_model()
    model.graph.input.append(_value("w", TensorProto.FLOAT, [3, 4]))  # IR < 4 style: the weight listed too
    sparse = helper.make_sparse_tensor(
        numpy_helper.from_array(np.array([1.0], np.float32), "sw"), numpy_helper.from_array(np.array([0])), [4]
    )
    model.graph.sparse_initializer.append(sparse)
    model.graph.input.append(_value("sw", TensorProto.FLOAT, [4]))
    assert [v.name for v in graph.graph_inputs(model.graph)] == ["x"]


def _model_with_everything() -> onnx.ModelProto:
    """A Loop whose body holds an If; a local function; a sparse initializer; a Constant with a tensor."""
    then_graph = helper.make_graph(
        [helper.make_node("Constant", [], ["t"], value=numpy_helper.from_array(np.ones(2, np.float32), "c_then"))],
        "then",
        [],
        [_value("t", TensorProto.FLOAT, [2])],
    )
    else_graph = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["e"])], "else", [], [_value("e", TensorProto.FLOAT, [2])]
    )
    body = helper.make_graph(
        [helper.make_node("If", ["cond"], ["out"], then_branch=then_graph, else_branch=else_graph)],
        "body",
        [_value("i", TensorProto.INT64, []), _value("cond", TensorProto.BOOL, [])],
        [_value("cond", TensorProto.BOOL, []), _value("out", TensorProto.FLOAT, [2])],
    )
    loop = helper.make_node("Loop", ["n", "c"], ["y"], body=body)
    sparse = helper.make_sparse_tensor(
        numpy_helper.from_array(np.array([5.0], np.float32), "s"), numpy_helper.from_array(np.array([1])), [3]
    )
    main = helper.make_graph(
        [loop],
        "main",
        [_value("x", TensorProto.FLOAT, [2]), _value("n", TensorProto.INT64, []), _value("c", TensorProto.BOOL, [])],
        [_value("y", TensorProto.FLOAT, [None, 2])],
        [numpy_helper.from_array(np.zeros(2, np.float32), "w")],
        sparse_initializer=[sparse],
    )
    fn = helper.make_function(
        "local",
        "Scaled",
        ["a"],
        ["b"],
        [helper.make_node("Constant", [], ["k"], value=numpy_helper.from_array(np.array(2.0, np.float32), "k_fn"))],
        [helper.make_opsetid("", 21)],
    )
    return helper.make_model(main, opset_imports=[helper.make_opsetid("", 21)], functions=[fn])


def test_walkers_cover_subgraphs_functions_and_sparse_initializers() -> None:
    model = _model_with_everything()
    paths = [path for path, _ in graph.subgraphs(model.graph.node)]
    assert paths == ["Loop #0.body", "Loop #0.body > If #0.else_branch", "Loop #0.body > If #0.then_branch"]
    assert graph.subgraph_node_count(model.graph) == 3
    names = [t.name for t in graph.tensors(model)]
    assert names == ["w", "s", "", "c_then", "k_fn"]
    # Why course_utils has its own: onnx's private walker (what modelio used) misses the sparse initializer.
    private_walker = getattr(onnx.external_data_helper, "_get_all_tensors", None)
    if private_walker is not None:
        assert "s" not in [t.name for t in private_walker(model)]


def test_op_names_keep_non_default_domains() -> None:
    assert graph.op_name("", "Conv") == graph.op_name("ai.onnx", "Conv") == "Conv"
    assert graph.op_name("com.microsoft", "FusedConv") == "com.microsoft.FusedConv"


# ------------------------------------------------------------------------------------------ render


def test_plural_counts_and_spells() -> None:
    assert plural(1, "node") == "1 node" and plural(0, "node") == "0 nodes"
    assert plural(1200, "value_info entry") == "1,200 value_info entries" and plural(2, "day") == "2 days"


def test_format_bytes_uses_binary_units() -> None:
    assert [format_bytes(n) for n in (0, 1023, 1536, 5 << 20, 3 << 40, 5000 << 40)] == [
        "0 B",
        "1023 B",
        "1.5 KiB",
        "5.0 MiB",
        "3.0 TiB",
        "5000.0 TiB",
    ]


def test_counts_text_caps_the_list() -> None:
    pairs = [(f"Op{i}", 20 - i) for i in range(14)]
    text = counts_text(pairs, limit=12)
    assert text.startswith("Op0 ×20, Op1 ×19") and text.endswith("2 more op types ×15")


def test_text_and_html_tables_render_the_same_rows() -> None:
    rows = [["ok", "a<b", ["line 1", "line 2"]], ["FAIL", "long name", "x"]]
    lines = text_table(rows, ["", "name", "result"])
    assert lines == [
        "      name       result",
        "ok    a<b        line 1",
        "                 line 2",
        "FAIL  long name  x",
    ]
    page = html_table(rows, ["", "name", "result"], flags=[True, False], caption="T & U")
    assert "a&lt;b" in page and "line 1<br>line 2" in page and "T &amp; U" in page
    assert page.count("<tr") == 3 and "#1a7f37" in page and "#b35900" in page
    ruled = text_table([["2017", "x"]], ["when", "what"], rule=True)
    assert ruled == ["when  what", "----  ----", "2017  x"]
    assert text_table([["a", "b"]], min_widths=(5,), sep=" ") == ["a     b"]


def test_graphs_and_nodes_reach_subgraphs_and_function_bodies():
    import onnx
    from onnx import helper

    from course_utils.onnxfile.graph import graphs, nodes

    inner = helper.make_graph([helper.make_node("Identity", ["a"], ["b"], name="inner")], "then", [], [])
    other = helper.make_graph([helper.make_node("Identity", ["a"], ["c"], name="other")], "else", [], [])
    branch = helper.make_node("If", ["cond"], ["out"], name="if", then_branch=inner, else_branch=other)
    fn_body = helper.make_graph([helper.make_node("Identity", ["x"], ["y"], name="fn_inner")], "g", [], [])
    fn_if = helper.make_node("If", ["c"], ["y2"], name="fn_if", then_branch=fn_body, else_branch=fn_body)
    function = helper.make_function("my.fns", "F", ["c"], ["y2"], [fn_if], [helper.make_opsetid("", 18)])
    graph = helper.make_graph([branch], "main", [], [])
    model = helper.make_model(graph, functions=[function])
    names_of_graphs = [g.name for g in graphs(model)]
    assert names_of_graphs[0] == "main" and sorted(names_of_graphs[1:]) == ["else", "g", "g", "then"]
    names = [n.name for n in nodes(model)]
    assert names.count("fn_inner") == 2 and {"if", "inner", "other", "fn_if"} <= set(names)
    assert isinstance(model, onnx.ModelProto)
