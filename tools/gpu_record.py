"""Record what ONNX Runtime's CUDA and TensorRT providers do with the course's ResNet-18, on a machine with a GPU.

Lesson 05 was written without a GPU, so it states no GPU number. This script is the prepared way to get real ones:

    python tools/gpu_record.py --out artifacts/gpu_record.json          # the whole recording
    python tools/gpu_record.py --runs 200 --providers CUDA               # CUDA only, more warm runs
    python tools/gpu_record.py --venv /tmp/ort-gpu --skip-install       # reuse an environment made earlier

It runs in two stages, so the course's own environment (CPU ``onnxruntime``) is never touched (``onnxruntime`` and
``onnxruntime-gpu`` share an import name and must not be installed together):

1. *prepare* (the course's Python): export ResNet-18 to ONNX with ``course_utils``, create a virtual environment
   (``artifacts/gpu_record/venv`` by default), ``pip install onnxruntime-gpu[cuda,cudnn]`` in it, and the TensorRT
   libraries where pip provides them (``tensorrt-cu12``; a failure there is recorded, not fatal);
2. *measure* (the new environment's Python, this same file with ``--measure MODEL``): for each provider, create a
   session with ``session.record_ep_graph_assignment_info`` switched on and record the providers the session uses,
   the nodes each provider took, the session creation and the first run (for TensorRT: the engine build), the warm
   latency (median and p90 of ``--runs`` runs) and the largest difference from the CPU provider's output; then write
   one JSON file with ``nvidia-smi``'s description of the machine.

Nothing is ever made up: a provider the session did not use gets ``"used": false`` and no timing; without
``nvidia-smi`` (no NVIDIA GPU), or without a CUDA provider in the environment, the script prints one line saying so
and exits with status 2, writing nothing. The measure stage
imports only the standard library, numpy and onnxruntime.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO_ROOT / "artifacts" / "gpu_record.json"
DEFAULT_VENV = REPO_ROOT / "artifacts" / "gpu_record" / "venv"
SCHEMA = 1
ASSIGNMENT_KEY = "session.record_ep_graph_assignment_info"
PROVIDERS = {"CUDA": "CUDAExecutionProvider", "TensorRT": "TensorrtExecutionProvider"}
# TensorRT: no engine cache, so the first run really builds the engine; fp32, so parity with the CPU is comparable.
PROVIDER_OPTIONS: dict[str, dict[str, str]] = {
    "CUDAExecutionProvider": {},
    "TensorrtExecutionProvider": {"trt_engine_cache_enable": "False", "trt_fp16_enable": "False"},
}
EXIT_NO_CUDA = 2


class NoCudaProvider(RuntimeError):
    """The onnxruntime in use has no CUDA provider (or no GPU): there is nothing to record."""


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line (see the module docstring). ``--measure`` selects the second stage."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="the JSON file to write")
    parser.add_argument("--runs", type=int, default=100, help="warm runs per provider (the median is reported)")
    parser.add_argument("--warmup", type=int, default=10, help="untimed runs after the first one")
    parser.add_argument(
        "--providers", nargs="+", choices=sorted(PROVIDERS), default=["CUDA", "TensorRT"], help="what to record"
    )
    parser.add_argument("--venv", type=Path, default=DEFAULT_VENV, help="the environment with onnxruntime-gpu")
    parser.add_argument("--ort-version", default=None, help="pin onnxruntime-gpu (default: the course's version)")
    parser.add_argument("--skip-install", action="store_true", help="reuse --venv as it is")
    parser.add_argument("--measure", type=Path, default=None, help=argparse.SUPPRESS)  # stage 2: the model
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error(f"--runs must be at least 1, got {args.runs}")
    if args.warmup < 0:
        parser.error(f"--warmup must be 0 or more, got {args.warmup}")
    return args


def write_json(record: dict[str, Any], path: Path) -> Path:
    """Write ``record`` as indented, key-sorted JSON (one trailing newline), atomically: a reader never sees half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(record, indent=2, sort_keys=True, allow_nan=False) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path


