"""Read what an ONNX model contains without Netron: a model card, operator counts, weight sizes, protobuf fields.

In a notebook::

    from course_utils.inspect import summarize
    card = summarize("artifacts/04/digits_cnn.onnx")  # shows as a table in Jupyter, as text with print()
    card.parameter_count, card.op_histogram, card.to_dict()

From a shell (prints the same card; exit code 2 with a one-line error for a bad file)::

    python -m course_utils.inspect artifacts/04/digits_cnn.onnx
    python -m course_utils.inspect --json model.onnx

Everything works on any valid ONNX model (control flow subgraphs, local functions, sparse initializers,
external data) and never reads external weight files: sizes come from the tensors' declared shapes and the
``length`` recorded in their external-data entries. Output is deterministic, so notebooks can compare it.
"""

from __future__ import annotations

import argparse
import html
import json
import math
import os
import re
import sys
import textwrap
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import onnx
from onnx import AttributeProto, GraphProto, ModelProto, NodeProto, SparseTensorProto, TensorProto, TypeProto

from .errors import CourseError, ModelFileNotFoundError, NotAnOnnxModelError
from .modelio import _TEXT_SUFFIXES, ModelSource, load_model
from .paths import relative_to_repo

__all__ = [
    "CardChanges",
    "ExternalTensor",
    "FunctionInfo",
    "InitializerInfo",
    "ModelCard",
    "ProtoField",
    "SubgraphInfo",
    "ValueInfo",
    "compare_cards",
    "dtype_name",
    "format_bytes",
    "initializer_sizes",
    "main",
    "op_histogram",
    "parameter_count",
    "protobuf_fields",
    "summarize",
]

# How many entries of a long list the text and HTML cards show before "... and N more" (to_dict keeps all).
SHOW = 10
# Width of the label column in the text card ("graph metadata" is the longest label).
_LABEL_WIDTH = 14

# Bits per element of each tensor type; STRING has no fixed size. Looked up by name so that types newer or
# older than the installed onnx are simply skipped.
_BITS_BY_NAME = {
    "FLOAT": 32, "UINT8": 8, "INT8": 8, "UINT16": 16, "INT16": 16, "INT32": 32, "INT64": 64, "BOOL": 8,
    "FLOAT16": 16, "DOUBLE": 64, "UINT32": 32, "UINT64": 64, "COMPLEX64": 64, "COMPLEX128": 128,
    "BFLOAT16": 16, "FLOAT8E4M3FN": 8, "FLOAT8E4M3FNUZ": 8, "FLOAT8E5M2": 8, "FLOAT8E5M2FNUZ": 8,
    "FLOAT8E8M0": 8, "UINT4": 4, "INT4": 4, "FLOAT4E2M1": 4, "UINT2": 2, "INT2": 2,
}  # fmt: skip
_BITS: dict[int, int] = {
    getattr(TensorProto, name): bits for name, bits in _BITS_BY_NAME.items() if hasattr(TensorProto, name)
}


# ----------------------------------------------------------------------------------------------- small helpers
def dtype_name(elem_type: int) -> str:
    """ONNX's name for an element type, lower case as ONNX Runtime prints it: ``1`` -> ``"float"``."""
    try:
        return TensorProto.DataType.Name(elem_type).lower()
    except ValueError:
        return f"type{elem_type}"


def format_bytes(n: int) -> str:
    """``1536`` -> ``"1.5 KiB"``: bytes in binary units, one decimal."""
    if n < 1024:
        return f"{n} B"
    value = float(n)
    for unit in ("KiB", "MiB", "GiB", "TiB"):
        value /= 1024
        if value < 1024 or unit == "TiB":
            break
    return f"{value:.1f} {unit}"


def _n(count: int, word: str) -> str:
    """``_n(1, "node")`` -> ``"1 node"``, ``_n(2, "value_info entry")`` -> ``"2 value_info entries"``."""
    if count == 1:
        return f"1 {word}"
    plural = word[:-1] + "ies" if word.endswith("y") else word + "s"
    return f"{count:,} {plural}"


def _short(text: str, width: int = 60) -> str:
    """One line of at most ``width`` characters: newlines and runs of spaces become one space."""
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 3] + "..."


