"""``python -m course_utils.bench``: :func:`course_utils.bench.cli.main`, with lesson 07's int8 engines registered
(``ort-int8-dynamic``, ``ort-int8-static``, ``ort-int8-qdq-u8``, ``ort-int8-qdq-u8-fc32``).

The command sits above both parts: it imports :mod:`course_utils.quantize`, which builds on
:mod:`course_utils.bench`; nothing in bench imports quantize.
"""

from course_utils.bench.cli import main
from course_utils.quantize.engines import register_bench_engines

register_bench_engines()
raise SystemExit(main())
