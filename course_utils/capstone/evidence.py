"""What every stage's rubric measures the learner's artifacts against: the pretrained EfficientNet-Lite0 in eager
mode, fixed batches of photo crops the learner's code never chose, ONNX files loaded with one-line feedback, and
parity of a file against eager PyTorch."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import onnx

from course_utils.errors import first_line
from course_utils.lessons.exercises import NotYet, expect
from course_utils.onnxfile.render import measurement
from course_utils.paths import relative_to_repo

__all__ = [
    "PARITY_ATOL",
    "PARITY_BATCHES",
    "describe_parity",
    "eager_logits",
    "fixed_photos",
    "input_type",
    "load_answer",
    "parity",
    "reference_model",
    "run_file",
    "session_for",
]

#: The batch sizes a file is run at: a file whose batch was fixed at an export example's size fails one of them.
PARITY_BATCHES = (2, 5)
#: How far an fp32 file's logits may be from eager PyTorch's (logits of size ~10; float32 sums in other orders).
PARITY_ATOL = 1e-3


@lru_cache(maxsize=1)
def reference_model() -> Any:
    """The pretrained EfficientNet-Lite0 in eval mode (built once per kernel)."""
    from course_utils.models.efficientnet import load_efficientnet_lite0

    return load_efficientnet_lite0()


@lru_cache(maxsize=1)
def _evaluation_pixels() -> np.ndarray:
    from course_utils.models.photos import evaluation_crops

    return evaluation_crops()


def fixed_photos(n: int, offset: int = 0) -> np.ndarray:
    """``n`` evaluation crops from ``offset``, preprocessed for EfficientNet-Lite0: ``(n, 3, 224, 224)`` float32."""
    from course_utils.models.efficientnet import preprocess

    return preprocess(_evaluation_pixels()[offset : offset + n])


def eager_logits(batch: np.ndarray) -> np.ndarray:
    """The pretrained model's logits for ``batch`` (float32 NCHW), in eager mode."""
    import torch

    with torch.inference_mode():
        out: np.ndarray = reference_model()(torch.from_numpy(np.array(batch, np.float32))).numpy()
    return out


def load_answer(answer: Any, what: str, *, external: bool = True) -> tuple[onnx.ModelProto, Path]:
    """The ONNX model at ``answer`` (a path) and its path; :class:`NotYet` for no answer, no file, not ONNX."""
    expect(answer is not None, f"no answer yet: pass {what}")
    expect(
        isinstance(answer, str | os.PathLike),
        f"pass {what} as the path of the file",
        why="the later stages, the page and the gate all load the file, not an object in this kernel",
        got=type(answer).__name__,
    )
    path = Path(answer)
    if not path.is_file():
        raise NotYet(f"there is no file at {relative_to_repo(path)} yet", why="save the model there first")
    try:
        return onnx.load(str(path), load_external_data=external), path
    except Exception as error:  # a half-written file, another format, a missing weights file
        raise NotYet(f"{relative_to_repo(path)} cannot be read as an ONNX model", got=first_line(error)[:200]) from None


def session_for(path: Path) -> Any:
    """An ONNX Runtime CPU session for ``path`` (library logging off); :class:`NotYet` when ONNX Runtime refuses."""
    from course_utils.runtime.sessions import create_session, session_options

    try:
        return create_session(path, session_options("ORT_ENABLE_ALL", threads=2, log_severity=3))
    except Exception as error:  # ORT raises several pybind types
        raise NotYet("ONNX Runtime refuses to load the file", got=first_line(error)[:300]) from None


def run_file(session: Any, batch: np.ndarray, what: str) -> np.ndarray:
    """The first output of ``session`` on ``batch``; :class:`NotYet` with ORT's first line when it fails."""
    name = session.get_inputs()[0].name
    try:
        return np.asarray(session.run(None, {name: batch})[0])
    except Exception as error:
        raise NotYet(f"ONNX Runtime cannot run the file on {what}", got=first_line(error)[:300]) from None


def input_type(model: onnx.ModelProto) -> str:
    """The first graph input as the course writes types: ``float32[batch, 3, 224, 224]``."""
    from course_utils.onnxfile.graph import type_text

    initializers = {t.name for t in model.graph.input if t.name in {i.name for i in model.graph.initializer}}
    first = next(i for i in model.graph.input if i.name not in initializers)
    return type_text(first.type)


def parity(path: Path, *, atol: float = PARITY_ATOL) -> float:
    """Run ``path`` at each of :data:`PARITY_BATCHES` (photo crops) and compare with eager PyTorch; returns the
    largest absolute difference. :class:`NotYet` when a batch fails or the logits differ by more than ``atol``."""
    session = session_for(path)
    worst = 0.0
    offset = 0
    for n in PARITY_BATCHES:
        batch = fixed_photos(n, offset)
        offset += n
        got = run_file(session, batch, f"a batch of {n} photos")
        expected = eager_logits(batch)
        expect(
            got.shape == expected.shape,
            f"on a batch of {n} photos the file's output is shaped {list(got.shape)}",
            why="each photo needs its own row of 1,000 logits",
            expected=f"{list(expected.shape)}",
            got=f"{list(got.shape)}",
        )
        error = float(np.max(np.abs(got - expected)))
        expect(
            error <= atol,
            f"on a batch of {n} photos the file's logits differ from the pretrained model's in eager mode",
            why="the file must compute what the trained model computes; a difference this size means it was "
            "exported from a model in another state, or with other weights or inputs",
            expected=f"max |ONNX - eager| <= {atol:g}",
            got=f"max |ONNX - eager| = {error:.3g}",
        )
        worst = max(worst, error)
    return worst


def describe_parity(error: float) -> str:
    """A parity error as the report card prints it (masked by nbval: it varies with the CPU)."""
    return measurement(error)
