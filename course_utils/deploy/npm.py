"""Node.js and the course's npm packages: where they are, whether they are there, and running a script with them.

The course pins two npm packages in ``deploy/js/package.json`` and ``deploy/js/package-lock.json``:
``onnxruntime-web`` (the browser build, WebAssembly and WebGPU; it also runs in Node.js on its WebAssembly
backend, which is how the web compatibility check loads models without a browser) and ``onnxruntime-node``
(native bindings). ``./course setup`` and ``./course test`` install them with ``npm ci`` into the git-ignored
``deploy/js/node_modules`` (with ``ONNXRUNTIME_NODE_INSTALL=skip``: without it onnxruntime-node's install
script downloads CUDA libraries, which fails offline), then delete onnxruntime-node's binaries for other
platforms (npm has no per-platform selection for them: about 250 MB of macOS and Windows libraries).

Scripts are ES modules. Node.js resolves ``import "onnxruntime-node"`` from the script's own folder upwards, so
:func:`run_node` runs a script given as text from ``deploy/js/scripts/`` (ignored, next to ``node_modules``);
a script given as a path runs where it is (the course's own scripts live in ``deploy/js/``).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
from pathlib import Path

from course_utils.errors import NodeNotFoundError, NpmPackagesMissingError
from course_utils.paths import REPO_ROOT

__all__ = [
    "MIN_NODE_MAJOR",
    "NPM_PACKAGES",
    "js_packages_dir",
    "node_available",
    "node_version",
    "npm_packages_installed",
    "require_node",
    "run_node",
]

MIN_NODE_MAJOR = 18
"""The oldest Node.js major release onnxruntime-web 1.31 and onnxruntime-node 1.31 run on."""
NPM_PACKAGES = ("onnxruntime-node", "onnxruntime-web")
"""The npm packages ``deploy/js/package-lock.json`` pins (both 1.31.1)."""

_GET_NODE = (
    "install Node.js 20 or newer (https://nodejs.org, or `conda install nodejs`, or your system's package "
    "manager: `sudo apt-get install nodejs npm`), then run ./course setup"
)
_INSTALL = (
    "run ./course setup (it runs `npm ci` in deploy/js with ONNXRUNTIME_NODE_INSTALL=skip), or by hand: "
    "cd deploy/js && ONNXRUNTIME_NODE_INSTALL=skip npm ci"
)


def js_packages_dir() -> Path:
    """The folder holding ``package.json``, ``package-lock.json`` and the installed ``node_modules``:
    ``deploy/js`` in the course folder (``COURSE_JS_DIR`` overrides it, e.g. for a shared install)."""
    override = os.environ.get("COURSE_JS_DIR", "").strip()
    return Path(override).resolve() if override else REPO_ROOT / "deploy" / "js"


def _node() -> str | None:
    return shutil.which("node")


def node_version() -> tuple[int, int, int] | None:
    """The installed Node.js version as ``(major, minor, patch)``, or None when ``node`` is not on PATH."""
    node = _node()
    if node is None:
        return None
    try:
        text = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=20, check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.match(r"v?(\d+)\.(\d+)\.(\d+)", text.strip())
    return (int(match.group(1)), int(match.group(2)), int(match.group(3))) if match else None


def npm_packages_installed() -> bool:
    """Whether both pinned packages are installed in :func:`js_packages_dir` (``node_modules/<name>``)."""
    modules = js_packages_dir() / "node_modules"
    return all((modules / name / "package.json").is_file() for name in NPM_PACKAGES)


def node_available() -> bool:
    """True when Node.js (at least :data:`MIN_NODE_MAJOR`) and the course's npm packages are both installed."""
    version = node_version()
    return version is not None and version[0] >= MIN_NODE_MAJOR and npm_packages_installed()


def require_node() -> str:
    """The path of ``node``, or the one-line error saying what is missing and how to get it:
    :class:`NodeNotFoundError` (no Node.js, or one too old) or :class:`NpmPackagesMissingError`."""
    node = _node()
    version = node_version()
    if node is None or version is None:
        raise NodeNotFoundError(f"Node.js is not installed (no `node` on PATH): {_GET_NODE}.")
    if version[0] < MIN_NODE_MAJOR:
        shown = ".".join(map(str, version))
        raise NodeNotFoundError(
            f"Node.js {shown} is too old for onnxruntime-web/-node 1.31 (18 or newer): {_GET_NODE}."
        )
    if not npm_packages_installed():
        raise NpmPackagesMissingError(
            f"the course's npm packages ({', '.join(NPM_PACKAGES)}) are not installed in "
            f"{js_packages_dir()}/node_modules: {_INSTALL}."
        )
    return node


def _script_path(script: str | Path) -> Path:
    """A path Node.js can run with the npm packages in reach: text is written under ``deploy/js/scripts``."""
    if isinstance(script, Path):
        if not script.is_file():
            raise FileNotFoundError(f"no such script: {script}")
        return script.resolve()
    folder = js_packages_dir() / "scripts"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"script-{hashlib.sha256(script.encode()).hexdigest()[:16]}.mjs"
    if not path.is_file() or path.read_text(encoding="utf-8") != script:
        path.write_text(script, encoding="utf-8")
    return path


def run_node(
    script: str | Path, *args: str | os.PathLike[str], timeout: float = 120.0, check: bool = False
) -> subprocess.CompletedProcess[str]:
    """Run a Node.js script with the course's npm packages in reach and return the finished process.

    ``script`` is a :class:`~pathlib.Path` to a ``.mjs``/``.js`` file, or the source text of an ES module (a
    ``str``), which is saved under ``deploy/js/scripts/`` so that ``import * as ort from "onnxruntime-node"``
    resolves. ``args`` follow the script on the command line (``process.argv.slice(2)``). stdout and stderr are
    captured as text; ``timeout`` (seconds) kills a script that hangs (``subprocess.TimeoutExpired``); with
    ``check=True`` a non-zero exit raises ``subprocess.CalledProcessError``. Raises the one-line
    :class:`NodeNotFoundError` / :class:`NpmPackagesMissingError` when Node.js or the packages are missing.
    """
    node = require_node()
    path = _script_path(script)
    env = dict(os.environ)
    env["NODE_PATH"] = str(js_packages_dir() / "node_modules")  # for require() in CommonJS scripts
    env.setdefault("NODE_NO_WARNINGS", "1")
    return subprocess.run(
        [node, str(path), *(os.fspath(a) for a in args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=check,
        cwd=path.parent,
        env=env,
    )
