"""The CI gate (course_utils.deploy.gate, ``python -m course_utils.gate``): good, broken, too-new, too-slow and
wrong-output models and unusable references each get their exit code (0 / 1 / 1 / 1 / 1 / 2), one line per check."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from course_test_helpers import build_one_op_model
from onnx import TensorProto, helper, numpy_helper

from course_utils.deploy.gate import FAIL, PASS, SKIP, read_reference, run_gate, write_reference
from course_utils.errors import GateInputError, InputMismatchError
from course_utils.gate import main

FEED = {"x": np.linspace(-1, 1, 12, dtype=np.float32).reshape(4, 3)}


@pytest.fixture(scope="module")
def good(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("gate")
    model = folder / "good.onnx"
    onnx.save(build_one_op_model(weight=np.arange(12, dtype=np.float32).reshape(3, 4) / 10, then=("Relu",)), model)
    return model, write_reference(model, FEED, folder / "good.reference.npz")


def _statuses(report) -> dict[str, str]:
    return {c.name: c.status for c in report.checks}


def test_reference_holds_inputs_and_outputs(good):
    inputs, outputs = read_reference(good[1])
    assert list(inputs) == ["x"] and list(outputs) == ["y"]
    np.testing.assert_array_equal(inputs["x"], FEED["x"])
    expected = np.maximum(FEED["x"] @ (np.arange(12, dtype=np.float32).reshape(3, 4) / 10), 0)
    np.testing.assert_allclose(outputs["y"], expected, rtol=1e-6, atol=1e-6)


def test_reference_feed_must_name_the_models_inputs(good, tmp_path):
    with pytest.raises(InputMismatchError, match="not the model's inputs"):
        write_reference(good[0], {"input": FEED["x"]}, tmp_path / "r.npz")


def test_good_model_passes(good, capsys):
    model, reference = good
    report = run_gate(model, reference=reference)
    assert report.exit_code == 0 and report.verdict == PASS
    assert _statuses(report) == {"checker": PASS, "target": PASS, "parity": PASS, "latency": SKIP}
    assert main([str(model), "--reference", str(reference), "--budget-ms", "10000"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[:2] for line in lines[:4]] == [
        [PASS, "checker"],
        [PASS, "target"],
        [PASS, "parity"],
        [PASS, "latency"],
    ]
    assert lines[-1].startswith("verdict: PASS")


def test_broken_model_fails_the_checker(good, tmp_path):
    # Add of a float input and an int64 weight: onnx's full check (type inference) rejects it, and so does ORT
    graph = helper.make_graph(
        [helper.make_node("Add", ["x", "w"], ["y"])],
        "broken",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4])],
        [numpy_helper.from_array(np.ones((3, 4), np.int64), "w")],
    )
    path = tmp_path / "broken.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)]), path)
    report = run_gate(path, reference=good[1])
    assert report.exit_code == 1
    assert report.check("checker").status == FAIL and "check_model" in report.check("checker").detail
    assert report.check("parity").status == FAIL


def test_too_new_for_the_target_fails(good):
    model, reference = good
    report = run_gate(model, reference=reference, target="1.14")  # IR 14 / opset 21 > 1.14's IR 8 / opset 19
    assert report.exit_code == 1 and report.failed == ("target",)
    assert "incompatible" in report.check("target").detail and "IR version" in report.check("target").detail


def test_too_slow_fails_the_budget(good):
    model, reference = good
    report = run_gate(model, reference=reference, budget_ms=0.001)  # no session run takes a microsecond
    assert report.exit_code == 1 and report.failed == ("latency",)
    assert "> budget 0.001 ms" in report.check("latency").detail


def test_wrong_outputs_fail_parity(good, tmp_path):
    model, reference = good
    inputs, outputs = read_reference(reference)
    shifted = tmp_path / "shifted.npz"
    np.savez(shifted, **{"input:x": inputs["x"], "output:y": outputs["y"] + 1e-3})
    report = run_gate(model, reference=shifted)
    assert report.exit_code == 1 and report.failed == ("parity",)
    assert "> atol 0.0001" in report.check("parity").detail
    assert run_gate(model, reference=shifted, atol=1e-2).exit_code == 0  # the tolerance is the owner's choice
    renamed = tmp_path / "renamed.npz"
    np.savez(renamed, **{"input:pixels": inputs["x"], "output:y": outputs["y"]})
    assert run_gate(model, reference=renamed).failed == ("parity",)


@pytest.mark.parametrize("case", ["missing", "corrupt", "npy", "no arrays"])
def test_unusable_reference_is_bad_input(good, tmp_path, case, capsys):
    reference = tmp_path / "ref.npz"
    if case == "corrupt":
        reference.write_bytes(b"not a zip file")
    elif case == "npy":  # np.save instead of np.savez: one array, not an archive
        with reference.open("wb") as handle:
            np.save(handle, np.zeros(3))
    elif case == "no arrays":
        np.savez(reference, x=np.zeros(3))
    with pytest.raises(GateInputError):
        run_gate(good[0], reference=reference)
    assert main([str(good[0]), "--reference", str(reference)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and "write" in err
    if case in ("corrupt", "npy"):
        assert "is not a .npz file (not a zip archive): write it with write_reference(" in err
        assert "pickle" not in err


@pytest.mark.parametrize(
    "args",
    [["--target", "0.1"], ["--budget-ms", "0"], ["--budget-ms", "-5"], ["--atol", "-1"]],
    ids=["unknown target", "zero budget", "negative budget", "negative atol"],
)
def test_unusable_arguments_are_bad_input(good, args, capsys):
    assert main([str(good[0]), "--reference", str(good[1]), *args]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_command_line_exit_codes_without_traceback(good, tmp_path):
    model, reference = good
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    command = [sys.executable, "-m", "course_utils.gate"]
    ok = subprocess.run([*command, str(model), "--reference", str(reference)], capture_output=True, text=True, env=env)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.splitlines()[-1].startswith("verdict: PASS")
    missing = subprocess.run(
        [*command, str(tmp_path / "nothing.onnx"), "--reference", str(reference)],
        capture_output=True,
        text=True,
        env=env,
    )
    assert missing.returncode == 2 and "Traceback" not in missing.stderr
    assert missing.stderr.count("\n") == 1


@pytest.mark.parametrize("target", ["web", "node"])
def test_npm_targets_refuse_what_python_reads(good, target):
    model, reference = good  # onnx 1.23's default IR 14: Python's 1.32 reads it, the npm packages (IR <= 13) do not
    assert run_gate(model, reference=reference).check("target").status == PASS
    report = run_gate(model, reference=reference, target=target)
    assert report.failed == ("target",) and "IR version 14 > 13" in report.check("target").detail


def test_cannot_verify_fails_the_gate(tmp_path):
    # An ONNX Runtime contrib operator: the published table of an older release cannot say whether it has it.
    model = build_one_op_model(opset=17, ir_version=8)
    model.graph.node[0].output[0] = "h"
    model.graph.node.append(helper.make_node("Gelu", ["h"], ["y"], domain="com.microsoft"))
    model.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    onnx.save(model, tmp_path / "contrib.onnx")
    reference = write_reference(tmp_path / "contrib.onnx", FEED, tmp_path / "contrib.npz")
    assert run_gate(tmp_path / "contrib.onnx", reference=reference).exit_code == 0  # the installed one loads it
    report = run_gate(tmp_path / "contrib.onnx", reference=reference, target="1.17")
    assert report.failed == ("target",) and "cannot verify" in report.check("target").detail
