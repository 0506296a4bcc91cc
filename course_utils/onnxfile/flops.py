"""Counting a model's arithmetic from its ONNX graph: how many floating-point operations one run needs.

Convention (the usual one for CNNs): **FLOPs = 2 x multiply-accumulates** of the matrix-like operators
``Conv``, ``ConvTranspose``, ``Gemm``, ``MatMul`` (ORT's fused ``FusedConv``/``FusedGemm``/``FusedMatMul`` too, when
shape inference knows their shapes: count the model you exported, not ORT's optimized copy). Bias additions, activations, pooling, BatchNormalization and
element-wise ops are left out: on a CNN they are well under 1% of the work. ResNet-18 at 224x224 is
1.814 G multiply-accumulates = 3.63 GFLOP per image.

    report = count_flops("resnet18.onnx", batch=1)
    report.total            # 3_627_...
    print(report)           # per op type, then the total

Shapes come from ONNX shape inference after the symbolic (batch) dimension is set to ``batch``.
"""

from __future__ import annotations

import math
import os
from collections import Counter
from dataclasses import dataclass
from typing import Any

import onnx

from course_utils.onnxfile.render import html_table, text_table

__all__ = ["FlopReport", "NodeFlops", "conv_flops", "count_flops", "gemm_flops", "matmul_flops"]

COUNTED = ("Conv", "ConvTranspose", "Gemm", "MatMul", "FusedConv", "FusedGemm", "FusedMatMul")


