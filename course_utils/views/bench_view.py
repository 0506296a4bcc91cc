"""The live benchmark view: ipywidgets controls (model, engines, threads, batch, optimization level), a progress
bar and a plot that redraws while :func:`course_utils.bench.benchmark` runs.

    from course_utils.views.bench_view import live_benchmark
    view = live_benchmark("digits_cnn", engines=["torch-eager", "ort-all"], threads=2, budget_s=1.0)
    view.report        # the BenchReport of the last run (a table; .to_json())
    view.png           # the last plot as PNG bytes (display with IPython.display.Image)

This module is the thin view; all the work (timing, statistics, the plot itself) is in :mod:`course_utils.bench`,
which never imports ipywidgets. The plot is an ``ipywidgets.Image`` whose PNG is replaced at most every
``redraw_every_s`` seconds, outside the timed runs, so a live plot never slows the runs it shows.

Like :mod:`course_utils.provider_switch_view`, the view displays as the live widget plus a static form of its last
run, for readers without a kernel (GitHub, nbviewer): ``text/plain`` says what ran without any timing (the same on
every run, so a stored output reads the same), ``text/html`` is the last run's table and plot as an image.
"""

from __future__ import annotations

import base64
import html
import time
from collections.abc import Sequence
from typing import Any

import ipywidgets as widgets

from course_utils import bench
from course_utils.machine import usable_cpus
from course_utils.onnxfile.render import plural

__all__ = ["BenchView", "LiveBenchmark", "live_benchmark"]

#: The extra level the view can add, by ONNX Runtime's name (``ORT_ENABLE_BASIC``), and the engine that runs at it.
_ENGINE_AT = {level: f"ort-{suffix}" for suffix, level in bench.LEVELS.items()}
LEVEL_CHOICES = ("(none)", *_ENGINE_AT)


