"""Questions about an ONNX graph, answered once for the whole package: types, dimensions, inputs, walkers.

Every module that shows a model to a learner (the model card, the static picture, check reports, Netron's
summary, run errors, exercise feedback) asks these questions here, so the answers agree everywhere:

* element types use numpy's names, as numpy, PyTorch, ONNX Runtime's Python API and Netron print them:
  ``float32``, ``int64``, ``bool``, ``string`` (:func:`dtype_name`);
* a dimension is an ``int`` (fixed), a ``str`` (symbolic, e.g. ``"batch"``) or ``None`` (unknown, printed
  ``?``) (:func:`dim`, :func:`shape`); a whole type prints as ``float32[batch, 1, 8, 8]`` (:func:`type_text`);
* a graph's inputs are its declared inputs minus initializers (IR < 4 models list weights as inputs too)
  (:func:`graph_inputs`);
* walkers visit subgraphs (``If``/``Loop``/``Scan`` bodies), model-local functions and sparse initializers
  (:func:`subgraphs`, :func:`tensors`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import onnx
from onnx import AttributeProto, GraphProto, ModelProto, NodeProto, TensorProto, TypeProto

__all__ = [
    "UNKNOWN",
    "Dim",
    "Shape",
    "dim",
    "domain_label",
    "dtype_name",
    "graph_inputs",
    "op_name",
    "shape",
    "shape_text",
    "subgraph_node_count",
    "subgraphs",
    "tensors",
    "type_text",
    "value_type",
]

Dim = int | str | None
"""One dimension: an int when fixed, the symbol's name when symbolic (``"batch"``), None when unknown."""
Shape = tuple[Dim, ...]
"""A shape as :func:`shape` returns it; None stands for a tensor whose rank is unknown."""

UNKNOWN = "?"
"""How an unknown dimension, or an unknown element type, is printed."""

# numpy's spelling where ONNX's differs; every other type is ONNX's name in lower case (int64, uint8, float8e4m3fn).
_NUMPY_SPELLING = {"FLOAT": "float32", "DOUBLE": "float64", "FLOAT16": "float16"}
_DTYPE_NAMES: dict[int, str] = {
    code: _NUMPY_SPELLING.get(name, name.lower()) for name, code in TensorProto.DataType.items() if code
}


def dtype_name(elem_type: int) -> str:
    """The element type's name as numpy prints it: ``1`` (``TensorProto.FLOAT``) -> ``"float32"``.

    Types numpy lacks keep ONNX's name in lower case (``"bfloat16"``, ``"string"``, ``"float8e4m3fn"``);
    ``UNDEFINED`` (0, type not given) is ``"?"`` and a code this onnx does not know is ``"type<code>"``.
    """
    if elem_type == TensorProto.UNDEFINED:
        return UNKNOWN
    return _DTYPE_NAMES.get(elem_type, f"type{elem_type}")


def dim(d: onnx.TensorShapeProto.Dimension) -> Dim:
    """One dimension of a shape: ``dim_value`` as an int, ``dim_param`` as a str, None when neither is set."""
    if d.HasField("dim_value"):
        return int(d.dim_value)
    if d.HasField("dim_param") and d.dim_param:
        return d.dim_param
    return None


def shape(t: TypeProto) -> Shape | None:
    """The shape of a tensor (or sparse tensor) type; None when the rank is unknown or the type has no shape."""
    kind = t.WhichOneof("value")
    if kind not in ("tensor_type", "sparse_tensor_type"):
        return None
    tt = getattr(t, kind)
    return tuple(dim(d) for d in tt.shape.dim) if tt.HasField("shape") else None


def shape_text(dims: Sequence[Dim] | None) -> str:
    """``[batch, 1, 8, 8]``: fixed dims as numbers, symbolic ones by name, unknown ones as ``?``.

    An unknown rank (``None``) is ``?`` alone; a scalar is ``[]``.
    """
    if dims is None:
        return UNKNOWN
    return "[" + ", ".join(UNKNOWN if d is None else str(d) for d in dims) + "]"


def type_text(t: TypeProto) -> str:
    """A type as learners read it: ``float32[batch, 1, 8, 8]``; ``float32`` alone when the rank is unknown.

    Other kinds are spelled out: ``sparse float32[100, 100]``, ``seq(float32[3])``, ``optional(int64[])``,
    ``map(string, float32)``; ``?`` when no type is given (allowed for inner values).
    """
    kind = t.WhichOneof("value")
    if kind in ("tensor_type", "sparse_tensor_type"):
        dims = shape(t)
        text = dtype_name(getattr(t, kind).elem_type) + ("" if dims is None else shape_text(dims))
        return ("sparse " if kind == "sparse_tensor_type" else "") + text
    if kind == "sequence_type":
        return f"seq({type_text(t.sequence_type.elem_type)})"
    if kind == "optional_type":
        return f"optional({type_text(t.optional_type.elem_type)})"
    if kind == "map_type":
        return f"map({dtype_name(t.map_type.key_type)}, {type_text(t.map_type.value_type)})"
    return UNKNOWN


