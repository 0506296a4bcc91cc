"""Engines and their registry: ONNX Runtime at each optimization level, torch eager, tf.function, the reference evaluator."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from course_utils.bench.harness import Timings
from course_utils.bench.peak import Precision, torch_threads
from course_utils.bench.targets import BenchTarget, Needs
from course_utils.errors import (
    UnknownEngineError,  # their home; importable from here too
)

if TYPE_CHECKING:  # ONNX Runtime loads when an engine runs, not when the command line reads --help
    import onnxruntime as ort

__all__ = [
    "ENGINES",
    "LEVELS",
    "Engine",
    "EngineFactory",
    "Prepared",
    "UnknownEngineError",
    "default_engines",
    "get_engine",
    "ort_session_options",
    "register_engine",
]

#: The ``ort-*`` engines' names -> the graph optimization level each runs at (ONNX Runtime's names).
LEVELS: dict[str, str] = {
    "disable": "ORT_DISABLE_ALL",
    "basic": "ORT_ENABLE_BASIC",
    "extended": "ORT_ENABLE_EXTENDED",
    "layout": "ORT_ENABLE_LAYOUT",
    "all": "ORT_ENABLE_ALL",
}


# ------------------------------------------------------------------------------------------- engines


@dataclass(frozen=True)
class Prepared:
    """What an engine factory may return instead of a bare callable: the run, extra row columns, a clean-up, and
    for an engine that runs elsewhere (``tf-function``: a child process) its own ``measure(**options)``, called
    with :func:`measure`'s options instead of timing ``run`` here."""

    run: Callable[[], object]
    extra: Mapping[str, float | int | str] = field(default_factory=dict)
    close: Callable[[], None] | None = None
    measure: Callable[..., Timings] | None = None


EngineFactory = Callable[[BenchTarget, int], "Callable[[], object] | Prepared"]


@dataclass(frozen=True)
class Engine:
    """A registered engine: ``name``, its ``factory(target, threads)``, what the target must provide, and the
    arithmetic it runs (``"fp32"``, or ``"int8"``: its rows are compared with an int8 peak, not the fp32 one)."""

    name: str
    factory: EngineFactory
    description: str = ""
    needs: Needs = "onnx"
    precision: Precision = "fp32"


ENGINES: dict[str, Engine] = {}


def register_engine(
    name: str,
    factory: EngineFactory,
    *,
    description: str = "",
    needs: Needs = "onnx",
    precision: Precision = "fp32",
    replace: bool = False,
) -> Engine:
    """Register an engine under ``name`` (see the module docstring); returns it. Re-registering a name needs
    ``replace=True`` (so two lessons cannot silently overwrite each other's engines). ``precision="int8"`` for
    an engine whose arithmetic is 8-bit integer: its ``pct_of_peak`` compares with an int8 peak."""
    if needs not in ("onnx", "torch", "keras"):
        raise ValueError(f"needs must be 'onnx', 'torch' or 'keras', got {needs!r}")
    if precision not in ("fp32", "int8"):
        raise ValueError(f"precision must be 'fp32' or 'int8', got {precision!r}")
    if name in ENGINES and not replace:
        raise ValueError(f"an engine named '{name}' is already registered; pass replace=True to replace it")
    engine = Engine(name, factory, description, needs, precision)
    ENGINES[name] = engine
    return engine


def get_engine(name: str) -> Engine:
    """The registered engine ``name``; :class:`UnknownEngineError` lists the registered ones otherwise."""
    try:
        return ENGINES[name]
    except KeyError:
        raise UnknownEngineError(f"No engine named '{name}'. Registered: {', '.join(ENGINES)}.") from None


def ort_session_options(level: str = "ORT_ENABLE_ALL", threads: int = 1) -> ort.SessionOptions:
    """``onnxruntime.SessionOptions`` for timing: a graph optimization level (ONNX Runtime's name,
    ``"ORT_DISABLE_ALL"`` ... ``"ORT_ENABLE_ALL"``), ``threads`` intra-op threads, one inter-op thread and a quiet
    log (:func:`course_utils.runtime.sessions.session_options`)."""
    # The "hardware-specific model" warning belongs to saving, not timing: log errors only.
    from course_utils.runtime.sessions import session_options

    return session_options(level, threads, inter_op_threads=1, log_severity=3)


def _ort_factory(level: str) -> EngineFactory:
    def make(target: BenchTarget, threads: int) -> Prepared:
        from course_utils.runtime.sessions import create_session

        session = create_session(target.onnx_path, ort_session_options(level, threads))
        feed = dict(target.feed)
        return Prepared(lambda: session.run(None, feed))

    return make


def _torch_eager(target: BenchTarget, threads: int) -> Prepared:
    import torch

    module = target.framework.eval()
    x = torch.from_numpy(np.ascontiguousarray(target.framework_input))
    guard = torch_threads(threads)
    guard.__enter__()

    def run() -> object:
        with torch.inference_mode():
            return module(x)

    return Prepared(run, close=lambda: guard.__exit__(None, None, None))


def _tf_function(target: BenchTarget, threads: int) -> Prepared:
    """``target.framework`` (a Keras model, or the path of a ``.keras`` file) called inside a ``tf.function``, in
    a child process with ``threads`` intra-op threads (:class:`course_utils.bench.tf_engine.TFFunctionProcess`)."""
    from course_utils.bench.tf_engine import TFFunctionProcess  # TensorFlow runs in a child process

    if target.framework_input is None:
        raise ValueError(f"{target.name} has no Keras model to run: the tf-function engine needs one.")
    child = TFFunctionProcess(target.framework, target.framework_input, threads)
    return Prepared(child.run, extra=dict(child.extra), close=child.close, measure=child.measure)


def _onnx_reference(target: BenchTarget, threads: int) -> Prepared:
    from onnx.reference import ReferenceEvaluator

    evaluator = ReferenceEvaluator(str(target.onnx_path))
    feed = dict(target.feed)
    return Prepared(lambda: evaluator.run(None, feed))


for _level in ("all", "layout", "extended", "basic", "disable"):
    register_engine(
        f"ort-{_level}", _ort_factory(LEVELS[_level]), description=f"ONNX Runtime, CPU, {LEVELS[_level]}", needs="onnx"
    )
register_engine("torch-eager", _torch_eager, description="PyTorch eager, inference_mode", needs="torch")
register_engine("tf-function", _tf_function, description="Keras model in a tf.function", needs="keras")
register_engine(
    "onnx-reference", _onnx_reference, description="onnx.reference.ReferenceEvaluator (numpy)", needs="onnx"
)


def default_engines(target: BenchTarget) -> list[str]:
    """The lesson's comparison for a target: its framework baseline (if any), ORT without and with optimizations."""
    baseline = {"torch": ["torch-eager"], "keras": ["tf-function"], "onnx": []}[target.framework_kind]
    return [*baseline, "ort-disable", "ort-all"]
