"""course_utils.quantize: calibration readers, variants and their cache, run-time graphs (the fusion facts lesson 07
teaches), accuracy, the report and its renderings, profiling, qdq_loss_debug ranking, bench engines, the CLI.

Speed is never asserted: timing functions are checked for returning a positive number only."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import onnx
import pytest
from course_test_helpers import artifacts_in

from course_utils import quantize as q
from course_utils.errors import ModelFileNotFoundError, NotAnOnnxModelError

pytest.importorskip("torch")


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A private artifacts folder for this module (the cache under test starts empty)."""
    with artifacts_in(tmp_path_factory.mktemp("artifacts")) as folder:
        yield folder


@pytest.fixture(scope="module")
def digits_pre(artifacts: Path) -> Path:
    return q.prepare_model("digits_cnn")


@pytest.fixture(scope="module")
def resnet_pre(artifacts: Path) -> Path:
    return q.prepare_model("resnet18")


# ------------------------------------------------------------------------------------------- data


def test_reader_yields_batches_then_none_and_rewinds() -> None:
    images = np.zeros((70, 1, 8, 8), dtype=np.float32)
    reader = q.ImageCalibrationReader(images, "image", batch_size=32)
    sizes = []
    while (batch := reader.get_next()) is not None:
        assert list(batch) == ["image"]
        sizes.append(len(batch["image"]))
    assert sizes == [32, 32, 6] and len(reader) == 3
    reader.rewind()
    assert reader.get_next() is not None
    assert "70 images" in repr(reader)


def test_reader_is_an_ort_calibration_reader() -> None:
    from onnxruntime.quantization import CalibrationDataReader

    assert isinstance(q.digits_reader(), CalibrationDataReader)


@pytest.mark.parametrize(
    ("images", "fragment"),
    [
        (np.zeros((4, 1, 8, 8), dtype=np.float64), "float64"),
        (np.zeros((4, 64), dtype=np.float32), "(N, C, H, W)"),
        (np.zeros((0, 1, 8, 8), dtype=np.float32), "non-empty"),
    ],
)
def test_reader_rejects_bad_images(images: np.ndarray, fragment: str) -> None:
    with pytest.raises(q.CalibrationInputError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        q.ImageCalibrationReader(images)


def test_digits_reader_uses_training_images_only() -> None:
    from course_utils import load_digits

    digits = load_digits()
    batch = q.digits_reader(n=64, batch_size=64).get_next()
    assert batch is not None
    np.testing.assert_array_equal(batch["image"], digits.x_train[:64])


def test_photo_crops_are_fixed_normalised_images() -> None:
    a, b, c = q.photo_crops(3, seed=1), q.photo_crops(3, seed=1), q.photo_crops(3, seed=2)
    assert a.shape == (3, 3, 224, 224) and a.dtype == np.float32
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert -3 < a.mean() < 3 and a.std() > 0.3  # ImageNet-normalised photos, not blank


# --------------------------------------------------------------------------------------- variants


def test_prepare_model_folds_batch_norm_and_caches(digits_pre: Path) -> None:
    assert digits_pre.name == "digits_cnn_pre.onnx"
    counts = q.op_counts(digits_pre)
    assert counts["Conv"] == 2 and "BatchNormalization" not in counts
    mtime = digits_pre.stat().st_mtime_ns
    assert q.prepare_model("digits_cnn") == digits_pre and digits_pre.stat().st_mtime_ns == mtime


def test_each_variant_writes_what_it_claims(digits_pre: Path) -> None:
    dynamic = q.op_counts(q.quantize(digits_pre, "int8-dynamic"))
    assert dynamic["ConvInteger"] == 2 and dynamic["DynamicQuantizeLinear"] >= 2
    static = q.op_counts(q.quantize(digits_pre, "int8-static"))
    assert static["Conv"] == 2 and static["QuantizeLinear"] >= 2 and static["DequantizeLinear"] >= 2
    u8 = onnx.load(str(q.quantize(digits_pre, "int8-qdq-u8")))
    activation = next(n for n in u8.graph.node if n.op_type == "QuantizeLinear" and n.input[0] == "image")
    zero_point = next(t for t in u8.graph.initializer if t.name == activation.input[2])
    assert zero_point.data_type == onnx.TensorProto.UINT8
    per_channel = [t for t in u8.graph.initializer if t.name.endswith("_scale") and len(t.dims) == 1 and t.dims[0] > 1]
    assert per_channel, "per_channel=True stores one weight scale per output channel"


def test_quantized_files_are_about_four_times_smaller(digits_pre: Path) -> None:
    size = digits_pre.stat().st_size
    for name in q.CONFIGS:
        assert q.quantize(digits_pre, name).stat().st_size < size / 3


def test_quantize_caches_until_forced(digits_pre: Path) -> None:
    path = q.quantize(digits_pre, "int8-static")
    before = path.stat().st_mtime_ns
    assert q.quantize(digits_pre, "int8-static") == path and path.stat().st_mtime_ns == before
    os.utime(path, ns=(before - 10**9, before - 10**9))
    q.quantize(digits_pre, "int8-static", force=True)
    assert path.stat().st_mtime_ns > before - 10**9


def test_cache_key_changes_with_the_settings() -> None:
    base = q.CONFIGS["int8-qdq-u8"]
    assert base.key() == replace(base, name="other", description="same settings").key()
    assert base.key() != replace(base, exclude=("/fc/Gemm",)).key()
    assert base.key() != replace(base, per_channel=False).key()


def test_config_kwargs_are_quantize_static_arguments() -> None:
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType

    kwargs = q.CONFIGS["int8-qdq-u8"].kwargs()
    assert kwargs["activation_type"] == QuantType.QUInt8 and kwargs["weight_type"] == QuantType.QInt8
    assert kwargs["quant_format"] == QuantFormat.QDQ and kwargs["calibrate_method"] == CalibrationMethod.MinMax
    assert kwargs["per_channel"] is True
    assert "activation_type" not in q.CONFIGS["int8-dynamic"].kwargs()


def test_unknown_variant_names_the_known_ones(digits_pre: Path) -> None:
    with pytest.raises(q.UnknownConfigError, match="int8-qdq-u8"):
        q.quantize(digits_pre, "int4-magic")


def test_missing_or_broken_model_gets_a_one_line_error(tmp_path: Path) -> None:
    with pytest.raises(ModelFileNotFoundError):
        q.quantize(tmp_path / "nope.onnx", "int8-static")
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"not a model")
    with pytest.raises(NotAnOnnxModelError):
        q.quantize(broken, "int8-static")


