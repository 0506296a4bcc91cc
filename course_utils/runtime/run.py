"""Running ONNX models with ONNX Runtime, with the learner's mistakes caught before they become C++ errors.

* :func:`run_onnx` runs a model on inputs given as a dict, a list, or a single array, and returns
  ``{output name: array}``. Inputs are compared with what the session declares first, so a wrong name,
  rank, fixed dimension or dtype gives one line saying what was expected, what was given, and the fix.
* :func:`make_session` builds an ``onnxruntime.InferenceSession`` with named session options
  (``graph_optimization_level="ORT_DISABLE_ALL"``, ``intra_op_num_threads=1``, ...).
* :func:`available_providers` says which execution providers this installation has; :func:`runtime_limits`
  (which IR version and opsets it reads) lives in :mod:`course_utils.versions` and is importable from here too.
* :func:`provider_problem` says why a provider cannot be used here, with the install command from
  :data:`course_utils.providers.PROVIDERS` (the course's one table of execution providers).

Errors raised (all from :mod:`course_utils.errors`): :class:`InputMismatchError`,
:class:`ProviderUnavailableError`, :class:`UnsupportedOpsetError` (and its subclass
:class:`UnsupportedIRVersionError`), plus the loading errors of :func:`course_utils.onnxfile.modelio.load_model`.
"""

from __future__ import annotations

import difflib
import hashlib
import os
import re
import warnings
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TypeAlias

import numpy as np
import onnx
import onnxruntime as ort

from course_utils.errors import (
    InputMismatchError,
    ProviderUnavailableError,
    UnsupportedIRVersionError,
    UnsupportedOpsetError,
)
from course_utils.onnxfile.graph import shape_text
from course_utils.onnxfile.modelio import ModelSource, load_model, require_embedded_weights
from course_utils.runtime.provider_data import provider_info
from course_utils.runtime.sessions import create_session, set_attributes
from course_utils.runtime.sessions import session_options as build_session_options
from course_utils.versions.limits import (  # re-exported: their home is course_utils.versions
    RuntimeLimits,
    runtime_limits,
)

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

SessionSource: TypeAlias = ModelSource | ort.InferenceSession
ProviderSpec = str | tuple[str, dict[str, Any]]

# ONNX Runtime's type strings -> numpy dtypes (bfloat16 and the float8 types have no numpy dtype).
_ORT_TO_NUMPY: dict[str, np.dtype[Any]] = {
    "tensor(float)": np.dtype(np.float32),
    "tensor(double)": np.dtype(np.float64),
    "tensor(float16)": np.dtype(np.float16),
    "tensor(int8)": np.dtype(np.int8),
    "tensor(int16)": np.dtype(np.int16),
    "tensor(int32)": np.dtype(np.int32),
    "tensor(int64)": np.dtype(np.int64),
    "tensor(uint8)": np.dtype(np.uint8),
    "tensor(uint16)": np.dtype(np.uint16),
    "tensor(uint32)": np.dtype(np.uint32),
    "tensor(uint64)": np.dtype(np.uint64),
    "tensor(bool)": np.dtype(np.bool_),
    "tensor(complex64)": np.dtype(np.complex64),
    "tensor(complex128)": np.dtype(np.complex128),
}

# --------------------------------------------------------------------------------------------- arrays


def to_numpy(value: Any) -> np.ndarray:
    """Any array-like (numpy, PyTorch tensor, TensorFlow tensor, list, scalar) as a numpy array.

    PyTorch tensors are detached and moved to the CPU first; ``bfloat16`` tensors, which numpy cannot hold,
    become ``float32``.
    """
    if isinstance(value, np.ndarray):
        return value
    module = type(value).__module__ or ""
    if module.startswith("torch") and hasattr(value, "detach"):
        tensor = value.detach().cpu()
        if str(tensor.dtype) == "torch.bfloat16":
            tensor = tensor.float()
        array: np.ndarray = tensor.resolve_conj().numpy()
        return array
    if hasattr(value, "numpy") and callable(value.numpy):  # TensorFlow eager tensors, Keras variables
        return np.asarray(value.numpy())
    return np.asarray(value)