def value_type(value: onnx.ValueInfoProto) -> tuple[str | None, Shape | None]:
    """(element type name, shape) of a graph input/output; element type None for non-tensor values."""
    kind = value.type.WhichOneof("value")
    if kind not in ("tensor_type", "sparse_tensor_type"):
        return None, None
    return dtype_name(getattr(value.type, kind).elem_type), shape(value.type)


def graph_inputs(graph: GraphProto) -> list[onnx.ValueInfoProto]:
    """The inputs a caller feeds: ``graph.input`` minus initializers (IR < 4 models list every weight there too)."""
    weights = {init.name for init in graph.initializer}
    weights.update(s.values.name for s in graph.sparse_initializer)
    return [value for value in graph.input if value.name not in weights]


def domain_label(domain: str) -> str:
    """The operator domain as learners read it: the default domain (stored as ``""``) is ``ai.onnx``."""
    return domain or "ai.onnx"


def op_name(domain: str, op_type: str) -> str:
    """``Conv`` for the default domain (written ``""`` or ``"ai.onnx"``), ``com.microsoft.FusedConv`` otherwise."""
    return op_type if domain in ("", "ai.onnx") else f"{domain}.{op_type}"


def _node_label(node: NodeProto, index: int) -> str:
    return f'{node.op_type} "{node.name}"' if node.name else f"{node.op_type} #{index}"


def subgraphs(nodes: Sequence[NodeProto], prefix: str = "") -> Iterator[tuple[str, GraphProto]]:
    """Every graph nested in these nodes' attributes (``If`` branches, ``Loop``/``Scan`` bodies), depth first.

    Each comes with a readable path: ``If "check".then_branch``, ``Loop #3.body > If #0.else_branch``.
    Pass ``model.graph.node`` for a model's main graph, ``function.node`` for a function's body.
    """
    for index, node in enumerate(nodes):
        for attr in node.attribute:
            found: list[tuple[str, GraphProto]] = []
            if attr.type == AttributeProto.GRAPH or attr.HasField("g"):
                found.append((attr.name, attr.g))
            found.extend((f"{attr.name}[{i}]", g) for i, g in enumerate(attr.graphs))
            for attr_label, graph in found:
                path = f"{prefix}{_node_label(node, index)}.{attr_label}"
                yield path, graph
                yield from subgraphs(graph.node, path + " > ")


def graphs(model: ModelProto) -> Iterator[GraphProto]:
    """The model's main graph, then every subgraph of it and of each model-local function's body, depth first."""
    yield model.graph
    for _, graph in subgraphs(model.graph.node):
        yield graph
    for function in model.functions:
        for _, graph in subgraphs(function.node):
            yield graph


def nodes(model: ModelProto) -> Iterator[NodeProto]:
    """Every node of the model: main graph, subgraphs at any depth, and model-local function bodies."""
    for graph in graphs(model):
        yield from graph.node
    for function in model.functions:
        yield from function.node


def subgraph_node_count(graph: GraphProto) -> int:
    """Nodes inside the graph's subgraphs, at any depth (not counting the graph's own nodes)."""
    return sum(len(sub.node) for _, sub in subgraphs(graph.node))


def tensors(model: ModelProto) -> Iterator[TensorProto]:
    """Every ``TensorProto`` of a model that can hold data, external data included.

    Initializers, both halves (values and indices) of sparse initializers, and tensor attributes
    (``Constant``'s ``value`` ...), in the main graph, every subgraph, and every model-local function's body.
    """

    def in_graph(graph: GraphProto) -> Iterator[TensorProto]:
        yield from graph.initializer
        for s in graph.sparse_initializer:
            yield s.values
            yield s.indices
        yield from in_nodes(graph.node)

    def in_nodes(nodes: Sequence[NodeProto]) -> Iterator[TensorProto]:
        for node in nodes:
            for attr in node.attribute:
                if attr.HasField("t"):
                    yield attr.t
                yield from attr.tensors
                if attr.HasField("sparse_tensor"):
                    yield attr.sparse_tensor.values
                    yield attr.sparse_tensor.indices
                for s in attr.sparse_tensors:
                    yield s.values
                    yield s.indices
                if attr.HasField("g"):
                    yield from in_graph(attr.g)
                for g in attr.graphs:
                    yield from in_graph(g)

    yield from in_graph(model.graph)
    for f in model.functions:
        yield from in_nodes(f.node)