def _op_name(domain: str, op_type: str) -> str:
    # The default domain is written "" or "ai.onnx"; other domains stay visible (com.microsoft.FusedConv).
    return op_type if domain in ("", "ai.onnx") else f"{domain}.{op_type}"


def _dim(d: onnx.TensorShapeProto.Dimension) -> int | str | None:
    if d.HasField("dim_value"):
        return int(d.dim_value)
    if d.HasField("dim_param"):
        return d.dim_param
    return None


def _shape_text(shape: tuple[int | str | None, ...] | None) -> str:
    if shape is None:
        return "[?]"  # rank unknown
    return "[" + ", ".join("?" if d is None else str(d) for d in shape) + "]"


def _type_text(t: TypeProto) -> tuple[str, str | None, tuple[int | str | None, ...] | None]:
    """(text, element dtype, shape) of a TypeProto; non-tensor types are described recursively."""
    kind = t.WhichOneof("value")
    if kind in ("tensor_type", "sparse_tensor_type"):
        tt = getattr(t, kind)
        dtype = dtype_name(tt.elem_type)
        shape = tuple(_dim(d) for d in tt.shape.dim) if tt.HasField("shape") else None
        prefix = "sparse " if kind == "sparse_tensor_type" else ""
        return f"{prefix}{dtype}{_shape_text(shape)}", dtype, shape
    if kind == "sequence_type":
        return f"seq({_type_text(t.sequence_type.elem_type)[0]})", None, None
    if kind == "optional_type":
        return f"optional({_type_text(t.optional_type.elem_type)[0]})", None, None
    if kind == "map_type":
        key = dtype_name(t.map_type.key_type)
        return f"map({key}, {_type_text(t.map_type.value_type)[0]})", None, None
    return "?", None, None  # type not given (allowed for inner values)


def _elements(dims: Sequence[int]) -> int:
    return max(0, math.prod(int(d) for d in dims))


def _tensor_nbytes(t: TensorProto) -> int:
    """Bytes of a tensor's data without reading it: raw length, external ``length``, or shape x element size."""
    if t.data_location == TensorProto.EXTERNAL:
        for entry in t.external_data:
            if entry.key == "length" and entry.value.isdigit():
                return int(entry.value)
    elif t.raw_data:
        return len(t.raw_data)
    if t.data_type == TensorProto.STRING:
        return sum(len(s) for s in t.string_data)
    bits = _BITS.get(t.data_type)
    return 0 if bits is None else math.ceil(_elements(t.dims) * bits / 8)


def _external_entry(t: TensorProto) -> dict[str, str]:
    return {e.key: e.value for e in t.external_data}


# ------------------------------------------------------------------------------------------- record types
@dataclass(frozen=True)
class ValueInfo:
    """A graph input or output: name, type text (``float[batch, 1, 8, 8]``), element dtype and shape.

    ``shape`` holds ints for fixed dimensions, strings for symbolic ones (``"batch"``), None for unknown ones;
    it is None when even the rank is unknown.
    """

    name: str
    type: str
    dtype: str | None
    shape: tuple[int | str | None, ...] | None

    @classmethod
    def from_proto(cls, value: onnx.ValueInfoProto) -> ValueInfo:
        """Describe a ``ValueInfoProto`` (a graph input/output or a ``value_info`` entry)."""
        return cls(value.name, *_type_text(value.type))

    @property
    def dynamic_dims(self) -> tuple[str, ...]:
        """The dimensions not fixed by the model: symbolic names, and ``"?"`` for unnamed ones."""
        if self.shape is None:
            return ()
        return tuple("?" if d is None else d for d in self.shape if not isinstance(d, int))

    def text(self) -> str:
        """``name: type``, plus which dimensions are dynamic."""
        dyn = self.dynamic_dims
        return f"{self.name}: {self.type}" + (f"  (dynamic: {', '.join(dyn)})" if dyn else "")


