"""Will this model run on that ONNX Runtime? Checked before deploying, with the reason and the fix for each problem.

In a notebook::

    from course_utils.compat import check_compatibility
    report = check_compatibility("model.onnx", onnxruntime="1.14")
    report.compatible, report.reasons

From a shell (first line the verdict, then one line per reason with its fix, then what could not be verified)::

    python -m course_utils.compat model.onnx                 # the installed onnxruntime (--target python)
    python -m course_utils.compat model.onnx --target web    # onnxruntime-web 1.31.1, the browser (also: node)
    python -m course_utils.compat model.onnx --target 1.14   # a release (older spelling: --onnxruntime 1.14)

Three verdicts, each with its exit code: ``compatible`` (0), ``incompatible`` (1: at least one reason is certain),
``cannot verify`` (3: nothing found wrong, but something the check cannot know, e.g. whether an old release has an
ONNX Runtime contrib operator its published table does not list, or a model ``onnx.checker`` rejects that could not
be loaded to settle it). Exit 2 is a one-line error for a file that is not a model or an unknown release.

The target is the installed onnxruntime (its limits measured, its kernels listed, and the model loaded in a
session to be sure), one of the npm packages the course pins (``web``: onnxruntime-web, ``node``:
onnxruntime-node; their limits in :data:`course_utils.versions.NPM_RUNTIMES`, the model loaded by the package
itself in Node.js when Node.js is installed, since their builds differ from Python's: no tensor type for bfloat16
or float8 inputs, other kernels and schemas), or an older release from ONNX Runtime's published compatibility table
(:data:`course_utils.versions.ORT_COMPATIBILITY`: releases 1.0 to 1.20, the ones that page lists). Another release
is refused with a ValueError that says so, rather than guessed. Checked: the IR version, the opset of each domain, the
operators (standard ones newer than the runtime's opset or deprecated at the model's opset; for the installed runtime,
ones it has no kernel or function for), domains it does not know (custom operators; a model-local function is not
one: ONNX Runtime inlines it, and its body's operators are checked instead), and external data files beside the
model. ``onnx.checker.check_model`` runs first.
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import onnx
import onnx.defs

from course_utils.errors import CourseError, ExternalDataMissingError, first_line
from course_utils.onnxfile.graph import domain_label, subgraphs
from course_utils.onnxfile.modelio import ModelSource, external_data_files, load_model
from course_utils.onnxfile.render import print_to_pipe
from course_utils.paths import relative_to_repo
from course_utils.versions.limits import JS_TENSOR_TYPES, RuntimeLimits, ir_version_issues, limits_for, runtime_limits

__all__ = ["CANNOT_VERIFY", "COMPATIBLE", "INCOMPATIBLE", "CompatReport", "Reason", "check_compatibility", "main"]

COMPATIBLE, INCOMPATIBLE, CANNOT_VERIFY = "compatible", "incompatible", "cannot verify"
_EXIT_CODES = {COMPATIBLE: 0, INCOMPATIBLE: 1, CANNOT_VERIFY: 3}  # 2: the input is not a model

_MIN_OPSET = 7  # every ONNX Runtime release reads ai.onnx opset 7 and newer (its compatibility page)
_ORT_DOMAINS = ("", "ai.onnx", "ai.onnx.ml", "com.microsoft")


@dataclass(frozen=True)
class Reason:
    """One problem: what is wrong (``what``) and how to fix it (``fix``)."""

    what: str
    fix: str

    def __str__(self) -> str:
        return f"{self.what}: {self.fix}"


@dataclass(frozen=True)
class CompatReport:
    """Whether ``target`` can load and run the model; ``reasons`` are the problems, ``unverified`` what the check
    cannot know (each with how to find out), ``notes`` facts worth knowing."""

    model_name: str
    target: RuntimeLimits
    reasons: tuple[Reason, ...]
    notes: tuple[str, ...] = ()
    unverified: tuple[Reason, ...] = ()

    @property
    def verdict(self) -> str:
        """``"incompatible"`` when a reason is certain, else ``"cannot verify"`` when something could not be
        checked, else ``"compatible"``."""
        if self.reasons:
            return INCOMPATIBLE
        return CANNOT_VERIFY if self.unverified else COMPATIBLE

    @property
    def compatible(self) -> bool:
        """True only when the model is known to load and run there (not when something could not be verified)."""
        return self.verdict == COMPATIBLE

    @property
    def exit_code(self) -> int:
        """What the CLI exits with: 0 compatible, 1 incompatible, 3 cannot verify."""
        return _EXIT_CODES[self.verdict]

    def __bool__(self) -> bool:
        return self.compatible

    def lines(self) -> list[str]:
        """The report as the CLI prints it: the verdict, one line per reason, what could not be verified, notes."""
        return [
            self.verdict,
            *(f"- {r}" for r in self.reasons),
            *(f"? cannot verify {r}" for r in self.unverified),
            *(f"note: {n}" for n in self.notes),
        ]

    def __str__(self) -> str:
        return "\n".join(self.lines())

    def __repr__(self) -> str:
        return str(self)


def _target_name(target: RuntimeLimits) -> str:
    if target.npm:
        return f"{target.runtime_name} (npm)"
    where = "installed, measured" if target.source == "measured" else "from its published table"
    return f"onnxruntime {target.onnxruntime_version} ({where})"


def _js_type_problems(model: onnx.ModelProto) -> list[str]:
    """Graph inputs and outputs whose element type the JavaScript API has no tensor for (npm targets refuse them)."""
    found = []
    for kind, values in (("input", model.graph.input), ("output", model.graph.output)):
        initializers = {t.name for t in model.graph.initializer}
        for value in values:
            if value.name in initializers or value.type.WhichOneof("value") != "tensor_type":
                continue
            code = value.type.tensor_type.elem_type
            name = onnx.TensorProto.DataType.Name(code) if code else "UNDEFINED"
            if code and name not in JS_TENSOR_TYPES:
                found.append(f"{kind} '{value.name}' ({name.lower()})")
    return found


def _npm_load(source: ModelSource, model: onnx.ModelProto, runtime: str) -> tuple[str | None, str | None]:
    """(refusal, why not loaded): the npm runtime's own verdict, loading the model in Node.js; the second item
    is set (and the first None) when Node.js or the npm packages are missing."""
    import tempfile

    from course_utils.deploy.node import npm_load_errors  # deploy imports versions, never at import time here

    try:
        if isinstance(source, str | os.PathLike) and Path(source).suffix.lower() in (".onnx", ".ort"):
            return npm_load_errors([source], "web" if runtime == "onnxruntime-web" else "node")[0], None
        with tempfile.TemporaryDirectory(prefix="course-compat-") as tmp:
            path = Path(tmp) / "model.onnx"
            path.write_bytes(model.SerializeToString())
            return npm_load_errors([path], "web" if runtime == "onnxruntime-web" else "node")[0], None
    except CourseError as error:  # NodeNotFoundError, NpmPackagesMissingError: one line with how to install
        return None, str(error)


def _reexport(opset: int) -> str:
    return f"torch.onnx.export(..., opset_version={opset}, dynamo=False); skl2onnx/tf2onnx: target_opset={opset}"


def _all_nodes(graph: onnx.GraphProto | onnx.FunctionProto) -> list[onnx.NodeProto]:
    return [*graph.node, *(node for _, sub in subgraphs(graph.node) for node in sub.node)]


def _nodes_and_imports(model: onnx.ModelProto) -> list[tuple[onnx.NodeProto, dict[str, int]]]:
    """Every node ONNX Runtime will run with the opsets it is resolved against: the graph's (and its subgraphs'),
    then the bodies of the model-local functions (ONNX Runtime inlines them) with each function's own imports."""
    model_imports = {e.domain or "": int(e.version) for e in model.opset_import}
    pairs = [(node, model_imports) for node in _all_nodes(model.graph)]
    for function in model.functions:
        imports = {**model_imports, **{e.domain or "": int(e.version) for e in function.opset_import}}
        pairs += [(node, imports) for node in _all_nodes(function)]
    return pairs


