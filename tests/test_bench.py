"""course_utils.bench: statistics, the timing harness, the engine registry, reports (text, HTML, JSON) and the
command line. Speed is never asserted; only what was measured and how."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from course_utils import bench
from course_utils.bench import (
    BenchReport,
    BenchRow,
    Prepared,
    UnknownEngineError,
    UnknownModelError,
    benchmark,
    latency_stats,
    load_target,
    measure,
    register_engine,
)

REPO = Path(__file__).resolve().parents[1]


def tiny_model(path: Path) -> Path:
    """A Conv + Relu on (N, 2, 6, 6): 2*3*36*2*9 FLOPs per image (pad 1, 3 filters)."""
    weight = numpy_helper.from_array(np.ones((3, 2, 3, 3), np.float32), "w")
    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "w"], ["c"], pads=[1] * 4), helper.make_node("Relu", ["c"], ["y"])],
        "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 2, 6, 6])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 3, 6, 6])],
        [weight],
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8), path)
    return path


TINY_FLOPS = 2 * 3 * 36 * 2 * 9


# ------------------------------------------------------------------------------------------- statistics


def test_latency_stats_match_numpy() -> None:
    samples = [5.0, 1.0, 2.0, 4.0, 3.0, 100.0, 2.5, 3.5]
    stats = latency_stats(samples)
    for q, value in ((50, stats.p50_ms), (90, stats.p90_ms), (99, stats.p99_ms)):
        assert value == pytest.approx(np.percentile(samples, q))
    assert stats.runs == 8 and stats.min_ms == 1.0
    assert stats.mean_ms == pytest.approx(np.mean(samples))
    assert stats.iqr_ms == pytest.approx(np.percentile(samples, 75) - np.percentile(samples, 25))
    assert stats.spread == pytest.approx(stats.p90_ms / stats.p50_ms)
    assert str(latency_stats([1.0, 2.0, 3.0])).startswith("3 runs: p50 2 ms, p90 2.8 ms, p99 2.98 ms, mean 2 ms")
    single = latency_stats([2.0])
    assert (single.p50_ms, single.p99_ms, single.iqr_ms) == (2.0, 2.0, 0.0)
    with pytest.raises(ValueError, match="zero times"):
        latency_stats([])


def test_median_resists_one_pause() -> None:
    stats = latency_stats([1.0] * 99 + [500.0])
    assert stats.p50_ms == 1.0 and stats.mean_ms > 5


# ------------------------------------------------------------------------------------------- the harness


def test_measure_warms_up_and_times_each_run() -> None:
    calls: list[int] = []
    timings = measure(lambda: calls.append(1), budget_s=0.01, warmup_runs=7, warmup_s=0.0, min_runs=50)
    assert timings.warmup_runs == 7
    assert len(calls) == 7 + len(timings.samples_ms)
    assert len(timings.samples_ms) >= 50
    assert all(s >= 0 for s in timings.samples_ms)


def test_measure_bounds_and_progress() -> None:
    seen: list[tuple[int, float]] = []
    timings = measure(
        lambda: None,
        budget_s=60.0,
        warmup_runs=1,
        warmup_s=0.0,
        min_runs=1,
        max_runs=200,
        on_progress=lambda s, f: seen.append((len(s), f)),
    )
    assert len(timings.samples_ms) == 200  # max_runs stops it long before the budget
    assert seen[-1] == (200, 1.0)  # the final call always comes
    with pytest.raises(ValueError):
        measure(lambda: None, budget_s=0)
    with pytest.raises(ValueError):
        measure(lambda: None, min_runs=5, max_runs=2)


class FakeClock:
    """perf_counter_ns for measure(): time moves only when the benchmarked call runs (``step_ms`` per call)."""

    def __init__(self, step_ms: float) -> None:
        self.now = 0
        self.step = int(step_ms * 1e6)
        self.calls = 0

    def __call__(self) -> int:
        return self.now

    def run(self) -> None:
        self.calls += 1
        self.now += self.step


def fake_measure(monkeypatch: pytest.MonkeyPatch, step_ms: float, **options) -> tuple[bench.Timings, FakeClock]:
    clock = FakeClock(step_ms)
    monkeypatch.setattr(bench.harness.time, "perf_counter_ns", clock)
    return measure(clock.run, **options), clock


def test_measure_min_runs_beats_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    timings, clock = fake_measure(monkeypatch, 2, budget_s=0.003, warmup_runs=1, warmup_s=0.0, min_runs=4)
    assert timings.samples_ms == (2.0, 2.0, 2.0, 2.0)  # past the budget after 2 runs, but 4 are required
    assert clock.calls == 5 and timings.warmup_runs == 1


def test_measure_stops_at_three_budgets(monkeypatch: pytest.MonkeyPatch) -> None:
    timings, _ = fake_measure(monkeypatch, 2, budget_s=0.003, warmup_runs=1, warmup_s=0.0, min_runs=10)
    assert len(timings.samples_ms) == 5  # 10 runs would take 20 ms; it stops once 9 ms (3 budgets) are spent


def test_slow_warmup_stops_after_one_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    timings, _ = fake_measure(monkeypatch, 5, budget_s=0.003, warmup_runs=3, warmup_s=0.0, min_runs=1)
    assert timings.warmup_runs == 1
    timings, _ = fake_measure(monkeypatch, 0.01, budget_s=1.0, warmup_runs=3, warmup_s=0.001, min_runs=1)
    assert timings.warmup_runs == 100  # 3 runs at least, and until warmup_s has passed


def test_no_warmup_when_asked_for_none(monkeypatch: pytest.MonkeyPatch) -> None:
    timings, clock = fake_measure(monkeypatch, 2, budget_s=0.004, warmup_runs=0, warmup_s=0.0, min_runs=1)
    assert timings.warmup_runs == 0 and clock.calls == len(timings.samples_ms) == 2


def test_harness_overhead_is_a_small_positive_number() -> None:
    overhead = bench.harness_overhead_us(runs=2000)
    assert 0.0 <= overhead < 1000  # microseconds per run; printed by the lesson, not asserted tighter


# ------------------------------------------------------------------------------------------- engines


@pytest.fixture()
def scratch_engine():
    names: list[str] = []
    yield names
    for name in names:
        bench.ENGINES.pop(name, None)


def test_register_engine_with_extra_columns(tmp_path: Path, scratch_engine: list[str]) -> None:
    import onnxruntime as ort

    def make(target: bench.BenchTarget, threads: int) -> Prepared:
        session = ort.InferenceSession(str(target.onnx_path), providers=["CPUExecutionProvider"])
        closed.append(False)
        return Prepared(
            lambda: session.run(None, dict(target.feed)), extra={"agreement": 0.975}, close=lambda: closed.append(True)
        )

    closed: list[bool] = []
    scratch_engine.append("test-int8")
    register_engine("test-int8", make, description="a lesson-07 style engine")
    with pytest.raises(ValueError, match="already registered"):
        register_engine("test-int8", make)
    register_engine("test-int8", make, replace=True)
    target = load_target(tiny_model(tmp_path / "tiny.onnx"), batch=2)
    assert target.flops == 2 * TINY_FLOPS and target.feed["x"].shape == (2, 2, 6, 6)
    report = benchmark(target, ["test-int8", "ort-all"], threads=1, budget_s=0.05, peak_gflops=100.0)
    assert closed == [False, True]
    row = report.row("test-int8")
    assert row.extra == {"agreement": 0.975}
    assert row.as_dict()["agreement"] == 0.975
    assert list(row.as_dict())[:10] == list(bench.report._STANDARD)
    assert row.runs == len(row.samples_ms) >= 5
    assert row.gflops_per_s == pytest.approx(2 * TINY_FLOPS / (row.p50_ms / 1e3) / 1e9, rel=0.01)
    assert row.pct_of_peak == pytest.approx(row.gflops_per_s, abs=0.06)  # 100 GFLOP/s peak: % == GFLOP/s
    # text and HTML come from the same rows; the extra column appears in both, '-' where a row lacks it
    text, html = str(report), report._repr_html_()
    assert text.splitlines()[0].split()[-1] == "agreement"
    assert ">agreement</th>" in html
    assert text.splitlines()[3].split()[-1] == "-"
    data = json.loads(report.to_json(tmp_path / "r.json"))
    assert data == json.loads((tmp_path / "r.json").read_text())
    assert [r["engine"] for r in data["rows"]] == ["test-int8", "ort-all"]
    assert "agreement" not in data["rows"][1]
    assert report.speedup("ort-all", "test-int8") == pytest.approx(row.p50_ms / report.row("ort-all").p50_ms)


def test_unknown_engine_and_model(tmp_path: Path) -> None:
    target = load_target(tiny_model(tmp_path / "tiny.onnx"))
    with pytest.raises(UnknownEngineError, match="Registered: ort-all"):
        benchmark(target, ["ort-fast"])
    with pytest.raises(UnknownModelError, match="does not exist"):
        load_target(tmp_path / "nope.onnx")
    (tmp_path / "x.txt").write_text("x")
    with pytest.raises(UnknownModelError, match=r"not an \.onnx file.*digits_cnn"):
        load_target(tmp_path / "x.txt")
    with pytest.raises(ValueError, match="batch"):
        load_target(tmp_path / "tiny.onnx", batch=0)


def test_framework_engine_skipped_on_onnx_target(tmp_path: Path) -> None:
    target = load_target(tiny_model(tmp_path / "tiny.onnx"))
    assert bench.default_engines(target) == ["ort-disable", "ort-all"]
    report = benchmark(target, ["torch-eager", "ort-basic"], budget_s=0.02)
    assert [r.engine for r in report.rows] == ["ort-basic"]
    assert report.notes == ("torch-eager skipped on tiny: it needs a torch model, the target is ONNX only",)
    assert report.rows[0].pct_of_peak is None


def test_course_model_with_torch_baseline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bench.targets, "_artifact", lambda name: tmp_path / name)
    target = load_target("digits_cnn", batch=3)
    assert target.framework_kind == "torch" and target.onnx_path == tmp_path / "digits_cnn.onnx"
    assert target.flops == 3 * 675_072
    events: list[tuple[str, int, int]] = []
    report = benchmark(
        target, None, threads=1, budget_s=0.05, on_progress=lambda e, s, f, i, n: events.append((e, i, n))
    )
    assert [r.engine for r in report.rows] == ["torch-eager", "ort-disable", "ort-all"]
    assert {(e, i, n) for e, i, n in events} == {("torch-eager", 0, 3), ("ort-disable", 1, 3), ("ort-all", 2, 3)}
    assert all(r.batch == 3 and r.threads == 1 for r in report.rows)


def test_reference_evaluator_engine(tmp_path: Path) -> None:
    target = load_target(tiny_model(tmp_path / "tiny.onnx"))
    report = benchmark(target, ["onnx-reference"], budget_s=0.02)
    assert report.rows[0].engine == "onnx-reference" and report.rows[0].runs >= 5


def recording_engine(
    name: str, calls: list[tuple[str, dict]], scratch: list[str], run_ms: float = 1.0, **register: object
) -> None:
    """An engine that runs elsewhere (like tf-function's child process): its ``Prepared.measure`` records each
    call's options and returns 4 samples of ``run_ms``."""

    def make(target: bench.BenchTarget, threads: int) -> Prepared:
        def timed(**options: object) -> bench.Timings:
            calls.append((name, options))
            return bench.Timings((run_ms,) * 4, 1, 0.0, 4 * run_ms / 1e3)

        return Prepared(lambda: None, measure=timed)

    scratch.append(name)
    register_engine(name, make, replace=True, **register)  # type: ignore[arg-type]


def test_engines_take_turns_in_rotating_rounds(tmp_path: Path, scratch_engine: list[str]) -> None:
    calls: list[tuple[str, dict]] = []
    for name in ("eng-a", "eng-b", "eng-c"):
        recording_engine(name, calls, scratch_engine)
    target = load_target(tiny_model(tmp_path / "tiny.onnx"))
    report = benchmark(target, ["eng-a", "eng-b", "eng-c"], budget_s=0.3, rounds=3, min_runs=10, warmup_runs=5)
    order = [name for name, _ in calls]
    assert order == ["eng-a", "eng-b", "eng-c", "eng-b", "eng-c", "eng-a", "eng-c", "eng-a", "eng-b"]
    assert all(options["budget_s"] == pytest.approx(0.1) for _, options in calls)  # the budget, split
    first = {name: options for name, options in calls[:3]}
    assert all(options["warmup_runs"] == 5 for options in first.values())  # the first round warms up as asked
    assert all(options["warmup_runs"] == 1 for _, options in calls[3:])  # later ones briefly
    assert [options["min_runs"] for name, options in calls if name == "eng-a"] == [4, 3, 2]  # 10 runs in all
    assert [r.engine for r in report.rows] == ["eng-a", "eng-b", "eng-c"]  # rows in the order asked
    assert all(r.runs == 12 and len(r.samples_ms) == 12 for r in report.rows)  # every round's samples
    assert report.environment["rounds"] == 3 and report.environment["budget_s"] == 0.3
    with pytest.raises(ValueError, match="rounds"):
        benchmark(target, ["eng-a"], rounds=0)


def test_rounds_that_fall_short_ask_more_of_the_next(tmp_path: Path, scratch_engine: list[str]) -> None:
    calls: list[tuple[str, dict]] = []
    recording_engine("short-eng", calls, scratch_engine)  # 4 samples a round, whatever min_runs asks
    target = load_target(tiny_model(tmp_path / "tiny.onnx"))
    report = benchmark(target, ["short-eng"], budget_s=0.05, rounds=5, min_runs=40, max_runs=40)
    asked = [(options["min_runs"], options["max_runs"]) for _, options in calls]
    assert asked == [(8, 8), (9, 9), (11, 11), (14, 14), (24, 24)]  # never max < min
    assert report.row("short-eng").runs == 20


def test_slow_engines_skip_rewarming_and_stop_at_three_budgets(tmp_path: Path, scratch_engine: list[str]) -> None:
    calls: list[tuple[str, dict]] = []
    recording_engine("slow-eng", calls, scratch_engine, run_ms=100.0)  # 0.4 s per round
    recording_engine("quick-eng", calls, scratch_engine, run_ms=1.0)
    target = load_target(tiny_model(tmp_path / "tiny.onnx"))
    benchmark(target, ["slow-eng", "quick-eng"], budget_s=0.5, rounds=5)
    slow = [options for name, options in calls if name == "slow-eng"]
    quick = [options for name, options in calls if name == "quick-eng"]
    assert [(o["warmup_runs"], o["warmup_s"]) for o in slow[1:]] == [(0, 0.0)] * 3  # a 100 ms run is warm enough
    assert len(slow) == 4 and len(quick) == 5  # 1.6 s spent: past 3 x 0.5 s, it sits out the last round
    assert all(o["warmup_runs"] == 1 for o in quick[1:])


def test_interleaving_spreads_a_slowdown_over_every_engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two identical engines on a machine that gets twice as slow halfway: timed back to back, the second would
    look 2x slower; taking turns, their medians agree. (A fake clock: nothing here is timed for real.)"""
    clock = FakeClock(1.0)
    monkeypatch.setattr(bench.harness.time, "perf_counter_ns", clock)

    def drifting_run() -> None:
        clock.calls += 1
        clock.now += int(1e6 if clock.now < 60e6 else 2e6)  # 1 ms per run for 60 ms, then 2 ms

    def make(target: bench.BenchTarget, threads: int) -> Prepared:
        return Prepared(drifting_run)

    for name in ("same-1", "same-2"):
        register_engine(name, make, replace=True)
    try:
        target = load_target(tiny_model(tmp_path / "tiny.onnx"))
        options = {"budget_s": 0.06, "warmup_runs": 1, "warmup_s": 0.0}
        back_to_back = benchmark(target, ["same-1", "same-2"], rounds=1, **options)
        clock.now = 0
        turns = benchmark(target, ["same-1", "same-2"], rounds=6, **options)
    finally:
        for name in ("same-1", "same-2"):
            bench.ENGINES.pop(name, None)
    assert back_to_back.speedup("same-1", "same-2") == pytest.approx(2.0)  # the artefact interleaving removes
    assert turns.speedup("same-1", "same-2") == pytest.approx(1.0, abs=0.26)


def test_int8_rows_compare_with_an_int8_peak(tmp_path: Path, scratch_engine: list[str]) -> None:
    calls: list[tuple[str, dict]] = []
    recording_engine("fp32-eng", calls, scratch_engine)
    recording_engine("int8-eng", calls, scratch_engine, precision="int8")
    with pytest.raises(ValueError, match="precision"):
        register_engine("bad", lambda t, n: lambda: None, precision="fp16")
    target = dataclasses.replace(load_target(tiny_model(tmp_path / "tiny.onnx")), flops=10**9)
    gflops = 1000.0  # 1 GFLOP in the recorded engines' 1 ms runs
    report = benchmark(target, ["fp32-eng", "int8-eng"], budget_s=0.05, peak_gflops=2 * gflops)
    assert report.row("fp32-eng").pct_of_peak == 50.0
    assert report.row("int8-eng").pct_of_peak is None  # not 50% of an fp32 peak it does not run on
    assert any("pct_of_peak left empty for int8-eng" in n for n in report.notes)
    report = benchmark(
        target, ["fp32-eng", "int8-eng"], budget_s=0.05, peak_gflops=2 * gflops, int8_peak_gops=4 * gflops
    )
    assert report.row("int8-eng").pct_of_peak == 25.0 and not report.notes
    assert "measured int8 peak: 4000.0 GOP/s" in str(report) and report.to_dict()["int8_peak_gops"] == 4000.0


def test_a_row_above_the_peak_gets_a_note(tmp_path: Path, scratch_engine: list[str]) -> None:
    calls: list[tuple[str, dict]] = []
    recording_engine("fast-eng", calls, scratch_engine)
    target = dataclasses.replace(load_target(tiny_model(tmp_path / "tiny.onnx")), flops=10**9)
    gflops = 1000.0
    report = benchmark(target, ["fast-eng"], budget_s=0.05, peak_gflops=gflops / 1.25)
    assert report.row("fast-eng").pct_of_peak == 125.0
    (note,) = report.notes
    assert note.startswith("fast-eng on tiny reached 125.0% of the measured peak") and "measured low" in note


def test_json_names_the_machine_and_the_settings(tmp_path: Path) -> None:
    target = load_target(tiny_model(tmp_path / "tiny.onnx"))
    data = json.loads(benchmark(target, ["ort-all"], threads=1, budget_s=0.05).to_json())
    env = data["environment"]
    assert (env["budget_s"], env["threads"], env["rounds"]) == (0.05, 1, bench.report.ROUNDS)
    machine = env["machine"]
    assert machine["cpu_model"] and machine["usable_cpus"] >= 1
    assert machine["libraries"]["onnxruntime"] == __import__("onnxruntime").__version__
    assert machine["libraries"]["torch"].split("+")[0] == __import__("torch").__version__.split("+")[0]


def test_report_rows_are_one_source() -> None:
    row = BenchRow("e", "m", 1, 2, 1.23456, 2.0, 3.0, 10, 12.5, None)
    report = BenchReport((row,), None, ("a note",))
    cells = report._rows()
    assert cells[0] == list(bench.report._STANDARD)
    assert cells[1] == ["e", "m", "1", "2", "1.235", "2.000", "3.000", "10", "12.5", "-"]
    assert "a note" in str(report) and "a note" in report._repr_html_()
    assert row.throughput_per_s == pytest.approx(1 / 1.23456e-3)


def test_plot_has_one_line_per_engine() -> None:
    fig = bench.plot_latencies({"a": [1.0, 2.0, 1.5], "b": [0.1] * 10, "empty": []}, title="t", done=False)
    assert [line.get_label() for line in fig.axes[0].get_lines()] == ["a", "b"]
    assert "running" in fig._suptitle.get_text()
    assert bench.figure_png(fig)[:8] == b"\x89PNG\r\n\x1a\n"


# ------------------------------------------------------------------------------------------- command line


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-m", "course_utils.bench", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_cli_writes_json_and_reports_progress(tmp_path: Path) -> None:
    model = tiny_model(tmp_path / "tiny.onnx")
    result = run_cli(
        str(model),
        "--engines",
        "ort-disable",
        "ort-all",
        "--threads",
        "1",
        "--batch",
        "2",
        "--budget",
        "0.1",
        "--json",
        "out.json",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    data = json.loads((tmp_path / "out.json").read_text())
    assert [r["engine"] for r in data["rows"]] == ["ort-disable", "ort-all"]
    assert all(r["batch"] == 2 and r["threads"] == 1 and r["model"] == "tiny" for r in data["rows"])
    assert data["peak_gflops"] > 0 and all(r["pct_of_peak"] > 0 for r in data["rows"])
    assert "[2/2] ort-all" in result.stderr and "peak" in result.stderr  # progress goes to stderr
    assert result.stdout.splitlines()[0].split()[:3] == ["engine", "model", "batch"]


def test_cli_help_imports_no_heavy_library(tmp_path: Path) -> None:
    """`--help` answers without importing ONNX Runtime's quantization tools, ONNX Runtime or PyTorch (seconds of
    imports); lesson 07's int8 engines are registered only when one is asked for."""
    code = (
        "import runpy, sys\n"
        "sys.argv = ['bench', '--help']\n"
        "try:\n    runpy.run_module('course_utils.bench', run_name='__main__')\n"
        "except SystemExit as end:\n    assert end.code == 0\n"
        "heavy = ('onnxruntime.quantization', 'onnxruntime', 'torch', 'tensorflow', 'course_utils.quantize')\n"
        "print('IMPORTED', [m for m in heavy if m in sys.modules])\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "usage: python -m course_utils.bench" in result.stdout and "ort-int8-qdq-u8" in result.stdout
    assert result.stdout.splitlines()[-1] == "IMPORTED []"


def test_cli_registers_int8_engines_only_when_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    registered: list[object] = []
    import course_utils.quantize

    monkeypatch.setattr(course_utils.quantize, "register_bench_engines", registered.append)
    for name in [n for n in bench.ENGINES if n.startswith("ort-int8-")]:  # registered by an earlier test module
        monkeypatch.delitem(bench.ENGINES, name)
    bench.cli._register_lesson07_engines(["ort-all", "ort-disable"])
    assert registered == []
    bench.cli._register_lesson07_engines(["ort-all", "ort-int8-qdq-u8"])
    assert registered == [bench]


def test_cli_errors_are_one_line(tmp_path: Path) -> None:
    result = run_cli("missing.onnx", "--no-peak", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith("error: 'missing.onnx' does not exist")
    result = run_cli(str(tiny_model(tmp_path / "t.onnx")), "--engines", "ort-turbo", "--no-peak", cwd=tmp_path)
    assert result.returncode == 2 and "No engine named 'ort-turbo'" in result.stderr
    (tmp_path / "broken.onnx").write_bytes(b"not a model")
    result = run_cli(str(tmp_path / "broken.onnx"), "--no-peak", cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("error: ")


def test_cli_says_when_the_run_is_noisy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(bench.report, "machine_load", lambda: 4.0)
    code = bench.main([str(tiny_model(tmp_path / "t.onnx")), "--engines", "ort-all", "--budget", "0.05", "--no-peak"])
    out = capsys.readouterr().out
    assert code == 0 and "machine load: 4.00 per core" in out
    assert out.splitlines()[-1].startswith("noisy: rerun on an idle machine (")
    assert "machine load 4.00 per core, above 1.25: the CPU is busy" in out.splitlines()[-1]


def fake_gemms(monkeypatch: pytest.MonkeyPatch, rates: dict[tuple[str, int, int], float]) -> list[tuple]:
    """Replace the installed GEMMs by names whose measured rate is ``rates[(name, n, threads)]``; returns the calls."""
    calls: list[tuple] = []
    monkeypatch.setattr(bench.peak, "_gemms", lambda precision: {name: name for name, _, _ in rates})

    def best_rate(make: str, n: int, threads: int, budget_s: float) -> float:
        calls.append((make, n, threads))
        return rates[(make, n, threads)]

    monkeypatch.setattr(bench.peak, "_best_rate", best_rate)
    monkeypatch.setattr(bench.peak, "machine_load", lambda: 0.1)
    monkeypatch.setattr(bench.peak, "physical_cores", lambda: 1.0)  # one core (two SMT threads) unless a test says
    return calls


def test_peak_is_the_best_gemm_measured_on_the_rows_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    rates = {("numpy", 256, 2): 150.0, ("numpy", 512, 2): 160.0, ("torch", 256, 2): 120.0, ("torch", 512, 2): 190.0}
    rates.update({("numpy", 256, 1): 100.0, ("numpy", 512, 1): 110.0, ("torch", 256, 1): 90.0, ("torch", 512, 1): 99.0})
    calls = fake_gemms(monkeypatch, rates)
    peak = bench.peak.measure_peak(2, sizes=(256, 512), cache=False)
    assert peak.value == 190.0 and peak.best == "torch n=512" and peak.threads == 2
    assert dict(peak.by_gemm) == {
        "numpy n=256": 150.0,
        "numpy n=512": 160.0,
        "torch n=256": 120.0,
        "torch n=512": 190.0,
    }
    assert {threads for _, _, threads in calls} == {1, 2}  # on 2 threads; one thread only bounds per core ...
    # ... and here both threads are SMT siblings of one core: 2 x one thread (220) would over-count
    assert "best of numpy n=256 150.0" in str(peak) and "GFLOP/s fp32 on 2 thread(s)" in str(peak)
    assert bench.measure_peak_gflops(threads=2, sizes=(256, 512), cache=False) == 190.0
    with pytest.raises(ValueError, match="threads"):
        bench.measure_peak_gflops(threads=0)
    with pytest.raises(ValueError, match="sizes"):
        bench.peak.measure_peak(1, sizes=())


def test_a_busy_machine_peak_counts_one_thread_per_physical_core(monkeypatch: pytest.MonkeyPatch) -> None:
    rates = {("numpy", 64, 1): 100.0, ("numpy", 64, 2): 150.0, ("numpy", 64, 4): 180.0}  # threads waiting
    fake_gemms(monkeypatch, rates)
    monkeypatch.setattr(bench.peak, "physical_cores", lambda: 2.0)  # two cores (no SMT)
    peak = bench.peak.measure_peak(2, sizes=(64,), cache=False)
    assert peak.value == 200.0 and peak.best == "2 cores x 1 thread (numpy n=64)"
    assert bench.peak.measure_peak(4, sizes=(64,), cache=False).value == 200.0  # 4 threads on 2 cores: not 400
    monkeypatch.setattr(bench.peak, "physical_cores", lambda: 1.5)  # a container's quota of 1.5 CPUs
    assert bench.peak.measure_peak(2, sizes=(64,), cache=False).value == 150.0


def test_peak_is_cached_per_threads_and_remeasured_when_busy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rates = {("numpy", 64, 1): 50.0, ("numpy", 64, 2): 90.0}
    calls = fake_gemms(monkeypatch, rates)
    cache = tmp_path / "peak.json"
    first = bench.peak.measure_peak(1, sizes=(64,), cache=cache)
    assert not first.cached and len(calls) == 1
    again = bench.peak.measure_peak(1, sizes=(64,), cache=cache)
    assert again.cached and again.value == 50.0 and len(calls) == 1  # a lesson does not pay twice
    assert bench.peak.measure_peak(2, sizes=(64,), cache=cache).value == 90.0 and len(calls) == 2  # other threads
    key = next(k for k in json.loads(cache.read_text()) if "threads=1" in k)
    assert "fp32" in key and "onnxruntime=" in key and "cpu=" in key
    rates[("numpy", 64, 1)] = 60.0
    assert bench.peak.measure_peak(1, sizes=(64,), cache=cache, refresh=True).value == 60.0 and len(calls) == 3
    # a peak cached on a busy machine is measured again, and the better of the two kept
    data = json.loads(cache.read_text())
    data[key]["load_per_core"] = 4.0
    cache.write_text(json.dumps(data))
    rates[("numpy", 64, 1)] = 40.0
    kept = bench.peak.measure_peak(1, sizes=(64,), cache=cache)
    assert not kept.cached and kept.value == 60.0 and len(calls) == 4 and kept.load_per_core == 0.1
    assert bench.peak.measure_peak(1, sizes=(64,), cache=cache).cached  # quiet now: cached


def test_real_peaks_run_every_installed_gemm() -> None:
    fp32 = bench.peak.measure_peak(1, sizes=(64,), budget_s=0.02, cache=False)
    assert set(fp32.by_gemm) == {"numpy n=64", "torch n=64", "onnxruntime MatMul n=64"}
    assert all(v > 0 for v in fp32.by_gemm.values())
    int8 = bench.peak.measure_peak(1, precision="int8", sizes=(64,), budget_s=0.02, cache=False)
    assert set(int8.by_gemm) == {"onnxruntime MatMulInteger n=64"} and int8.value > 0
    assert "GOP/s int8" in str(int8)


def test_ort_peak_gemm_computes_the_product() -> None:
    for op, dtype in (("MatMul", np.float32), ("MatMulInteger", np.uint8)):
        a, b = bench.peak._matrices(8, dtype)
        with bench.peak._ort_gemm(op)(8, 1) as run:
            (y,) = run()
        assert np.allclose(y, a.astype(np.float64) @ b.astype(np.float64), rtol=1e-4)


def test_live_view_runs_redraws_and_reports(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from course_utils.views.bench_view import LiveBenchmark

    monkeypatch.setattr(bench.targets, "_artifact", lambda name: tmp_path / name)
    view = LiveBenchmark("digits_cnn", ["ort-all"], threads=1, level="basic", budget_s=0.3)
    view.redraw_every_s = 0.0  # redraw at every progress report
    assert view.selected_engines() == ["ort-all", "ort-basic"]
    report = view.run()
    assert [r.engine for r in report.rows] == ["ort-all", "ort-basic"]
    assert view.redraws >= 3  # during the run, and once at the end
    assert view.png[:8] == b"\x89PNG\r\n\x1a\n" and view.plot.value == view.png
    assert view.progress.value == 1.0 and not view.button.disabled
    assert view.status.value.startswith("done: digits_cnn, batch 1, 1 threads: 2 engines")
    assert repr(view) == "LiveBenchmark(digits_cnn: ort-all, ort-basic; batch 1, 1 threads)"
    monkeypatch.setattr(bench.report, "machine_load", lambda: 3.0)  # a busy machine: the status says so
    view.run()
    assert (
        view.status.value.startswith("done: digits_cnn") and "(noisy: rerun on an idle machine: " in view.status.value
    )
    view.engines.value = ()
    view.level.value = "(none)"
    assert view.selected_engines() == []  # run() then uses the model's default engines


def test_live_view_has_a_static_form_for_readers_without_a_kernel(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On GitHub a widget shows only its text/plain and text/html: the stored output must say something real."""
    import IPython.display

    from course_utils.views import bench_view

    monkeypatch.setattr(bench.targets, "_artifact", lambda name: tmp_path / name)
    shown: list[dict] = []

    class Handle:
        def update(self, obj: object) -> None:
            shown.append(obj._repr_mimebundle_())  # type: ignore[attr-defined]

    def fake_display(obj: object, display_id: bool = False) -> Handle:
        shown.append(obj._repr_mimebundle_())  # type: ignore[attr-defined]
        return Handle()

    monkeypatch.setattr(IPython.display, "display", fake_display)
    view = bench_view.live_benchmark("digits_cnn", engines=["ort-all"], threads=1, budget_s=0.2)
    before, after = shown  # displayed at once (the live plot), updated in place when the run ended
    assert "application/vnd.jupyter.widget-view+json" in after  # the live widget is still there
    assert before["text/plain"].splitlines() == [
        "live benchmark (digits_cnn: ort-all; batch 1, 1 threads)",
        "not run yet: run the cell in a live notebook to time the engines",
    ]
    assert after["text/plain"].splitlines()[:2] == [
        "live benchmark (digits_cnn: ort-all; batch 1, 1 threads)",
        "last run: 1 engine timed: ort-all",
    ]
    assert "VBox" not in after["text/plain"] and " ms" not in after["text/plain"]
    assert "data:image/png;base64," in after["text/html"] and "ort-all" in after["text/html"]
    view.run()  # another run, other timings: the same text
    assert view._repr_mimebundle_()["text/plain"] == after["text/plain"]


# ------------------------------------------------------------------------------------------- verdicts


def synthetic_row(engine: str, p50: float, *, runs: int = 200, spread: float = 1.05, p99: float | None = None):
    """A measured row without measuring: p90 = spread x p50; p99 defaults to 1.2 x p90."""
    p90 = p50 * spread
    return BenchRow(engine, "m", 1, 2, p50, p90, p99 if p99 is not None else 1.2 * p90, runs, 1.0, None)


def test_verdict_quiet_faster_slower_same() -> None:
    ort_row, torch_row = synthetic_row("ort-all", 20.0), synthetic_row("torch-eager", 30.0)
    faster = bench.speed_verdict(ort_row, torch_row, load_per_core=0.3)
    assert (faster.conclusion, faster.trusted, faster.problems) == ("faster", True, ())
    assert faster.ratio == pytest.approx(1.5)
    assert str(faster).splitlines() == [
        "m: ort-all p50 20 ms (200 runs, spread 1.05) vs torch-eager p50 30 ms (200 runs, spread 1.05)",
        "verdict: ort-all is 1.50x faster than torch-eager",
    ]
    slower = bench.speed_verdict(torch_row, ort_row, load_per_core=0.3)
    assert slower.conclusion == "slower" and "torch-eager is 1.50x slower than ort-all" in str(slower)
    same = bench.speed_verdict(synthetic_row("ort-basic", 19.5), ort_row, load_per_core=None)
    assert same.conclusion == "about the same" and same.trusted  # no load average (Windows): not a problem
    assert bench.speed_verdict(synthetic_row("b", 22.5), ort_row).conclusion == "slower"  # 12.5% is past 10%


@pytest.mark.parametrize(
    ("engine_row", "load", "problem"),
    [
        (synthetic_row("torch-eager", 889.0, runs=4), 0.3, "torch-eager: 4 runs, fewer than 20"),
        (synthetic_row("torch-eager", 30.0, spread=1.9), 0.3, "torch-eager: spread p90/p50 1.90, above 1.5"),
        (synthetic_row("torch-eager", 30.0), 2.8, "machine load 2.80 per core, above 1.25: the CPU is busy"),
    ],
    ids=["too-few-runs", "wide-spread", "busy-machine"],
)
def test_verdict_noisy_draws_no_conclusion(engine_row: BenchRow, load: float, problem: str) -> None:
    verdict = bench.speed_verdict(synthetic_row("ort-all", 20.0), engine_row, load_per_core=load)
    assert verdict.conclusion == "noisy" and not verdict.trusted and verdict.claim == ""
    assert verdict.problems == (problem,)
    text = str(verdict)
    assert text.splitlines()[1].startswith("noisy: rerun on an idle machine (")
    assert "faster" not in text and "slower" not in text  # the measured numbers, and no conclusion
    assert "889 ms" in text or "30 ms" in text


def test_verdict_thresholds_can_be_changed() -> None:
    few = synthetic_row("a", 10.0, runs=12)
    assert not bench.speed_verdict(few, synthetic_row("b", 30.0)).trusted
    assert bench.speed_verdict(few, synthetic_row("b", 30.0), min_runs=10).conclusion == "faster"
    assert bench.speed_verdict(
        few, synthetic_row("b", 30.0), min_runs=10, max_load_per_core=0.5, load_per_core=0.7
    ).problems == ("machine load 0.70 per core, above 0.5: the CPU is busy",)


def test_budget_verdict_uses_p99() -> None:
    frame = 1000 / 30
    meets = bench.budget_verdict(synthetic_row("ort-all", 20.0, p99=25.0), frame, load_per_core=0.2)
    assert meets.conclusion == "meets" and meets.ratio == pytest.approx(25.0 / frame)
    assert "(p99 of" not in meets.measured  # 200 runs: p99 means something
    # the median fits, the p99 does not: the budget is missed
    misses = bench.budget_verdict(synthetic_row("torch-eager", 28.0, p99=40.0, runs=50), frame)
    assert misses.conclusion == "misses" and "at most 1 of 50 runs were over it" in misses.claim
    assert "p99 of 50 runs is close to the slowest run" in misses.measured
    way_over = bench.budget_verdict(synthetic_row("x", 50.0, p99=60.0), frame)
    assert "at least half of the runs were over it" in way_over.claim
    noisy = bench.budget_verdict(synthetic_row("x", 20.0, p99=25.0, runs=5), frame, load_per_core=3.0)
    assert noisy.conclusion == "noisy" and len(noisy.problems) == 2
    with pytest.raises(ValueError, match="budget_ms"):
        bench.budget_verdict(synthetic_row("x", 1.0), 0.0)


def with_samples(engine: str, samples: list[float]) -> BenchRow:
    """A row whose percentiles and samples agree, as benchmark() makes them."""
    stats = bench.latency_stats(samples)
    return BenchRow(
        engine, "m", 1, 2, stats.p50_ms, stats.p90_ms, stats.p99_ms, stats.runs, 1.0, None, {}, tuple(samples)
    )


def test_late_rate_bound_is_the_rule_of_three_and_grows_with_late_runs() -> None:
    assert bench.late_rate_bound(0, 20) == pytest.approx(1 - 0.05 ** (1 / 20), rel=1e-6)  # 13.9%: about 3/20
    assert bench.late_rate_bound(0, 300) == pytest.approx(3 / 300, rel=0.01)
    # one late run in 100 is not "at most 1 in 100": the bound is far above the observed 1%
    assert 0.04 < bench.late_rate_bound(1, 100) < 0.05
    assert bench.late_rate_bound(1, 100) > bench.late_rate_bound(0, 100)
    assert bench.late_rate_bound(5, 5) == 1.0
    assert bench.runs_needed(0.01) == 299  # ln(0.05) / ln(0.99)
    with pytest.raises(ValueError):
        bench.late_rate_bound(3, 2)


def test_budget_verdict_claims_only_what_its_runs_support() -> None:
    frame = 1000 / 30
    # 20 runs, none late: the p99 is under budget, yet 20 runs cannot support "at most 1 in 100"
    few = bench.budget_verdict(with_samples("ort-all", [10.0 + 0.1 * i for i in range(20)]), frame)
    assert few.conclusion == "meets"
    assert "0 of 20 runs over it" in few.claim and "at most 13.9% of runs are (about 1 in 7" in few.claim
    assert "1 in 100' needs 299 runs" in few.claim and "at most 1 run in 100" not in few.claim
    # 400 runs, none late: now the bound is under 1 in 100 and the claim says so without a caveat
    many = bench.budget_verdict(with_samples("ort-all", [10.0 + 0.01 * i for i in range(400)]), frame)
    assert "0 of 400 runs over it" in many.claim and "about 1 in 134" in many.claim and "needs" not in many.claim
    # 200 runs, 2 of them late: p99 still under budget, but the late runs are counted and widen the bound
    two_late = bench.budget_verdict(with_samples("x", [10.0] * 198 + [40.0, 50.0]), frame)
    assert two_late.conclusion == "meets" and "2 of 200 runs over it" in two_late.claim
    assert bench.late_rate_bound(2, 200) > 0.03 and "needs 299 runs" in two_late.claim
    # a row read back from JSON has no samples: the count is the most its p99 allows, and says so
    bare = bench.budget_verdict(synthetic_row("x", 20.0, p99=25.0, runs=20), frame)
    assert "at most 1 of 20 runs over it" in bare.claim


def test_report_verdicts_use_its_load() -> None:
    rows = (synthetic_row("torch-eager", 30.0), synthetic_row("ort-all", 20.0))
    busy = BenchReport(rows, None, (), load_per_core=2.0)
    assert busy.verdict("ort-all", "torch-eager").conclusion == "noisy"
    assert busy.budget_verdict("ort-all", 33.3).conclusion == "noisy"
    assert busy.problems() == ("machine load 2.00 per core, above 1.25: the CPU is busy",)
    assert "machine load: 2.00 per core" in str(busy) and "machine load" in busy._repr_html_()
    assert busy.to_dict()["load_per_core"] == 2.0
    quiet = BenchReport(rows, None, (), load_per_core=0.4)
    assert quiet.verdict("ort-all", "torch-eager").conclusion == "faster" and quiet.problems() == ()


def test_machine_load(monkeypatch: pytest.MonkeyPatch) -> None:
    from course_utils import machine

    monkeypatch.setattr(machine.os, "getloadavg", lambda: (3.0, 2.0, 1.0))
    monkeypatch.setattr(machine, "usable_cpus", lambda root=None: 2)  # what the verdict divides by (test_machine.py)
    assert bench.machine_load() == 1.5
    monkeypatch.delattr(machine.os, "getloadavg")  # Windows has none
    assert bench.machine_load() is None
