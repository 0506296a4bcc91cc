"""Reading ``torch.onnx.export`` failures: one line with the cause, where in the model it happened, and the fix.

When an export fails, PyTorch raises a long message (next steps, links, debug flags) and may also print the
partial graph it captured on stderr. The part worth reading is its ``## Exception summary`` and the line of
model code it points at. :func:`explain_export_errors` keeps exactly that::

    from course_utils.models.torch_export import explain_export_errors

    with explain_export_errors():
        torch.onnx.export(model, (x,), "model.onnx")
    # ExportFailedError: torch.export could not capture the model (step 1/3): GuardOnDataDependentSymNode: ...

The original exception stays available as ``error.original``. Nothing here imports torch.
"""

from __future__ import annotations

import contextlib
import io
import logging
import re
import sys
from collections.abc import Iterator

from course_utils.errors import ExportFailedError

__all__ = ["explain_export_errors", "is_export_error", "summarize_export_error"]

_ANSI = re.compile(r"\x1b\[[0-9;]*m")

# Exception class names (anywhere in the MRO) that mean "the exporter could not handle this model".
_EXPORT_ERROR_NAMES = {
    "OnnxExporterError",  # base of the torch.export-based exporter's errors (TorchExportError, ConversionError)
    "UnsupportedOperatorError",  # legacy TorchScript exporter: no symbolic function for an operator
    "SymbolicValueError",  # legacy exporter: a symbolic function rejected its inputs
    "UserError",  # torch._dynamo.exc.UserError, e.g. constraint violations on dynamic shapes
}

_STEPS = {
    "1": "torch.export could not capture the model (step 1/3)",
    "2": "the captured graph could not be decomposed (step 2/3)",
    "3": "the graph could not be translated to ONNX (step 3/3)",
}


def is_export_error(error: BaseException) -> bool:
    """Whether ``error`` comes from the ONNX exporter (either exporter) rather than from the model itself."""
    return any(cls.__name__ in _EXPORT_ERROR_NAMES for cls in type(error).__mro__)


def _fix_for(kind: str, message: str) -> str:
    if "data-dependent" in message:
        return (
            "a Python if/while depends on tensor values, which an exported graph cannot hold; write the branch "
            "with torch.cond(pred, true_fn, false_fn, (x,)) (or torch.where for an element-wise choice)"
        )
    op = re.search(r"No ONNX function found for (\S+)", message)
    if op:
        return (
            f"give the exporter an ONNX translation for {op.group(1)} "
            f"(custom_translation_table={{torch.ops.{op.group(1)}: fn}} with fn written in ONNX Script), "
            "or rewrite that part of the model with supported operators"
        )
    if "Constraints violated" in message:
        return (
            "the model's code fixed a dimension you marked dynamic; use an example size >= 2 and look for code "
            "that depends on the exact size"
        )
    if kind in {"UnsupportedOperatorError", "SymbolicValueError"}:
        return (
            "the legacy exporter has no translation for this operator at this opset; try the default exporter "
            "(dynamo=True), a newer opset_version, or rewrite that part of the model with supported operators"
        )
    return "run torch.onnx.export(..., report=True) for a full report of the failing step"


def summarize_export_error(error: BaseException) -> str:
    """One line: which export step failed, the underlying error, the model line it points at, and the fix."""
    text = _ANSI.sub("", str(error))
    step = re.search(r"This is step (\d)/3", text)
    prefix = _STEPS.get(step.group(1), "torch.onnx.export failed") if step else "torch.onnx.export failed"
    kind = type(error).__name__
    message = next((ln.strip() for ln in text.splitlines() if ln.strip()), kind)
    summary = re.search(r"## Exception summary\s*\n\s*<class '([\w.]+)'>: (.+)", text)
    if summary:
        kind = summary.group(1).rsplit(".", 1)[-1]
        message = summary.group(2)
    # Keep the first sentence; PyTorch appends debugging detail that is noise here.
    message = re.split(r" \(unhinted|\. Failure message|\. See the stack trace| \[Caused by", message)[0]
    message = re.sub(r"<OpOverload\(op='([\w.]+)', overload='(\w+)'\)>", r"\1.\2", message).rstrip(". ")
    where = ""
    call = re.search(
        r"The following call raised this error:\s*\n\s*File \"[^\"]*\", line (\d+), in (\w+)[ \t]*\n(.*)", text
    )
    if call:
        line, function, code = call.group(1), call.group(2), call.group(3).strip()
        # The code line is missing when Python cannot find the source (e.g. a class defined in another cell).
        where = f", at `{code}` in {function}()" if code else f", in {function}() (line {line} of its cell or file)"
    return f"{prefix}: {kind}: {message}{where}. Fix: {_fix_for(kind, message)}."


@contextlib.contextmanager
def explain_export_errors() -> Iterator[None]:
    """Turn an exporter failure inside the ``with`` block into a one-line :class:`ExportFailedError`.

    Text the exporter writes to stderr meanwhile (warnings, the partial graph it prints on failure) is held
    back: it is written out if the block succeeds and dropped if the export fails, since the one-line error
    says what matters. Errors that do not come from the exporter are re-raised unchanged.
    """
    held = io.StringIO()
    logs = _HeldLogs()
    try:
        with contextlib.redirect_stderr(held), logs:
            yield
    except Exception as error:
        if is_export_error(error):
            failure = ExportFailedError(summarize_export_error(error))
            failure.original = error  # type: ignore[attr-defined]
            raise failure from None
        logs.replay()
        sys.stderr.write(held.getvalue())
        raise
    logs.replay()
    sys.stderr.write(held.getvalue())


class _HeldLogs(logging.Filter):
    """Holds back records of PyTorch's loggers while active. PyTorch's log handlers keep a reference to the
    stderr of their creation time, so redirecting ``sys.stderr`` does not catch them."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []
        self.loggers: list[logging.Logger] = []

    def filter(self, record: logging.LogRecord) -> bool:
        self.records.append(record)
        return False

    def __enter__(self) -> _HeldLogs:
        names = [n for n in logging.root.manager.loggerDict if n == "torch" or n.startswith("torch.")]
        self.loggers = [logging.getLogger(n) for n in sorted(names)]
        for logger in self.loggers:
            logger.addFilter(self)
        return self

    def __exit__(self, *exc: object) -> None:
        for logger in self.loggers:
            logger.removeFilter(self)

    def replay(self) -> None:
        for record in self.records:
            logging.getLogger(record.name).handle(record)
        self.records.clear()
