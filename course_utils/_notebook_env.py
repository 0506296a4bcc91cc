"""Environment every notebook kernel gets under test (nbval) and when maintainers re-execute notebooks.

One definition, used by the root ``conftest.py`` and ``tools/execute_notebooks.py``, so stored outputs and
nbval's fresh outputs are produced under the same settings.
"""

from __future__ import annotations

import os

NOTEBOOK_ENV: dict[str, str] = {
    # Warnings name the cell "<IPY-INPUT>" instead of a per-run temp file.
    "IPYKERNEL_CELL_NAME": "<IPY-INPUT>",
    # Netron views render their static picture only: deterministic HTML, no server (see course_utils.views.netron).
    "COURSE_NETRON": "static",
    # TensorFlow start-up chatter on stderr would otherwise be compared.
    "TF_CPP_MIN_LOG_LEVEL": "3",
    "PYTHONHASHSEED": "0",
    # Stable float results from TensorFlow's CPU kernels across runs.
    "TF_ENABLE_ONEDNN_OPTS": "0",
    # Exercise checks are recorded to the null device: nothing lands in the real home's progress file, and the
    # index's progress cell reads no records, whichever notebooks ran before it (course_utils.classroom.progress).
    "COURSE_PROGRESS_FILE": os.devnull,
}


def apply_notebook_env() -> None:
    """Set :data:`NOTEBOOK_ENV` in this process, so kernels started from it inherit it."""
    os.environ.update(NOTEBOOK_ENV)
