"""This machine as a benchmark sees it: the CPUs this process may use, how busy they are, the CPU model and the
library versions a measurement depends on. Standard library only, so the setup check can use it too.

* :func:`usable_cpus`: the CPUs this process may run on, from the affinity mask (``os.sched_getaffinity``) and the
  container's CPU quota (cgroup v2 ``cpu.max``, cgroup v1 ``cpu.cfs_quota_us`` / ``cpu.cfs_period_us``).
  ``os.cpu_count()`` counts the host's CPUs: in a container limited to 2 CPUs on a 64-core host it says 64.
* :func:`cgroup_cpu_limit`: the quota alone, in CPUs (``None`` when there is none).
* :func:`machine_load`: the 1-minute load average per usable CPU.
* :func:`available_memory`: the memory a new process can still take (``MemAvailable``, capped by the cgroup's
  memory limit), and :func:`parallel_processes`: how many memory-hungry processes fit side by side.
* :func:`cpu_model`, :func:`library_versions`, :func:`environment`: what a benchmark's JSON records.
"""

from __future__ import annotations

import math
import os
import platform
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

__all__ = [
    "CGROUP_ROOT",
    "PROC_MEMINFO",
    "PROC_SELF_CGROUP",
    "available_memory",
    "cgroup_cpu_limit",
    "cpu_model",
    "environment",
    "library_versions",
    "machine_load",
    "parallel_processes",
    "physical_cores",
    "usable_cpus",
]

#: Where the cgroup file system is mounted (Linux).
CGROUP_ROOT = Path("/sys/fs/cgroup")
#: Where Linux describes each CPU's place (its core and package).
CPU_SYSFS = Path("/sys/devices/system/cpu")
#: Where this process's cgroup membership is listed (Linux).
PROC_SELF_CGROUP = Path("/proc/self/cgroup")
#: Where Linux says how much memory is free or reclaimable (``MemAvailable``).
PROC_MEMINFO = Path("/proc/meminfo")
#: A cgroup v1 memory limit at or above this means "no limit" (the kernel writes a huge page-aligned number).
_NO_MEMORY_LIMIT = 1 << 60
#: The packages whose versions change a timing (their kernels do the work).
_LIBRARIES = ("numpy", "onnxruntime", "torch", "tensorflow", "onnx")


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return None


def _own_cgroup_dirs(root: Path, controller: str = "cpu") -> list[Path]:
    """The cgroup folders that limit this process, innermost first: those named in ``/proc/self/cgroup`` (v2 line
    ``0::/path``; v1 lines whose controllers include ``controller``), then the root (a container sees its own
    cgroup as the root)."""
    folders: list[Path] = []
    text = _read(PROC_SELF_CGROUP) or ""
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        _, controllers, relative = parts
        relative = relative.lstrip("/")
        if controllers == "":  # cgroup v2
            base = root
        elif controller in controllers.split(","):  # cgroup v1: the controller's own hierarchy
            base = root / controllers if (root / controllers).is_dir() else root / controller
        else:
            continue
        path = base / relative
        while True:  # a limit on a parent folder limits this process too
            folders.append(path)
            if path == base or path.parent == path:
                break
            path = path.parent
    for fallback in (
        (root, root / controller, root / "cpu,cpuacct") if controller == "cpu" else (root, root / controller)
    ):
        if fallback not in folders:
            folders.append(fallback)
    return folders


def _limit_in(folder: Path) -> float | None:
    """The CPU quota a cgroup folder sets, in CPUs, or ``None`` (no file, or no limit: ``max`` / ``-1``)."""
    v2 = _read(folder / "cpu.max")  # "max 100000" or "150000 100000"
    if v2:
        quota, _, period = v2.partition(" ")
        try:
            if quota != "max" and float(period or 100000) > 0:
                return float(quota) / float(period or 100000)
        except ValueError:
            return None
        return None
    quota_text, period_text = _read(folder / "cpu.cfs_quota_us"), _read(folder / "cpu.cfs_period_us")
    if quota_text is None or period_text is None:
        return None
    try:
        quota_us, period_us = float(quota_text), float(period_text)
    except ValueError:
        return None
    return quota_us / period_us if quota_us > 0 and period_us > 0 else None


def cgroup_cpu_limit(root: str | os.PathLike[str] = CGROUP_ROOT) -> float | None:
    """The CPU quota of this process's cgroup in CPUs (``1.5`` = one and a half CPUs of time per second), the
    smallest along its cgroup path, or ``None`` where there is none (no cgroups, no quota, not Linux)."""
    limits = [limit for folder in _own_cgroup_dirs(Path(root)) if (limit := _limit_in(folder)) is not None]
    return min(limits) if limits else None