def numpy_dtype(ort_type: str) -> np.dtype[Any] | None:
    """The numpy dtype of an ONNX Runtime type string (``"tensor(float)"`` -> ``float32``); None if it has none."""
    return _ORT_TO_NUMPY.get(ort_type)


def _dtype_name(ort_type: str) -> str:
    dtype = numpy_dtype(ort_type)
    if dtype is not None:
        return dtype.name
    match = re.fullmatch(r"tensor\((\w+)\)", ort_type)
    return match.group(1) if match else ort_type


# ------------------------------------------------------------------------------------------ providers


def available_providers() -> list[str]:
    """Execution providers this onnxruntime installation can use, in ONNX Runtime's priority order."""
    return list(ort.get_available_providers())


def _provider_name(spec: ProviderSpec) -> str:
    return spec if isinstance(spec, str) else spec[0]


def _provider_list(providers: Sequence[ProviderSpec] | ProviderSpec | None) -> list[ProviderSpec] | None:
    """``providers`` as a list: one name (``"CPUExecutionProvider"``) or one ``(name, options)`` pair is one
    provider, not a sequence to read letter by letter."""
    if providers is None:
        return None
    if isinstance(providers, str):
        return [providers]
    if isinstance(providers, tuple) and len(providers) == 2 and isinstance(providers[1], Mapping):
        return [providers]
    return list(providers)


def provider_problem(name: str) -> str | None:
    """Why ``name`` cannot be used by this onnxruntime installation, in one line with the fix; None if it can.

    A provider ORT knows but this package lacks gets its install command (from
    :data:`course_utils.providers.PROVIDERS`); a misspelt name gets the closest real one.
    """
    available = available_providers()
    if name in available:
        return None
    have = ", ".join(available)
    if name in ort.get_all_providers():
        info = provider_info(name)
        source = info.install if info is not None else "an onnxruntime build that includes it"
        return (
            f"'{name}' is not available in this onnxruntime {ort.__version__} (available: {have}). To get it: {source}."
        )
    lowered = {p.lower(): p for p in ort.get_all_providers()}
    guesses = [lowered[g] for g in difflib.get_close_matches(name.lower(), lowered, n=1, cutoff=0.4)]
    guesses += [p for p in ort.get_all_providers() if name.lower() and p.lower().startswith(name.lower())]
    hint = f" Did you mean '{guesses[0]}'?" if guesses else ""
    return f"'{name}' is not an ONNX Runtime execution provider name.{hint} Available here: {have}."


def _check_providers(providers: Sequence[ProviderSpec]) -> None:
    for spec in providers:
        problem = provider_problem(_provider_name(spec))
        if problem is not None:
            raise ProviderUnavailableError(problem)


# ------------------------------------------------------------------------------------------- sessions


def _translate_load_error(error: Exception) -> Exception | None:
    """A one-line :class:`UnsupportedOpsetError` for the version errors ONNX Runtime raises at load time."""
    text = str(error)
    version = f"onnxruntime {ort.__version__}"
    match = re.search(r"Unsupported model IR version: (\d+), max supported IR version: (\d+)", text)
    if match:
        got, top = match.groups()
        return UnsupportedIRVersionError(
            f"The model has IR version {got} but {version} reads up to IR version {top}: save/export it with "
            f"an onnx release that writes IR {top} or older, or upgrade onnxruntime (pip install -U onnxruntime)."
        )
    match = re.search(r"Opset (\d+) is under development.*?domain (\S+) is till opset (\d+)", text, re.DOTALL)
    if match:
        got, domain, top = match.groups()
        return UnsupportedOpsetError(
            f"The model imports opset {got} of '{domain}' but {version} supports up to opset {top}: "
            f"export at an older opset (torch.onnx.export(..., opset_version={top})) or upgrade onnxruntime."
        )
    match = re.search(r"Could not find an implementation for (\w+)\((\d+)\) node", text)
    if match:
        op, op_version = match.groups()
        return UnsupportedOpsetError(
            f"{version} has no kernel for {op} version {op_version} on the chosen execution provider: "
            "export at an older opset, or use a provider/runtime version that implements it."
        )
    return None


