"""The opset explorer, headless: operator signatures per opset, what changed between two versions of an operator,
and what happens to a model at another opset (converted with ``onnx.version_converter`` or re-exported).

Everything reads onnx's own operator schemas (``onnx.defs.get_schema(op, opset)``,
``onnx.defs.get_all_schemas_with_history()``), so the answers are those of the installed onnx::

    from course_utils.versions.opsets import op_signature, schema_diff, conversion_plan, convert_at_opset
    print(schema_diff("ReduceMean", 13, 18))      # attribute 'axes' became an input
    print(conversion_plan("model.onnx", 13))      # per node: same, changes, or fails (and why)
    trial = convert_at_opset("model.onnx", 13)    # converted, checked, run and compared with the original
    print(trial)

:func:`export_at_opset` does the same for a PyTorch model exported at the opset (the robust way to change
opset). Every result is a frozen dataclass that prints as deterministic text; the widget in
:mod:`course_utils.views.opsets_view` only displays them.
"""

from __future__ import annotations

import io
import os
import re
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import onnx
import onnx.defs
from onnx import version_converter

from course_utils.errors import CourseError, UnsupportedOpsetError, first_line
from course_utils.onnxfile.graph import domain_label, graph_inputs
from course_utils.onnxfile.graph import shape as graph_shape
from course_utils.onnxfile.modelio import ModelSource, load_model
from course_utils.onnxfile.render import measurement, text_table

if TYPE_CHECKING:
    from course_utils.onnxfile.verify import CheckReport, ParityReport

__all__ = [
    "Attribute",
    "ConversionPlan",
    "Exploration",
    "NodeChange",
    "OpSignature",
    "OpsetTrial",
    "Parameter",
    "SchemaDiff",
    "conversion_plan",
    "convert_at_opset",
    "demo_net",
    "example_inputs",
    "explore",
    "export_at_opset",
    "model_opset",
    "op_signature",
    "op_versions",
    "schema_diff",
]

_OPTION = {0: "single", 1: "optional", 2: "variadic"}


def _schema_domain(domain: str) -> str:
    return "" if domain == "ai.onnx" else domain


# ----------------------------------------------------------------------------------------------- signatures


@dataclass(frozen=True)
class Parameter:
    """An input or output of an operator: name, type (``T`` or ``tensor(int64)``) and single/optional/variadic."""

    name: str
    type: str
    option: str

    def __str__(self) -> str:
        extra = "" if self.option == "single" else f", {self.option}"
        return f"{self.name}: {self.type}{extra}"


@dataclass(frozen=True)
class Attribute:
    """An attribute of an operator: name, type (``INT``, ``INTS``, ``STRING``, ...), required or default."""

    name: str
    type: str
    required: bool
    default: str | None
    values: tuple[str, ...] = ()  # for STRING attributes: the values its description lists

    def __str__(self) -> str:
        how = "required" if self.required else ("optional" if self.default is None else f"default {self.default}")
        return f"{self.name}: {self.type} ({how})"


@dataclass(frozen=True)
class OpSignature:
    """An operator as defined at an opset: ``since_version`` is the opset where this definition appeared."""

    op_type: str
    domain: str
    opset: int
    since_version: int
    inputs: tuple[Parameter, ...]
    outputs: tuple[Parameter, ...]
    attributes: tuple[Attribute, ...]
    type_constraints: tuple[tuple[str, tuple[str, ...]], ...]
    deprecated: bool = False

    @property
    def name(self) -> str:
        """``Op-N``: the operator and the opset its definition comes from, as ONNX's operator docs write it."""
        return f"{self.op_type}-{self.since_version}"

    def _lines(self) -> list[str]:
        head = f"{self.name} ({domain_label(self.domain)}; what opset {self.opset} uses)"
        lines = [head + (" DEPRECATED" if self.deprecated else "")]
        lines += [f"  input  {p}" for p in self.inputs]
        lines += [f"  output {p}" for p in self.outputs]
        lines += [f"  attr   {a}" for a in self.attributes]
        lines += [f"  type   {name}: {', '.join(types)}" for name, types in self.type_constraints]
        return lines

    def __str__(self) -> str:
        return "\n".join(self._lines())

    def __repr__(self) -> str:
        return str(self)


