"""This CPU's measured peak (a large float32 matmul), the yardstick for percent-of-peak."""

from __future__ import annotations

import numpy as np

from course_utils.bench.harness import measure

__all__ = ["measure_peak_gflops", "torch_threads"]


def _best_matmul_gflops(n: int, threads: int, budget_s: float) -> float:
    """GFLOP/s of the fastest ``n x n @ n x n`` product (2n^3 FLOPs) on ``threads`` threads within ``budget_s``."""
    a = np.random.default_rng(0).standard_normal((n, n)).astype(np.float32)
    b = np.random.default_rng(1).standard_normal((n, n)).astype(np.float32)
    try:
        import torch
    except ImportError:  # numpy's BLAS picks its own thread count
        timings = measure(lambda: a @ b, budget_s=budget_s, warmup_runs=2, min_runs=3)
    else:
        ta, tb = torch.from_numpy(a), torch.from_numpy(b)
        with torch_threads(threads):
            timings = measure(lambda: torch.mm(ta, tb), budget_s=budget_s, warmup_runs=2, min_runs=3)
    return 2.0 * n**3 / (timings.stats.min_ms / 1e3) / 1e9


def measure_peak_gflops(threads: int = 1, *, n: int = 512, budget_s: float = 0.5) -> float:
    """This CPU's measured fp32 peak for ``threads`` cores, in GFLOP/s, from matrix products (PyTorch's matmul,
    oneDNN/MKL, the fastest GEMM installed; numpy's without torch).

    * Per-core peak: the fastest ``n x n`` product on one thread. ``n=512`` stays in cache and takes about a
      millisecond, so among hundreds of runs some are never interrupted by another program; the best run, not
      the median, because peak means what the hardware can do at all.
    * For ``threads > 1``: the larger of ``threads x`` the per-core peak (the floating-point units are per core)
      and a direct measurement on ``threads`` threads (``2n``). On a quiet machine they agree; on a busy one
      the direct measurement waits for descheduled threads and says more about the other programs than the CPU.
    """
    if threads < 1:
        raise ValueError(f"threads must be at least 1, got {threads}")
    per_core = _best_matmul_gflops(n, 1, budget_s)
    if threads == 1:
        return per_core
    return max(threads * per_core, _best_matmul_gflops(2 * n, threads, budget_s))


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
