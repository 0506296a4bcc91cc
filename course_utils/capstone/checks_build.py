"""The rubric of stages 2-4: export with a dynamic batch, pass for the web, optimize and benchmark against eager.
Each checker raises :class:`~course_utils.lessons.exercises.NotYet` (what is wrong and why, never the fix) or
returns :class:`~course_utils.capstone.stages.Passed` with the report card's numbers."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import onnx

from course_utils.capstone.evidence import (
    describe_parity,
    input_type,
    load_answer,
    parity,
)
from course_utils.capstone.stages import Passed
from course_utils.errors import first_line
from course_utils.lessons.exercises import NotYet, expect
from course_utils.onnxfile.render import format_bytes, plural

__all__ = [
    "RELEASE_PRODUCER",
    "check_export",
    "check_optimized",
    "check_web",
    "web_limits",
]

# ------------------------------------------------------------------------------------------------ stage 2


def _batch_dims(model: onnx.ModelProto) -> tuple[onnx.TensorShapeProto.Dimension, onnx.TensorShapeProto.Dimension]:
    initializers = {t.name for t in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in initializers]
    expect(
        len(inputs) == 1 and len(model.graph.output) >= 1,
        f"the file has {len(inputs)} inputs",
        why="the classifier takes one batch of images",
    )
    first_in = inputs[0].type.tensor_type.shape.dim
    first_out = model.graph.output[0].type.tensor_type.shape.dim
    expect(len(first_in) == 4, "the file's input is not a 4-D image batch", got=input_type(model))
    return first_in[0], first_out[0] if len(first_out) else onnx.TensorShapeProto.Dimension()


def _dynamic_batch(model: onnx.ModelProto) -> None:
    dim_in, dim_out = _batch_dims(model)
    expect(
        bool(dim_in.dim_param),
        f"the input's batch dimension is fixed at {dim_in.dim_value}",
        why="a session would reject any other number of photos: the page sends one, the gate and the benchmark "
        "send others",
        expected="a named (symbolic) first dimension",
        got=input_type(model),
    )
    expect(
        bool(dim_out.dim_param),
        "the output's batch dimension is not symbolic",
        why="a caller reads one row of logits per photo, however many photos it sends",
        got=f"first output dimension {dim_out.dim_value or '?'}",
    )


def check_export(path: Any = None) -> Passed:
    """Stage 2: ``path`` is the exported file: full check and shape inference pass, the batch is symbolic, and
    ONNX Runtime's logits match eager PyTorch's on two batch sizes."""
    model, path = load_answer(path, "the path of the exported .onnx file")
    try:
        onnx.checker.check_model(model, full_check=True)
    except Exception as error:
        raise NotYet("onnx's full check rejects the file", got=first_line(error)[:300]) from None
    _dynamic_batch(model)
    inferred = onnx.shape_inference.infer_shapes(model, strict_mode=True)
    dims = inferred.graph.output[0].type.tensor_type.shape.dim
    expect(
        len(dims) == 2 and dims[1].dim_value == 1000,
        "shape inference cannot tell that the output is 1,000 logits per photo",
        why="tools that read the file (the checker, converters, the page) rely on the shapes it declares",
        got=f"{len(dims)} output dimensions",
    )
    difference = parity(path)
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)
    return Passed(
        f"{path.name}: full check and shape inference pass, batch symbolic, logits match eager PyTorch",
        (
            ("input", input_type(model)),
            ("IR version, opset", f"{model.ir_version}, {opset}"),
            ("max |ONNX - eager| (batches of 2 and 5)", describe_parity(difference)),
        ),
    )


# ------------------------------------------------------------------------------------------------ stage 3


def web_limits() -> Any:
    """The limits of the browser's onnxruntime-web (``course_utils.versions.limits_for("web")``)."""
    from course_utils.versions.limits import limits_for

    return limits_for("web")


