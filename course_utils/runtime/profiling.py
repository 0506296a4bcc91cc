"""Reading ONNX Runtime's profile: which nodes and which operator types took the time.

The calls you know, plus a reader::

    options = ort.SessionOptions()
    options.enable_profiling = True
    session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    for _ in range(3 + 20):                   # 3 warm-up runs, then the 20 to profile
        session.run(None, feed)
    trace_path = session.end_profiling()      # the JSON file appears only now (ORT#10975)

    trace = read_trace(trace_path, skip_runs=3)   # leave out the cold runs
    trace.by_op_type()                         # {op type: total ms}, slowest first
    trace.top_nodes(10)                        # the ten slowest nodes
    trace.share("BatchNormalization")          # its fraction of kernel time: the most removing it can save
    plot_op_types(trace)                       # a bar chart (matplotlib)

The file is a Chrome trace: open it in https://ui.perfetto.dev (Open trace file) or chrome://tracing (Load).
Each node's run is an event named ``<node name>_kernel_time`` with ``args.op_name`` and ``args.provider``;
the session's own events (model loading, session initialisation, each ``model_run``) have category "Session".

Profiling is a session option: it starts when the session is created, so the trace also holds the first, cold
runs (memory allocated, kernels chosen: ORT#10676), and ``end_profiling`` ends it for good (there is no restart).
Warm up inside the profiled session and skip those runs when reading: ``read_trace(path, skip_runs=k)`` drops
the first ``k`` ``model_run`` events and every node event that started before the ``k``-th one ended.
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from course_utils.errors import (
    NotATraceError,  # their home; importable from here too
)
from course_utils.onnxfile.render import html_table, text_table

__all__ = ["KernelEvent", "NodeTable", "NotATraceError", "Trace", "plot_op_types", "read_trace"]


@dataclass(frozen=True)
class KernelEvent:
    """One node run: ``node`` name, ``op_type``, ``provider``, duration in microseconds, start (µs)."""

    node: str
    op_type: str
    provider: str
    dur_us: int
    ts_us: int


@dataclass(frozen=True)
class Trace:
    """The kernel events of a profile, how many ``model_run`` events (session.run calls) it holds, and how many
    runs at its start were left out (``skipped_runs``: warm-up)."""

    path: str
    kernels: tuple[KernelEvent, ...]
    model_runs: int
    skipped_runs: int = 0

    def by_op_type(self) -> dict[str, float]:
        """Total kernel time per operator type in milliseconds, slowest first (summed over every run)."""
        totals: dict[str, float] = defaultdict(float)
        for event in self.kernels:
            totals[event.op_type] += event.dur_us / 1e3
        return dict(sorted(totals.items(), key=lambda item: (-item[1], item[0])))

    def by_node(self) -> dict[str, tuple[str, float]]:
        """``{node name: (op type, total ms)}``, slowest first."""
        totals: dict[str, float] = defaultdict(float)
        ops: dict[str, str] = {}
        for event in self.kernels:
            totals[event.node] += event.dur_us / 1e3
            ops[event.node] = event.op_type
        ordered = sorted(totals.items(), key=lambda item: (-item[1], item[0]))
        return {node: (ops[node], ms) for node, ms in ordered}

    def top_nodes(self, k: int = 10) -> NodeTable:
        """The ``k`` slowest nodes (total over all runs), with each one's share of all kernel time."""
        total = sum(e.dur_us for e in self.kernels) / 1e3 or 1.0
        runs = max(self.model_runs, 1)
        rows = tuple((node, op, ms / runs, 100 * ms / total) for node, (op, ms) in list(self.by_node().items())[:k])
        return NodeTable(rows)

    def share(self, *op_types: str) -> float:
        """The fraction (0 to 1) of all kernel time spent in nodes of ``op_types``: the most that removing those
        nodes can save of the kernel time (0.0 for an empty trace or op types it does not hold)."""
        total = sum(e.dur_us for e in self.kernels)
        if not total:
            return 0.0
        return sum(e.dur_us for e in self.kernels if e.op_type in op_types) / total

    @property
    def total_ms(self) -> float:
        """Kernel time of all node runs in the trace, in milliseconds."""
        return sum(e.dur_us for e in self.kernels) / 1e3

    def __str__(self) -> str:
        ops = len({e.op_type for e in self.kernels})
        nodes = len({e.node for e in self.kernels})
        skipped = f" ({self.skipped_runs} warm-up runs left out)" if self.skipped_runs else ""
        return (
            f"Trace: {self.model_runs} runs{skipped}, {nodes} nodes of {ops} op types, "
            f"{len(self.kernels)} kernel events"
        )

    def __repr__(self) -> str:
        return str(self)