@dataclass(frozen=True)
class InitializerInfo:
    """One stored tensor: its shape, element count and bytes, where it lives (``"inline"`` or an external
    file name; ``"sparse"`` for sparse initializers) and which graph holds it (``"main"`` or a subgraph)."""

    name: str
    dtype: str
    shape: tuple[int, ...]
    elements: int
    nbytes: int
    location: str = "inline"
    graph: str = "main"

    @property
    def type(self) -> str:
        """``float[64, 512]``."""
        return f"{self.dtype}{_shape_text(self.shape)}"

    def text(self) -> str:
        """``name  float[64, 512]  32,768 values  128.0 KiB``."""
        where = "" if self.graph == "main" else f"  in {self.graph}"
        return f"{self.name}  {self.type}  {_n(self.elements, 'value')}  {format_bytes(self.nbytes)}{where}"


@dataclass(frozen=True)
class ExternalTensor:
    """A tensor whose data lives in another file: the file name (relative to the model), offset and length."""

    name: str
    file: str
    offset: int
    nbytes: int


@dataclass(frozen=True)
class SubgraphInfo:
    """A graph nested in a node attribute (``If`` branches, ``Loop``/``Scan`` bodies): where, and its size."""

    path: str
    nodes: int
    initializers: int


@dataclass(frozen=True)
class FunctionInfo:
    """A model-local function (``model.functions``): nodes calling ``domain.name`` run its body."""

    domain: str
    name: str
    nodes: int
    inputs: int
    outputs: int


def _walk_subgraphs(nodes: Sequence[NodeProto], prefix: str) -> Iterator[tuple[str, GraphProto]]:
    """Every graph nested in these nodes' attributes, depth first, with a readable path."""
    for index, node in enumerate(nodes):
        label = f'{node.op_type} "{node.name}"' if node.name else f"{node.op_type} #{index}"
        for attr in node.attribute:
            graphs: list[tuple[str, GraphProto]] = []
            if attr.type == AttributeProto.GRAPH or attr.HasField("g"):
                graphs.append((attr.name, attr.g))
            graphs.extend((f"{attr.name}[{i}]", g) for i, g in enumerate(attr.graphs))
            for attr_label, graph in graphs:
                path = f"{prefix}{label}.{attr_label}"
                yield path, graph
                yield from _walk_subgraphs(graph.node, path + " > ")


def _initializer_infos(graph: GraphProto, where: str) -> list[InitializerInfo]:
    infos = []
    for t in graph.initializer:
        location = _external_entry(t).get("location", "?") if t.data_location == TensorProto.EXTERNAL else "inline"
        shape = tuple(int(d) for d in t.dims)
        infos.append(
            InitializerInfo(
                t.name, dtype_name(t.data_type), shape, _elements(shape), _tensor_nbytes(t), location, where
            )
        )
    for s in graph.sparse_initializer:
        infos.append(_sparse_info(s, where))
    return infos


def _sparse_info(s: SparseTensorProto, where: str) -> InitializerInfo:
    # A sparse tensor stores its non-zero values plus their indices; the shape is the dense one.
    nbytes = _tensor_nbytes(s.values) + _tensor_nbytes(s.indices)
    dense_shape = tuple(int(d) for d in s.dims)
    dtype = dtype_name(s.values.data_type)
    return InitializerInfo(s.values.name, dtype, dense_shape, _elements(s.values.dims), nbytes, "sparse", where)


def _all_tensors(model: ModelProto) -> Iterator[TensorProto]:
    """Every TensorProto in the model that can hold external data: initializers and tensor attributes,
    in the main graph, subgraphs and function bodies."""

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
                if attr.HasField("g"):
                    yield from in_graph(attr.g)
                for g in attr.graphs:
                    yield from in_graph(g)

    yield from in_graph(model.graph)
    for f in model.functions:
        yield from in_nodes(f.node)


