"""What happens to a model at another opset: a per-node conversion plan, a conversion with
``onnx.version_converter`` or a re-export from PyTorch, each checked, run and compared with the original; and the
explorer's view of one setting (:func:`explore`). Part of the opset explorer: :mod:`course_utils.versions.opsets`.
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
from course_utils.onnxfile.modelio import ModelSource, load_model
from course_utils.onnxfile.render import measurement, text_table

if TYPE_CHECKING:
    from course_utils.onnxfile.verify import CheckReport, ParityReport

from course_utils.versions.schemas import OpSignature, op_signature, op_versions, schema_diff, schema_domain

__all__ = [
    "ConversionPlan",
    "Exploration",
    "NodeChange",
    "OpsetTrial",
    "conversion_plan",
    "convert_at_opset",
    "demo_net",
    "example_inputs",
    "explore",
    "export_at_opset",
    "model_opset",
]


def model_opset(model: onnx.ModelProto, domain: str = "") -> int | None:
    """The opset the model imports for ``domain`` (``""`` or ``"ai.onnx"`` for the default), or None."""
    wanted = schema_domain(domain)
    for entry in model.opset_import:
        if schema_domain(entry.domain) == wanted:
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
    """Deterministic inputs for a model's graph inputs (:func:`course_utils.runtime.feeds.example_feed` at batch
    1): random normal floats, small integers, ``True`` for bools; symbolic or unknown dimensions become 1."""
    from course_utils.runtime.feeds import example_feed

    return example_feed(model_or_path, batch=1, seed=seed)


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
    """A small PyTorch module whose export changes with the opset (the registered course model ``opset_demo``:
    :class:`course_utils.models.OpsetDemo`): ``torch.split`` (Split), ``torch.clamp`` (Clip), ``interpolate``
    (Upsample/Resize), ``mean`` (ReduceMean) and ``squeeze`` (Squeeze). Input: a float tensor of shape
    ``[N, 4, H, W]``. Imports torch."""
    from course_utils.models import registry

    return registry.get("opset_demo").build()


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
