"""``python -m course_utils.bench``: see :func:`course_utils.bench.cli.main`."""

from course_utils.bench.cli import main

raise SystemExit(main())
