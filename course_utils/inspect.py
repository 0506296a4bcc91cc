"""``python -m course_utils.inspect FILE``: what an ONNX file holds, as a model card.

The code lives in :mod:`course_utils.onnxfile.inspect`; this module keeps the command and the import path
(``from course_utils.inspect import …``) that the lessons use. It re-exports that module's public names (its
``__all__``: one list, kept there).
"""

from __future__ import annotations

import sys

from course_utils.onnxfile import inspect as _impl
from course_utils.onnxfile.inspect import *  # noqa: F403  (the names of _impl.__all__)

__all__ = _impl.__all__

if __name__ == "__main__":
    sys.exit(_impl.main())
