"""A static picture of an ONNX graph: SVG drawn in Python, no server, no JavaScript.

This is what :func:`course_utils.views.netron.netron_view` shows when Netron cannot run: in CI (``COURSE_NETRON=static``),
on GitHub, nbviewer and exported HTML pages, and in the notebook until the live view has loaded. It is also useful
on its own::

    from course_utils.views.graph_view import render_svg
    from course_utils.views.graph_page import model_summary, static_html

    print(model_summary("artifacts/02/resnet18.onnx"))  # a few lines: inputs, outputs, op counts, parameters
    svg = render_svg(model)  # an <svg> string; op types as node labels, edges, graph inputs/outputs
    html = static_html(model)  # the summary and the SVG in one self-contained <div> (graph_page)

Everything here is deterministic: the same model gives byte-identical text, so nbval can compare stored outputs.

How the picture is drawn: nodes are sorted topologically and placed in layers (each node one row below the
lowest node that feeds it), like Netron's top-down view. Rows wrap into side-by-side columns so a deep network
(ResNet-18 has ~50 layers) fits a notebook cell instead of a 2,000-pixel strip. Edges run orthogonally through
the gaps between rows and columns, so they never cross a node. Graphs with more than ``max_nodes`` nodes
(default 60) are summarised: the first and last nodes are drawn and the middle collapses into one box that
counts what it hides. A row wider than a notebook cell (many parallel nodes, inputs or outputs) keeps its first
boxes and collapses the rest into one box the same way ("37 more nodes · Relu ×37"), so the picture never grows
sideways. ``Constant`` nodes are folded into their consumers, like Netron does with initializers.
"""

from __future__ import annotations

import dataclasses
import heapq
import html
from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass, field

import onnx

from course_utils.onnxfile.graph import graph_inputs, op_name, type_text
from course_utils.onnxfile.modelio import ModelSource, load_model
from course_utils.onnxfile.render import counts_text, plural

__all__ = ["DEFAULT_MAX_NODES", "FONT", "SUMMARY_VALUES", "Picture", "picture", "render_svg"]

DEFAULT_MAX_NODES = 60
"""Graphs with more nodes than this are summarised (first/last nodes drawn, the middle collapsed)."""

# Drawing constants (pixels). Font metrics are estimated, not measured, so the output never depends on fonts.
FONT = "Helvetica, Arial, sans-serif"
_TITLE_CHAR_W = 7.2  # average advance of a bold 11px sans-serif character, slightly generous
_DETAIL_CHAR_W = 5.6  # same for the 9.5px second line (mostly digits and ×)
_NODE_H = 30
_ROW_GAP = 18
_SLOT_GAP = 14
_MARGIN = 12
_LANE_W = 6
_MIN_NODE_W = 84
_MAX_NODE_W = 190
_MIN_ROWS_PER_COLUMN = 6
_TARGET_WIDTH = 1100  # a notebook cell's width: wider pictures wrap into fewer, taller columns
_LANE_RESERVE = 6  # gutter lanes a row's width budget keeps free for edges that pass beside it
_SUMMARY_HEAD = 24  # nodes drawn before the collapsed middle of a summarised graph
_SUMMARY_TAIL = 12  # ... and after it
SUMMARY_VALUES = 10  # graph inputs/outputs listed by name in the summary; the rest are counted

# Netron-like colours by operator family: (fill, text).
_CATEGORIES: dict[str, tuple[str, str]] = {
    "layer": ("#335577", "#ffffff"),
    "activation": ("#70362f", "#ffffff"),
    "pool": ("#335533", "#ffffff"),
    "normalization": ("#3a5a5a", "#ffffff"),
    "shape": ("#6b5a33", "#ffffff"),
    "softmax": ("#4a3a6a", "#ffffff"),
    "other": ("#eeeeee", "#222222"),
    "io": ("#f6f6f6", "#222222"),
    "elided": ("#fff8e0", "#5a4a00"),
}
_HIGHLIGHT = "#ff8c00"  # the outline of highlighted nodes: orange, visible on every fill above
_OP_FAMILY: dict[str, str] = {}
for _family, _ops in {
    "layer": "Conv ConvTranspose ConvInteger QLinearConv Gemm MatMul MatMulInteger QLinearMatMul Einsum LSTM GRU RNN Attention",
    "activation": "Relu LeakyRelu PRelu Sigmoid HardSigmoid Tanh Elu Selu Celu Gelu FastGelu Softplus Softsign HardSwish Mish Clip ThresholdedRelu",
    "pool": "MaxPool AveragePool GlobalAveragePool GlobalMaxPool LpPool GlobalLpPool MaxRoiPool RoiAlign",
    "normalization": "BatchNormalization LayerNormalization InstanceNormalization GroupNormalization RMSNormalization LRN Dropout SimplifiedLayerNormalization",
    "shape": "Reshape Flatten Transpose Squeeze Unsqueeze Concat Split Slice Gather GatherElements Shape Expand Pad Tile Identity Cast",
    "softmax": "Softmax LogSoftmax Hardmax",
}.items():
    for _op in _ops.split():
        _OP_FAMILY[_op] = _family

