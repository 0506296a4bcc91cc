"""This CPU's measured peak, the yardstick for percent-of-peak: the best of large matrix products run by every
installed GEMM (numpy's BLAS, PyTorch's, ONNX Runtime's own ``MatMul``), on the thread count the rows use;
and an int8 peak (ONNX Runtime's ``MatMulInteger``) for int8 engines. Cached per machine and library versions."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from course_utils.bench.harness import measure
from course_utils.machine import cpu_model, library_versions, machine_load, physical_cores
from course_utils.paths import atomic_output, build_lock

__all__ = ["PEAK_SIZES", "Peak", "Precision", "measure_peak", "measure_peak_gflops", "peak_cache_path", "torch_threads"]

#: The arithmetic a peak (or an engine) is measured in.
Precision = Literal["fp32", "int8"]
#: Matrix sizes the peak is measured at: large enough that the product, not the call, takes the time (a 1024
#: product is 2.1 GFLOP, about 10 ms at 200 GFLOP/s), small enough for a few runs in a fraction of a second.
PEAK_SIZES: tuple[int, ...] = (1024, 1536)
#: A cached peak measured at a load per CPU above this is measured again (and the better of the two kept).
_BUSY_LOAD = 1.25

# A GEMM maker: (n, threads) -> a context manager giving a zero-argument product of two n x n matrices.
GemmMaker = Callable[[int, int], "contextlib.AbstractContextManager[Callable[[], object]]"]


@dataclass(frozen=True)
class Peak:
    """A measured peak: ``value`` (GFLOP/s for fp32, GOP/s for int8) on ``threads`` threads, the best of
    ``by_gemm`` (``{"onnxruntime MatMul n=2048": 201.3, ...}``, each GEMM's best run), ``best`` (the GEMM that
    reached it), the machine's load per CPU when measured, and whether it came from the cache."""

    value: float
    threads: int
    precision: Precision
    by_gemm: Mapping[str, float] = field(default_factory=dict)
    best: str = ""
    load_per_core: float | None = None
    cached: bool = False

    def __str__(self) -> str:
        unit = "GFLOP/s fp32" if self.precision == "fp32" else "GOP/s int8"
        gemms = ", ".join(f"{name} {value:.1f}" for name, value in self.by_gemm.items())
        load = "" if self.load_per_core is None else f", machine load {self.load_per_core:.2f} per CPU"
        source = " (cached)" if self.cached else ""
        return f"peak {self.value:.1f} {unit} on {self.threads} thread(s){source}: best of {gemms}{load}"


class torch_threads:
    """Set torch's intra-op thread count for a block, then restore it."""

    def __init__(self, threads: int | None) -> None:
        self.threads = threads
        self.before = 0

    def __enter__(self) -> None:
        import torch

        self.before = torch.get_num_threads()
        if self.threads:
            torch.set_num_threads(self.threads)

    def __exit__(self, *exc: object) -> None:
        import torch

        torch.set_num_threads(self.before)


def _matrices(n: int, dtype: Any) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    if dtype == np.float32:
        return rng.standard_normal((n, n), dtype=np.float32), rng.standard_normal((n, n), dtype=np.float32)
    return rng.integers(0, 256, (n, n), dtype=np.uint8), rng.integers(-128, 128, (n, n), dtype=np.int8)


@contextlib.contextmanager
def _numpy_gemm(n: int, threads: int) -> Iterator[Callable[[], object]]:
    from threadpoolctl import threadpool_limits  # numpy's BLAS threads (installed with scikit-learn)

    a, b = _matrices(n, np.float32)
    out = np.empty((n, n), dtype=np.float32)
    with threadpool_limits(limits=threads, user_api="blas"):
        yield lambda: np.matmul(a, b, out=out)


@contextlib.contextmanager
def _torch_gemm(n: int, threads: int) -> Iterator[Callable[[], object]]:
    import torch

    a, b = (torch.from_numpy(m) for m in _matrices(n, np.float32))
    out = torch.empty((n, n))
    with torch_threads(threads):
        yield lambda: torch.mm(a, b, out=out)