# ----------------------------------------------------------------------------------------------- the card
@dataclass(frozen=True)
class ModelCard:
    """What :func:`summarize` found in a model. ``print(card)`` gives text; Jupyter shows an HTML table.

    The numbers are also attributes (``card.parameter_count``, ``card.op_histogram`` ...) and
    :meth:`to_dict` gives everything as plain JSON-ready data.
    """

    source: str
    file_bytes: int | None
    ir_version: int
    producer: str
    domain: str
    model_version: int
    doc_string: str
    graph_name: str
    opsets: tuple[tuple[str, int], ...]
    inputs: tuple[ValueInfo, ...]
    outputs: tuple[ValueInfo, ...]
    initializers_as_inputs: int
    value_info: int
    nodes: int
    subgraph_nodes: int
    op_counts: tuple[tuple[str, int], ...]
    initializers: tuple[InitializerInfo, ...]
    metadata: tuple[tuple[str, str], ...]
    subgraphs: tuple[SubgraphInfo, ...]
    functions: tuple[FunctionInfo, ...]
    external: tuple[ExternalTensor, ...]
    external_files: tuple[tuple[str, int | None], ...]
    graph_metadata: tuple[tuple[str, str], ...] = ()

    # --- numbers derived from the fields
    @property
    def op_histogram(self) -> dict[str, int]:
        """``{op_type: count}`` over the main graph and its subgraphs, most used first."""
        return dict(self.op_counts)

    @property
    def parameter_count(self) -> int:
        """Values stored in initializers (all graphs), including small integer constants such as shapes."""
        return sum(i.elements for i in self.initializers)

    @property
    def parameter_bytes(self) -> int:
        """Bytes those values take, wherever they are stored."""
        return sum(i.nbytes for i in self.initializers)

    @property
    def opset(self) -> dict[str, int]:
        """``{domain: version}`` with the default domain written ``"ai.onnx"``."""
        return dict(self.opsets)

    def largest(self, n: int = 3) -> list[InitializerInfo]:
        """The ``n`` initializers taking the most bytes (ties keep the model's order)."""
        return sorted(self.initializers, key=lambda i: -i.nbytes)[:n]

    def to_dict(self) -> dict[str, Any]:
        """Everything in the card as plain dicts, lists, strings and numbers (``json.dumps`` works)."""
        d = asdict(self)
        for key in ("opsets", "op_counts", "metadata", "graph_metadata"):
            d[key] = dict(getattr(self, key))
        d["external_files"] = [{"file": f, "bytes_on_disk": size} for f, size in self.external_files]
        for key in ("inputs", "outputs"):
            for entry in d[key]:
                entry["shape"] = None if entry["shape"] is None else list(entry["shape"])
        for entry in d["initializers"]:
            entry["shape"] = list(entry["shape"])
        d["op_histogram"] = d.pop("op_counts")
        d["parameter_count"] = self.parameter_count
        d["parameter_bytes"] = self.parameter_bytes
        return d

    # --- rendering
    def _rows(self) -> list[tuple[str, list[str]]]:
        """(label, lines) pairs; text and HTML both render these, so they always agree."""

        def capped(lines: list[str]) -> list[str]:
            return lines if len(lines) <= SHOW else [*lines[:SHOW], f"... and {len(lines) - SHOW} more"]

        fmt = f"IR version {self.ir_version}"
        if self.producer:
            fmt += f", produced by {self.producer}"
        if self.model_version:
            fmt += f", model version {self.model_version}"
        graph = f'"{self.graph_name}": {_n(self.nodes, "node")}'
        if self.subgraph_nodes:
            graph += f" (+{self.subgraph_nodes} in subgraphs)"
        graph += f", {_n(len(self.initializers), 'initializer')}, {_n(self.value_info, 'value_info entry')}"
        inputs = [v.text() for v in self.inputs] or ["none"]
        if self.initializers_as_inputs:
            inputs.append(f"(+{self.initializers_as_inputs} initializers also listed as inputs, IR < 4 style)")
        ops = ", ".join(f"{op} {n}" for op, n in self.op_counts) or "none"
        params = (
            f"{_n(self.parameter_count, 'value')} in {_n(len(self.initializers), 'initializer')}, "
            f"{format_bytes(self.parameter_bytes)}"
        )
        rows: list[tuple[str, list[str]]] = [
            ("format", [fmt]),
            ("opsets", textwrap.wrap(", ".join(f"{d} {v}" for d, v in self.opsets), 96) or ["none"]),
            ("graph", [graph]),
            ("inputs", capped(inputs)),
            ("outputs", capped([v.text() for v in self.outputs]) or ["none"]),
            ("operators", textwrap.wrap(ops, 96) or ["none"]),
            ("parameters", [params]),
        ]
        if self.initializers:
            rows.append(("largest", [i.text() for i in self.largest(3)]))
        meta = [f"{k} = {_short(v)}" for k, v in self.metadata]
        rows.append(("metadata", capped(meta) or ["none"]))
        if self.graph_metadata:  # graph.metadata_props (IR 10+): exporters put notes about the graph here
            rows.append(("graph metadata", capped([f"{k} = {_short(v)}" for k, v in self.graph_metadata])))
        subs = [f"{s.path}: {_n(s.nodes, 'node')}" for s in self.subgraphs]
        rows.append(("subgraphs", capped(subs) if subs else ["none"]))
        funcs = [
            f"{_op_name(f.domain, f.name)}: {_n(f.nodes, 'node')}, {f.inputs} in, {f.outputs} out"
            for f in self.functions
        ]
        rows.append(("functions", capped(funcs) if funcs else ["none"]))
        if self.external:
            files = [
                f"{name}: {_n(sum(1 for t in self.external if t.file == name), 'tensor')}"
                + ("" if size is None else f", {format_bytes(size)} on disk")
                for name, size in self.external_files
            ]
            tensors = [f"{t.name} -> {t.file} @ {t.offset}, {format_bytes(t.nbytes)}" for t in self.external]
            rows.append(("external data", files + capped(tensors)))
        else:
            rows.append(("external data", ["none (all weights inside the file)"]))
        if self.doc_string:
            rows.append(("doc", [self.doc_string]))
        return rows

    def _title(self) -> str:
        size = "" if self.file_bytes is None else f" ({format_bytes(self.file_bytes)})"
        return f"ONNX model: {self.source}{size}"

    def __str__(self) -> str:
        lines = [self._title()]
        for label, values in self._rows():
            for i, value in enumerate(values):
                lines.append(f"  {label if i == 0 else '':<{_LABEL_WIDTH}} {value}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        cell = 'style="text-align:left;vertical-align:top;padding:2px 10px;font-family:monospace"'
        body = "".join(
            f"<tr><th {cell}>{html.escape(label)}</th><td {cell}>{'<br>'.join(html.escape(v) for v in values)}</td></tr>"
            for label, values in self._rows()
        )
        return (
            f'<table style="border-collapse:collapse"><caption style="text-align:left;font-weight:bold">'
            f"{html.escape(self._title())}</caption>{body}</table>"
        )


def _source_label(source: ModelSource) -> tuple[str, int | None, Path | None]:
    if isinstance(source, str | os.PathLike):
        path = Path(source)
        return relative_to_repo(path), path.stat().st_size, path
    if isinstance(source, bytes | bytearray):
        return "<bytes>", len(source), None
    return "<ModelProto>", None, None


def _raise_if_text_read_as_binary(source: ModelSource) -> None:
    """A text form of a model (given as bytes, or in a file named like a binary one) was parsed as binary:
    say so, and how to load it, rather than "not an ONNX model"."""
    if isinstance(source, bytes | bytearray):
        form = _text_form(bytes(source))
        if form is not None:
            raise NotAnOnnxModelError(
                f"These bytes are the {form[0]} of a model, not binary protobuf. "
                f"Parse them with onnx.load_from_string(data, format='{form[1]}') and pass the ModelProto."
            ) from None
    elif isinstance(source, str | os.PathLike) and Path(source).is_file():
        path = Path(source)
        if path.suffix.lower() in _TEXT_SUFFIXES:
            return  # read as text already: load_model's message about a broken text file stands
        with path.open("rb") as f:
            form = _text_form(f.read(512))
        if form is not None:
            raise NotAnOnnxModelError(
                f"'{path.name}' holds the {form[0]} of a model, but its name does not say so, so it was read as "
                f"binary. Rename it to end in .{form[1]}, or load it with onnx.load(path, format='{form[1]}')."
            ) from None


def summarize(model_or_path: ModelSource) -> ModelCard:
    """A :class:`ModelCard` for a model given as a path, bytes or ``onnx.ModelProto``.

    Weights in external files are listed (file, offset, bytes) but never read. Raises the one-line errors
    of :func:`course_utils.modelio.load_model`: :class:`~course_utils.errors.ModelFileNotFoundError`,
    :class:`~course_utils.errors.NotAnOnnxModelError` (not ONNX, truncated),
    :class:`~course_utils.errors.ExternalDataMissingError`.
    """
    try:
        model = load_model(model_or_path, load_external_data=False)
    except NotAnOnnxModelError:
        _raise_if_text_read_as_binary(model_or_path)
        raise
    source, file_bytes, path = _source_label(model_or_path)
    g = model.graph

    init_names = {t.name for t in g.initializer}
    subgraphs = list(_walk_subgraphs(g.node, ""))
    for f in model.functions:
        subgraphs.extend(_walk_subgraphs(f.node, f"function {_op_name(f.domain, f.name)} > "))
    sub_in_main = [(p, sg) for p, sg in subgraphs if not p.startswith("function ")]

    counts: Counter[str] = Counter(_op_name(n.domain, n.op_type) for n in g.node)
    for _, sg in sub_in_main:
        counts.update(_op_name(n.domain, n.op_type) for n in sg.node)

    initializers = _initializer_infos(g, "main")
    for p, sg in subgraphs:
        initializers.extend(_initializer_infos(sg, p))

    external = []
    for t in _all_tensors(model):
        if t.data_location == TensorProto.EXTERNAL:
            entry = _external_entry(t)
            offset = entry.get("offset", "0")
            location = entry.get("location", "?")
            external.append(ExternalTensor(t.name, location, int(offset) if offset.isdigit() else 0, _tensor_nbytes(t)))
    files = sorted({t.file for t in external})
    external_files = tuple(
        (name, (path.parent / name).stat().st_size if path is not None and (path.parent / name).is_file() else None)
        for name in files
    )

    producer = " ".join(p for p in (model.producer_name, model.producer_version) if p)
    return ModelCard(
        source=source,
        file_bytes=file_bytes,
        ir_version=int(model.ir_version),
        producer=producer,
        domain=model.domain,
        model_version=int(model.model_version),
        doc_string=(model.doc_string.strip().splitlines() or [""])[0][:100],
        graph_name=g.name,
        opsets=tuple(("ai.onnx" if o.domain == "" else o.domain, int(o.version)) for o in model.opset_import),
        inputs=tuple(ValueInfo.from_proto(v) for v in g.input if v.name not in init_names),
        outputs=tuple(ValueInfo.from_proto(v) for v in g.output),
        initializers_as_inputs=sum(1 for v in g.input if v.name in init_names),
        value_info=len(g.value_info),
        nodes=len(g.node),
        subgraph_nodes=sum(len(sg.node) for _, sg in sub_in_main),
        op_counts=tuple(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))),
        initializers=tuple(initializers),
        metadata=tuple((p.key, p.value) for p in model.metadata_props),
        graph_metadata=tuple((p.key, p.value) for p in getattr(g, "metadata_props", ())),
        subgraphs=tuple(SubgraphInfo(p, len(sg.node), len(sg.initializer)) for p, sg in subgraphs),
        functions=tuple(
            FunctionInfo(f.domain, f.name, len(f.node), len(f.input), len(f.output)) for f in model.functions
        ),
        external=tuple(external),
        external_files=external_files,
    )


