"""``--target web`` and ``--target node``: the compatibility verdict matches what onnxruntime-web (on its WebAssembly
backend, in Node.js) and onnxruntime-node really do with probe models, loaded here for real."""

from __future__ import annotations

from pathlib import Path

import onnx
import pytest
from course_test_helpers import need_node
from onnx import TensorProto, helper

from course_utils.compat import check_compatibility, main
from course_utils.deploy.node import npm_load_errors
from course_utils.versions import NPM_RUNTIMES, limits_for


def _model(
    nodes: list[onnx.NodeProto], *, ir: int, opset: int, out_type: int = TensorProto.FLOAT, ml: int | None = None
) -> onnx.ModelProto:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3, 4, 8])
    y = helper.make_tensor_value_info("y", out_type, [2, 3, 4, 8])
    imports = [helper.make_opsetid("", opset)] + ([helper.make_opsetid("ai.onnx.ml", ml)] if ml else [])
    model = helper.make_model(helper.make_graph(nodes, "probe", [x], [y]), opset_imports=imports)
    model.ir_version = ir
    return model


# name -> (model, what the static check alone should say for web/node). Each probe is loaded for real below.
PROBES = {
    # a good small model at the npm packages' limits
    "good": _model([helper.make_node("Relu", ["x"], ["y"])], ir=13, opset=26),
    # onnx 1.23's default IR version for a new model: Python 1.32 reads it, the npm packages do not
    "ir14": _model([helper.make_node("Relu", ["x"], ["y"])], ir=14, opset=26),
    "opset27": _model([helper.make_node("Relu", ["x"], ["y"])], ir=13, opset=27),
    "opset28": _model([helper.make_node("Relu", ["x"], ["y"])], ir=13, opset=28),
    "ml_opset6": _model([helper.make_node("Relu", ["x"], ["y"])], ir=13, opset=21, ml=6),
    # bfloat16 at the graph's edge: the JavaScript API has no tensor type for it ...
    "bfloat16_output": _model(
        [helper.make_node("Cast", ["x"], ["y"], to=TensorProto.BFLOAT16)],
        ir=13,
        opset=25,
        out_type=TensorProto.BFLOAT16,
    ),
    # ... but inside the graph it runs
    "bfloat16_inside": _model(
        [helper.make_node("Cast", ["x"], ["m"], to=TensorProto.BFLOAT16), helper.make_node("Cast", ["m"], ["y"], to=1)],
        ir=13,
        opset=25,
    ),
    # Attention's left_window_size (onnx 1.23's schema, opset 25 <= 26): the 1.31 builds do not know the attribute.
    # Nothing static catches it; only loading it in the package does.
    "attention_window": _model(
        [helper.make_node("Attention", ["x", "x", "x"], ["y"], is_causal=1, left_window_size=2)], ir=13, opset=25
    ),
}
LOADS = {"good", "bfloat16_inside"}  # what both npm packages load (checked against the real load below)


@pytest.fixture(scope="module")
def probe_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("probes")
    files = {}
    for name, model in PROBES.items():
        files[name] = folder / f"{name}.onnx"
        onnx.save(model, files[name])
    return files


@pytest.fixture(scope="module", params=["web", "node"])
def real_loads(request: pytest.FixtureRequest, probe_files: dict[str, Path]) -> tuple[str, dict[str, str | None]]:
    need_node()
    runtime = request.param
    errors = npm_load_errors(list(probe_files.values()), runtime)
    return runtime, dict(zip(probe_files, errors, strict=True))


def test_the_real_packages_load_what_the_probes_expect(real_loads: tuple[str, dict[str, str | None]]) -> None:
    _, errors = real_loads
    assert {name for name, error in errors.items() if error is None} == LOADS, errors
    assert "max supported IR version: 13" in str(errors["ir14"])
    assert "till opset 26" in str(errors["opset27"]) and "till opset 5" in str(errors["ml_opset6"])
    assert "unsupported data type: 16" in str(errors["bfloat16_output"]).lower()
    assert "left_window_size" in str(errors["attention_window"])


def test_verdicts_match_the_real_loads(
    real_loads: tuple[str, dict[str, str | None]], probe_files: dict[str, Path]
) -> None:
    runtime, errors = real_loads
    rows = []
    for name, path in probe_files.items():
        report = check_compatibility(path, target=runtime)
        rows.append((name, report.verdict, errors[name] is None))
        assert report.compatible == (errors[name] is None), f"{name}: {report}\nreal load: {errors[name]}"
    assert [verdict for _, verdict, _ in rows].count("compatible") == len(LOADS)
    # Python's onnxruntime 1.32 loads all but the bfloat16 ones ... differently: the targets differ.
    python = {name: check_compatibility(path, target="python").compatible for name, path in probe_files.items()}
    assert python["ir14"] and python["opset27"] and python["bfloat16_output"] and python["attention_window"]


def test_static_verdicts_alone_and_what_only_a_load_finds(probe_files: dict[str, Path]) -> None:
    # Without loading, everything but the attribute the 1.31 schema lacks is caught from the file alone.
    for name, path in probe_files.items():
        report = check_compatibility(path, target="web", try_load=False)
        expected = name in LOADS or name == "attention_window"
        assert report.compatible == expected, f"{name}: {report}"


def test_without_node_the_web_verdict_cannot_verify(
    probe_files: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(probe_files["good"].parent))  # no node on PATH
    report = check_compatibility(probe_files["attention_window"], target="web")
    assert report.verdict == "cannot verify" and report.exit_code == 3
    assert "install Node.js" in str(report) and "kernel" in str(report)
    assert check_compatibility(probe_files["ir14"], target="web").verdict == "incompatible"


def test_limits_and_cli_targets(probe_files: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    assert limits_for("web") is NPM_RUNTIMES["web"] and limits_for("NODE") is NPM_RUNTIMES["node"]
    assert str(limits_for("web")).startswith("onnxruntime-web 1.31.1: IR version <= 13; opsets <= ai.onnx 26")
    assert limits_for("python").source == "measured"
    assert main([str(probe_files["ir14"]), "--target", "web"]) == 1
    out = capsys.readouterr().out
    assert out.startswith("incompatible\n- IR version 14 > 13, the newest onnxruntime-web 1.31.1")
    assert main([str(probe_files["ir14"]), "--target", "python"]) == 0
    assert main([str(probe_files["ir14"]), "--target", "1.14"]) == 1  # a release, as before
    assert main([str(probe_files["ir14"]), "--onnxruntime", "1.14"]) == 1  # the older spelling still works
    capsys.readouterr()
    assert main([str(probe_files["ir14"]), "--target", "browser"]) == 2
    assert "'web', 'node' or 'python'" in capsys.readouterr().err


def test_the_npm_release_number_points_at_its_targets(
    probe_files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """--target 1.31 (the npm packages' release, not in the published table) says which targets are 1.31.1."""
    assert main([str(probe_files["ir14"]), "--target", "1.31"]) == 2
    err = capsys.readouterr().err
    assert "for the npm 1.31.1 packages use --target web or node" in err and len(err.strip().splitlines()) == 1
    assert main([str(probe_files["ir14"]), "--target", "1.25"]) == 2  # no npm release there: no pointer
    assert "npm" not in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["MODEL.onnx", "--target"], [], ["MODEL.onnx", "--bogus"]])
def test_bad_arguments_are_one_line_with_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    """Like the gate's: one line saying what is wrong and where the help is, not argparse's usage block."""
    with pytest.raises(SystemExit) as caught:
        main(argv)
    assert caught.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.rstrip().endswith("(see python -m course_utils.compat --help)")
    assert len(err.strip().splitlines()) == 1