def _ort_gemm(op: str) -> GemmMaker:
    """ONNX Runtime running one ``op`` node (``MatMul`` fp32, ``MatMulInteger`` u8 x s8), B a constant as in a
    model's weights (so ORT pre-packs it, as it does for real layers)."""

    @contextlib.contextmanager
    def make(n: int, threads: int) -> Iterator[Callable[[], object]]:
        import onnx
        from onnx import TensorProto, helper, numpy_helper

        a, b = _matrices(n, np.float32 if op == "MatMul" else np.uint8)
        in_type = TensorProto.FLOAT if op == "MatMul" else TensorProto.UINT8
        out_type = TensorProto.FLOAT if op == "MatMul" else TensorProto.INT32
        graph = helper.make_graph(
            [helper.make_node(op, ["a", "b"], ["y"])],
            f"peak_{op}",
            [helper.make_tensor_value_info("a", in_type, [n, n])],
            [helper.make_tensor_value_info("y", out_type, [n, n])],
            initializer=[numpy_helper.from_array(b, "b")],
        )
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
        onnx.checker.check_model(model)
        from course_utils.runtime.sessions import create_session, session_options

        options = session_options("ORT_ENABLE_ALL", threads, inter_op_threads=1)
        session = create_session(model.SerializeToString(), options)
        feed = {"a": a}
        yield lambda: session.run(None, feed)

    return make


def _gemms(precision: Precision) -> dict[str, GemmMaker]:
    """The installed GEMMs for ``precision``, by name: a library that does not import is left out."""
    import importlib.util

    if precision == "int8":
        return {"onnxruntime MatMulInteger": _ort_gemm("MatMulInteger")}
    found: dict[str, GemmMaker] = {}
    if importlib.util.find_spec("threadpoolctl") is not None:
        found["numpy"] = _numpy_gemm
    if importlib.util.find_spec("torch") is not None:
        found["torch"] = _torch_gemm
    found["onnxruntime MatMul"] = _ort_gemm("MatMul")
    return found


def _best_rate(make: GemmMaker, n: int, threads: int, budget_s: float) -> float:
    """Operations per second (in units of 1e9) of the fastest ``n x n`` product (2n^3 operations) in ``budget_s``."""
    with make(n, threads) as run:
        timings = measure(run, budget_s=budget_s, warmup_runs=1, warmup_s=0.0, min_runs=2, max_runs=10_000)
    return 2.0 * n**3 / (timings.stats.min_ms / 1e3) / 1e9


def peak_cache_path() -> Path:
    """Where measured peaks are kept: ``artifacts/bench/peak.json`` (git-ignored; delete it to measure afresh)."""
    from course_utils.paths import artifact_path

    return artifact_path("peak.json", lesson="bench")


def _cache_key(precision: Precision, threads: int, sizes: Sequence[int]) -> str:
    versions = library_versions(("numpy", "onnxruntime", "torch", "threadpoolctl"))
    libraries = ",".join(f"{name}={version}" for name, version in versions.items())
    return f"{precision}|threads={threads}|sizes={','.join(map(str, sizes))}|cpu={cpu_model()}|{libraries}"


