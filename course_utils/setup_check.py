"""The setup check: is this machine ready for the course? Each check says pass/warn/fail and how to fix it.

    python -m course_utils.setup_check          # or ./course check; exit code 1 if anything fails
    python -m course_utils.setup_check --json   # machine-readable

In a notebook: ``report = run_checks(); report`` renders a table (see notebooks/00_setup_check.ipynb).
"""

from __future__ import annotations

import argparse
import html
import importlib
import json
import os
import platform
import re
import subprocess
import sys
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.version import InvalidVersion, Version

from course_utils.machine import usable_cpus
from course_utils.models.data import Digits
from course_utils.onnxfile.render import html_table, text_table
from course_utils.paths import ARTIFACTS_DIR, REPO_ROOT

__all__ = [
    "Check",
    "Int8Case",
    "SetupReport",
    "check_artifacts_writable",
    "check_data",
    "check_netron",
    "check_packages",
    "check_providers",
    "check_python",
    "cpu_features",
    "cpu_flags",
    "int8_case",
    "main",
    "pinned_requirements",
    "run_checks",
]

OK, WARN, FAIL = "ok", "warn", "fail"
_MARK = {OK: "[ok]  ", WARN: "[warn]", FAIL: "[FAIL]"}
# The packages the setup check reports on (import name differs from the distribution name for some).
KEY_PACKAGES = [
    "onnx",
    "onnxruntime",
    "onnxscript",
    "torch",
    "tensorflow-cpu",
    "tensorflow",
    "tf2onnx",
    "scikit-learn",
    "skl2onnx",
    "numpy",
    "netron",
    "jupyterlab",
    "jupyter-server-proxy",
    "ipywidgets",
    "matplotlib",
]
# SIMD features ONNX Runtime and the frameworks use for fast CPU kernels (VNNI matters for int8 quantization).
CPU_FLAGS = [
    "sse4_2",
    "avx",
    "avx2",
    "fma",
    "avx512f",
    "avx512_vnni",
    "avx_vnni",
    "avx512_bf16",
    "amx_tile",
    "amx_int8",
    "asimd",
    "asimddp",
    "sve",
]
# macOS names its features in sysctl (hw.optional.*); these map them to Linux's /proc/cpuinfo names.
_MACOS_FLAGS = {
    "hw.optional.sse4_2": "sse4_2",
    "hw.optional.avx1_0": "avx",
    "hw.optional.avx2_0": "avx2",
    "hw.optional.fma": "fma",
    "hw.optional.avx512f": "avx512f",
    "hw.optional.avx512vnni": "avx512_vnni",
    "hw.optional.neon": "asimd",
    "hw.optional.arm.FEAT_DotProd": "asimddp",
}


@dataclass(frozen=True)
class Check:
    """One line of the report."""

    name: str
    status: str
    detail: str
    fix: str = ""


@dataclass
class SetupReport:
    """All checks; prints as a text table, renders as HTML in Jupyter."""

    checks: list[Check] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """True unless a check failed (warnings do not stop the course)."""
        return all(c.status != FAIL for c in self.checks)

    def counts(self) -> dict[str, int]:
        """How many checks ended ok, warn and fail."""
        return {s: sum(c.status == s for c in self.checks) for s in (OK, WARN, FAIL)}

    def summary(self) -> str:
        """One line: the counts and the verdict."""
        n = self.counts()
        verdict = "ready for the course" if self.passed else "NOT ready: fix the [FAIL] lines"
        return f"{len(self.checks)} checks: {n[OK]} ok, {n[WARN]} warnings, {n[FAIL]} failed -> {verdict}"

    def _rows(self) -> list[list[str | list[str]]]:
        """One row per check: mark, name, detail (and the fix, when not ok); text and HTML both render these."""
        return [
            [_MARK[c.status], c.name, [c.detail, *([f"fix: {c.fix}"] if c.fix and c.status != OK else [])]]
            for c in self.checks
        ]

    def __str__(self) -> str:
        return "\n".join([*text_table(self._rows()), self.summary()])

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        flags = [{OK: True, WARN: None, FAIL: False}[c.status] for c in self.checks]
        table = html_table(self._rows(), ["status", "check", "detail / how to fix"], flags=flags)
        return f"{table}<p><b>{html.escape(self.summary())}</b></p>"

    def overview(self) -> str:
        """Status and name of each check, without machine-specific details (what the notebook compares)."""
        return "\n".join(f"{_MARK[c.status]} {c.name}" for c in self.checks) + "\n" + self.summary()

    def to_json(self) -> str:
        """The report as JSON (``passed`` and every check), for scripts and CI."""
        return json.dumps({"passed": self.passed, "checks": [asdict(c) for c in self.checks]}, indent=2)