@dataclass(frozen=True)
class CardChanges:
    """What differs between two model cards, row by row; prints as ``- old`` / ``+ new`` lines."""

    before: str
    after: str
    rows: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...]

    def __bool__(self) -> bool:
        return bool(self.rows)

    def __str__(self) -> str:
        if not self.rows:
            return f"no change in the model card ({self.before} -> {self.after})"
        lines = [f"changes {self.before} -> {self.after}"]
        for label, old, new in self.rows:
            lines.append(f"  {label}")
            lines.extend(f"    - {v}" for v in old)
            lines.extend(f"    + {v}" for v in new)
        return "\n".join(lines)

    def __repr__(self) -> str:
        return str(self)


def compare_cards(before: ModelSource | ModelCard, after: ModelSource | ModelCard) -> CardChanges:
    """The rows of the model card that an edit changed: the quick way to see what an edit did to a model.

    Each argument is a model (path, bytes, ModelProto) or a :class:`ModelCard` you made earlier. The file
    name and size in the title are not compared; lines both cards share within a row are left out.
    """
    old = before if isinstance(before, ModelCard) else summarize(before)
    new = after if isinstance(after, ModelCard) else summarize(after)
    old_rows, new_rows = dict(old._rows()), dict(new._rows())
    rows = []
    for label in dict.fromkeys([*old_rows, *new_rows]):
        a, b = old_rows.get(label, []), new_rows.get(label, [])
        if a != b:
            removed, added = tuple(v for v in a if v not in b), tuple(v for v in b if v not in a)
            # Same lines in another order: show both rows whole rather than nothing.
            rows.append((label, removed, added) if removed or added else (label, tuple(a), tuple(b)))
    return CardChanges(old.source, new.source, tuple(rows))


