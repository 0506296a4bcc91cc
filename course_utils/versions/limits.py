"""Versions: which IR version and opsets a model needs, and which ones an ONNX Runtime release reads.

A model carries two kinds of version number: the IR version (``model.ir_version``, the file format's version)
and one opset per operator domain (``model.opset_import``: ``ai.onnx``, ``ai.onnx.ml``, ``com.microsoft``,
custom domains). A runtime release reads up to some IR version and implements up to some opset per domain.

* :func:`ir_version_issues` lists what a model uses that a given IR version does not have, which
  ``onnx.checker`` does not check; :func:`lower_ir_version` lowers the IR version safely (it drops the
  IR-10-only ``metadata_props``, which hold names and stack traces for debugging, and refuses anything else).
* :func:`runtime_limits` measures the newest IR version and opsets the installed onnxruntime loads (no ONNX
  Runtime API reports them: onnxruntime issue #14932); :data:`ORT_COMPATIBILITY` is ONNX Runtime's published
  table for older releases, and :func:`limits_for` gives either for a release number.
"""

from __future__ import annotations

import functools
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import onnx
import onnxruntime as ort

from course_utils.errors import UnsupportedIRVersionError
from course_utils.onnxfile.graph import domain_label, dtype_name, graphs, nodes, tensors
from course_utils.onnxfile.modelio import ModelSource, load_model
from course_utils.onnxfile.render import plural

__all__ = [
    "JS_TENSOR_TYPES",
    "NPM_RUNTIMES",
    "ORT_COMPATIBILITY",
    "RuntimeLimits",
    "ir_version_issues",
    "limits_for",
    "lower_ir_version",
    "runtime_limits",
]

# ------------------------------------------------------------------------------------------- IR versions

# Element types by the IR version that introduced them (onnx.proto's Version enum; earlier ones exist in IR 3).
_TYPE_IR_VERSION: dict[str, int] = {
    "BFLOAT16": 4,
    "FLOAT8E4M3FN": 9,
    "FLOAT8E4M3FNUZ": 9,
    "FLOAT8E5M2": 9,
    "FLOAT8E5M2FNUZ": 9,
    "UINT4": 10,
    "INT4": 10,
    "FLOAT4E2M1": 11,
    "FLOAT8E8M0": 12,
    "UINT2": 13,
    "INT2": 13,
    "FLOAT6E2M3": 14,
    "FLOAT6E3M2": 14,
}
_TYPE_CODES = {getattr(onnx.TensorProto, n): n for n in _TYPE_IR_VERSION if hasattr(onnx.TensorProto, n)}


