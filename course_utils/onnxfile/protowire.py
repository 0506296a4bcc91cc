"""A model file as protobuf writes it: the top-level fields of a serialized ``ModelProto``, in file order.

Lesson 04 uses it to show what ``onnx.save`` wrote byte by byte::

    from course_utils.onnxfile.protowire import protobuf_fields
    for field in protobuf_fields("artifacts/04/digits_cnn.onnx"):
        print(field)  # @0      field  1 ir_version       varint           10

It reads the bytes itself (no onnx parsing), so it also explains files protobuf cannot parse: cut short,
or a text form of a model where binary protobuf is expected. (Also importable from :mod:`course_utils.inspect`.)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from onnx import ModelProto

from course_utils.errors import ModelFileNotFoundError, NotAnOnnxModelError
from course_utils.onnxfile.modelio import ModelSource, text_form, text_start

__all__ = ["ProtoField", "protobuf_fields"]

_WIRE_TYPES = {0: "varint", 1: "64-bit", 2: "length-delimited", 5: "32-bit"}


@dataclass(frozen=True)
class ProtoField:
    """One top-level field of a serialized ``ModelProto`` as it sits in the file.

    ``key`` is the varint before the value: ``field_number << 3 | wire_type``. For a length-delimited field
    (strings, nested messages), ``size`` is the byte count that follows the key and the length.
    """

    offset: int
    key: int
    field_number: int
    wire_type: int
    name: str
    size: int
    value: str

    @property
    def wire(self) -> str:
        """The wire type's name: ``varint``, ``64-bit``, ``length-delimited``, ``32-bit``."""
        return _WIRE_TYPES.get(self.wire_type, f"wire type {self.wire_type}")

    def __str__(self) -> str:
        return f"@{self.offset:<6} field {self.field_number:>2} {self.name:<16} {self.wire:<16} {self.value}"


def _not_binary_error(data: bytes, what: str) -> NotAnOnnxModelError | None:
    """The one-line error for text given where binary protobuf is expected, or None if ``data`` is not text."""
    form = text_form(data)
    if form is not None:
        return NotAnOnnxModelError(
            f"{what[:1].upper()}{what[1:]} is in the {form[0]}, not binary protobuf: it has no wire-format fields "
            f"to list. To see the binary encoding of the same model, pass onnx.load(path, format='{form[1]}')."
        )
    start = text_start(data)
    if start is not None:
        flat = " ".join(start.split())
        return NotAnOnnxModelError(
            f"Not an ONNX model: {what} is plain text (it starts {flat if len(flat) <= 30 else flat[:27] + '...'!r}), not binary protobuf. "
            "Check you opened the .onnx file."
        )
    return None


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(data):
            raise NotAnOnnxModelError(
                f"Not an ONNX model: the bytes end inside a number at byte {pos} (truncated file?)."
            )
        byte = data[pos]
        result |= (byte & 0x7F) << shift
        pos += 1
        if not byte & 0x80:
            return result, pos
        shift += 7


def protobuf_fields(source: ModelSource) -> list[ProtoField]:
    """The top-level fields of a model's protobuf encoding, in file order (repeated fields appear once each).

    ``source`` is a path (its bytes are read as they are), bytes, or a ModelProto (serialized first).
    Raises :class:`~course_utils.errors.ModelFileNotFoundError` for a missing file and
    :class:`~course_utils.errors.NotAnOnnxModelError` where the bytes do not decode, or are a text form of a
    model (``.textproto``, ``.onnxtxt``, ``.json``) rather than binary protobuf.
    """
    what = "the data"
    if isinstance(source, ModelProto):
        data = source.SerializeToString()
    elif isinstance(source, bytes | bytearray):
        data = bytes(source)
    else:
        path = Path(source)
        if path.is_dir():
            raise NotAnOnnxModelError(f"'{path}' is a folder, not a model file. Pass the .onnx file inside it.")
        if not path.is_file():
            raise ModelFileNotFoundError(f"No model file at '{path}'. Check the path, or export the model first.")
        data = path.read_bytes()
        what = f"'{path.name}'"
    text_error = _not_binary_error(data, what)
    if text_error is not None:
        raise text_error
    by_number = ModelProto.DESCRIPTOR.fields_by_number
    fields: list[ProtoField] = []
    pos = 0
    while pos < len(data):
        start = pos
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        desc = by_number.get(number)
        name = desc.name if desc is not None else "(unknown)"
        if wire == 0:
            value, pos = _varint(data, pos)
            size, text = 0, str(value)
        elif wire in (1, 5):
            size = 8 if wire == 1 else 4
            text = data[pos : pos + size].hex(" ")
            pos += size
        elif wire == 2:
            size, pos = _varint(data, pos)
            payload = data[pos : pos + size]
            if len(payload) < size:
                raise NotAnOnnxModelError(
                    f"Not an ONNX model: field {number} says {size} bytes follow at byte {pos}, but the data ends "
                    f"after {len(payload)} (truncated file?). Re-export or re-download it."
                )
            pos += size
            if desc is not None and desc.type == desc.TYPE_STRING:
                s = payload.decode("utf-8", errors="replace")
                text = repr(s if len(s) <= 40 else s[:37] + "...")
            else:
                text = f"message, {size:,} bytes"
        else:
            raise NotAnOnnxModelError(
                f"Not an ONNX model: wire type {wire} at byte {start} is not used by ONNX files. Check the file."
            )
        fields.append(ProtoField(start, key, number, wire, name, size, text))
    return fields
