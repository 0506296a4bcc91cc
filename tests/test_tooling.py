"""The entry points maintainers and CI use: ./course, .ci/run, and the notebook re-execution tool."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from course_utils.paths import REPO_ROOT

COURSE = REPO_ROOT / "course"
# Tests of what ./course set up only make sense inside the environment it made (not e.g. on Binder's conda).
in_course_venv = pytest.mark.skipif(
    Path(sys.prefix).resolve() != (REPO_ROOT / ".venv").resolve(), reason="not running in ./course's .venv"
)


def readme_commands() -> list[str]:
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    return [line.strip() for block in re.findall(r"```bash\n(.*?)```", readme, re.S) for line in block.splitlines()]


def test_readme_has_the_two_commands_and_ci_runs_the_test_one():
    commands = readme_commands()
    assert commands == ["./course lab", "./course test"]
    ci = (REPO_ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "./course test" in ci.splitlines()


def test_course_script_is_valid_bash_and_helps():
    subprocess.run(["bash", "-n", str(COURSE)], check=True)
    result = subprocess.run([str(COURSE), "help"], capture_output=True, text=True, check=True)
    for command in ("lab", "test", "execute", "check", "progress", "hub", "data", "setup", "ci"):
        assert f"./course {command}" in result.stdout


def test_unknown_command_is_an_error():
    result = subprocess.run([str(COURSE), "nonsense"], capture_output=True, text=True)
    assert result.returncode == 2 and "Unknown command 'nonsense'" in result.stdout


@in_course_venv
def test_setup_is_skipped_when_nothing_changed():
    # This test runs inside the environment ./course made, so its stamp must match: no reinstall.
    result = subprocess.run([str(COURSE), "setup"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    assert "Setting up" not in result.stdout


def test_lab_listens_on_loopback_and_opens_the_index():
    script = COURSE.read_text(encoding="utf-8")
    assert "--ip=127.0.0.1" in script and "0.0.0.0" not in script
    assert "/lab/tree/notebooks/00_index.ipynb" in script


def test_execute_tool_runs_top_to_bottom(tmp_path):
    path = tmp_path / "demo.ipynb"
    nb = new_notebook(
        cells=[
            new_code_cell("x = 20"),
            new_code_cell("x + 1"),
            new_code_cell("import os\nos.environ['IPYKERNEL_CELL_NAME']"),
        ]
    )
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    subprocess.run(
        [sys.executable, str(REPO_ROOT / "tools" / "execute_notebooks.py"), str(path)], check=True, timeout=120
    )
    done = nbformat.read(path, as_version=4)
    assert [c.execution_count for c in done.cells] == [1, 2, 3]
    assert done.cells[1].outputs[0]["data"]["text/plain"] == "21"
    assert done.cells[2].outputs[0]["data"]["text/plain"] == "'<IPY-INPUT>'"  # the nbval environment


def test_execute_tool_reports_a_failing_cell(tmp_path):
    path = tmp_path / "broken.ipynb"
    nb = new_notebook(cells=[new_code_cell("1 / 0")])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    result = subprocess.run(
        [sys.executable, str(REPO_ROOT / "tools" / "execute_notebooks.py"), str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1 and "ZeroDivisionError" in result.stderr


def test_lab_starts_at_the_index(tmp_path):
    """`./course lab` serves JupyterLab on loopback and prints a URL that opens 00_index.ipynb."""
    import socket
    import time
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = tmp_path / "lab.log"
    with log.open("w") as out:
        lab = subprocess.Popen(
            [str(COURSE), "lab", f"--port={port}", f"--ServerApp.runtime_dir={tmp_path}"],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        url = None
        deadline = time.monotonic() + 60
        while url is None and time.monotonic() < deadline and lab.poll() is None:
            time.sleep(0.5)
            found = re.search(
                rf"http://127\.0\.0\.1:{port}/lab/tree/notebooks/00_index\.ipynb\?token=\w+", log.read_text()
            )
            url = found.group(0) if found else None
        assert url, log.read_text()[-2000:]
        with urllib.request.urlopen(url, timeout=20) as response:
            assert response.status == 200
        api = url.replace("/lab/tree/notebooks/00_index.ipynb", "/api/contents/notebooks/00_index.ipynb")
        with urllib.request.urlopen(api, timeout=20) as response:
            assert response.status == 200
    finally:
        lab.terminate()
        lab.wait(timeout=30)


@in_course_venv
def test_lab_stays_offline():
    """No news fetching, no update checks: the course runs without internet."""
    import json

    overrides = REPO_ROOT / ".venv" / "share" / "jupyter" / "lab" / "settings" / "overrides.json"
    settings = json.loads(overrides.read_text(encoding="utf-8"))
    assert settings["@jupyterlab/apputils-extension:notification"]["fetchNews"] == "false"
    assert "NeverCheckForUpdate" in COURSE.read_text(encoding="utf-8")


ISA_VARIABLES = (
    "ONEDNN_MAX_CPU_ISA",
    "ATEN_CPU_CAPABILITY",
    "MKL_ENABLE_INSTRUCTIONS",
    "OPENBLAS_CORETYPE",
    "NPY_DISABLE_CPU_FEATURES",
)


def _course_with_a_stub_environment(tmp_path: Path) -> Path:
    """A copy of ./course whose .venv is stubs that print what they were given: runs `test` without the suite."""
    root = tmp_path / "repo"
    bin_dir = root / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    for name in ("course", "requirements.txt", "pyproject.toml"):
        (root / name).write_bytes((REPO_ROOT / name).read_bytes())
    (root / "course").chmod(0o755)
    shown = " ".join(f"{name}=[${{{name}-unset}}]" for name in ISA_VARIABLES)
    stub = f'#!/bin/sh\necho "STUB $(basename "$0") {shown} ARGS $*"\n'
    for name in ("python", "ruff", "mypy"):
        (bin_dir / name).write_text(stub)
        (bin_dir / name).chmod(0o755)
    # The stamp ./course compares (sha256 of requirements.txt + pyproject.toml): setup is skipped, nothing installs.
    wanted = hashlib.sha256((root / "requirements.txt").read_bytes() + (root / "pyproject.toml").read_bytes())
    (root / ".venv" / ".course-stamp").write_text(wanted.hexdigest() + "\n")
    # Where Chromium is missing, ./course would ask apt-get (as root): this one refuses, so nothing is installed.
    fake_bin = tmp_path / "fake-bin"
    fake_bin.mkdir()
    (fake_bin / "apt-get").write_text("#!/bin/sh\nexit 1\n")
    (fake_bin / "apt-get").chmod(0o755)
    return root


def _run_course_test(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in (*ISA_VARIABLES, "CI")}
    env["PATH"] = f"{root.parent / 'fake-bin'}{os.pathsep}{env['PATH']}"
    return subprocess.run(
        [str(root / "course"), "test", *args], capture_output=True, text=True, timeout=60, env=env, cwd=root
    )


def _stub_lines(result: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in result.stdout.splitlines() if line.startswith("STUB ")]


@pytest.mark.parametrize("flag", [["--isa", "avx2"], ["--isa=AVX2"]], ids=["separate", "equals"])
def test_course_test_isa_flag_sets_onednn_max_cpu_isa(tmp_path, flag):
    root = _course_with_a_stub_environment(tmp_path)
    result = _run_course_test(root, "-k", "netron", *flag, "-x")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ONEDNN_MAX_CPU_ISA=AVX2: oneDNN (PyTorch, TensorFlow) uses at most AVX2" in result.stdout  # says so
    stubs = _stub_lines(result)
    assert [line.split()[1] for line in stubs] == ["ruff", "ruff", "mypy", "python"]
    # Below AVX-512 the other run-time dispatchers are capped too, and every tool sees it.
    capped = (
        "ONEDNN_MAX_CPU_ISA=[AVX2] ATEN_CPU_CAPABILITY=[avx2] MKL_ENABLE_INSTRUCTIONS=[AVX2] OPENBLAS_CORETYPE=[Haswell]"
        " NPY_DISABLE_CPU_FEATURES=[X86_V4 AVX512_ICL AVX512_SPR]"
    )
    assert all(capped in line for line in stubs)
    # pytest gets every other argument, in order, and not the flag.
    assert stubs[-1].endswith("--nbval-sanitize-with tests/nbval_sanitize.cfg -k netron -x")


def test_course_test_isa_flag_at_avx512_limits_only_onednn(tmp_path):
    root = _course_with_a_stub_environment(tmp_path)
    result = _run_course_test(root, "--isa", "avx512_core")
    assert result.returncode == 0, result.stdout + result.stderr
    assert _stub_lines(result)[-1].startswith(
        "STUB python ONEDNN_MAX_CPU_ISA=[AVX512_CORE] ATEN_CPU_CAPABILITY=[unset] MKL_ENABLE_INSTRUCTIONS=[unset]"
    )


def test_course_test_without_the_flag_leaves_the_isa_alone(tmp_path):
    root = _course_with_a_stub_environment(tmp_path)
    result = _run_course_test(root)
    assert result.returncode == 0, result.stdout + result.stderr
    stubs = _stub_lines(result)
    assert len(stubs) == 4 and all(f"{name}=[unset]" in line for line in stubs for name in ISA_VARIABLES)
    assert "--isa" not in result.stdout and "oneDNN" not in result.stdout
    assert stubs[-1].endswith("--nbval-sanitize-with tests/nbval_sanitize.cfg")


def test_course_test_asks_pytest_for_workers_and_lets_the_caller_override(tmp_path: Path) -> None:
    root = _course_with_a_stub_environment(tmp_path)
    pytest_line = _stub_lines(_run_course_test(root, "-k", "netron"))[-1]
    assert " -m pytest -n auto --dist loadfile tests notebooks --nbval " in pytest_line
    assert pytest_line.endswith("-k netron")
    # The caller's own options come last: pytest keeps the last -n / --dist.
    assert _stub_lines(_run_course_test(root, "-n", "3"))[-1].endswith(
        "--nbval-sanitize-with tests/nbval_sanitize.cfg -n 3"
    )
    # Without the plugin, -n would be an unknown option: none is passed.
    for off in (["-p", "no:xdist"], ["-pno:xdist"]):
        line = _stub_lines(_run_course_test(root, *off))[-1]
        assert " -n " not in line and "--dist" not in line and line.endswith(" ".join(off))


@pytest.mark.parametrize(
    ("flag", "message"),
    [
        (["--isa", "avx-2"], "Unknown instruction set 'avx-2' for --isa. One of: sse41 avx avx2 "),
        (["--isa"], "--isa needs"),
    ],
)
def test_course_test_isa_flag_refuses_what_onednn_does_not_know(tmp_path, flag, message):
    root = _course_with_a_stub_environment(tmp_path)
    result = _run_course_test(root, *flag)
    assert result.returncode == 2
    assert message in result.stdout
    assert _stub_lines(result) == []  # nothing ran


@pytest.mark.parametrize(
    ("command", "module"),
    [
        (["hub", "--learners", "3"], "-m course_utils.classroom.hub --learners 3"),
        (["progress", "--delete"], "-m course_utils.progress --delete"),
    ],
)
def test_course_hub_and_progress_run_their_modules(tmp_path, command, module):
    root = _course_with_a_stub_environment(tmp_path)
    lock = root / "deploy" / "local" / "package-lock.json"
    lock.parent.mkdir(parents=True)
    lock.write_bytes((REPO_ROOT / "deploy" / "local" / "package-lock.json").read_bytes())
    # npm is a stub that records its arguments and "installs" nothing.
    (tmp_path / "fake-bin" / "npm").write_text(
        f'#!/bin/sh\necho "npm $*" >> "{tmp_path}/npm.log"\nmkdir -p node_modules\n'
    )
    (tmp_path / "fake-bin" / "npm").chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k not in (*ISA_VARIABLES, "CI")}
    env["PATH"] = f"{tmp_path / 'fake-bin'}{os.pathsep}{env['PATH']}"
    result = subprocess.run(
        [str(root / "course"), *command], capture_output=True, text=True, timeout=60, env=env, cwd=root
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert _stub_lines(result)[-1].endswith(f"ARGS {module}")
    npm = (tmp_path / "npm.log").read_text() if (tmp_path / "npm.log").exists() else ""
    # ./course hub installs the pinned proxy once (npm ci from the lock file); ./course progress needs none.
    assert npm == ("npm ci --no-audit --no-fund --loglevel=error\n" if command[0] == "hub" else "")
    if command[0] == "hub":
        again = subprocess.run(
            [str(root / "course"), *command], capture_output=True, text=True, timeout=60, env=env, cwd=root
        )
        assert again.returncode == 0 and (tmp_path / "npm.log").read_text() == npm  # the stamp: not again
