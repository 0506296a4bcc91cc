"""Widgets and served pages: what a notebook shows interactively. Every word a view shows comes from a headless,
tested function of another part; a view only lays it out.

* :mod:`~course_utils.views.netron`                ``netron_view(model)``: Netron's graph view, with a static fallback
* :mod:`~course_utils.views.netron_server`         the local Netron server behind ``netron_view`` (offline, no expiry)
* :mod:`~course_utils.views.graph_view`            the static (server-less) picture of a graph
* :mod:`~course_utils.views.graph_page`            that picture under the model's summary: the static page
* :mod:`~course_utils.views.bench_view`            ``live_benchmark()``: live latency plots (ipywidgets)
* :mod:`~course_utils.views.provider_switch_view`  ``provider_switcher()``: the provider switcher widget
* :mod:`~course_utils.views.opsets_view`           ``opset_explorer()``: the opset explorer widget
* :mod:`~course_utils.views.shapes_view`           ``shape_explorer()``: batch, length and bucketing against latency and memory
* :mod:`~course_utils.views.web_classifier`        ``web_classifier()``: a classifier onnxruntime-web runs in the browser
* ``js/``                                          the scripts the Netron pages load (package data)

**One way to open an interactive part** (tests/test_view_rule.py enforces it over this package):

* a function named after the part in snake_case opens it: ``live_benchmark``, ``provider_switcher``,
  ``opset_explorer``, ``netron_view``, ``shape_explorer``, ``web_classifier``; it is in its module's ``__all__`` and in ``course_utils``'s lazy map;
* it returns the part's view object, an instance of the class of the same name in CamelCase (``LiveBenchmark``,
  ``ProviderSwitcher``, ``OpsetExplorer``, ``NetronView``, ``ShapeExplorer``, ``WebClassifier``; annotated as the return type), which keeps the state of
  the last run (``.report``, ``.text``, ``.summary``) and displays as the live widget (``_repr_mimebundle_``);
* its static result: ``static_text()`` is its ``text/plain`` (deterministic: no timings, no random ids, so nbval
  compares it) and ``static_html()`` what a reader without a kernel sees (GitHub, nbviewer);
* a part that shows progress while it runs (``live_benchmark``) displays itself before running and returns the
  view; the others are displayed as the cell's last expression.

Older names stay as aliases of the same object: ``show_netron`` (= ``netron_view``), ``BenchView`` (= ``LiveBenchmark``).

May import: every headless part (:mod:`course_utils.onnxfile`, :mod:`course_utils.runtime`,
:mod:`course_utils.versions`, :mod:`course_utils.bench`, :mod:`course_utils.quantize`, :mod:`course_utils.models`,
:mod:`course_utils.deploy`,
:mod:`course_utils.paths`, :mod:`course_utils.errors`); never :mod:`course_utils.lessons`. No headless part
imports a view.
"""

__all__: list[str] = []  # a namespace of modules: import the module you need
