"""A real workshop: ``./course hub`` (JupyterHub, configurable-http-proxy, nbgitpuller, the idle culler) with five
learners, driven as their browsers would drive it.

One hub for the module, started with ``./course hub`` where its setup is current (CI), else with the command it
runs after its setup, ``python -m course_utils.classroom.hub``:

* five learners log in at once through the login form; each server must start within 10 s (the issue's bar;
  the measured times are printed) and each gets the course through the hub's nbgitpuller link;
* two learners run lesson 02's Netron cell and lesson 08's opset explorer widget in real Chromium, under their
  own ``/user/<name>/``;
* learner A is refused learner B's server, files, kernels and Netron route;
* three learners answer lesson 00's exercise right, wrong, and right after hints: the instructor's table
  (``python -m course_utils.progress --class``) reports exactly those counts;
* Ctrl-C (SIGINT) stops the hub with no jupyterhub, proxy, single-user or kernel process left.

Skipped with the reason where configurable-http-proxy is not installed (``./course test`` installs it; in CI,
``COURSE_REQUIRE_HUB=1``, a missing proxy fails instead).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from course_test_helpers import build_one_op_model

from course_utils.classroom.client import Learner, RunningHub, start_hub
from course_utils.paths import REPO_ROOT

pytestmark = pytest.mark.hub

LEARNERS = 5
SERVER_START_S = 10  # the bar for each server, with all five starting at once, on a machine of its own
SERVER_START_BUSY_S = 30  # the bar while other work keeps the cores busy (a shared machine): hub failures only
PAGE_TIMEOUT_MS = 60_000


def _require_proxy() -> None:
    from course_utils.classroom.hub import HubSetupError, find_proxy

    try:
        find_proxy()
    except HubSetupError as error:
        if os.environ.get("COURSE_REQUIRE_HUB") == "1":
            pytest.fail(f"{error} (COURSE_REQUIRE_HUB=1: the hub tests must run here)", pytrace=False)
        pytest.skip(str(error))


@dataclass
class Hub(RunningHub):
    """The running workshop (:class:`RunningHub`), plus the load the learners' logins met."""

    load_per_core: float = 0.0  # the 1-minute load average per core just before the learners logged in


def _launcher() -> list[str]:
    """``./course hub`` where this runs in the environment ./course made and its setup is current (CI, a learner's
    checkout), so that nothing is installed; elsewhere the command it runs, ``python -m course_utils.classroom.hub``."""
    wanted = hashlib.sha256((REPO_ROOT / "requirements.txt").read_bytes() + (REPO_ROOT / "pyproject.toml").read_bytes())
    stamp = REPO_ROOT / ".venv" / ".course-stamp"
    ours = Path(sys.prefix).resolve() == (REPO_ROOT / ".venv").resolve()
    if ours and stamp.is_file() and stamp.read_text().strip() == wanted.hexdigest():
        return [str(REPO_ROOT / "course"), "hub"]
    return [sys.executable, "-m", "course_utils.classroom.hub"]


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    _require_proxy()
    started = start_hub(_launcher(), LEARNERS, tmp_path_factory.mktemp("workshop"), cwd=REPO_ROOT)
    hub = Hub(started.process, started.folder, started.url, started.passwords, started.output)
    try:
        assert set(hub.passwords) == {*(f"learner{k}" for k in range(1, LEARNERS + 1)), "instructor"}
        yield hub
    finally:
        hub.stop()


@pytest.fixture(scope="module")
def learners(hub: Hub) -> dict[str, tuple[Learner, float, list[str]]]:
    """All five log in at the same moment; each waits for its server, then follows the nbgitpuller link."""

    def arrive(name: str) -> tuple[Learner, float, list[str]]:
        learner = hub.learner(name)
        learner.log_in()
        seconds = learner.wait_for_server(timeout=60)
        return learner, seconds, learner.pull_course()

    names = [f"learner{k}" for k in range(1, LEARNERS + 1)]
    hub.load_per_core = os.getloadavg()[0] / (os.cpu_count() or 1)
    with ThreadPoolExecutor(len(names)) as pool:
        return dict(zip(names, pool.map(arrive, names), strict=True))


