"""A JupyterLab server for browser tests: started by a test under a hub-like base URL, offline, with the
notebooks it needs, and the page setup every browser test shares, so a test is only its steps.

    def test_the_widget(chromium, tmp_path, screenshot_dir):
        with widget_page(chromium, tmp_path, ["from course_utils.views.x_view import x\n\nx()"],
                         wait_for=".course-x", screenshot=screenshot_dir / "x.png") as shown:
            expect(shown.output).to_contain_text("...")   # the steps

:func:`widget_page` = :func:`running_lab` (start JupyterLab with one notebook of the given cells, wait for it,
start its kernel) + :func:`notebook_page` (a browser context and page, open the notebook, Run All Cells until
``wait_for`` is attached, a screenshot on exit: ``NAME.png``, or ``NAME_failed.png`` when a step failed).
Tests that share one server between several runs (the Netron tests) call the two parts themselves.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

BASE_URL = "/user/alice/"
STARTUP_S = 120  # generous: JupyterLab's first start on a busy 2-core machine (the wait ends as soon as it answers)
RUN_ATTEMPTS, RUN_WAIT_MS = 4, 30_000  # clicks on "Run All Cells" and the wait for the cell's output after each


@dataclass
class Lab:
    """A running JupyterLab server started by a test."""

    process: subprocess.Popen[bytes]
    root: Path
    runtime: Path
    log: Path
    token: str
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{BASE_URL}"

    def api(self, path: str, method: str = "GET", body: Any = None) -> Any:
        request = urllib.request.Request(
            self.url + path,
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"token {self.token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            body = response.read()
        return json.loads(body) if body else None


def start_lab(
    folder: Path, notebooks: dict[str, list[str]], *, files: dict[str, bytes] | None = None, proxy: bool = True
) -> Lab:
    """Start JupyterLab under ``BASE_URL`` serving ``folder/root``, with one notebook per ``notebooks`` entry
    (name -> code cells) and ``files`` (name -> bytes) beside them. Call :func:`wait_ready` next."""
    root, config, runtime, data = (folder / name for name in ("root", "config", "runtime", "data"))
    for path in (root, config, runtime, data):
        path.mkdir(parents=True)
    for name, content in (files or {}).items():
        (root / name).write_bytes(content)
    for name, cells in notebooks.items():
        notebook = {
            "cells": [
                {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [], "source": source}
                for source in cells
            ],
            "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}},
            "nbformat": 4,
            "nbformat_minor": 5,
        }
        (root / name).write_text(json.dumps(notebook))
    server_config: dict[str, Any] = {"ServerApp": {"jpserver_extensions": {"jupyter_server_proxy": proxy}}}
    (config / "jupyter_server_config.json").write_text(json.dumps(server_config))
    # No "get notified about Jupyter news?" toast over the notebook in screenshots.
    news = config / "lab" / "user-settings" / "@jupyterlab" / "apputils-extension"
    news.mkdir(parents=True)
    (news / "notification.jupyterlab-settings").write_text(json.dumps({"fetchNews": "false"}))
    # Never ask "Select Kernel": start the notebook's own kernel, as a hub's single-user server would. (The
    # session created through the API is not always attached before the page opens on a slow first start.)
    tracker = config / "lab" / "user-settings" / "@jupyterlab" / "notebook-extension"
    tracker.mkdir(parents=True)
    (tracker / "tracker.jupyterlab-settings").write_text(json.dumps({"autoStartDefaultKernel": True}))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "COURSE_NETRON"))}
    # The live view is what is under test: COURSE_NETRON must be unset in the kernel (it inherits this env).
    env.update(JUPYTER_CONFIG_DIR=str(config), JUPYTER_RUNTIME_DIR=str(runtime), JUPYTER_DATA_DIR=str(data))
    token = secrets.token_hex(16)
    log = folder / "jupyter.log"
    command = [
        sys.executable,
        "-m",
        "jupyter",
        "lab",
        "--no-browser",
        "--allow-root",
        "--ip=127.0.0.1",
        "--port=0",  # the OS picks a free port; the server writes it to its runtime file
        f"--ServerApp.base_url={BASE_URL}",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]
    with log.open("wb") as out:
        process = subprocess.Popen(command, cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT)
    return Lab(process, root, runtime, log, token)


def wait_ready(lab: Lab, deadline: float) -> None:
    """Wait until the server answers its API (fails the test with the server's log if it does not)."""
    while time.monotonic() < deadline:
        if lab.process.poll() is not None:
            pytest.fail(f"JupyterLab exited early:\n{lab.log.read_text()[-3000:]}")
        files = list(lab.runtime.glob("jpserver-*.json"))
        if files:
            try:
                lab.port = json.loads(files[0].read_text())["port"]
                lab.api("api/status")
                return
            except (ValueError, KeyError, OSError):
                pass
        time.sleep(0.2)
    pytest.fail(f"JupyterLab did not start in time:\n{lab.log.read_text()[-3000:]}")


def stop_lab(lab: Lab) -> None:
    """Shut the kernels down, then the server."""
    # Shut kernels down through the API first: that is a normal kernel exit, which must stop its Netron server.
    if lab.port and lab.process.poll() is None:
        try:
            for kernel in lab.api("api/kernels"):
                lab.api(f"api/kernels/{kernel['id']}", method="DELETE")
        except OSError:
            pass
    lab.process.terminate()
    try:
        lab.process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        lab.process.kill()
        lab.process.wait(timeout=5)


def start_kernel(lab: Lab, notebook: str) -> None:
    """Start the notebook's kernel up front, as a hub does: JupyterLab attaches to it instead of asking which
    kernel to start, and the kernel boots while the browser loads the page."""
    session = {"path": notebook, "name": notebook, "type": "notebook", "kernel": {"name": "python3"}}
    lab.api("api/sessions", method="POST", body=session)


@contextlib.contextmanager
def running_lab(folder: Path, notebooks: dict[str, list[str]], **kwargs: Any) -> Iterator[Lab]:
    """:func:`start_lab`, wait for it, start each notebook's kernel; stop everything on exit."""
    lab = start_lab(folder, notebooks, **kwargs)
    try:
        wait_ready(lab, time.monotonic() + STARTUP_S)
        for name in notebooks:
            start_kernel(lab, name)
        yield lab
    finally:
        stop_lab(lab)


def open_notebook(page: Any, lab: Lab, notebook: str) -> None:
    """Open ``notebook`` in JupyterLab and wait for its kernel to be idle (answers a kernel dialog if shown)."""
    page.add_locator_handler(
        page.get_by_text("Select Kernel", exact=True),
        lambda: page.get_by_role("button", name="Select", exact=True).click(),
    )
    page.goto(f"{lab.url}lab/tree/{notebook}?token={lab.token}")
    page.locator(".jp-Notebook .jp-Cell").first.wait_for()
    page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").first.wait_for()


def run_all_cells(page: Any, output: Any) -> int:
    """Click Run > Run All Cells until ``output`` appears; return the number of clicks.

    On a freshly started JupyterLab the first click is now and then lost (the cell keeps its empty ``[ ]:``
    prompt, no request reaches the kernel) while the page finishes connecting to the kernel; clicking again
    then runs it. A cell that did start (``[*]:`` or a number) is never run twice: the wait just goes on.
    """
    from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

    prompt = page.locator(".jp-Notebook .jp-CodeCell .jp-InputPrompt").first
    clicks = 0
    for attempt in range(1, RUN_ATTEMPTS + 1):
        if attempt == 1 or prompt.inner_text().strip() in ("[ ]:", ""):
            page.get_by_role("menuitem", name="Run", exact=True).click()
            page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
            clicks += 1
        try:
            output.wait_for(state="attached", timeout=RUN_WAIT_MS)
            return clicks
        except PlaywrightTimeoutError:
            if attempt == RUN_ATTEMPTS:
                raise
    raise AssertionError("unreachable")


@dataclass
class Shown:
    """An opened, run notebook: the page, the output ``wait_for`` found, and how many Run All clicks it took."""

    page: Any
    output: Any
    clicks: int
    requests: list[str] = field(default_factory=list)  # every http(s)/ws request of the page and its frames


@contextlib.contextmanager
def notebook_page(
    chromium: Any,
    lab: Lab,
    notebook: str,
    *,
    wait_for: str,
    screenshot: Path,
    viewport: tuple[int, int] = (1300, 1000),
    timeout_ms: int = 90_000,
) -> Iterator[Shown]:
    """A fresh browser context on ``notebook`` of ``lab``: opened, its cells run from JupyterLab's Run menu until
    the locator ``wait_for`` is attached. On exit a screenshot is saved (``screenshot``, or ``<stem>_failed.png``
    when the steps raised) and the context is closed."""
    width, height = viewport
    context = chromium.new_context(viewport={"width": width, "height": height})
    shown = Shown(page=None, output=None, clicks=0)

    def note(request: Any) -> None:
        if request.url.split(":", 1)[0] in ("http", "https", "ws", "wss"):
            shown.requests.append(request.url)

    context.on("request", note)  # every frame's requests, iframes included
    try:
        page = shown.page = context.new_page()
        page.set_default_timeout(timeout_ms)
        try:
            open_notebook(page, lab, notebook)
            shown.output = page.locator(wait_for)
            shown.clicks = run_all_cells(page, shown.output)
            yield shown
        except BaseException:
            page.screenshot(path=str(screenshot.with_name(f"{screenshot.stem}_failed{screenshot.suffix}")))
            raise
        page.screenshot(path=str(screenshot))
    finally:
        context.close()


@contextlib.contextmanager
def widget_page(
    chromium: Any,
    folder: Path,
    cells: list[str],
    *,
    wait_for: str,
    screenshot: Path,
    files: dict[str, bytes] | None = None,
    proxy: bool = True,
    viewport: tuple[int, int] = (1300, 1000),
    timeout_ms: int = 90_000,
) -> Iterator[Shown]:
    """The whole setup of a widget's browser test: JupyterLab in ``folder`` with one notebook of ``cells`` (and
    ``files`` beside it), opened in Chromium and run until ``wait_for`` is attached (see :func:`notebook_page`)."""
    with (
        running_lab(folder, {"widget.ipynb": cells}, files=files, proxy=proxy) as lab,
        notebook_page(
            chromium,
            lab,
            "widget.ipynb",
            wait_for=wait_for,
            screenshot=screenshot,
            viewport=viewport,
            timeout_ms=timeout_ms,
        ) as shown,
    ):
        yield shown
