"""Loading ONNX models from whatever a learner has: a path, bytes, or an ``onnx.ModelProto``.

Every helper that accepts a model goes through :func:`load_model`, so a missing file, a file that is not
ONNX, weights missing beside a model, or a text form of a model under a binary name (a textproto saved as
``model.onnx``) give the same clear one-line error everywhere. :func:`text_form` tells which text form some
bytes are in.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import onnx
import onnx.parser
from google.protobuf import json_format, text_format
from google.protobuf.message import DecodeError

from course_utils.errors import (
    ExternalDataMissingError,
    ModelFileNotFoundError,
    NotAModelTypeError,
    NotAnOnnxModelError,
    first_line,
)
from course_utils.onnxfile import graph

__all__ = [
    "ModelSource",
    "external_data_files",
    "load_model",
    "model_bytes",
    "require_embedded_weights",
    "text_form",
    "text_start",
]

ModelSource = str | os.PathLike[str] | bytes | onnx.ModelProto

# Suffixes onnx reads as a text form of the protobuf; everything else is parsed as binary (whatever its name).
_TEXT_SUFFIXES = {".onnxtxt", ".textproto", ".txtpb", ".json"}
_PARSE_ERRORS = (
    DecodeError,
    json_format.ParseError,
    text_format.ParseError,
    onnx.parser.ParseError,
    UnicodeDecodeError,
)


# How each text form of a model begins (after optional comments): protobuf's text format with a field name
# (`ir_version: 9`, `graph {`), onnx.printer's syntax with its `<` header, or protobuf's JSON mapping.
_TEXT_FORMS = (
    (re.compile(r"(#[^\n]*\n\s*)*[A-Za-z_]\w*\s*[:{]"), "protobuf text format", "textproto"),
    (re.compile(r"<"), "onnx.printer text syntax", "onnxtxt"),
    (re.compile(r"\{\s*(\"|})"), "protobuf JSON format", "json"),
)


def text_start(data: bytes) -> str | None:
    """The first characters of ``data`` if it starts like text (printable UTF-8), else None.

    Binary protobuf cannot pass: the keys of ONNX's first fields (``0x08`` for ``ir_version``, ``0x0a``, ``0x12``
    ...) and most length bytes are control characters.
    """
    head = data[:512]
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as e:
        if e.start < len(head) - 3:  # not just a multi-byte character cut at the end of the sample
            return None
        text = head[: e.start].decode("utf-8")
    if not text.strip() or not all(c.isprintable() or c in "\t\n\r" for c in text):
        return None
    return text.lstrip()


def text_form(data: bytes) -> tuple[str, str] | None:
    """(name, onnx format name) of the text form ``data`` is in, e.g. ``("protobuf text format", "textproto")``;
    None for binary protobuf, or text of some other kind."""
    start = text_start(data)
    if start is None:
        return None
    return next(((name, fmt) for pattern, name, fmt in _TEXT_FORMS if pattern.match(start)), None)


def _text_read_as_binary(source: ModelSource) -> NotAnOnnxModelError | None:
    """A text form of a model (given as bytes, or in a file named like a binary one) failed to parse as binary:
    the error that says so, and how to load it, rather than "not an ONNX model"; None for anything else."""
    if isinstance(source, bytes | bytearray):
        form = text_form(bytes(source))
        if form is not None:
            return NotAnOnnxModelError(
                f"These bytes are the {form[0]} of a model, not binary protobuf. "
                f"Parse them with onnx.load_from_string(data, format='{form[1]}') and pass the ModelProto."
            )
    elif isinstance(source, str | os.PathLike):
        path = Path(source)
        if path.suffix.lower() in _TEXT_SUFFIXES:
            return None  # read as text already: the message about a broken text file stands
        with path.open("rb") as f:
            form = text_form(f.read(512))
        if form is not None:
            return NotAnOnnxModelError(
                f"'{path.name}' holds the {form[0]} of a model, but its name does not say so, so it was read as "
                f"binary. Rename it to end in .{form[1]}, or load it with onnx.load(path, format='{form[1]}')."
            )
    return None


#: Bytes 4-8 of an ORT-format file (ONNX Runtime's FlatBuffers format, lesson 10): its file identifier.
_ORT_IDENTIFIER = b"ORTM"


def _ort_format_error(source: ModelSource) -> NotAnOnnxModelError | None:
    """The error for an ORT-format file (or its bytes) given where an ONNX model is read; None for anything else."""
    if isinstance(source, bytes | bytearray):
        head, what = bytes(source[:8]), "These bytes are"
    elif isinstance(source, str | os.PathLike):
        with Path(source).open("rb") as f:
            head, what = f.read(8), f"'{Path(source).name}' is"
    else:
        return None
    if head[4:8] != _ORT_IDENTIFIER:
        return None
    return NotAnOnnxModelError(
        f"{what} an ORT-format file (ONNX Runtime's own format, 'ORTM' at bytes 4-8), not an ONNX model: check "
        "the .onnx it was converted from."
    )


def _check_parsed(model: onnx.ModelProto, what: str) -> onnx.ModelProto:
    # Protobuf happily parses many non-ONNX byte strings into an empty message; a real model has a graph.
    if not model.HasField("graph") or (not model.graph.node and not model.graph.output):
        raise NotAnOnnxModelError(
            f"Not an ONNX model: {what} not hold a graph. Check you passed the .onnx file you exported."
        )
    if model.ir_version >= 3 and not model.opset_import:
        # Every ONNX model since IR 3 imports an opset; without one the bytes stopped early (a cut download).
        raise NotAnOnnxModelError(
            f"Not a complete ONNX model: {what} not declare an opset (opset_import is empty), so it is truncated "
            "or was cut short while copying. Export or download it again."
        )
    return model


def require_embedded_weights(model: onnx.ModelProto, source: ModelSource) -> None:
    """Raise :class:`ExternalDataMissingError` if ``model`` (given as bytes or a ModelProto, not a path) still
    refers to external weight files: without a path there is no folder to find them in."""
    if isinstance(source, str | os.PathLike):
        return
    unloaded = [tensor.name for tensor in graph.tensors(model) if tensor.data_location == onnx.TensorProto.EXTERNAL]
    if unloaded:
        files = ", ".join(external_data_files(model))
        raise ExternalDataMissingError(
            f"This model's weights are in external file(s) {files}, and it was given as "
            f"{'bytes' if isinstance(source, bytes | bytearray) else 'an onnx.ModelProto'}, so there is no folder to "
            "find them in. Pass the .onnx file's path instead, or load it with onnx.load(path), which reads them in."
        )


def external_data_files(model: onnx.ModelProto) -> list[str]:
    """Names of the external data files a model's tensors point to (empty for self-contained models).

    Every tensor that can hold data counts (:func:`course_utils.onnxfile.graph.tensors`): initializers, sparse
    initializers and tensor attributes, in subgraphs and functions too.
    """
    files: set[str] = set()
    for tensor in graph.tensors(model):
        if tensor.data_location == onnx.TensorProto.EXTERNAL:
            for entry in tensor.external_data:
                if entry.key == "location":
                    files.add(entry.value)
    return sorted(files)


def load_model(source: ModelSource, *, load_external_data: bool = True) -> onnx.ModelProto:
    """Return an ``onnx.ModelProto`` from a path, bytes, or a ModelProto (returned as is).

    Raises :class:`ModelFileNotFoundError`, :class:`NotAnOnnxModelError` or
    :class:`ExternalDataMissingError` with a one-line fix.
    """
    if isinstance(source, onnx.ModelProto):
        return _check_parsed(source, "the onnx.ModelProto given does")
    if isinstance(source, bytes | bytearray):
        try:
            try:
                return _check_parsed(onnx.load_from_string(bytes(source)), "the bytes given do")
            except DecodeError:
                raise NotAnOnnxModelError(
                    "These bytes are not an ONNX model (protobuf could not parse them). "
                    "Pass the content of a .onnx file, e.g. Path('model.onnx').read_bytes()."
                ) from None
        except NotAnOnnxModelError:
            text_error = _ort_format_error(source) or _text_read_as_binary(source)
            if text_error is None:
                raise
            raise text_error from None
    if not isinstance(source, str | os.PathLike):
        hint = (
            "export it to ONNX first (lesson 02/03)"
            if hasattr(source, "forward") or hasattr(source, "predict")
            else ("pass the path of the .onnx file, its bytes, or onnx.load(path)")
        )
        raise NotAModelTypeError(
            f"Expected an ONNX model (a path, bytes or onnx.ModelProto), got {type(source).__name__}: {hint}."
        )
    path = Path(source)
    if not path.exists():
        hint = ""
        if path.parent.exists():
            nearby = sorted(p.name for p in path.parent.glob("*.onnx"))[:5]
            if nearby:
                hint = f" .onnx files in {path.parent.name or '.'}/: {', '.join(nearby)}."
        raise ModelFileNotFoundError(f"No model file at '{path}'.{hint} Check the path, or export the model first.")
    if path.is_dir():
        raise NotAnOnnxModelError(
            f"'{path}' is a folder, not a model file. Pass the .onnx file inside it (a SavedModel folder needs tf2onnx first)."
        )
    try:
        try:
            fmt = None if path.suffix.lower() in _TEXT_SUFFIXES else "protobuf"
            model = onnx.load_model(str(path), format=fmt, load_external_data=False)
        except _PARSE_ERRORS:
            raise NotAnOnnxModelError(
                f"'{path.name}' is not an ONNX model (protobuf could not parse it: wrong file, or truncated). "
                "Re-export it, or check you opened the .onnx file and not e.g. a .pt/.h5 file."
            ) from None
        _check_parsed(model, f"the file '{path.name}' does")
    except NotAnOnnxModelError:
        # A text form in a file named like a binary one (a textproto saved as model.onnx) is said so here, where
        # every helper loads its model, so netron_view, run_onnx and summarize all give the same message.
        text_error = _ort_format_error(path) or _text_read_as_binary(path)
        if text_error is None:
            raise
        raise text_error from None
    folder = path.parent.resolve()
    files = external_data_files(model)
    escaping = [name for name in files if not (folder / name).resolve().is_relative_to(folder)]
    if escaping:
        raise ExternalDataMissingError(
            f"'{path.name}' points to weights outside its folder ({', '.join(escaping)}); ONNX only reads external "
            "data stored beside the model. Move the file next to the model and save the model again."
        )
    missing = [name for name in files if not (folder / name).exists()]
    if missing:
        raise ExternalDataMissingError(
            f"'{path.name}' keeps its weights in external file(s) {', '.join(missing)}, not found beside it. "
            "Copy them into the same folder, or re-export with the weights inside (e.g. external_data=False)."
        )
    if load_external_data and files:
        try:
            onnx.load_external_data_for_model(model, str(path.parent))
        except (OSError, ValueError, onnx.checker.ValidationError) as error:
            raise ExternalDataMissingError(
                f"'{path.name}': its external weights could not be read ({first_line(error)}). "
                "Re-export the model, or copy its .data file(s) beside it again."
            ) from None
    return model


def model_bytes(source: ModelSource) -> bytes:
    """Serialized bytes of a model (with external data folded in), e.g. to hand to a viewer or a session."""
    model = load_model(source)
    require_embedded_weights(model, source)
    return bytes(source) if isinstance(source, bytes | bytearray) else model.SerializeToString()