def _read_cache(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def measure_peak(
    threads: int = 1,
    *,
    precision: Precision = "fp32",
    sizes: Sequence[int] = PEAK_SIZES,
    budget_s: float = 0.2,
    cache: bool | str | Path = True,
    refresh: bool = False,
) -> Peak:
    """This CPU's measured peak on ``threads`` threads: the best run of ``n x n`` products (``n`` in ``sizes``)
    by every installed GEMM (numpy's BLAS, PyTorch's, ONNX Runtime's ``MatMul``; for ``precision="int8"``
    ONNX Runtime's ``MatMulInteger``, unsigned x signed 8-bit, as int8 models run), ``budget_s`` each.

    * The best run, not the median: peak means what the hardware can do at all. Several GEMMs, because a
      library's kernel may miss this CPU's best instructions; large products, because a small one measures the
      call as much as the arithmetic.
    * Measured on ``threads`` threads; and, since on a busy machine those threads wait for each other, also as
      one thread's best times the physical cores those threads can use (:func:`course_utils.machine.
      physical_cores`): never times the threads, as two threads on the two hardware threads of one core (SMT)
      share its floating-point units, and never above a container's CPU quota. The larger counts.
    * Cached in ``artifacts/bench/peak.json`` per (precision, threads, sizes, CPU model, library versions), so a
      second lesson does not pay for it again: ``cache=False`` skips the cache, a path uses another file,
      ``refresh=True`` measures again. A cached peak measured on a busy machine is measured again, and the
      better of the two kept.
    """
    if threads < 1:
        raise ValueError(f"threads must be at least 1, got {threads}")
    if not sizes or any(n < 1 for n in sizes):
        raise ValueError(f"sizes must be positive matrix sizes, got {list(sizes)}")
    path = None if cache is False else (peak_cache_path() if cache is True else Path(cache))
    key = _cache_key(precision, threads, sizes)
    entries = _read_cache(path) if path is not None else {}
    old = entries.get(key)
    if isinstance(old, dict) and not refresh:
        old_load = old.get("load_per_core")
        if old_load is None or old_load <= _BUSY_LOAD:
            return Peak(
                float(old["value"]), threads, precision, dict(old["by_gemm"]), old["best"], old_load, cached=True
            )
    load_before = machine_load()
    by_gemm: dict[str, float] = {}
    for name, make in _gemms(precision).items():
        for n in sizes:
            try:
                by_gemm[f"{name} n={n}"] = round(_best_rate(make, n, threads, budget_s), 1)
            except ImportError:  # a library that is present but does not import
                break
    if threads > 1:  # a busy machine's threads wait for each other: one thread's best on each core it may use
        single = measure_peak(1, precision=precision, sizes=sizes, budget_s=budget_s, cache=cache, refresh=refresh)
        cores = min(float(threads), physical_cores())
        if cores > 1:
            by_gemm[f"{cores:g} cores x 1 thread ({single.best})"] = round(cores * single.value, 1)
    load_after = machine_load()
    loads = [x for x in (load_before, load_after) if x is not None]
    load = round(max(loads), 2) if loads else None
    if isinstance(old, dict) and not refresh:  # keep the better of a busy cached run and this one
        for name, value in old.get("by_gemm", {}).items():
            by_gemm[name] = max(by_gemm.get(name, 0.0), float(value))
        if load is not None and isinstance(old.get("load_per_core"), int | float):
            load = min(load, float(old["load_per_core"]))  # the quieter of the two runs it rests on
    if not by_gemm:
        raise RuntimeError(f"no {precision} GEMM could run to measure the peak")
    best = max(by_gemm, key=by_gemm.__getitem__)
    peak = Peak(by_gemm[best], threads, precision, by_gemm, best, load)
    if path is not None:
        entry = {
            "value": peak.value,
            "by_gemm": by_gemm,
            "best": best,
            "load_per_core": load,
            "measured": time.strftime("%Y-%m-%dT%H:%M:%S"),
        }
        # Another process (a notebook, a parallel test worker) may have added its own entries meanwhile: read
        # again under the lock, add this one, replace the file in one step. A read-only checkout still gets its
        # peak, just not cached.
        with contextlib.suppress(OSError), build_lock(path), atomic_output(path) as partial:
            entries = {**_read_cache(path), key: entry}
            partial.write_text(json.dumps(entries, indent=2) + "\n", encoding="utf-8")
    return peak


def measure_peak_gflops(
    threads: int = 1, *, sizes: Sequence[int] = PEAK_SIZES, budget_s: float = 0.2, cache: bool | str | Path = True
) -> float:
    """This CPU's measured fp32 peak on ``threads`` threads, in GFLOP/s: :func:`measure_peak`'s value (the best
    of every installed GEMM on large products, measured on those threads, cached)."""
    return measure_peak(threads, sizes=sizes, budget_s=budget_s, cache=cache).value
