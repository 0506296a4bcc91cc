"""Errors a learner can cause, each a one-line message that says what is wrong and how to fix it.

All derive from :class:`CourseError`. In a notebook IPython shows them as that one line instead of a deep
traceback (via ``_render_traceback_``); everywhere else they are ordinary exceptions that tests can catch.
Each also derives from the built-in type a caller would expect (``FileNotFoundError``, ``ValueError``, ...).
Raise them ``from None`` when translating a library error, so the message stands alone.
"""

from __future__ import annotations

__all__ = [
    "CourseError",
    "ExportFailedError",
    "ExternalDataMissingError",
    "InputMismatchError",
    "ModelFileNotFoundError",
    "NotAModelTypeError",
    "NotAnOnnxModelError",
    "ProviderUnavailableError",
    "UnsupportedIRVersionError",
    "UnsupportedOpsetError",
    "first_line",
]


class CourseError(Exception):
    """Base class: a mistake the learner can fix. ``str(error)`` is the whole message."""

    def _render_traceback_(self) -> list[str]:
        # IPython calls this instead of formatting the stack: the learner sees one actionable line.
        return [f"{type(self).__name__}: {self}"]


class NotAModelTypeError(CourseError, TypeError):
    """Something that is not a path, bytes or ``onnx.ModelProto`` was given where a model is expected."""


class ModelFileNotFoundError(CourseError, FileNotFoundError):
    """The path given for a model does not exist."""


class NotAnOnnxModelError(CourseError, ValueError):
    """The file or bytes are not an ONNX model (wrong file, truncated download, ...)."""


class ExternalDataMissingError(CourseError, FileNotFoundError):
    """The model stores weights in external files that are not beside it."""


class InputMismatchError(CourseError, ValueError):
    """Inputs fed to a model do not match its declared names, shapes or dtypes."""


class ProviderUnavailableError(CourseError, RuntimeError):
    """An ONNX Runtime execution provider was requested that this installation does not have."""


class UnsupportedOpsetError(CourseError, RuntimeError):
    """The model needs an opset (or IR version, see :class:`UnsupportedIRVersionError`) the reader does not support."""


class UnsupportedIRVersionError(UnsupportedOpsetError):
    """The model's IR version (the file format's version) is newer than a reader supports, or cannot be lowered.

    A subclass of :class:`UnsupportedOpsetError`, so code that catches version errors with that class still
    catches this one.
    """


class ExportFailedError(CourseError, RuntimeError):
    """``torch.onnx.export`` failed; the message names the cause, where in the model, and the usual fix."""


def first_line(error: BaseException) -> str:
    """The first line of a library error's message (the part that says what failed), or its type's name when
    the message is empty."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
