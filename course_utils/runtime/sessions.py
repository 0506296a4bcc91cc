"""One vocabulary for ONNX Runtime sessions: the options, and the one place the library creates a session.

* :func:`session_options` builds ``onnxruntime.SessionOptions`` from a graph optimization level, threads,
  spinning, profiling and extra config entries. Levels are ONNX Runtime's own names, the ones the lessons show:
  ``ORT_DISABLE_ALL``, ``ORT_ENABLE_BASIC``, ``ORT_ENABLE_EXTENDED``, ``ORT_ENABLE_LAYOUT``, ``ORT_ENABLE_ALL``
  (:data:`LEVELS`, read from ``onnxruntime.GraphOptimizationLevel``).
* :func:`create_session` is where every session of ``course_utils`` is constructed
  (``onnxruntime.InferenceSession(model, sess_options=..., providers=...)``), so a change of how sessions are
  made (a provider default, a load-time error's translation) has one home. Learner-facing checks and translated
  errors are in :func:`course_utils.runtime.make_session`, which builds on it.

Imports nothing else from ``course_utils``: every part may use it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import onnxruntime as ort

__all__ = ["CPU", "LEVELS", "SPINNING", "create_session", "level_value", "session_options", "set_attributes"]

CPU = "CPUExecutionProvider"
#: ONNX Runtime's graph optimization levels, by the names learners see (``ort.GraphOptimizationLevel.ORT_*``).
LEVELS: tuple[str, ...] = tuple(ort.GraphOptimizationLevel.__members__)
#: The config entry that lets idle intra-op threads spin (``"1"``, ORT's default) or sleep (``"0"``).
SPINNING = "session.intra_op.allow_spinning"


def level_value(level: str | ort.GraphOptimizationLevel) -> ort.GraphOptimizationLevel:
    """The ``GraphOptimizationLevel`` called ``level`` (``"ORT_ENABLE_BASIC"``); ``ValueError`` lists the names."""
    if isinstance(level, ort.GraphOptimizationLevel):
        return level
    members = ort.GraphOptimizationLevel.__members__
    if level not in members:
        raise ValueError(f"Unknown graph optimization level '{level}'. Use one of: {', '.join(LEVELS)}.")
    return members[level]


def session_options(
    level: str | ort.GraphOptimizationLevel = "ORT_ENABLE_ALL",
    threads: int = 0,
    *,
    spinning: bool | None = None,
    profiling: str | os.PathLike[str] | None = None,
    config: Mapping[str, str] | None = None,
    inter_op_threads: int | None = None,
    log_severity: int | None = None,
    optimized_model_path: str | os.PathLike[str] | None = None,
    **attributes: Any,
) -> ort.SessionOptions:
    """``onnxruntime.SessionOptions`` with:

    ``level`` the graph optimization level (one of :data:`LEVELS`); ``threads`` ``intra_op_num_threads``
    (0: ORT's default, one per core); ``spinning`` the ``session.intra_op.allow_spinning`` entry (None: ORT's
    default); ``profiling`` a file prefix: profiling on, the JSON written there by ``session.end_profiling()``;
    ``config`` extra ``add_session_config_entry`` pairs; ``inter_op_threads``, ``log_severity``
    (``log_severity_level``: 3 errors only) and ``optimized_model_path`` (``optimized_model_filepath``) when
    given; ``attributes`` any other ``SessionOptions`` attribute by its name.

    Raises ``ValueError`` for an unknown level or a negative thread count, ``TypeError`` for an attribute
    ``SessionOptions`` does not have (with the ones it has)."""
    if threads < 0 or (inter_op_threads is not None and inter_op_threads < 0):
        raise ValueError(f"thread counts must be 0 (ORT's default) or more, got {threads}")
    options = ort.SessionOptions()
    options.graph_optimization_level = level_value(level)
    options.intra_op_num_threads = threads
    if inter_op_threads is not None:
        options.inter_op_num_threads = inter_op_threads
    if log_severity is not None:
        options.log_severity_level = log_severity
    if optimized_model_path is not None:
        options.optimized_model_filepath = str(optimized_model_path)
    if profiling is not None:
        options.enable_profiling = True
        options.profile_file_prefix = str(profiling)
    set_attributes(options, attributes)
    entries = dict(config or {})
    if spinning is not None:
        entries[SPINNING] = "1" if spinning else "0"
    for key, value in entries.items():
        options.add_session_config_entry(key, str(value))
    return options


def set_attributes(options: ort.SessionOptions, attributes: Mapping[str, Any]) -> ort.SessionOptions:
    """Set ``SessionOptions`` attributes by name (``{"enable_mem_pattern": False}``); returns ``options``.
    ``TypeError`` names an attribute ``SessionOptions`` does not have, with the ones it has."""
    for key, value in attributes.items():
        if key.startswith("_") or not hasattr(options, key) or callable(getattr(options, key)):
            known = sorted(a for a in dir(options) if not a.startswith("_") and not callable(getattr(options, a)))
            raise TypeError(f"Unknown session option '{key}'. onnxruntime.SessionOptions has: {', '.join(known)}.")
        setattr(options, key, value)
    return options


def create_session(
    model: str | os.PathLike[str] | bytes,
    options: ort.SessionOptions | None = None,
    providers: Sequence[str | tuple[str, Mapping[str, Any]]] = (CPU,),
) -> ort.InferenceSession:
    """``onnxruntime.InferenceSession(model, sess_options=options, providers=providers)``: a path (ONNX Runtime
    finds external weights beside it) or the serialized bytes; the CPU provider unless told otherwise."""
    source = model if isinstance(model, bytes) else str(model)
    return ort.InferenceSession(source, sess_options=options or ort.SessionOptions(), providers=list(providers))
