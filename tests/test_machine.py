"""course_utils.machine: usable CPUs from the affinity mask and the cgroup quota (fake cgroup files), load per
usable CPU, the environment block."""

from __future__ import annotations

from pathlib import Path

import pytest

from course_utils import machine


@pytest.fixture
def fake_cgroup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A cgroup root in tmp_path, this process listed in a v2 cgroup ``/app``, eight CPUs in the affinity mask."""
    proc = tmp_path / "proc_self_cgroup"
    proc.write_text("0::/app\n")
    monkeypatch.setattr(machine, "PROC_SELF_CGROUP", proc)
    monkeypatch.setattr(machine.os, "sched_getaffinity", lambda pid: set(range(8)), raising=False)
    monkeypatch.setattr(machine.os, "cpu_count", lambda: 64)
    root = tmp_path / "cgroup"
    (root / "app").mkdir(parents=True)
    return root


def test_no_quota_means_the_affinity_mask(fake_cgroup: Path) -> None:
    assert machine.cgroup_cpu_limit(fake_cgroup) is None
    assert machine.usable_cpus(fake_cgroup) == 8  # not the host's 64
    (fake_cgroup / "app" / "cpu.max").write_text("max 100000\n")  # cgroup v2 without a limit
    assert machine.cgroup_cpu_limit(fake_cgroup) is None and machine.usable_cpus(fake_cgroup) == 8


def test_cgroup_v2_quota_caps_the_count(fake_cgroup: Path) -> None:
    (fake_cgroup / "app" / "cpu.max").write_text("150000 100000\n")  # docker --cpus 1.5
    assert machine.cgroup_cpu_limit(fake_cgroup) == 1.5
    assert machine.usable_cpus(fake_cgroup) == 2  # two threads can run, each part of the time
    (fake_cgroup / "cpu.max").write_text("50000 100000\n")  # a parent's smaller limit wins
    assert machine.cgroup_cpu_limit(fake_cgroup) == 0.5 and machine.usable_cpus(fake_cgroup) == 1


def test_cgroup_v1_quota(fake_cgroup: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    proc = fake_cgroup.parent / "proc_v1"
    proc.write_text("4:memory:/docker/abc\n3:cpu,cpuacct:/docker/abc\n0::/\n")
    monkeypatch.setattr(machine, "PROC_SELF_CGROUP", proc)
    folder = fake_cgroup / "cpu,cpuacct" / "docker" / "abc"
    folder.mkdir(parents=True)
    (folder / "cpu.cfs_quota_us").write_text("300000\n")
    (folder / "cpu.cfs_period_us").write_text("100000\n")
    assert machine.cgroup_cpu_limit(fake_cgroup) == 3.0 and machine.usable_cpus(fake_cgroup) == 3
    (folder / "cpu.cfs_quota_us").write_text("-1\n")  # v1's "no limit"
    assert machine.usable_cpus(fake_cgroup) == 8


def test_affinity_below_the_quota_wins(fake_cgroup: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (fake_cgroup / "app" / "cpu.max").write_text("400000 100000\n")
    monkeypatch.setattr(machine.os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)  # taskset -c 0,1
    assert machine.usable_cpus(fake_cgroup) == 2


def test_unreadable_quota_is_no_quota(fake_cgroup: Path) -> None:
    (fake_cgroup / "app" / "cpu.max").write_text("lots 100000\n")
    assert machine.cgroup_cpu_limit(fake_cgroup) is None and machine.usable_cpus(fake_cgroup) == 8


def test_load_is_per_usable_cpu(fake_cgroup: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(machine, "CGROUP_ROOT", fake_cgroup)
    (fake_cgroup / "app" / "cpu.max").write_text("200000 100000\n")
    monkeypatch.setattr(machine.os, "getloadavg", lambda: (3.0, 2.0, 1.0), raising=False)
    assert machine.machine_load(fake_cgroup) == 1.5  # 3 runnable threads for 2 CPUs, not 3 for 64
    monkeypatch.delattr(machine.os, "getloadavg")  # Windows has none
    assert machine.machine_load(fake_cgroup) is None


def test_environment_names_cpu_and_versions() -> None:
    env = machine.environment()
    assert env["cpu_model"] and env["usable_cpus"] >= 1 and env["python"].count(".") == 2
    assert "onnxruntime" in env["libraries"] and "numpy" in env["libraries"]
    assert "not-a-package-xyz" not in machine.library_versions(("numpy", "not-a-package-xyz"))


def test_physical_cores_count_smt_siblings_once(fake_cgroup: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sysfs = fake_cgroup.parent / "cpu"
    for cpu, core in ((0, 0), (1, 0), (2, 1), (3, 1)):  # two cores, two hardware threads each
        topology = sysfs / f"cpu{cpu}" / "topology"
        topology.mkdir(parents=True)
        (topology / "core_id").write_text(f"{core}\n")
        (topology / "physical_package_id").write_text("0\n")
    monkeypatch.setattr(machine, "CPU_SYSFS", sysfs)
    monkeypatch.setattr(machine.os, "sched_getaffinity", lambda pid: {0, 1, 2, 3}, raising=False)
    assert machine.usable_cpus(fake_cgroup) == 4 and machine.physical_cores(fake_cgroup) == 2
    monkeypatch.setattr(machine.os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)  # siblings of one core
    assert machine.physical_cores(fake_cgroup) == 1
    monkeypatch.setattr(machine.os, "sched_getaffinity", lambda pid: {0, 1, 2, 3}, raising=False)
    (fake_cgroup / "app" / "cpu.max").write_text("150000 100000\n")
    assert machine.physical_cores(fake_cgroup) == 1.5  # the quota caps it
    (fake_cgroup / "app" / "cpu.max").unlink()
    monkeypatch.setattr(machine, "CPU_SYSFS", sysfs.parent / "missing")  # no topology: every CPU a core
    assert machine.physical_cores(fake_cgroup) == 4


GiB = 1024**3


@pytest.fixture
def meminfo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A /proc/meminfo saying 20 GiB are available."""
    path = tmp_path / "meminfo"
    path.write_text(f"MemTotal:       {32 * 1024 * 1024} kB\nMemAvailable:   {20 * 1024 * 1024} kB\n")
    monkeypatch.setattr(machine, "PROC_MEMINFO", path)
    return path