def make_session(
    model_or_path: ModelSource,
    providers: Sequence[ProviderSpec] | ProviderSpec | None = None,
    *,
    config_entries: Mapping[str, str] | None = None,
    allow_fallback: bool = False,
    **session_options: Any,
) -> ort.InferenceSession:
    """A new ``onnxruntime.InferenceSession`` for a model given as a path, bytes or ``onnx.ModelProto``.

    ``providers`` defaults to ``["CPUExecutionProvider"]`` so results are the same on every machine; pass e.g.
    ``["CUDAExecutionProvider", "CPUExecutionProvider"]`` to use a GPU (a single name such as
    ``"CPUExecutionProvider"``, or one ``(name, options)`` pair, means that one provider). ``session_options`` set attributes of
    ``onnxruntime.SessionOptions`` (built by :func:`course_utils.runtime.sessions.session_options`);
    ``graph_optimization_level`` also accepts ONNX Runtime's level names such as ``"ORT_DISABLE_ALL"``.
    ``config_entries`` are passed to ``SessionOptions.add_session_config_entry``
    (e.g. ``{"session.intra_op.allow_spinning": "0"}``).

    ``allow_fallback=True`` does what ``ort.InferenceSession`` does: a provider that is missing or fails to load
    is skipped (ONNX Runtime warns) and the session runs on the rest; compare ``session.get_providers()`` with
    what you asked for (:mod:`course_utils.providers` does). Without it, such a provider raises.

    Raises :class:`ProviderUnavailableError` for a provider this installation lacks (or that failed to load),
    :class:`UnsupportedOpsetError` for a model newer than the runtime (:class:`UnsupportedIRVersionError` when
    it is the IR version), and the errors of
    :func:`course_utils.onnxfile.modelio.load_model` for a missing or broken file.
    """
    providers = _provider_list(providers) or ["CPUExecutionProvider"]
    if not allow_fallback:
        _check_providers(providers)
    attributes = dict(session_options)
    options = build_session_options(
        attributes.pop("graph_optimization_level", "ORT_ENABLE_ALL"),
        attributes.pop("intra_op_num_threads", 0),
        config=config_entries,
    )
    set_attributes(options, attributes)
    if isinstance(model_or_path, str | os.PathLike):
        load_model(model_or_path, load_external_data=False)  # clear errors for missing/broken files
        source: str | bytes = str(model_or_path)  # by path, so ONNX Runtime finds external data beside it
    elif isinstance(model_or_path, bytes | bytearray):
        require_embedded_weights(load_model(bytes(model_or_path)), model_or_path)
        source = bytes(model_or_path)
    elif isinstance(model_or_path, onnx.ModelProto):
        require_embedded_weights(model_or_path, model_or_path)
        source = model_or_path.SerializeToString()
    else:
        load_model(model_or_path)  # raises its TypeError with the fix
        raise AssertionError("unreachable")
    try:
        with warnings.catch_warnings():
            if not allow_fallback:
                # We check the providers ourselves and raise; ORT's fallback warning would only repeat it.
                warnings.simplefilter("ignore", UserWarning)
            session = create_session(source, options, providers)
    except Exception as error:  # ORT raises its own pybind types (Fail, InvalidGraph, ...)
        translated = _translate_load_error(error)
        if translated is not None:
            raise translated from None
        raise
    missing = [_provider_name(p) for p in providers if _provider_name(p) not in session.get_providers()]
    if missing and not allow_fallback:
        # get_available_providers() lists what the package was built with, not what can load here.
        fix = (
            "check that TensorRT's libraries (libnvinfer) are installed and match this onnxruntime build"
            if missing == ["TensorrtExecutionProvider"]
            else "check that the CUDA/cuDNN major versions match this onnxruntime build, or call "
            "onnxruntime.preload_dlls() before creating the session"
        )
        raise ProviderUnavailableError(
            f"{', '.join(missing)} is built into onnxruntime but did not load (the session fell back to "
            f"{', '.join(session.get_providers())}): {fix}."
        )
    return session


_CACHE_SIZE = 8
_SESSION_CACHE: OrderedDict[tuple[Any, ...], ort.InferenceSession] = OrderedDict()


def clear_session_cache() -> None:
    """Forget the sessions :func:`run_onnx` keeps for reuse."""
    _SESSION_CACHE.clear()


