"""The models and sessions lesson 06's checkers judge answers on (kept out of :mod:`course_utils.lessons.lesson06`
so each module stays short): small models whose BatchNormalization nodes fold or not (06.1), and a session that is
slow to create and slow on its first run, as a big model's is (06.2)."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

__all__ = ["BN_MODELS", "COLD_S", "CREATE_S", "CheckedSession", "bn_model", "busy"]


def bn_model(kind: str) -> onnx.ModelProto:
    """A small model whose BatchNormalization nodes ONNX Runtime can fold or not, depending on ``kind``:

    * ``"pairs"``: two Conv+BatchNormalization pairs, as the DigitsCNN and ResNet-18 have (all foldable);
    * ``"mixed"``: two Conv+BN pairs and one BatchNormalization after a Relu (no Conv to fold it into);
    * ``"shared"``: a Conv whose output feeds its BatchNormalization and an Add as well;
    * ``"input"``: a BatchNormalization on the raw input, before any Conv.
    """
    rng = np.random.default_rng(len(kind))
    nodes: list[onnx.NodeProto] = []
    inits: list[TensorProto] = []

    def conv(source: str, out: str, c_in: int, c_out: int) -> None:
        weight = numpy_helper.from_array(
            (rng.standard_normal((c_out, c_in, 3, 3)) * 0.2).astype(np.float32), f"{out}_w"
        )
        inits.append(weight)
        nodes.append(helper.make_node("Conv", [source, weight.name], [out], name=out, pads=[1] * 4))

    def bn(source: str, out: str, channels: int) -> None:
        stats = [rng.random(channels) + 0.5, rng.standard_normal(channels), rng.standard_normal(channels) * 0.1]
        stats.append(rng.random(channels) + 0.5)
        names = []
        for part, values in zip(("scale", "bias", "mean", "var"), stats, strict=True):
            inits.append(numpy_helper.from_array(values.astype(np.float32), f"{out}_{part}"))
            names.append(f"{out}_{part}")
        nodes.append(helper.make_node("BatchNormalization", [source, *names], [out], name=out))

    channels = 3
    if kind == "input":
        bn("x", "bn_in", 3)
        conv("bn_in", "y", 3, 4)
        channels = 4
    elif kind == "shared":
        conv("x", "c0", 3, 4)
        bn("c0", "b0", 4)
        nodes.append(helper.make_node("Add", ["b0", "c0"], ["y"], name="skip"))
        channels = 4
    else:
        conv("x", "c0", 3, 4)
        bn("c0", "b0", 4)
        nodes.append(helper.make_node("Relu", ["b0"], ["r0"], name="relu0"))
        conv("r0", "c1", 4, 6)
        bn("c1", "b1" if kind == "mixed" else "y", 6)
        channels = 6
        if kind == "mixed":
            nodes.append(helper.make_node("Relu", ["b1"], ["r1"], name="relu1"))
            bn("r1", "y", 6)
    graph = helper.make_graph(
        nodes,
        f"bn_{kind}",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 9, 9])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", channels, 9, 9])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    onnx.checker.check_model(model)
    return model


BN_MODELS = ("pairs", "mixed", "shared", "input")


CREATE_S = 0.4  # the checker's session is slow to create, as a big model's is (far slower than its first run,
# so a timing tells which of the two it holds, whichever clock measured it, on a loaded machine too)
COLD_S = 0.06  # and its first run is slow, as every session's is (memory, kernel choice: ORT#10676)


def busy(seconds: float) -> tuple[float, float, float]:
    """Keep this thread working for ``seconds`` of wall time *and* of CPU time, as real start-up work does;
    returns the milliseconds it took on the wall clock, this thread's and the process's CPU-time clocks (they
    differ: on a busy machine the wall time is longer, and other threads add to the process's CPU time).

    Sleeping would not do: a loop timed with a CPU-time clock (``time.process_time``, ``time.thread_time``) does
    not count a sleep, so a timed session creation or cold run would look as fast as a warm run."""
    wall, cpu, process = time.perf_counter(), time.thread_time(), time.process_time()
    spin = 0
    while time.perf_counter() - wall < seconds or time.thread_time() - cpu < seconds:
        spin = (spin * 31 + 7) % 1_000_003  # arithmetic a clock of any kind sees
    return (
        1e3 * (time.perf_counter() - wall),
        1e3 * (time.thread_time() - cpu),
        1e3 * (time.process_time() - process),
    )


class CheckedSession:
    """A real ``InferenceSession`` on a tiny model that behaves like a big one at the start: slow to create,
    slow on its first run. It records how it was used."""

    def __init__(self, log: dict[str, Any]) -> None:
        import onnxruntime as ort

        log["created"] += 1
        log["slow_ms"]["creation"] = busy(CREATE_S)
        graph = helper.make_graph(
            [helper.make_node("Relu", ["x"], ["y"])],
            "tiny",
            [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 16])],
            [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 16])],
        )
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
        self._session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
        self._log = log
        self._runs = 0

    def run(self, output_names: Any, feed: Any, run_options: Any = None) -> Any:
        """``InferenceSession.run``, with the first run slow and the warm runs' times recorded."""
        t0 = time.perf_counter()
        if self._runs == 0:
            self._log["slow_ms"]["cold"] = busy(COLD_S)
        self._runs += 1
        result = self._session.run(output_names, feed, run_options)
        if self._runs > 1:
            self._log["warm_ms"].append((time.perf_counter() - t0) * 1e3)
        self._log["runs"] += 1
        return result

    def get_inputs(self) -> Any:
        """The wrapped session's inputs."""
        return self._session.get_inputs()

    def get_outputs(self) -> Any:
        """The wrapped session's outputs."""
        return self._session.get_outputs()