def _listed_values(description: str) -> tuple[str, ...]:
    """The values a STRING attribute's description lists in its first sentence ("Three interpolation modes:
    nearest (default), linear and cubic."), sorted; empty when the sentence is not such a list."""
    sentence = re.split(r"\.(?:\s|$)", description.strip(), maxsplit=1)[0]
    if ":" not in sentence:
        return ()
    listed = re.sub(r"\([^)]*\)", "", sentence.split(":", 1)[1])
    tokens = [t.strip().strip('"').strip() for t in re.split(r",|\band\b|\bor\b", listed)]
    tokens = [t for t in tokens if t]
    if len(tokens) < 2 or not all(re.fullmatch(r"[a-z][a-z0-9_]*", t) for t in tokens):
        return ()
    return tuple(sorted(set(tokens)))


def _default(attribute: Any) -> str | None:
    proto = attribute.default_value
    if not proto.name:
        return None
    value = onnx.helper.get_attribute_value(proto)
    if isinstance(value, bytes):
        return repr(value.decode())
    if isinstance(value, list):
        return "[" + ", ".join(v.decode() if isinstance(v, bytes) else f"{v:g}" for v in value) + "]"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def op_versions(op_type: str, domain: str = "") -> list[int]:
    """The opsets in which ``op_type`` got a new definition (``op_versions("Split")`` -> ``[1, 2, 11, 13, 18]``)."""
    schema_domain = _schema_domain(domain)
    versions = sorted(
        {
            s.since_version
            for s in onnx.defs.get_all_schemas_with_history()
            if s.name == op_type and s.domain == schema_domain
        }
    )
    if not versions:
        names = sorted({s.name for s in onnx.defs.get_all_schemas_with_history() if s.domain == schema_domain})
        import difflib

        close = difflib.get_close_matches(op_type, names, n=1)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        raise ValueError(f"onnx {onnx.__version__} has no operator '{op_type}' in {domain_label(domain)}.{hint}")
    return versions


def op_signature(op_type: str, opset: int, domain: str = "") -> OpSignature:
    """The definition of ``op_type`` that a model importing ``opset`` of ``domain`` uses.

    Raises :class:`UnsupportedOpsetError` when the operator does not exist yet at that opset (its first
    version is named) and ``ValueError`` for an unknown operator (with the closest name).
    """
    versions = op_versions(op_type, domain)
    if opset < versions[0]:
        raise UnsupportedOpsetError(
            f"{op_type} does not exist at opset {opset} of {domain_label(domain)}: it first appears in opset "
            f"{versions[0]}."
        )
    schema = onnx.defs.get_schema(op_type, opset, _schema_domain(domain))

    def params(formal: Any) -> tuple[Parameter, ...]:
        return tuple(Parameter(p.name, p.type_str, _OPTION.get(int(p.option.value), str(p.option))) for p in formal)

    attributes = tuple(
        Attribute(
            name,
            str(a.type).rsplit(".", 1)[-1],
            bool(a.required),
            _default(a),
            _listed_values(a.description) if str(a.type).endswith("STRING") else (),
        )
        for name, a in sorted(schema.attributes.items())
    )
    constraints = tuple((c.type_param_str, tuple(sorted(c.allowed_type_strs))) for c in schema.type_constraints)
    return OpSignature(
        op_type,
        domain_label(domain),
        opset,
        schema.since_version,
        params(schema.inputs),
        params(schema.outputs),
        attributes,
        constraints,
        bool(schema.deprecated),
    )


# --------------------------------------------------------------------------------------------- schema diffs


@dataclass(frozen=True)
class SchemaDiff:
    """What changed in an operator between two opsets, one line per change (empty when the definition is the same)."""

    op_type: str
    domain: str
    old: OpSignature
    new: OpSignature
    changes: tuple[str, ...]

    @property
    def same(self) -> bool:
        """True when both opsets use the same definition of the operator."""
        return self.old.since_version == self.new.since_version

    def __str__(self) -> str:
        head = (
            f"{self.op_type}: opset {self.old.opset} uses {self.old.name}, opset {self.new.opset} uses {self.new.name}"
        )
        if self.same:
            return f"{head}: the same definition, nothing changes"
        body = [f"  - {c}" for c in self.changes] or [
            "  - no change in signature (the description or the semantics changed)"
        ]
        return "\n".join([head, *body])

    def __repr__(self) -> str:
        return str(self)