class _IRFeatures:
    """What a model uses that appeared after IR version 3, gathered by walking every graph and function."""

    def __init__(self) -> None:
        self.metadata: dict[str, int] = {}  # kind -> how many carry metadata_props (IR 10)
        self.types: dict[str, list[str]] = {}  # element type -> names of tensors/values using it
        self.counts: dict[tuple[str, int], int] = {}  # (feature, IR version) -> how many

    def count(self, feature: str, ir_version: int, n: int = 1) -> None:
        if n:
            self.counts[(feature, ir_version)] = self.counts.get((feature, ir_version), 0) + n

    def meta(self, kind: str, proto: Any) -> None:
        if len(proto.metadata_props):
            self.metadata[kind] = self.metadata.get(kind, 0) + 1

    def elem(self, code: int, where: str) -> None:
        if code in _TYPE_CODES:
            names = self.types.setdefault(_TYPE_CODES[code], [])
            if where not in names:
                names.append(where)

    def type_proto(self, tp: onnx.TypeProto, where: str) -> None:
        kind = tp.WhichOneof("value")
        if kind == "tensor_type":
            self.elem(tp.tensor_type.elem_type, where)
        elif kind == "sparse_tensor_type":
            self.count("sparse tensor types", 8)
            self.elem(tp.sparse_tensor_type.elem_type, where)
        elif kind == "optional_type":
            self.count("optional types", 8)
            self.type_proto(tp.optional_type.elem_type, where)
        elif kind == "sequence_type":
            self.type_proto(tp.sequence_type.elem_type, where)
        elif kind == "map_type":
            self.type_proto(tp.map_type.value_type, where)

    def value(self, value: onnx.ValueInfoProto) -> None:
        self.meta("values", value)
        self.type_proto(value.type, value.name)

    def tensor(self, tensor: onnx.TensorProto, where: str) -> None:
        self.meta("tensors", tensor)
        self.elem(tensor.data_type, tensor.name or where)

    def node(self, node: onnx.NodeProto) -> None:
        self.meta("nodes", node)
        self.count("overload on nodes", 10, int(bool(node.overload)))
        self.count("device_configurations on nodes", 11, int(len(node.device_configurations) > 0))
        for attribute in node.attribute:
            where = f"attribute {attribute.name} of {node.name or node.op_type}"
            if attribute.HasField("tp"):
                self.type_proto(attribute.tp, where)
            for tp in attribute.type_protos:
                self.type_proto(tp, where)

    def model(self, model: onnx.ModelProto) -> None:
        """Walk everything once, with course_utils.onnxfile.graph's walkers (subgraphs, function bodies, tensors)."""
        for graph in graphs(model):
            self.meta("graphs", graph)
            self.count("sparse initializers", 6, len(graph.sparse_initializer))
            for value in [*graph.input, *graph.output, *graph.value_info]:
                self.value(value)
        for node in nodes(model):
            self.node(node)
        for tensor in tensors(model):
            self.tensor(tensor, "a tensor attribute")
        for function in model.functions:
            self.meta("functions", function)
            self.count("overload on functions", 10, int(bool(function.overload)))
            self.count("attribute defaults (attribute_proto) in functions", 9, int(len(function.attribute_proto) > 0))
            for value in function.value_info:
                self.value(value)


def _names(names: list[str], limit: int = 3) -> str:
    shown = ", ".join(f"'{n}'" for n in names[:limit])
    return shown + (f" (+{len(names) - limit} more)" if len(names) > limit else "")


def ir_version_issues(model_or_path: ModelSource, ir_version: int | None = None) -> list[str]:
    """What the model uses that IR version ``ir_version`` (default: the model's own) does not have.

    ``onnx.checker`` does not compare the fields a file uses with the IR version it declares, and protobuf
    readers skip fields they do not know, so a file whose ``ir_version`` was lowered by hand loads and runs while
    claiming less than it uses. Each entry is one line, e.g. ``"metadata_props (IR 10) on 48 nodes"``. Checked:
    ``metadata_props`` and ``overload`` (IR 10), element types newer than IR 3 (BFLOAT16 ... FLOAT6, in value types,
    initializers and tensor attributes), model-local functions (IR 8) and their attribute defaults (IR 9), optional
    and sparse types (IR 8), sparse initializers (IR 6), training info (IR 7), multi-device fields (IR 11), and the
    opset imports, each of which first shipped with some IR version (``onnx.helper.find_min_ir_version_for``).
    Not a full validator: it covers what exporters write today. An empty list means nothing newer was found.
    """
    model = load_model(model_or_path, load_external_data=False)
    target = model.ir_version if ir_version is None else ir_version
    found = _IRFeatures()
    found.model(model)
    found.count("model-local functions", 8, len(model.functions))
    found.count("training_info", 7, len(model.training_info))
    found.count("multi-device configuration", 11, len(model.configuration))

    issues: list[str] = []
    for opset in model.opset_import:
        needs = onnx.helper.find_min_ir_version_for([opset], ignore_unknown=True)
        if needs > target:
            issues.append(
                f"opset {opset.version} of {domain_label(opset.domain)}, which first shipped with IR {needs} "
                "(onnx.helper.find_min_ir_version_for)"
            )
    if found.metadata and target < 10:
        order = ["nodes", "values", "graphs", "tensors", "functions"]
        kinds = [plural(found.metadata[kind], kind.removesuffix("s")) for kind in order if kind in found.metadata]
        listed = kinds[0] if len(kinds) == 1 else ", ".join(kinds[:-1]) + " and " + kinds[-1]
        issues.append(f"metadata_props (IR 10) on {listed}")
    for type_name, where in sorted(found.types.items(), key=lambda kv: (-_TYPE_IR_VERSION[kv[0]], kv[0])):
        if _TYPE_IR_VERSION[type_name] > target:
            shown = dtype_name(getattr(onnx.TensorProto, type_name))  # the course's one type vocabulary
            issues.append(f"element type {shown} (IR {_TYPE_IR_VERSION[type_name]}) in {_names(where)}")
    for (feature, needs), n in sorted(found.counts.items(), key=lambda kv: (-kv[0][1], kv[0][0])):
        if needs > target:
            issues.append(f"{feature} (IR {needs}): {n}")
    return issues