def pinned_requirements(path: Path | None = None) -> dict[str, Requirement]:
    """The requirements file as ``{canonical name: Requirement}`` (comments and options skipped)."""
    path = path or REPO_ROOT / "requirements.txt"
    pins: dict[str, Requirement] = {}
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        try:
            req = Requirement(line)
        except InvalidRequirement:
            continue
        if req.marker is not None and not req.marker.evaluate():
            continue  # a pin for another platform (e.g. tensorflow on macOS, tensorflow-cpu elsewhere)
        pins[_canonical(req.name)] = req
    return pins


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def check_python() -> Check:
    """Python 3.11 is what the course is pinned and tested on."""
    version = platform.python_version()
    if sys.version_info[:2] == (3, 11):
        return Check("python", OK, f"Python {version}")
    return Check(
        "python",
        WARN,
        f"Python {version}; the course is pinned and tested on 3.11",
        "create the environment with Python 3.11 (./course setup uses python3.11 when present, or PYTHON=...)",
    )


def check_packages(pins: dict[str, Requirement] | None = None, names: list[str] | None = None) -> list[Check]:
    """Installed version of each key package against its pin in requirements.txt."""
    pins = pins if pins is not None else pinned_requirements()
    if names is None:
        # Key packages pinned for this platform only (tensorflow-cpu on Linux/Windows, tensorflow on macOS).
        names = [name for name in KEY_PACKAGES if _canonical(name) in pins]
    checks = []
    for name in names:
        req = pins.get(_canonical(name))
        spec = str(req.specifier) if req else "(not pinned)"
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            checks.append(
                Check(
                    name,
                    FAIL,
                    f"not installed (wanted {spec})",
                    "run ./course setup (or pip install -r requirements.txt)",
                )
            )
            continue
        try:
            # A local build label (torch 2.13.0+cpu) satisfies the pin 2.13.0.
            matches = req is None or req.specifier.contains(Version(installed).public, prereleases=True)
        except InvalidVersion:
            matches = False
        if matches:
            checks.append(Check(name, OK, f"{installed} (pin {spec})"))
        else:
            checks.append(
                Check(
                    name,
                    WARN,
                    f"{installed} installed, pin is {spec}: lessons may behave differently",
                    f"pip install '{name}{spec}' (or rerun ./course setup)",
                )
            )
    return checks


def _linux_flags(cpuinfo: Path) -> set[str]:
    for line in cpuinfo.read_text(errors="replace").splitlines():
        if line.startswith(("flags", "Features")):  # x86 says "flags", Arm says "Features"
            return set(line.split(":", 1)[1].split())
    return set()


def _macos_flags(sysctl_output: str) -> set[str]:
    flags = set()
    for line in sysctl_output.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in _MACOS_FLAGS and value.strip() == "1":
            flags.add(_MACOS_FLAGS[key.strip()])
    return flags


def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo"), system: str = sys.platform) -> set[str]:
    """This CPU's feature flags, with Linux's names: ``cpuinfo`` on Linux, ``sysctl hw.optional`` on macOS;
    an empty set where neither can be read (Windows, containers hiding /proc)."""
    try:
        if cpuinfo.exists():
            return _linux_flags(cpuinfo)
        if system == "darwin":
            result = subprocess.run(["sysctl", "hw.optional"], capture_output=True, text=True, timeout=5)
            return _macos_flags(result.stdout)
    except (OSError, subprocess.SubprocessError):
        pass
    return set()


@dataclass(frozen=True)
class Int8Case:
    """Which int8 situation a CPU is in (lesson 07): ``key``, a one-line ``label``, and what to expect."""

    key: str
    label: str
    expect: str