def _few(items: list[str], limit: int = 4) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f" (+{len(items) - limit} more)" if len(items) > limit else "")


def schema_diff(op_type: str, old_opset: int, new_opset: int, domain: str = "") -> SchemaDiff:
    """The changes in ``op_type`` between the definitions that ``old_opset`` and ``new_opset`` use.

    Lines say, in this order: attributes that became inputs (Split-13, Squeeze-13, ReduceMean-18, Clip-11),
    inputs and attributes added or removed, defaults and named values that changed (Resize's ``mode`` values),
    and types added to or removed from each type constraint. Works up or down (old > new reads backwards).
    """
    old = op_signature(op_type, old_opset, domain)
    new = op_signature(op_type, new_opset, domain)
    changes: list[str] = []
    if old.since_version != new.since_version:
        old_attrs = {a.name: a for a in old.attributes}
        new_attrs = {a.name: a for a in new.attributes}
        old_inputs = {p.name: p for p in old.inputs}
        new_inputs = {p.name: p for p in new.inputs}
        moved_in = sorted(set(old_attrs) - set(new_attrs) & (set(new_inputs) - set(old_inputs)))
        moved_out = sorted(set(new_attrs) - set(old_attrs) & (set(old_inputs) - set(new_inputs)))
        for name in moved_in:
            changes.append(f"attribute '{name}' ({old_attrs[name].type}) became input '{name}' ({new_inputs[name]})")
        for name in moved_out:
            changes.append(f"input '{name}' ({old_inputs[name]}) became attribute '{name}' ({new_attrs[name].type})")
        for name in sorted(set(old_attrs) - set(new_attrs) - set(moved_in)):
            changes.append(f"attribute removed: {old_attrs[name]}")
        for name in sorted(set(old_inputs) - set(new_inputs) - set(moved_out)):
            changes.append(f"input removed: {old_inputs[name]}")
        for name in [p.name for p in new.inputs if p.name not in old_inputs and p.name not in moved_in]:
            changes.append(f"input added: {new_inputs[name]}")
        for name in sorted(set(new_attrs) - set(old_attrs) - set(moved_out)):
            changes.append(f"attribute added: {new_attrs[name]}")
        for name in sorted(set(old_attrs) & set(new_attrs)):
            a, b = old_attrs[name], new_attrs[name]
            if (a.type, a.required, a.default) != (b.type, b.required, b.default):
                changes.append(f"attribute '{name}': {a} -> {b}")
            if a.values != b.values and (a.values or b.values):
                added = [v for v in b.values if v not in a.values]
                removed = [v for v in a.values if v not in b.values]
                parts = ([f"adds {', '.join(added)}"] if added else []) + (
                    [f"drops {', '.join(removed)}"] if removed else []
                )
                changes.append(f"attribute '{name}' values listed in the spec: {'; '.join(parts)}")
        for name in sorted(set(old_inputs) & set(new_inputs)):
            if old_inputs[name].option != new_inputs[name].option:
                changes.append(f"input '{name}': {old_inputs[name].option} -> {new_inputs[name].option}")
        old_types, new_types = dict(old.type_constraints), dict(new.type_constraints)
        for name in sorted(set(old_types) | set(new_types)):
            before, after = set(old_types.get(name, ())), set(new_types.get(name, ()))
            if after - before:
                changes.append(f"types added to {name}: {_few(sorted(after - before))}")
            if before - after:
                changes.append(f"types removed from {name}: {_few(sorted(before - after))}")
        if new.deprecated and not old.deprecated:
            changes.append("deprecated")
    return SchemaDiff(op_type, domain_label(domain), old, new, tuple(changes))


# --------------------------------------------------------------------------------------- a model's opset plan


def model_opset(model: onnx.ModelProto, domain: str = "") -> int | None:
    """The opset the model imports for ``domain`` (``""`` or ``"ai.onnx"`` for the default), or None."""
    wanted = _schema_domain(domain)
    for entry in model.opset_import:
        if _schema_domain(entry.domain) == wanted:
            return int(entry.version)
    return None