def _kind(report: Any, web: Any) -> str:
    import onnxruntime as ort

    target = report.target
    if target == web:
        return "web"
    if target.source == "measured" and target.onnxruntime_version == ort.__version__:
        return "python"
    if target.source == "published table":
        return "old"
    return "other"


#: The producer name :func:`~course_utils.capstone.scenario.stamp_release` writes: how the rubric knows a file is
#: the release script's output.
RELEASE_PRODUCER = "release-script"


def _report_path(name: str) -> Path | None:
    """The file a :class:`CompatReport` names (``relative_to_repo``'s text), or None when it names none."""
    from course_utils import paths

    if name.startswith("artifacts/"):
        candidate = paths.ARTIFACTS_DIR / name.removeprefix("artifacts/")
    else:
        candidate = Path(name) if Path(name).is_absolute() else paths.REPO_ROOT / name
    return candidate if candidate.is_file() else None


def _released_file(items: Sequence[Any]) -> str:
    """The one file every report is about, which must be the release script's output; returns its name."""
    names = sorted({r.model_name for r in items})
    files = [_report_path(n) for n in names]
    expect(
        all(f is not None for f in files),
        "a report does not name a file on disk",
        why="the rubric reads the file each report is about, to tell it is the file the release script wrote",
        expected="reports made from the path of the released file",
        got=", ".join(names),
    )
    expect(
        len(names) == 1,
        f"the reports are about {len(names)} different files",
        why="the three verdicts compare targets for one file, the one that ships",
        got=", ".join(names),
    )
    producer = onnx.load(str(files[0]), load_external_data=False).producer_name
    expect(
        producer == RELEASE_PRODUCER,
        "the reports are not about the file the release script wrote",
        why="the release script rebuilds the file before it ships, and what it changes is what a target may "
        "refuse: the checker must read its output, not the file before it",
        expected=f"a file whose producer is {RELEASE_PRODUCER!r}",
        got=f"{names[0]}, producer {producer!r}",
    )
    return str(names[0])


def _full_check(model: onnx.ModelProto, path: Path) -> None:
    try:
        onnx.checker.check_model(model, full_check=True)
    except Exception as error:
        raise NotYet(
            f"onnx's full check rejects {path.name}",
            why="an invalid file is one no runtime promises to read: a verdict about it is a guess",
            got=first_line(error)[:300],
        ) from None


def _web_compatible(path: Path, why: str) -> None:
    from course_utils.versions.compat import check_compatibility

    report = check_compatibility(path, "web", try_load=False)
    expect(
        report.verdict == "compatible",
        "the compatibility checker does not say the web target can load the file",
        why=why,
        expected="the verdict 'compatible' for the target 'web'",
        got=f"{report.verdict}: " + "; ".join([r.what for r in report.reasons] + [r.what for r in report.unverified]),
    )


