"""What a variant became and how it does: operator counts, fusions, predictions, accuracy, timing, profiles, sensitivity."""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import onnx

from course_utils.bench.harness import measure
from course_utils.quantize.calibration import quiet
from course_utils.runtime.sessions import create_session, session_options

if TYPE_CHECKING:
    import onnxruntime as ort

__all__ = [
    "Fusion",
    "accuracy",
    "agreement",
    "cpu_session",
    "fusion",
    "op_counts",
    "predict",
    "profile_by_op",
    "runtime_model",
    "runtime_ops",
    "sensitivity",
    "time_p50",
    "torch_p50",
]

# ------------------------------------------------------------------------------------------- graphs


def op_counts(model: str | os.PathLike[str] | onnx.ModelProto) -> dict[str, int]:
    """How many nodes of each operator type a model's graph holds, most frequent first."""
    proto = model if isinstance(model, onnx.ModelProto) else onnx.load(str(model), load_external_data=False)
    return dict(sorted(Counter(n.op_type for n in proto.graph.node).items(), key=lambda kv: (-kv[1], kv[0])))


def _session_options(
    int8_allowed: bool | None, level: str = "ORT_ENABLE_ALL", threads: int = 2, profile_prefix: str | None = None
) -> ort.SessionOptions:
    """Lesson 06's timing options (level, threads, one inter-op thread, quiet log), idle threads not spinning
    (they would slow whatever runs next, another session or PyTorch: ORT#13808), and where given the
    ``session.qdqisint8allowed`` setting and a profile prefix."""
    config = {} if int8_allowed is None else {"session.qdqisint8allowed": "1" if int8_allowed else "0"}
    return session_options(
        level, threads, spinning=False, profiling=profile_prefix, config=config, inter_op_threads=1, log_severity=3
    )


def runtime_model(model_path: str | os.PathLike[str], int8_allowed: bool | None = None) -> onnx.ModelProto:
    """The graph ONNX Runtime runs: the model after its basic and extended optimizations (QDQ groups fused
    into ``QLinearConv``, ``Conv`` + activation into ``FusedConv``...), as ORT saves it.

    ``int8_allowed`` sets the session config entry ``session.qdqisint8allowed``: whether QDQ groups with
    *signed* int8 activations may be fused. Its default is "0" on x86 and "1" on Arm, so pass True or False
    for a graph that is the same on every CPU (``None`` = this machine's default). Level ``ORT_ENABLE_EXTENDED`` is used
    because ``ORT_ENABLE_ALL`` adds layout changes that depend on the CPU's vector width."""

    with tempfile.TemporaryDirectory() as tmp:
        options = _session_options(int8_allowed, level="ORT_ENABLE_EXTENDED")
        options.optimized_model_filepath = str(Path(tmp) / "optimized.onnx")
        create_session(model_path, options)
        return onnx.load(options.optimized_model_filepath)


def runtime_ops(model_path: str | os.PathLike[str], int8_allowed: bool | None = None) -> dict[str, int]:
    """Operator counts of :func:`runtime_model` (the graph ONNX Runtime runs), most frequent first."""
    return op_counts(runtime_model(model_path, int8_allowed))


@dataclass(frozen=True)
class Fusion:
    """What the convolutions of a model become at run time."""

    convs: int  # Conv nodes in the fp32 model
    qlinear_conv: int  # fused int8 convolutions (QLinearConv)
    conv_integer: int  # ConvInteger (dynamic quantization): int8 multiply, fp32 around it
    float_conv: int  # Conv/FusedConv still in fp32 (between DequantizeLinear and QuantizeLinear, or never quantized)
    quantize_linear: int
    dequantize_linear: int

    def __str__(self) -> str:
        parts = []
        if self.qlinear_conv:
            parts.append(f"{self.qlinear_conv} of {self.convs} convolutions fused into QLinearConv")
        if self.conv_integer:
            parts.append(f"{self.conv_integer} ConvInteger (int8 multiply, fp32 in and out)")
        if self.float_conv:
            parts.append(f"{self.float_conv} still fp32 Conv")
        parts.append(f"{self.quantize_linear} QuantizeLinear, {self.dequantize_linear} DequantizeLinear left")
        return "; ".join(parts)

    @property
    def all_fused(self) -> bool:
        """Every convolution runs as an int8 ``QLinearConv`` (the structure that makes int8 fast)."""
        return self.convs > 0 and self.qlinear_conv == self.convs