@dataclass(frozen=True)
class NodeChange:
    """What converting one node to another opset does: ``status`` is ``same``, ``changes``, ``fails`` or ``other domain``."""

    node: str
    op_type: str
    domain: str
    old: str  # Op-N at the model's opset
    new: str  # Op-N at the target opset ("-" when the operator does not exist there)
    status: str
    detail: str

    def cells(self) -> list[str]:
        """The row this node adds to a :class:`ConversionPlan` table."""
        return [self.node, self.op_type, f"{self.old} -> {self.new}", self.status, self.detail]


@dataclass(frozen=True)
class ConversionPlan:
    """Per node, what ``onnx.version_converter.convert_version(model, target)`` would do to it."""

    model_name: str
    from_opset: int
    to_opset: int
    nodes: tuple[NodeChange, ...]

    @property
    def failing(self) -> tuple[NodeChange, ...]:
        """The nodes the converter cannot move to the target opset."""
        return tuple(n for n in self.nodes if n.status == "fails")

    @property
    def changing(self) -> tuple[NodeChange, ...]:
        """The nodes whose operator definition differs at the target opset (and that convert)."""
        return tuple(n for n in self.nodes if n.status == "changes")

    def _header(self) -> str:
        counts = Counter(n.status for n in self.nodes)
        summary = ", ".join(f"{counts[s]} {s}" for s in ("same", "changes", "fails", "other domain") if counts[s])
        return f"{self.model_name}: ai.onnx opset {self.from_opset} -> {self.to_opset}: {summary or 'no nodes'}"

    def __str__(self) -> str:
        rows = [n.cells() for n in self.nodes if n.status != "same"]
        same = [n for n in self.nodes if n.status == "same"]
        table = text_table(rows, ["node", "op", "definition", "status", "detail"]) if rows else []
        lines = [self._header(), *("  " + line for line in table)]
        if same:
            ops = sorted({n.op_type for n in same})
            lines.append(f"unchanged ({len(same)} nodes): {', '.join(ops)}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return str(self)


def _converter_message(error: BaseException) -> str:
    """The converter's assertion text without the C++ file and line (``No Adapter From Version $14 for Relu``)."""
    return re.sub(r"^.*?Assertion `[^`]*` failed:\s*", "", first_line(error))


def _name(model_or_path: ModelSource, model: onnx.ModelProto) -> str:
    if isinstance(model_or_path, str | os.PathLike):
        return Path(model_or_path).name
    return model.graph.name or "model"


def _functions_dropped(model: onnx.ModelProto, target_opset: int) -> str:
    """What to say about ``model``'s local functions, which ``convert_version`` drops ('' when it has none)."""
    if not model.functions:
        return ""
    names = ", ".join(sorted({f.name for f in model.functions}))
    return (
        f"onnx.version_converter.convert_version drops the model's {len(model.functions)} local function(s) "
        f"({names}), so the converted model would call functions it no longer has: inline them first "
        f"(model = onnx.inliner.inline_local_functions(model)), then convert, or re-export at opset {target_opset}"
    )


def _has_subgraph(node: onnx.NodeProto) -> bool:
    return any(a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS) for a in node.attribute)


def _probe(
    node: onnx.NodeProto,
    model: onnx.ModelProto,
    types: dict[str, onnx.TypeProto],
    constants: dict[str, onnx.NodeProto],
    initializers: dict[str, onnx.TensorProto],
    from_opset: int,
    to_opset: int,
) -> str:
    """Convert a one-node model holding a copy of ``node`` (its constant inputs included); '' if it converts."""
    helper = onnx.helper
    nodes, inputs, inits = [], [], []
    for name in node.input:
        if not name:
            continue
        if name in initializers:
            inits.append(initializers[name])
        elif name in constants:
            nodes.append(constants[name])
        elif name in types:
            inputs.append(helper.make_value_info(name, types[name]))
        else:
            inputs.append(helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None))
    nodes.append(node)
    outputs = [
        helper.make_value_info(o, types[o]) if o in types else helper.make_tensor_value_info(o, 0, None)
        for o in node.output
        if o
    ]
    graph = helper.make_graph(nodes, "probe", inputs, outputs, inits)
    opsets = [helper.make_opsetid(e.domain, e.version) for e in model.opset_import]
    probe = helper.make_model(graph, opset_imports=opsets, ir_version=model.ir_version or onnx.IR_VERSION)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            version_converter.convert_version(probe, to_opset)
    except Exception as error:  # the converter raises RuntimeError/ValidationError/ConvertError from C++
        return _converter_message(error)
    return ""


