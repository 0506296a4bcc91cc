"""Where the course keeps things.

* ``DATA_DIR`` holds small committed files (dataset, trained models) rebuilt by ``data/make_data.py``.
* ``ARTIFACTS_DIR`` holds everything lessons and tests generate (exported ``.onnx`` files, profiles,
  benchmark results). It is git-ignored, so nothing generated ever lands in ``data/`` or over a
  learner's own files.

Set ``COURSE_ARTIFACTS_DIR`` to send generated files elsewhere (a scratch disk on a shared hub, say).
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = [
    "ARTIFACTS_DIR",
    "DATA_DIR",
    "NOTEBOOKS_DIR",
    "REPO_ROOT",
    "artifact_path",
    "data_path",
    "relative_to_repo",
]


def _find_repo_root() -> Path:
    """The checkout that holds ``data/`` and ``notebooks/`` (course_utils is installed editable from it)."""
    here = Path(__file__).resolve().parent
    for candidate in (here.parent, Path.cwd(), *Path.cwd().parents):
        if (candidate / "data").is_dir() and (candidate / "notebooks").is_dir():
            return candidate
    return here.parent


REPO_ROOT: Path = _find_repo_root()
DATA_DIR: Path = REPO_ROOT / "data"
NOTEBOOKS_DIR: Path = REPO_ROOT / "notebooks"
ARTIFACTS_DIR: Path = Path(os.environ.get("COURSE_ARTIFACTS_DIR", REPO_ROOT / "artifacts")).resolve()


def data_path(name: str) -> Path:
    """Path of a committed data file, e.g. ``data_path("digits.npz")``.

    Raises ``FileNotFoundError`` with a fix when the file is missing.
    """
    path = DATA_DIR / name
    if not path.exists():
        available = sorted(p.name for p in DATA_DIR.glob("*") if p.is_file())
        raise FileNotFoundError(
            f"Data file '{name}' is not in {DATA_DIR}. Available: {', '.join(available) or 'none'}. "
            "Rebuild the data with `./course data`."
        )
    return path


def artifact_path(name: str, lesson: str | None = None) -> Path:
    """Path for a generated file, inside the git-ignored artifacts folder (created on demand).

    ``artifact_path("resnet18.onnx", lesson="02")`` -> ``artifacts/02/resnet18.onnx``. Lessons write only
    here, so re-running a notebook never overwrites anything a learner saved elsewhere.
    """
    for part, what in ((name, "artifact name"), (lesson or "", "lesson")):
        if Path(part).is_absolute() or ".." in Path(part).parts:
            raise ValueError(f"{what} must be a relative path inside the artifacts folder, got '{part}'")
    folder = ARTIFACTS_DIR / lesson if lesson else ARTIFACTS_DIR
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def relative_to_repo(path: str | os.PathLike[str]) -> str:
    """``path`` relative to the course folder when inside it (``artifacts/02/model.onnx``), else unchanged.

    Paths in a relocated artifacts folder (``COURSE_ARTIFACTS_DIR``) print as ``artifacts/...`` too.

    Lessons print paths this way so outputs read the same on every machine.
    """
    resolved = Path(path).resolve()
    for root, prefix in ((REPO_ROOT, ""), (ARTIFACTS_DIR, "artifacts/")):
        # A moved artifacts folder (COURSE_ARTIFACTS_DIR) still prints as artifacts/..., as in the lessons' text.
        if resolved.is_relative_to(root):
            return prefix + resolved.relative_to(root).as_posix()
    return str(path)
