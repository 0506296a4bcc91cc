"""lesson 07's int8 variants as :mod:`course_utils.bench` engines (``ort-int8-*``)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from course_utils.bench.engines import ENGINES, EngineFactory, Prepared, register_engine
from course_utils.bench.targets import BenchTarget
from course_utils.models import registry
from course_utils.paths import artifact_path, build_once, newer_than
from course_utils.quantize.calibration import (
    CALIBRATION_SEED,
    EVALUATION_SEED,
    FOLDER,
    ImageCalibrationReader,
    evaluation_images,
    photo_crops,
    prepare_model,
    quiet,
    reader_for,
)
from course_utils.quantize.configs import CONFIGS, TUNED, QuantConfig, quantize
from course_utils.quantize.evaluate import cpu_session, predict
from course_utils.quantize.fidelity import compare_logits

__all__ = ["register_bench_engines"]

# ---------------------------------------------------------------------------------------- bench engines


def _representative(shape: Sequence[int], n: int, seed: int) -> np.ndarray | None:
    """Real images shaped like a model's input: digits for (1, 8, 8), photo crops for (3, H, H); else None."""
    if tuple(shape) == (1, 8, 8):
        from course_utils.models.data import load_digits

        digits = load_digits()
        return digits.x_train[:n] if seed == CALIBRATION_SEED else digits.x_test[:n]
    if len(shape) == 3 and shape[0] == 3 and shape[1] == shape[2] and shape[1] >= 16:
        return photo_crops(n, seed, size=int(shape[1]))
    return None


def _bench_pre(source: Path) -> Path:
    """``quant_pre_process`` of a file the bench times, once (``artifacts/quantize/bench_<name>_pre.onnx``)."""
    from onnxruntime.quantization import quant_pre_process

    pre = artifact_path(f"bench_{source.stem}_pre.onnx", lesson=FOLDER)

    def build(partial: Path) -> None:
        with quiet():
            quant_pre_process(str(source), str(partial))

    return build_once(pre, build, fresh=newer_than(source))


def _bench_factory(config: QuantConfig) -> EngineFactory:
    def factory(target: BenchTarget, threads: int) -> Prepared:
        source = Path(target.onnx_path)
        input_name, batch = next(iter(target.feed.items()))
        course_file = target.name in registry.MODELS and source.resolve() == registry.onnx_path(target.name).resolve()
        if course_file and target.name == "efficientnet_lite0":
            # A trained ImageNet model: calibrate on the 72 calibration crops of the packaged photos, judge on
            # the 240 evaluation crops (other windows of the same photos; they may overlap), each preprocessed as
            # the weights expect.
            from course_utils.models.efficientnet import preprocess
            from course_utils.models.photos import calibration_crops, evaluation_crops

            pre = _bench_pre(source)
            evaluation: np.ndarray | None = preprocess(evaluation_crops())
            reader = ImageCalibrationReader(preprocess(calibration_crops()), input_name, batch_size=1)  # less memory
            path = quantize(pre, config, reader, out=artifact_path(f"bench_{source.stem}.{config.key()}.onnx", FOLDER))
        elif course_file:
            # A course model: quantize the registry's int8 export of it (prepare_model: opset 17, batch norm
            # folded; the same operators and shapes, so the same speed) with its own calibration data, and
            # measure agreement on its fixed evaluation images: the lesson's numbers.
            pre = prepare_model(target.name)
            reader = reader_for(target.name)()
            evaluation = evaluation_images(target.name)
            path = quantize(pre, config, reader)
        else:
            pre = _bench_pre(source)
            calibration = _representative(batch.shape[1:], 16, CALIBRATION_SEED)
            evaluation = _representative(batch.shape[1:], 32, EVALUATION_SEED)
            if calibration is None or evaluation is None:  # an unknown input: the benchmark's own feed, a few times
                calibration = evaluation = np.concatenate([batch] * max(1, 16 // len(batch)))
            reader = ImageCalibrationReader(calibration.astype(np.float32), input_name, batch_size=1)
            out = artifact_path(f"bench_{source.stem}.{config.key()}.onnx", FOLDER)
            path = quantize(pre, config, reader, out=out)
        images = np.asarray(evaluation, dtype=np.float32)
        quality = compare_logits(predict(pre, images), predict(path, images))
        session = cpu_session(path, threads)
        feed = dict(target.feed)
        return Prepared(lambda: session.run(None, feed), extra=quality.columns())

    return factory


def register_bench_engines() -> list[str]:
    """Register ``ort-int8-dynamic``, ``ort-int8-static``, ``ort-int8-qdq-u8`` and ``ort-int8-qdq-u8-fc32`` with
    :mod:`course_utils.bench`'s engine registry; each row reports how the int8 model's logits compare with fp32's
    on real images (digits or photo crops shaped like the model's input): ``top1_agreement``,
    ``top1_agreement_confident`` (images where fp32's top-1 probability beats the runner-up by >= 0.2),
    ``top5_contains`` (int8's top-1 among fp32's top 5), ``sqnr_db`` and ``n``
    (:func:`course_utils.quantize.fidelity.compare_logits`). A course model is quantized from the registry's int8
    export (:func:`prepare_model`) with its own calibration and evaluation images (lesson 07's numbers);
    ``efficientnet_lite0`` is calibrated on 72 crops of the packaged photos and measured on 240 others
    (:mod:`course_utils.models.photos`). All are registered with ``precision="int8"`` (compared with an int8 peak).
    Returns the engine names.

    ``python -m course_utils.bench`` calls this (the command sits above both parts; bench never imports
    quantize); call it yourself to use the engines from Python."""
    names = []
    for config in [*CONFIGS.values(), *TUNED.values()]:
        name = f"ort-{config.name}"
        if name not in ENGINES:
            register_engine(
                name,
                _bench_factory(config),
                description=f"ORT int8: {config.description}",
                needs="onnx",
                precision="int8",
            )
        names.append(name)
    return names
