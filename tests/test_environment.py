"""The pip pins and the Binder/conda environment cannot drift apart, and Binder builds CPU-only wheels."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement

from course_utils.paths import REPO_ROOT
from course_utils.setup_check import pinned_requirements

REQUIREMENTS = REPO_ROOT / "requirements.txt"
ENVIRONMENT = REPO_ROOT / "environment.yml"


def requirement_lines() -> list[tuple[str, str]]:
    """(requirement, comment) for each package line of requirements.txt."""
    rows = []
    for line in REQUIREMENTS.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        spec, _, comment = line.partition("#")
        rows.append((spec.strip(), comment.strip()))
    return rows


def test_every_requirement_is_pinned_and_explained():
    rows = requirement_lines()
    assert len(rows) >= 15
    for spec, comment in rows:
        req = Requirement(spec)
        if req.name == "netron":
            # Old netron releases vanish from PyPI: a lower bound only.
            assert str(req.specifier).startswith(">="), spec
        else:
            assert str(req.specifier).startswith("=="), f"{spec} must be pinned exactly"
        assert re.search(r"\b(0\d|1[01]|all|tests?|maintainers|data/)", comment), (
            f"{spec} needs a comment naming the lessons (or tests/maintainers) that need it"
        )


def test_key_pins():
    pins = pinned_requirements()
    assert str(pins["torch"].specifier) == "==2.13.0"  # the CPU build that lies on the course machines
    # No CUDA TensorFlow: tensorflow-cpu, except on macOS where only `tensorflow` has wheels (and no CUDA).
    assert "tensorflow-cpu" in pins and "tensorflow" not in pins
    lines = dict(requirement_lines())
    markers = {str(Requirement(spec).marker) for spec in lines if spec.startswith("tensorflow")}
    assert markers == {'sys_platform != "darwin"', 'sys_platform == "darwin"'}
    for name in ("onnx", "onnxruntime", "jupyter-server-proxy", "nbval", "ruff", "playwright"):
        assert name in pins, name


def environment() -> dict:
    return yaml.safe_load(ENVIRONMENT.read_text(encoding="utf-8"))


def test_environment_yml_uses_requirements_txt_and_python_311():
    env = environment()
    deps = env["dependencies"]
    assert "python=3.11" in deps
    assert "pip" in deps
    pip_section = next(d["pip"] for d in deps if isinstance(d, dict))
    assert "-r requirements.txt" in pip_section
    assert "-e ." in pip_section  # course_utils installed editable, as ./course setup does
    # Nothing else in the pip section names a package: one list of pins, in requirements.txt.
    extra = [line for line in pip_section if not line.startswith(("-r ", "-e ", "--"))]
    assert extra == []
    # Conda packages besides python/pip would duplicate (and could contradict) requirements.txt; Node.js is not
    # a Python package (lesson 10's npm packages need it).
    conda_packages = [d for d in deps if isinstance(d, str)]
    assert sorted(conda_packages) == ["nodejs=20", "pip", "python=3.11"]


def test_binder_gets_cpu_only_torch():
    pip_section = next(d["pip"] for d in environment()["dependencies"] if isinstance(d, dict))
    index_lines = [line for line in pip_section if line.startswith("--extra-index-url")]
    assert index_lines and index_lines[0].rstrip("/").endswith("/whl/cpu")
    # It must come before -r so pip sees the +cpu wheels when resolving torch==2.13.0.
    assert pip_section.index(index_lines[0]) < pip_section.index("-r requirements.txt")


def test_readme_binder_badge_opens_the_index():
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(r"\(https://mybinder\.org/v2/gh/[^)]*urlpath=lab/tree/([^)\s]+)\)", readme)
    assert match, "README needs an 'Open in Binder' badge whose urlpath opens a notebook"
    assert match.group(1) == "notebooks/00_index.ipynb"
    assert (REPO_ROOT / match.group(1)).exists()


@pytest.mark.skipif(shutil.which("repo2docker", path=str(Path(sys.executable).parent)) is None, reason="no repo2docker")
def test_repo2docker_reads_the_binder_config(tmp_path):
    """repo2docker's --no-build mode (no Docker needed) must pick the conda buildpack and our environment.yml."""
    repo2docker = shutil.which("repo2docker", path=str(Path(sys.executable).parent))
    result = subprocess.run(
        [repo2docker, "--no-build", "--debug", "--user-id", "1000", "--user-name", "jovyan", str(REPO_ROOT)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    dockerfile = result.stdout + result.stderr
    assert 'env update -p ${NB_PYTHON_PREFIX} --file "environment.yml"' in dockerfile
    # `-r requirements.txt` is a local reference: repo2docker must copy the whole repo before installing.
    assert dockerfile.index("COPY --chown=1000:1000 src/ ${REPO_DIR}/") < dockerfile.index('--file "environment.yml"')
    assert not (REPO_ROOT / "binder").exists() or (REPO_ROOT / "binder" / "environment.yml").exists()