def fusion(model_path: str | os.PathLike[str], convs: int, int8_allowed: bool | None = False) -> Fusion:
    """:class:`Fusion` of a model's run-time graph (:func:`runtime_ops`); ``convs`` is the fp32 model's count."""
    ops = runtime_ops(model_path, int8_allowed)
    return Fusion(
        convs,
        ops.get("QLinearConv", 0),
        ops.get("ConvInteger", 0),
        ops.get("Conv", 0) + ops.get("FusedConv", 0),
        ops.get("QuantizeLinear", 0) + ops.get("DynamicQuantizeLinear", 0),
        ops.get("DequantizeLinear", 0),
    )


# -------------------------------------------------------------------------------------------- measure


def cpu_session(model_path: str | os.PathLike[str], threads: int = 2, int8_allowed: bool | None = None) -> Any:
    """An ONNX Runtime session on the CPU provider with ``threads`` intra-op threads (and, where given, the
    ``session.qdqisint8allowed`` setting)."""

    return create_session(model_path, _session_options(int8_allowed, threads=threads))


def predict(model_path: str | os.PathLike[str], images: np.ndarray, batch_size: int = 64) -> np.ndarray:
    """The model's first output for ``images`` (run in batches on the CPU provider), remembered per (file,
    modification time, images): the lesson asks the same question of a variant more than once."""
    path = Path(model_path)
    key = (str(path.resolve()), path.stat().st_mtime_ns, hashlib.sha1(np.ascontiguousarray(images).data).hexdigest())
    if key not in _PREDICTIONS:
        _PREDICTIONS[key] = _run_batches(path, images, batch_size)
        while len(_PREDICTIONS) > 32:
            _PREDICTIONS.pop(next(iter(_PREDICTIONS)))
    return _PREDICTIONS[key]


_PREDICTIONS: dict[tuple[str, int, str], np.ndarray] = {}


def _run_batches(model_path: Path, images: np.ndarray, batch_size: int) -> np.ndarray:
    session = cpu_session(model_path)
    name = session.get_inputs()[0].name
    return np.concatenate(
        [session.run(None, {name: images[i : i + batch_size]})[0] for i in range(0, len(images), batch_size)]
    )


def accuracy(model_path: str | os.PathLike[str], images: np.ndarray, labels: np.ndarray) -> float:
    """Share of ``images`` whose top-1 class is ``labels``."""
    return float((predict(model_path, images).argmax(1) == labels).mean())


def agreement(model_path: str | os.PathLike[str], reference_path: str | os.PathLike[str], images: np.ndarray) -> float:
    """Share of ``images`` on which ``model_path`` picks the same top-1 class as ``reference_path`` (fp32)."""
    return float((predict(model_path, images).argmax(1) == predict(reference_path, images).argmax(1)).mean())


def _p50(run: Callable[[], Any], budget_s: float) -> float:
    return measure(run, budget_s=budget_s).stats.p50_ms


def time_p50(
    model_path: str | os.PathLike[str],
    feed: np.ndarray,
    budget_s: float = 1.0,
    threads: int = 2,
    int8_allowed: bool | None = None,
) -> float:
    """Median latency in ms of one ``session.run`` on ``feed`` (warm-up first, then runs for ``budget_s``)."""
    session = cpu_session(model_path, threads, int8_allowed)
    name = session.get_inputs()[0].name
    return _p50(lambda: session.run(None, {name: feed}), budget_s)


