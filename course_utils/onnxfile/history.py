"""A short history of ONNX as data: dated events, each with its source, and a timeline plot.

Each event names the source that dates it (a release, a tag, an announcement, a pull request). Dates are as
precise as their source (``"2021-04"``, ``"2019-11-14"``); the timeline draws a date known only to the month or
the year in the middle of that span.

    >>> from course_utils.onnxfile.history import EVENTS, plot_timeline, timeline_table
    >>> print(timeline_table())          # when / what / source, one row per event
    >>> ax = plot_timeline()             # a matplotlib Axes (pass ax=... to draw into your own figure)

Matplotlib is imported only by :func:`plot_timeline`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from course_utils.onnxfile.render import text_table

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = [
    "EVENTS",
    "Event",
    "event",
    "events",
    "plot_timeline",
    "timeline_table",
]

_DATE = re.compile(r"^(\d{4})(?:-(\d{2}))?(?:-(\d{2}))?$")


@dataclass(frozen=True)
class Event:
    """One dated fact about ONNX.

    ``when`` is ``"YYYY"``, ``"YYYY-MM"`` or ``"YYYY-MM-DD"``, as precise as the source allows; ``key`` is a
    short identifier; ``label`` is the few words drawn on the timeline; ``source`` names where the fact comes
    from (``url`` links it when it is online).
    """

    key: str
    when: str
    label: str
    detail: str
    source: str
    url: str = ""

    def __post_init__(self) -> None:
        if _DATE.match(self.when) is None:
            raise ValueError(f"Event '{self.key}': when must be YYYY, YYYY-MM or YYYY-MM-DD, got '{self.when}'")

    @property
    def date(self) -> date:
        """The first day the ``when`` string can mean (``"2017-09"`` -> 2017-09-01), for sorting."""
        match = _DATE.match(self.when)
        assert match is not None  # checked in __post_init__
        year, month, day = match.groups()
        return date(int(year), int(month or 1), int(day or 1))

    @property
    def sort_key(self) -> tuple[int, int, int]:
        """Chronological order; a month-only date sorts after the known days of that month, as "sometime in"."""
        match = _DATE.match(self.when)
        assert match is not None
        year, month, day = match.groups()
        return (int(year), int(month or 13), int(day or 32))

    @property
    def precision(self) -> str:
        """How precisely the source dates the event: ``"day"``, ``"month"`` or ``"year"``."""
        match = _DATE.match(self.when)
        assert match is not None
        _, month, day = match.groups()
        return "day" if day else "month" if month else "year"

    @property
    def year(self) -> float:
        """The x position on the timeline, as a fractional year (2017-09-06 -> about 2017.68).

        A date known only to the month or the year is placed in the middle of it ("2025" -> 2025.5), since
        the event happened sometime in that span; drawing it on 1 January would claim a precision the source
        does not have.
        """
        start = self.date
        if self.precision == "day":
            end = start
        elif self.precision == "month":
            end = date(start.year + start.month // 12, start.month % 12 + 1, 1)
        else:
            end = date(start.year + 1, 1, 1)
        middle = start + (end - start) / 2
        year_start = date(middle.year, 1, 1)
        length = (date(middle.year + 1, 1, 1) - year_start).days
        return middle.year + (middle - year_start).days / length


EVENTS: tuple[Event, ...] = (
    Event(
        "first_commit",
        "2017-09-06",
        "first commit in onnx/onnx",
        "first commit in onnx/onnx; tag v0.1 the next day",
        "onnx/onnx git history",
        url="https://github.com/onnx/onnx/commits/v0.1",
    ),
    Event(
        "announced",
        "2017-09",
        "Microsoft + Facebook announce ONNX",
        "Microsoft and Facebook announce ONNX; CNTK, Caffe2, PyTorch to support it",
        "Microsoft Cognitive Toolkit blog, Sept 2017",
    ),
    Event(
        "onnx_1_0",
        "2017-12-04",
        "ONNX 1.0 (IR 3, opset 1)",
        "ONNX v1.0 tagged (IR version 3, opset 1)",
        "onnx/onnx tags; docs/Versioning.md",
        url="https://github.com/onnx/onnx/blob/main/docs/Versioning.md",
    ),
    Event(
        "ort_open_source",
        "2018-12-04",
        "ONNX Runtime open-sourced",
        "ONNX Runtime open-sourced on GitHub (MIT licence)",
        'Azure blog "ONNX Runtime is now open source" (2018-12-04); microsoft/onnxruntime releases',
        url="https://github.com/microsoft/onnxruntime/releases",
    ),
    Event(
        "lf_ai",
        "2019-11-14",
        "graduate project of LF AI",
        "ONNX becomes a graduate project of LF AI (Linux Foundation)",
        "LF AI & Data blog, 2019-11-14",
    ),
    Event(
        "apache_license",
        "2021-01",
        "licence becomes Apache-2.0",
        "the ONNX licence changes to Apache-2.0",
        "onnx/onnx PR #3159",
        url="https://github.com/onnx/onnx/pull/3159",
    ),
    Event(
        "ort_web",
        "2021-04",
        "onnxruntime-web added",
        "onnxruntime-web added to ONNX Runtime (WebGL backend from ONNX.js)",
        "microsoft/onnxruntime PR #7394",
        url="https://github.com/microsoft/onnxruntime/pull/7394",
    ),
    Event(
        "onnxjs_retired",
        "2021-08",
        "ONNX.js retired",
        "ONNX.js retired, replaced by ONNX Runtime Web",
        "microsoft/onnxjs PR #313 (migration doc: PR #320)",
        url="https://github.com/microsoft/onnxjs/pull/313",
    ),
    Event(
        "torch_dynamo_default",
        "2025-10-15",
        "PyTorch 2.9: dynamo=True default",
        "PyTorch 2.9 released: torch.onnx.export defaults to dynamo=True",
        "PyTorch 2.9 release, 2025-10-15; pytorch/pytorch PR #159646",
        url="https://github.com/pytorch/pytorch/pull/159646",
    ),
)


def events() -> list[Event]:
    """The events in date order (ties keep their listed order)."""
    return sorted(EVENTS, key=lambda e: e.sort_key)


def event(key: str) -> Event:
    """The event with this key, e.g. ``event("lf_ai")``; a ``KeyError`` lists the keys otherwise."""
    for item in EVENTS:
        if item.key == key:
            return item
    raise KeyError(f"No event '{key}'. Keys: {', '.join(e.key for e in EVENTS)}.")


def _table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    return "\n".join(text_table(list(rows), header, rule=True))


def timeline_table(items: Iterable[Event] | None = None) -> str:
    """The events as a plain-text table: when, what happened, source (in date order by default)."""
    chosen = events() if items is None else list(items)
    return _table(["when", "what", "source"], ([e.when, e.detail, e.source] for e in chosen))


_Box = tuple[float, float, float, float]  # x0, x1, y0, y1 in data units


def _label_box(x: float, h: float, width: float, height: float) -> _Box:
    # Labels start at their stem and extend to the right (ha="left").
    return (x, x + width, h, h + height) if h > 0 else (x, x + width, h - height, h)


def _overlaps(a: _Box, b: _Box) -> bool:
    return a[0] < b[1] and b[0] < a[1] and a[2] < b[3] and b[2] < a[3]


def _stem_hits(x: float, h: float, box: _Box) -> bool:
    low, high = sorted((0.0, h))
    return box[0] <= x <= box[1] and low < box[3] and box[2] < high


def _place_labels(xs: Sequence[float], widths: Sequence[float], height: float, levels: int) -> list[float]:
    """Stem heights so that no label overlaps another label or a stem.

    Greedy from the latest event to the earliest, nearest the axis first: with labels extending to the
    right of their stems, an earlier event's taller stem then passes left of the later events' labels.
    """
    placed: list[tuple[float, float, _Box]] = []
    heights = [0.0] * len(xs)
    side = -1.0
    for i in reversed(range(len(xs))):
        x, width = xs[i], widths[i]
        side = -side  # alternate sides when both are free, so the plot stays balanced
        candidates = [s * level for level in range(1, levels + 1) for s in (side, -side)]
        heights[i] = candidates[-1]
        for h in candidates:
            box = _label_box(x, h, width, height)
            if all(
                not _overlaps(box, other) and not _stem_hits(x, h, other) and not _stem_hits(px, ph, box)
                for px, ph, other in placed
            ):
                heights[i] = h
                break
        placed.append((x, heights[i], _label_box(x, heights[i], width, height)))
    return heights


def _all_clear(xs: Sequence[float], widths: Sequence[float], height: float, heights: Sequence[float]) -> bool:
    """Whether no label overlaps another label or is crossed by another event's stem."""
    boxes = [_label_box(x, h, w, height) for x, h, w in zip(xs, heights, widths, strict=True)]
    return all(
        not _overlaps(boxes[i], boxes[j]) and not _stem_hits(xs[j], heights[j], boxes[i])
        for i in range(len(xs))
        for j in range(len(xs))
        if i != j
    )