class LiveBenchmark:
    """The widget tree and the state of the last run. Open it with :func:`live_benchmark`."""

    def __init__(
        self,
        model: str = "digits_cnn",
        engines: Sequence[str] | None = None,
        *,
        threads: int = 1,
        batch: int = 1,
        level: str = "(none)",
        budget_s: float = 1.0,
        peak_gflops: float | None = None,
        redraw_every_s: float = 0.3,
    ) -> None:
        self.peak_gflops = peak_gflops
        self.redraw_every_s = redraw_every_s
        self.report: bench.BenchReport | None = None
        self.png: bytes = b""
        self.redraws = 0
        cores = usable_cpus()  # the CPUs this process may use (affinity mask, container quota), not the host's
        self.model = widgets.Dropdown(options=list(bench.course_models()), value=model, description="model")
        self.engines = widgets.SelectMultiple(
            options=list(bench.ENGINES), value=tuple(engines or ()), description="engines", rows=5
        )
        self.threads = widgets.IntSlider(value=threads, min=1, max=max(cores, threads), description="threads")
        self.batch = widgets.Dropdown(options=[1, 2, 8, 32], value=batch, description="batch")
        self.level = widgets.Dropdown(options=list(LEVEL_CHOICES), value=level, description="+ ORT level")
        self.budget = widgets.FloatSlider(value=budget_s, min=0.2, max=5.0, step=0.1, description="s / engine")
        self.button = widgets.Button(description="Run benchmark", button_style="primary")
        self.progress = widgets.FloatProgress(value=0.0, min=0.0, max=1.0, description="progress")
        self.status = widgets.Label(value="not run yet")
        self.plot = widgets.Image(format="png", layout=widgets.Layout(max_width="820px"))
        # CSS classes name the parts a browser test (or a user's stylesheet) looks for
        self.status.add_class("course-bench-status")
        self.plot.add_class("course-bench-plot")
        self.batch.add_class("course-bench-batch")
        self.button.on_click(lambda _button: self.run())
        controls = widgets.HBox(
            [
                widgets.VBox([self.model, self.engines]),
                widgets.VBox([self.threads, self.batch, self.level, self.budget, self.button]),
            ]
        )
        self.widget = widgets.VBox([controls, widgets.HBox([self.progress, self.status]), self.plot])

    def selected_engines(self) -> list[str]:
        """The engines ticked, plus the ``ort-*`` engine at the optimization level chosen (``ORT_ENABLE_BASIC``:
        ``ort-basic``)."""
        chosen = list(self.engines.value)
        extra = _ENGINE_AT.get(self.level.value)
        if extra is not None and extra not in chosen:
            chosen.append(extra)
        return chosen

    def run(self) -> bench.BenchReport:
        """Benchmark the current selection, redrawing the plot as samples arrive; returns the report."""
        self.button.disabled = True
        self.status.value = f"loading {self.model.value} ..."
        self.progress.value = 0.0
        samples: dict[str, list[float]] = {}
        fractions: dict[str, float] = {}  # engines take turns (rounds): the bar shows all of them together
        last_draw = 0.0
        title = f"{self.model.value}, batch {self.batch.value}, {self.threads.value} threads"

        def on_progress(engine: str, so_far: Sequence[float], fraction: float, index: int, count: int) -> None:
            nonlocal last_draw
            samples[engine] = list(so_far)
            fractions[engine] = fraction
            self.progress.value = min(1.0, sum(fractions.values()) / count)
            self.status.value = f"{engine}: {len(so_far)} runs ({index + 1} of {count} engines, taking turns)"
            now = time.monotonic()
            if now - last_draw >= self.redraw_every_s:
                self._draw(samples, title, done=False)
                last_draw = time.monotonic()

        try:
            target = bench.load_target(self.model.value, batch=self.batch.value)
            engines = self.selected_engines() or bench.default_engines(target)
            self.report = bench.benchmark(
                target,
                engines,
                threads=self.threads.value,
                budget_s=self.budget.value,
                peak_gflops=self.peak_gflops,
                on_progress=on_progress,
            )
        except Exception as error:  # shown in the view: a button callback's traceback would be lost
            self.status.value = f"failed: {type(error).__name__}: {error}"
            raise
        finally:
            self.button.disabled = False
        self._draw({r.engine: list(r.samples_ms) for r in self.report.rows}, title, done=True)
        self.progress.value = 1.0
        runs = sum(r.runs for r in self.report.rows)
        self.status.value = f"done: {title}: {len(self.report.rows)} engines, {runs} runs"
        problems = self.report.problems()
        if problems:  # the plot is still worth seeing; its comparisons are not worth concluding from
            self.status.value += f" (noisy: rerun on an idle machine: {'; '.join(problems)})"
        return self.report

    def _draw(self, samples: dict[str, list[float]], title: str, *, done: bool) -> None:
        self.png = bench.figure_png(bench.plot_latencies(samples, title=title, done=done))
        self.plot.value = self.png
        self.redraws += 1

    def __repr__(self) -> str:
        # No timings or run counts: the text form stays the same from one run to the next (nbval compares it).
        engines = ", ".join(self.selected_engines()) or "default engines"
        return f"LiveBenchmark({self.model.value}: {engines}; batch {self.batch.value}, {self.threads.value} threads)"

    def static_text(self) -> str:
        """What a reader without a kernel reads: the settings and the engines of the last run, no timings (the
        same text on every run, on any machine)."""
        lines = [f"live benchmark {repr(self).removeprefix('LiveBenchmark')}"]
        if self.report is None:
            lines.append("not run yet: run the cell in a live notebook to time the engines")
        else:
            timed = [r.engine for r in self.report.rows if r.runs > 0]
            lines.append(f"last run: {plural(len(self.report.rows), 'engine')} timed: {', '.join(timed) or 'none'}")
            lines.append("its table and plot are the HTML beside this text; the live widget re-runs it")
        return "\n".join(lines)

    def static_html(self) -> str:
        """The last run as HTML: the settings, the report's table and the final plot as an embedded PNG."""
        parts = [f"<div class='course-bench-static'><b>{html.escape(self.static_text().splitlines()[0])}</b>"]
        if self.report is None:
            parts.append(f"<pre>{html.escape(self.static_text())}</pre>")
        else:
            parts.append(self.report._repr_html_())
        if self.png:
            data = base64.b64encode(self.png).decode("ascii")
            parts.append(f"<img alt='latency plot of the last run' src='data:image/png;base64,{data}'/>")
        return "".join(parts) + "</div>"

    def _repr_mimebundle_(self, include: object = None, exclude: object = None) -> dict[str, Any]:
        bundle: dict[str, Any] = self.widget._repr_mimebundle_(include=include, exclude=exclude) or {}
        bundle["text/plain"] = self.static_text()
        bundle["text/html"] = self.static_html()
        return bundle


def live_benchmark(
    model: str = "digits_cnn",
    engines: Sequence[str] | None = None,
    *,
    threads: int = 1,
    batch: int = 1,
    level: str = "(none)",
    budget_s: float = 1.0,
    peak_gflops: float | None = None,
    run: bool = True,
) -> LiveBenchmark:
    """Show the live benchmark view and (with ``run=True``) start a run at once; the controls re-run it.

    Display happens here, so the plot is on screen while the first run is still going; when the run ends the
    display is updated in place with the view's static form beside the widget (:meth:`LiveBenchmark.static_text`,
    :meth:`LiveBenchmark.static_html`), which is what a notebook stores for readers without a kernel.
    """
    from IPython.display import display

    view = LiveBenchmark(
        model, engines, threads=threads, batch=batch, level=level, budget_s=budget_s, peak_gflops=peak_gflops
    )
    handle = display(view, display_id=True)  # type: ignore[no-untyped-call]  # IPython does not annotate display()
    try:
        if run:
            view.run()
    finally:
        if handle is not None:  # None outside IPython (display printed the text form)
            handle.update(view)
    return view


BenchView = LiveBenchmark
"""The older name of :class:`LiveBenchmark` (the same class)."""
