"""``python -m course_utils.bench``: :func:`course_utils.bench.cli.main`, with lesson 07's int8 engines
(``ort-int8-dynamic``, ``ort-int8-static``, ``ort-int8-qdq-u8``, ``ort-int8-qdq-u8-fc32``) registered when one is
requested.

The command sits above both parts: it imports :mod:`course_utils.quantize`, which builds on
:mod:`course_utils.bench`; nothing in bench imports quantize. Importing quantize (ONNX Runtime's quantization
tools) costs seconds, so it happens only when a requested engine is not registered yet: ``--help`` and fp32 runs
never pay it.
"""

from collections.abc import Sequence

from course_utils.bench.cli import main
from course_utils.bench.engines import ENGINES


def _register_int8_engines(names: Sequence[str]) -> None:
    if all(name in ENGINES for name in names):
        return
    from course_utils.quantize.engines import register_bench_engines

    register_bench_engines()


raise SystemExit(main(register_engines=_register_int8_engines))