@dataclass(frozen=True)
class NodeTable:
    """Rows ``(node, op type, ms per run, % of kernel time)``; prints as text, renders as HTML."""

    rows: tuple[tuple[str, str, float, float], ...]

    def _rows(self) -> list[tuple[str, ...]]:
        out: list[tuple[str, ...]] = [("node", "op type", "ms per run", "% of time")]
        out += [(node, op, f"{ms:.3f}", f"{pct:.1f}") for node, op, ms, pct in self.rows]
        return out

    def __str__(self) -> str:
        header, *rows = self._rows()
        return "\n".join(text_table(rows, header))

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        header, *rows = self._rows()
        return html_table(rows, header)


def _events(data: Any) -> list[dict[str, Any]]:
    if isinstance(data, dict) and isinstance(data.get("traceEvents"), list):
        data = data["traceEvents"]
    if not isinstance(data, list) or not all(isinstance(e, dict) for e in data):
        raise NotATraceError("this JSON is not a trace: expected a list of events, as session.end_profiling() writes")
    return data


def read_trace(path: str | os.PathLike[str], *, skip_runs: int = 0) -> Trace:
    """Read the kernel events of an ONNX Runtime profile (the path ``session.end_profiling()`` returned).

    ``skip_runs=k`` leaves out the first ``k`` runs (warm-up: profiling starts with the session, so its cold
    runs are in the file): their ``model_run`` events, and every node event that started before the ``k``-th
    run ended. Raises ``FileNotFoundError`` (with the reason the file may be missing), :class:`NotATraceError`,
    or ``ValueError`` when ``skip_runs`` is negative or not smaller than the number of runs in the file.
    """
    if skip_runs < 0:
        raise ValueError(f"skip_runs must be 0 or more, got {skip_runs}")
    file = Path(path)
    if not file.is_file():
        raise FileNotFoundError(
            f"No profile at {path}. ORT writes it only when session.end_profiling() is called; pass the path "
            "that call returns."
        )
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise NotATraceError(
            f"{file.name} is not JSON ({error}): pass the file session.end_profiling() wrote"
        ) from None
    kernels: list[KernelEvent] = []
    runs: list[tuple[int, int]] = []  # (start, end) of each model_run, in µs
    for event in _events(data):
        name = str(event.get("name", ""))
        if event.get("cat") == "Session" and name == "model_run":
            start = int(event.get("ts", 0))
            runs.append((start, start + int(event.get("dur", 0))))
        if event.get("cat") != "Node" or not name.endswith("_kernel_time"):
            continue  # fence_before/fence_after events mark boundaries, they are not work
        args = event.get("args", {})
        kernels.append(
            KernelEvent(
                name.removesuffix("_kernel_time"),
                str(args.get("op_name", "?")),
                str(args.get("provider", "?")),
                int(event.get("dur", 0)),
                int(event.get("ts", 0)),
            )
        )
    if skip_runs:
        if skip_runs >= len(runs):
            raise ValueError(
                f"skip_runs={skip_runs} leaves nothing: the profile holds {len(runs)} runs; run the session "
                "more times than the warm-up runs you skip"
            )
        warm_from = sorted(runs)[skip_runs - 1][1]  # the end of the last skipped run
        kernels = [k for k in kernels if k.ts_us >= warm_from]
    return Trace(str(path), tuple(kernels), len(runs) - skip_runs, skip_runs)


def plot_op_types(trace: Trace, *, top: int = 8, title: str | None = None) -> Any:
    """A horizontal bar chart of kernel time per op type (ms per run), slowest on top; returns the figure."""
    import matplotlib.pyplot as plt

    runs = max(trace.model_runs, 1)
    items = list(trace.by_op_type().items())[:top]
    labels = [op for op, _ in items][::-1]
    values = [ms / runs for _, ms in items][::-1]
    fig, ax = plt.subplots(figsize=(6, 0.35 * len(items) + 1))
    ax.barh(labels, values, color="#4c72b0")
    ax.set_xlabel("kernel time per run (ms)")
    ax.set_title(title or "Where the time goes, by operator type")
    fig.tight_layout()
    plt.close(fig)
    return fig