def _checker_problem(model: onnx.ModelProto, source: ModelSource) -> str | None:
    """``onnx.checker.check_model``'s first line, or None when it accepts the model (from its file when there is one,
    so external data and models over 2 GiB are read where they are)."""
    target: onnx.ModelProto | str = str(source) if isinstance(source, str | os.PathLike) else model
    try:
        onnx.checker.check_model(target)
    except (onnx.checker.ValidationError, ValueError) as error:
        return first_line(error)[:300]
    return None


def _deprecated(op_type: str, opset: int, domain: str) -> int | None:
    """The opset since which ``op_type`` is deprecated at ``opset``, or None (ONNX Runtime refuses such nodes)."""
    try:
        schema = onnx.defs.get_schema(op_type, opset, domain)
    except onnx.defs.SchemaError:
        return None
    return int(schema.since_version) if schema.deprecated else None


@functools.cache
def _first_versions() -> dict[tuple[str, str], int]:
    first: dict[tuple[str, str], int] = {}
    for schema in onnx.defs.get_all_schemas_with_history():
        key = (schema.name, schema.domain)
        first[key] = min(first.get(key, schema.since_version), schema.since_version)
    return first


def _since(op_type: str, opset: int, domain: str) -> int | None:
    try:
        return int(onnx.defs.get_schema(op_type, opset, domain).since_version)
    except onnx.defs.SchemaError:
        return None


