"""ONNX Runtime's execution providers: one table of where each runs and how to get it, and a provider switcher.

* :data:`PROVIDERS` is the course's one list of execution providers (EPs): where each runs (server, edge,
  mobile, web), on what hardware, which package brings it and the install command, and status notes. The
  lesson's table (:func:`provider_table`), the widget's dropdown (:func:`provider_choices`) and the install
  hints of :func:`course_utils.runtime.make_session`'s errors are all generated from it.
* :func:`switch_provider` creates a session for a model with the providers you ask for (options, threads,
  graph optimization level) and returns a :class:`SwitchReport`: providers requested vs used (a provider is used
  when ONNX Runtime placed nodes on it, read from the placement the session records; ``get_providers()`` also
  lists providers that took none, such as Azure), which nodes each provider ran, warm latency, outputs compared
  with a CPU reference, and, for a provider this installation lacks, why and the install command. It is what the
  widget in :mod:`course_utils.views.provider_switch_view` runs, and a command line::

      python -m course_utils.providers artifacts/05/digits_cnn.onnx --provider CUDAExecutionProvider
      python -m course_utils.providers DigitsCNN --provider CPUExecutionProvider --threads 1 --optimization ORT_ENABLE_BASIC
      python -m course_utils.providers --table

Nothing here imports ipywidgets; torch or TensorFlow load only when a course model must be exported.
"""

from __future__ import annotations

import argparse
import html
import statistics
import sys
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from course_utils.bench.harness import measure
from course_utils.errors import ProviderUnavailableError
from course_utils.models import registry
from course_utils.onnxfile.modelio import ModelSource
from course_utils.onnxfile.render import html_table, measurement, text_table
from course_utils.onnxfile.verify import compare_outputs
from course_utils.paths import relative_to_repo
from course_utils.runtime.feeds import example_feed
from course_utils.runtime.provider_data import CPU, PROVIDERS, ProviderInfo, provider_info
from course_utils.runtime.run import make_session, provider_problem
from course_utils.runtime.sessions import LEVELS

__all__ = [
    "OPTIMIZATION_LEVELS",
    "PROVIDERS",
    "NodePlacement",
    "ProviderInfo",
    "ProviderTable",
    "SwitchReport",
    "course_model",
    "course_models",
    "main",
    "provider_choices",
    "provider_info",
    "provider_table",
    "switch_provider",
]

RECORD_PLACEMENT = "session.record_ep_graph_assignment_info"  # keep which EP got which node (ORT 1.32 has it)
#: The graph optimization levels, by ONNX Runtime's own names (``ORT_DISABLE_ALL`` ... ``ORT_ENABLE_ALL``).
OPTIMIZATION_LEVELS = LEVELS
_NO_BUDGET_S = 600.0  # switch_provider times a fixed number of runs: a budget that never ends them first
# Outputs of another provider (or optimization level) match the CPU reference within these tolerances.
RTOL, ATOL = 1e-3, 1e-4


def _short(name: str) -> str:
    info = provider_info(name)
    return info.short if info is not None else name.removesuffix("ExecutionProvider")


def _availability(info: ProviderInfo) -> str:
    if info.plugin:
        return "plugin package"
    if info.name in ort.get_available_providers():
        return "available"
    if info.name in ort.get_all_providers():
        return "not in this package"
    return "not in this ORT"


# ------------------------------------------------------------------------------------------- table


@dataclass(frozen=True)
class ProviderTable:
    """The providers of :data:`PROVIDERS`, filtered, with whether this installation has each."""

    providers: tuple[ProviderInfo, ...]
    install: bool = True

    def _rows(self) -> list[tuple[str, ...]]:
        header = ("provider", "runs on", "hardware", "here")
        rows = [header + (("install",) if self.install else ()) + ("notes",)]
        for info in self.providers:
            row = (info.short, ", ".join(info.runs_on), info.hardware, _availability(info))
            rows.append(row + ((info.install,) if self.install else ()) + (info.notes,))
        return rows

    def __str__(self) -> str:
        header, *rows = self._rows()
        # The two last columns are long prose: print them below each row instead of in a column.
        lines = text_table([row[:4] for row in rows], header[:4])
        out = lines[:1]
        for line, row in zip(lines[1:], rows, strict=True):
            out.append(line)
            out.extend(f"    {label}: {text}" for label, text in zip(header[4:], row[4:], strict=True) if text)
        return "\n".join(out)

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        header, *rows = self._rows()
        return html_table(rows, header)