def check_web(path: Any = None, reports: Any = None) -> Passed:
    """Stage 3: ``path`` is a file the web target accepts (one self-contained file, within onnxruntime-web's
    limits, batch still symbolic, logits still eager's); ``reports`` are the compatibility checker's reports for
    the installed onnxruntime, the web and an old release, made from the file the release script wrote."""
    from course_utils.versions.compat import CompatReport

    expect(reports is not None, "no compatibility reports yet: pass the checker's reports for the three targets")
    items = [reports] if isinstance(reports, CompatReport) else list(reports) if isinstance(reports, Sequence) else []
    expect(
        bool(items) and all(isinstance(r, CompatReport) for r in items),
        "the second argument does not hold the compatibility checker's reports",
        why="the verdicts, with their reasons, are what you read before shipping to a target",
        got=type(reports).__name__ if not items else ", ".join(type(r).__name__ for r in items),
    )
    web = web_limits()
    kinds = {_kind(r, web) for r in items}
    for kind, label in (("python", "the installed onnxruntime"), ("web", "the web"), ("old", "an older release")):
        expect(
            kind in kinds,
            f"no report for {label}",
            why="each place the model may run has its own limits; the stage asks about three of them",
            expected="reports for the installed onnxruntime, the web, and a release from the published table",
            got=", ".join(str(r.target.onnxruntime_version) for r in items),
        )
    released = _released_file(items)
    model, path = load_answer(path, "the path of the file for the web", external=False)
    external = [t.name for t in model.graph.initializer if t.data_location == onnx.TensorProto.EXTERNAL]
    expect(
        not external,
        f"the file keeps {len(external)} weight tensors in a separate data file",
        why="the page fetches one model file; weights stored beside it never reach the browser",
        got=f"{len(external)} external tensors",
    )
    _full_check(model, path)
    _web_compatible(
        path, "onnxruntime-web lags the Python package; a file within Python's limits can be beyond the browser's"
    )
    _dynamic_batch(model)
    error = parity(path)
    verdicts = "; ".join(
        f"{getattr(r.target, 'runtime_name', r.target.onnxruntime_version)}: {r.verdict}" for r in items
    )
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)
    return Passed(
        f"{path.name} passes for the web (compatible) and still matches eager PyTorch",
        (
            ("verdicts you asked for", f"{verdicts} (about {released})"),
            ("web file", f"IR {model.ir_version}, opset {opset}, one file of {format_bytes(path.stat().st_size)}"),
            ("max |ONNX - eager|", describe_parity(error)),
        ),
    )


# ------------------------------------------------------------------------------------------------ stage 4

_STANDARD_DOMAINS = ("", "ai.onnx")


def _left_to_basic(path: Path) -> int:
    """How many nodes ONNX Runtime's basic optimizations would still remove from ``path``."""
    import tempfile

    from course_utils.runtime.sessions import create_session, session_options

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "basic.onnx"
        create_session(path, session_options("ORT_ENABLE_BASIC", threads=1, log_severity=3, optimized_model_path=out))
        after = len(onnx.load(str(out), load_external_data=False).graph.node)
    return len(onnx.load(str(path), load_external_data=False).graph.node) - after


def _ort_row(report: Any, stem: str) -> Any:
    rows = [r for r in report.rows if r.engine.startswith("ort-") and r.model == stem]
    expect(
        bool(rows),
        "no ONNX Runtime row of the benchmark times your optimized file",
        why="the speed-up you state must be the speed-up of the file you ship",
        expected=f"a row of an ort-* engine on the model {stem!r}",
        got=", ".join(sorted({f"{r.engine} on {r.model}" for r in report.rows})) or "no rows",
    )
    return min(rows, key=lambda r: r.p50_ms)


