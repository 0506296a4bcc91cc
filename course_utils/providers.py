"""``python -m course_utils.providers``: the execution-provider table and ``switch_provider``.

The code lives in :mod:`course_utils.runtime.providers`; this module keeps the command and the import path
(``from course_utils.providers import …``) that the lessons use. It re-exports that module's public names (its
``__all__``: one list, kept there).
"""

from __future__ import annotations

import sys

from course_utils.runtime import providers as _impl
from course_utils.runtime.providers import *  # noqa: F403  (the names of _impl.__all__)

__all__ = _impl.__all__

if __name__ == "__main__":
    sys.exit(_impl.main())