def describe_machine() -> dict[str, Any]:
    """The host and, where ``nvidia-smi`` exists, each GPU's name, memory, driver and CUDA version."""
    machine: dict[str, Any] = {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "gpus": [],
        "nvidia_smi": None,
    }
    smi = shutil.which("nvidia-smi")
    if smi is None:
        machine["nvidia_smi"] = "not found on PATH"
        return machine
    query = subprocess.run(
        [smi, "--query-gpu=name,memory.total,driver_version,compute_cap", "--format=csv,noheader"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    for line in query.stdout.splitlines():
        fields = [field.strip() for field in line.split(",")]
        if len(fields) == 4:
            machine["gpus"].append(dict(zip(("name", "memory", "driver", "compute_capability"), fields, strict=True)))
    header = subprocess.run([smi], capture_output=True, text=True, timeout=60, check=False).stdout
    machine["nvidia_smi"] = next((line.strip(" |") for line in header.splitlines() if "CUDA Version" in line), None)
    return machine


def nodes_per_provider(session: Any) -> dict[str, int]:
    """How many nodes each provider took, from ``get_provider_graph_assignment_info()`` (needs ``ASSIGNMENT_KEY``)."""
    counts: Counter[str] = Counter()
    for subgraph in session.get_provider_graph_assignment_info():
        counts[subgraph.ep_name] += len(subgraph.get_nodes())
    return dict(sorted(counts.items()))


def record_provider(
    ort: Any, model: Path, provider: str, feed: dict[str, Any], reference: Any, runs: int, warmup: int
) -> dict[str, Any]:
    """Create a session that asks for ``provider`` (then the CPU) and record what it really did.

    ``ort`` is the imported onnxruntime module (passed in so the measure stage is the only place that imports it).
    A provider the session does not use gets ``used: False`` and no timings.
    """
    import numpy as np

    options = ort.SessionOptions()
    options.add_session_config_entry(ASSIGNMENT_KEY, "1")
    requested = [(provider, PROVIDER_OPTIONS.get(provider, {}))]
    if provider != "CPUExecutionProvider":
        requested.append(("CPUExecutionProvider", {}))
    entry: dict[str, Any] = {"requested": [name for name, _ in requested], "options": dict(requested[0][1])}
    start = time.perf_counter()
    try:
        session = ort.InferenceSession(str(model), options, providers=requested)
    except Exception as error:  # a provider whose libraries are missing raises from the native code
        entry.update(used=False, error=f"{type(error).__name__}: {str(error).splitlines()[0]}")
        return entry
    entry["session_create_s"] = round(time.perf_counter() - start, 4)
    entry["providers_used"] = session.get_providers()
    entry["used"] = provider in entry["providers_used"]
    if not entry["used"]:
        entry["error"] = f"{provider} was requested but the session runs on {entry['providers_used']}"
        return entry
    entry["nodes_per_provider"] = nodes_per_provider(session)
    start = time.perf_counter()
    (first,) = session.run(None, feed)[:1]
    entry["first_run_s"] = round(time.perf_counter() - start, 4)  # TensorRT builds its engine here
    for _ in range(warmup):
        session.run(None, feed)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        session.run(None, feed)
        times.append((time.perf_counter() - start) * 1e3)
    times.sort()
    entry["warm_runs"] = runs
    entry["warm_median_ms"] = round(statistics.median(times), 4)
    entry["warm_p90_ms"] = round(times[min(runs - 1, int(0.9 * runs))], 4)
    entry["max_abs_diff_vs_cpu"] = float(np.max(np.abs(first - reference)))
    entry["same_top1_as_cpu"] = bool((first.argmax(axis=1) == reference.argmax(axis=1)).all())
    return entry


def measure(model: Path, providers: Sequence[str], runs: int, warmup: int) -> dict[str, Any]:
    """Stage 2: record each provider on ``model``. Raises :class:`NoCudaProvider` when CUDA is not available."""
    import numpy as np
    import onnxruntime as ort

    if hasattr(ort, "preload_dlls"):
        ort.preload_dlls()  # CUDA and cuDNN from the nvidia-* pip packages, where they came that way
    available = ort.get_available_providers()
    if "CUDAExecutionProvider" not in available:
        raise NoCudaProvider(
            f"onnxruntime {ort.__version__} has no CUDAExecutionProvider (available: {', '.join(available)}): "
            "run this on a machine with an NVIDIA GPU, with onnxruntime-gpu (not onnxruntime) installed"
        )
    feed = {"image": np.random.default_rng(0).random((1, 3, 224, 224), dtype=np.float32)}
    cpu = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    (reference,) = cpu.run(None, feed)[:1]
    record: dict[str, Any] = {
        "schema": SCHEMA,
        "recorded_at_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": describe_machine(),
        "onnxruntime": ort.__version__,
        "available_providers": available,
        "model": {"name": "ResNet-18 (course_utils.models.resnet18, random weights)", "file": model.name},
        "input": {"image": [1, 3, 224, 224]},
        "providers": {},
    }
    for short in providers:
        name = PROVIDERS[short]
        record["providers"][short] = record_provider(ort, model, name, feed, reference, runs, warmup)
    return record


def _venv_python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def prepare(args: argparse.Namespace) -> tuple[Path, dict[str, str], dict[str, Any]]:
    """Stage 1: export the model and make the environment. Returns the model, the environment for stage 2, and
    notes about the installation (what was installed, what failed)."""
    sys.path.insert(0, str(REPO_ROOT))
    from course_utils.providers import course_model

    model = course_model("ResNet-18")
    notes: dict[str, Any] = {}
    python = _venv_python(args.venv)
    if not args.skip_install:
        import importlib.metadata

        version = args.ort_version or importlib.metadata.version("onnxruntime")
        subprocess.run([sys.executable, "-m", "venv", str(args.venv)], check=True)
        pip = [str(python), "-m", "pip", "install", "--quiet"]
        subprocess.run([*pip, "--upgrade", "pip"], check=True)
        subprocess.run([*pip, "numpy", f"onnxruntime-gpu[cuda,cudnn]=={version}"], check=True)
        notes["onnxruntime-gpu"] = version
        trt = subprocess.run([*pip, "tensorrt-cu12"], capture_output=True, text=True, check=False)
        notes["tensorrt"] = "installed (tensorrt-cu12)" if trt.returncode == 0 else "pip install tensorrt-cu12 failed"
    elif not python.exists():
        raise SystemExit(f"--skip-install: {args.venv} has no Python; run once without --skip-install")
    env = dict(os.environ)
    # pip's TensorRT puts libnvinfer in site-packages/tensorrt_libs, which the loader does not search by itself.
    trt_dirs = sorted(str(p) for p in args.venv.glob("lib*/python3*/site-packages/tensorrt_libs"))
    if trt_dirs:
        env["LD_LIBRARY_PATH"] = os.pathsep.join([*trt_dirs, env.get("LD_LIBRARY_PATH", "")]).rstrip(os.pathsep)
    return model, env, notes


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.measure is not None:
        try:
            record = measure(args.measure, args.providers, args.runs, args.warmup)
        except NoCudaProvider as error:
            print(f"gpu_record: {error}", file=sys.stderr)
            return EXIT_NO_CUDA
        write_json(record, args.out)
        print(f"gpu_record: wrote {args.out}")
        return 0
    if shutil.which("nvidia-smi") is None:
        # Checked before anything is installed: onnxruntime-gpu lists CUDA even where no GPU is present.
        print(
            "gpu_record: no NVIDIA GPU here (nvidia-smi is not on PATH): nothing was installed or recorded",
            file=sys.stderr,
        )
        return EXIT_NO_CUDA
    model, env, notes = prepare(args)
    stage2 = [str(_venv_python(args.venv)), str(Path(__file__).resolve()), "--measure", str(model)]
    stage2 += ["--out", str(args.out), "--runs", str(args.runs), "--warmup", str(args.warmup)]
    stage2 += ["--providers", *args.providers]
    code = subprocess.run(stage2, env=env, check=False).returncode
    if code == 0 and notes:
        record = json.loads(args.out.read_text(encoding="utf-8"))
        record["install"] = notes
        write_json(record, args.out)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