def int8_case(flags: Iterable[str], machine: str = "") -> Int8Case:
    """Classify a CPU for int8 inference from its feature flags (Linux names, as :func:`cpu_flags` returns).

    VNNI (AVX-512 VNNI, AVX-VNNI or AMX) on x86 and the dot-product instructions on Arm multiply int8 in one
    step; without them int8 is still smaller but gains less speed, and on x86 U8S8 can saturate."""
    have = set(flags)
    arm = machine.lower() in ("arm64", "aarch64") or bool(have & {"asimd", "neon"})
    if have & {"avx512_vnni", "avx_vnni", "amx_int8"}:
        return Int8Case(
            "x86-vnni",
            "x86 with VNNI: fast int8",
            "static QDQ with U8 activations fuses every Conv into QLinearConv and runs several times faster "
            "than fp32; reduce_range is not needed",
        )
    if "avx512f" in have or "avx512bw" in have:
        return Int8Case(
            "x86-avx512",
            "x86 with AVX-512, no VNNI: int8 gains less",
            "int8 is smaller and usually faster, less than with VNNI; U8S8 products can saturate: quantize with "
            "reduce_range=True or set session.x64quantprecision",
        )
    if "avx2" in have:
        return Int8Case(
            "x86-avx2",
            "x86 with AVX2 only: int8 gains less",
            "int8 is smaller, and QLinearConv is typically faster than fp32 but by less than on VNNI CPUs; "
            "U8S8 products can saturate: quantize with reduce_range=True or set session.x64quantprecision",
        )
    if arm and "asimddp" in have:
        return Int8Case(
            "arm-dotprod",
            "Arm with dot-product instructions: fast int8",
            "static QDQ int8 runs faster than fp32; ONNX Runtime fuses signed int8 activations on Arm by default",
        )
    if arm:
        return Int8Case(
            "arm-no-dotprod",
            "Arm without dot-product instructions: int8 gains little",
            "int8 files are 4x smaller; speed-ups over fp32 are small",
        )
    return Int8Case(
        "unknown",
        "CPU features unknown: measure",
        "the setup check could not read this CPU's flags; time the int8 and fp32 models to see which is faster",
    )


def cpu_features() -> dict[str, object]:
    """Architecture, core count, the SIMD flags that matter for CPU inference speed, and the int8 case."""
    flags = cpu_flags()
    machine = platform.machine()
    return {
        "machine": machine,
        "cores": usable_cpus(),  # the affinity mask and the container's quota, not the host's count
        "flags": [f for f in CPU_FLAGS if f in flags],
        "int8": int8_case(flags, machine).label,
    }


def check_cpu() -> Check:
    """Cores, SIMD features and the int8 case (warns on a single core)."""
    info = cpu_features()
    flags = ", ".join(info["flags"]) or "no SIMD flags readable"  # type: ignore[arg-type]
    detail = f"{info['machine']}, {info['cores']} cores, {flags}; {info['int8']}"
    if info["cores"] < 2:  # type: ignore[operator]
        return Check("cpu", WARN, detail, "lessons run on one core, but benchmarks and exports will be slow")
    return Check("cpu", OK, detail)


def check_providers() -> list[Check]:
    """ONNX Runtime's execution providers: CPU must be there; GPU ones are optional and explained."""
    try:
        import onnxruntime as ort
    except ImportError:
        return [Check("onnxruntime providers", FAIL, "onnxruntime does not import", "run ./course setup")]
    providers = ort.get_available_providers()
    checks = [
        Check(
            "onnxruntime providers",
            OK if "CPUExecutionProvider" in providers else FAIL,
            ", ".join(providers),
            "reinstall onnxruntime: pip install --force-reinstall -r requirements.txt",
        )
    ]
    gpu = [p for p in providers if p in ("CUDAExecutionProvider", "TensorrtExecutionProvider", "ROCMExecutionProvider")]
    if gpu:
        checks.append(Check("gpu providers", OK, ", ".join(gpu)))
    else:
        checks.append(
            Check(
                "gpu providers",
                OK,
                "none (CPU-only onnxruntime): every lesson runs on CPU; GPU cells explain what they would do",
            )
        )
    return checks


def _torch_accuracy(digits: Digits) -> float:
    import torch

    from course_utils.models.data import load_digits_cnn

    with torch.no_grad():
        logits = load_digits_cnn()(torch.from_numpy(digits.x_test))
    return float((logits.argmax(1).numpy() == digits.y_test).mean())


