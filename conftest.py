"""Root test setup (applies to tests/ and notebooks/): every kernel nbval starts inherits the notebook environment."""

from __future__ import annotations

from course_utils._notebook_env import apply_notebook_env

apply_notebook_env()