def _is_function(op_type: str, opset: int, domain: str) -> bool:
    try:
        schema = onnx.defs.get_schema(op_type, opset, domain)
    except onnx.defs.SchemaError:
        return False
    return bool(getattr(schema, "has_function", False) or getattr(schema, "has_context_dependent_function", False))


#: Operators ONNX Runtime turns into initializers while it builds the graph (``Graph`` replaces each ``Constant``
#: node with the tensor it holds), so no build registers a kernel for them.
_LOADED_AS_DATA = {("Constant", "")}


@functools.cache
def _kernels() -> dict[tuple[str, str], list[tuple[int, int]]]:
    from onnxruntime.capi import onnxruntime_pybind11_state as state

    found: dict[tuple[str, str], list[tuple[int, int]]] = {}
    for kernel in state.get_all_opkernel_def():
        if kernel.provider == "CPUExecutionProvider":
            low, high = kernel.version_range
            found.setdefault((kernel.op_name, kernel.domain or ""), []).append((int(low), int(high)))
    return found


def _external_missing(model: onnx.ModelProto, source: ModelSource) -> list[str]:
    files = external_data_files(model)
    if not files:
        return []
    if not isinstance(source, str | os.PathLike):
        return files  # a ModelProto in memory: nothing beside it to read
    folder = Path(source).parent
    return [
        f
        for f in files
        if not (folder / f).resolve().is_file() or not (folder / f).resolve().is_relative_to(folder.resolve())
    ]


def _try_session(source: ModelSource, model: onnx.ModelProto) -> str | None:
    from course_utils.runtime.sessions import create_session, session_options

    target: str | bytes = str(source) if isinstance(source, str | os.PathLike) else model.SerializeToString()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            # The refusal is reported below, once: no C++ log lines on stderr (log severity 4, fatal only).
            create_session(target, session_options(log_severity=4))
    except Exception as error:  # ORT raises its own pybind types; the first line says what it could not do
        return first_line(error)[:300]
    return None


def check_compatibility(
    model_or_path: ModelSource,
    onnxruntime: str | None = None,
    *,
    try_load: bool = True,
    target: str | None = None,
) -> CompatReport:
    """Whether a runtime (default: the installed onnxruntime) can load and run the model, and why not.

    ``onnxruntime`` (or, the same, ``target``) is ``"python"`` (the installed release), ``"web"``
    (onnxruntime-web, the browser), ``"node"`` (onnxruntime-node) or a release number (``"1.14"``,
    ``"1.17.3"``); releases other than the installed one come from
    :data:`course_utils.versions.ORT_COMPATIBILITY`. For the installed release, ``try_load`` also creates a
    session once the static checks pass (ONNX Runtime's own verdict); for ``web`` and ``node`` it loads the model
    in that npm package in Node.js (onnxruntime-web on its WebAssembly backend, the code a browser runs), and
    without Node.js says it cannot verify what only that build knows (its kernels). A missing file or one that is
    not a model raises the one-line errors of :func:`course_utils.onnxfile.modelio.load_model`; an unknown
    release raises ``ValueError``.
    """
    if target is not None and onnxruntime is not None and target != onnxruntime:
        raise ValueError(f"give the target once: onnxruntime={onnxruntime!r} and target={target!r} differ")
    limits = limits_for(target if target is not None else onnxruntime)
    return _check(model_or_path, limits, try_load=try_load)