def _cache_key(model_or_path: ModelSource, providers: Sequence[ProviderSpec] | None) -> tuple[Any, ...] | None:
    provider_key = None if providers is None else repr(list(providers))
    if isinstance(model_or_path, str | os.PathLike):
        path = Path(model_or_path)
        if not path.is_file():
            return None  # make_session raises the clear error
        stat = path.stat()  # a re-exported file has a new mtime/size, so a stale session is never reused
        return ("path", str(path.resolve()), stat.st_mtime_ns, stat.st_size, provider_key)
    if isinstance(model_or_path, bytes | bytearray):
        return ("bytes", hashlib.sha256(model_or_path).hexdigest(), provider_key)
    if isinstance(model_or_path, onnx.ModelProto):
        return ("bytes", hashlib.sha256(model_or_path.SerializeToString()).hexdigest(), provider_key)
    return None


def _session_for(
    model_or_path: SessionSource, providers: Sequence[ProviderSpec] | ProviderSpec | None
) -> ort.InferenceSession:
    providers = _provider_list(providers)
    if isinstance(model_or_path, ort.InferenceSession):
        if providers is not None:
            raise TypeError("Pass providers to make_session(...), not with an existing session.")
        return model_or_path
    key = _cache_key(model_or_path, providers)
    if key is not None and key in _SESSION_CACHE:
        _SESSION_CACHE.move_to_end(key)
        return _SESSION_CACHE[key]
    session = make_session(model_or_path, providers)
    if key is not None:
        _SESSION_CACHE[key] = session
        while len(_SESSION_CACHE) > _CACHE_SIZE:
            _SESSION_CACHE.popitem(last=False)
    return session


# --------------------------------------------------------------------------------------------- inputs


def _describe(arg: Any) -> str:
    return f"'{arg.name}' ({_dtype_name(arg.type)}{'' if arg.shape is None else shape_text(arg.shape)})"


def _var(name: str) -> str:
    return name if name.isidentifier() else "x"


def _is_array_like(value: Any) -> bool:
    """numpy arrays and framework tensors (they carry a shape and a dtype); not Python lists or numbers."""
    return hasattr(value, "shape") and hasattr(value, "dtype")


def _wanted(arg: Any) -> str:
    """How to build the declared input from a list: ``np.asarray(x, dtype=np.float32)``."""
    if arg.type == "tensor(string)":
        return "np.array(x, dtype=object)"
    dtype = numpy_dtype(arg.type)
    return f"np.asarray(x, dtype=np.{dtype.name})" if dtype is not None else "np.asarray(x)"


def _bind_inputs(session: ort.InferenceSession, inputs: Any) -> dict[str, Any]:
    declared = session.get_inputs()
    names = [arg.name for arg in declared]
    listing = ", ".join(_describe(arg) for arg in declared)
    if isinstance(inputs, Mapping):
        given = {str(k): v for k, v in inputs.items()}
        unknown = [k for k in given if k not in names]
        if unknown:
            lowered = {n.lower(): n for n in names}
            close = difflib.get_close_matches(unknown[0].lower(), lowered, n=1)
            hint = f" (did you mean '{lowered[close[0]]}'?)" if close else ""
            raise InputMismatchError(
                f"Unknown input name '{unknown[0]}'{hint}: the model's inputs are {listing}. "
                "Use these names as the dict keys."
            )
        missing = [n for n in names if n not in given]
        if missing:
            raise InputMismatchError(
                f"Missing input '{missing[0]}': the model's inputs are {listing}. Add it to the inputs dict."
            )
        return {n: given[n] for n in names}
    if isinstance(inputs, list | tuple):
        plain = [v for v in inputs if v is not None and (isinstance(v, np.generic) or not _is_array_like(v))]
        if len(names) == 1 and plain and len(plain) == len(inputs):
            # x.tolist() or a hand-written list: a list means "one array per input", so it cannot be the input.
            kind = (
                f"a list of {len(inputs)} numbers"
                if all(np.isscalar(v) for v in inputs)
                else f"a nested Python list ({len(inputs)} item{'s' if len(inputs) != 1 else ''})"
            )
            why = "" if declared[0].type == "tensor(string)" else " (Python numbers would become float64/int64)"
            raise InputMismatchError(
                f"Got {kind} for a model with 1 input {listing}: a list is read as one array per input. "
                f"Pass {_wanted(declared[0])} instead{why}."
            )
        if len(inputs) != len(names):
            raise InputMismatchError(
                f"Got {len(inputs)} input arrays but the model has {len(names)} input(s): {listing}. "
                "Pass one array per input, in this order, or a dict {name: array}."
            )
        return dict(zip(names, inputs, strict=True))
    if len(names) != 1:
        raise InputMismatchError(
            f"Got a single array but the model has {len(names)} inputs: {listing}. "
            "Pass a dict {name: array} or a list in this order."
        )
    return {names[0]: inputs}


