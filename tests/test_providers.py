"""course_utils.providers: the one provider table, the headless provider switcher, its CLI and its widget view."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from course_test_helpers import artifacts_in
from onnx import TensorProto, helper, numpy_helper

from course_utils.errors import ProviderUnavailableError, UnknownModelError
from course_utils.providers import (
    PROVIDERS,
    ProviderTable,
    course_model,
    main,
    provider_choices,
    provider_info,
    provider_table,
    switch_provider,
)
from course_utils.runtime import make_session, provider_problem

CPU = "CPUExecutionProvider"
CUDA = "CUDAExecutionProvider"
HAS_CUDA = CUDA in ort.get_available_providers()
no_cuda = pytest.mark.skipif(HAS_CUDA, reason="this machine's onnxruntime has CUDA: nothing falls back")


def _tiny_model() -> onnx.ModelProto:
    """Gemm -> Relu -> Softmax on a dynamic batch: three nodes, float32."""
    rng = np.random.default_rng(1)
    weight = numpy_helper.from_array(rng.standard_normal((4, 3)).astype(np.float32), "w")
    nodes = [
        helper.make_node("Gemm", ["x", "w"], ["h"], name="gemm"),
        helper.make_node("Relu", ["h"], ["r"], name="relu"),
        helper.make_node("Softmax", ["r"], ["y"], name="softmax", axis=1),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 3])],
        [weight],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


@pytest.fixture(scope="module")
def tiny_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("models") / "tiny.onnx"
    onnx.save(_tiny_model(), path)
    return path


@pytest.fixture
def artifacts(tmp_path: Path) -> Iterator[Path]:
    with artifacts_in(tmp_path) as folder:
        yield folder


# ------------------------------------------------------------------------------------------- table


def test_table_knows_every_provider_this_onnxruntime_knows():
    names = {info.name for info in PROVIDERS}
    assert set(ort.get_all_providers()) <= names, set(ort.get_all_providers()) - names


def test_table_covers_the_study_notes_and_the_newer_providers():
    shorts = {info.short for info in PROVIDERS}
    for short in ("CPU", "CUDA", "TensorRT", "OpenVINO", "DirectML", "CoreML", "ACL", "NNAPI", "QNN", "XNNPACK"):
        assert short in shorts, short
    assert "WebGPU" in shorts and any(info.plugin for info in PROVIDERS)
    nnapi = provider_info("NnapiExecutionProvider")
    assert nnapi is not None and "deprecated" in nnapi.notes


def test_mobile_rows_say_published_packages_are_full_builds_and_how_to_make_a_custom_one():
    # The Android (XNNPACK, in onnxruntime-android) and iOS (CoreML, in onnxruntime-objc) packages' rows.
    for name in ("XnnpackExecutionProvider", "CoreMLExecutionProvider"):
        info = provider_info(name)
        assert info is not None and "mobile" in info.runs_on, name
        assert "Published mobile packages are full builds" in info.notes, name
        assert "custom builds (ORT format + --include_ops_by_config)" in info.notes, name
    text = str(provider_table("mobile"))
    assert "full builds" in text and "--include_ops_by_config" in text


def test_every_entry_is_complete():
    places = {"server", "edge", "mobile", "web"}
    for info in PROVIDERS:
        assert info.runs_on and set(info.runs_on) <= places, info.name
        assert info.hardware and info.package and info.install, info.name
    assert len({info.name for info in PROVIDERS}) == len(PROVIDERS)


def test_table_filters_by_place_and_renders_text_and_html_from_the_same_rows():
    web = provider_table("web")
    assert web.providers and all("web" in info.runs_on for info in web.providers)
    assert {"WebGPU", "WebNN", "CPU"} <= {info.short for info in web.providers}
    text, page = str(web), web._repr_html_()
    for row in web._rows()[1:]:
        assert row[0] in text and row[0] in page
        assert row[3] in ("available", "not in this package", "not in this ORT", "plugin package")
    assert "CUDA" not in {info.short for info in web.providers}
    with pytest.raises(ValueError, match="runs_on must be one of"):
        provider_table("cloud")


def test_table_marks_what_this_installation_has():
    rows = {row[0]: row[3] for row in ProviderTable(PROVIDERS)._rows()[1:]}
    assert rows["CPU"] == "available"
    assert rows["ACL"] == "not in this ORT"  # onnxruntime 1.32 no longer lists it
    assert rows["OpenVINO plugin"] == "plugin package"
    if not HAS_CUDA:
        assert rows["CUDA"] == "not in this package"


def test_choices_list_every_known_provider_available_first():
    choices = provider_choices()
    names = [name for _, name in choices]
    assert set(ort.get_all_providers()) <= set(names)
    available = ort.get_available_providers()
    assert set(names[: len(available)]) == set(available)
    labels = dict((name, label) for label, name in choices)
    assert labels[CPU] == "CPU (available)"
    assert labels["CoreMLExecutionProvider"].endswith("(not in this package)")


def test_make_session_errors_take_install_commands_from_the_table():
    assert provider_problem(CPU) is None
    if not HAS_CUDA:
        problem = provider_problem(CUDA)
        info = provider_info(CUDA)
        assert problem is not None and info is not None and info.install in problem
    assert "Did you mean 'CUDAExecutionProvider'" in (provider_problem("cuda") or "")


# ---------------------------------------------------------------------------------------- switcher


def test_cpu_run_reports_providers_nodes_latency_and_parity(tiny_path: Path):
    stages: list[tuple[str, float]] = []
    report = switch_provider(
        tiny_path, CPU, threads=1, optimization="ORT_DISABLE_ALL", runs=5, progress=lambda s, f: stages.append((s, f))
    )
    assert report.requested == (CPU,) and report.used == (CPU,) and not report.fell_back
    assert report.nodes_per_provider == {CPU: 3}
    assert report.placement[0].nodes == (("gemm", "Gemm"), ("relu", "Relu"), ("softmax", "Softmax"))
    assert report.placement[0].op_counts == {"Gemm": 1, "Relu": 1, "Softmax": 1}
    assert len(report.latency_ms) == 5 and report.spread_ms[0] <= report.median_ms <= report.spread_ms[1]
    assert report.matches_reference and report.max_abs_diff < 1e-5
    assert report.threads == 1 and report.optimization == "ORT_DISABLE_ALL"
    assert not report.problems and not report.install
    assert stages[0][1] == 0.0 and stages[-1] == ("run 5 of 5", 1.0)


def test_text_without_measurements_is_deterministic(tiny_path: Path):
    first = switch_provider(tiny_path, CPU, runs=2)
    second = switch_provider(tiny_path, CPU, runs=3)
    assert first.text(measured=False) == second.text(measured=False)
    assert " ms" not in first.text(measured=False) and "max abs difference" not in first.text(measured=False)
    assert "warm latency" in first.text() and "median" in str(first)
    html = first.html(measured=False)
    assert "data-provider='CPUExecutionProvider'" in html and "nodes per provider" in html
    # Which nodes, not only how many: each node's name and op_type, in graph order.
    assert "<summary>nodes on CPU: 3</summary>" in html
    assert html.index("<code>gemm</code> (Gemm)") < html.index("<code>relu</code> (Relu)")
    for label, _ in first._rows(measured=False):
        assert label in html


@no_cuda
def test_unavailable_provider_falls_back_and_says_why_and_how_to_install(tiny_path: Path):
    report = switch_provider(tiny_path, CUDA, options={"cudnn_conv_algo_search": "HEURISTIC"}, runs=2)
    assert report.requested == (CUDA, CPU) and report.used == (CPU,) and report.fell_back
    assert report.options == (("cudnn_conv_algo_search", "HEURISTIC"),)
    assert report.nodes_per_provider == {CPU: 3} and report.matches_reference
    assert len(report.problems) == 1 and "is not available in this onnxruntime" in report.problems[0]
    assert report.install == (provider_info(CUDA).install,)  # type: ignore[union-attr]
    assert "onnxruntime-gpu" in report.text(measured=False)
    assert any("not in available provider names" in w for w in report.ort_warnings)
    assert "fell back              yes" in report.text(measured=False)


AZURE = "AzureExecutionProvider"


@pytest.mark.skipif(AZURE not in ort.get_available_providers(), reason="this onnxruntime has no Azure provider")
def test_used_means_nodes_were_placed_not_listed_by_get_providers(tiny_path: Path):
    """The Azure provider registers with every session (get_providers() lists it) yet takes no ordinary node."""
    report = switch_provider(tiny_path, AZURE, runs=1, warmup=0)
    assert report.requested == (AZURE, CPU)
    assert report.registered == (AZURE, CPU)  # what get_providers() says ...
    assert report.used == (CPU,) and report.idle == (AZURE,)  # ... and where the nodes went
    assert report.nodes_per_provider == {CPU: 3} and report.fell_back and report.matches_reference
    assert len(report.problems) == 1 and "placed none of this model's nodes" in report.problems[0]
    assert report.install == ()  # it is installed: no install command to give
    text = report.text(measured=False)
    assert "used                   CPUExecutionProvider\n" in text
    assert "registered, no nodes   AzureExecutionProvider" in text


def test_no_fallback_list_means_only_the_requested_provider(tiny_path: Path):
    report = switch_provider(tiny_path, CPU, fallback=(), runs=1)
    assert report.requested == (CPU,)


def test_bad_requests_raise_one_line_errors(tiny_path: Path):
    with pytest.raises(ProviderUnavailableError, match="Did you mean 'CUDAExecutionProvider'"):
        switch_provider(tiny_path, "cuda")
    with pytest.raises(ValueError, match="optimization must be one of"):
        switch_provider(tiny_path, CPU, optimization="all")
    with pytest.raises(ValueError, match="need runs >= 1"):
        switch_provider(tiny_path, CPU, runs=0)


def test_optimization_level_changes_the_nodes_that_run(artifacts: Path):
    digits = course_model("DigitsCNN")
    assert digits.parent == artifacts / "models" and digits.name.startswith("digits_cnn-") and digits.exists()
    plain = switch_provider(digits, CPU, optimization="ORT_DISABLE_ALL", runs=1)
    fused = switch_provider(digits, CPU, optimization="ORT_ENABLE_ALL", runs=1)
    # Placement is recorded after the basic optimizations: BatchNormalization is folded into Conv by then.
    assert plain.placement[0].op_counts["BatchNormalization"] == 2
    assert "BatchNormalization" not in fused.placement[0].op_counts
    assert sum(plain.nodes_per_provider.values()) == sum(fused.nodes_per_provider.values()) + 2
    assert plain.matches_reference and fused.matches_reference
    assert course_model("DigitsCNN") == digits  # exported once, then reused
    assert course_model("digits_cnn") == digits  # by key or display name: one registry, one file
    with pytest.raises(UnknownModelError, match=r"not a course model\. Known: digits_cnn, resnet18"):
        course_model("AlexNet")


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "input_shape", "op_type"),
    [("ResNet-18", (1, 3, 224, 224), "GlobalAveragePool"), ("Keras CNN", (1, 8, 8, 1), "Softmax")],
)
def test_the_widgets_other_course_models_export_and_run(
    artifacts: Path, name: str, input_shape: tuple[int, ...], op_type: str
):
    path = course_model(name)
    assert path.parent == artifacts / "models" and path.exists()
    report = switch_provider(path, CPU, runs=1, warmup=0)
    assert report.used == (CPU,) and report.matches_reference
    assert op_type in report.placement[0].op_counts
    (arg,) = ort.InferenceSession(path, providers=[CPU]).get_inputs()
    assert [d if isinstance(d, int) else 1 for d in arg.shape] == list(input_shape)


# --------------------------------------------------------------------------------------------- CLI


def test_cli_runs_a_model_and_prints_the_report(tiny_path: Path, capsys: pytest.CaptureFixture[str]):
    assert main([str(tiny_path), "--provider", CPU, "--threads", "1", "--runs", "2"]) == 0
    out = capsys.readouterr().out
    assert "used" in out and "nodes on CPU           3" in out and "warm latency" in out


def test_cli_table_and_errors(tiny_path: Path, capsys: pytest.CaptureFixture[str]):
    assert main(["--table"]) == 0
    assert "TensorRT" in capsys.readouterr().out
    assert main([str(tiny_path), "--provider", "cuda"]) == 1
    assert "ProviderUnavailableError: 'cuda' is not an ONNX Runtime execution provider name" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main([str(tiny_path), "--option", "device_id"])


def test_cli_takes_a_course_model_by_name(artifacts: Path, capsys: pytest.CaptureFixture[str]):
    assert main(["DigitsCNN", "--optimization", "ORT_DISABLE_ALL", "--runs", "1"]) == 0
    out = capsys.readouterr().out
    assert "artifacts/models/digits_cnn-" in out and "BatchNormalization x2" in out


# --------------------------------------------------------------------------------- runtime additions


@no_cuda
def test_make_session_fallback_is_opt_in(tiny_path: Path):
    with pytest.raises(ProviderUnavailableError, match="onnxruntime-gpu"):
        make_session(tiny_path, [CUDA, CPU])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        session = make_session(tiny_path, [CUDA, CPU], allow_fallback=True)
    assert session.get_providers() == [CPU]
    assert any("not in available provider names" in str(w.message) for w in caught)


def test_make_session_sets_config_entries(tiny_path: Path):
    session = make_session(tiny_path, config_entries={"session.intra_op.allow_spinning": "0"})
    assert session.get_session_options().get_session_config_entry("session.intra_op.allow_spinning") == "0"


# -------------------------------------------------------------------------------------------- view


def test_widget_view_runs_and_updates_its_result_panel(tiny_path: Path):
    pytest.importorskip("ipywidgets")
    from course_utils.views.provider_switch_view import ProviderSwitcher

    view = ProviderSwitcher(str(tiny_path), runs=2)
    assert view.model.value == "a path..." and view.report is not None and view.report.used == (CPU,)
    assert "nodes per provider" in view.result.value and view.progress.value == 1.0
    bundle = view._repr_mimebundle_()
    assert bundle["text/plain"].startswith("provider switcher, result of the last run")
    assert " ms" not in bundle["text/plain"] and "course-switch-static" in bundle["text/html"]
    assert "application/vnd.jupyter.widget-view+json" in bundle
    names = [name for _, name in view.provider.options]
    assert names == [name for _, name in provider_choices()]
    if not HAS_CUDA:
        view.provider.value, view.threads.value = CUDA, 1
        view.button.click()
        assert view.report.used == (CPU,) and view.report.fell_back and view.report.threads == 1
        assert "fell back" in view.result.value and "onnxruntime-gpu" in view.result.value
    view.options.value = "device_id"
    assert view.run() is None and view.error is not None and "KEY=VALUE" in view.error
    assert "course-switch-error" in view.result.value and not view.button.disabled
    view.options.value, view.model.value, view.path.value = "", "a path...", "missing.onnx"
    assert view.run() is None and "ModelFileNotFoundError" in (view.error or "")