def test_five_learners_log_in_at_once_and_get_the_course(
    hub: Hub, learners: dict[str, tuple[Learner, float, list[str]]], record_property: Callable[[str, object], None]
) -> None:
    times = {name: seconds for name, (_, seconds, _) in learners.items()}
    # Wall-clock time is the machine's as much as the hub's: the 10 s holds where the hub has the cores to
    # itself (CI, a workshop machine). Where other work already kept every core busy, the times are printed and
    # only a hub that hangs fails.
    # Under ./course test's parallel workers (pytest-xdist) the others keep the cores busy by design, whatever the
    # load average (it trails by a minute) says: the hub does not have the machine to itself.
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    busy = hub.load_per_core > 1.0 or workers > 1
    bar = SERVER_START_BUSY_S if busy else SERVER_START_S
    shown = ", ".join(f"{n} {s:.1f} s" for n, s in times.items())
    sharing = f", {workers} test workers" if workers > 1 else ""
    note = f" (load {hub.load_per_core:.1f} per core before the logins{sharing}: bar {bar} s)"
    record_property("timing", f"[hub timing] server start after login: {shown}{note}")  # in the run's summary
    assert max(times.values()) < bar, times
    for name, (learner, _, pulled) in learners.items():
        assert any("git clone" in line for line in pulled), pulled  # the first visit clones
        listing = learner.api("contents/onnx-in-practice/notebooks")
        assert "00_index.ipynb" in {entry["name"] for entry in listing["content"]}, name
        # The course each learner got is this checkout's HEAD, in their own home.
        copy = hub.folder / "home" / name / "onnx-in-practice"
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=copy, capture_output=True, text=True).stdout
        mine = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True).stdout
        assert head == mine
    # A second visit merges instead of cloning (the learner's edits stay).
    again = learners["learner1"][0].pull_course()
    assert not any("git clone" in line for line in again), again


def test_a_wrong_password_is_refused(hub: Hub) -> None:
    intruder = Learner(hub.url, "learner1", hub.passwords["learner2"])
    with pytest.raises(PermissionError):
        intruder.log_in()


def _netron_route(learner: Learner) -> str:
    kernel = learner.start_kernel()
    out = learner.run(
        kernel, "from course_utils.views.netron import get_server\ns = get_server()\nprint(s.port, s.token)"
    )
    port, token = out.stdout.split()
    return f"proxy/{port}/{token}/"


def test_a_learner_is_refused_another_learners_server_files_and_netron(
    learners: dict[str, tuple[Learner, float, list[str]]],
) -> None:
    a, b = learners["learner3"][0], learners["learner2"][0]
    route = _netron_route(b)
    assert "netron" in b.get(route).text.lower()  # B reaches their own Netron through the hub
    for path in ("lab", "api/contents", "api/kernels", "files/onnx-in-practice/README.md", route):
        response = a.session.get(b.server + path, timeout=60)
        refused = response.status_code == 403 or response.url.split("?")[0].endswith("/hub/login")
        assert refused, (path, response.status_code, response.url)
    # Through A's own server, B's Netron port answers nothing without B's random token (the servers share
    # 127.0.0.1; the token, never shown to A, is what keeps B's models B's).
    port = route.split("/")[1]
    assert a.get(f"proxy/{port}/").status_code == 404


EXPECTED_EXERCISES = ["00.1", "3", "2", "67%", "2", "0"]


