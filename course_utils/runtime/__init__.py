"""Running models with ONNX Runtime: sessions with input checks and clear provider errors, the execution
providers, and reading profiles.

* :mod:`~course_utils.runtime.sessions`   one vocabulary for sessions: ``session_options`` (ONNX Runtime's level
  names ``ORT_DISABLE_ALL`` ... ``ORT_ENABLE_ALL``, threads, spinning, profiling, config entries) and
  ``create_session``, the one place the library constructs an ``InferenceSession``
* :mod:`~course_utils.runtime.feeds`      ``example_feed``: example inputs for any model, one rule for symbolic dims
* :mod:`~course_utils.runtime.run`        ``run_onnx``, ``make_session``: run a model with clear errors
* :mod:`~course_utils.runtime.provider_data`  the course's table of execution providers (data only)
* :mod:`~course_utils.runtime.providers`  the execution-provider table and ``switch_provider``
  (``python -m course_utils.providers``)
* :mod:`~course_utils.runtime.profiling`  read ONNX Runtime profiles: time per op type, slowest nodes

``from course_utils.runtime import run_onnx`` keeps working: this package re-exports ``run``'s public names.

May import: :mod:`course_utils.errors`, :mod:`course_utils.paths`, :mod:`course_utils.onnxfile`,
:mod:`course_utils.versions` (``versions.limits``), :mod:`course_utils.models` (the registry) and the timing
harness :mod:`course_utils.bench.harness` (``switch_provider`` times its runs with it). ``sessions`` imports no
other part, so every part (``versions``, ``bench``, ``quantize``) creates its sessions there.
"""

from __future__ import annotations

# The old module's public names, re-exported; ``X as X`` marks those it did not list in __all__.
from course_utils.runtime.run import ProviderSpec as ProviderSpec
from course_utils.runtime.run import (
    RuntimeLimits,
    available_providers,
    clear_session_cache,
    make_session,
    numpy_dtype,
    provider_problem,
    run_onnx,
    runtime_limits,
    to_numpy,
)
from course_utils.runtime.run import SessionSource as SessionSource

__all__ = [
    "RuntimeLimits",
    "available_providers",
    "clear_session_cache",
    "make_session",
    "numpy_dtype",
    "provider_problem",
    "run_onnx",
    "runtime_limits",
    "to_numpy",
]
