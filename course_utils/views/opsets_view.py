"""The opset explorer as a widget: pick an operator or a model, slide the opset, read what changes.

    from course_utils.views.opsets_view import opset_explorer
    opset_explorer(["Split", "ReduceMean", "Clip"], opset=18, base_opset=13)
    opset_explorer({"DigitsCNN, opset 18 file": "artifacts/08/digits_cnn_18.onnx"}, opset=13, base_opset=18)

A thin view: every word it shows comes from :func:`course_utils.versions.opsets.explore` (headless, tested), and for a
model the picture below is :func:`course_utils.views.graph_view.render_svg` of the model at the slider's opset, with
the nodes whose definition changed outlined (``highlight=``). Its text/plain is the text, so a notebook's stored
output is deterministic and readable without a kernel.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any

import onnx
import onnx.defs

from course_utils.versions.opsets import explore
from course_utils.views.graph_view import render_svg

__all__ = ["OpsetExplorer", "opset_explorer"]


class OpsetExplorer:
    """A dropdown of subjects, an opset slider and a "compare with" opset, above the explorer's text. Open it with
    :func:`opset_explorer`; ``text`` is the explorer's text for the current choice.

    ``subjects`` is a list of operator names, or a mapping from a label to an operator name, a model (path or
    ``onnx.ModelProto``) or ``(torch module, example tensor)`` to re-export.
    """

    def __init__(
        self,
        subjects: Sequence[str] | Mapping[str, Any],
        *,
        opset: int = 18,
        base_opset: int = 13,
        min_opset: int = 7,
        max_opset: int | None = None,
    ) -> None:
        import ipywidgets as widgets

        self.subjects: dict[str, Any] = dict(subjects) if isinstance(subjects, Mapping) else {s: s for s in subjects}
        if not self.subjects:
            raise ValueError("OpsetExplorer needs at least one operator name or model to show.")
        top = max_opset or onnx.defs.onnx_opset_version()
        wide = {"description_width": "initial"}
        self.picker = widgets.Dropdown(options=list(self.subjects), description="subject", style=wide)
        self.slider = widgets.IntSlider(
            style=wide,
            layout=widgets.Layout(width="480px"),
            value=opset,
            min=min_opset,
            max=top,
            description="opset",
            continuous_update=False,
        )
        self.base = widgets.BoundedIntText(
            value=base_opset,
            min=min_opset,
            max=top,
            description="compare with",
            style=wide,
            layout=widgets.Layout(width="180px"),
        )
        self.result = widgets.HTML()
        self.picture = widgets.HTML()  # the converted or re-exported graph, for a model subject
        self.text = ""
        for control in (self.picker, self.slider, self.base):
            control.observe(self._update, names="value")
        self.view = widgets.VBox([widgets.HBox([self.picker, self.base]), self.slider, self.result, self.picture])
        self._update()

    def _update(self, change: Any = None) -> None:
        self.result.value = "<i>working…</i>"  # a conversion or export can take a moment: say so at once
        found = explore(self.subjects[self.picker.value], self.slider.value, self.base.value)
        self.text = found.text
        self.result.value = f"<pre class='opset-explorer' style='white-space:pre-wrap'>{html.escape(self.text)}</pre>"
        self.picture.value = "" if found.model is None else _picture(found.model, found.changed)

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any] | tuple[dict[str, Any], dict[str, Any]]:
        bundle: dict[str, Any] | tuple[dict[str, Any], dict[str, Any]] = self.view._repr_mimebundle_(**kwargs)
        data = bundle[0] if isinstance(bundle, tuple) else bundle
        data["text/plain"] = self.text
        return bundle

    def __repr__(self) -> str:
        return self.text

    def static_text(self) -> str:
        """The explorer's text for the current choice (the ``text/plain`` output; nbval compares it)."""
        return self.text

    def static_html(self) -> str:
        """The text and, for a model, its picture: what a reader without a kernel sees."""
        return f"{self.result.value}{self.picture.value}"


def opset_explorer(
    subjects: Sequence[str] | Mapping[str, Any],
    *,
    opset: int = 18,
    base_opset: int = 13,
    min_opset: int = 7,
    max_opset: int | None = None,
) -> OpsetExplorer:
    """The opset explorer widget on ``subjects`` (operator names, or labels mapped to an operator name, a model or
    ``(torch module, example tensor)``), at ``opset`` compared with ``base_opset``; the slider goes from
    ``min_opset`` to ``max_opset`` (default: the newest opset this onnx knows)."""
    return OpsetExplorer(subjects, opset=opset, base_opset=base_opset, min_opset=min_opset, max_opset=max_opset)


def _picture(model: onnx.ModelProto, changed: tuple[str, ...]) -> str:
    """The graph at the chosen opset, its changed nodes outlined, with a caption that says so."""
    what = f"outlined in orange: the nodes whose definition changed ({', '.join(changed)})" if changed else ""
    caption = what or "no node's definition changed at this opset"
    return f"<div style='color:#555'>{html.escape(caption)}</div>" + render_svg(model, height=320, highlight=changed)