class _Reader:
    def __init__(self, batches: list[dict[str, np.ndarray]]) -> None:
        self.batches = batches
        self.rewind()

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self.iterator, None)

    def rewind(self) -> None:
        self.iterator = iter(self.batches)


@pytest.mark.parametrize(
    ("batches", "fragment"),
    [
        ([{"input": np.zeros((4, 1, 8, 8), np.float32)}], "model's input is 'image'"),
        ([{"image": np.zeros((4, 1, 8, 8), np.float64)}], "float64"),
        ([], "returned NoneType"),
    ],
)
def test_bad_calibration_readers_are_explained(digits_pre: Path, tmp_path: Path, batches: list, fragment: str) -> None:
    with pytest.raises(q.CalibrationInputError, match=fragment):
        q.quantize(digits_pre, "int8-static", _Reader(batches), out=tmp_path / "x.onnx")


def test_a_reader_needs_get_next(digits_pre: Path, tmp_path: Path) -> None:
    with pytest.raises(q.CalibrationInputError, match="get_next"):
        q.quantize(digits_pre, "int8-static", [np.zeros((1, 1, 8, 8), np.float32)], out=tmp_path / "x.onnx")


def test_static_quantization_of_an_unknown_model_needs_a_reader(digits_pre: Path, tmp_path: Path) -> None:
    other = tmp_path / "mine.onnx"
    other.write_bytes(digits_pre.read_bytes())
    with pytest.raises(q.CalibrationInputError, match="reader="):
        q.quantize(other, "int8-static")


# ------------------------------------------------------------------------------------------ graphs


