"""tools/gpu_record.py: the parts that run without a GPU (arguments, the JSON writer, recording a session, and the
one-line "no CUDA provider" exit). The GPU measurements themselves need a GPU machine; nothing here fakes one."""

from __future__ import annotations

import importlib.util
import json
import sys
import warnings
from pathlib import Path
from types import ModuleType

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper

from course_utils.paths import REPO_ROOT


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gpu_record", REPO_ROOT / "tools" / "gpu_record.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["gpu_record"] = module
    spec.loader.exec_module(module)
    return module


gpu_record = _load()
NO_CUDA = "CUDAExecutionProvider" not in ort.get_available_providers()


@pytest.fixture
def tiny_model(tmp_path: Path) -> Path:
    """A two-node model with the input name and shape the script feeds ResNet-18 (``image``, 1x3x224x224)."""
    graph = helper.make_graph(
        [
            helper.make_node("GlobalAveragePool", ["image"], ["pooled"]),
            helper.make_node("Flatten", ["pooled"], ["logits"]),
        ],
        "tiny",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, 224, 224])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 3])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    path = tmp_path / "tiny.onnx"
    onnx.save(model, path)
    return path


def test_arguments_have_defaults_and_reject_nonsense(capsys: pytest.CaptureFixture[str]):
    args = gpu_record.parse_args([])
    assert args.providers == ["CUDA", "TensorRT"] and args.runs == 100 and args.measure is None
    assert args.out == gpu_record.DEFAULT_OUT and not args.skip_install
    args = gpu_record.parse_args(["--providers", "CUDA", "--runs", "5", "--out", "x.json"])
    assert args.providers == ["CUDA"] and args.runs == 5 and args.out == Path("x.json")
    for bad in (["--runs", "0"], ["--warmup", "-1"], ["--providers", "ROCm"]):
        with pytest.raises(SystemExit):
            gpu_record.parse_args(bad)
    err = capsys.readouterr().err
    assert "--runs must be at least 1, got 0" in err and "--warmup must be 0 or more, got -1" in err
    assert "invalid choice: 'ROCm'" in err


def test_json_writer_is_sorted_complete_and_refuses_nan(tmp_path: Path):
    path = gpu_record.write_json({"b": 1, "a": {"d": 2, "c": [1.5]}}, tmp_path / "sub" / "record.json")
    text = path.read_text(encoding="utf-8")
    assert text.endswith("}\n") and text.index('"a"') < text.index('"b"') and text.index('"c"') < text.index('"d"')
    assert json.loads(text) == {"a": {"c": [1.5], "d": 2}, "b": 1}
    assert not list(path.parent.glob("*.tmp"))
    with pytest.raises(ValueError):
        gpu_record.write_json({"x": float("nan")}, tmp_path / "nan.json")


@pytest.mark.skipif(not NO_CUDA, reason="this onnxruntime has a CUDA provider: the real recording would run")
def test_without_a_cuda_provider_it_says_so_in_one_line_and_writes_nothing(
    tiny_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    out = tmp_path / "record.json"
    code = gpu_record.main(["--measure", str(tiny_model), "--out", str(out)])
    err = capsys.readouterr().err
    assert code == gpu_record.EXIT_NO_CUDA
    assert err.count("\n") == 1 and err.startswith("gpu_record: ")
    assert "no CUDAExecutionProvider" in err and "onnxruntime-gpu" in err
    assert not out.exists()


def test_without_a_gpu_nothing_is_installed(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    monkeypatch.setattr(gpu_record.shutil, "which", lambda name: None)
    venv, out = tmp_path / "venv", tmp_path / "record.json"
    code = gpu_record.main(["--venv", str(venv), "--out", str(out)])
    err = capsys.readouterr().err
    assert code == gpu_record.EXIT_NO_CUDA and err.count("\n") == 1 and "no NVIDIA GPU here" in err
    assert not venv.exists() and not out.exists()


def test_a_session_is_recorded_from_what_it_did(tiny_model: Path):
    feed = {"image": np.random.default_rng(0).random((1, 3, 224, 224), dtype=np.float32)}
    reference = feed["image"].mean(axis=(2, 3))
    # The recording logic itself, exercised on the CPU provider (the only one this machine has).
    entry = gpu_record.record_provider(ort, tiny_model, "CPUExecutionProvider", feed, reference, runs=5, warmup=1)
    assert entry["used"] and entry["providers_used"] == ["CPUExecutionProvider"]
    assert entry["nodes_per_provider"] == {"CPUExecutionProvider": 2}
    assert entry["warm_runs"] == 5 and 0 < entry["warm_median_ms"] <= entry["warm_p90_ms"]
    assert entry["first_run_s"] >= 0 and entry["session_create_s"] >= 0
    assert entry["max_abs_diff_vs_cpu"] < 1e-5 and entry["same_top1_as_cpu"]
    json.dumps(entry, allow_nan=False)


@pytest.mark.skipif(not NO_CUDA, reason="this onnxruntime has a CUDA provider")
def test_a_provider_the_session_did_not_use_gets_no_numbers(tiny_model: Path):
    feed = {"image": np.zeros((1, 3, 224, 224), dtype=np.float32)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ORT's own "not in available provider names" warning
        entry = gpu_record.record_provider(
            ort, tiny_model, "CUDAExecutionProvider", feed, np.zeros((1, 3)), runs=3, warmup=0
        )
    assert entry["used"] is False and "CUDAExecutionProvider was requested" in entry["error"]
    assert entry["requested"] == ["CUDAExecutionProvider", "CPUExecutionProvider"]
    assert not {"warm_median_ms", "first_run_s", "max_abs_diff_vs_cpu", "nodes_per_provider"} & set(entry)


def test_machine_description_without_nvidia_smi(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(gpu_record.shutil, "which", lambda name: None)
    machine = gpu_record.describe_machine()
    assert machine["gpus"] == [] and machine["nvidia_smi"] == "not found on PATH"
    assert machine["python"] and machine["cpu_count"]
