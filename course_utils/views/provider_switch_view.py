"""The provider switcher as ipywidgets: pick a model and an execution provider, press Run, see where it ran.

A thin view over :func:`course_utils.providers.switch_provider` (which does all the work and is tested on its
own). Displaying the view shows the live widget in JupyterLab, VS Code and Binder; its ``text/plain`` and
``text/html`` are the default run's report without timings, so a notebook's stored output is deterministic and
readers without a kernel (GitHub, nbviewer) still see a real result.

    from course_utils.views.provider_switch_view import provider_switcher
    provider_switcher("DigitsCNN")
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import ipywidgets as widgets

from course_utils.onnxfile.modelio import ModelSource
from course_utils.runtime.providers import (
    OPTIMIZATION_LEVELS,
    SwitchReport,
    course_model,
    course_models,
    provider_choices,
    switch_provider,
)

__all__ = ["ProviderSwitcher", "provider_switcher"]

_PATH = "a path..."
_THREADS = (0, 1, 2, 4)


def _parse_options(text: str) -> dict[str, str]:
    """``"device_id=0, trt_fp16_enable=1"`` -> ``{"device_id": "0", "trt_fp16_enable": "1"}``."""
    options = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"provider options are KEY=VALUE pairs separated by commas, got '{item}'")
        options[key.strip()] = value.strip()
    return options


class ProviderSwitcher:
    """Open it with :func:`provider_switcher`. The widget: model picker, provider dropdown (every provider ONNX Runtime knows, availability marked),
    provider options, threads, optimization level, a Run button, progress, and the result panel."""

    def __init__(self, model: str = "DigitsCNN", provider: str = "CPUExecutionProvider", *, runs: int = 20) -> None:
        self.runs = runs
        self.report: SwitchReport | None = None
        self.error: str | None = None
        models = [*course_models(), _PATH]
        start = model if model in models else _PATH
        self.model = widgets.Dropdown(options=models, value=start, description="model")
        self.path = widgets.Text(
            value="" if start != _PATH else model, placeholder="path/to/model.onnx", description="path"
        )
        self.provider = widgets.Dropdown(options=provider_choices(), value=provider, description="provider")
        self.options = widgets.Text(placeholder="key=value, key=value", description="options")
        self.threads = widgets.Dropdown(
            options=[("ORT default", 0)] + [(str(n), n) for n in _THREADS[1:]], value=0, description="threads"
        )
        self.optimization = widgets.Dropdown(
            options=OPTIMIZATION_LEVELS, value="ORT_ENABLE_ALL", description="graph opt."
        )
        self.button = widgets.Button(description="Run", button_style="primary", icon="play")
        self.progress = widgets.FloatProgress(value=0.0, min=0.0, max=1.0, description="")
        self.status = widgets.Label(value="")
        self.result = widgets.HTML(value="")
        for widget, name in (
            (self.model, "model"),
            (self.path, "path"),
            (self.provider, "provider"),
            (self.options, "options"),
            (self.threads, "threads"),
            (self.optimization, "optimization"),
            (self.button, "run"),
            (self.status, "status"),
            (self.result, "result"),
        ):
            widget.add_class(f"course-switch-{name}")
        self.button.on_click(lambda _: self.run())
        controls = widgets.VBox(
            [
                widgets.HBox([self.model, self.path]),
                widgets.HBox([self.provider, self.options]),
                widgets.HBox([self.threads, self.optimization, self.button]),
                widgets.HBox([self.progress, self.status]),
            ]
        )
        self.widget = widgets.VBox([controls, self.result])
        self.widget.add_class("course-provider-switcher")
        self.run()

    def _model(self) -> ModelSource:
        if self.model.value == _PATH:
            if not self.path.value.strip():
                raise ValueError("choose a course model, or type the path of a .onnx file")
            return Path(self.path.value.strip()).expanduser()
        self._set_status(f"preparing {self.model.value} (exported once, then reused)", 0.0)
        return course_model(self.model.value)

    def _set_status(self, stage: str, fraction: float) -> None:
        self.status.value = stage
        self.progress.value = fraction

    def run(self) -> SwitchReport | None:
        """Run the current choice (what the Run button does); returns the report, or None after an error."""
        self.button.disabled = True
        try:
            report = switch_provider(
                self._model(),
                self.provider.value,
                options=_parse_options(self.options.value),
                threads=self.threads.value,
                optimization=self.optimization.value,
                runs=self.runs,
                progress=self._set_status,
            )
        except Exception as error:  # a learner's model can fail inside ORT in many ways: show it in the panel
            self.error = f"{type(error).__name__}: {error}"
            self.report = None
            self.result.value = (
                f"<div class='course-switch-error' style='color:#b35900'>{html.escape(self.error)}</div>"
            )
            self._set_status("failed", 0.0)
            return None
        finally:
            self.button.disabled = False
        self.error, self.report = None, report
        self.result.value = report.html(measured=True)
        self._set_status("done", 1.0)
        return report

    def static_text(self) -> str:
        """The last run's report without timings (the ``text/plain`` output; nbval compares it)."""
        if self.report is None:
            return f"provider switcher: {self.error}"
        return "provider switcher, result of the last run (timings left out):\n" + self.report.text(measured=False)

    def static_html(self) -> str:
        """The last run's report without timings as HTML: what a reader without a kernel sees."""
        static = (
            self.report.html(measured=False)
            if self.report is not None
            else f"<pre>{html.escape(self.static_text())}</pre>"
        )
        return f"<div class='course-switch-static'>{static}</div>"

    def __repr__(self) -> str:
        return self.static_text()

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        bundle = self.widget._repr_mimebundle_(**kwargs) or {}
        bundle["text/plain"] = self.static_text()
        bundle["text/html"] = self.static_html()
        return bundle


def provider_switcher(
    model: str = "DigitsCNN", provider: str = "CPUExecutionProvider", *, runs: int = 20
) -> ProviderSwitcher:
    """The provider switcher widget, already run once with ``model`` (a course model name or a .onnx path) and
    ``provider``."""
    return ProviderSwitcher(model, provider, runs=runs)