def _source(value: Any) -> str:
    """What kind of value the learner passed, to write the fix in its own API."""
    if isinstance(value, np.ndarray | np.generic):
        return "numpy"
    module = type(value).__module__ or ""
    if module.startswith("torch"):
        return "torch"
    if module.startswith(("tensorflow", "keras")):
        return "tensorflow"
    return "python"


def _cast_fix(source: str, var: str, dtype: np.dtype[Any]) -> str:
    name = dtype.name
    if source == "torch":
        if name == "float32":
            return f"{var}.float() (the same as {var}.to(torch.float32))"
        return f"{var}.to(torch.{'bool' if name == 'bool' else name})"
    if source == "tensorflow":
        return f"tf.cast({var}, tf.{name})"
    if source == "python":
        return f"np.asarray({var}, dtype=np.{name})"
    return f"{var}.astype(np.{name})"


# How to add or remove a size-1 dimension, in the learner's own library ({v}: their variable, {a}: the axis).
_RESHAPE_FIXES: dict[str, dict[str, str]] = {
    "torch": {"unsqueeze": "{v}.unsqueeze(0)", "squeeze": "{v}.squeeze({a})"},
    "tensorflow": {"unsqueeze": "tf.expand_dims({v}, 0)", "squeeze": "tf.squeeze({v}, axis={a})"},
    "python": {"unsqueeze": "np.asarray({v})[None]", "squeeze": "np.squeeze(np.asarray({v}), axis={a})"},
    "numpy": {"unsqueeze": "{v}[None] (np.expand_dims({v}, 0))", "squeeze": "np.squeeze({v}, axis={a})"},
}


def _unsqueeze_fix(source: str, var: str) -> str:
    return _RESHAPE_FIXES.get(source, _RESHAPE_FIXES["numpy"])["unsqueeze"].format(v=var)


def _squeeze_fix(source: str, var: str, axis: int) -> str:
    return _RESHAPE_FIXES.get(source, _RESHAPE_FIXES["numpy"])["squeeze"].format(v=var, a=axis)


def _layout_hint(expected: Sequence[Any], got: tuple[int, ...], source: str = "numpy", var: str = "x") -> str:
    fixed = [d if isinstance(d, int) else None for d in expected]
    if len(got) == 4 and len(fixed) == 4:
        for perm, label in (((0, 3, 1, 2), "NHWC -> NCHW"), ((0, 2, 3, 1), "NCHW -> NHWC")):
            moved = tuple(got[i] for i in perm)
            if all(f is None or f == m for f, m in zip(fixed, moved, strict=True)):
                how = {
                    "torch": f"{var}.permute{perm}",
                    "tensorflow": f"tf.transpose({var}, {list(perm)})",
                    "python": f"np.asarray({var}).transpose{perm}",
                }.get(source, f".transpose{perm}")
                return f"looks like the other layout; transpose it ({label}) with {how}"
    return ""