def provider_table(runs_on: str | None = None, *, include_plugins: bool = True, install: bool = True) -> ProviderTable:
    """The provider table, optionally only those that run on ``runs_on`` ("server", "edge", "mobile", "web")."""
    places = {place for info in PROVIDERS for place in info.runs_on}
    if runs_on is not None and runs_on not in places:
        raise ValueError(f"runs_on must be one of {', '.join(sorted(places))}, got '{runs_on}'.")
    chosen = tuple(
        info
        for info in PROVIDERS
        if (runs_on is None or runs_on in info.runs_on) and (include_plugins or not info.plugin)
    )
    return ProviderTable(chosen, install)


def provider_choices() -> list[tuple[str, str]]:
    """(label, name) for every provider this ONNX Runtime knows, available ones first: the widget's dropdown."""
    known = list(ort.get_all_providers())
    registered = [d.ep_name for d in ort.get_ep_devices() if d.ep_name not in known]
    available = set(ort.get_available_providers()) | set(registered)
    names = [n for n in known + registered if n in available] + [n for n in known if n not in available]
    return [
        (f"{_short(n)} ({'available' if n in available else 'not in this package'})", n) for n in dict.fromkeys(names)
    ]


# ---------------------------------------------------------------------------------------- switcher


@dataclass(frozen=True)
class NodePlacement:
    """The nodes one execution provider ran, as ``(node name, op_type)`` pairs in graph order."""

    provider: str
    nodes: tuple[tuple[str, str], ...]

    @property
    def op_counts(self) -> dict[str, int]:
        """How many nodes of each op_type this provider ran."""
        counts: dict[str, int] = {}
        for _, op_type in self.nodes:
            counts[op_type] = counts.get(op_type, 0) + 1
        return dict(sorted(counts.items()))


