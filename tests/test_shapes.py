"""The sequence model and the headless shape explorer (course_utils.models.seqmodel, course_utils.bench.shapes): two symbolic
dims, parity with PyTorch at many lengths, bucketing, activation memory, and a summary without timings."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import onnx
import pytest
from course_test_helpers import artifacts_in
from onnx import TensorProto, helper

from course_utils.bench.shapes import ShapeReport, activation_bytes, bucket_for, explore_shapes, plot_shapes
from course_utils.models.seqmodel import CLASSES, make_waveforms, pad_to

torch = pytest.importorskip("torch")
ort = pytest.importorskip("onnxruntime")


@pytest.fixture(scope="module", autouse=True)
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    with artifacts_in(tmp_path_factory.mktemp("artifacts")) as folder:
        yield folder


@pytest.fixture(scope="module")
def seq_path(artifacts: Path) -> Path:
    from course_utils.models.seqmodel import export_seq_model

    return export_seq_model()


def test_waveforms_are_deterministic_and_labelled():
    x, y = make_waveforms(6, 40, seed=3)
    again, labels = make_waveforms(6, 40, seed=3)
    assert x.dtype == np.float32 and x.shape == (6, 40) and y.dtype == np.int64
    assert np.array_equal(x, again) and np.array_equal(y, labels)
    assert set(y.tolist()) <= set(range(len(CLASSES)))
    assert not np.array_equal(x, make_waveforms(6, 40, seed=4)[0])
    with pytest.raises(ValueError, match="count >= 1"):
        make_waveforms(0, 10)


def test_pad_to_pads_at_the_end_and_refuses_to_cut():
    x = np.ones((2, 3), np.float32)
    padded = pad_to(x, 5)
    assert padded.shape == (2, 5) and padded[:, 3:].sum() == 0 and padded[:, :3].sum() == 6
    with pytest.raises(ValueError, match="shorter"):
        pad_to(x, 2)


def test_trained_model_classifies_waveforms():
    from course_utils.models.seqmodel import load_seq_model

    model = load_seq_model()
    x, y = make_waveforms(200, 120, seed=11)
    with torch.no_grad():
        accuracy = (model(torch.from_numpy(x)).argmax(dim=1).numpy() == y).mean()
    assert accuracy > 0.9


def test_export_has_two_symbolic_dims_and_matches_pytorch_at_many_lengths(seq_path):
    from course_utils.models.seqmodel import load_seq_model

    session = ort.InferenceSession(str(seq_path), providers=["CPUExecutionProvider"])
    (x_info,) = session.get_inputs()
    assert x_info.shape == ["batch", "length"]
    assert session.get_outputs()[0].shape == ["batch", 3]
    model = load_seq_model()
    for batch, length in ((1, 8), (2, 17), (4, 64), (3, 250), (1, 777), (2, 1024)):
        x, _ = make_waveforms(batch, length, seed=length)
        with torch.no_grad():
            expected = model(torch.from_numpy(x)).numpy()
        np.testing.assert_allclose(session.run(None, {"x": x})[0], expected, rtol=1e-5, atol=1e-5)


def test_bucket_for():
    assert bucket_for(1) == 16 and bucket_for(16) == 16 and bucket_for(17) == 32
    assert bucket_for(5, (8, 4)) == 8
    with pytest.raises(ValueError, match="largest bucket"):
        bucket_for(2000)


def _relu_model(dims) -> onnx.ModelProto:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, dims)
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, dims)
    nodes = [helper.make_node("Relu", ["x"], ["h"]), helper.make_node("Neg", ["h"], ["y"])]
    return helper.make_model(helper.make_graph(nodes, "g", [x], [y]), opset_imports=[helper.make_opsetid("", 20)])


def test_activation_bytes_counts_intermediates_at_the_given_sizes():
    model = _relu_model(["b", "n"])  # one intermediate, h: [b, n] float32
    assert activation_bytes(model, {"b": 2, "n": 10}) == 2 * 10 * 4
    assert activation_bytes(model, {"b": 3, "n": 10}) == 3 * 10 * 4
    assert activation_bytes(_relu_model([2, 5]), {}) == 40


def test_exact_run_agrees_with_itself_and_grows_memory_with_length(seq_path):
    report = explore_shapes(seq_path, batch=4, lengths=(40, 20, 90), repeats=1)
    assert isinstance(report, ShapeReport)
    assert report.lengths == [20, 40, 90]  # sorted
    assert [p.run_length for p in report.points] == [20, 40, 90]
    assert report.distinct_shapes == 3 and report.padded_fraction == 0.0
    assert report.agreement == (12, 12)
    memory = [p.activation_bytes for p in report.points]
    assert memory[0] < memory[1] < memory[2]
    assert all(p.latency_ms > 0 for p in report.points)
    assert report.input_dims == ("batch", "length")


def test_bucketing_pads_to_buckets_and_reports_it(seq_path):
    report = explore_shapes(seq_path, batch=4, lengths=(20, 30, 40, 90), bucketing=True, repeats=1)
    assert [p.run_length for p in report.points] == [32, 32, 64, 128]
    assert report.distinct_shapes == 3
    assert report.padded_fraction == pytest.approx(1 - 180 / 256)
    assert report.points[0].activation_bytes == report.points[1].activation_bytes
    same, made = report.agreement
    assert made == 16 and 0 <= same <= 16
    assert "padded to buckets" in report.headline() and "3 distinct input shapes" in report.headline()


def test_summary_is_deterministic_and_holds_no_timings(seq_path):
    one = explore_shapes(seq_path, batch=2, lengths=(20, 50), repeats=2)
    two = explore_shapes(seq_path, batch=2, lengths=(20, 50), repeats=3)
    assert one.text() == two.text() and one.html() == two.html()
    assert "ms" not in one.text()
    assert one.text().splitlines()[1].split() == [
        "length",
        "run",
        "as",
        "activation",
        "memory",
        "same",
        "prediction",
        "as",
        "exact",
    ]
    assert "[2, 20]" in one.text() and "<table" in one.html() and "[2, 50]" in one.html()


def test_explorer_refuses_a_model_that_is_not_batch_by_length(tmp_path):
    path = tmp_path / "three_d.onnx"
    onnx.save(_relu_model(["b", "n", 3]), path)
    with pytest.raises(ValueError, match=r"one input \[batch, length\]"):
        explore_shapes(path, lengths=(10,))
    with pytest.raises(ValueError, match="batch >= 1"):
        explore_shapes(path, batch=0)


def test_plot_has_latency_and_memory(seq_path):
    exact = explore_shapes(seq_path, batch=2, lengths=(20, 50), repeats=1)
    bucketed = explore_shapes(seq_path, batch=2, lengths=(20, 50), repeats=1, bucketing=True)
    fig = plot_shapes(exact, bucketed)
    left, right = fig.axes
    assert left.get_ylabel() == "median latency (ms)" and right.get_ylabel() == "activation memory (KiB)"
    assert len(left.lines) == 2 and [t.get_text() for t in left.get_legend().get_texts()] == [
        "exact lengths",
        "padded to buckets",
    ]
    assert list(right.lines[0].get_ydata()) == [p.activation_bytes / 1024 for p in exact.points]


def test_the_view_reruns_on_each_control(seq_path):
    pytest.importorskip("ipywidgets")
    from course_utils.views.shapes_view import ShapeExplorer, length_grid

    assert length_grid(100, 4) == (16, 29, 54, 100)
    view = ShapeExplorer(seq_path, batch=2, longest=50, repeats=1)
    first_png, first_text = view.png, view.text
    assert first_png.startswith(b"\x89PNG") and "batch 2" in first_text and "exact lengths" in first_text
    view.batch.value = 3
    assert "batch 3" in view.text and view.png != first_png
    view.bucketing.value = True
    assert "padded to buckets" in view.text and view.exact is not None and not view.exact.bucketing
    bundle = view._repr_mimebundle_()
    assert bundle["text/plain"] == view.text and "course-shapes-static" in bundle["text/html"]
    with pytest.raises(ValueError, match="longest must be one of"):
        ShapeExplorer(seq_path, longest=51)