def torch_p50(module: Any, feed: np.ndarray, budget_s: float = 1.0, threads: int = 2) -> float:
    """Median latency in ms of the PyTorch module in eager mode (``torch.inference_mode``)."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    x = torch.from_numpy(feed)
    try:
        with torch.inference_mode():
            return _p50(lambda: module(x), budget_s)
    finally:
        torch.set_num_threads(previous)


def profile_by_op(
    model_path: str | os.PathLike[str], feed: np.ndarray, runs: int = 10, threads: int = 2, warmup: int = 2
) -> dict[str, float]:
    """Where the time goes: kernel time per operator type (ms per run), from ORT's profiler
    (``enable_profiling``, then lesson 06's :func:`course_utils.runtime.profiling.read_trace` on the JSON it writes),
    over ``runs`` runs after ``warmup`` cold ones that the profile holds but the totals leave out."""

    from course_utils.runtime.profiling import read_trace

    with tempfile.TemporaryDirectory() as tmp:
        options = _session_options(None, threads=threads, profile_prefix=str(Path(tmp) / "profile"))
        session = create_session(model_path, options)
        name = session.get_inputs()[0].name
        for _ in range(warmup + runs):
            session.run(None, {name: feed})
        trace = read_trace(session.end_profiling(), skip_runs=warmup)
    return {op: round(ms / runs, 3) for op, ms in trace.by_op_type().items()}


def sensitivity(
    fp32_path: str | os.PathLike[str], qdq_path: str | os.PathLike[str], reader: Any
) -> list[tuple[str, float, float]]:
    """Which nodes add the most quantization noise, from ``qdq_loss_debug``.

    ``qdq_loss_debug`` runs both models on the reader's data and gives, per quantized activation, the
    signal-to-quantization-noise ratio (SQNR, dB; higher = cleaner) of the QDQ model's tensor against the fp32
    model's. Noise accumulates along the network, so the SQNR only falls; a node matters by how much it makes
    it fall: *added* = SQNR of its noisiest input - SQNR of its output. Returns ``(node, SQNR of its output,
    added dB)``, largest added first: the first nodes to try in ``nodes_to_exclude``."""
    from onnxruntime.quantization.qdq_loss_debug import (
        collect_activations,
        compute_activation_error,
        create_activation_matching,
        modify_model_output_intermediate_tensors,
    )

    with tempfile.TemporaryDirectory() as tmp, quiet():
        fp32_aug, qdq_aug = Path(tmp) / "fp32.onnx", Path(tmp) / "qdq.onnx"
        modify_model_output_intermediate_tensors(str(fp32_path), str(fp32_aug))
        modify_model_output_intermediate_tensors(str(qdq_path), str(qdq_aug))
        reader.rewind()
        float_acts = collect_activations(str(fp32_aug), reader)
        reader.rewind()
        qdq_acts = collect_activations(str(qdq_aug), reader)
    errors = compute_activation_error(create_activation_matching(qdq_acts, float_acts))
    sqnr = {t: e["xmodel_err"] for t, e in errors.items() if "xmodel_err" in e}
    graph = onnx.load(str(fp32_path), load_external_data=False).graph
    producer = {o: n for n in graph.node for o in n.output}
    inputs = {i.name for i in graph.input}

    def upstream(tensor: str, depth: int = 0) -> float:
        """SQNR of the nearest measured tensor feeding ``tensor`` (a graph input is noise-free until quantized)."""
        if tensor in sqnr and depth > 0:
            measured: float = sqnr[tensor]
            return measured
        node = producer.get(tensor)
        if node is None or depth > 8:
            return sqnr.get(tensor, 120.0) if tensor in inputs else 120.0
        return min((upstream(i, depth + 1) for i in node.input if i in producer or i in inputs), default=120.0)

    def quantized_node(tensor: str) -> str:
        """The node nodes_to_exclude needs: a Relu fused into the Conv before it is quantized with that Conv."""
        node = producer[tensor]
        source = producer.get(node.input[0]) if node.op_type in ("Relu", "Clip") and node.input else None
        name: str = source.name if source is not None and source.op_type in ("Conv", "Gemm", "MatMul") else node.name
        return name

    ranked = [
        (quantized_node(t), round(value, 2), round(upstream(t) - value, 2))
        for t, value in sqnr.items()
        if t in producer
    ]
    return sorted(ranked, key=lambda item: -item[2])
