"""ORT format: ONNX Runtime's own model file (``.ort``), made by the real converter and read back.

:func:`convert_to_ort` is the command ``python -m onnxruntime.tools.convert_onnx_models_to_ort MODEL --output_dir
DIR --optimization_style STYLE`` (run in a child process as a learner types it, with torch kept out of that process:
see :func:`converter_command`; an earlier run's files on the same model bytes are reused), plus a frozen report:
the ``.ort`` file, both sizes, the ``required_operators`` config the tool writes (the operator list a
reduced-operator build of ONNX Runtime is compiled with) and what the ``.ort`` file holds. :func:`read_ort_file`
reads an ``.ort`` file's header and graph with the FlatBuffers schema that ships in the onnxruntime wheel
(``onnxruntime.tools.ort_format_model``): the format version, the operators, the saved runtime optimizations.

    from course_utils.deploy.ort_format import convert_to_ort
    conversion = convert_to_ort("digits.onnx", optimization_style="Runtime")
    print(conversion)                    # sizes, operators, config
    session = ort.InferenceSession(conversion.ort_path, providers=["CPUExecutionProvider"])

Without ``out_dir`` the files go to ``artifacts/ort/``. Imports onnxruntime only to read ``.ort`` files.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from .. import paths
from ..errors import ModelFileNotFoundError, NotAnOnnxModelError, OrtConversionError
from ..onnxfile.render import format_bytes, text_table
from ..paths import relative_to_repo

__all__ = [
    "ORT_MAGIC",
    "OptimizationStyle",
    "OrtConversion",
    "OrtFile",
    "convert_to_ort",
    "converter_command",
    "read_ort_file",
]

OptimizationStyle = Literal["Fixed", "Runtime"]

#: Bytes 4–8 of every ORT-format file (the FlatBuffers file identifier); an ``.onnx`` protobuf never has them there.
ORT_MAGIC = b"ORTM"

_TOOL = "onnxruntime.tools.convert_onnx_models_to_ort"

# ``python -m onnxruntime.tools.convert_onnx_models_to_ort``, with torch kept out: the package ``onnxruntime.tools``
# imports torch whenever it is installed (for a PyTorch export helper the converter never calls), which is most of
# each run's time (about 2 of 2.5 s here). ``sys.modules["torch"] = None`` makes that check find no torch.
_RUN_TOOL = (
    "import runpy, sys; sys.modules['torch'] = None; sys.argv[0] = 'convert_onnx_models_to_ort'; "
    f"runpy.run_module('{_TOOL}', run_name='__main__', alter_sys=True)"
)


def converter_command(*args: str) -> list[str]:
    """The converter's command line with ``args`` (a model or folder, ``--output_dir DIR``, ...): what ``python
    -m onnxruntime.tools.convert_onnx_models_to_ort ARGS`` runs, without importing torch (see above)."""
    return [sys.executable, "-c", _RUN_TOOL, *args]


def _cache_key(source: Path, optimization_style: str, ort_path: Path) -> str:
    """What a conversion depends on (the model's bytes, the style, the converter's release) and what it wrote (the
    .ort file's bytes: a file converted over it since, by hand, makes the key differ)."""
    import hashlib
    from importlib.metadata import version

    def digest(path: Path) -> str:
        return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "-"

    return f"{digest(source)} {optimization_style} onnxruntime {version('onnxruntime')} -> {digest(ort_path)}\n"


@dataclass(frozen=True)
class OrtFile:
    """What an ``.ort`` file holds: ``format_version`` (the ORT format's own version, e.g. ``"6"``; a runtime
    reads only the versions it knows), the model's IR version and producer, the operators of its graph in order
    (``domain:op_type``, ``domain`` empty for ai.onnx) and the number of saved runtime-optimization records
    (more than 0 only for the ``Runtime`` style)."""

    path: Path
    format_version: str
    ir_version: int
    producer: str
    op_types: tuple[str, ...]
    runtime_optimization_records: int


@dataclass(frozen=True)
class OrtConversion:
    """One run of the converter: the ``.onnx`` it read, the ``.ort`` it wrote, their sizes in bytes, the
    ``required_operators`` config (``domain;opset;Op1,Op2`` lines: what a reduced-operator build must include)
    and the ``.ort`` file read back (:class:`OrtFile`)."""

    source: Path
    ort_path: Path
    optimization_style: OptimizationStyle
    onnx_bytes: int
    ort_bytes: int
    required_operators_config: Path
    required_operators: tuple[str, ...]
    ort_file: OrtFile

    def _rows(self) -> list[tuple[str, str]]:
        return [
            ("source", relative_to_repo(self.source)),
            ("ORT file", relative_to_repo(self.ort_path)),
            ("optimization style", self.optimization_style),
            ("ORT format version", self.ort_file.format_version),
            ("operators in the .ort graph", ", ".join(self.ort_file.op_types)),
            ("saved runtime optimizations", str(self.ort_file.runtime_optimization_records)),
            ("required_operators config", relative_to_repo(self.required_operators_config)),
            *(("  needs", line) for line in self.required_operators),
        ]

    def lines(self) -> list[str]:
        """The report as text lines (no sizes: they change with the ORT release; read ``onnx_bytes``/``ort_bytes``)."""
        return text_table(self._rows())

    def size_text(self) -> str:
        """``.onnx`` and ``.ort`` sizes, e.g. ``'.onnx 158.2 KiB, .ort 159.1 KiB'``."""
        return f".onnx {format_bytes(self.onnx_bytes)}, .ort {format_bytes(self.ort_bytes)}"

    def __str__(self) -> str:
        return "\n".join(self.lines())


def _ort_schema() -> Any:
    """The FlatBuffers reader of ORT format's root table, from the onnxruntime wheel. Importing it imports the
    package ``onnxruntime.tools``, which imports torch whenever torch is installed (for an export helper unrelated to
    ORT format: seconds and hundreds of MB in a kernel that never used torch). Unless torch is loaded already, it is
    hidden for that one import (``sys.modules["torch"] = None`` reads as "not installed") and unhidden after, so a
    later ``import torch`` works as ever."""
    hide = "torch" not in sys.modules
    if hide:
        sys.modules["torch"] = None  # type: ignore[assignment]
    try:
        from onnxruntime.tools.ort_format_model.ort_flatbuffers_py.fbs.InferenceSession import InferenceSession
    finally:
        if hide:
            del sys.modules["torch"]
    return InferenceSession


def read_ort_file(path: str | os.PathLike[str]) -> OrtFile:
    """Read an ``.ort`` file's header and graph. Raises :class:`~course_utils.errors.NotAnOnnxModelError` when the
    file is not in ORT format (an ``.onnx`` protobuf renamed ``.ort``, say)."""
    InferenceSession = _ort_schema()
    path = Path(path)
    if not path.is_file():
        raise ModelFileNotFoundError(f"No file at {relative_to_repo(path)}: convert the model to ORT format first.")
    data = path.read_bytes()
    if data[4:8] != ORT_MAGIC:
        raise NotAnOnnxModelError(
            f"{relative_to_repo(path)} is not an ORT-format file (it lacks the 'ORTM' identifier; a renamed .onnx "
            "file stays protobuf): convert it with python -m onnxruntime.tools.convert_onnx_models_to_ort."
        )
    session = InferenceSession.GetRootAs(data, 0)
    model = session.Model()
    graph = model.Graph()
    op_types = []
    for i in range(graph.NodesLength()):
        node = graph.Nodes(i)
        domain = (node.Domain() or b"").decode()
        op_types.append(f"{domain}:{node.OpType().decode()}" if domain else node.OpType().decode())
    optimizations = graph.RuntimeOptimizations()
    records = 0
    for i in range(optimizations.RecordsLength() if optimizations is not None else 0):
        records += optimizations.Records(i).RuntimeOptimizationRecordsLength()  # one entry per optimizer
    return OrtFile(
        path=path,
        format_version=(session.OrtVersion() or b"").decode(),
        ir_version=int(model.IrVersion()),
        producer=(model.ProducerName() or b"").decode(),
        op_types=tuple(op_types),
        runtime_optimization_records=int(records),
    )


def _config_lines(config: Path) -> tuple[str, ...]:
    """The operator lines of a required_operators config (its comment lines name the converted files' paths)."""
    return tuple(line.strip() for line in config.read_text().splitlines() if line.strip() and not line.startswith("#"))


def convert_to_ort(
    model: str | os.PathLike[str],
    *,
    optimization_style: OptimizationStyle = "Fixed",
    out_dir: Path | None = None,
) -> OrtConversion:
    """Convert ``model`` (an ``.onnx`` file) to ORT format with ONNX Runtime's converter, in a child process.

    ``optimization_style``: ``"Fixed"`` applies every optimization before saving (fused operators such as
    ``com.microsoft:FusedConv`` are baked in); ``"Runtime"`` applies the basic ones and saves the others as
    records a session replays only with the session option ``session.enable_saved_runtime_optimizations`` = 1
    (the tool's advice for NNAPI/CoreML, which take an unknown number of nodes). The files go to ``out_dir``
    (default ``artifacts/ort/``). A converter failure raises :class:`~course_utils.errors.OrtConversionError`
    with the tool's last message line.
    """
    if optimization_style not in ("Fixed", "Runtime"):
        raise ValueError(f"optimization_style must be 'Fixed' or 'Runtime', got {optimization_style!r}")
    source = Path(model)
    if not source.is_file():
        raise ModelFileNotFoundError(f"No model file at {relative_to_repo(source)}: export or save the model first.")
    if source.suffix != ".onnx":
        raise NotAnOnnxModelError(
            f"{source.name}: the converter reads files named *.onnx; save (or copy) the model with that extension."
        )
    folder = Path(out_dir) if out_dir is not None else paths.ARTIFACTS_DIR / "ort"
    folder.mkdir(parents=True, exist_ok=True)
    runtime = optimization_style == "Runtime"
    ort_path = folder / (source.stem + (".with_runtime_opt.ort" if runtime else ".ort"))
    config = folder / (
        source.stem + (".required_operators.with_runtime_opt.config" if runtime else ".required_operators.config")
    )
    # The files of an earlier run on the same bytes, style and release are kept: converting again gives the same
    # model (a re-run notebook skips the child process). The key file sits beside the .ort file.
    key_file = ort_path.with_name(ort_path.name + ".source")
    if (
        config.is_file()
        and key_file.is_file()
        and key_file.read_text() == _cache_key(source, optimization_style, ort_path)
    ):
        return _report(source, ort_path, optimization_style, config)
    key_file.unlink(missing_ok=True)
    command = converter_command(str(source), "--output_dir", str(folder), "--optimization_style", optimization_style)
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0 or not ort_path.is_file() or not config.is_file():
        said = [line.strip() for line in (done.stderr + done.stdout).splitlines() if line.strip()]
        last = next((line for line in reversed(said) if "Error" in line or "error" in line), said[-1] if said else "")
        raise OrtConversionError(
            f"The ORT converter failed on {source.name} (exit {done.returncode}): {last[:300]}. Check that "
            "ONNX Runtime loads the .onnx file (custom operators need --custom_op_library)."
        )
    key_file.write_text(_cache_key(source, optimization_style, ort_path))
    return _report(source, ort_path, optimization_style, config)


def _report(source: Path, ort_path: Path, optimization_style: OptimizationStyle, config: Path) -> OrtConversion:
    return OrtConversion(
        source=source,
        ort_path=ort_path,
        optimization_style=optimization_style,
        onnx_bytes=source.stat().st_size,
        ort_bytes=ort_path.stat().st_size,
        required_operators_config=config,
        required_operators=_config_lines(config),
        ort_file=read_ort_file(ort_path),
    )