def _strip_metadata(model: onnx.ModelProto) -> None:
    for graph in graphs(model):
        del graph.metadata_props[:]
        for value in [*graph.input, *graph.output, *graph.value_info]:
            del value.metadata_props[:]
    for node in nodes(model):
        del node.metadata_props[:]
    for tensor in tensors(model):
        del tensor.metadata_props[:]
    for function in model.functions:
        del function.metadata_props[:]
        for value in function.value_info:
            del value.metadata_props[:]


def lower_ir_version(model_or_path: ModelSource, ir_version: int) -> onnx.ModelProto:
    """A copy of the model stamped with the older ``ir_version``, for a runtime that reads no newer.

    Below IR 10 it first removes every ``metadata_props`` entry on nodes, values, graphs, initializers and
    functions (IR 10 added them; exporters fill them with debugging information such as module names and stack
    traces, which no computation reads). Anything else the older IR version does not have (see
    :func:`ir_version_issues`: newer element types, an opset newer than that IR version, ...) cannot be dropped
    without changing the model, so it raises :class:`UnsupportedIRVersionError` naming it; re-export for the
    target instead. The model given is not modified. ``model.ir_version = n`` alone is not safe: the fields stay,
    and ``onnx.checker`` does not notice.
    """
    source = load_model(model_or_path)
    model = onnx.ModelProto()
    model.CopyFrom(source)
    if ir_version < 10:
        _strip_metadata(model)
    model.ir_version = ir_version
    issues = ir_version_issues(model)
    if issues:
        name = Path(model_or_path).name if isinstance(model_or_path, str | os.PathLike) else "the model"
        raise UnsupportedIRVersionError(
            f"cannot lower {name} to IR {ir_version}: it uses {'; '.join(issues)}. Re-export it for the target "
            "instead: an older opset_version (with torch, dynamo=False writes the IR version that matches the "
            "opset), or types that IR version has."
        )
    return model


# ---------------------------------------------------------------------------------------- runtime limits


@dataclass(frozen=True)
class RuntimeLimits:
    """The newest model versions an onnxruntime release loads.

    ``source`` says where the numbers come from: ``"measured"`` (:func:`runtime_limits`, the installed release)
    or ``"published table"`` (:data:`ORT_COMPATIBILITY`, ONNX Runtime's compatibility page).
    """

    onnxruntime_version: str
    max_ir_version: int
    max_opset: dict[str, int]
    source: str = "measured"

    @property
    def runtime_name(self) -> str:
        """The runtime's name with its version: ``onnxruntime 1.32.0``, ``onnxruntime-web 1.31.1``."""
        package = self.source if self.source in NPM_PACKAGE_NAMES else "onnxruntime"
        return f"{package} {self.onnxruntime_version}"

    @property
    def npm(self) -> bool:
        """Whether this is one of the npm packages (onnxruntime-web, onnxruntime-node), not a Python release."""
        return self.source in NPM_PACKAGE_NAMES

    def __str__(self) -> str:
        opsets = ", ".join(f"{domain} {v}" for domain, v in sorted(self.max_opset.items()))
        return f"{self.runtime_name}: IR version <= {self.max_ir_version}; opsets <= {opsets}"

    def __repr__(self) -> str:
        return str(self)