def test_runtime_graph_of_the_digits_variants(digits_pre: Path) -> None:
    dynamic = q.fusion(q.quantize(digits_pre, "int8-dynamic"), convs=2)
    assert dynamic.conv_integer == 2 and dynamic.qlinear_conv == 0 and not dynamic.all_fused
    u8 = q.fusion(q.quantize(digits_pre, "int8-qdq-u8"), convs=2)
    assert u8.all_fused and u8.float_conv == 0 and "2 of 2 convolutions fused" in str(u8)


def test_the_trap_on_resnet18(resnet_pre: Path) -> None:
    """Lesson 07's central facts, at x86's setting of session.qdqisint8allowed (the same on every CPU)."""
    assert q.op_counts(resnet_pre)["Conv"] == 20
    dynamic = q.fusion(q.quantize(resnet_pre, "int8-dynamic"), convs=20, int8_allowed=False)
    assert dynamic.conv_integer == 20 and dynamic.qlinear_conv == 0
    static = q.fusion(q.quantize(resnet_pre, "int8-static"), convs=20, int8_allowed=False)
    assert static.qlinear_conv == 9 and static.float_conv == 11
    runtime = q.runtime_model(q.quantize(resnet_pre, "int8-static"), int8_allowed=False)
    unfused = [n.name for n in runtime.graph.node if n.op_type == "Conv"]
    # The unfused ones read a block's output, which the skip connection also reads.
    assert len(unfused) == 11 and all(name.endswith(("conv1/Conv", "downsample.0/Conv")) for name in unfused)
    assert q.fusion(q.quantize(resnet_pre, "int8-static"), convs=20, int8_allowed=True).all_fused
    assert q.fusion(q.quantize(resnet_pre, "int8-qdq-u8"), convs=20, int8_allowed=False).all_fused


def test_float_ops_keep_every_node_of_a_type_in_fp32(resnet_pre: Path) -> None:
    config = q.get_config("int8-qdq-u8-fc32")
    assert config.kwargs(onnx.load(str(resnet_pre)))["nodes_to_exclude"] == ["/fc/Gemm"]
    assert config.kwargs()["nodes_to_exclude"] == []  # no model, no names
    # Configs without float_ops keep their cache keys (file names) from before the field existed.
    assert q.get_config("int8-qdq-u8").key() == "f859f608"
    path = q.quantize(resnet_pre, config)
    assert q.fusion(path, convs=20, int8_allowed=False).all_fused  # a Gemm is not a convolution
    ops = q.runtime_ops(path, int8_allowed=False)
    assert ops.get("Gemm") == 1 and "QGemm" not in ops
    assert "QGemm" in q.runtime_ops(q.quantize(resnet_pre, "int8-qdq-u8"), int8_allowed=False)


def test_bench_resnet18_agreement_is_the_lessons(resnet_pre: Path) -> None:
    """bench's ResNet-18 is the registry's (batch-norm statistics from photos): its int8 engines quantize the
    registry's int8 export of it (prepare_model) and measure agreement on the lesson's fixed crops."""
    from course_utils import bench

    q.register_bench_engines()
    report = bench.benchmark(bench.load_target("resnet18"), ["ort-int8-qdq-u8"], budget_s=0.05)
    [row] = report.rows
    lesson = q.agreement(q.quantize(resnet_pre, "int8-qdq-u8"), resnet_pre, q.photo_crops(64, q.EVALUATION_SEED))
    assert float(row.extra["top1_agreement"]) == round(lesson, 4) < 1.0
    assert row.extra["n"] == 64


def test_resnet18_int8_agrees_with_fp32_on_most_crops(resnet_pre: Path) -> None:
    images = q.photo_crops(64, q.EVALUATION_SEED)
    assert q.agreement(q.quantize(resnet_pre, "int8-qdq-u8"), resnet_pre, images) >= 0.8
    assert q.agreement(resnet_pre, resnet_pre, images) == 1.0
    # Batch-norm statistics from photos: the fp32 model's predictions vary (a random ResNet's barely do).
    assert len(np.unique(q.predict(resnet_pre, images).argmax(1))) >= 5


# ----------------------------------------------------------------------------------------- measure


def test_digits_int8_accuracy_within_one_point_of_fp32(digits_pre: Path) -> None:
    report = q.compare("digits_cnn", measure=False)
    fp32 = report.get("fp32").quality
    assert fp32 > 0.95
    for result in report.results[1:]:
        assert result.quality >= fp32 - 0.01, result