def _check(model_or_path: ModelSource, target: RuntimeLimits, *, try_load: bool) -> CompatReport:
    try:
        model = load_model(model_or_path, load_external_data=False)
    except ExternalDataMissingError:
        # A readable graph whose weights are not beside it: that is one of the reasons below, not an error.
        model = onnx.load_model(str(model_or_path), load_external_data=False)
    name = relative_to_repo(model_or_path) if isinstance(model_or_path, str | os.PathLike) else "the model"
    runtime = _target_name(target)
    reasons: list[Reason] = []
    notes: list[str] = []
    unverified: list[Reason] = []
    checker = _checker_problem(model, model_or_path)
    pairs = _nodes_and_imports(model)
    functions = {(f.domain, f.name) for f in model.functions}

    if model.ir_version > target.max_ir_version:
        top = target.max_ir_version
        newer = ir_version_issues(model, top)
        fix = (
            f"lower it with course_utils.versions.lower_ir_version(model, {top}) (it uses nothing IR {top} lacks "
            "besides metadata), or upgrade onnxruntime"
            if all(i.startswith("metadata_props") for i in newer)
            else f"re-export for the target ({_reexport(target.max_opset['ai.onnx'])}) or upgrade onnxruntime; "
            f"lowering the number alone would hide: {'; '.join(dict.fromkeys(newer))}"
        )
        reasons.append(Reason(f"IR version {model.ir_version} > {top}, the newest {runtime} reads", fix))

    imports = {e.domain or "": int(e.version) for e in model.opset_import}
    for domain, version in sorted(imports.items()):
        label = domain_label(domain)
        if domain in ("", "ai.onnx"):
            top = target.max_opset["ai.onnx"]
            if version > top:
                reasons.append(
                    Reason(
                        f"ai.onnx opset {version} > {top}, the newest {runtime} implements",
                        f"re-export at opset {top} ({_reexport(top)}), or convert down "
                        f"with onnx.version_converter.convert_version(model, {top}) if every node has an adapter; "
                        "or upgrade onnxruntime",
                    )
                )
            elif version < _MIN_OPSET:
                what = f"ai.onnx opset {version} < {_MIN_OPSET}, the oldest ONNX Runtime guarantees"
                fix = f"convert up with onnx.version_converter.convert_version(model, {_MIN_OPSET}) or newer"
                if target.source == "measured":  # the kernel check below says whether this build still runs it
                    notes.append(f"{what} (it may run through legacy kernels): {fix}")
                else:
                    reasons.append(Reason(what, fix))
        elif domain == "ai.onnx.ml":
            top = target.max_opset.get("ai.onnx.ml", 0)
            if version > top:
                reasons.append(
                    Reason(
                        f"ai.onnx.ml opset {version} > {top}, the newest {runtime} implements",
                        f"convert with an older target_opset (skl2onnx: target_opset={{'ai.onnx.ml': {top}}}), "
                        "or upgrade onnxruntime",
                    )
                )
        elif domain == "com.microsoft":
            ops = sorted(
                {n.op_type for n, _ in pairs if n.domain == "com.microsoft" and (domain, n.op_type) not in functions}
            )
            shown = ", ".join(ops[:5]) + (f" (+{len(ops) - 5} more)" if len(ops) > 5 else "")
            notes.append(
                f"com.microsoft operators ({shown or 'none used'}): ONNX Runtime's own (an ORT-optimized file, or "
                "one quantized in the QOperator format); this model runs only on ONNX Runtime"
            )
            if ops and target.source == "published table":  # npm targets: the load below settles it
                unverified.append(
                    Reason(
                        f"whether {runtime} has the com.microsoft operators {shown}",
                        "its published table lists opsets, not ONNX Runtime's own (contrib) operators, which change "
                        f"between releases: install onnxruntime=={target.onnxruntime_version} and run this check there",
                    )
                )
        elif not domain.startswith("com.microsoft"):
            # A model-local function is no custom operator: ONNX Runtime inlines its body (checked below).
            ops = sorted({n.op_type for n, _ in pairs if n.domain == domain and (domain, n.op_type) not in functions})
            if ops:  # an import no node uses (ORT-optimized files list several) costs nothing
                reasons.append(
                    Reason(
                        f"custom domain '{label}' (operators: {', '.join(ops[:5]) or 'none used'}) is not part of "
                        "ONNX Runtime",
                        "register the library that implements them (SessionOptions.register_custom_ops_library, "
                        "or onnxruntime-extensions), or re-export without custom operators",
                    )
                )

    # Standard operators the target cannot have: newer than its opset, or (installed) without kernel or function.
    kernels = _kernels() if target.source == "measured" else None  # npm builds: their load below says
    lacking: dict[str, str] = {}
    deprecated_ops: dict[str, str] = {}
    for node, node_imports in pairs:
        domain = "" if node.domain == "ai.onnx" else node.domain
        if (node.domain, node.op_type) in functions or domain not in ("", "ai.onnx.ml", "com.microsoft"):
            continue
        node_opset = node_imports.get(domain) if domain != "" else node_imports.get("", node_imports.get("ai.onnx"))
        if node_opset is None:
            lacking.setdefault(
                f"{domain_label(domain)}:{node.op_type}", f"its domain {domain_label(domain)} is not imported"
            )
            continue
        if domain == "com.microsoft":
            if kernels is not None and (node.op_type, domain) not in kernels:
                lacking.setdefault(f"com.microsoft:{node.op_type}", "this build has no kernel for it")
            continue
        since = _since(node.op_type, node_opset, domain)
        if since is None:
            first = _first_versions().get((node.op_type, domain))
            why = f"it first appears in opset {first}" if first else "onnx knows no such operator"
            lacking.setdefault(f"{domain_label(domain)}:{node.op_type}", why)
            continue
        top = target.max_opset.get(domain_label(domain), 0)
        deprecated = _deprecated(node.op_type, node_opset, domain)
        if deprecated is not None:
            deprecated_ops.setdefault(node.op_type, f"since {domain_label(domain)} opset {deprecated}")
        elif since > top:
            lacking.setdefault(
                f"{node.op_type}-{since}",
                f"defined in opset {since}, newer than the runtime's {domain_label(domain)} {top}",
            )
        elif kernels is not None and (node.op_type, domain) not in _LOADED_AS_DATA:
            ranges = kernels.get((node.op_type, domain), [])
            if not any(low <= since <= high for low, high in ranges) and not _is_function(
                node.op_type, node_opset, domain
            ):
                lacking.setdefault(f"{node.op_type}-{since}", "this build has no CPU kernel for that version")
    if lacking:
        listed = "; ".join(f"{op} ({why})" for op, why in sorted(lacking.items())[:6])
        more = f" (+{len(lacking) - 6} more)" if len(lacking) > 6 else ""
        reasons.append(
            Reason(
                f"operators {runtime} lacks: {listed}{more}",
                "re-export at an opset the runtime implements (the exporter writes older operators instead), or "
                "upgrade onnxruntime",
            )
        )

    if deprecated_ops:
        listed = "; ".join(f"{op} ({since})" for op, since in sorted(deprecated_ops.items()))
        reasons.append(
            Reason(
                f"deprecated operators at the model's opset, which onnx.checker and every ONNX Runtime refuse: {listed}",
                "write the operator that replaced each (Upsample: Resize); an exporter at this opset does that, "
                "so re-export",
            )
        )

    if target.npm:
        wrong_types = _js_type_problems(model)
        if wrong_types:
            reasons.append(
                Reason(
                    f"graph {', '.join(wrong_types[:4])}: the JavaScript API ({runtime}) has no tensor type for it, "
                    "so the session is refused ('unsupported data type')",
                    "make the model's inputs and outputs float32, float16 or an integer type and cast inside the "
                    "graph (a Cast node inside the model runs)",
                )
            )

    missing = _external_missing(model, model_or_path)
    if missing:
        listed = ", ".join(missing[:3]) + (f" (+{len(missing) - 3} more)" if len(missing) > 3 else "")
        reasons.append(
            Reason(
                f"external data file(s) missing beside the model: {listed}",
                "copy them next to the .onnx file (the names are relative to its folder), or save the model with "
                "its weights inside (onnx.save(model, path, save_as_external_data=False), under 2 GiB)",
            )
        )

    loaded = False
    if not reasons and try_load and target.source == "measured":
        refusal = _try_session(model_or_path, model)
        loaded = refusal is None
        if refusal is not None:
            reasons.append(
                Reason(
                    f"{runtime} refused to load it: {refusal}",
                    "read the message: usually an operator or type this build lacks; re-export, or upgrade",
                )
            )
    if not reasons and try_load and target.npm:
        refusal, why_not = _npm_load(model_or_path, model, target.source)
        loaded = why_not is None and refusal is None
        if refusal is not None:
            reasons.append(
                Reason(
                    f"{runtime} refused to load it: {refusal}",
                    "read the message: usually an operator, attribute or type this build lacks; re-export for it",
                )
            )
        elif why_not is not None:
            unverified.append(
                Reason(
                    f"whether {runtime} has a kernel for every operator (its build differs from the Python one)",
                    f"load it there: {why_not}",
                )
            )
        else:
            where = "on its WebAssembly backend, " if target.source == "onnxruntime-web" else ""
            notes.append(f"loaded by {runtime} {where}in Node.js")
    if checker is not None and not reasons:
        if loaded:
            notes.append(f"onnx.checker.check_model rejects it ({checker}), yet {runtime} loads it")
        else:
            unverified.append(
                Reason(
                    f"a model onnx.checker.check_model rejects ({checker})",
                    "the table cannot say whether the runtime accepts an invalid model: fix what the checker "
                    "names, or load it in that release",
                )
            )
    elif checker is not None and not deprecated_ops:
        notes.append(f"onnx.checker.check_model: {checker}")
    if target.npm and not try_load and not reasons:
        notes.append(f"checked against {target.runtime_name}'s limits without loading it (its kernels unchecked)")
    if model.ir_version and target.source == "published table" and not reasons:
        notes.append(f"checked against the published table for {target.onnxruntime_version}, without loading")
    return CompatReport(str(name), target, tuple(reasons), tuple(notes), tuple(unverified))