def _probe_model(ir_version: int, opsets: dict[str, int]) -> bytes:
    helper = onnx.helper
    x = helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1])
    y = helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1])
    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "probe", [x], [y])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid(d, v) for d, v in opsets.items()])
    model.ir_version = ir_version
    serialized: bytes = model.SerializeToString()
    return serialized


@functools.cache
def runtime_limits() -> RuntimeLimits:
    """Measure the highest IR version and opsets this onnxruntime accepts.

    ONNX Runtime has no API that reports them (onnxruntime issue #14932), so this loads tiny models stamped
    with far-future versions and reads the limits from the refusals.
    """
    too_new = 10_000

    from course_utils.runtime.sessions import create_session  # runtime.run imports this module: import when needed

    def refusal(ir_version: int, opsets: dict[str, int]) -> str:
        try:
            create_session(_probe_model(ir_version, opsets))
        except Exception as error:
            return str(error)
        return ""

    ir_text = refusal(too_new, {"": 7})
    ir_match = re.search(r"max supported IR version: (\d+)", ir_text)
    max_opset: dict[str, int] = {}
    for domain, label in (("", "ai.onnx"), ("ai.onnx.ml", "ai.onnx.ml")):
        opsets = {"": 7, domain: too_new} if domain else {"": too_new}
        match = re.search(r"is till opset (\d+)", refusal(8, opsets))
        if match:
            max_opset[label] = int(match.group(1))
    if ir_match is None or "ai.onnx" not in max_opset:
        raise RuntimeError(f"could not measure the limits of onnxruntime {ort.__version__}: {ir_text[:200]}")
    return RuntimeLimits(ort.__version__, int(ir_match.group(1)), max_opset)


# ONNX Runtime's compatibility page (onnxruntime.ai/docs/reference/compatibility.html, "ONNX opset support"):
# release -> (onnx release it follows, ai.onnx opset, ai.onnx.ml opset, IR version). Releases after 1.20 are not
# listed there; the installed one is measured instead (runtime_limits).
_PUBLISHED: dict[str, tuple[str, int, int, int]] = {
    "1.0": ("1.6", 11, 2, 6),
    "1.1": ("1.6", 11, 2, 6),
    "1.2": ("1.6", 11, 2, 6),
    "1.3": ("1.7", 12, 2, 7),
    "1.4": ("1.7", 12, 2, 7),
    "1.5": ("1.7", 12, 2, 7),
    "1.6": ("1.8", 13, 2, 7),
    "1.7": ("1.8", 13, 2, 7),
    "1.8": ("1.9", 14, 2, 7),
    "1.9": ("1.10", 15, 2, 8),
    "1.10": ("1.10", 15, 2, 8),
    "1.11": ("1.11", 16, 2, 8),
    "1.12": ("1.12", 17, 3, 8),
    "1.13": ("1.12", 17, 3, 8),
    "1.14": ("1.13", 18, 3, 8),
    "1.15": ("1.14", 19, 3, 8),
    "1.16": ("1.14.1", 19, 3, 9),
    "1.17": ("1.15", 20, 4, 9),
    "1.18": ("1.16", 21, 4, 10),
    "1.19": ("1.16.1", 21, 4, 10),
    "1.20": ("1.16.1", 21, 4, 10),
}

