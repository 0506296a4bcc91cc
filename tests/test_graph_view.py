"""The static graph picture: deterministic, complete for small graphs, summarised for big ones, never overlapping."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from course_utils.errors import ExternalDataMissingError, ModelFileNotFoundError, NotAnOnnxModelError
from course_utils.views.graph_page import model_summary, static_html
from course_utils.views.graph_view import DEFAULT_MAX_NODES, render_svg

SVG = "{http://www.w3.org/2000/svg}"


def small_model() -> onnx.ModelProto:
    """input -> Conv -> Relu -> Add(skip) -> output, with weights: 3 nodes, 4 edges."""
    w = numpy_helper.from_array(np.ones((4, 4, 3, 3), np.float32), "w")
    graph = helper.make_graph(
        [
            helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]),
            helper.make_node("Relu", ["c"], ["r"]),
            helper.make_node("Add", ["r", "x"], ["y"]),
        ],
        "small",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4, 8, 8])],
        [w],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="test")


def chain_model(n: int, *, skip_every: int = 7) -> onnx.ModelProto:
    """A chain of n unary ops with an Add every ``skip_every`` nodes reaching 5 nodes back (long edges)."""
    nodes = []
    previous = "x"
    for i in range(n):
        if i % skip_every == 0:
            other = "x" if i < 5 else f"t{i - 5}"
            nodes.append(helper.make_node("Add", [previous, other], [f"t{i}"], name=f"n{i}"))
        else:
            op = ("Relu", "Sigmoid", "Neg", "Abs")[i % 4]
            nodes.append(helper.make_node(op, [previous], [f"t{i}"], name=f"n{i}"))
        previous = f"t{i}"
    graph = helper.make_graph(
        nodes,
        f"chain{n}",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 8])],
        [helper.make_tensor_value_info(previous, TensorProto.FLOAT, ["N", 8])],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def wide_model(n: int) -> onnx.ModelProto:
    """``n`` parallel Relu nodes on one input, joined by a Concat: one layer ``n`` boxes wide."""
    nodes = [helper.make_node("Relu", ["x"], [f"r{i}"], name=f"relu{i}") for i in range(n)]
    nodes.append(helper.make_node("Concat", [f"r{i}" for i in range(n)], ["y"], axis=1))
    graph = helper.make_graph(
        nodes,
        f"wide{n}",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4 * n])],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def inception_model() -> onnx.ModelProto:
    """A realistic branching CNN: a stem, two Inception-style blocks (four parallel branches joined by Concat, a
    1x1 projection and a residual Add), and a classifier head with two outputs (logits and probabilities)."""
    rng = np.random.default_rng(0)
    weights: list[onnx.TensorProto] = []
    nodes: list[onnx.NodeProto] = []

    def conv(x: str, cin: int, cout: int, k: int, name: str, relu: bool = True) -> str:
        weights.append(numpy_helper.from_array(rng.standard_normal((cout, cin, k, k)).astype(np.float32), f"{name}_w"))
        nodes.append(helper.make_node("Conv", [x, f"{name}_w"], [f"{name}_c"], name=name, pads=[k // 2] * 4))
        if not relu:
            return f"{name}_c"
        nodes.append(helper.make_node("Relu", [f"{name}_c"], [f"{name}_r"], name=f"{name}_relu"))
        return f"{name}_r"

    x = conv("image", 3, 16, 3, "stem")
    for b in range(2):
        branch1 = conv(x, 16, 4, 1, f"b{b}_1")
        branch2 = conv(conv(x, 16, 4, 1, f"b{b}_2a"), 4, 4, 3, f"b{b}_2b")
        branch3 = conv(conv(x, 16, 4, 1, f"b{b}_3a"), 4, 4, 5, f"b{b}_3b")
        nodes.append(helper.make_node("MaxPool", [x], [f"b{b}_pool"], kernel_shape=[3, 3], pads=[1] * 4))
        branch4 = conv(f"b{b}_pool", 16, 4, 1, f"b{b}_4")
        nodes.append(helper.make_node("Concat", [branch1, branch2, branch3, branch4], [f"b{b}_cat"], axis=1))
        projected = conv(f"b{b}_cat", 16, 16, 1, f"b{b}_proj", relu=False)
        nodes.append(helper.make_node("Add", [projected, x], [f"b{b}_sum"]))
        nodes.append(helper.make_node("Relu", [f"b{b}_sum"], [f"b{b}_out"]))
        x = f"b{b}_out"
    weights += [
        numpy_helper.from_array(rng.standard_normal((10, 16)).astype(np.float32), "fc_w"),
        numpy_helper.from_array(np.zeros(10, np.float32), "fc_b"),
    ]
    nodes += [
        helper.make_node("GlobalAveragePool", [x], ["pooled"]),
        helper.make_node("Flatten", ["pooled"], ["flat"]),
        helper.make_node("Gemm", ["flat", "fc_w", "fc_b"], ["logits"], transB=1),
        helper.make_node("Softmax", ["logits"], ["probs"], axis=1),
    ]
    graph = helper.make_graph(
        nodes,
        "inception",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 3, 16, 16])],
        [
            helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 10]),
            helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["N", 10]),
        ],
        weights,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model, full_check=True)
    return model


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def boxes(svg: str) -> list[tuple[float, float, float, float]]:
    return [
        (float(r.get("x")), float(r.get("y")), float(r.get("width")), float(r.get("height")))  # type: ignore[arg-type]
        for r in parse(svg).iter(f"{SVG}rect")
    ]


def labels(svg: str) -> list[str]:
    """Bold first lines of the boxes: op types, input/output names."""
    return [t.text or "" for t in parse(svg).iter(f"{SVG}text") if t.get("font-weight") == "bold"]


def edge_segments(svg: str) -> list[list[tuple[float, float, float, float]]]:
    """Each edge path as straight segments (x1, y1, x2, y2); edges use only M, H and V commands."""
    root = parse(svg)
    group = next(g for g in root.iter(f"{SVG}g") if g.get("stroke"))
    edges = []
    for path in group.iter(f"{SVG}path"):
        segments = []
        x = y = 0.0
        for command, value in re.findall(r"([MHV])([-\d.,]+)", path.get("d", "")):
            if command == "M":
                x, y = (float(v) for v in value.split(","))
                continue
            nx, ny = (float(value), y) if command == "H" else (x, float(value))
            segments.append((x, y, nx, ny))
            x, y = nx, ny
        edges.append(segments)
    return edges


def labelled_boxes(svg: str) -> list[tuple[str, float, float, float, float]]:
    """(bold label, x, y, width, height) of every box."""
    found = []
    for group in parse(svg).iter(f"{SVG}g"):
        rect = group.find(f"{SVG}rect")
        bold = [t.text or "" for t in group.iter(f"{SVG}text") if t.get("font-weight") == "bold"]
        if rect is not None and bold:
            found.append((bold[0], *(float(rect.get(k)) for k in ("x", "y", "width", "height"))))  # type: ignore[arg-type]
    return found


def edge_pairs(svg: str) -> Counter[tuple[str, str]]:
    """Each edge as (label of the box it leaves from the bottom, label of the box whose top it points at)."""
    found = labelled_boxes(svg)

    def box_at(x: float, y: float, top: bool) -> str:
        hits = [
            label
            for label, bx, by, w, h in found
            if abs(bx + w / 2 - x) < 0.11 and abs((by if top else by + h) - y) < 0.11
        ]
        assert len(hits) == 1, f"edge end {(x, y)} is not on exactly one box: {hits}"
        return hits[0]

    pairs: Counter[tuple[str, str]] = Counter()
    for segments in edge_segments(svg):
        (sx, sy, _, _), (_, _, tx, ty) = segments[0], segments[-1]
        pairs[box_at(sx, sy, top=False), box_at(tx, ty + 5, top=True)] += 1  # the arrow head fills the last 5 px
    return pairs


def expected_pairs(model: onnx.ModelProto) -> Counter[tuple[str, str]]:
    """The edges a complete picture must have: producer -> consumer, once per pair of boxes."""
    graph = model.graph
    producer = {value.name: ("input", value.name) for value in graph.input}
    for index, node in enumerate(graph.node):
        for out in node.output:
            producer[out] = ("node", str(index))
    label = {("input", v.name): v.name for v in graph.input} | {
        ("node", str(i)): n.op_type for i, n in enumerate(graph.node)
    }
    edges: set[tuple[tuple[str, str], tuple[str, str]]] = set()
    for index, node in enumerate(graph.node):
        edges |= {(producer[i], ("node", str(index))) for i in node.input if i in producer}
    for value in graph.output:
        label[("output", value.name)] = value.name
        if value.name in producer:
            edges.add((producer[value.name], ("output", value.name)))
    return Counter((label[a], label[b]) for a, b in edges)


def svg_size(svg: str) -> tuple[float, float]:
    root = parse(svg)
    return float(root.get("width")), float(root.get("height"))  # type: ignore[arg-type]


def assert_no_overlaps(svg: str) -> None:
    rects = boxes(svg)
    for i, (x1, y1, w1, h1) in enumerate(rects):
        for x2, y2, w2, h2 in rects[i + 1 :]:
            overlap = x1 < x2 + w2 and x2 < x1 + w1 and y1 < y2 + h2 and y2 < y1 + h1
            assert not overlap, f"boxes overlap: {(x1, y1)} and {(x2, y2)}"
    # No edge segment runs through the inside of a box (edges start on a box's border and end above one).
    for segments in edge_segments(svg):
        for sx1, sy1, sx2, sy2 in segments:
            for x, y, w, h in rects:
                inside_x = max(min(sx1, sx2), x + 1) < min(max(sx1, sx2), x + w - 1) or x + 1 < sx1 < x + w - 1
                inside_y = max(min(sy1, sy2), y + 1) < min(max(sy1, sy2), y + h - 1) or y + 1 < sy1 < y + h - 1
                if sx1 == sx2:  # vertical
                    assert not (x < sx1 < x + w and inside_y), f"edge crosses the box at {(x, y)}"
                else:  # horizontal
                    assert not (y < sy1 < y + h and inside_x), f"edge crosses the box at {(x, y)}"


def test_summary_lists_inputs_outputs_ops_and_weights() -> None:
    text = model_summary(small_model())
    assert text.splitlines() == [
        f"ONNX model · graph 'small' · 3 nodes · IR {onnx.IR_VERSION} · opset ai.onnx 17 · producer test",
        "inputs:  x float32[N, 4, 8, 8]",
        "outputs: y float32[N, 4, 8, 8]",
        "ops:     Add ×1, Conv ×1, Relu ×1",
        "weights: 144 parameters in 1 initializer",
    ]


def test_small_graph_is_drawn_completely() -> None:
    svg = render_svg(small_model())
    assert sorted(labels(svg)) == ["Add", "Conv", "Relu", "x", "y"]
    # x->Conv, Conv->Relu, Relu->Add, x->Add (the skip), Add->y
    assert len(edge_segments(svg)) == 5
    # The weight's shape is shown under its node, the input's type under the input.
    texts = [t.text for t in parse(svg).iter(f"{SVG}text")]
    assert "4×4×3×3" in texts
    assert "float32[N, 4, 8, 8]" in texts
    assert_no_overlaps(svg)


def outlined(svg: str) -> list[str]:
    """Labels of the boxes drawn with the highlight outline (stroke-width 3)."""
    found = []
    for group in parse(svg).iter(f"{SVG}g"):
        rect = group.find(f"{SVG}rect")
        bold = [t.text or "" for t in group.iter(f"{SVG}text") if t.get("font-weight") == "bold"]
        if rect is not None and rect.get("stroke-width") == "3":
            found += bold
    return found


def test_highlight_outlines_the_named_nodes_only() -> None:
    model = small_model()
    model.graph.node[2].name = "skip_add"
    plain = render_svg(model)
    assert outlined(plain) == []
    assert outlined(render_svg(model, highlight=["Relu"])) == ["Relu"]  # by op type
    assert outlined(render_svg(model, highlight={"skip_add"})) == ["Add"]  # by node name
    assert outlined(render_svg(model, highlight=["Relu", "skip_add", "NoSuchOp"])) == ["Relu", "Add"]
    # The layout does not move: only the outline differs, and the same call gives the same bytes.
    assert boxes(render_svg(model, highlight=["Relu"])) == boxes(plain)
    assert render_svg(model, highlight=["Relu"]) == render_svg(model, highlight=("Relu",))


def test_picture_is_deterministic_and_has_no_ids_or_scripts() -> None:
    first, second = static_html(small_model()), static_html(small_model())
    assert first == second
    assert " id=" not in first
    assert "<script" not in first.lower()
    assert "url(#" not in first  # no references to ids (several pictures can share a page)


def test_producers_are_drawn_above_consumers_even_when_file_order_is_wrong() -> None:
    model = small_model()
    nodes = list(model.graph.node)
    del model.graph.node[:]
    model.graph.node.extend(reversed(nodes))  # invalid order in the file; the picture still flows downwards
    svg = render_svg(model)
    y_of = {}
    for group in parse(svg).iter(f"{SVG}g"):
        rect, text = group.find(f"{SVG}rect"), group.find(f"{SVG}text")
        if rect is not None and text is not None:
            y_of[text.text] = float(rect.get("y"))  # type: ignore[arg-type]
    assert y_of["x"] < y_of["Conv"] < y_of["Relu"] < y_of["Add"] < y_of["y"]


def test_constants_and_weight_aliases_fold_into_their_consumers() -> None:
    shape = numpy_helper.from_array(np.array([1, -1], np.int64), "shape_value")
    graph = helper.make_graph(
        [
            helper.make_node("Constant", [], ["shape"], value=shape),
            helper.make_node("Identity", ["w"], ["w_alias"]),  # what the TorchScript exporter emits for weights
            helper.make_node("Reshape", ["x", "shape"], ["r"]),
            helper.make_node("MatMul", ["r", "w_alias"], ["y"]),
        ],
        "folded",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 5])],
        [numpy_helper.from_array(np.zeros((6, 5), np.float32), "w")],
    )
    svg = render_svg(helper.make_model(graph))
    assert sorted(labels(svg)) == ["MatMul", "Reshape", "x", "y"]
    texts = [t.text for t in parse(svg).iter(f"{SVG}text")]
    assert "2" in texts  # the Constant's shape, under Reshape
    assert "6×5" in texts  # the aliased weight's shape, under MatMul


def test_200_node_graph_is_summarised_and_readable(tmp_path: Path) -> None:
    model = chain_model(200)
    html = static_html(model)
    svg = render_svg(model)
    drawn = [label for label in labels(svg) if label not in ("x", "t199")]
    collapsed = [label for label in drawn if "more nodes" in label]
    assert len(collapsed) == 1
    hidden = int(collapsed[0].split()[0])
    assert len(drawn) - 1 == 200 - hidden <= DEFAULT_MAX_NODES
    assert f"the picture shows {200 - hidden} of 200 nodes" in html
    # Readable: about the requested height, at most a few screens wide, boxes and edges never overlap.
    root = parse(svg)
    assert float(root.get("height")) <= 520  # type: ignore[arg-type]
    assert float(root.get("width")) <= 1100  # type: ignore[arg-type]
    assert_no_overlaps(svg)
    # The summary still counts every node.
    assert "200 nodes" in html and "Add ×29" in html


@pytest.mark.parametrize("n", [12, 40, 500])
def test_wide_layers_are_collapsed_to_fit_a_notebook_cell(n: int) -> None:
    model = wide_model(n)
    svg, html = render_svg(model), static_html(model)
    width, height = svg_size(svg)
    assert width <= 1100 and height <= 520, (width, height)  # was 4,128 px wide for 40 parallel nodes
    assert_no_overlaps(svg)
    drawn = labels(svg)
    collapsed = [label for label in drawn if "more nodes" in label]
    assert len(collapsed) == 1
    hidden = int(collapsed[0].split()[0])
    relus = drawn.count("Relu")
    assert relus >= 2 and relus + hidden == n  # every Relu is drawn or counted, none twice
    assert drawn.count("Concat") == 1 and drawn.count("x") == 1 and drawn.count("y") == 1
    # The collapsed box stands in the row it summarises: fed by x, feeding the Concat.
    assert edge_pairs(svg) == Counter({("x", "Relu"): relus, ("Relu", "Concat"): relus, ("x", collapsed[0]): 1,
                                       (collapsed[0], "Concat"): 1, ("Concat", "y"): 1})  # fmt: skip
    assert f"Relu ×{hidden}" in labelled_texts(svg)  # what it hides
    assert f"the picture shows {n + 1 - hidden} of {n + 1} nodes" in html
    assert render_svg(model) == svg  # deterministic


def labelled_texts(svg: str) -> list[str]:
    return [t.text or "" for t in parse(svg).iter(f"{SVG}text")]


def test_a_few_parallel_nodes_are_all_drawn() -> None:
    svg = render_svg(wide_model(6))
    assert labels(svg).count("Relu") == 6 and not [label for label in labels(svg) if "more" in label]
    assert edge_pairs(svg) == expected_pairs(wide_model(6))


def test_many_graph_outputs_are_collapsed_and_listed_briefly() -> None:
    nodes = [helper.make_node("Relu", ["x"], [f"out{i}"]) for i in range(30)]
    graph = helper.make_graph(
        nodes,
        "many_outputs",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info(f"out{i}", TensorProto.FLOAT, [1, 4]) for i in range(30)],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    svg = render_svg(model)
    assert svg_size(svg)[0] <= 1100
    assert_no_overlaps(svg)
    drawn = labels(svg)
    outputs = [label for label in drawn if label.startswith("out")]
    collapsed_outputs = [label for label in drawn if label.endswith("more outputs")]
    assert len(collapsed_outputs) == 1 and len(outputs) + int(collapsed_outputs[0].split()[0]) == 30
    # The summary names the first ten outputs and counts the rest.
    line = next(line for line in model_summary(model).splitlines() if line.startswith("outputs:"))
    assert line.count("float32[1, 4]") == 10 and line.endswith("; … 20 more")


def test_graph_without_nodes_is_drawn() -> None:
    # A valid model whose output is its input: no nodes at all.
    passthrough = helper.make_model(
        helper.make_graph(
            [],
            "passthrough",
            [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
            [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
        ),
        opset_imports=[helper.make_opsetid("", 17)],
    )
    onnx.checker.check_model(passthrough)
    svg = render_svg(passthrough)
    assert labels(svg) == ["x", "x"] and edge_pairs(svg) == Counter({("x", "x"): 1})
    assert_no_overlaps(svg)
    summary = model_summary(passthrough)
    assert "· 0 nodes ·" in summary and "ops:     none" in summary
    # A graph whose only output is a stored constant: one box, no edges, no inputs.
    constant = helper.make_model(
        helper.make_graph(
            [],
            "constant",
            [],
            [helper.make_tensor_value_info("c", TensorProto.FLOAT, [3])],
            [numpy_helper.from_array(np.ones(3, np.float32), "c")],
        ),
        opset_imports=[helper.make_opsetid("", 17)],
    )
    onnx.checker.check_model(constant)
    svg = render_svg(constant)
    assert labels(svg) == ["c"] and not edge_segments(svg)
    assert "inputs:  none" in model_summary(constant)
    assert "<svg" in static_html(constant) and "Large graph" not in static_html(constant)


def test_branching_model_is_drawn_completely_with_the_right_edges() -> None:
    model = inception_model()
    svg = render_svg(model)
    ops = Counter(node.op_type for node in model.graph.node)
    assert Counter(labels(svg)) == ops + Counter(["image", "logits", "probs"])
    # Every edge joins the right boxes: producer above, consumer below (branches, skip connections, two outputs).
    assert edge_pairs(svg) == expected_pairs(model)
    assert_no_overlaps(svg)
    assert svg_size(svg)[0] <= 1100  # four branches side by side fit a cell: one tall column, not a wide strip
    assert "Large graph" not in static_html(model)
    assert static_html(model) == static_html(inception_model())


def test_max_nodes_controls_the_summary_threshold() -> None:
    model = chain_model(30)
    assert "more nodes" not in render_svg(model)
    assert "20 more nodes" in labels(render_svg(model, max_nodes=10))
    assert "10 more nodes" in labels(render_svg(model, max_nodes=20))


def test_height_wraps_deep_graphs_into_columns() -> None:
    model = chain_model(40)
    tall, short = parse(render_svg(model, height=2200)), parse(render_svg(model, height=400))
    assert float(short.get("height")) < float(tall.get("height"))  # type: ignore[arg-type]
    assert float(short.get("width")) > float(tall.get("width"))  # type: ignore[arg-type]
    assert_no_overlaps(render_svg(model, height=400))


@pytest.fixture(scope="module")
def resnet18_onnx(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch = pytest.importorskip("torch")
    from course_utils.models import resnet18

    path = tmp_path_factory.mktemp("resnet") / "resnet18.onnx"
    torch.onnx.export(
        resnet18(),
        (torch.zeros(1, 3, 224, 224),),
        str(path),
        dynamo=False,
        input_names=["input"],
        output_names=["logits"],
        opset_version=17,
    )
    return path


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # the legacy exporter announces its own retirement
def test_real_resnet18_export_is_drawn_completely(resnet18_onnx: Path) -> None:
    model = onnx.load(str(resnet18_onnx))
    ops = [n.op_type for n in model.graph.node if n.op_type not in ("Identity", "Constant")]
    svg = render_svg(resnet18_onnx)
    drawn = labels(svg)
    assert not any("more nodes" in label for label in drawn)
    for op in set(ops):
        assert drawn.count(op) == ops.count(op), op
    assert "input" in drawn and "logits" in drawn
    assert_no_overlaps(svg)
    summary = model_summary(resnet18_onnx)
    assert "inputs:  input float32[1, 3, 224, 224]" in summary
    assert "outputs: logits float32[1, 1000]" in summary
    assert f"Conv ×{ops.count('Conv')}" in summary


def test_bad_input_gives_the_course_errors(tmp_path: Path) -> None:
    with pytest.raises(ModelFileNotFoundError):
        render_svg(tmp_path / "missing.onnx")
    text = tmp_path / "notes.onnx"
    text.write_text("this is not a model")
    with pytest.raises(NotAnOnnxModelError):
        static_html(text)
    external = tmp_path / "ext.onnx"
    onnx.save(small_model(), str(external), save_as_external_data=True, location="ext.onnx.data", size_threshold=0)
    (tmp_path / "ext.onnx.data").unlink()
    with pytest.raises(ExternalDataMissingError):
        model_summary(external)


def test_nodes_inside_subgraphs_are_counted_in_the_summary() -> None:
    def branch(name: str, op: str) -> onnx.GraphProto:
        return helper.make_graph(
            [helper.make_node(op, ["x"], [f"{name}_y"])],
            name,
            [],
            [helper.make_tensor_value_info(f"{name}_y", TensorProto.FLOAT, [1])],
        )

    graph = helper.make_graph(
        [
            helper.make_node(
                "If", ["cond"], ["y"], then_branch=branch("then", "Relu"), else_branch=branch("else", "Neg")
            )
        ],
        "branching",
        [
            helper.make_tensor_value_info("cond", TensorProto.BOOL, []),
            helper.make_tensor_value_info("x", TensorProto.FLOAT, [1]),
        ],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])],
    )
    model = helper.make_model(graph)
    assert "· 1 node (+2 in subgraphs) ·" in model_summary(model)
    assert "If" in labels(render_svg(model))