def test_available_memory_is_memavailable_without_a_cgroup_limit(fake_cgroup: Path, meminfo: Path) -> None:
    assert machine.available_memory(fake_cgroup) == 20 * GiB
    (fake_cgroup / "app" / "memory.max").write_text("max\n")  # cgroup v2 without a limit
    (fake_cgroup / "app" / "memory.current").write_text(f"{GiB}\n")
    assert machine.available_memory(fake_cgroup) == 20 * GiB


def test_a_cgroup_memory_limit_caps_what_is_available(fake_cgroup: Path, meminfo: Path) -> None:
    (fake_cgroup / "app" / "memory.max").write_text(f"{8 * GiB}\n")  # docker --memory 8g
    (fake_cgroup / "app" / "memory.current").write_text(f"{3 * GiB}\n")
    assert machine.available_memory(fake_cgroup) == 5 * GiB  # what the limit leaves, not the host's 20
    (fake_cgroup / "memory.max").write_text(f"{4 * GiB}\n")  # a parent's tighter limit wins
    assert machine.available_memory(fake_cgroup) == 4 * GiB


def test_cgroup_v1_memory_limit(fake_cgroup: Path, meminfo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    proc = fake_cgroup.parent / "proc_self_cgroup_v1"
    proc.write_text("4:memory:/job\n1:cpu:/\n")
    monkeypatch.setattr(machine, "PROC_SELF_CGROUP", proc)
    job = fake_cgroup / "memory" / "job"
    job.mkdir(parents=True)
    (job / "memory.limit_in_bytes").write_text(f"{6 * GiB}\n")
    (job / "memory.usage_in_bytes").write_text(f"{GiB}\n")
    assert machine.available_memory(fake_cgroup) == 5 * GiB
    (job / "memory.limit_in_bytes").write_text("9223372036854771712\n")  # v1's "no limit"
    assert machine.available_memory(fake_cgroup) == 20 * GiB


def test_memory_unknown_where_nothing_says(fake_cgroup: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(machine, "PROC_MEMINFO", tmp_path / "no-meminfo")  # macOS, Windows
    assert machine.available_memory(fake_cgroup) is None
    assert machine.parallel_processes(3 * GiB, most=4, root=fake_cgroup) == 4  # CPUs (8) and the cap decide


def test_parallel_processes_fit_cpus_memory_and_the_cap(fake_cgroup: Path, meminfo: Path) -> None:
    assert machine.parallel_processes(3 * GiB, most=4, root=fake_cgroup) == 4  # 8 CPUs, 6 fit in 20 GiB: the cap
    assert machine.parallel_processes(3 * GiB, most=16, root=fake_cgroup) == 6  # memory: 20 // 3
    (fake_cgroup / "app" / "cpu.max").write_text("200000 100000\n")  # 2 CPUs
    assert machine.parallel_processes(3 * GiB, most=16, root=fake_cgroup) == 2
    (fake_cgroup / "app" / "memory.max").write_text(f"{2 * GiB}\n")  # less than one process needs
    (fake_cgroup / "app" / "memory.current").write_text("0\n")
    assert machine.parallel_processes(3 * GiB, most=16, root=fake_cgroup) == 1  # never fewer than one
