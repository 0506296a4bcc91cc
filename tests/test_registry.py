"""One registry of course models: one export per model and option set, one error for an unknown model."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest
from course_test_helpers import artifacts_in

from course_utils import bench, errors, providers, quantize
from course_utils.models import registry
from course_utils.models.registry import ExportOptions


@pytest.fixture
def artifacts(tmp_path: Path) -> Iterator[Path]:
    with artifacts_in(tmp_path) as folder:
        yield folder


@pytest.fixture
def exports(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, ExportOptions]]:
    """Every call of the registry's exporter, as (model, options)."""
    calls: list[tuple[str, ExportOptions]] = []
    real = registry.export

    def counting(name: str, path: Path, options: ExportOptions | None = None) -> Path:
        calls.append((registry.get(name).key, options or registry.get(name).export))
        return real(name, path, options)

    monkeypatch.setattr(registry, "export", counting)
    return calls


def test_the_course_models_are_registered_once() -> None:
    assert list(registry.benchmark_models()) == ["digits_cnn", "resnet18", "keras_cnn", "efficientnet_lite0"]
    assert registry.get("DigitsCNN") is registry.get("digits_cnn")  # display name or key, one entry
    assert list(providers.course_models()) == ["DigitsCNN", "ResNet-18", "Keras CNN", "EfficientNet-Lite0"]
    assert bench.course_models() == registry.benchmark_models()


def test_each_model_is_exported_once_per_option_set(artifacts: Path, exports: list[Any]) -> None:
    first = registry.onnx_path("digits_cnn")
    assert first.parent == artifacts / "models" and first.name == f"digits_cnn-{ExportOptions().key()}.onnx"
    # bench, the provider switcher and the tests all reuse that file
    assert bench.load_target("digits_cnn").onnx_path == first
    assert providers.course_model("DigitsCNN") == first
    assert bench.course_model_onnx("digits_cnn") == first
    assert exports == [("digits_cnn", ExportOptions())]
    # another option set is another file, exported once too
    int8 = quantize.prepare_model("digits_cnn")
    quantize.prepare_model("digits_cnn")
    assert exports == [("digits_cnn", ExportOptions()), ("digits_cnn", quantize.QUANT_EXPORT)]
    assert int8.parent == artifacts / "quantize"
    folded = onnx.load(registry.onnx_path("digits_cnn", quantize.QUANT_EXPORT))
    assert folded.opset_import[0].version == 17
    assert "BatchNormalization" not in {n.op_type for n in folded.graph.node}  # constant folding on
    assert "BatchNormalization" in {n.op_type for n in onnx.load(first).graph.node}  # off by default
    assert len(exports) == 2


def test_export_options_key_the_file() -> None:
    assert ExportOptions().key() == ExportOptions().key()
    keys = {ExportOptions().key(), ExportOptions(opset=17).key(), ExportOptions(constant_folding=True).key()}
    assert len(keys) == 3


UNKNOWN_MODEL_PATHS: dict[str, Callable[[], object]] = {
    "registry.get": lambda: registry.get("alexnet"),
    "registry.onnx_path": lambda: registry.onnx_path("alexnet"),
    "bench.load_target": lambda: bench.load_target("alexnet"),
    "bench.export_course_model": lambda: bench.export_course_model("alexnet", Path("x.onnx")),
    "providers.course_model": lambda: providers.course_model("AlexNet"),
    "quantize.prepare_model": lambda: quantize.prepare_model("alexnet"),
    "quantize.course_torch_model": lambda: quantize.course_torch_model("alexnet"),
    "quantize.course_torch_model(keras)": lambda: quantize.course_torch_model("keras_cnn"),
}


@pytest.mark.parametrize("call", UNKNOWN_MODEL_PATHS.values(), ids=UNKNOWN_MODEL_PATHS.keys())
def test_every_unknown_model_path_raises_the_same_error(call: Callable[[], object]) -> None:
    with pytest.raises(errors.UnknownModelError, match="digits_cnn") as caught:
        call()
    assert type(caught.value) is errors.UnknownModelError and isinstance(caught.value, errors.CourseError)
    assert bench.UnknownModelError is errors.UnknownModelError  # still importable where it was


def test_registering_a_model_is_one_call(artifacts: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    monkeypatch.setattr(registry, "MODELS", dict(registry.MODELS))  # leave the course's registry as it was
    registry.register(
        "tiny_linear",
        "Tiny linear",
        build=lambda: torch.nn.Linear(4, 2).eval(),
        example=lambda batch: np.zeros((batch, 4), np.float32),
        description="y = Wx + b",
    )
    assert "tiny_linear" in bench.course_models() and "Tiny linear" in providers.course_models()
    target = bench.load_target("tiny_linear", batch=2)
    assert target.framework_kind == "torch" and target.feed["image"].shape == (2, 4)
    with pytest.raises(ValueError, match="already registered"):
        registry.register("tiny_linear", "Other", build=lambda: None, example=lambda b: np.zeros(1))
