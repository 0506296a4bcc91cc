"""The static (server-less) page of a graph: a model's short summary above its SVG picture, in one self-contained
``<div>``. What :func:`course_utils.views.netron.show_netron` shows where no Netron server runs (stored outputs, a
static HTML export). The picture is :mod:`course_utils.views.graph_view`'s."""

from __future__ import annotations

import html

import onnx

from course_utils.onnxfile.inspect import summarize
from course_utils.onnxfile.modelio import ModelSource, load_model
from course_utils.views.graph_view import DEFAULT_MAX_NODES, FONT, SUMMARY_VALUES, picture

__all__ = ["model_summary", "static_html"]


def model_summary(model_or_path: ModelSource) -> str:
    """A short, deterministic plain-text summary of a model: graph name, opset, inputs, outputs, op counts, size.

    It is :meth:`course_utils.inspect.ModelCard.brief`: the model card in five lines. Raises the course's one-line
    errors (``ModelFileNotFoundError``, ``NotAnOnnxModelError``, ``ExternalDataMissingError``) for bad input, via
    :func:`course_utils.onnxfile.modelio.load_model`.
    """
    return summarize(model_or_path).brief(SUMMARY_VALUES)


def static_html(
    model_or_path: ModelSource, *, max_nodes: int = DEFAULT_MAX_NODES, height: int = 500, summary: str | None = None
) -> str:
    """The summary and the SVG picture in one self-contained ``<div>`` (inline styles, no ids, no scripts).

    ``summary`` is the text above the picture, :func:`model_summary` unless given (a caller that has it already
    passes it, so the model is not summarised twice). External weights are never read: the picture needs none.
    """
    model = load_model(model_or_path, load_external_data=False)
    return _static_html(model, max_nodes=max_nodes, height=height, summary=summary)


def _static_html(model: onnx.ModelProto, *, max_nodes: int, height: int, summary: str | None) -> str:
    if summary is None:
        summary = summarize(model).brief(SUMMARY_VALUES)
    drawn = picture(model, max_nodes=max_nodes, height=height)
    svg = drawn.svg
    what = {
        (True, False): "the middle is collapsed",
        (False, True): "rows too wide to read are shortened",
        (True, True): "the middle and rows too wide to read are collapsed",
    }.get((drawn.middle_collapsed, drawn.rows_collapsed))
    note = ""
    if drawn.hidden:
        note = (
            f"Large graph: the picture shows {drawn.considered - drawn.hidden} of {drawn.considered} nodes "
            f"({what}); the interactive Netron view in a running notebook shows all of them."
        )
    elif drawn.hidden_values:
        note = (
            f"Wide graph: {drawn.hidden_values} graph inputs/outputs are collapsed into one box; the interactive "
            "Netron view in a running notebook shows all of them."
        )
    if note:
        note = f'<div style="color:#7a5a00">{html.escape(note)}</div>'
    return (
        '<div class="course-netron-static" style="font-family:' + FONT + ';font-size:12px;line-height:1.4">'
        '<pre style="margin:0 0 6px 0;font-size:11.5px;white-space:pre-wrap">'
        + html.escape(summary)
        + "</pre>"
        + note
        + '<div style="overflow:auto;max-width:100%">'
        + svg
        + "</div></div>"
    )
