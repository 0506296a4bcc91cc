"""lesson 07's int8 variants as :mod:`course_utils.bench` engines (``ort-int8-*``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from course_utils.paths import artifact_path
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
from course_utils.quantize.evaluate import agreement, cpu_session

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


def _bench_factory(config: QuantConfig, bench: Any) -> Callable[[Any, int], Any]:
    def factory(target: Any, threads: int) -> Any:
        from onnxruntime.quantization import quant_pre_process

        source = Path(target.onnx_path)
        input_name, batch = next(iter(target.feed.items()))
        if target.name == "resnet18" and source.resolve() == bench.course_model_onnx("resnet18").resolve():
            # bench's ResNet-18 keeps random batch-norm statistics: nearly constant predictions, so any int8
            # model "agrees" 100%. Quantize lesson 07's ResNet-18 instead (same architecture and weights, batch
            # norm from photos; the same operators and shapes, so the same speed), with its calibration crops
            # and fixed evaluation set: the agreement is the lesson's number.
            pre = prepare_model("resnet18")
            reader = reader_for("resnet18")()
            evaluation: np.ndarray | None = photo_crops(64, EVALUATION_SEED)
            path = quantize(pre, config, reader)
        else:
            pre = artifact_path(f"bench_{source.stem}_pre.onnx", lesson=LESSON)
            if not pre.exists() or pre.stat().st_mtime < source.stat().st_mtime:
                with quiet():
                    quant_pre_process(str(source), str(pre))
            calibration = _representative(batch.shape[1:], 16, CALIBRATION_SEED)
            evaluation = _representative(batch.shape[1:], 32, EVALUATION_SEED)
            if calibration is None or evaluation is None:  # an unknown input: the benchmark's own feed, a few times
                calibration = evaluation = np.concatenate([batch] * max(1, 16 // len(batch)))
            reader = ImageCalibrationReader(calibration.astype(np.float32), input_name, batch_size=1)
            out = artifact_path(f"bench_{source.stem}.{config.key()}.onnx", LESSON)
            path = quantize(pre, config, reader, out=out)
        agree = agreement(path, pre, np.asarray(evaluation, dtype=np.float32))
        session = cpu_session(path, threads)
        feed = dict(target.feed)
        return bench.Prepared(lambda: session.run(None, feed), extra={"agreement": round(agree, 3)})

    return factory


def register_bench_engines(bench: Any = None) -> list[str]:
    """Register ``ort-int8-dynamic``, ``ort-int8-static``, ``ort-int8-qdq-u8`` and ``ort-int8-qdq-u8-fc32`` with
    :mod:`course_utils.bench`; each row reports ``agreement``, the share of real images (digits or photo crops
    shaped like the model's input) on which the int8 model's top-1 class matches fp32's. For bench's own
    ``resnet18`` (random batch-norm statistics, nearly constant predictions) the engines quantize lesson 07's
    ResNet-18 (batch norm from photos) and report agreement on its fixed 64 crops. Returns the engine names.

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
