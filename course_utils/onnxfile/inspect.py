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
import json
import math
import os
import sys
import textwrap
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import onnx
from onnx import GraphProto, SparseTensorProto, TensorProto

from course_utils.errors import CourseError
from course_utils.onnxfile.graph import (
    domain_label,
    dtype_name,
    graph_inputs,
    op_name,
    shape_text,
    subgraphs,
    tensors,
    type_text,
    value_type,
)
from course_utils.onnxfile.modelio import ModelSource, load_model
from course_utils.onnxfile.protowire import ProtoField, protobuf_fields
from course_utils.onnxfile.render import counts_text, format_bytes, format_flops, html_table, plural, text_table
from course_utils.paths import relative_to_repo

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
def _short(text: str, width: int = 60) -> str:
    """One line of at most ``width`` characters: newlines and runs of spaces become one space."""
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 3] + "..."


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
    """A graph input or output: name, type text (``float32[batch, 1, 8, 8]``), element dtype and shape.

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
        return cls(value.name, type_text(value.type), *value_type(value))

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
        """``float32[64, 512]``."""
        return f"{self.dtype}{shape_text(self.shape)}"

    def text(self) -> str:
        """``name  float32[64, 512]  32,768 values  128.0 KiB``."""
        where = "" if self.graph == "main" else f"  in {self.graph}"
        return f"{self.name}  {self.type}  {plural(self.elements, 'value')}  {format_bytes(self.nbytes)}{where}"


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
    producer_name: str = ""  # without its version: what the brief summary names, so it survives an upgrade
    #: FLOPs of one run at batch 1 in Conv/ConvTranspose/Gemm/MatMul (course_utils.onnxfile.flops); None if not countable
    flops: int | None = None
    flops_unknown: int = 0  # such nodes whose shapes could not be inferred (not in ``flops``)

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
        graph = f'"{self.graph_name}": {plural(self.nodes, "node")}'
        if self.subgraph_nodes:
            graph += f" (+{self.subgraph_nodes} in subgraphs)"
        graph += f", {plural(len(self.initializers), 'initializer')}, {plural(self.value_info, 'value_info entry')}"
        inputs = [v.text() for v in self.inputs] or ["none"]
        if self.initializers_as_inputs:
            inputs.append(f"(+{self.initializers_as_inputs} initializers also listed as inputs, IR < 4 style)")
        ops = ", ".join(f"{op} {n}" for op, n in self.op_counts) or "none"
        params = (
            f"{plural(self.parameter_count, 'value')} in {plural(len(self.initializers), 'initializer')}, "
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
        if self.flops or self.flops_unknown:
            compute = (
                f"{format_flops(self.flops or 0)} per run at batch 1 in Conv/Gemm/MatMul (multiply + add = 2 FLOPs)"
            )
            if self.flops_unknown:
                # e.g. after ONNX Runtime's fusions: onnx's shape inference knows no com.microsoft operator
                compute += (
                    f"; {plural(self.flops_unknown, 'node')} not counted: their shapes cannot be inferred"
                    " (onnx's shape inference stops at operators it does not know)"
                )
            rows.append(("compute", [compute]))
        meta = [f"{k} = {_short(v)}" for k, v in self.metadata]
        rows.append(("metadata", capped(meta) or ["none"]))
        if self.graph_metadata:  # graph.metadata_props (IR 10+): exporters put notes about the graph here
            rows.append(("graph metadata", capped([f"{k} = {_short(v)}" for k, v in self.graph_metadata])))
        subs = [f"{s.path}: {plural(s.nodes, 'node')}" for s in self.subgraphs]
        rows.append(("subgraphs", capped(subs) if subs else ["none"]))
        funcs = [
            f"{op_name(f.domain, f.name)}: {plural(f.nodes, 'node')}, {f.inputs} in, {f.outputs} out"
            for f in self.functions
        ]
        rows.append(("functions", capped(funcs) if funcs else ["none"]))
        if self.external:
            files = [
                f"{name}: {plural(sum(1 for t in self.external if t.file == name), 'tensor')}"
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
        table = text_table(self._rows(), sep=" ", min_widths=(_LABEL_WIDTH,))
        return "\n".join([self._title(), *(f"  {line}" for line in table)])

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        return html_table(self._rows(), caption=self._title(), row_labels=True)

    def brief(self, limit: int = 10) -> str:
        """The card in five lines: graph and format, inputs, outputs, operators, weights.

        This is the summary above the picture of :mod:`course_utils.views.graph_view` and Netron's view (its
        ``text/plain``); at most ``limit`` inputs and outputs are named, the rest counted.
        """

        def values(infos: tuple[ValueInfo, ...]) -> str:
            text = "; ".join(f"{v.name} {v.type}" for v in infos[:limit]) or "none"
            return text + (f"; … {len(infos) - limit} more" if len(infos) > limit else "")

        nested = f" (+{self.subgraph_nodes} in subgraphs)" if self.subgraph_nodes else ""
        opsets = ", ".join(f"{d} {v}" for d, v in sorted(self.opsets)) or "none"
        producer = f" · producer {self.producer_name}" if self.producer_name else ""
        return "\n".join(
            [
                f"ONNX model · graph '{self.graph_name or '(unnamed)'}' · {plural(self.nodes, 'node')}{nested} · "
                f"IR {self.ir_version} · opset {opsets}{producer}",
                "inputs:  " + values(self.inputs),
                "outputs: " + values(self.outputs),
                "ops:     " + (counts_text(self.op_counts) or "none"),
                f"weights: {plural(self.parameter_count, 'parameter')} in {plural(len(self.initializers), 'initializer')}",
            ]
        )


def _source_label(source: ModelSource) -> tuple[str, int | None, Path | None]:
    if isinstance(source, str | os.PathLike):
        path = Path(source)
        return relative_to_repo(path), path.stat().st_size, path
    if isinstance(source, bytes | bytearray):
        return "<bytes>", len(source), None
    return "<ModelProto>", None, None


def summarize(model_or_path: ModelSource) -> ModelCard:
    """A :class:`ModelCard` for a model given as a path, bytes or ``onnx.ModelProto``.

    Weights in external files are listed (file, offset, bytes) but never read. Raises the one-line errors
    of :func:`course_utils.onnxfile.modelio.load_model`: :class:`~course_utils.errors.ModelFileNotFoundError`,
    :class:`~course_utils.errors.NotAnOnnxModelError` (not ONNX, truncated),
    :class:`~course_utils.errors.ExternalDataMissingError`.
    """
    model = load_model(model_or_path, load_external_data=False)
    source, file_bytes, path = _source_label(model_or_path)
    g = model.graph

    inputs = graph_inputs(g)
    nested = list(subgraphs(g.node))
    sub_in_main = list(nested)
    for f in model.functions:
        nested.extend(subgraphs(f.node, f"function {op_name(f.domain, f.name)} > "))

    counts: Counter[str] = Counter(op_name(n.domain, n.op_type) for n in g.node)
    for _, sg in sub_in_main:
        counts.update(op_name(n.domain, n.op_type) for n in sg.node)

    initializers = _initializer_infos(g, "main")
    for p, sg in nested:
        initializers.extend(_initializer_infos(sg, p))

    external = []
    for t in tensors(model):
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
    flops, flops_unknown = _compute(model)
    return ModelCard(
        source=source,
        file_bytes=file_bytes,
        ir_version=int(model.ir_version),
        producer=producer,
        producer_name=model.producer_name,
        domain=model.domain,
        model_version=int(model.model_version),
        doc_string=(model.doc_string.strip().splitlines() or [""])[0][:100],
        graph_name=g.name,
        opsets=tuple((domain_label(o.domain), int(o.version)) for o in model.opset_import),
        inputs=tuple(ValueInfo.from_proto(v) for v in inputs),
        outputs=tuple(ValueInfo.from_proto(v) for v in g.output),
        initializers_as_inputs=len(g.input) - len(inputs),
        value_info=len(g.value_info),
        nodes=len(g.node),
        subgraph_nodes=sum(len(sg.node) for _, sg in sub_in_main),
        op_counts=tuple(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))),
        initializers=tuple(initializers),
        metadata=tuple((p.key, p.value) for p in model.metadata_props),
        graph_metadata=tuple((p.key, p.value) for p in getattr(g, "metadata_props", ())),
        subgraphs=tuple(SubgraphInfo(p, len(sg.node), len(sg.initializer)) for p, sg in nested),
        functions=tuple(
            FunctionInfo(f.domain, f.name, len(f.node), len(f.input), len(f.output)) for f in model.functions
        ),
        external=tuple(external),
        external_files=external_files,
        flops=flops,
        flops_unknown=flops_unknown,
    )


def _compute(model: onnx.ModelProto) -> tuple[int | None, int]:
    """(FLOPs at batch 1, nodes not counted for unknown shapes); (None, 0) where the graph cannot be counted."""
    from course_utils.onnxfile.flops import count_flops

    try:
        report = count_flops(model, batch=1)
    except Exception:  # a card must never fail because FLOPs cannot be counted (odd or broken graphs)
        return None, 0
    return report.total, len(report.unknown)


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
    from course_utils.onnxfile.render import print_to_pipe

    print_to_pipe(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
