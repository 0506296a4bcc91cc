"""``python -m course_utils.quantize``: see :func:`course_utils.quantize.cli.main`."""

from course_utils.quantize.cli import main

raise SystemExit(main())
