"""Re-execute notebooks in place, top to bottom, with the same environment nbval uses.

    ./course execute                          # every notebook in notebooks/
    ./course execute notebooks/02_*.ipynb     # just these

Each notebook gets its imports sorted and is formatted with ruff first, then run in a fresh kernel from the
notebooks/ folder, so the stored outputs are those of a clean run with execution counts 1..n. A cell that raises stops the run with
the cell shown, unless the cell is tagged ``raises-exception`` (a lesson showing an error on purpose). Each run
prints its wall time and the kernel's peak resident memory (alone, and with the processes it started), the numbers
behind the course's limit of 60 s and 1.5 GB per notebook.
"""

from __future__ import annotations

import argparse
import contextlib
import subprocess
import sys
import threading
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from course_utils._notebook_env import apply_notebook_env
from course_utils.paths import NOTEBOOKS_DIR, REPO_ROOT, relative_to_repo


class _PeakMemory:
    """Samples the resident memory (RSS) of this process's children every 0.1 s while a notebook runs: the kernel's
    own peak, and the peak of the kernel plus the processes it starts (a child process counts while it lives)."""

    def __init__(self) -> None:
        self.kernel_mib = 0.0
        self.tree_mib = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> _PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        import psutil

        me = psutil.Process()
        while not self._stop.wait(0.1):
            kernel, tree = 0, 0
            for child in me.children(recursive=True):
                try:
                    rss = child.memory_info().rss
                    tree += rss
                    if "ipykernel" in " ".join(child.cmdline()):
                        kernel = max(kernel, rss)
                except psutil.Error:
                    continue
            self.kernel_mib = max(self.kernel_mib, kernel / 2**20)
            self.tree_mib = max(self.tree_mib, tree / 2**20)


def execute(path: Path, timeout: int, memory: _PeakMemory | None = None) -> float:
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        cell.metadata.pop("execution", None)  # timestamps of an earlier run
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
        # Per-cell timestamps would change every run and bury real changes in diffs.
        record_timing=False,
    )
    start = time.perf_counter()
    with memory or contextlib.nullcontext():
        client.execute()
    # Widget state stays (nbclient stores it): readers without a kernel (GitHub, nbviewer, a closed lab)
    # then see the widgets as they were after the run, not "Error displaying widget".
    nbformat.write(nb, path)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("notebooks", nargs="*", type=Path, help="notebooks to run (default: all)")
    parser.add_argument("--timeout", type=int, default=600, help="seconds per cell (default 600)")
    args = parser.parse_args(argv)
    paths = [p.resolve() for p in args.notebooks] or sorted(NOTEBOOKS_DIR.glob("*.ipynb"))
    apply_notebook_env()
    ruff = Path(sys.executable).with_name("ruff")
    # Sort imports first (the one lint rule that rewrites code safely), so a re-executed notebook passes `ruff check`.
    subprocess.run(
        [str(ruff), "check", "--quiet", "--fix", "--select", "I", *map(str, paths)], check=True, cwd=REPO_ROOT
    )
    subprocess.run([str(ruff), "format", "--quiet", *map(str, paths)], check=True, cwd=REPO_ROOT)
    for path in paths:
        memory = _PeakMemory()
        try:
            seconds = execute(path, args.timeout, memory)
        except CellExecutionError as e:
            print(f"FAILED {relative_to_repo(path)}\n{e}", file=sys.stderr)
            return 1
        print(
            f"ok  {relative_to_repo(path)}  ({seconds:.1f} s; kernel peak {memory.kernel_mib:.0f} MiB, "
            f"with the processes it started {memory.tree_mib:.0f} MiB)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