def test_report_renderings_share_their_rows(digits_pre: Path) -> None:
    report = q.compare("digits_cnn", measure=False)
    text, table = str(report), report.table(timings=False)
    assert text.startswith("digits_cnn") and "p50 ms" not in text
    for result in report.results:
        assert result.name in table and result.name in report._repr_html_()
    data = json.loads(report.to_json())
    assert [r["name"] for r in data["results"]] == [r.name for r in report.results]
    assert data["results"][1]["path"].startswith("artifacts/quantize/")
    with pytest.raises(q.UnknownConfigError):
        report.get("nope")


def test_measured_report_has_timings_and_a_baseline(digits_pre: Path) -> None:
    report = q.compare("digits_cnn", configs=["int8-qdq-u8"], budget_s=0.05)
    assert all(r.p50_ms is not None and r.p50_ms > 0 for r in report.results)
    assert set(report.baselines_ms) == {"torch-eager"}
    header = report.table().splitlines()[0]
    assert "p50 ms" in header and "vs torch-eager" in header
    again = q.compare("digits_cnn", configs=["int8-qdq-u8", "int8-static"], budget_s=0.05, reuse=report)
    assert again.get("int8-qdq-u8") is report.get("int8-qdq-u8") and again.baselines_ms == report.baselines_ms


def test_plot_tradeoff_draws_each_timed_variant(digits_pre: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    report = q.compare("digits_cnn", configs=["int8-qdq-u8"], budget_s=0.05)
    figure = q.plot_tradeoff(report)
    assert len(figure.axes[0].collections) == len(report.results)


def test_time_and_profile(digits_pre: Path) -> None:
    path = q.quantize(digits_pre, "int8-qdq-u8")
    feed = q.photo_crops(1, 1)[:, :1, :8, :8].copy()
    assert q.time_p50(path, feed, budget_s=0.05) > 0
    profile = q.profile_by_op(path, feed, runs=2)
    assert "QLinearConv" in profile and all(ms >= 0 for ms in profile.values())


def test_sensitivity_ranks_quantized_nodes(digits_pre: Path) -> None:
    path = q.quantize(digits_pre, "int8-qdq-u8")
    ranking = q.sensitivity(digits_pre, path, q.digits_reader(n=32))
    names = {n.name for n in onnx.load(str(digits_pre)).graph.node}
    assert ranking and all(node in names for node, _, _ in ranking)
    added = [a for _, _, a in ranking]
    assert added == sorted(added, reverse=True)
    assert {"/features/features.0/Conv", "/features/features.3/Conv"} <= {node for node, _, _ in ranking}


def test_bench_engines_report_agreement(artifacts: Path) -> None:
    from course_utils import bench

    names = q.register_bench_engines()
    assert names == ["ort-int8-dynamic", "ort-int8-static", "ort-int8-qdq-u8", "ort-int8-qdq-u8-fc32"]
    assert q.register_bench_engines() == names  # registering twice is harmless
    report = bench.benchmark(bench.load_target("digits_cnn"), ["ort-int8-qdq-u8"], budget_s=0.05)
    [row] = report.rows
    assert row.engine == "ort-int8-qdq-u8" and 0.9 <= float(row.extra["top1_agreement"]) <= 1.0
    # The int8 columns, computed on the 32 evaluation digits against fp32's logits (course_utils.quantize.fidelity).
    assert list(row.extra) == ["top1_agreement", "top1_agreement_confident", "top5_contains", "sqnr_db", "n"]
    assert row.extra["n"] == 32
    assert float(row.extra["top1_agreement"]) <= float(row.extra["top5_contains"]) <= 1.0
    assert 10.0 < float(row.extra["sqnr_db"]) < 80.0  # quantized, so noisy, but close to fp32
    header = str(report).splitlines()[0].split()
    assert header[-5:] == ["top1_agreement", "top1_agreement_confident", "top5_contains", "sqnr_db", "n"]
    assert json.loads(report.to_json())["rows"][0]["top5_contains"] == row.extra["top5_contains"]


def test_command_line(digits_pre: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert q.main(["digits_cnn", "--no-timing"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("digits_cnn") and "int8-qdq-u8" in out and "p50" not in out