class _Parser(argparse.ArgumentParser):
    """Bad arguments as one line, like the gate's: ``error: ... (see python -m course_utils.compat --help)``, exit 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {message} (see python -m course_utils.compat --help)\n")


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m course_utils.compat MODEL [--target web|node|python|RELEASE]``: exit 0 compatible, 1 incompatible,
    3 cannot verify, 2 with one line on stderr when the input is not a model (or the release is unknown)."""
    parser = _Parser(
        prog="python -m course_utils.compat",
        description="Say whether an ONNX Runtime release can load and run a model, and what to change if not.",
    )
    parser.add_argument("model", help="path to a .onnx file")
    which = parser.add_mutually_exclusive_group()
    which.add_argument(
        "--target",
        metavar="TARGET",
        help=(
            "web (onnxruntime-web, the browser), node (onnxruntime-node), python (the installed onnxruntime, "
            f"{runtime_limits().onnxruntime_version}; the default) or a release: 1.0 to 1.20 (ONNX Runtime's "
            "published table)"
        ),
    )
    which.add_argument("--onnxruntime", metavar="VERSION", help="a release, as --target RELEASE (the older spelling)")
    args = parser.parse_args(argv)
    try:
        report = check_compatibility(args.model, args.target if args.target is not None else args.onnxruntime)
    except (CourseError, OSError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print_to_pipe(str(report))
    return report.exit_code


if __name__ == "__main__":
    sys.exit(main())
