"""course_utils.bench.tf_engine: bench's tf-function engine in a child process (threads set, TensorFlow kept out of the
caller), and bench's hook for an engine that measures itself."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from course_utils import bench
from course_utils.bench import BenchTarget, Prepared, Timings

# Run in a fresh interpreter: this test process may have imported TensorFlow for other tests already.
_SCRIPT = """
import json, sys
from pathlib import Path
from course_utils import bench, paths
paths.ARTIFACTS_DIR = Path(sys.argv[1])
target = bench.load_target("keras_cnn")
rows = [bench.benchmark(target, ["tf-function"], threads=t, budget_s=0.2).rows[0] for t in (1, 2)]
print(json.dumps({
    "threads": [r.threads for r in rows],
    "tf_threads": [r.extra["tf_intra_op_threads"] for r in rows],
    "runs": [r.runs for r in rows],
    "tensorflow_imported": "tensorflow" in sys.modules or "keras" in sys.modules,
}))
"""


def test_tf_function_sets_its_threads_and_keeps_tensorflow_out_of_the_caller(tmp_path: Path) -> None:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=str(Path(__file__).parents[1]))
    done = subprocess.run(
        [sys.executable, "-c", _SCRIPT, str(tmp_path)], capture_output=True, text=True, timeout=600, env=env
    )
    assert done.returncode == 0, done.stderr[-2000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    # Each row's threads are the ones TensorFlow used, also the second time in the same caller (in-process,
    # TensorFlow refused to change them once started and the row said threads 2 while it ran on 1).
    assert found["threads"] == [1, 2] and found["tf_threads"] == [1, 2]
    assert all(runs > 0 for runs in found["runs"])
    assert not found["tensorflow_imported"]  # the caller never loaded TensorFlow
    assert len(list((tmp_path / "models").glob("keras_cnn-*.onnx"))) == 1  # converted by a child process too


def test_a_child_that_cannot_load_the_model_raises_one_line(tmp_path: Path) -> None:
    from course_utils.bench.tf_engine import TFFunctionProcess

    broken = tmp_path / "broken.keras"
    broken.write_text("not a keras file\n")
    with pytest.raises(RuntimeError, match=r"^tf-function: TensorFlow failed: \w+") as caught:
        TFFunctionProcess(broken, np.zeros((1, 8, 8, 1), np.float32), threads=1)
    assert "\n" not in str(caught.value)


def test_benchmark_uses_an_engines_own_measure(monkeypatch: pytest.MonkeyPatch) -> None:
    """The hook bench gives the child-process engine: ``Prepared.measure`` is called instead of timing ``run``,
    once per round (engines take turns), with the round's share of the budget."""
    calls: list[dict[str, object]] = []

    def own_measure(*, budget_s: float, on_progress: object, **options: object) -> Timings:
        calls.append({"budget_s": budget_s, **options})
        if callable(on_progress):
            on_progress([1.0, 2.0], 1.0)
        return Timings((1.0, 2.0, 3.0), 3, 0.0, 0.0)

    def never_run() -> None:
        raise AssertionError("run() must not be timed here when the engine measures itself")

    closed = []
    factory = lambda target, threads: Prepared(  # noqa: E731
        never_run, extra={"where": "elsewhere"}, close=lambda: closed.append(True), measure=own_measure
    )
    monkeypatch.setitem(bench.ENGINES, "elsewhere", bench.Engine("elsewhere", factory))
    target = BenchTarget("m", Path("m.onnx"), {}, 1, 1000)
    progress = []
    report = bench.benchmark(
        target, ["elsewhere"], budget_s=0.7, rounds=2, min_runs=3, on_progress=lambda *args: progress.append(args)
    )
    (row,) = report.rows
    assert row.runs == 6 and row.p50_ms == 2.0 and row.extra == {"where": "elsewhere"} and closed == [True]
    assert [(c["budget_s"], c["min_runs"], c["warmup_runs"]) for c in calls] == [(0.35, 2, 3), (0.35, 1, 1)]
    assert progress and progress[0][0] == "elsewhere"
