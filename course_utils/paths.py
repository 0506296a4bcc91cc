"""Where the course keeps things.

* ``DATA_DIR`` holds small committed files (dataset, trained models) rebuilt by ``data/make_data.py``.
* ``ARTIFACTS_DIR`` holds everything lessons and tests generate (exported ``.onnx`` files, profiles,
  benchmark results). It is git-ignored, so nothing generated ever lands in ``data/`` or over a
  learner's own files.

Set ``COURSE_ARTIFACTS_DIR`` to send generated files elsewhere (a scratch disk on a shared hub, say).

Several processes may share ``artifacts/`` at once (two notebooks, the test suite's parallel workers, a learner's
kernel and a benchmark): a cached file is built with :func:`build_once` (one builder at a time, the others wait and
reuse it) and written with :func:`atomic_output`, so no reader ever sees half a file.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

__all__ = [
    "ARTIFACTS_DIR",
    "DATA_DIR",
    "NOTEBOOKS_DIR",
    "REPO_ROOT",
    "artifact_path",
    "atomic_output",
    "build_lock",
    "build_once",
    "data_path",
    "newer_than",
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


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Write ``path`` so that no reader ever sees it half written: yields a temporary path in the same folder
    (``.<stem>.<pid>.<thread>.partial<suffix>``: the same suffix, for writers that look at it) to write instead;
    when the block ends without an error it replaces ``path`` in one step (``os.replace``, atomic within a file
    system), otherwise it is removed and ``path`` is left as it was."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.stem}.{os.getpid()}.{threading.get_ident()}.partial{target.suffix}")
    try:
        yield partial
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)


@contextlib.contextmanager
def build_lock(path: str | os.PathLike[str]) -> Iterator[None]:
    """Hold the lock for building ``path`` while the block runs: an exclusive ``flock`` on ``.<name>.lock``
    beside it, so another process (or thread) asking for the same lock waits. The operating system releases it
    when the block ends or the process dies, so a crashed builder never leaves it held. Where ``fcntl`` is
    missing (Windows) no lock is taken: :func:`atomic_output` alone still keeps every reader safe."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.with_name(f".{target.name}.lock"), "a+b") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def newer_than(source: str | os.PathLike[str]) -> Callable[[Path], bool]:
    """A ``fresh`` test for :func:`build_once`: the cached file exists and is not older than ``source``, the file
    it is made from (a re-exported model makes its quantized copies stale)."""
    made_from = Path(source)
    return lambda path: path.exists() and path.stat().st_mtime >= made_from.stat().st_mtime


def build_once(
    path: str | os.PathLike[str],
    build: Callable[[Path], object],
    *,
    fresh: Callable[[Path], bool] = Path.exists,
    force: bool = False,
) -> Path:
    """A cached file, built only when it is not ``fresh`` (default: it exists) or with ``force``: ``build(tmp)``
    writes it to a temporary path that then replaces ``path`` (:func:`atomic_output`), under :func:`build_lock`.
    Two processes asking at once build it once: the second waits for the lock, sees the file fresh and reuses it.
    Returns ``path``."""
    target = Path(path)
    if not force and fresh(target):
        return target
    with build_lock(target):
        if not force and fresh(target):  # built by another process while this one waited
            return target
        with atomic_output(target) as partial:
            build(partial)
    return target
