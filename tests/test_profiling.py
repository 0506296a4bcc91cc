"""Reading ONNX Runtime profiles: a hand-made trace with known durations, and a real one."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
from course_test_helpers import export_digits_cnn

from course_utils.runtime.profiling import NotATraceError, plot_op_types, read_trace


def event(name: str, op: str, dur: int, cat: str = "Node") -> dict:
    return {"cat": cat, "name": name, "dur": dur, "ts": 0, "ph": "X", "args": {"op_name": op, "provider": "CPU"}}


def write_trace(path: Path) -> Path:
    events = [
        {"cat": "Session", "name": "model_loading_uri", "dur": 999, "args": {}},
        {"cat": "Session", "name": "model_run", "dur": 5000, "args": {}},
        {"cat": "Session", "name": "model_run", "dur": 5000, "args": {}},
        event("conv_a_fence_before", "Conv", 0),
        event("conv_a_kernel_time", "Conv", 1000),
        event("conv_a_kernel_time", "Conv", 1200),
        event("conv_b_kernel_time", "Conv", 300),
        event("relu_1_kernel_time", "Relu", 100),
        event("relu_2_kernel_time", "Relu", 100),
        event("relu_3_kernel_time", "Relu", 100),
        event("gemm_kernel_time", "Gemm", 1500),
    ]
    path.write_text(json.dumps(events))
    return path


def test_known_durations(tmp_path: Path) -> None:
    trace = read_trace(write_trace(tmp_path / "t.json"))
    assert trace.model_runs == 2
    assert len(trace.kernels) == 7  # fence and session events are not work
    assert trace.by_op_type() == {"Conv": 2.5, "Gemm": 1.5, "Relu": pytest.approx(0.3)}
    assert list(trace.by_node())[:2] == ["conv_a", "gemm"]
    table = trace.top_nodes(2)
    assert table.rows[0] == ("conv_a", "Conv", 1.1, pytest.approx(100 * 2.2 / 4.3))
    assert len(table.rows) == 2
    text = str(table)
    assert text.splitlines()[0].split() == ["node", "op", "type", "ms", "per", "run", "%", "of", "time"]
    assert "conv_a" in table._repr_html_()
    assert "2 runs" in str(trace)
    # the share of op types: what removing them could save at most (4.3 ms of kernel time in all)
    assert trace.share("Relu") == pytest.approx(0.3 / 4.3)
    assert trace.share("Relu", "Gemm") == pytest.approx(1.8 / 4.3)
    assert trace.share("BatchNormalization") == 0.0
    assert trace.share(*trace.by_op_type()) == pytest.approx(1.0)
    fig = plot_op_types(trace)
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["Relu", "Gemm", "Conv"]


def test_real_profile(tmp_path: Path) -> None:
    path = export_digits_cnn(tmp_path / "d.onnx")
    options = ort.SessionOptions()
    options.enable_profiling = True
    options.profile_file_prefix = str(tmp_path / "p")
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    for _ in range(3):
        session.run(None, {"image": np.zeros((1, 1, 8, 8), np.float32)})
    trace = read_trace(session.end_profiling())
    assert trace.model_runs == 3
    assert set(trace.by_op_type()) == {"Conv", "BatchNormalization", "Relu", "MaxPool", "Flatten", "Gemm"}
    assert len(trace.kernels) == 3 * 11  # 11 nodes, 3 runs
    assert {e.provider for e in trace.kernels} == {"CPUExecutionProvider"}


def test_bad_files(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="end_profiling"):
        read_trace(tmp_path / "none.json")
    bad = tmp_path / "bad.json"
    bad.write_text("not json")
    with pytest.raises(NotATraceError, match="not JSON"):
        read_trace(bad)
    bad.write_text('{"a": 1}')
    with pytest.raises(NotATraceError, match="not a trace"):
        read_trace(bad)


def test_skip_runs_leaves_out_the_cold_runs(tmp_path: Path) -> None:
    """A cold first run (slow Conv) then two warm ones: skip_runs=1 keeps the warm runs' events only."""

    def timed(name: str, op: str, dur: int, ts: int) -> dict:
        return {**event(name, op, dur), "ts": ts}

    events = [
        {"cat": "Session", "name": "model_run", "ts": 0, "dur": 900, "args": {}},
        timed("conv_kernel_time", "Conv", 800, 10),  # the cold run: allocations, kernel choice
        timed("relu_kernel_time", "Relu", 50, 820),
        {"cat": "Session", "name": "model_run", "ts": 1000, "dur": 300, "args": {}},
        timed("conv_kernel_time", "Conv", 200, 1010),
        timed("relu_kernel_time", "Relu", 40, 1220),
        {"cat": "Session", "name": "model_run", "ts": 1400, "dur": 300, "args": {}},
        timed("conv_kernel_time", "Conv", 220, 1410),
        timed("relu_kernel_time", "Relu", 40, 1640),
    ]
    path = tmp_path / "cold.json"
    path.write_text(json.dumps(events))
    everything = read_trace(path)
    assert everything.model_runs == 3 and everything.by_op_type()["Conv"] == pytest.approx(1.22)
    warm = read_trace(path, skip_runs=1)
    assert (warm.model_runs, warm.skipped_runs, len(warm.kernels)) == (2, 1, 4)
    assert warm.by_op_type() == {"Conv": pytest.approx(0.42), "Relu": pytest.approx(0.08)}
    assert "2 runs (1 warm-up runs left out)" in str(warm)
    with pytest.raises(ValueError, match="leaves nothing: the profile holds 3 runs"):
        read_trace(path, skip_runs=3)
    with pytest.raises(ValueError, match="skip_runs"):
        read_trace(path, skip_runs=-1)


def test_real_profile_holds_only_the_warm_runs_asked_for(tmp_path: Path) -> None:
    path = export_digits_cnn(tmp_path / "d.onnx")
    options = ort.SessionOptions()
    options.enable_profiling = True
    options.profile_file_prefix = str(tmp_path / "p")
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    for _ in range(2 + 3):  # 2 warm-up runs, 3 to profile
        session.run(None, {"image": np.zeros((1, 1, 8, 8), np.float32)})
    trace_path = session.end_profiling()
    assert read_trace(trace_path).model_runs == 5  # the file holds the cold runs too
    trace = read_trace(trace_path, skip_runs=2)
    assert trace.model_runs == 3 and len(trace.kernels) == 3 * 11  # 11 nodes, the 3 warm runs
    runs = sorted(
        (e["ts"], e["ts"] + e["dur"]) for e in json.loads(Path(trace_path).read_text()) if e["name"] == "model_run"
    )
    for start, end in runs[2:]:  # every warm run is there whole ...
        assert sum(start <= k.ts_us <= end for k in trace.kernels) == 11
    assert all(k.ts_us >= runs[1][1] for k in trace.kernels)  # ... and nothing of the cold ones