def test_the_instructors_table_counts_what_learners_did(
    hub: Hub, learners: dict[str, tuple[Learner, float, list[str]]], tmp_path: Path
) -> None:
    setup = "from course_utils.lessons.lesson00 import acronym\n"
    right, wrong = 'acronym.check("Open Neural Network Exchange").passed', 'acronym.check("Open Network").passed'
    scripts = {
        "learner3": [right],  # right first time: 1 check, 0 hints
        "learner4": [wrong, wrong],  # wrong twice: 2 checks, not passed
        "learner5": [wrong, "acronym.hint(); acronym.hint(); None", right],  # right after 2 hints: 2 checks
    }

    def answer(name: str) -> list[str]:
        learner = learners[name][0]
        kernel = learner.start_kernel()
        learner.run(kernel, setup)
        return [learner.run(kernel, cell).result for cell in scripts[name]]

    with ThreadPoolExecutor(len(scripts)) as pool:  # the three answer at the same time, as in a class
        results = dict(zip(scripts, pool.map(answer, scripts), strict=True))
    assert {name: shown[-1] for name, shown in results.items()} == {
        "learner3": "True",
        "learner4": "False",
        "learner5": "True",
    }
    run = subprocess.run(
        [sys.executable, "-m", "course_utils.progress", "--class", str(hub.folder / "home"), "--csv", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
    )
    assert run.returncode == 0, run.stderr
    rows = [line.split() for line in run.stdout.splitlines()]
    assert ["Class", "progress:", "3", "learners"] in rows  # learners 1 and 2 checked nothing: no file
    assert EXPECTED_EXERCISES in rows, run.stdout
    assert ["learner3", "00", "1", "1"] in rows and ["learner4", "-", "0", "2"] in rows
    assert ["learner5", "00", "1", "2"] in rows, run.stdout
    csv = (tmp_path / "exercises.csv").read_text().splitlines()
    assert csv == [
        "exercise,tried,passed,share passed,median checks,median hints",
        ",".join(EXPECTED_EXERCISES),
    ]
    # Each record is in the learner's own home, nowhere else.
    assert (hub.folder / "home" / "learner5" / ".onnx-course" / "progress.jsonl").is_file()
    assert not (hub.folder / "home" / "learner1" / ".onnx-course").exists()


def _notebook(cells: list[str]) -> dict[str, Any]:
    return {
        "cells": [
            {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [], "source": source}
            for source in cells
        ],
        "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def _lesson_cell(learner: Learner, notebook: str, marker: str) -> str:
    """The first code cell of the learner's own copy of ``notebook`` that contains ``marker``."""
    content = learner.api(f"contents/onnx-in-practice/notebooks/{notebook}")["content"]
    return next(cell["source"] for cell in content["cells"] if cell["cell_type"] == "code" and marker in cell["source"])


def _run_all(page: Any, output: Any, attempts: int = 4) -> None:
    """Run > Run All Cells until ``output`` appears. On a freshly opened notebook a run now and then stops after the
    first cell (the later ones keep their empty prompt; lab_harness retries only a lost first cell): click again
    unless a cell is still running. Running the first cells twice is harmless here."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

    prompts = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell .jp-InputPrompt")
    for attempt in range(1, attempts + 1):
        page.get_by_role("menuitem", name="Run", exact=True).click()
        page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
        try:
            output.wait_for(state="attached", timeout=20_000)
            return
        except PlaywrightTimeoutError:
            if any("*" in text for text in prompts.all_inner_texts()):
                output.wait_for(state="attached", timeout=PAGE_TIMEOUT_MS)  # still running: wait, do not re-run
                return
            if attempt == attempts:
                raise


@pytest.mark.browser
def test_two_learners_run_netron_and_a_widget_in_chromium(
    chromium: Any, hub: Hub, learners: dict[str, tuple[Learner, float, list[str]]], screenshot_dir: Path
) -> None:
    from playwright.sync_api import expect

    pages: dict[str, Any] = {}
    try:
        for name in ("learner1", "learner2"):
            learner = learners[name][0]
            netron = _lesson_cell(learner, "02_export_pytorch.ipynb", "netron_view(")
            widget = _lesson_cell(learner, "08_opsets_versions.ipynb", "opset_explorer([")
            model = base64.b64encode(build_one_op_model().SerializeToString()).decode()
            learner.api("contents/tiny.onnx", "PUT", {"type": "file", "format": "base64", "content": model})
            stand_in = 'resnet_path = "tiny.onnx"  # lesson 02 exported ResNet-18 here; a small model stands in'
            notebook = _notebook([stand_in, netron, widget])
            learner.api("contents/hub_check.ipynb", "PUT", {"type": "notebook", "content": notebook})
            page = chromium.new_context(viewport={"width": 1200, "height": 1000}).new_page()
            page.set_default_timeout(PAGE_TIMEOUT_MS)
            pages[name] = page
            # The browser logs in through the hub's own form and lands where the nbgitpuller link leads.
            page.goto(f"{hub.url}/hub/login")
            page.locator("#username_input").fill(name)
            page.locator("#password_input").fill(hub.passwords[name])
            page.locator("#login_submit").click()
        for name, page in pages.items():
            page.wait_for_url(re.compile(rf"/user/{name}/lab/tree/onnx-in-practice/notebooks/00_index.ipynb"))
            # ?reset: a fresh workspace, so "Run All Cells" cannot reach the index the landing page opened.
            page.goto(f"{learners[name][0].server}lab/tree/hub_check.ipynb?reset")
            page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").first.wait_for()
            page.locator(".jp-NotebookPanel .jp-Cell").first.click()  # the notebook has the focus
            _run_all(page, page.locator(".jp-OutputArea .course-netron"))
        for name, page in pages.items():
            frame = page.locator(".course-netron iframe")
            frame.wait_for()
            assert (frame.get_attribute("src") or "").startswith(f"/user/{name}/proxy/")
            graph = page.frame_locator(".course-netron iframe")
            graph.get_by_text("MatMul", exact=True).first.wait_for()
            diff = page.locator("pre.opset-explorer")
            expect(diff).to_contain_text("opset 18 uses ReduceMean-18")
            slider = page.get_by_role("slider")
            slider.focus()
            for _ in range(5):
                slider.press("ArrowLeft")
            expect(diff).to_contain_text("nothing changes")  # at opset 13 against base 13
            page.screenshot(path=str(screenshot_dir / f"hub_{name}.png"))
    except Exception:
        for name, page in pages.items():
            page.screenshot(path=str(screenshot_dir / f"hub_{name}_failed.png"))
        raise
    finally:
        for page in pages.values():
            page.context.close()


def _processes_of(folder: Path, ports: set[int]) -> list[str]:
    """Every process whose command line names the workshop folder or its ports, or that runs inside the folder."""
    import psutil

    found = []
    for process in psutil.process_iter(["pid", "cmdline", "cwd"]):
        with_args = " ".join(process.info["cmdline"] or [])
        cwd = process.info["cwd"] or ""
        if str(folder) in with_args or cwd.startswith(str(folder)) or any(f":{p}" in with_args for p in ports):
            found.append(f"{process.info['pid']}: {with_args}")
    return found


def test_ctrl_c_stops_everything(hub: Hub, learners: dict[str, tuple[Learner, float, list[str]]]) -> None:
    import psutil

    settings = json.loads((hub.folder / "hub-settings.json").read_text())
    ports = {settings["port"], settings["hub_port"], settings["proxy_api_port"]}
    running = psutil.Process(hub.process.pid).children(recursive=True)
    commands = " ".join(" ".join(p.cmdline()) for p in running)
    for part in ("jupyterhub", "configurable-http-proxy", "course_utils.classroom.singleuser", "idle_culler"):
        assert part in commands, part  # what must stop was running
    assert len([p for p in running if "course_utils.classroom.singleuser" in " ".join(p.cmdline())]) == LEARNERS
    hub.stop()
    assert hub.process.returncode == 0
    assert hub.process.stdout is not None and "Hub stopped" in hub.process.stdout.read()
    _gone, alive = psutil.wait_procs(running, timeout=5)
    assert alive == [], [p.cmdline() for p in alive]
    assert _processes_of(hub.folder, ports) == []
