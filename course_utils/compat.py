"""``python -m course_utils.compat MODEL``: will this ONNX Runtime run this model?

The code lives in :mod:`course_utils.versions.compat`; this module keeps the command and the import path
(``from course_utils.compat import …``) that the lessons use. It re-exports that module's public names.
"""

from __future__ import annotations

import sys

from course_utils.versions.compat import (
    CompatReport,
    Reason,
    check_compatibility,
    main,
)

__all__ = [
    "CompatReport",
    "Reason",
    "check_compatibility",
    "main",
]

if __name__ == "__main__":
    sys.exit(main())
