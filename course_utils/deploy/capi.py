"""ONNX Runtime's C API, reached from Python with ``ctypes``: the library every other language binding calls.

The onnxruntime wheel ships the C API library beside its Python extension (``onnxruntime/capi/libonnxruntime.so.<version>``
on Linux, ``libonnxruntime.<version>.dylib`` on macOS, ``onnxruntime.dll`` on Windows). Its one exported entry point is
``OrtGetApiBase()``, which returns a struct of two function pointers (``onnxruntime_c_api.h``)::

    struct OrtApiBase {
      const OrtApi* (*GetApi)(uint32_t version);   // the table of every C function, NULL for a newer version
      const char* (*GetVersionString)(void);       // "1.32.0"
    };

C++ (``onnxruntime_cxx_api.h`` wraps the same table), C# (``Microsoft.ML.OnnxRuntime`` on NuGet), Java
(``com.microsoft.onnxruntime:onnxruntime`` on Maven Central) and JavaScript on Node.js (``onnxruntime-node`` on npm)
all call this table. The Python extension module is built from the same C++ sources with the runtime compiled in
(on Linux it does not load ``libonnxruntime.so``: :func:`mapped_onnxruntime_libraries` shows which of the package's
libraries a process has mapped).
"""

from __future__ import annotations

import ctypes
import sys
from dataclasses import dataclass
from pathlib import Path

from course_utils.errors import CourseError

__all__ = ["CApi", "c_api", "c_library_path", "mapped_onnxruntime_libraries"]

_PATTERNS = {"linux": "libonnxruntime.so*", "darwin": "libonnxruntime*.dylib", "win32": "onnxruntime.dll"}


class _OrtApiBase(ctypes.Structure):
    _fields_ = [
        ("GetApi", ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_uint32)),
        ("GetVersionString", ctypes.CFUNCTYPE(ctypes.c_char_p)),
    ]


@dataclass(frozen=True)
class CApi:
    """What the C library says about itself: its file, ``GetVersionString()``, and ``api_version``: the
    ``ORT_API_VERSION`` asked of ``GetApi`` (ONNX Runtime numbers it after the minor release: 32 for 1.32) and
    ``api_table``, whether ``GetApi`` returned a table for it (NULL, and a message on stderr, for a newer one)."""

    library: Path
    version: str
    api_version: int
    api_table: bool


def c_library_path() -> Path:
    """The C API library inside the installed onnxruntime package (``capi/libonnxruntime.so.<version>`` on Linux);
    :class:`~course_utils.errors.CourseError` when the package has none (a build without it)."""
    import onnxruntime

    folder = Path(onnxruntime.__file__).parent / "capi"
    pattern = _PATTERNS.get(sys.platform, "libonnxruntime.so*")
    found = sorted(p for p in folder.glob(pattern) if "providers" not in p.name)
    if not found:
        raise CourseError(
            f"no {pattern} in {folder}: this onnxruntime package ships no C API library; install the PyPI wheel "
            "(pip install onnxruntime) or the release archive for C/C++"
        )
    return found[-1]


def c_api(library: str | Path | None = None) -> CApi:
    """Load the C library with ``ctypes``, call ``OrtGetApiBase()`` and read the struct's two function pointers."""
    path = Path(library) if library is not None else c_library_path()
    lib = ctypes.CDLL(str(path))
    lib.OrtGetApiBase.restype = ctypes.POINTER(_OrtApiBase)
    lib.OrtGetApiBase.argtypes = []
    base = lib.OrtGetApiBase().contents
    version = base.GetVersionString().decode()
    api_version = int(version.split(".")[1])
    return CApi(path, version, api_version, bool(base.GetApi(api_version)))


def mapped_onnxruntime_libraries() -> list[str] | None:
    """File names of the onnxruntime package's shared libraries this process has mapped (Linux: read from
    ``/proc/self/maps``), sorted; None where that file does not exist."""
    maps = Path("/proc/self/maps")
    if not maps.exists():
        return None
    names = set()
    for line in maps.read_text().splitlines():
        path = line.split()[-1] if len(line.split()) >= 6 else ""
        if "/onnxruntime/capi/" in path:
            names.add(Path(path).name)
    return sorted(names)
