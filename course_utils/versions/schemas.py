"""Operator schemas per opset, from onnx's own definitions (``onnx.defs.get_schema(op, opset)``): an operator's
signature at an opset (:func:`op_signature`), the opsets that changed it (:func:`op_versions`) and what changed
between two versions (:func:`schema_diff`). Part of the opset explorer: :mod:`course_utils.versions.opsets`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import onnx
import onnx.defs

from course_utils.errors import UnsupportedOpsetError
from course_utils.onnxfile.graph import domain_label

if TYPE_CHECKING:
    pass

__all__ = [
    "Attribute",
    "OpSignature",
    "Parameter",
    "SchemaDiff",
    "op_signature",
    "op_versions",
    "schema_diff",
    "schema_domain",
]

_OPTION = {0: "single", 1: "optional", 2: "variadic"}


def schema_domain(domain: str) -> str:
    """The domain as onnx's schema functions take it: the default domain is ``""`` (learners write ``ai.onnx``)."""
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
    wanted_domain = schema_domain(domain)
    versions = sorted(
        {
            s.since_version
            for s in onnx.defs.get_all_schemas_with_history()
            if s.name == op_type and s.domain == wanted_domain
        }
    )
    if not versions:
        names = sorted({s.name for s in onnx.defs.get_all_schemas_with_history() if s.domain == wanted_domain})
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
    schema = onnx.defs.get_schema(op_type, opset, schema_domain(domain))

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
