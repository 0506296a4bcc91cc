"""Loading ONNX files and asking them questions: the bottom layer of course_utils.

* :mod:`~course_utils.onnxfile.modelio`    load a model from a path, bytes or ModelProto, with one-line errors
* :mod:`~course_utils.onnxfile.graph`      one home for graph queries: dims, types (numpy names), inputs, walkers
* :mod:`~course_utils.onnxfile.protowire`  the protobuf wire reader (a file's first bytes, field by field)
* :mod:`~course_utils.onnxfile.render`     plurals, byte sizes, and text/HTML tables from one list of rows
* :mod:`~course_utils.onnxfile.inspect`    model cards: what a .onnx file holds (``python -m course_utils.inspect FILE``)
* :mod:`~course_utils.onnxfile.verify`     checker + shape inference reports, numeric parity reports
* :mod:`~course_utils.onnxfile.flops`      FLOPs counted from the ONNX graph (Conv, Gemm, MatMul)
* :mod:`~course_utils.onnxfile.diagrams`   the pipeline picture as deterministic SVG, ``pipeline(highlight=...)``
* :mod:`~course_utils.onnxfile.history`    the ONNX timeline, with sources

May import: :mod:`course_utils.errors`, :mod:`course_utils.paths` and its own modules. One exception today:
``verify`` runs models for its parity reports (``runtime.run``) and re-exports ``versions.limits``'s IR helpers.
No other part is imported here; every other part may import this one.
"""

__all__: list[str] = []  # a namespace of modules: import the module you need
