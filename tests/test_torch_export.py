"""course_utils.models.torch_export: exporter failures become one line with the cause, the model line and the fix."""

from __future__ import annotations

import logging
import sys
import warnings

import pytest
import torch
from torch import nn

from course_utils.errors import CourseError, ExportFailedError
from course_utils.models.torch_export import explain_export_errors, is_export_error, summarize_export_error

# The exporter lists torchvision ops it skips; irrelevant here.
logging.getLogger("torch.onnx._internal.exporter._registration").setLevel(logging.ERROR)


class _Gate(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.mean() > 0:  # data-dependent: the exported graph cannot hold a Python branch
            return x * 2
        return -x


class _Distances(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cdist(x, x)  # no ONNX translation in the torch.export-based exporter


class _Inverse(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.linalg.inv(x)  # no symbolic function in the legacy exporter


def _export(model: nn.Module, path, x: torch.Tensor, **kwargs) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model.eval(), (x,), str(path), verbose=False, **kwargs)


@pytest.mark.slow
def test_data_dependent_branch_is_one_line_with_the_line_and_torch_cond(tmp_path):
    with pytest.raises(ExportFailedError) as info, explain_export_errors():
        _export(_Gate(), tmp_path / "gate.onnx", torch.ones(2, 3))
    message = str(info.value)
    assert message.startswith("torch.export could not capture the model (step 1/3): GuardOnDataDependentSymNode")
    assert "at `if x.mean() > 0:" in message and "torch.cond" in message
    assert "\n" not in message and "\x1b[" not in message
    assert is_export_error(info.value.original)
    assert isinstance(info.value, CourseError)


@pytest.mark.slow
def test_missing_onnx_function_names_the_operator_and_custom_translation_table(tmp_path, capsys):
    with pytest.raises(ExportFailedError) as info, explain_export_errors():
        _export(_Distances(), tmp_path / "cdist.onnx", torch.rand(3, 2))
    message = str(info.value)
    assert "(step 3/3): DispatchError: No ONNX function found for aten._cdist_forward.default." in message
    assert "custom_translation_table={torch.ops.aten._cdist_forward.default: fn}" in message
    # what the exporter printed while failing is dropped, not left in the output
    assert capsys.readouterr().err == ""


def test_legacy_unsupported_operator(tmp_path):
    with pytest.raises(ExportFailedError) as info, explain_export_errors():
        _export(_Inverse(), tmp_path / "inv.onnx", torch.eye(3), dynamo=False)
    message = str(info.value)
    assert message.startswith(
        "torch.onnx.export failed: UnsupportedOperatorError: Exporting the operator 'aten::linalg_inv'"
    )
    assert "dynamo=True" in message


def test_errors_from_the_model_itself_pass_through_unchanged(tmp_path):
    singular = torch.zeros(3, 3)
    with pytest.raises(RuntimeError) as info, explain_export_errors():
        _export(_Inverse(), tmp_path / "inv.onnx", singular, dynamo=False)
    assert not isinstance(info.value, ExportFailedError)
    assert "singular" in str(info.value)


def test_stderr_is_replayed_when_the_block_succeeds(capsys):
    with explain_export_errors():
        print("kept", file=sys.stderr)
    assert capsys.readouterr().err == "kept\n"


def test_summaries_of_other_failures():
    class UserError(Exception):
        pass

    violation = UserError("Constraints violated (batch)! Not all values of batch satisfy the generated guard")
    assert is_export_error(violation)
    assert "example size >= 2" in summarize_export_error(violation)

    class OnnxExporterError(RuntimeError):
        pass

    other = OnnxExporterError("Something new went wrong\nmore detail")
    assert summarize_export_error(other) == (
        "torch.onnx.export failed: OnnxExporterError: Something new went wrong. "
        "Fix: run torch.onnx.export(..., report=True) for a full report of the failing step."
    )
    assert not is_export_error(ValueError("x"))


def test_torch_log_records_are_held_back_on_failure_and_replayed_on_success():
    logger = logging.getLogger("torch.fx.experimental.symbolic_shapes")
    seen: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record.getMessage())

    handler = Collect()
    logger.addHandler(handler)
    try:

        class OnnxExporterError(RuntimeError):
            pass

        with pytest.raises(ExportFailedError), explain_export_errors():
            logger.warning("noise while failing")
            raise OnnxExporterError("boom")
        assert seen == []
        with explain_export_errors():
            logger.warning("kept while succeeding")
        assert seen == ["kept while succeeding"]
    finally:
        logger.removeHandler(handler)


def test_model_line_without_source_falls_back_to_the_line_number():
    class TorchExportError(RuntimeError):
        pass

    text = (
        "Failed to export the model with torch.export. This is step 1/3 of exporting the model to ONNX.\n\n"
        "## Exception summary\n\n<class 'torch.fx.experimental.symbolic_shapes.GuardOnDataDependentSymNode'>: "
        "Could not guard on data-dependent expression Eq(u0, 1) (unhinted: Eq(u0, 1)).\n\n"
        'The following call raised this error:\n  File "<IPY-INPUT>", line 6, in forward\n\n\n'
        "The error above occurred when calling torch.export.export.\n"
    )
    summary = summarize_export_error(TorchExportError(text))
    assert ", in forward() (line 6 of its cell or file). Fix:" in summary
    with_code = text.replace("in forward\n\n", "in forward\n    if x.mean() > 0:\n")
    assert ", at `if x.mean() > 0:` in forward(). Fix:" in summarize_export_error(TorchExportError(with_code))


def test_dynamo_export_embeds_this_machines_paths_until_stripped(tmp_path):
    """Lesson 02 teaches this: the stack traces make file bytes machine-specific; the onnx-ir pass removes them."""
    import onnx
    from onnx_ir.passes.common import ClearMetadataAndDocStringPass

    from course_utils.models import DigitsCNN

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        program = torch.onnx.export(DigitsCNN().eval(), (torch.zeros(2, 1, 8, 8),), verbose=False)
    models_py = sys.modules[DigitsCNN.__module__].__file__
    assert models_py is not None
    assert any(models_py in p.value for node in program.model_proto.graph.node for p in node.metadata_props)

    ClearMetadataAndDocStringPass()(program.model)
    path = tmp_path / "stripped.onnx"
    program.save(path, external_data=False)
    raw = path.read_bytes()
    assert models_py.encode() not in raw
    assert str(tmp_path).encode() not in raw
    assert all(not node.metadata_props for node in onnx.load(path).graph.node)