def conversion_plan(model_or_path: ModelSource, target_opset: int) -> ConversionPlan:
    """For each node, whether converting the model to ``ai.onnx`` opset ``target_opset`` leaves it the same,
    changes it (the schema diff says how), or fails (the converter's own message), without converting the model.

    Each node whose definition differs is tried alone (a copy of the node and its constant inputs, converted
    with ``onnx.version_converter``), so every failing node is listed, not only the first one the converter
    meets. Nodes of other domains (``ai.onnx.ml``, ``com.microsoft``, custom) are not touched by the converter.
    """
    model = load_model(model_or_path, load_external_data=False)
    name = _name(model_or_path, model)
    from_opset = model_opset(model)
    if from_opset is None:
        raise UnsupportedOpsetError(f"{name} imports no ai.onnx opset: there is nothing for the converter to change.")
    try:
        inferred = onnx.shape_inference.infer_shapes(model)
    except Exception:  # a model shape inference rejects is still planned, with less type information
        inferred = model
    graph = inferred.graph
    types = {v.name: v.type for v in [*graph.input, *graph.value_info, *graph.output] if v.type.WhichOneof("value")}
    initializers = {t.name: t for t in model.graph.initializer}
    constants = {n.output[0]: n for n in model.graph.node if n.op_type == "Constant" and n.domain in ("", "ai.onnx")}
    cache: dict[tuple[str, int, bytes], str] = {}
    changes: list[NodeChange] = []
    functions = {(f.domain, f.name) for f in model.functions}
    for index, node in enumerate(model.graph.node):
        label = node.name or f"{node.op_type}_{index}"
        if (node.domain, node.op_type) in functions:
            where = f"{node.op_type}@{node.domain}" if node.domain else node.op_type
            detail = "a model-local function, which convert_version drops: inline it first (onnx.inliner)"
            changes.append(NodeChange(label, node.op_type, node.domain, where, "-", "fails", detail))
            continue
        if node.domain not in ("", "ai.onnx"):
            opset = model_opset(model, node.domain)
            changes.append(
                NodeChange(
                    label,
                    node.op_type,
                    node.domain,
                    f"{node.op_type}@{node.domain} {opset}",
                    "same",
                    "other domain",
                    "convert_version changes only ai.onnx nodes",
                )
            )
            continue
        try:
            old = op_signature(node.op_type, from_opset)
        except (ValueError, CourseError) as error:
            changes.append(NodeChange(label, node.op_type, "ai.onnx", "?", "?", "fails", str(error)))
            continue
        try:
            new: OpSignature | None = op_signature(node.op_type, target_opset)
        except (ValueError, CourseError):
            new = None
        if new is not None and new.since_version == old.since_version:
            changes.append(NodeChange(label, node.op_type, "ai.onnx", old.name, new.name, "same", ""))
            continue
        key = (node.op_type, old.since_version, node.SerializeToString())
        if _has_subgraph(node):
            message = ""  # its body refers to outer names: only the whole model can be converted
        else:
            if key not in cache:
                cache[key] = _probe(node, model, types, constants, initializers, from_opset, target_opset)
            message = cache[key]
        if new is None:
            first = op_versions(node.op_type)[0]
            reason = f"{node.op_type} does not exist before opset {first}"
            detail = f"{reason} (converter: {message})" if message else reason
            changes.append(NodeChange(label, node.op_type, "ai.onnx", old.name, "-", "fails", detail))
        elif message:
            changes.append(NodeChange(label, node.op_type, "ai.onnx", old.name, new.name, "fails", message))
        else:
            diff = schema_diff(node.op_type, from_opset, target_opset)
            detail = "; ".join(diff.changes) or "same signature, new definition"
            changes.append(NodeChange(label, node.op_type, "ai.onnx", old.name, new.name, "changes", detail))
    return ConversionPlan(name, from_opset, target_opset, tuple(changes))