# --------------------------------------------------------------------------------------------- model facts


def _node_op(node: onnx.NodeProto) -> str:
    return op_name(node.domain, node.op_type)


# --------------------------------------------------------------------------------------------- display graph


@dataclass
class _Item:
    """One box in the picture: a graph input/output, a node, or the collapsed middle of a big graph."""

    kind: str  # "input" | "output" | "node" | "elided"
    title: str  # first line (op type, or value name)
    detail: str  # second line (initializer shapes, value type, or what was collapsed); may be ""
    tooltip: str
    family: str
    preds: list[int] = field(default_factory=list)
    hidden_ops: Counter[str] = field(default_factory=Counter)  # for "elided": op types of the nodes it stands for
    hidden_values: Counter[str] = field(default_factory=Counter)  # ... and of graph inputs/outputs ("output": 3)
    highlighted: bool = False
    layer: int = 0
    slot: int = 0
    order: float = 0.0
    x: float = 0.0
    y: float = 0.0


def _topological_order(nodes: list[onnx.NodeProto], known: set[str]) -> list[int]:
    """Kahn's algorithm, ties broken by file order, so the result is stable; nodes in a cycle go last."""
    producer: dict[str, int] = {}
    for index, node in enumerate(nodes):
        for out in node.output:
            if out:
                producer.setdefault(out, index)
    deps: list[set[int]] = []
    for node in nodes:
        deps.append({producer[i] for i in node.input if i and i in producer and i not in known})
    users: dict[int, list[int]] = {i: [] for i in range(len(nodes))}
    for index, dep in enumerate(deps):
        for d in dep:
            if d != index:
                users[d].append(index)
    remaining = [len(dep - {index}) for index, dep in enumerate(deps)]
    ready = [i for i, r in enumerate(remaining) if r == 0]
    heapq.heapify(ready)
    order: list[int] = []
    while ready:
        index = heapq.heappop(ready)
        order.append(index)
        for user in users[index]:
            remaining[user] -= 1
            if remaining[user] == 0:
                heapq.heappush(ready, user)
    seen = set(order)
    order.extend(i for i in range(len(nodes)) if i not in seen)
    return order


def _shape_text(dims: list[int]) -> str:
    return "×".join(str(d) for d in dims) if dims else "scalar"