def _keras_accuracy(digits: Digits) -> float:
    # Quiet TensorFlow's C++ start-up notes (they would land in the report's output).
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    from course_utils.models.data import load_digits_keras

    probabilities = load_digits_keras().predict(digits.nhwc(digits.x_test), verbose=0)
    return float((probabilities.argmax(1) == digits.y_test).mean())


def check_data(load_models: bool = True) -> list[Check]:
    """The committed data files load, and the models reach the test accuracy data/manifest.json states."""
    from course_utils.models.data import load_digits, load_manifest

    try:
        manifest = load_manifest()
        digits = load_digits()
    except (FileNotFoundError, OSError, ValueError, KeyError) as e:
        return [Check("data", FAIL, str(e), "restore data/ from git (git checkout -- data) or run ./course data")]
    checks = [Check("data: digits.npz", OK, f"{len(digits.x_train)} train / {len(digits.x_test)} test images")]
    for key, accuracy_of in (("torch_cnn", _torch_accuracy), ("keras_cnn", _keras_accuracy)):
        entry = manifest.get(key, {})
        name = entry.get("file", key)
        stated = entry.get("test_accuracy")
        if not load_models:
            present = (REPO_ROOT / "data" / name).exists()
            checks.append(Check(f"data: {name}", OK if present else FAIL, "present" if present else "missing"))
            continue
        try:
            measured = accuracy_of(digits)
        except ImportError as e:
            checks.append(Check(f"data: {name}", FAIL, f"framework missing: {e}", "run ./course setup"))
            continue
        except Exception as e:  # a corrupt or missing file: say which and how to restore it
            checks.append(
                Check(f"data: {name}", FAIL, f"does not load: {type(e).__name__}: {e}", "git checkout -- data")
            )
            continue
        if stated is not None and abs(measured - stated) > 1e-3:
            checks.append(
                Check(
                    f"data: {name}",
                    WARN,
                    f"test accuracy {measured:.4f}, manifest says {stated}",
                    "a different framework version? ./course data rebuilds the models",
                )
            )
        else:
            checks.append(Check(f"data: {name}", OK, f"loads; test accuracy {measured:.4f}"))
    return checks


def check_netron() -> Check:
    """Netron's Python package and its web app files (the graph views serve them)."""
    try:
        netron = importlib.import_module("netron")
    except ImportError:
        return Check("netron", FAIL, "not importable", "pip install 'netron>=9.3.3'")
    static = Path(netron.__file__ or ".").parent / "index.html"
    if not static.exists():
        return Check("netron", FAIL, "installed without its web app files", "pip install --force-reinstall netron")
    return Check("netron", OK, f"{netron.__version__}, web app files present")


def check_artifacts_writable() -> Check:
    """Lessons can write generated files to the artifacts folder."""
    try:
        ARTIFACTS_DIR.mkdir(parents=True, exist_ok=True)
        probe = ARTIFACTS_DIR / ".write-test"
        probe.write_text("ok")
        probe.unlink()
    except OSError as e:
        return Check("artifacts folder", FAIL, f"cannot write: {e}", "set COURSE_ARTIFACTS_DIR to a writable folder")
    return Check("artifacts folder", OK, "writable (generated files go to artifacts/, git-ignored)")


def run_checks(include_machine: bool = True) -> SetupReport:
    """Run every check. ``include_machine=False`` leaves out the CPU line (it differs between machines)."""
    steps: list[Callable[[], Check | list[Check]]] = [check_python, check_packages, check_providers]
    if include_machine:
        steps.insert(1, check_cpu)
    steps += [check_data, check_netron, check_artifacts_writable]
    report = SetupReport()
    for step in steps:
        result = step()
        report.checks.extend(result if isinstance(result, list) else [result])
    return report


def main(argv: list[str] | None = None) -> int:
    """Command-line entry: print the report (or ``--json``); exit code 1 when a check fails."""
    parser = argparse.ArgumentParser(description="Check this machine is ready for ONNX in Practice.")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    report = run_checks()
    print(report.to_json() if args.json else report)
    return 0 if report.passed else 1


if __name__ == "__main__":
    sys.exit(main())
