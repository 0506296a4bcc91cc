"""The shape explorer as a widget: a batch slider, a longest-length slider and a bucketing checkbox above a live
plot (latency and activation memory against length) and the summary.

    from course_utils import shape_explorer
    shape_explorer(export_seq_model(), batch=8, longest=500)

A thin view: every number comes from :func:`course_utils.bench.shapes.explore_shapes` (headless, tested); the plot is
:func:`course_utils.bench.shapes.plot_shapes`. With bucketing on, the exact-length run is drawn beside it. Its
``text/plain`` and ``text/html`` are the summary without timings, so a notebook's stored output is deterministic
and readers without a kernel (GitHub, nbviewer) see the real result of the last run.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import onnx

from ..bench.shapes import DEFAULT_BUCKETS, ShapeReport, explore_shapes, plot_shapes

__all__ = ["LONGEST_CHOICES", "ShapeExplorer", "length_grid", "shape_explorer"]

#: The longest lengths the slider offers.
LONGEST_CHOICES = (50, 100, 200, 300, 500, 700, 1000)


def length_grid(longest: int, points: int = 8) -> tuple[int, ...]:
    """``points`` lengths from 16 to ``longest``, spaced evenly on a log scale (rounded, without repeats)."""
    import numpy as np

    start = min(16, longest)
    grid = np.unique(np.round(np.geomspace(start, longest, num=points)).astype(int))
    return tuple(int(v) for v in grid)


class ShapeExplorer:
    """The widget and the reports of its last run (``report``; ``exact`` is the exact-length one when bucketing)."""

    def __init__(
        self,
        model: str | Path | onnx.ModelProto,
        *,
        batch: int = 8,
        longest: int = 500,
        bucketing: bool = False,
        repeats: int = 5,
    ) -> None:
        import ipywidgets as widgets

        if longest not in LONGEST_CHOICES:
            raise ValueError(f"longest must be one of {LONGEST_CHOICES}, got {longest}")
        self.model = model
        self.repeats = repeats
        self.report: ShapeReport | None = None
        self.exact: ShapeReport | None = None
        self.png = b""
        wide = {"description_width": "initial"}
        self.batch = widgets.IntSlider(
            value=batch, min=1, max=64, description="batch", continuous_update=False, style=wide
        )
        self.longest = widgets.SelectionSlider(
            options=list(LONGEST_CHOICES), value=longest, description="longest length", continuous_update=False
        )
        self.longest.style.description_width = "initial"
        self.bucketing = widgets.Checkbox(
            value=bucketing,
            description=f"pad to buckets {list(DEFAULT_BUCKETS)}",
            indent=False,
            layout=widgets.Layout(width="auto"),
        )
        self.plot = widgets.Image(format="png", layout=widgets.Layout(max_width="760px"))
        self.summary = widgets.HTML()
        for widget, name in (
            (self.batch, "batch"),
            (self.longest, "longest"),
            (self.bucketing, "bucketing"),
            (self.plot, "plot"),
            (self.summary, "summary"),
        ):
            widget.add_class(f"course-shapes-{name}")
        for control in (self.batch, self.longest, self.bucketing):
            control.observe(self._update, names="value")
        self.widget = widgets.VBox([widgets.HBox([self.batch, self.longest]), self.bucketing, self.plot, self.summary])
        self.widget.add_class("course-shape-explorer")
        self._update()

    def _update(self, change: Any = None) -> None:
        from ..bench.plots import figure_png

        self.summary.value = "<i>running…</i>"
        lengths = length_grid(self.longest.value)
        run = dict(batch=self.batch.value, lengths=lengths, repeats=self.repeats)
        self.report = explore_shapes(self.model, bucketing=self.bucketing.value, **run)
        self.exact = explore_shapes(self.model, bucketing=False, **run) if self.bucketing.value else self.report
        reports = (self.exact, self.report) if self.bucketing.value else (self.report,)
        self.png = figure_png(plot_shapes(*reports))
        self.plot.value = self.png
        self.summary.value = (
            f"<pre class='course-shapes-text' style='white-space:pre-wrap'>{html.escape(self.text)}</pre>"
        )

    @property
    def text(self) -> str:
        """The summary the widget shows: the last run's report, without timings."""
        return "" if self.report is None else self.report.text()

    def static_text(self) -> str:
        """The ``text/plain`` of the view: the last run's summary without timings (deterministic)."""
        return self.text

    def static_html(self) -> str:
        """What a reader without a kernel sees: the last run's summary table."""
        return "" if self.report is None else f"<div class='course-shapes-static'>{self.report.html()}</div>"

    def __repr__(self) -> str:
        return self.text

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        bundle = self.widget._repr_mimebundle_(**kwargs) or {}
        data = bundle[0] if isinstance(bundle, tuple) else bundle
        data["text/plain"] = self.static_text()
        data["text/html"] = self.static_html()
        return bundle


def shape_explorer(
    model: str | Path | onnx.ModelProto,
    *,
    batch: int = 8,
    longest: int = 500,
    bucketing: bool = False,
    repeats: int = 5,
) -> ShapeExplorer:
    """Open the shape explorer on a model with a symbolic batch and length (see :class:`ShapeExplorer`)."""
    return ShapeExplorer(model, batch=batch, longest=longest, bucketing=bucketing, repeats=repeats)