def op_histogram(model_or_path: ModelSource) -> dict[str, int]:
    """``{op_type: count}`` for the main graph and its subgraphs, most used first (``"Conv": 2`` ...).

    Operators outside the default domain keep their domain: ``"com.microsoft.FusedConv"``.
    """
    return summarize(model_or_path).op_histogram


def parameter_count(model_or_path: ModelSource) -> int:
    """How many values the model's initializers hold (weights, biases, and small constants such as shapes)."""
    return summarize(model_or_path).parameter_count


def initializer_sizes(model_or_path: ModelSource, *, largest_first: bool = True) -> list[InitializerInfo]:
    """One :class:`InitializerInfo` per initializer (name, shape, values, bytes), largest first by default."""
    infos = list(summarize(model_or_path).initializers)
    return sorted(infos, key=lambda i: -i.nbytes) if largest_first else infos


# --------------------------------------------------------------------------------------- protobuf on the wire
_WIRE_TYPES = {0: "varint", 1: "64-bit", 2: "length-delimited", 5: "32-bit"}


@dataclass(frozen=True)
class ProtoField:
    """One top-level field of a serialized ``ModelProto`` as it sits in the file.

    ``key`` is the varint before the value: ``field_number << 3 | wire_type``. For a length-delimited field
    (strings, nested messages), ``size`` is the byte count that follows the key and the length.
    """

    offset: int
    key: int
    field_number: int
    wire_type: int
    name: str
    size: int
    value: str

    @property
    def wire(self) -> str:
        """The wire type's name: ``varint``, ``64-bit``, ``length-delimited``, ``32-bit``."""
        return _WIRE_TYPES.get(self.wire_type, f"wire type {self.wire_type}")

    def __str__(self) -> str:
        return f"@{self.offset:<6} field {self.field_number:>2} {self.name:<16} {self.wire:<16} {self.value}"