def _check_input(arg: Any, value: Any) -> np.ndarray | Any:
    var = _var(arg.name)
    if value is None:
        wanted = numpy_dtype(arg.type)
        kind = "strings" if arg.type == "tensor(string)" else (wanted.name if wanted is not None else arg.type)
        raise InputMismatchError(
            f"Input '{arg.name}' got None: pass a numpy array of {kind} with shape {shape_text(arg.shape)} "
            "(is a variable still unset, or did a function return nothing?)."
        )
    if not arg.type.startswith("tensor("):
        return value  # sequences and maps (rare as inputs): let ONNX Runtime judge
    source = _source(value)
    array = to_numpy(value)
    expected_shape = arg.shape
    if expected_shape is not None and array.ndim != len(expected_shape):
        hint = "pass arrays with this many dimensions"
        if array.ndim == len(expected_shape) - 1:
            hint = f"add the batch dimension with {_unsqueeze_fix(source, var)}"
        elif array.ndim == len(expected_shape) + 1 and 1 in array.shape:
            hint = f"remove the extra size-1 dimension with {_squeeze_fix(source, var, array.shape.index(1))}"
        raise InputMismatchError(
            f"Input '{arg.name}' expects rank {len(expected_shape)} {shape_text(expected_shape)}, got rank "
            f"{array.ndim} {list(array.shape)}: {hint}."
        )
    if expected_shape is not None:
        for axis, (want, have) in enumerate(zip(expected_shape, array.shape, strict=True)):
            if isinstance(want, int) and want >= 0 and want != have:
                hint = _layout_hint(expected_shape, array.shape, source, var)
                if not hint and axis == 0 and want == 1:
                    hint = (
                        "the model's batch is fixed to 1: feed one sample at a time, or re-export with a dynamic "
                        "batch (dynamic_shapes, example batch >= 2)"
                    )
                hint = hint or f"resize or reshape the input so dimension {axis} is {want}"
                raise InputMismatchError(
                    f"Input '{arg.name}' expects shape {shape_text(expected_shape)}, got {list(array.shape)} "
                    f"(dimension {axis} must be {want}, got {have}): {hint}."
                )
    want_dtype = numpy_dtype(arg.type)
    if arg.type == "tensor(string)":
        if array.dtype.kind not in "OUS":
            raise InputMismatchError(
                f"Input '{arg.name}' expects strings (tensor(string)), got {array.dtype}: "
                f"pass np.array([...], dtype=object) or {var}.astype(str)."
            )
    elif want_dtype is not None and array.dtype != want_dtype:
        raise InputMismatchError(
            f"Input '{arg.name}' expects {want_dtype.name} ({arg.type}), got {array.dtype}: "
            f"cast with {_cast_fix(source, var, want_dtype)}."
        )
    return array


# ------------------------------------------------------------------------------------------------ run


def run_onnx(
    model_or_path: SessionSource,
    inputs: Any,
    *,
    providers: Sequence[ProviderSpec] | ProviderSpec | None = None,
    output_names: Sequence[str] | None = None,
) -> dict[str, np.ndarray]:
    """Run a model with ONNX Runtime and return ``{output name: array}`` in the model's output order.

    ``model_or_path`` is a path, bytes, an ``onnx.ModelProto`` or an existing ``InferenceSession``; sessions
    built here are cached (keyed by file path + modification time, or by a hash of the bytes) so running
    the same model again is cheap. ``inputs`` is a dict ``{name: array}``, a list/tuple in input order, or a
    single array for a one-input model; PyTorch/TensorFlow tensors are converted with :func:`to_numpy`.
    ``providers`` is passed to :func:`make_session` (a list, or one name). ``output_names`` selects outputs
    (default: all).

    Inputs are checked against ``session.get_inputs()`` first: an unknown or missing name, ``None``, a nested
    Python list for a one-input model, a wrong rank, a wrong fixed dimension or a wrong dtype raises
    :class:`InputMismatchError` with the fix, written for the kind of value given (numpy, PyTorch, list). Non-tensor outputs
    (e.g. scikit-learn's ZipMap, a list of dicts) are returned as ONNX Runtime gives them.
    """
    session = _session_for(model_or_path, providers)
    bound = _bind_inputs(session, inputs)
    declared = {arg.name: arg for arg in session.get_inputs()}
    feed = {name: _check_input(declared[name], value) for name, value in bound.items()}
    all_outputs = [o.name for o in session.get_outputs()]
    if output_names is not None:
        unknown = [n for n in output_names if n not in all_outputs]
        if unknown:
            raise InputMismatchError(
                f"Unknown output name '{unknown[0]}': the model's outputs are "
                f"{', '.join(repr(n) for n in all_outputs)}. Ask for one of these, or pass output_names=None."
            )
    wanted = list(output_names) if output_names is not None else all_outputs
    results = session.run(wanted, feed)
    return dict(zip(wanted, results, strict=True))
