"""lesson 07's int8 variants as :mod:`course_utils.bench` engines (``ort-int8-*``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from course_utils.paths import artifact_path
from course_utils.quantize.agreement import compare_logits
from course_utils.quantize.calibration import (
    CALIBRATION_SEED,
    EVALUATION_SEED,
    LESSON,
    ImageCalibrationReader,
    photo_crops,
    prepare_model,
    quiet,
    reader_for,
)
from course_utils.quantize.configs import CONFIGS, TUNED, QuantConfig, quantize
from course_utils.quantize.evaluate import cpu_session, predict

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
    """``quant_pre_process`` of a file the bench times, once (``artifacts/07/bench_<name>_pre.onnx``)."""
    from onnxruntime.quantization import quant_pre_process

    pre = artifact_path(f"bench_{source.stem}_pre.onnx", lesson=LESSON)
    if not pre.exists() or pre.stat().st_mtime < source.stat().st_mtime:
        with quiet():
            quant_pre_process(str(source), str(pre))
    return pre


def _bench_factory(config: QuantConfig, bench: Any) -> Callable[[Any, int], Any]:
    def factory(target: Any, threads: int) -> Any:
        source = Path(target.onnx_path)
        input_name, batch = next(iter(target.feed.items()))
        course_file = (
            target.name in bench.COURSE_MODELS and source.resolve() == bench.course_model_onnx(target.name).resolve()
        )
        if course_file and target.name == "efficientnet_lite0":
            # A trained ImageNet model: calibrate on the 72 calibration crops of the packaged photos, judge on
            # the 240 evaluation crops (disjoint windows), each preprocessed as the weights expect.
            from course_utils.models.efficientnet import preprocess
            from course_utils.models.photos import calibration_crops, evaluation_crops

            pre = _bench_pre(source)
            evaluation: np.ndarray | None = preprocess(evaluation_crops())
            reader = ImageCalibrationReader(preprocess(calibration_crops()), input_name, batch_size=1)  # less memory
            path = quantize(pre, config, reader, out=artifact_path(f"bench_{source.stem}.{config.key()}.onnx", LESSON))
        elif course_file and target.name == "resnet18":
            # bench's ResNet-18 keeps random batch-norm statistics: nearly constant predictions, so any int8
            # model "agrees" 100%. Quantize lesson 07's ResNet-18 instead (same architecture and weights, batch
            # norm from photos; the same operators and shapes, so the same speed), with its calibration crops
            # and fixed evaluation set: the agreement is the lesson's number.
            pre = prepare_model("resnet18")
            reader = reader_for("resnet18")()
            evaluation = photo_crops(64, EVALUATION_SEED)
            path = quantize(pre, config, reader)
        else:
            pre = _bench_pre(source)
            calibration = _representative(batch.shape[1:], 16, CALIBRATION_SEED)
            evaluation = _representative(batch.shape[1:], 32, EVALUATION_SEED)
            if calibration is None or evaluation is None:  # an unknown input: the benchmark's own feed, a few times
                calibration = evaluation = np.concatenate([batch] * max(1, 16 // len(batch)))
            reader = ImageCalibrationReader(calibration.astype(np.float32), input_name, batch_size=1)
            out = artifact_path(f"bench_{source.stem}.{config.key()}.onnx", LESSON)
            path = quantize(pre, config, reader, out=out)
        images = np.asarray(evaluation, dtype=np.float32)
        quality = compare_logits(predict(pre, images), predict(path, images))
        session = cpu_session(path, threads)
        feed = dict(target.feed)
        return bench.Prepared(lambda: session.run(None, feed), extra=quality.columns())

    return factory


def register_bench_engines(bench: Any = None) -> list[str]:
    """Register ``ort-int8-dynamic``, ``ort-int8-static``, ``ort-int8-qdq-u8`` and ``ort-int8-qdq-u8-fc32`` with
    :mod:`course_utils.bench`; each row reports how the int8 model's logits compare with fp32's on real images
    (digits or photo crops shaped like the model's input): ``top1_agreement``, ``top1_agreement_confident``
    (images where fp32's top-1 probability beats the runner-up by >= 0.2), ``top5_contains`` (int8's top-1 among
    fp32's top 5), ``sqnr_db`` and ``n`` (:func:`course_utils.quantize.agreement.compare_logits`). For bench's own
    ``resnet18`` (random batch-norm statistics, nearly constant predictions) the engines quantize lesson 07's
    ResNet-18 (batch norm from photos) and measure on its fixed 64 crops; ``efficientnet_lite0`` is calibrated on
    72 crops of the packaged photos and measured on 240 others (:mod:`course_utils.models.photos`). Returns the
    engine names.  All are registered with ``precision="int8"`` (compared with an int8 peak).

    ``bench`` is the bench module to register with (default :mod:`course_utils.bench`; its CLI passes itself,
    as ``python -m`` runs it as ``__main__``)."""
    if bench is None:
        from course_utils import bench

    names = []
    for config in [*CONFIGS.values(), *TUNED.values()]:
        name = f"ort-{config.name}"
        if name not in bench.ENGINES:
            factory = _bench_factory(config, bench)
            bench.register_engine(
                name, factory, description=f"ORT int8: {config.description}", needs="onnx", precision="int8"
            )
        names.append(name)
    return names
