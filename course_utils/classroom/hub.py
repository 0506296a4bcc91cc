"""``./course hub``: a JupyterHub workshop on this machine, for named learners, stopped with nothing left behind.

::

    ./course hub                          # 5 learners: learner1 … learner5, and the instructor
    ./course hub --learners 12            # learner1 … learner12
    ./course hub --learners ana,ben,chloe # named learners
    ./course hub --dir /srv/workshop --port 8000 --idle-timeout 3600

What runs (every part pinned in ``requirements.txt`` / ``deploy/local/package-lock.json``, everything on
127.0.0.1 unless ``--ip`` says otherwise):

* JupyterHub with :class:`~course_utils.classroom.auth.WorkshopAuthenticator`: one password per learner (and one
  for ``instructor``, the hub's admin), printed once when it is made; only salted hashes are kept.
* configurable-http-proxy (npm, installed into ``deploy/local/node_modules`` by ``./course hub``/``./course test``).
* JupyterHub's ``SimpleLocalProcessSpawner``: each learner's server is a local process with its own home under
  the workshop folder (``<dir>/home/<learner>``). It gives no isolation between learners' *code* (every server
  runs as the same system user): for that, use one container per learner (docs/teaching.md, Zero to JupyterHub).
  The hub still refuses a learner another learner's server, files and Netron route.
* Each learner's copy of the course comes through an **nbgitpuller** link: the hub's default URL is
  ``/git-pull?repo=file://<dir>/course.git&…``, a bare git snapshot of this checkout's HEAD (pushed again at each
  start; uncommitted changes are not part of it), cloned into ``~/onnx-in-practice`` on first login and merged
  into it (keeping the learner's edits) on later ones. The learner's kernels import ``course_utils`` from that copy.
* The idle culler (``jupyterhub-idle-culler``) as a hub service: a server idle for ``--idle-timeout`` seconds is
  stopped (the learner's files stay).

Ctrl-C (or SIGTERM) stops JupyterHub, which stops the learners' servers, the culler and the proxy; then every
process that was started under the hub and is still alive is ended, so nothing is left behind. On Linux the
launcher makes itself the "child subreaper" of everything it starts, so even a process whose parent died first
is found.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..errors import HubSetupError  # its home; importable from here too
from ..paths import ARTIFACTS_DIR, REPO_ROOT

__all__ = [
    "COURSE_FOLDER",
    "INSTRUCTOR",
    "HubSetupError",
    "Workshop",
    "configure",
    "find_proxy",
    "learner_names",
    "main",
    "nbgitpuller_url",
]

INSTRUCTOR = "instructor"
"""The hub's admin account (it may open the admin page; learners may not)."""
COURSE_FOLDER = "onnx-in-practice"
"""The folder in each learner's home that nbgitpuller clones the course into."""
PROXY_PACKAGE = REPO_ROOT / "deploy" / "local"
"""Where ``npm ci`` installs configurable-http-proxy (``package.json`` and ``package-lock.json`` pin it)."""
STARTUP_S = 60
STOP_S = 20
_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")


def learner_names(spec: str) -> list[str]:
    """``"3"`` -> ``["learner1", "learner2", "learner3"]``; ``"ana,ben"`` -> ``["ana", "ben"]`` (validated)."""
    spec = spec.strip()
    if spec.isdigit():
        count = int(spec)
        if not 1 <= count <= 200:
            raise HubSetupError(f"--learners {spec}: give between 1 and 200 learners")
        return [f"learner{k}" for k in range(1, count + 1)]
    names = [name.strip().lower() for name in spec.split(",") if name.strip()]
    bad = [name for name in names if not _NAME.match(name) or name == INSTRUCTOR]
    if not names or bad:
        raise HubSetupError(
            f"--learners {spec!r}: give a number, or names made of lowercase letters, digits, - and _ "
            f"(starting with a letter, not {INSTRUCTOR!r}); wrong: {', '.join(bad) or 'none given'}"
        )
    if len(set(names)) != len(names):
        raise HubSetupError(f"--learners {spec!r}: a name appears twice")
    return names


