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