# How each text form of a model begins (after optional comments): protobuf's text format with a field name
# (`ir_version: 9`, `graph {`), onnx.printer's syntax with its `<` header, or protobuf's JSON mapping.
_TEXT_FORMS = (
    (re.compile(r"(#[^\n]*\n\s*)*[A-Za-z_]\w*\s*[:{]"), "protobuf text format", "textproto"),
    (re.compile(r"<"), "onnx.printer text syntax", "onnxtxt"),
    (re.compile(r"\{\s*(\"|})"), "protobuf JSON format", "json"),
)


def _text_start(data: bytes) -> str | None:
    """The first characters of ``data`` if it starts like text (printable UTF-8), else None.

    Binary protobuf cannot pass: the keys of ONNX's first fields (``0x08`` for ``ir_version``, ``0x0a``, ``0x12``
    ...) and most length bytes are control characters.
    """
    head = data[:512]
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as e:
        if e.start < len(head) - 3:  # not just a multi-byte character cut at the end of the sample
            return None
        text = head[: e.start].decode("utf-8")
    if not text.strip() or not all(c.isprintable() or c in "\t\n\r" for c in text):
        return None
    return text.lstrip()


def _text_form(data: bytes) -> tuple[str, str] | None:
    """(name, onnx format name) of the text form ``data`` is in, e.g. ``("protobuf text format", "textproto")``;
    None for binary protobuf, or text of some other kind."""
    start = _text_start(data)
    if start is None:
        return None
    return next(((name, fmt) for pattern, name, fmt in _TEXT_FORMS if pattern.match(start)), None)