def _build_items(graph: onnx.GraphProto, max_nodes: int, highlight: Collection[str] = ()) -> tuple[list[_Item], int]:
    """Items and edges to draw; returns (items, number of hidden nodes). A node whose name or op type is in
    ``highlight`` is marked."""
    constants: dict[str, list[int]] = {init.name: list(init.dims) for init in graph.initializer}
    all_nodes = list(graph.node)
    # Fold Constant nodes, and Identity nodes that merely rename a weight (the TorchScript exporter emits many),
    # into their consumers, like initializers: they are data, not computation, and Netron hides them too.
    nodes: list[onnx.NodeProto] = []
    for node in all_nodes:
        standard = node.domain in ("", "ai.onnx") and len(node.output) == 1
        if standard and node.op_type == "Constant" and not node.input:
            dims: list[int] = []
            for attr in node.attribute:
                if attr.name == "value" and attr.HasField("t"):
                    dims = list(attr.t.dims)
            constants[node.output[0]] = dims
        elif standard and node.op_type == "Identity" and len(node.input) == 1 and node.input[0] in constants:
            constants[node.output[0]] = constants[node.input[0]]
        else:
            nodes.append(node)

    inputs = graph_inputs(graph)
    order = _topological_order(nodes, set(constants))
    nodes = [nodes[i] for i in order]

    hidden: set[int] = set()
    if len(nodes) > max_nodes:
        # Draw the start and the end of the network (where inputs are prepared and outputs produced) and
        # collapse the repetitive middle; more boxes would no longer fit a notebook cell readably.
        head = max(1, min(_SUMMARY_HEAD, (max_nodes * 2) // 3))
        tail = max(1, min(_SUMMARY_TAIL, max_nodes - head))
        hidden = set(range(head, len(nodes) - tail))

    items: list[_Item] = []
    value_source: dict[str, int] = {}
    for value in inputs:
        value_source[value.name] = len(items)
        items.append(
            _Item("input", value.name, type_text(value.type), f"input {value.name}: {type_text(value.type)}", "io")
        )

    elided_index: int | None = None
    node_item: dict[int, int] = {}
    for index, node in enumerate(nodes):
        if index in hidden:
            if elided_index is None:
                elided_index = len(items)
                ops = Counter(_node_op(nodes[i]) for i in hidden)
                items.append(_elided_item(ops, Counter()))
            node_item[index] = elided_index
            continue
        weights = [_shape_text(constants[i]) for i in node.input if i in constants]
        tooltip = f"{_node_op(node)} {node.name}".strip()
        node_item[index] = len(items)
        item = _Item("node", _node_op(node), ", ".join(weights), tooltip, _OP_FAMILY.get(node.op_type, "other"))
        item.highlighted = bool(highlight) and (node.name in highlight or node.op_type in highlight)
        items.append(item)

    for index, node in enumerate(nodes):
        target = node_item[index]
        for out in node.output:
            if out:
                value_source.setdefault(out, target)
    for index, node in enumerate(nodes):
        target = node_item[index]
        for name in node.input:
            source = value_source.get(name)
            if source is not None and source != target and source not in items[target].preds:
                items[target].preds.append(source)
    for value in graph.output:
        source = value_source.get(value.name)
        item = _Item("output", value.name, type_text(value.type), f"output {value.name}: {type_text(value.type)}", "io")
        if source is not None:
            item.preds.append(source)
        items.append(item)
    return items, len(hidden)


def _elided_item(ops: Counter[str], values: Counter[str]) -> _Item:
    """One box standing for hidden nodes (``ops``: op type -> count) and graph inputs/outputs (``values``)."""
    n_nodes, n_values = sum(ops.values()), sum(values.values())
    parts = [plural(n_nodes, "more node")] if n_nodes else []
    parts += [plural(count, f"more {kind}") for kind, count in sorted(values.items())]
    hist = sorted(ops.items(), key=lambda item: (-item[1], item[0]))
    what = ", ".join(parts)
    if n_values:
        tooltip = f"not drawn: {what}" + (f" ({counts_text(hist, limit=40)})" if hist else "")
    else:
        tooltip = f"{n_nodes} nodes not drawn: {counts_text(hist, limit=40)}"
    return _Item("elided", what, counts_text(hist, limit=3), tooltip, "elided", hidden_ops=ops, hidden_values=values)


def _assign_layers(items: list[_Item]) -> None:
    """Longest-path layering: items are in topological order (inputs, nodes, outputs)."""
    for item in items:
        item.layer = 1 + max((items[p].layer for p in item.preds), default=-1)


def _members_by_layer(items: list[_Item]) -> dict[int, list[int]]:
    layers: dict[int, list[int]] = {}
    for index, item in enumerate(items):
        layers.setdefault(item.layer, []).append(index)
    return layers


def _merge_wide_layers(items: list[_Item], cap: int) -> list[_Item]:
    """Copies of ``items`` where each layer with more than ``cap`` boxes keeps its first ``cap - 1`` (file order)
    and folds the rest into one elided box; edges to and from folded boxes go to that box. Layers are kept:
    the folded box has the same layer as its members, so producers stay above it and consumers below."""
    representative: dict[int, int] = {}
    for members in _members_by_layer(items).values():
        if len(members) > cap:
            for index in members[cap - 1 :]:
                representative[index] = members[cap - 1]
    if not representative:
        return items
    groups: dict[int, list[int]] = {}
    for index, rep in sorted(representative.items()):
        groups.setdefault(rep, []).append(index)
    new_index: dict[int, int] = {}
    kept: list[int] = []
    for index in range(len(items)):
        rep = representative.get(index, index)
        if rep == index:
            new_index[index] = len(kept)
            kept.append(index)
        else:
            new_index[index] = new_index[rep]
    merged: list[_Item] = []
    for index in kept:
        group = groups.get(index)
        if not group:
            source = items[index]
            item = dataclasses.replace(source, preds=[])
            old_preds = source.preds
        else:
            ops: Counter[str] = Counter()
            values: Counter[str] = Counter()
            old_preds = []
            for i in group:
                member = items[i]
                if member.kind == "elided":
                    ops.update(member.hidden_ops)
                    values.update(member.hidden_values)
                elif member.kind == "node":
                    ops[member.title] += 1
                else:
                    values[member.kind] += 1
                old_preds += member.preds
            item = _elided_item(ops, values)
            item.layer = items[index].layer
        for p in old_preds:
            if new_index[p] not in item.preds:
                item.preds.append(new_index[p])
        merged.append(item)
    return merged


def _node_width(items: list[_Item]) -> float:
    # The collapsed box's long description is truncated rather than widening every box.
    longest = max(
        (max(len(i.title) * _TITLE_CHAR_W, 0 if i.kind == "elided" else len(i.detail) * _DETAIL_CHAR_W) for i in items),
        default=80.0,
    )
    return min(_MAX_NODE_W, max(_MIN_NODE_W, longest + 16))


def _row_width(boxes: int, node_w: float) -> float:
    return 2 * _MARGIN + boxes * node_w + (boxes - 1) * _SLOT_GAP + (2 + _LANE_RESERVE) * _LANE_W


def _collapse_wide_layers(items: list[_Item]) -> list[_Item]:
    """Fold the overflow of every layer too wide for a notebook cell into one box (see :func:`_merge_wide_layers`).

    Boxes all share one width, which the folded box's title can change, so the row limit is found by trying:
    the widest limit whose picture fits ``_TARGET_WIDTH``, never fewer than two boxes a row."""
    _assign_layers(items)
    widest = max((len(m) for m in _members_by_layer(items).values()), default=0)
    cap = widest
    while cap > 2:
        merged = _merge_wide_layers(items, cap)
        if _row_width(min(cap, widest), _node_width(merged)) <= _TARGET_WIDTH:
            return merged
        cap -= 1
    return _merge_wide_layers(items, max(cap, 2))


# --------------------------------------------------------------------------------------------- layout


def _truncate(text: str, width: float, char_w: float) -> str:
    limit = max(3, int((width - 12) / char_w))
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass
class _Layout:
    items: list[_Item]
    node_w: float
    width: float
    height: float
    rows_per_column: int
    column_x: list[float]
    column_w: list[float]
    gutter_lanes: list[int]
    lane_of: dict[tuple[int, int], int]


def _layout(items: list[_Item], height: int) -> _Layout:
    """Place ``items`` (layers already assigned) in rows, wrapping rows into columns to about ``height`` px."""
    layers = _members_by_layer(items) or {0: []}
    # Order each layer by the mean slot of its predecessors (fewer crossings), then by file order.
    for layer in sorted(layers):
        members = layers[layer]
        for index in members:
            preds = items[index].preds
            items[index].order = sum(items[p].slot for p in preds) / len(preds) if preds else 0.0
        members.sort(key=lambda i: (items[i].order, i))
        for slot, index in enumerate(members):
            items[index].slot = slot

    node_w = _node_width(items)
    pitch = _NODE_H + _ROW_GAP
    n_layers = max(layers) + 1 if layers else 1
    n_columns = -(-n_layers // max(_MIN_ROWS_PER_COLUMN, int((height - 2 * _MARGIN - 20) // pitch)))
    # Prefer a taller picture to one wider than a notebook cell: fewer columns until it fits.
    while True:
        rows_per_column = -(-n_layers // n_columns)  # balanced columns
        layout = _place(items, layers, node_w, rows_per_column)
        if layout.width <= _TARGET_WIDTH or n_columns == 1:
            return layout
        n_columns -= 1


def _place(items: list[_Item], layers: dict[int, list[int]], node_w: float, rows_per_column: int) -> _Layout:
    pitch = _NODE_H + _ROW_GAP
    n_columns = -(-(max(layers) + 1) // rows_per_column)
    # Lanes: every edge that is not a straight hop to the next row runs down a gutter right of its column.
    column_slots = [1] * n_columns
    for layer, members in layers.items():
        column = layer // rows_per_column
        column_slots[column] = max(column_slots[column], len(members))
    column_w = [s * node_w + (s - 1) * _SLOT_GAP for s in column_slots]
    spans: list[list[tuple[int, int]]] = [[] for _ in range(n_columns)]
    lane_of: dict[tuple[int, int], int] = {}
    for index, item in enumerate(items):
        for p in item.preds:
            src = items[p]
            if _is_long(src, item, rows_per_column):
                gutter = src.layer // rows_per_column
                spans[gutter].append((p, index))
    gutter_lanes = [0] * n_columns
    for gutter, edges in enumerate(spans):
        # Greedy interval colouring on the rows each edge occupies in the gutter.
        ends: list[int] = []
        for p, index in sorted(edges, key=lambda e: (_rows(items, e, rows_per_column), e)):
            lo, hi = _rows(items, (p, index), rows_per_column)
            for lane, end in enumerate(ends):
                if end < lo:
                    ends[lane] = hi
                    lane_of[(p, index)] = lane
                    break
            else:
                lane_of[(p, index)] = len(ends)
                ends.append(hi)
        gutter_lanes[gutter] = len(ends)

    column_x: list[float] = []
    x = float(_MARGIN)
    for column in range(n_columns):
        column_x.append(x)
        x += column_w[column] + 2 * _LANE_W + gutter_lanes[column] * _LANE_W + _SLOT_GAP
    width = x - _SLOT_GAP + _MARGIN - (_LANE_W if gutter_lanes[-1] == 0 else 0)

    for layer, members in layers.items():
        column = layer // rows_per_column
        row = layer % rows_per_column
        used = len(members) * node_w + (len(members) - 1) * _SLOT_GAP
        left = column_x[column] + (column_w[column] - used) / 2
        for slot, index in enumerate(members):
            items[index].x = left + slot * (node_w + _SLOT_GAP)
            items[index].y = _MARGIN + _ROW_GAP + row * pitch
    total_h = _MARGIN + _ROW_GAP + rows_per_column * pitch + _MARGIN
    return _Layout(items, node_w, width, total_h, rows_per_column, column_x, column_w, gutter_lanes, lane_of)


def _is_long(src: _Item, dst: _Item, rows_per_column: int) -> bool:
    same_column = src.layer // rows_per_column == dst.layer // rows_per_column
    return not (same_column and dst.layer == src.layer + 1)


def _rows(items: list[_Item], edge: tuple[int, int], rows_per_column: int) -> tuple[int, int]:
    """Rows of the gutter an edge occupies (a cross-column edge runs from its source row up to the target row)."""
    src, dst = items[edge[0]], items[edge[1]]
    a, b = src.layer % rows_per_column, dst.layer % rows_per_column
    if src.layer // rows_per_column != dst.layer // rows_per_column:
        # It climbs the gutter from the source's row to the target's row in the next column.
        return (min(a, b - 1), max(a, b))
    return (a, b)


# --------------------------------------------------------------------------------------------- SVG


def _fmt(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _edge_path(layout: _Layout, src: _Item, dst: _Item, lane: int | None) -> tuple[str, float, float]:
    w = layout.node_w
    sx, sy = src.x + w / 2, src.y + _NODE_H
    tx, ty = dst.x + w / 2, dst.y
    if lane is None:
        if abs(sx - tx) < 0.5:
            return f"M{_fmt(sx)},{_fmt(sy)} V{_fmt(ty - 5)}", tx, ty
        mid = sy + _ROW_GAP / 2
        return f"M{_fmt(sx)},{_fmt(sy)} V{_fmt(mid)} H{_fmt(tx)} V{_fmt(ty - 5)}", tx, ty
    column = src.layer // layout.rows_per_column
    gx = layout.column_x[column] + layout.column_w[column] + _LANE_W * (1.5 + lane)
    below = sy + _ROW_GAP / 2 - 3 + (lane % 3) * 2
    above = ty - _ROW_GAP / 2 + 3 - (lane % 3) * 2
    path = f"M{_fmt(sx)},{_fmt(sy)} V{_fmt(below)} H{_fmt(gx)} V{_fmt(above)} H{_fmt(tx)} V{_fmt(ty - 5)}"
    return path, tx, ty


def render_svg(
    model_or_path: ModelSource,
    *,
    max_nodes: int = DEFAULT_MAX_NODES,
    height: int = 500,
    highlight: Collection[str] = (),
) -> str:
    """An ``<svg>`` picture of the model's main graph, about ``height`` pixels tall (deep graphs wrap into columns).

    Nodes show their op type and the shapes of their weights; graph inputs and outputs show name and type.
    Graphs with more than ``max_nodes`` nodes are summarised (first and last nodes, the middle collapsed); rows
    too wide for a notebook cell keep their first boxes and collapse the rest into one.
    ``highlight`` names nodes (by node name or op type) to outline in orange, e.g. the nodes a conversion changed.
    The SVG has no ids and no scripts, so several can share a page and the bytes are deterministic.
    """
    model = load_model(model_or_path, load_external_data=False)
    return picture(model, max_nodes=max_nodes, height=height, highlight=highlight).svg


@dataclass
class Picture:
    """The SVG of a graph and what it left out: nodes considered and hidden, collapsed parts, hidden values."""

    svg: str
    considered: int  # nodes after folding constants
    hidden: int  # of those, nodes inside collapsed boxes
    middle_collapsed: bool  # a deep graph's middle (more than max_nodes)
    rows_collapsed: bool  # the overflow of rows too wide for a notebook cell
    hidden_values: int  # graph inputs/outputs inside collapsed boxes


def picture(model: onnx.ModelProto, *, max_nodes: int, height: int, highlight: Collection[str] = ()) -> Picture:
    """:func:`render_svg` with the counts a page states about what the picture leaves out."""
    items, middle = _build_items(model.graph, max_nodes, highlight)
    before = len(items)
    items = _collapse_wide_layers(items)
    elided = [item for item in items if item.kind == "elided"]
    hidden = sum(sum(item.hidden_ops.values()) for item in elided)
    considered = sum(1 for item in items if item.kind == "node") + hidden
    layout = _layout(items, height)
    lane_of = layout.lane_of
    w = layout.node_w
    out: list[str] = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_fmt(layout.width)}" height="{_fmt(layout.height)}" '
        f'viewBox="0 0 {_fmt(layout.width)} {_fmt(layout.height)}" font-family="{FONT}" font-size="11" '
        'role="img" style="max-width:none;background:#ffffff">',
        f"<title>ONNX graph '{html.escape(model.graph.name or 'unnamed')}': {len(model.graph.node)} nodes</title>",
        '<g fill="none" stroke="#777777" stroke-width="1">',
    ]
    arrows: list[str] = []
    for index, item in enumerate(items):
        for p in item.preds:
            src = items[p]
            lane = lane_of.get((p, index))
            path, tx, ty = _edge_path(layout, src, item, lane)
            out.append(f'<path d="{path}"/>')
            arrows.append(f"M{_fmt(tx - 3.5)},{_fmt(ty - 5)} L{_fmt(tx + 3.5)},{_fmt(ty - 5)} L{_fmt(tx)},{_fmt(ty)} Z")
    out.append("</g>")
    if arrows:
        out.append(f'<path fill="#777777" d="{" ".join(arrows)}"/>')
    for item in items:
        fill, ink = _CATEGORIES[item.family]
        rx = _NODE_H / 2 if item.kind in ("input", "output") else 4
        stroke = ' stroke="#999999"' if item.family in ("other", "io", "elided") else ""
        if item.highlighted:
            stroke = f' stroke="{_HIGHLIGHT}" stroke-width="3"'
        title = html.escape(_truncate(item.title, w, _TITLE_CHAR_W))
        detail = html.escape(_truncate(item.detail, w, _DETAIL_CHAR_W))
        out.append(f"<g><title>{html.escape(item.tooltip)}</title>")
        out.append(
            f'<rect x="{_fmt(item.x)}" y="{_fmt(item.y)}" width="{_fmt(w)}" height="{_NODE_H}" rx="{_fmt(rx)}" '
            f'fill="{fill}"{stroke}/>'
        )
        cx = _fmt(item.x + w / 2)
        if detail:
            out.append(
                f'<text x="{cx}" y="{_fmt(item.y + 13)}" text-anchor="middle" fill="{ink}" font-weight="bold">'
                f"{title}</text>"
            )
            out.append(
                f'<text x="{cx}" y="{_fmt(item.y + 25)}" text-anchor="middle" fill="{ink}" font-size="9.5">'
                f"{detail}</text>"
            )
        else:
            out.append(
                f'<text x="{cx}" y="{_fmt(item.y + 19)}" text-anchor="middle" fill="{ink}" font-weight="bold">'
                f"{title}</text>"
            )
        out.append("</g>")
    out.append("</svg>")
    return Picture(
        "\n".join(out),
        considered,
        hidden,
        middle_collapsed=middle > 0,
        rows_collapsed=len(items) < before,
        hidden_values=sum(sum(item.hidden_values.values()) for item in elided),
    )