# ----------------------------------------------------------------------------------------- trying an opset


@dataclass(frozen=True)
class OpsetTrial:
    """A model at another opset (converted or re-exported), checked, run and compared with the original.

    ``error`` is the exact one-line failure when the model could not be produced at that opset (``model`` is
    then None). ``op_changes`` lists, per operator, the definition and node count before and after;
    ``changed_ops`` names those whose definition changed (what a picture of ``model`` highlights).
    """

    model_name: str
    how: str  # "converted with onnx.version_converter" or "exported with torch.onnx.export(..., dynamo=False)"
    from_opset: int | None
    to_opset: int
    ir_version_before: int | None
    ir_version_after: int | None
    error: str | None
    op_changes: tuple[str, ...] = ()
    check: CheckReport | None = None
    parity: ParityReport | None = None
    run_error: str | None = None
    model: onnx.ModelProto | None = field(default=None, repr=False, compare=False)
    changed_ops: tuple[str, ...] = ()

    @property
    def passed(self) -> bool:
        """True when the model was produced, passes the checker, runs, and matches the original."""
        return (
            self.error is None
            and self.check is not None
            and self.check.passed
            and self.parity is not None
            and self.parity.passed
        )

    def _lines(self) -> list[str]:
        verdict = "OK" if self.passed else "FAILED"
        source = f"opset {self.from_opset}" if self.from_opset is not None else "the source"
        lines = [f"{self.model_name} at opset {self.to_opset} ({self.how}, from {source}): {verdict}"]
        if self.error is not None:
            lines.append(f"  error: {self.error}")
            return lines
        lines.append(f"  ir_version: {self.ir_version_before} -> {self.ir_version_after}")
        lines += [f"  {c}" for c in self.op_changes] or ["  no operator changed"]
        if self.check is not None:
            failed = [f"{s.name}: {s.detail}" for s in self.check.steps if not s.passed]
            lines.append("  check: passed" if not failed else f"  check: FAILED ({'; '.join(failed)})")
        if self.run_error is not None:
            lines.append(f"  run: FAILED ({self.run_error})")
        elif self.parity is not None:
            # The tolerance, not the measured error: the error's digits differ between CPUs (AVX2 vs AVX-512),
            # and this text is stored in notebooks. A failure shows the error, which is then far above it.
            tolerances = sorted({(o.rtol, o.atol) for o in self.parity.outputs if o.rtol is not None})
            within = ", ".join(f"rtol {r:g}, atol {a:g}" for r, a in tolerances) or "no numeric output"
            if self.parity.passed:
                lines.append(f"  run + parity with the original: passed (within {within})")
            else:
                worst = self.parity.max_abs
                err = measurement(worst)
                lines.append(f"  run + parity with the original: FAILED (max abs err {err}; allowed {within})")
        return lines

    def __str__(self) -> str:
        return "\n".join(self._lines())

    def __repr__(self) -> str:
        return str(self)


def _op_changes(
    before: onnx.ModelProto, after: onnx.ModelProto, from_opset: int | None, to_opset: int
) -> tuple[tuple[str, str, bool], ...]:
    """``(operator, line, definition changed)`` for each ``ai.onnx`` operator whose definition or node count
    differs."""
    old_counts = Counter(n.op_type for n in before.graph.node if n.domain in ("", "ai.onnx"))
    new_counts = Counter(n.op_type for n in after.graph.node if n.domain in ("", "ai.onnx"))
    lines = []
    for op in sorted(set(old_counts) | set(new_counts)):
        try:
            old = op_signature(op, from_opset).name if from_opset is not None and old_counts[op] else "-"
        except (ValueError, CourseError):
            old = "?"
        try:
            new = op_signature(op, to_opset).name if new_counts[op] else "-"
        except (ValueError, CourseError):
            new = "?"
        if old == new and old_counts[op] == new_counts[op]:
            continue
        count = (
            f"{new_counts[op]} node{'s' if new_counts[op] != 1 else ''}"
            if old_counts[op] == new_counts[op]
            else f"{old_counts[op]} -> {new_counts[op]} nodes"
        )
        detail = ""
        if old not in ("-", "?") and new not in ("-", "?") and from_opset is not None:
            diff = schema_diff(op, from_opset, to_opset)
            detail = f": {'; '.join(diff.changes)}" if diff.changes else ""
        lines.append((op, f"{op}: {old} -> {new}, {count}{detail}", old != new))
    return tuple(lines)