def conv_flops(output_shape: tuple[int, ...], in_channels: int, kernel_shape: tuple[int, ...], group: int = 1) -> int:
    """FLOPs of a convolution: ``2 * N * C_out * prod(output spatial) * (C_in / group) * prod(kernel)``.

    Strides are already in ``output_shape`` (stride 2 halves each spatial size, so a quarter of the work in 2-D);
    ``group`` divides the input channels each output channel sees (depthwise: ``group == C_in``, one each).
    """
    if in_channels % group:
        raise ValueError(f"in_channels ({in_channels}) must be a multiple of group ({group})")
    n, c_out, *spatial = output_shape
    return 2 * n * c_out * math.prod(spatial) * (in_channels // group) * math.prod(kernel_shape)


def gemm_flops(m: int, k: int, n: int) -> int:
    """FLOPs of ``(m x k) @ (k x n)``: ``2 * m * k * n`` (the bias ``C`` is not counted)."""
    return 2 * m * k * n


def matmul_flops(a_shape: tuple[int, ...], b_shape: tuple[int, ...]) -> int:
    """FLOPs of numpy-style ``MatMul`` (1-D operands promoted, leading dimensions broadcast)."""
    a = (1, *a_shape) if len(a_shape) == 1 else a_shape
    b = (*b_shape, 1) if len(b_shape) == 1 else b_shape
    if a[-1] != b[-2]:
        raise ValueError(f"MatMul shapes do not match: {a_shape} @ {b_shape}")
    batch_a, batch_b = a[:-2], b[:-2]
    width = max(len(batch_a), len(batch_b))
    batch_a = (1,) * (width - len(batch_a)) + tuple(batch_a)
    batch_b = (1,) * (width - len(batch_b)) + tuple(batch_b)
    batch = math.prod(max(x, y) for x, y in zip(batch_a, batch_b, strict=True))
    return batch * gemm_flops(a[-2], a[-1], b[-1])


@dataclass(frozen=True)
class NodeFlops:
    """FLOPs of one node (``name``, ``op_type``), and the shapes they were computed from."""

    name: str
    op_type: str
    flops: int
    detail: str


@dataclass(frozen=True)
class FlopReport:
    """FLOPs per counted node and in total for one run at ``batch``; ``uncounted`` lists the node types that
    were left out (their work is not in the total), ``unknown`` nodes whose shapes could not be inferred."""

    batch: int
    nodes: tuple[NodeFlops, ...]
    uncounted: tuple[str, ...]
    unknown: tuple[str, ...] = ()

    @property
    def total(self) -> int:
        """FLOPs of all counted nodes."""
        return sum(n.flops for n in self.nodes)

    @property
    def gflops(self) -> float:
        """:attr:`total` in billions."""
        return self.total / 1e9

    def by_op_type(self) -> dict[str, int]:
        """FLOPs per operator type, largest first."""
        counts: Counter[str] = Counter()
        for node in self.nodes:
            counts[node.op_type] += node.flops
        return dict(counts.most_common())

    def _rows(self) -> list[tuple[str, str, str]]:
        rows = [("op type", "GFLOP", "share")]
        total = self.total or 1
        for op, flops in self.by_op_type().items():
            rows.append((op, f"{flops / 1e9:.4f}", f"{100 * flops / total:.1f}%"))
        rows.append(("total", f"{self.total / 1e9:.4f}", "100.0%"))
        return rows

    def __str__(self) -> str:
        header, *rows = self._rows()
        lines = [f"FLOPs per run at batch {self.batch} (2 x multiply-accumulates of Conv/Gemm/MatMul):"]
        lines += ["  " + line for line in text_table(rows, header)]
        if self.unknown:
            lines.append(f"  shapes unknown (not counted): {', '.join(self.unknown)}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        header, *rows = self._rows()
        return html_table(rows, header, caption=f"FLOPs per run at batch {self.batch}")


def _with_batch(model: onnx.ModelProto, batch: int) -> onnx.ModelProto:
    """A copy whose graph inputs have every symbolic dimension fixed (the first to ``batch``, others to 1)."""
    fixed = onnx.ModelProto()
    fixed.CopyFrom(model)
    initializers = {t.name for t in fixed.graph.initializer}
    for value in fixed.graph.input:
        if value.name in initializers:
            continue
        for i, dim in enumerate(value.type.tensor_type.shape.dim):
            if not dim.HasField("dim_value"):
                dim.dim_value = batch if i == 0 else 1
    del fixed.graph.value_info[:]  # recomputed below with the concrete batch
    for output in fixed.graph.output:
        output.type.tensor_type.ClearField("shape")
    return fixed


def _shapes(model: onnx.ModelProto) -> dict[str, tuple[int, ...]]:
    graph = model.graph
    shapes: dict[str, tuple[int, ...]] = {t.name: tuple(t.dims) for t in graph.initializer}
    for value in [*graph.input, *graph.value_info, *graph.output]:
        tensor = value.type.tensor_type
        if tensor.HasField("shape"):
            dims = tensor.shape.dim
            if all(d.HasField("dim_value") for d in dims):
                shapes[value.name] = tuple(d.dim_value for d in dims)
    return shapes


def _attr(node: onnx.NodeProto, name: str, default: Any) -> Any:
    for attribute in node.attribute:
        if attribute.name == name:
            return onnx.helper.get_attribute_value(attribute)
    return default


def _node_flops(node: onnx.NodeProto, shapes: dict[str, tuple[int, ...]]) -> tuple[int, str] | None:
    op = node.op_type
    ins = [shapes.get(name) for name in node.input]
    out = shapes.get(node.output[0]) if node.output else None
    if op in ("Conv", "FusedConv"):
        if out is None or ins[1] is None:
            return None
        weight = ins[1]  # (C_out, C_in / group, k...)
        group = int(_attr(node, "group", 1))
        flops = conv_flops(out, weight[1] * group, tuple(weight[2:]), group)
        return flops, f"out {out}, weight {weight}, group {group}"
    if op == "ConvTranspose":
        if ins[0] is None or ins[1] is None:
            return None
        x, weight = ins[0], ins[1]  # weight (C_in, C_out / group, k...): each input pixel scatters a kernel
        group = int(_attr(node, "group", 1))
        flops = 2 * x[0] * math.prod(x[2:]) * x[1] * weight[1] * math.prod(weight[2:])
        return flops, f"in {x}, weight {weight}, group {group}"
    if op in ("Gemm", "FusedGemm"):
        if ins[0] is None or ins[1] is None:
            return None
        a, b = ins[0], ins[1]
        m, k = (a[1], a[0]) if _attr(node, "transA", 0) else (a[0], a[1])
        n = b[0] if _attr(node, "transB", 0) else b[1]
        return gemm_flops(m, k, n), f"({m}x{k}) @ ({k}x{n})"
    if op in ("MatMul", "FusedMatMul"):
        if ins[0] is None or ins[1] is None:
            return None
        return matmul_flops(ins[0], ins[1]), f"{ins[0]} @ {ins[1]}"
    return None


def count_flops(model: onnx.ModelProto | str | os.PathLike[str] | bytes, batch: int = 1) -> FlopReport:
    """FLOPs of one run of ``model`` at ``batch`` (a path, bytes or ``onnx.ModelProto``), per node and in total.

    Raises the loading errors of :func:`course_utils.onnxfile.modelio.load_model` for a missing or broken file.
    """
    from course_utils.onnxfile.modelio import load_model

    if batch < 1:
        raise ValueError(f"batch must be at least 1, got {batch}")
    loaded = load_model(model, load_external_data=False) if not isinstance(model, onnx.ModelProto) else model
    fixed = _with_batch(loaded, batch)
    try:
        inferred = onnx.shape_inference.infer_shapes(fixed, strict_mode=False)
    except Exception:  # contrib ops unknown to onnx can stop inference; count what has shapes
        inferred = fixed
    shapes = _shapes(inferred)
    nodes: list[NodeFlops] = []
    uncounted: set[str] = set()
    unknown: list[str] = []
    for node in inferred.graph.node:
        if node.op_type not in COUNTED:
            uncounted.add(node.op_type)
            continue
        result = _node_flops(node, shapes)
        if result is None:
            unknown.append(node.name or node.op_type)
            continue
        nodes.append(NodeFlops(node.name, node.op_type, result[0], result[1]))
    return FlopReport(batch, tuple(nodes), tuple(sorted(uncounted)), tuple(unknown))
