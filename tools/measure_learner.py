"""Measure what one learner costs on a workshop hub: memory and CPU of their server and kernel running a lesson.

    .venv/bin/python tools/measure_learner.py                  # lesson 06 (the heaviest in memory), one learner
    .venv/bin/python tools/measure_learner.py --lesson 07 --json artifacts/classroom/learner_07.json

It starts ``./course hub``'s launcher with one learner in a temporary folder, logs in as a browser would, pulls
the course through the nbgitpuller link, then runs every code cell of the lesson, in order, in a kernel of that
learner's server (cells tagged ``raises-exception`` may raise), sampling the resident memory (RSS) of the
single-user server and everything under it (the kernel, its helpers) every 0.1 s. It prints the peaks, the CPU
seconds the lesson used and how long it ran, then stops the hub. The numbers size a hub (docs/teaching.md):
RSS counts pages shared between processes once per process, so the sum is an upper bound.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from course_utils.classroom.client import KernelError, start_hub  # noqa: E402


class Sampler(threading.Thread):
    """Peak RSS of a process and its descendants (and of its biggest descendant, the kernel), every 0.1 s."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        import psutil

        self.root = psutil.Process(pid)
        self.peak_total = self.peak_server = self.peak_child = 0
        self.stop = threading.Event()

    def run(self) -> None:
        import psutil

        while not self.stop.is_set():
            try:
                server = self.root.memory_info().rss
                children = []
                for child in self.root.children(recursive=True):
                    with contextlib.suppress(psutil.Error):
                        children.append(child.memory_info().rss)
            except psutil.Error:
                return
            self.peak_server = max(self.peak_server, server)
            self.peak_child = max([self.peak_child, *children])
            self.peak_total = max(self.peak_total, server + sum(children))
            time.sleep(0.1)


def _cpu_seconds(pid: int) -> float:
    import psutil

    root = psutil.Process(pid)
    total = 0.0
    for process in [root, *root.children(recursive=True)]:
        try:
            times = process.cpu_times()
            total += times.user + times.system + times.children_user + times.children_system
        except psutil.Error:
            pass
    return total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lesson", default="06", help="lesson number (default 06)")
    parser.add_argument("--json", type=Path, help="also write the numbers here")
    args = parser.parse_args()
    import psutil

    folder = Path(tempfile.mkdtemp(prefix="measure-learner-"))
    command = [sys.executable, "-m", "course_utils.classroom.hub"]
    try:
        running = start_hub(command, 1, folder, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)})
    except RuntimeError as error:
        print(error, file=sys.stderr)
        return 1
    hub = running.process
    try:
        learner = running.learner("learner1")
        learner.log_in()
        start_s = learner.wait_for_server()
        learner.pull_course()
        server = next(
            p
            for p in psutil.Process(hub.pid).children(recursive=True)
            if "course_utils.classroom.singleuser" in " ".join(p.cmdline())
        )
        notebook = next(
            (folder / "home" / "learner1" / "onnx-in-practice" / "notebooks").glob(f"{args.lesson}_*.ipynb")
        )
        cells = [c for c in json.loads(notebook.read_text())["cells"] if c["cell_type"] == "code"]
        idle = Sampler(server.pid)
        idle.start()
        time.sleep(1.0)
        idle.stop.set()
        idle.join()
        kernel = learner.start_kernel()
        learner.run(kernel, f"import os\nos.chdir({str(notebook.parent)!r})")  # the notebook's folder, as Lab does
        sampler = Sampler(server.pid)
        sampler.start()
        cpu_before, began = _cpu_seconds(server.pid), time.monotonic()
        failed = []
        for index, cell in enumerate(cells):
            source = "".join(cell["source"])
            try:
                learner.run(kernel, source, timeout=600)
            except KernelError as error:
                if "raises-exception" not in cell.get("metadata", {}).get("tags", []):
                    failed.append(f"cell {index}: {error}")
        wall = time.monotonic() - began
        cpu = _cpu_seconds(server.pid) - cpu_before
        sampler.stop.set()
        sampler.join()
        mib = 1 << 20
        result = {
            "lesson": notebook.name,
            "server_start_s": round(start_s, 1),
            "idle_server_rss_mib": round(idle.peak_server / mib),
            "peak_server_rss_mib": round(sampler.peak_server / mib),
            "peak_kernel_rss_mib": round(sampler.peak_child / mib),
            "peak_total_rss_mib": round(sampler.peak_total / mib),
            "lesson_cpu_s": round(cpu, 1),
            "lesson_wall_s": round(wall, 1),
            "cpus": os.cpu_count(),
            "load_average_1min": round(os.getloadavg()[0], 1),
            "cells_failed": failed,
        }
        print(json.dumps(result, indent=1))
        if args.json:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps(result, indent=1) + "\n")
        return 1 if failed else 0
    finally:
        running.stop(timeout=60)


if __name__ == "__main__":
    raise SystemExit(main())