def find_proxy() -> Path:
    """The configurable-http-proxy executable: ``deploy/local/node_modules/.bin``, else one on ``PATH``."""
    local = PROXY_PACKAGE / "node_modules" / ".bin" / "configurable-http-proxy"
    if local.exists():
        return local
    found = shutil.which("configurable-http-proxy")
    if found:
        return Path(found)
    raise HubSetupError(
        "configurable-http-proxy is not installed: run `./course hub` (it runs `npm ci` in deploy/local), "
        "or `cd deploy/local && npm ci` (needs Node.js 20 or newer)"
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _port_free(ip: str, port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind((ip, port))
        except OSError:
            return False
    return True


def nbgitpuller_url(repo: str, branch: str = "workshop", folder: str = COURSE_FOLDER) -> str:
    """The nbgitpuller link (relative to a user's server) that clones or updates the course and opens the index."""
    query = urllib.parse.urlencode(
        {
            "repo": repo,
            "branch": branch,
            "targetpath": folder,
            "urlpath": f"lab/tree/{folder}/notebooks/00_index.ipynb",
        }
    )
    return f"/git-pull?{query}"


@dataclass(frozen=True)
class Workshop:
    """Everything the hub's configuration needs, written to ``<dir>/hub-settings.json`` for :func:`configure`."""

    folder: str
    learners: tuple[str, ...]
    ip: str
    port: int
    hub_port: int
    proxy_api_port: int
    proxy: str
    idle_timeout: int
    allow_root: bool

    @property
    def url(self) -> str:
        """The address learners open."""
        host = "127.0.0.1" if self.ip in ("0.0.0.0", "") else self.ip
        return f"http://{host}:{self.port}/"

    @property
    def homes(self) -> Path:
        """The folder of the learners' homes (what ``python -m course_utils.progress --class`` reads)."""
        return Path(self.folder) / "home"

    @property
    def repo(self) -> Path:
        """The bare git snapshot of the course that nbgitpuller clones from."""
        return Path(self.folder) / "course.git"


def _learner_config(spawner: Any) -> None:
    """Before a learner's server starts: their home, and JupyterLab settings for an offline classroom."""
    home = Path(spawner.home_dir)
    settings = home / ".jupyter" / "lab" / "user-settings" / "@jupyterlab"
    for name, key, value in (
        ("apputils-extension/notification.jupyterlab-settings", "fetchNews", "false"),
        # Open a notebook with its own kernel, never the "Select Kernel" dialog.
        ("notebook-extension/tracker.jupyterlab-settings", "autoStartDefaultKernel", True),
    ):
        path = settings / name
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps({key: value}))


def configure(c: Any, settings_file: str) -> None:
    """Fill JupyterHub's config object ``c`` for the workshop described in ``settings_file`` (a :class:`Workshop`).

    Called from the ``jupyterhub_config.py`` that :func:`main` writes into the workshop folder.
    """
    data = json.loads(Path(settings_file).read_text())
    workshop = Workshop(**{**data, "learners": tuple(data["learners"])})
    state = Path(workshop.folder) / "state"
    c.JupyterHub.bind_url = f"http://{workshop.ip}:{workshop.port}/"
    c.JupyterHub.hub_bind_url = f"http://127.0.0.1:{workshop.hub_port}"
    c.JupyterHub.db_url = f"sqlite:///{state / 'jupyterhub.sqlite'}"
    c.JupyterHub.cookie_secret_file = str(state / "jupyterhub_cookie_secret")
    c.JupyterHub.pid_file = str(state / "jupyterhub.pid")
    c.JupyterHub.cleanup_servers = True  # stopping the hub stops every learner's server
    c.JupyterHub.cleanup_proxy = True
    c.ConfigurableHTTPProxy.command = [workshop.proxy]
    c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{workshop.proxy_api_port}"
    c.ConfigurableHTTPProxy.pid_file = str(state / "proxy.pid")

    c.JupyterHub.authenticator_class = "course_utils.classroom.auth.WorkshopAuthenticator"
    c.WorkshopAuthenticator.passwords_file = str(Path(workshop.folder) / "passwords.json")
    c.Authenticator.allowed_users = set(workshop.learners)
    c.Authenticator.admin_users = {INSTRUCTOR}

    c.JupyterHub.spawner_class = "course_utils.classroom.spawner.WorkshopSpawner"
    c.WorkshopSpawner.home_dir_template = str(workshop.homes / "{username}")
    c.Spawner.cmd = [sys.executable, "-m", "course_utils.classroom.singleuser"]
    args = ["--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
    c.Spawner.args = ["--allow-root", *args] if workshop.allow_root else args
    c.Spawner.default_url = nbgitpuller_url(workshop.repo.as_uri())
    c.Spawner.pre_spawn_hook = _learner_config
    c.Spawner.environment = {
        # The learner's kernels import course_utils from their own copy (and write artifacts/ there); the
        # server itself starts from this checkout's (course_utils.classroom.singleuser), before any copy exists.
        "PYTHONPATH": lambda spawner: os.pathsep.join([str(Path(spawner.home_dir) / COURSE_FOLDER), str(REPO_ROOT)]),
        "NBGITPULLER_DEPTH": "1",
    }
    c.Spawner.start_timeout = STARTUP_S
    c.Spawner.http_timeout = STARTUP_S

    c.JupyterHub.services = [
        {
            "name": "idle-culler",
            "command": [
                sys.executable,
                "-m",
                "jupyterhub_idle_culler",
                f"--timeout={workshop.idle_timeout}",
                f"--cull-every={max(10, min(300, workshop.idle_timeout // 4))}",
            ],
        }
    ]
    c.JupyterHub.load_roles = [
        {
            "name": "idle-culler",
            "scopes": ["list:users", "read:users:activity", "read:servers", "delete:servers"],
            "services": ["idle-culler"],
        }
    ]


def _git(*args: str, cwd: Path = REPO_ROOT) -> str:
    result = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise HubSetupError(f"git {' '.join(args)} failed: {result.stderr.strip().splitlines()[-1:]}")
    return result.stdout.strip()


def snapshot_course(repo: Path) -> str:
    """Push this checkout's HEAD to the bare repository ``repo`` as branch ``workshop``; return the commit."""
    if shutil.which("git") is None:
        raise HubSetupError("git is not installed: nbgitpuller needs it to give each learner the course")
    if not (REPO_ROOT / ".git").exists():
        raise HubSetupError(f"{REPO_ROOT} is not a git checkout: clone the course with git to run a workshop")
    if not (repo / "HEAD").exists():
        repo.mkdir(parents=True, exist_ok=True)
        _git("init", "--quiet", "--bare", str(repo))
    _git("push", "--quiet", "--force", str(repo), "HEAD:refs/heads/workshop")
    return _git("rev-parse", "--short", "HEAD")


def _passwords(folder: Path, names: Sequence[str], renew: bool) -> dict[str, str]:
    """Make a password for each name without one (all with ``renew``); return the new ones (to print once)."""
    from .auth import hash_password, load_hashes, make_password

    path = folder / "passwords.json"
    hashes = {} if renew else load_hashes(path)
    new = {name: make_password() for name in names if name not in hashes}
    hashes.update({name: hash_password(password) for name, password in new.items()})
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)
    path.write_text(json.dumps(hashes, indent=1) + "\n")
    return new


def _check_packages() -> None:
    import importlib.util

    missing = [
        m for m in ("jupyterhub", "nbgitpuller", "jupyterhub_idle_culler") if importlib.util.find_spec(m) is None
    ]
    if missing:
        raise HubSetupError(
            f"{', '.join(missing)} not installed in this environment: run `./course setup` (requirements.txt pins them)"
        )


def _become_subreaper() -> bool:
    """Linux: orphaned descendants are re-parented to this process (so the stop finds them all)."""
    if not sys.platform.startswith("linux"):
        return False
    import ctypes

    pr_set_child_subreaper = 36
    try:
        status: int = ctypes.CDLL(None, use_errno=True).prctl(pr_set_child_subreaper, 1, 0, 0, 0)
        return status == 0
    except (OSError, AttributeError):
        return False


class _Descendants:
    """Every process started under this one, remembered while they run (psutil handles: a reused pid is not ours)."""

    def __init__(self) -> None:
        import psutil

        self._me = psutil.Process()
        self.seen: dict[int, Any] = {}

    def refresh(self) -> None:
        import psutil

        with contextlib.suppress(psutil.Error):
            for process in self._me.children(recursive=True):
                self.seen.setdefault(process.pid, process)

    def alive(self) -> list[Any]:
        self.refresh()
        return [p for p in self.seen.values() if p.is_running() and p.status() != "zombie"]

    def end_all(self) -> int:
        """Terminate, then kill, whatever is still running; return how many there were."""
        import psutil

        left = self.alive()
        for process in left:
            with contextlib.suppress(psutil.Error):
                process.terminate()
        _, still = psutil.wait_procs(left, timeout=5)
        for process in still:
            with contextlib.suppress(psutil.Error):
                process.kill()
        psutil.wait_procs(still, timeout=5)
        return len(left)


def _wait_ready(hub: subprocess.Popen[bytes], workshop: Workshop, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_S
    url = f"http://127.0.0.1:{workshop.port}/hub/api"
    while time.monotonic() < deadline:
        if hub.poll() is not None:
            tail = log.read_text(errors="replace").strip().splitlines()[-15:]
            raise HubSetupError("JupyterHub exited while starting; the end of its log:\n" + "\n".join(tail))
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.3)
    raise HubSetupError(f"JupyterHub did not answer {url} within {STARTUP_S} s; see {log}")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="./course hub", description="A JupyterHub workshop on this machine.")
    parser.add_argument("--learners", default="5", help="how many learners (learner1…N), or their names: ana,ben")
    parser.add_argument(
        "--dir",
        type=Path,
        default=ARTIFACTS_DIR / "workshop",
        help="the workshop folder (learners' homes, hub state); default artifacts/workshop",
    )
    parser.add_argument("--ip", default="127.0.0.1", help="address learners connect to (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port learners connect to (default 8000)")
    parser.add_argument("--idle-timeout", type=int, default=3600, help="seconds before an idle server is stopped")
    parser.add_argument("--new-passwords", action="store_true", help="make (and print) new passwords for everyone")
    return parser