@dataclass(frozen=True)
class SwitchReport:
    """What :func:`switch_provider` found: where the session ran, how fast, and whether its outputs are right.

    ``str(report)`` / the HTML view include the measured numbers; ``report.text(measured=False)`` leaves them
    out (deterministic: what notebooks compare).
    """

    model: str
    requested: tuple[str, ...]
    used: tuple[str, ...]  # providers that ran at least one node (from the recorded placement), session order
    placement: tuple[NodePlacement, ...]
    threads: int  # intra_op_num_threads; 0 means ONNX Runtime's default (one per physical core)
    optimization: str
    options: tuple[tuple[str, str], ...]  # provider options of the requested provider
    latency_ms: tuple[float, ...]  # each warm run
    max_abs_diff: float  # against a CPU session with default settings
    problems: tuple[str, ...]  # why a requested provider is not available (one line each, with the fix)
    install: tuple[str, ...]  # install commands of the requested providers that are missing
    ort_warnings: tuple[str, ...]  # what ONNX Runtime printed while creating the session
    matches_reference: bool  # every output within rtol=RTOL, atol=ATOL of the CPU reference
    onnxruntime_version: str = ort.__version__
    # session.get_providers(): what the session registered, including providers that took no node
    registered: tuple[str, ...] = ()

    @property
    def idle(self) -> tuple[str, ...]:
        """Providers the session registered (``get_providers()`` lists them) that ran no node."""
        return tuple(name for name in self.registered if name not in self.used)

    @property
    def fell_back(self) -> bool:
        """Whether a requested provider is not among those the session uses (it silently went elsewhere)."""
        return any(name not in self.used for name in self.requested)

    @property
    def nodes_per_provider(self) -> dict[str, int]:
        """``{provider: number of nodes}`` in the order the session lists providers."""
        return {p.provider: len(p.nodes) for p in self.placement}

    @property
    def median_ms(self) -> float:
        """Median warm latency, milliseconds."""
        return statistics.median(self.latency_ms)

    @property
    def spread_ms(self) -> tuple[float, float]:
        """Fastest and slowest warm run, milliseconds."""
        return min(self.latency_ms), max(self.latency_ms)

    def _rows(self, measured: bool = True) -> list[tuple[str, str]]:
        rows = [
            ("model", self.model),
            ("requested", " > ".join(self.requested)),
            ("used", " > ".join(self.used) or "none"),
        ]
        if self.idle:
            rows.append(("registered, no nodes", f"{' > '.join(self.idle)} (get_providers() lists it; it ran nothing)"))
        rows += [
            ("fell back", "yes: a requested provider is not used" if self.fell_back else "no"),
        ]
        rows += [("why", problem) for problem in self.problems]
        rows += [("install", c) for c in self.install if not any(c in problem for problem in self.problems)]
        rows += [("ORT warned", warning) for warning in self.ort_warnings]
        if self.options:
            rows.append(("provider options", ", ".join(f"{k}={v}" for k, v in self.options)))
        rows.append(("threads", "ORT default (0)" if self.threads == 0 else str(self.threads)))
        rows.append(("optimization", self.optimization))
        for place in self.placement:
            ops = ", ".join(f"{op} x{n}" for op, n in place.op_counts.items())
            rows.append((f"nodes on {_short(place.provider)}", f"{len(place.nodes)} ({ops})"))
        agree = "yes" if self.matches_reference else "NO"
        rows.append(("matches CPU reference", f"{agree} (rtol={RTOL:g}, atol={ATOL:g})"))
        if measured:
            rows.append(("max abs difference", measurement(self.max_abs_diff)))
            low, high = self.spread_ms
            rows.append(
                (
                    "warm latency",
                    f"median {self.median_ms:.3f} ms over {len(self.latency_ms)} runs (min {low:.3f}, max {high:.3f})",
                )
            )
        return rows

    def text(self, measured: bool = True) -> str:
        """The report as aligned text; ``measured=False`` leaves out latency and the exact difference."""
        return "\n".join(text_table(self._rows(measured)))

    def html(self, measured: bool = True) -> str:
        """The report as an HTML table (a label cell per row) with a bar chart of nodes per provider."""
        table = html_table(self._rows(measured), row_labels=True)
        extra = self._bars_html() + self._nodes_html() if self.placement else ""
        return f"<div class='course-switch-report'>{table}{extra}</div>"

    def _nodes_html(self) -> str:
        """Which nodes each provider ran, by name, folded away (a ResNet has dozens)."""
        return "".join(
            f"<details class='course-node-list' data-provider='{html.escape(place.provider)}'>"
            f"<summary>nodes on {html.escape(_short(place.provider))}: {len(place.nodes)}</summary>"
            "<ol style='margin:2px 0'>"
            + "".join(f"<li><code>{html.escape(name)}</code> ({html.escape(op)})</li>" for name, op in place.nodes)
            + "</ol></details>"
            for place in self.placement
        )

    def _bars_html(self) -> str:
        counts = self.nodes_per_provider
        top = max(counts.values(), default=1) or 1
        bars = "".join(
            "<div style='display:flex;align-items:center;gap:6px;margin:2px 0'>"
            f"<span style='width:7em'>{html.escape(_short(name))}</span>"
            f"<span class='course-bar' data-provider='{html.escape(name)}' "
            f"style='display:inline-block;height:12px;width:{round(200 * n / top)}px;background:#4c78a8'></span>"
            f"<span>{n}</span></div>"
            for name, n in counts.items()
        )
        return f"<div class='course-node-bars'><b>nodes per provider</b>{bars}</div>"

    def __str__(self) -> str:
        return self.text()

    def __repr__(self) -> str:
        return self.text()

    def _repr_html_(self) -> str:
        return self.html()


def _label(model: ModelSource) -> str:
    if isinstance(model, str | Path):
        return relative_to_repo(model)
    if isinstance(model, bytes | bytearray):
        return f"<{len(model)} bytes>"
    return f"<ModelProto '{getattr(getattr(model, 'graph', None), 'name', '?')}'>"