def example_inputs(model_or_path: ModelSource, seed: int = 0) -> dict[str, np.ndarray]:
    """Deterministic inputs for a model's graph inputs: random normal floats, small integers, ``True`` for bools;
    symbolic or unknown dimensions become 1."""
    model = load_model(model_or_path, load_external_data=False)
    rng = np.random.default_rng(seed)
    feed: dict[str, np.ndarray] = {}
    for value in graph_inputs(model.graph):
        shape = [d if isinstance(d, int) else 1 for d in graph_shape(value.type) or ()]
        dtype = onnx.helper.tensor_dtype_to_np_dtype(value.type.tensor_type.elem_type)
        if np.issubdtype(dtype, np.floating):
            feed[value.name] = rng.standard_normal(shape).astype(dtype)
        elif dtype == np.bool_:
            feed[value.name] = np.ones(shape, dtype)
        else:
            feed[value.name] = rng.integers(0, 3, shape).astype(dtype)
    return feed


def _finish(
    name: str,
    how: str,
    before: onnx.ModelProto | None,
    after: onnx.ModelProto,
    from_opset: int | None,
    to_opset: int,
    reference: Any,
    inputs: dict[str, np.ndarray],
) -> OpsetTrial:
    from course_utils.onnxfile.verify import check_model, compare_outputs
    from course_utils.runtime.run import run_onnx

    check = check_model(after)
    parity, run_error = None, None
    try:
        actual = run_onnx(after, inputs)
        parity = compare_outputs(reference, list(actual.values()) if isinstance(reference, list) else actual)
    except Exception as error:  # ORT raises its own types (Fail, InvalidGraph, ...), not all RuntimeError
        run_error = first_line(error)
    changes = _op_changes(before, after, from_opset, to_opset) if before is not None else ()
    return OpsetTrial(
        name,
        how,
        from_opset,
        to_opset,
        None if before is None else before.ir_version,
        after.ir_version,
        None,
        tuple(line for _, line, _ in changes),
        check,
        parity,
        run_error,
        after,
        tuple(op for op, _, redefined in changes if redefined),
    )


def convert_at_opset(
    model_or_path: ModelSource, target_opset: int, inputs: dict[str, np.ndarray] | None = None
) -> OpsetTrial:
    """``onnx.version_converter.convert_version(model, target_opset)``, then ``onnx.checker``, a run with ONNX
    Runtime and a comparison with the original model's outputs on the same ``inputs`` (default:
    :func:`example_inputs`). A conversion the converter refuses gives a trial whose ``error`` is its message.

    The converter changes the opset imports and the nodes but leaves ``ir_version`` as it was: the trial
    shows both numbers.
    """
    from course_utils.runtime.run import run_onnx

    model = load_model(model_or_path)
    name = _name(model_or_path, model)
    from_opset = model_opset(model)
    how = "converted with onnx.version_converter"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            converted = version_converter.convert_version(model, target_opset)
    except Exception as error:  # RuntimeError (C++ assertion), ValidationError, ConvertError
        return OpsetTrial(name, how, from_opset, target_opset, model.ir_version, None, _converter_message(error))
    if len(converted.functions) < len(model.functions):
        dropped = _functions_dropped(model, target_opset)
        return OpsetTrial(name, how, from_opset, target_opset, model.ir_version, converted.ir_version, dropped)
    feed = example_inputs(model) if inputs is None else inputs
    try:
        reference: Any = run_onnx(model, feed)
    except Exception as error:  # ORT's own error types (Fail, InvalidGraph, ...) are not RuntimeError
        return OpsetTrial(
            name,
            how,
            from_opset,
            target_opset,
            model.ir_version,
            converted.ir_version,
            f"the original model does not run here, so there is nothing to compare with: {error}",
            model=converted,
        )
    return _finish(name, how, model, converted, from_opset, target_opset, reference, feed)