def prepare(args: argparse.Namespace) -> tuple[Workshop, dict[str, str], str]:
    """Check what the hub needs, snapshot the course, make passwords and write the hub's configuration."""
    _check_packages()
    learners = learner_names(args.learners)
    proxy = find_proxy()
    folder = args.dir.expanduser().resolve()
    for sub in ("state", "home"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    if not _port_free(args.ip, args.port):
        raise HubSetupError(f"port {args.port} on {args.ip} is in use: stop what uses it, or give --port")
    workshop = Workshop(
        folder=str(folder),
        learners=tuple(learners),
        ip=args.ip,
        port=args.port,
        hub_port=_free_port(),
        proxy_api_port=_free_port(),
        proxy=str(proxy),
        idle_timeout=args.idle_timeout,
        allow_root=hasattr(os, "getuid") and os.getuid() == 0,
    )
    commit = snapshot_course(workshop.repo)
    new = _passwords(folder, [*learners, INSTRUCTOR], args.new_passwords)
    settings = folder / "hub-settings.json"
    settings.write_text(json.dumps(asdict(workshop), indent=1) + "\n")
    (folder / "jupyterhub_config.py").write_text(
        "# Written by ./course hub at every start; the settings are in hub-settings.json.\n"
        "from course_utils.classroom.hub import configure\n\n"
        f"configure(c, {str(settings)!r})  # noqa: F821 (JupyterHub defines c)\n"
    )
    return workshop, new, commit


def _print_welcome(workshop: Workshop, new: dict[str, str], commit: str) -> None:
    print(f"Workshop folder: {workshop.folder}")
    print(f"Course snapshot: commit {commit} (uncommitted changes are not part of it)")
    if new:
        print("Passwords (shown this once; --new-passwords makes new ones):")
        for name, password in new.items():
            print(f"  {name:<12} {password}")
    else:
        print("Passwords: as printed when they were made (--new-passwords makes new ones)")
    print(f"Learners: {', '.join(workshop.learners)}; admin: {INSTRUCTOR}")


def run(workshop: Workshop) -> int:
    """Start JupyterHub, wait for Ctrl-C or SIGTERM, stop it and everything under it."""
    folder = Path(workshop.folder)
    log = folder / "jupyterhub.log"
    subreaper = _become_subreaper()
    tracker = _Descendants()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")]).strip(":")}
    stop = {"signal": 0}

    def on_signal(number: int, _frame: Any) -> None:
        stop["signal"] = number

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    with log.open("ab") as out:
        hub = subprocess.Popen(
            [sys.executable, "-m", "jupyterhub", "-f", str(folder / "jupyterhub_config.py")],
            cwd=folder / "state",
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches this launcher only; it stops the hub in order
        )
    status = 0
    try:
        _wait_ready(hub, workshop, log)
        print(f"Workshop ready: {workshop.url}  (hub log: {log})", flush=True)
        print(f"Class progress: python -m course_utils.progress --class {workshop.homes}", flush=True)
        print("Ctrl-C stops the hub, every learner's server and the proxy.", flush=True)
        while not stop["signal"] and hub.poll() is None:
            tracker.refresh()
            time.sleep(0.5)
        if hub.poll() is not None and not stop["signal"]:
            print(f"JupyterHub stopped by itself (exit {hub.returncode}); see {log}", file=sys.stderr)
            status = 1
    except HubSetupError as error:
        print(f"error: {error}", file=sys.stderr)
        status = 2
    finally:
        tracker.refresh()
        if hub.poll() is None:
            hub.send_signal(signal.SIGTERM)
            try:
                hub.wait(timeout=STOP_S)
            except subprocess.TimeoutExpired:
                hub.kill()
                hub.wait()
        left = tracker.end_all()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        note = f"; ended {left} process(es) JupyterHub left" if left else ""
        reaper = "" if subreaper else " (not Linux: orphans of exited processes may not be found)"
        print(f"Hub stopped: no jupyterhub, proxy or learner process left{note}{reaper}.", flush=True)
    return status


def main(argv: Sequence[str] | None = None) -> int:
    """``./course hub [--learners N|names] [--dir DIR] [--ip IP] [--port PORT] [--idle-timeout S]``."""
    args = _parser().parse_args(argv)
    try:
        workshop, new, commit = prepare(args)
    except HubSetupError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    _print_welcome(workshop, new, commit)
    return run(workshop)


if __name__ == "__main__":
    raise SystemExit(main())