#: ONNX Runtime release (major.minor) -> the limits its compatibility page publishes.
ORT_COMPATIBILITY: dict[str, RuntimeLimits] = {
    release: RuntimeLimits(release, ir, {"ai.onnx": opset, "ai.onnx.ml": ml}, source="published table")
    for release, (_onnx, opset, ml, ir) in _PUBLISHED.items()
}


# The npm packages the course pins (deploy/js/package-lock.json). Their limits were measured by loading probe
# models in Node.js (tests/test_web_compat.py loads them again and fails if a number here is wrong): both refuse
# IR 14 ("Unsupported model IR version: 14, max supported IR version: 13"), ai.onnx opset 27 and ai.onnx.ml 6.
NPM_PACKAGE_NAMES = ("onnxruntime-web", "onnxruntime-node")
NPM_VERSION = "1.31.1"
#: ``"web"`` (onnxruntime-web: WebAssembly, WebGPU) and ``"node"`` (onnxruntime-node) -> their limits.
NPM_RUNTIMES: dict[str, RuntimeLimits] = {
    target: RuntimeLimits(NPM_VERSION, 13, {"ai.onnx": 26, "ai.onnx.ml": 5}, source=package)
    for target, package in (("web", "onnxruntime-web"), ("node", "onnxruntime-node"))
}
#: Element types the JavaScript API (``ort.Tensor``, onnxruntime-common 1.31) has a tensor type for. A graph
#: input or output of another type (bfloat16, the float8 types, int2/uint2, float8e8m0) makes both npm packages
#: refuse the session ("unsupported data type: 16"), even though the same type inside the graph runs.
JS_TENSOR_TYPES = frozenset(
    {
        "FLOAT", "UINT8", "INT8", "UINT16", "INT16", "INT32", "INT64", "STRING", "BOOL", "FLOAT16", "DOUBLE",
        "UINT32", "UINT64", "INT4", "UINT4",
    }
)  # fmt: skip


def _minor(version: str) -> str:
    match = re.match(r"\s*v?(\d+)\.(\d+)", version)
    if match is None:
        raise ValueError(
            f"'{version}' is not an onnxruntime release number nor a target: write a release as major.minor, e.g. "
            "'1.14' or '1.17.3', or name a target: 'web', 'node' or 'python'."
        )
    return f"{int(match.group(1))}.{int(match.group(2))}"


def limits_for(onnxruntime_version: str | None = None) -> RuntimeLimits:
    """The limits of a target: ``None``, ``"python"`` or the installed release is measured
    (:func:`runtime_limits`); ``"web"`` and ``"node"`` are the npm packages the course pins
    (:data:`NPM_RUNTIMES`); an older release comes from :data:`ORT_COMPATIBILITY` (patch releases share their
    minor release's row, so ``"1.14.1"`` reads as ``"1.14"``). A release in none raises ``ValueError``
    listing the known ones.
    """
    name = (onnxruntime_version or "").strip().lower()
    if name in NPM_RUNTIMES:
        return NPM_RUNTIMES[name]
    installed = runtime_limits()
    if name in ("", "python") or _minor(name) == _minor(installed.onnxruntime_version):
        return installed
    release = _minor(name)
    if release in ORT_COMPATIBILITY:
        return ORT_COMPATIBILITY[release]
    known = ", ".join(ORT_COMPATIBILITY)
    npm = [key for key, limits in NPM_RUNTIMES.items() if _minor(limits.onnxruntime_version) == release]
    if npm:
        npm_version = NPM_RUNTIMES[npm[0]].onnxruntime_version
        raise ValueError(
            f"onnxruntime {onnxruntime_version} is not in the published compatibility table ({known}): for the npm "
            f"{npm_version} packages use --target {' or '.join(npm)}."
        )
    raise ValueError(
        f"onnxruntime {onnxruntime_version} is not in the published compatibility table ({known}) and is not "
        f"the installed release ({installed.onnxruntime_version}): pick one of these, 'web', 'node' or 'python', "
        "or install it and measure."
    )