def export_at_opset(
    module: Any, example: Any, opset: int, *, name: str | None = None, reference_opset: int | None = None
) -> OpsetTrial:
    """Export a PyTorch module with the legacy exporter (``torch.onnx.export(..., opset_version=opset,
    dynamo=False)``), check it, run it and compare it with PyTorch's own output for ``example`` (one tensor).

    The export's failure, if any, is the trial's ``error``. ``op_changes`` compares with an export at
    ``reference_opset`` when given (e.g. the opset you usually export at).
    """
    import torch

    label = name or type(module).__name__
    how = "exported with torch.onnx.export(..., dynamo=False)"

    def export(at: int) -> onnx.ModelProto:
        buffer = io.BytesIO()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(module, (example,), buffer, opset_version=at, dynamo=False, input_names=["x"])  # type: ignore[arg-type]
        return onnx.load_from_string(buffer.getvalue())

    try:
        exported = export(opset)
    except Exception as error:  # torch raises many types; the message is what the learner needs
        return OpsetTrial(label, how, reference_opset, opset, None, None, first_line(error))
    before = export(reference_opset) if reference_opset is not None else None
    with torch.no_grad():
        reference = module(example)
    feed = {"x": example.detach().cpu().numpy()}
    return _finish(label, how, before, exported, reference_opset, opset, [reference.detach().numpy()], feed)


def demo_net() -> Any:
    """A small PyTorch module whose export changes with the opset: ``torch.split`` (Split), ``torch.clamp``
    (Clip), ``interpolate`` (Upsample/Resize), ``mean`` (ReduceMean) and ``squeeze`` (Squeeze).
    Input: a float tensor of shape ``[N, 4, H, W]``. Imports torch."""
    import torch

    class OpsetDemo(torch.nn.Module):
        """Split, Clip, Resize, ReduceMean and Squeeze: the operators whose signatures changed most."""

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            a, b = torch.split(x, 2, dim=1)
            y = torch.clamp(a, 0.0, 6.0)
            y = torch.nn.functional.interpolate(y, scale_factor=2.0, mode="nearest")
            pooled = y.mean(dim=(2, 3), keepdim=True).squeeze(3)
            return (pooled + b.mean(dim=(2, 3)).unsqueeze(2)).squeeze(2)

    return OpsetDemo().eval()


# -------------------------------------------------------------------------------------------- the explorer


@dataclass(frozen=True)
class Exploration:
    """What the explorer shows for one setting: its text, the model at the chosen opset when one was made, and
    ``changed``: the nodes (names, or op types for a re-export, whose node names differ) whose definition changed,
    for :func:`course_utils.views.graph_view.render_svg`'s ``highlight``."""

    text: str
    model: onnx.ModelProto | None = field(default=None, repr=False, compare=False)
    changed: tuple[str, ...] = ()

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return self.text


def explore(subject: Any, opset: int, base_opset: int) -> Exploration:
    """What the opset explorer shows: for an operator name, :func:`schema_diff` from ``base_opset`` to ``opset``
    and the signature at ``opset``; for a model (path or ``onnx.ModelProto``), its :func:`conversion_plan` and
    :func:`convert_at_opset` to ``opset``; for ``(torch module, example tensor)``, :func:`export_at_opset` at
    ``opset`` compared with an export at ``base_opset``. Failures are part of the text (the exact message),
    never raised, so a widget can show them. ``model`` is the converted or exported model, when there is one.
    """
    try:
        if isinstance(subject, tuple):
            module, example = subject
            trial = export_at_opset(module, example, opset, reference_opset=base_opset)
            return Exploration(str(trial), trial.model, trial.changed_ops)
        if isinstance(subject, str) and not subject.endswith(".onnx"):
            diff = schema_diff(subject, base_opset, opset)
            return Exploration(f"{diff}\n\n{diff.new}")
        plan = conversion_plan(subject, opset)
        trial = convert_at_opset(subject, opset)
        changed = tuple(n.node or n.op_type for n in plan.changing)
        return Exploration(f"{plan}\n\n{trial}", trial.model, changed)
    except (CourseError, ValueError) as error:
        return Exploration(f"{type(error).__name__}: {error}")
    except Exception as error:  # a library's own error on a model nobody tried: shown, never raised (a widget)
        return Exploration(f"{type(error).__name__}: {first_line(error)}")