def _not_binary_error(data: bytes, what: str) -> NotAnOnnxModelError | None:
    """The one-line error for text given where binary protobuf is expected, or None if ``data`` is not text."""
    form = _text_form(data)
    if form is not None:
        return NotAnOnnxModelError(
            f"{what[:1].upper()}{what[1:]} is in the {form[0]}, not binary protobuf: it has no wire-format fields "
            f"to list. To see the binary encoding of the same model, pass onnx.load(path, format='{form[1]}')."
        )
    start = _text_start(data)
    if start is not None:
        return NotAnOnnxModelError(
            f"Not an ONNX model: {what} is plain text (it starts {_short(start, 30)!r}), not binary protobuf. "
            "Check you opened the .onnx file."
        )
    return None


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(data):
            raise NotAnOnnxModelError(
                f"Not an ONNX model: the bytes end inside a number at byte {pos} (truncated file?)."
            )
        byte = data[pos]
        result |= (byte & 0x7F) << shift
        pos += 1
        if not byte & 0x80:
            return result, pos
        shift += 7


def protobuf_fields(source: ModelSource) -> list[ProtoField]:
    """The top-level fields of a model's protobuf encoding, in file order (repeated fields appear once each).

    ``source`` is a path (its bytes are read as they are), bytes, or a ModelProto (serialized first).
    Raises :class:`~course_utils.errors.ModelFileNotFoundError` for a missing file and
    :class:`~course_utils.errors.NotAnOnnxModelError` where the bytes do not decode, or are a text form of a
    model (``.textproto``, ``.onnxtxt``, ``.json``) rather than binary protobuf.
    """
    what = "the data"
    if isinstance(source, ModelProto):
        data = source.SerializeToString()
    elif isinstance(source, bytes | bytearray):
        data = bytes(source)
    else:
        path = Path(source)
        if path.is_dir():
            raise NotAnOnnxModelError(f"'{path}' is a folder, not a model file. Pass the .onnx file inside it.")
        if not path.is_file():
            raise ModelFileNotFoundError(f"No model file at '{path}'. Check the path, or export the model first.")
        data = path.read_bytes()
        what = f"'{path.name}'"
    text_error = _not_binary_error(data, what)
    if text_error is not None:
        raise text_error
    by_number = ModelProto.DESCRIPTOR.fields_by_number
    fields: list[ProtoField] = []
    pos = 0
    while pos < len(data):
        start = pos
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        desc = by_number.get(number)
        name = desc.name if desc is not None else "(unknown)"
        if wire == 0:
            value, pos = _varint(data, pos)
            size, text = 0, str(value)
        elif wire in (1, 5):
            size = 8 if wire == 1 else 4
            text = data[pos : pos + size].hex(" ")
            pos += size
        elif wire == 2:
            size, pos = _varint(data, pos)
            payload = data[pos : pos + size]
            if len(payload) < size:
                raise NotAnOnnxModelError(
                    f"Not an ONNX model: field {number} says {size} bytes follow at byte {pos}, but the data ends "
                    f"after {len(payload)} (truncated file?). Re-export or re-download it."
                )
            pos += size
            if desc is not None and desc.type == desc.TYPE_STRING:
                s = payload.decode("utf-8", errors="replace")
                text = repr(s if len(s) <= 40 else s[:37] + "...")
            else:
                text = f"message, {size:,} bytes"
        else:
            raise NotAnOnnxModelError(
                f"Not an ONNX model: wire type {wire} at byte {start} is not used by ONNX files. Check the file."
            )
        fields.append(ProtoField(start, key, number, wire, name, size, text))
    return fields


# -------------------------------------------------------------------------------------------------- the CLI
def main(argv: Sequence[str] | None = None) -> int:
    """``python -m course_utils.inspect FILE``: print the model card; exit 2 with one line on stderr on error."""
    parser = argparse.ArgumentParser(
        prog="python -m course_utils.inspect", description="Print what an ONNX model contains: a model card."
    )
    parser.add_argument("file", help="path to a .onnx file")
    parser.add_argument("--json", action="store_true", help="print the card as JSON instead of text")
    args = parser.parse_args(argv)
    try:
        card = summarize(args.file)
    except (CourseError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    text = json.dumps(card.to_dict(), indent=2) if args.json else str(card)
    try:
        sys.stdout.write(text + "\n")
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader stopped early (`... | head`): nothing is wrong, so no traceback on the way out.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


if __name__ == "__main__":
    sys.exit(main())