def check_optimized(path: Any = None, report: Any = None) -> Passed:
    """Stage 4: ``path`` is the file optimized offline (portable operators only, nothing left for ONNX Runtime's
    basic level to remove, logits still eager's); ``report`` the course benchmark (a ``BenchReport``) that times
    it against eager PyTorch on as many threads, with the runs and spread the bench's own verdicts ask for
    (``MIN_RUNS``, ``MAX_SPREAD``). A machine too busy for a verdict passes, with the card saying so."""
    from course_utils.bench.report import MAX_SPREAD, MIN_RUNS, BenchReport, speed_verdict

    model, path = load_answer(path, "the path of the optimized .onnx file")
    custom = sorted({f"{n.domain}.{n.op_type}" for n in model.graph.node if n.domain not in _STANDARD_DOMAINS})
    expect(
        not custom,
        f"the file holds {len(custom)} kinds of operators outside standard ONNX",
        why="operators of ONNX Runtime's own domains, written by its higher optimization levels, run only in "
        "ONNX Runtime's CPU provider and may be tied to the CPU that wrote them: the browser cannot load them",
        expected="standard ONNX operators only",
        got=", ".join(custom[:4]),
    )
    _web_compatible(
        path,
        "this file goes to the browser: onnxruntime-web reads fewer IR versions and opsets than the Python "
        "package, and a session saves its optimized graph with the version numbers of the file it loaded",
    )
    left = _left_to_basic(path)
    expect(
        left <= 0,
        f"ONNX Runtime's basic optimizations still remove {left} of the file's {len(model.graph.node)} nodes",
        why="the file was saved before optimization: every session redoes that work at load time, and the file "
        "ships more nodes than it needs",
    )
    _dynamic_batch(model)
    error = parity(path)
    expect(report is not None, "no benchmark yet: pass the course benchmark's report")
    expect(
        isinstance(report, BenchReport),
        "the second argument is not a benchmark report",
        why="a speed-up means something only with its spread and the number of runs behind it; a single number "
        "or one timing has neither",
        got=type(report).__name__,
    )
    eager = [r for r in report.rows if r.engine == "torch-eager"]
    expect(
        bool(eager),
        "the benchmark has no eager PyTorch row",
        why="the stage asks how much faster the shipped file is than the model you started from",
        got=", ".join(r.engine for r in report.rows) or "no rows",
    )
    row = _ort_row(report, path.stem)
    base = eager[0]
    expect(
        row.batch == base.batch,
        f"the ONNX Runtime row ran batch {row.batch} and eager PyTorch batch {base.batch}",
        why="a speed-up compares the same work",
    )
    expect(
        row.threads == base.threads,
        f"the ONNX Runtime row ran on {plural(row.threads, 'thread')} and eager PyTorch on "
        f"{plural(base.threads, 'thread')}",
        why="a speed-up compares the same work on the same cores; more threads make either engine faster",
    )
    for r in (row, base):
        expect(
            r.runs >= MIN_RUNS,
            f"{r.engine} ran {r.runs} times",
            why="percentiles from so few runs rest on a handful of samples: the benchmark's own verdicts state "
            "nothing from them",
            expected=f"at least {MIN_RUNS} timed runs per engine (the benchmark's MIN_RUNS)",
            got=f"{r.runs} runs",
        )
        spread = r.p90_ms / r.p50_ms if r.p50_ms > 0 else float("inf")
        expect(
            spread <= MAX_SPREAD,
            f"{r.engine}'s slow runs are much slower than its typical run",
            why="with a spread this wide the median moves from one run of the benchmark to the next, so a ratio "
            "of medians is not a speed-up you can state: something else was using the CPU",
            expected=f"p90/p50 at most {MAX_SPREAD} (the benchmark's MAX_SPREAD)",
            got=f"p90/p50 {spread:.2f}",
        )
    verdict = speed_verdict(row, base, load_per_core=report.load_per_core)
    # The rows passed the run and spread checks above: what can still make the verdict noisy is the machine's load,
    # which the learner does not control. It passes, and the card and the message say the number is not to quote.
    busy = bool(verdict.problems)
    said = (
        f"noisy: {'; '.join(verdict.problems)} (the rows have the runs and spread a verdict needs): rerun on an "
        "idle machine before you quote this speed-up"
        if busy
        else verdict.claim
    )
    spread = f"spread p90/p50 {row.p90_ms / row.p50_ms:.2f} vs {base.p90_ms / base.p50_ms:.2f}"
    return Passed(
        f"{path.name} (standard ONNX, optimized, web-compatible) timed against eager PyTorch"
        + (" on a busy machine: the card's verdict says why the speed-up is not yet one to quote" if busy else ""),
        (
            (
                "speed-up vs eager",
                f"{base.p50_ms / row.p50_ms:.2f}x ({row.engine} p50 {row.p50_ms:.2f} ms vs "
                f"{base.p50_ms:.2f} ms, batch {row.batch}, {plural(row.threads, 'thread')}; {spread}; {row.runs} and {base.runs} runs)",
            ),
            ("verdict", said),
            ("nodes", f"{len(model.graph.node)}, max |ONNX - eager| {describe_parity(error)}"),
        ),
    )
