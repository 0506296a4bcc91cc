"""A learner's browser, in Python: log in to the workshop hub, wait for the server, pull the course, run code.

What the hub tests and ``tools/measure_learner.py`` do as learners, over the same HTTP requests a browser makes::

    learner = Learner("http://127.0.0.1:8000", "learner1", password)
    learner.log_in()                  # the login form (with its _xsrf token), as a browser posts it
    seconds = learner.wait_for_server()   # the spawn-pending page, until it sends the learner to /user/learner1/
    learner.pull_course()             # the nbgitpuller link the hub opens first, through nbgitpuller's own API
    kernel = learner.start_kernel()
    print(learner.run(kernel, "1 + 1"))   # code run in the learner's kernel (Jupyter's websocket protocol)

and the hub itself, started as an instructor starts it (``start_hub``: the launcher's "Workshop ready" line and
the passwords it prints), stopped with Ctrl-C's signal (``RunningHub.stop``).

Needs ``requests`` (JupyterHub's own dependency) and ``websocket-client``; no JupyterHub import.
"""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from ..errors import KernelError  # its home; importable from here too

__all__ = ["KernelError", "Learner", "Output", "RunningHub", "free_port", "start_hub"]


@dataclass(frozen=True)
class Output:
    """What a cell produced: stdout text and the ``text/plain`` of its result (``""`` when none)."""

    stdout: str
    result: str


@dataclass
class Learner:
    """One learner at the hub: a cookie jar (``requests.Session``) and the calls a browser would make."""

    hub: str
    name: str
    password: str
    session: Any = field(default=None, repr=False)

    def __post_init__(self) -> None:
        import requests

        self.hub = self.hub.rstrip("/")
        if self.session is None:
            self.session = requests.Session()

    @property
    def server(self) -> str:
        """The learner's server URL, ``<hub>/user/<name>/``."""
        return f"{self.hub}/user/{self.name}/"

    def log_in(self) -> Any:
        """Post the login form as a browser does (the ``_xsrf`` token from the form's cookie); returns the response.

        Raises ``PermissionError`` when the hub shows the login page again (a wrong password)."""
        self.session.get(f"{self.hub}/hub/login", timeout=30).raise_for_status()
        form = {"username": self.name, "password": self.password, "_xsrf": self.session.cookies.get("_xsrf", "")}
        response = self.session.post(f"{self.hub}/hub/login?next=", data=form, timeout=60)
        if urlsplit(response.url).path.endswith("/hub/login"):
            raise PermissionError(f"the hub refused {self.name}'s login (HTTP {response.status_code})")
        return response

    def wait_for_server(self, timeout: float = 60) -> float:
        """Wait on the spawn-pending page until the hub sends the learner to their server; return the seconds."""
        start = time.monotonic()
        while time.monotonic() - start < timeout:
            response = self.session.get(f"{self.hub}/hub/spawn-pending/{self.name}", allow_redirects=False, timeout=30)
            if response.status_code in (301, 302, 303, 307) and f"/user/{self.name}/" in response.headers["Location"]:
                return time.monotonic() - start
            time.sleep(0.1)
        raise TimeoutError(f"{self.name}'s server did not start within {timeout:.0f} s")

    def get(self, path: str, **kwargs: Any) -> Any:
        """GET ``path`` under the learner's server (redirects followed, as a browser does)."""
        return self.session.get(self.server + path.lstrip("/"), timeout=60, **kwargs)

    def open_server(self) -> str:
        """Open ``/user/<name>/`` as a browser does (OAuth with the hub included); return where it lands."""
        response = self.session.get(self.server, timeout=60)
        response.raise_for_status()
        return str(response.url)

    def pull_course(self, link: str | None = None) -> list[str]:
        """Run the nbgitpuller link (default: where the server's default URL leads) through nbgitpuller's API, as
        its page does; returns the lines it streamed. Raises ``RuntimeError`` when the pull fails."""
        landed = link or self.open_server()
        query = dict(parse_qsl(urlsplit(landed).query))
        if "repo" not in query:
            raise RuntimeError(f"{self.name} did not land on an nbgitpuller link: {landed}")
        lines: list[str] = []
        with self.get("git-pull/api", params=query, stream=True) as response:
            response.raise_for_status()
            for raw in response.iter_lines(decode_unicode=True):
                if not raw or not raw.startswith("data:"):
                    continue
                event = json.loads(raw[5:])
                if event.get("phase") == "error":
                    raise RuntimeError(f"nbgitpuller failed for {self.name}: {event.get('message')}")
                if "output" in event:
                    lines.append(event["output"])
                if event.get("phase") == "finished":
                    return lines
        raise RuntimeError(f"nbgitpuller's stream ended without 'finished' for {self.name}")

    def _xsrf_headers(self) -> dict[str, str]:
        token = self.session.cookies.get("_xsrf", path=f"/user/{self.name}/") or ""
        if not token:
            self.get("lab").raise_for_status()  # the server sets its _xsrf cookie on its pages
            token = self.session.cookies.get("_xsrf", path=f"/user/{self.name}/") or ""
        return {"X-XSRFToken": token}

    def api(self, path: str, method: str = "GET", body: Any = None) -> Any:
        """A Jupyter server REST call with the browser's cookies (and the ``_xsrf`` header writes need)."""
        response = self.session.request(
            method, self.server + "api/" + path, json=body, headers=self._xsrf_headers(), timeout=60
        )
        response.raise_for_status()
        return response.json() if response.content else None

    def start_kernel(self) -> str:
        """Start a Python kernel in the learner's server; return its id."""
        return str(self.api("kernels", "POST", {"name": "python3"})["id"])

    def run(self, kernel: str, code: str, timeout: float = 120) -> Output:
        """Run ``code`` in ``kernel`` over Jupyter's websocket; return its output. Raises :class:`KernelError`."""
        import websocket

        url = self.server.replace("http", "ws", 1) + f"api/kernels/{kernel}/channels"
        cookies = "; ".join(f"{c.name}={c.value}" for c in self.session.cookies)
        socket = websocket.create_connection(url, timeout=timeout, cookie=cookies, header=self._xsrf_headers())
        try:
            msg_id = uuid.uuid4().hex
            header = {
                "msg_id": msg_id,
                "msg_type": "execute_request",
                "username": self.name,
                "session": msg_id,
                "version": "5.3",
                "date": "",
            }
            content = {
                "code": code,
                "silent": False,
                "store_history": False,
                "user_expressions": {},
                "allow_stdin": False,
                "stop_on_error": True,
            }
            message = {"header": header, "parent_header": {}, "metadata": {}, "content": content, "channel": "shell"}
            socket.send(json.dumps(message))
            stdout, result, error, idle, replied = [], "", None, False, False
            deadline = time.monotonic() + timeout
            while not (idle and replied):
                if time.monotonic() > deadline:
                    raise TimeoutError(f"code in {self.name}'s kernel did not finish within {timeout:.0f} s")
                frame = socket.recv()
                if isinstance(frame, bytes):
                    continue  # a message with binary buffers (a widget's data): never one of the replies read here
                reply = json.loads(frame)
                if reply.get("parent_header", {}).get("msg_id") != msg_id:
                    continue
                kind, body = reply["msg_type"], reply["content"]
                if kind == "stream" and body.get("name") == "stdout":
                    stdout.append(body["text"])
                elif kind == "execute_result":
                    result = body["data"].get("text/plain", "")
                elif kind == "error":
                    error = f"{body['ename']}: {body['evalue']}"
                elif kind == "status" and body.get("execution_state") == "idle":
                    idle = True
                elif kind == "execute_reply":
                    replied = True
        finally:
            socket.close()
        if error:
            raise KernelError(error)
        return Output("".join(stdout), result)


