"""Widgets and served pages: what a notebook shows interactively. Every word a view shows comes from a headless,
tested function of another part; a view only lays it out.

* :mod:`~course_utils.views.netron`                ``show_netron(model)``: Netron's graph view, with a static fallback
* :mod:`~course_utils.views.netron_server`         the local Netron server behind ``show_netron`` (offline, no expiry)
* :mod:`~course_utils.views.graph_view`            the static (server-less) picture of a graph
* :mod:`~course_utils.views.graph_page`            that picture under the model's summary: the static page
* :mod:`~course_utils.views.bench_view`            ``live_benchmark()``: live latency plots (ipywidgets)
* :mod:`~course_utils.views.provider_switch_view`  ``provider_switcher()``: the provider switcher widget
* :mod:`~course_utils.views.opsets_view`           ``OpsetExplorer``: the opset explorer widget
* ``js/``                                          the scripts the Netron pages load (package data)

May import: every headless part (:mod:`course_utils.onnxfile`, :mod:`course_utils.runtime`,
:mod:`course_utils.versions`, :mod:`course_utils.bench`, :mod:`course_utils.quantize`, :mod:`course_utils.models`,
:mod:`course_utils.paths`, :mod:`course_utils.errors`); never :mod:`course_utils.lessons`. No headless part
imports a view.
"""

__all__: list[str] = []  # a namespace of modules: import the module you need