def plot_timeline(ax: Axes | None = None, items: Iterable[Event] | None = None) -> Axes:
    """Draw the events on a horizontal time axis and return the Axes.

    Each event is a marker on the axis with a stem up or down to its label (date and a few words); labels
    are placed so that none overlaps another label or crosses a stem (with more stem heights when the events
    are crowded). Pass ``ax`` to draw into your own figure; by default the current Axes (``plt.gca()``) is
    used.
    """
    import matplotlib.pyplot as plt
    from matplotlib.textpath import TextPath

    ax = ax or plt.gca()
    chosen = events() if items is None else sorted(items, key=lambda e: e.sort_key)
    if not chosen:
        raise ValueError("plot_timeline needs at least one event")
    fontsize, colour = 8, "#1f5fa8"
    labels = [f"{e.when}\n{e.label}" for e in chosen]
    xs = [e.year for e in chosen]
    # Label sizes in data units: the text's size in points, scaled by the Axes' size in points.
    text_widths_pt = [
        max(TextPath((0, 0), line, size=fontsize).get_extents().width for line in t.split("\n")) for t in labels
    ]
    width_pt = ax.bbox.width * 72 / ax.figure.dpi
    height_pt = ax.bbox.height * 72 / ax.figure.dpi
    first = chosen[0].date.year
    # Solve for the right edge so that the widest-reaching label fits: x_max = max(x + w_pt * span / width_pt).
    span = 1.0
    for _ in range(20):
        right = max(x + (w + 6) * span / width_pt for x, w in zip(xs, text_widths_pt, strict=True))
        span = right + 0.1 - (first - 0.3)
    ax.set_xlim(first - 0.3, first - 0.3 + span)
    widths = [(w + 6) * span / width_pt for w in text_widths_pt]
    # Four stem heights on each side are enough for most timelines; a crowded one gets more, up to eight.
    for levels in range(4, 9):
        line_height = 2.4 * fontsize * 2 * (levels + 1) / height_pt
        heights = _place_labels(xs, widths, line_height, levels)
        if _all_clear(xs, widths, line_height, heights):
            break
    ax.set_ylim(-(levels + 1), levels + 1)
    for x, text, h in zip(xs, labels, heights, strict=True):
        ax.vlines(x, 0, h, color=colour, linewidth=1)
        ax.plot(x, 0, "o", markersize=6, color=colour, zorder=3)
        ax.annotate(
            text,
            (x, h),
            xytext=(3, 0),
            textcoords="offset points",
            ha="left",
            va="bottom" if h > 0 else "top",
            fontsize=fontsize,
        )
    ax.axhline(0, color="black", linewidth=1, zorder=1)
    ax.set_xticks(range(first, min(chosen[-1].date.year + 1, int(first - 0.3 + span)) + 1))
    ax.yaxis.set_visible(False)
    for spine in ("left", "right", "top"):
        ax.spines[spine].set_visible(False)
    ax.set_title(f"ONNX, {first}–{chosen[-1].date.year}: {len(chosen)} events")
    return ax