def usable_cpus(root: str | os.PathLike[str] = CGROUP_ROOT) -> int:
    """How many CPUs this process can keep busy: the CPUs in its affinity mask (``taskset``, a container's
    ``--cpuset-cpus``), capped by its cgroup's CPU quota rounded up (``--cpus 1.5`` lets 2 threads run, each
    part of the time). Never less than 1. Use it for thread counts and for load per CPU."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # macOS, Windows
        cpus = os.cpu_count() or 1
    limit = cgroup_cpu_limit(root)
    if limit is not None:
        cpus = min(cpus, math.ceil(limit))
    return max(1, cpus)


def physical_cores(root: str | os.PathLike[str] = CGROUP_ROOT) -> float:
    """How many cores' worth of floating-point units this process can use: the distinct physical cores of its
    affinity mask (two hardware threads of one core, SMT siblings, count once; read from
    ``/sys/devices/system/cpu/cpuN/topology``), capped by the cgroup quota (which may be fractional: 1.5).
    Where the topology cannot be read, every usable CPU counts as a core."""
    try:
        cpus = sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = list(range(os.cpu_count() or 1))
    cores = set()
    for cpu in cpus:
        topology = CPU_SYSFS / f"cpu{cpu}" / "topology"
        core, package = _read(topology / "core_id"), _read(topology / "physical_package_id")
        cores.add((package, core) if core is not None else ("cpu", str(cpu)))
    count: float = max(1, len(cores))
    limit = cgroup_cpu_limit(root)
    return min(count, limit) if limit is not None else count


def machine_load(root: str | os.PathLike[str] = CGROUP_ROOT) -> float | None:
    """The 1-minute load average per CPU this process may use (:func:`usable_cpus`), or ``None`` where the OS has
    no load average (Windows). Above about 1 per CPU, threads queue for a CPU and timings stretch.

    The load average counts the runnable threads of the whole machine (or virtual machine), also in a container;
    dividing it by the CPUs a container may use errs towards "busy" on a large host: a verdict then asks for a
    rerun instead of concluding, never the other way round."""
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):
        return None
    return load / usable_cpus(root)


def _memory_headroom(folder: Path) -> int | None:
    """Bytes a cgroup folder's memory limit still allows (limit minus use), or ``None`` (no file, no limit)."""
    for limit_file, usage_file in (
        ("memory.max", "memory.current"),
        ("memory.limit_in_bytes", "memory.usage_in_bytes"),
    ):
        limit_text, usage_text = _read(folder / limit_file), _read(folder / usage_file)
        if limit_text is None:
            continue
        try:
            limit, usage = int(limit_text), int(usage_text or 0)
        except ValueError:  # "max": no limit
            return None
        return max(0, limit - usage) if limit < _NO_MEMORY_LIMIT else None
    return None


def available_memory(root: str | os.PathLike[str] = CGROUP_ROOT) -> int | None:
    """Bytes of memory a new process can still take: Linux's ``MemAvailable`` (free plus reclaimable page cache),
    capped by what this process's cgroup memory limit leaves (a container's ``--memory``; cgroup v2 ``memory.max``
    minus ``memory.current``, v1 ``memory.limit_in_bytes`` minus ``memory.usage_in_bytes``). ``None`` where
    neither can be read (macOS, Windows)."""
    known: list[int] = []
    for line in (_read(PROC_MEMINFO) or "").splitlines():
        key, _, value = line.partition(":")
        if key == "MemAvailable" and value.split() and value.split()[0].isdigit():
            known.append(int(value.split()[0]) * 1024)  # the file says kB and means KiB
    known += [
        room for folder in _own_cgroup_dirs(Path(root), "memory") if (room := _memory_headroom(folder)) is not None
    ]
    return min(known) if known else None


def parallel_processes(memory_each: int, *, most: int, root: str | os.PathLike[str] = CGROUP_ROOT) -> int:
    """How many processes that each keep a CPU busy and may take ``memory_each`` bytes can run side by side: one
    per usable CPU (:func:`usable_cpus`), as many as the available memory holds (:func:`available_memory`; not
    capped where unknown), at most ``most``, at least 1. ``./course test`` sizes its pytest workers with it."""
    count = min(usable_cpus(root), most)
    memory = available_memory(root)
    if memory is not None:
        count = min(count, memory // max(1, memory_each))
    return max(1, count)


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo``'s "model name" on Linux), else what ``platform`` says."""
    text = _read(Path("/proc/cpuinfo")) or ""
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("model name", "Model", "Hardware", "cpu model") and value.strip():
            return value.strip()
    return platform.processor() or platform.machine() or "unknown"


def library_versions(names: tuple[str, ...] = _LIBRARIES) -> dict[str, str]:
    """Installed versions of the packages whose kernels a timing measures (read from metadata: nothing is
    imported); a package that is not installed is left out."""
    versions = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def environment() -> dict[str, Any]:
    """What a benchmark ran on: CPU model, usable CPUs (and the host's count, and the quota), the OS, Python and
    the library versions. The ``machine`` block of a benchmark's JSON."""
    return {
        "cpu_model": cpu_model(),
        "usable_cpus": usable_cpus(),
        "host_cpus": os.cpu_count(),
        "cgroup_cpu_limit": cgroup_cpu_limit(),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "libraries": library_versions(),
    }