def _placement(session: ort.InferenceSession) -> tuple[NodePlacement, ...]:
    grouped: dict[str, list[tuple[str, str]]] = {}
    for subgraph in session.get_provider_graph_assignment_info():
        grouped.setdefault(subgraph.ep_name, []).extend((n.name, n.op_type) for n in subgraph.get_nodes())
    order = [p for p in session.get_providers() if p in grouped] + [
        p for p in grouped if p not in session.get_providers()
    ]
    return tuple(NodePlacement(p, tuple(grouped[p])) for p in order)


def _why_unused(name: str, registered: Sequence[str]) -> str:
    """One line on why a requested provider ran no node, with the fix where there is one."""
    if name in registered:
        return (
            f"'{name}' was registered with the session but ONNX Runtime placed none of this model's nodes on it "
            "(it has no kernel for them, or the nodes before it took them)."
        )
    problem = provider_problem(name)
    if problem is not None:
        return problem
    return (
        f"'{name}' is in this build but did not load (a missing CUDA/cuDNN/TensorRT library?): see ONNX "
        "Runtime's log above, or call onnxruntime.preload_dlls() before creating the session."
    )


def switch_provider(
    model: ModelSource,
    provider: str = CPU,
    *,
    options: Mapping[str, Any] | None = None,
    fallback: Sequence[str] = (CPU,),
    threads: int = 0,
    optimization: str = "ORT_ENABLE_ALL",
    inputs: Mapping[str, np.ndarray] | None = None,
    runs: int = 20,
    warmup: int = 3,
    batch: int = 1,
    progress: Callable[[str, float], None] | None = None,
) -> SwitchReport:
    """Run ``model`` with ``provider`` (then ``fallback``) and report what really happened.

    The session is created the way a learner would: ``providers=[(provider, options), *fallback]``; so a
    provider this onnxruntime lacks is skipped with ONNX Runtime's warning and the report says it fell back,
    why, and how to install it. ``threads`` sets ``intra_op_num_threads`` (0: ORT's default),
    ``optimization`` the graph optimization level (one of :data:`OPTIMIZATION_LEVELS`). Inputs default to
    :func:`course_utils.runtime.feeds.example_feed` at ``batch``. Latency is ``runs`` runs timed by the bench
    harness (:func:`course_utils.bench.measure`) after ``warmup`` untimed ones (at least one);
    ``progress(stage, fraction)`` is called as it goes.

    Raises :class:`~course_utils.errors.ProviderUnavailableError` for a name that is no execution provider
    (a typo), ``ValueError`` for a bad level or count, and the errors of :func:`~course_utils.runtime.make_session`.
    """
    if optimization not in OPTIMIZATION_LEVELS:
        raise ValueError(f"optimization must be one of {', '.join(OPTIMIZATION_LEVELS)}, got '{optimization}'.")
    if runs < 1 or warmup < 0 or threads < 0:
        raise ValueError(f"need runs >= 1, warmup >= 0 and threads >= 0, got {runs}, {warmup}, {threads}.")
    plugin_eps = {d.ep_name for d in ort.get_ep_devices()}
    requested = list(dict.fromkeys([provider, *fallback]))
    for name in requested:
        if name not in ort.get_all_providers() and name not in plugin_eps:
            raise ProviderUnavailableError(provider_problem(name) or f"'{name}' is not an execution provider.")
    report = progress or (lambda stage, fraction: None)
    report("creating the session", 0.0)
    opts = {str(k): str(v) for k, v in (options or {}).items()}
    specs: list[str | tuple[str, dict[str, Any]]] = [(provider, opts) if opts else provider, *requested[1:]]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        session = make_session(
            model,
            specs,
            allow_fallback=True,
            config_entries={RECORD_PLACEMENT: "1"},
            intra_op_num_threads=threads,
            graph_optimization_level=optimization,
        )
    ort_warnings = tuple(dict.fromkeys(str(w.message) for w in caught if issubclass(w.category, UserWarning)))
    feed = dict(inputs) if inputs is not None else example_feed(session, batch, seed=0)
    report("CPU reference", 0.1)
    reference = make_session(model, [CPU]).run(None, feed)  # ORT_ENABLE_ALL on the CPU provider
    outputs = session.run(None, feed)

    def on_progress(samples: Sequence[float], fraction: float) -> None:
        report(f"run {len(samples)} of {runs}", 0.2 + 0.8 * fraction)

    report("warming up", 0.1)
    # The bench harness times the runs: warm-up first (at least one run, never timed), then exactly ``runs``.
    timings = measure(
        lambda: session.run(None, feed),
        budget_s=_NO_BUDGET_S,
        warmup_runs=max(warmup, 1),
        warmup_s=0.0,
        min_runs=runs,
        max_runs=runs,
        on_progress=on_progress,
    )
    latency = list(timings.samples_ms)
    # Tensor outputs only: a scikit-learn ZipMap output (a list of dicts) has no element-wise difference.
    names = [arg.name for arg in session.get_outputs()]
    tensors = [i for i, r in enumerate(reference) if isinstance(r, np.ndarray) and r.dtype.kind in "fiub"]
    parity = compare_outputs(
        {names[i]: reference[i] for i in tensors}, {names[i]: outputs[i] for i in tensors}, rtol=RTOL, atol=ATOL
    )
    placement = _placement(session)
    # "Used" means nodes were placed on it: get_providers() also lists a provider that took no node (Azure).
    used = tuple(p.provider for p in placement if p.nodes)
    missing = [name for name in requested if name not in used]
    registered = tuple(session.get_providers())
    problems = tuple(_why_unused(name, registered) for name in missing)
    installs = tuple(
        info.install for name in missing if name not in registered and (info := provider_info(name)) is not None
    )
    return SwitchReport(
        model=_label(model),
        requested=tuple(requested),
        used=used,
        placement=placement,
        threads=threads,
        optimization=optimization,
        options=tuple(sorted(opts.items())),
        latency_ms=tuple(latency),
        max_abs_diff=parity.max_abs or 0.0,
        problems=problems,
        install=installs,
        ort_warnings=ort_warnings,
        matches_reference=parity.passed or not tensors,
        registered=registered,
    )