# ------------------------------------------------------------------------------------------------- the hub


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now (the OS picks it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class RunningHub:
    """A workshop launcher started by :func:`start_hub`: its process, folder, URL, every account's password and
    what it printed up to "Workshop ready"."""

    process: subprocess.Popen[str]
    folder: Path
    url: str
    passwords: dict[str, str]
    output: list[str]

    def learner(self, name: str) -> Learner:
        """A :class:`Learner` for the account ``name`` (not logged in yet)."""
        return Learner(self.url, name, self.passwords[name])

    def stop(self, timeout: float = 40) -> None:
        """Stop the hub as Ctrl-C does (SIGINT); kill it if it has not ended after ``timeout`` seconds."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_hub(
    command: Sequence[str],
    learners: int,
    folder: Path,
    *,
    cwd: Path,
    env: Mapping[str, str] | None = None,
) -> RunningHub:
    """Run ``command`` (``./course hub`` or ``python -m course_utils.classroom.hub``) for ``learners`` learners in
    ``folder`` on a free port, and return once it prints "Workshop ready". Raises ``RuntimeError`` with what it
    printed when it stops or reports an error first (the hub is stopped then)."""
    port = free_port()
    process = subprocess.Popen(
        [*command, "--learners", str(learners), "--dir", str(folder), "--port", str(port)],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=dict(env) if env is not None else None,
    )
    output: list[str] = []
    assert process.stdout is not None
    for line in process.stdout:
        output.append(line)
        if line.startswith(("Workshop ready", "error:")):
            break
    passwords = dict(re.findall(r"^  (\S+) +(\S+)$", "".join(output), re.MULTILINE))
    hub = RunningHub(process, folder, f"http://127.0.0.1:{port}", passwords, output)
    if not output or not output[-1].startswith("Workshop ready"):
        hub.stop()
        raise RuntimeError("the hub did not start:\n" + "".join(output))
    return hub