# ------------------------------------------------------------------------------------- course models


def course_models() -> dict[str, str]:
    """The models the widget offers, ``{display name: description}``: the benchmark models of
    :mod:`course_utils.models.registry`."""
    return {spec.display_name: spec.description for spec in map(registry.get, registry.benchmark_models())}


def course_model(name: str) -> Path:
    """The ``.onnx`` file of a course model, by display name (``"DigitsCNN"``) or key (``"digits_cnn"``): the
    registry's one export of it (``artifacts/models/``). Raises :class:`~course_utils.errors.UnknownModelError`."""
    return registry.onnx_path(registry.get(name).key)


# ---------------------------------------------------------------------------------------------- CLI


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m course_utils.providers MODEL --provider NAME [--option k=v] [--threads N] ...``"""
    parser = argparse.ArgumentParser(
        prog="python -m course_utils.providers",
        description="Run an ONNX model with an execution provider and report where it ran, how fast, and why not.",
    )
    parser.add_argument("model", nargs="?", help=f"a .onnx path or a course model: {', '.join(course_models())}")
    parser.add_argument("--provider", default=CPU, help="execution provider to ask for (default: CPU)")
    parser.add_argument("--option", action="append", default=[], metavar="KEY=VALUE", help="a provider option")
    parser.add_argument("--threads", type=int, default=0, help="intra_op_num_threads (0: ORT default)")
    parser.add_argument("--optimization", default="ORT_ENABLE_ALL", choices=OPTIMIZATION_LEVELS)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--table", action="store_true", help="print the provider table and exit")
    args = parser.parse_args(argv)
    if args.table or args.model is None:
        print(provider_table())
        return 0
    options = {}
    for item in args.option:
        key, sep, value = item.partition("=")
        if not sep:
            parser.error(f"--option takes KEY=VALUE, got '{item}'")
        options[key] = value
    model: ModelSource = (
        course_model(args.model) if args.model in course_models() or args.model in registry.MODELS else args.model
    )
    try:
        result = switch_provider(
            model, args.provider, options=options, threads=args.threads, optimization=args.optimization, runs=args.runs
        )
    except Exception as error:  # one line for the learner, not a traceback
        print(f"{type(error).__name__}: {error}", file=sys.stderr)
        return 1
    print(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
