"""show_netron in a real browser: JupyterLab under a hub-like base URL, with and without jupyter-server-proxy.

Two JupyterLab servers start side by side under ``/user/alice/`` (like a JupyterHub user server), each with a
notebook whose cell calls ``show_netron``; Chromium opens each, runs the cell through JupyterLab's own menu,
and checks that Netron's graph (node labels "Conv", "Relu") renders inside the output's iframe:

* with jupyter-server-proxy the iframe must use ``/user/alice/proxy/<port>/...``, and no request of the page
  (JupyterLab, the probe, Netron in its iframe) may go anywhere but JupyterLab's own server;
* with the proxy switched off it must fall back to ``http://127.0.0.1:<port>/...``.

Each of the two records how long the graph took to appear after the cell's output did (the issue's target is
about 2 s) in ``artifacts/screenshots/timings.json`` and prints it, so CI logs show it; speed is never asserted.

Quicker tests drive the view without Jupyter: a pretend remote hub (``http://hub.test/user/bob/...``, answered by
Playwright routes, never the network) must use its proxy route and never probe 127.0.0.1; the fallback picture
stays when no URL answers; Netron's page runs offline (no consent prompt, no request leaving 127.0.0.1, no
expiry lock even years from now).
Screenshots land in ``artifacts/screenshots/``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest
from lab_harness import BASE_URL, STARTUP_S, Lab, notebook_page, start_kernel, start_lab, stop_lab, wait_ready
from onnx import TensorProto, helper, numpy_helper

pytestmark = pytest.mark.browser

CELL = 'from course_utils.views.netron import show_netron\n\nshow_netron("tiny_resnet.onnx", height=420)'
PAGE_TIMEOUT_MS = 60_000  # each wait in the notebook page: loading JupyterLab, the kernel, Netron's graph
TIMINGS_KEPT = 50  # runs kept in timings.json


def tiny_resnet() -> onnx.ModelProto:
    """A residual block (Conv, Relu, Conv, Add, Relu) and a classifier head: small, with the ops the tests look for."""
    rng = np.random.default_rng(0)

    def weight(name: str, *shape: int) -> onnx.TensorProto:
        return numpy_helper.from_array(rng.standard_normal(shape).astype(np.float32), name)

    weights = [weight("w0", 8, 3, 3, 3), weight("w1", 8, 8, 3, 3), weight("w2", 8, 8, 3, 3)]
    weights += [weight("fc_w", 10, 8), weight("fc_b", 10)]
    nodes = [
        helper.make_node("Conv", ["image", "w0"], ["c0"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c0"], ["r0"]),
        helper.make_node("Conv", ["r0", "w1"], ["c1"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"]),
        helper.make_node("Conv", ["r1", "w2"], ["c2"], pads=[1, 1, 1, 1]),
        helper.make_node("Add", ["c2", "r0"], ["s"]),
        helper.make_node("Relu", ["s"], ["r2"]),
        helper.make_node("GlobalAveragePool", ["r2"], ["p"]),
        helper.make_node("Flatten", ["p"], ["f"]),
        helper.make_node("Gemm", ["f", "fc_w", "fc_b"], ["logits"], transB=1),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny_resnet",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, 16, 16])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 10])],
        weights,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


@pytest.fixture(scope="module")
def labs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Lab]]:
    """Two JupyterLab servers under /user/alice/, started in parallel: 'proxy' and 'direct' (proxy disabled)."""
    started: dict[str, Lab] = {}
    try:
        for name, proxy in (("proxy", True), ("direct", False)):
            started[name] = start_lab(
                tmp_path_factory.mktemp(f"lab-{name}"),
                {"netron.ipynb": [CELL]},
                files={"tiny_resnet.onnx": tiny_resnet().SerializeToString()},
                proxy=proxy,
            )
        deadline = time.monotonic() + STARTUP_S
        for lab in started.values():
            wait_ready(lab, deadline)
        for lab in started.values():
            start_kernel(lab, "netron.ipynb")
        yield started
    finally:
        for lab in started.values():
            stop_lab(lab)


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@dataclass
class Run:
    """What a notebook run in the browser showed."""

    src: str  # the Netron iframe's src
    seconds: float  # from the cell's output appearing to Netron's graph being visible
    requests: list[str] = field(default_factory=list)  # every http(s)/ws request of the page and its frames
    clicks: int = 1  # "Run All Cells" clicks it took

    def hosts(self) -> set[str]:
        """``host:port`` of every request."""
        return {urllib.parse.urlsplit(url).netloc for url in self.requests}


def _record_timing(folder: Path, route: str, run: Run, record_property: Callable[[str, object], None]) -> None:
    """Append a measured time to ``timings.json`` and print it past pytest's capture, so CI logs show it."""
    path = folder / "timings.json"
    try:
        runs = json.loads(path.read_text())["runs"]
    except (OSError, ValueError, KeyError, TypeError):
        runs = []
    at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    entry = {"route": route, "seconds": round(run.seconds, 3), "at": at, "run_all_clicks": run.clicks}
    runs = [*runs, entry][-TIMINGS_KEPT:]
    description = "seconds from show_netron's cell output appearing to Netron's graph being visible (target: ~2 s)"
    path.write_text(json.dumps({"description": description, "runs": runs}, indent=1) + "\n")
    # Shown in the run's summary (the root conftest.py), also from a pytest-xdist worker.
    record_property(
        "timing", f"[netron timing] {route}: graph visible {run.seconds:.2f} s after the cell output (target ~2 s)"
    )


def _run_notebook_and_check(chromium: Any, lab: Lab, screenshot: Path) -> Run:
    """Open the notebook, run its cell via JupyterLab's Run menu, check Netron's graph shows in the output."""
    with notebook_page(
        chromium,
        lab,
        "netron.ipynb",
        wait_for=".jp-OutputArea .course-netron",
        screenshot=screenshot,
        viewport=(1200, 900),
        timeout_ms=PAGE_TIMEOUT_MS,
    ) as shown:
        page, view = shown.page, shown.output
        shown_at = time.monotonic()
        frame = view.locator("iframe")
        frame.wait_for()
        graph = page.frame_locator(".course-netron iframe")
        # Netron's body class turns from 'welcome spinner' to 'default' once the graph is drawn.
        graph.locator("body.default").wait_for(state="attached")
        graph.get_by_text("Conv", exact=True).first.wait_for()
        visible = time.monotonic() - shown_at
        graph.locator(".logo").first.wait_for(state="hidden")
        assert graph.get_by_text("Relu", exact=True).first.is_visible()
        assert graph.get_by_text("Gemm", exact=True).first.is_visible()
        # The static fallback is hidden once the live view is in, and no consent prompt covers the graph.
        assert not view.locator(".course-netron-fallback").is_visible()
        assert graph.get_by_text("This app uses cookies").count() == 0
        return Run(frame.get_attribute("src") or "", visible, shown.requests, shown.clicks)


def test_jupyterlab_through_server_proxy(
    chromium: Any, labs: dict[str, Lab], screenshot_dir: Path, record_property: Callable[[str, object], None]
) -> None:
    lab = labs["proxy"]
    run = _run_notebook_and_check(chromium, lab, screenshot_dir / "netron_jupyterlab_proxy.png")
    _record_timing(screenshot_dir, "proxy", run, record_property)
    assert run.src.startswith(f"{BASE_URL}proxy/"), run.src
    port = int(run.src.split("/")[4])
    assert _port_open(port)
    # Offline through the hub route too: nothing left 127.0.0.1, and Netron's page, scripts and model all came
    # through JupyterLab's server. (A page on 127.0.0.1 also probes the direct route, in parallel: that probe
    # is the only request that may reach Netron's port itself.)
    assert run.hosts() <= {f"127.0.0.1:{lab.port}", f"127.0.0.1:{port}"}, run.hosts()
    direct = [url for url in run.requests if urllib.parse.urlsplit(url).port == port]
    assert all(url.endswith("/course-probe") for url in direct), direct
    through_proxy = [url for url in run.requests if f"{BASE_URL}proxy/{port}/" in url]
    assert any(url.endswith(".onnx") for url in through_proxy) and any("index.js" in url for url in through_proxy)
    # Shutting the kernel down (a normal kernel exit) stops its Netron server.
    for kernel in lab.api("api/kernels"):
        lab.api(f"api/kernels/{kernel['id']}", method="DELETE")
    deadline = time.monotonic() + 10
    while _port_open(port) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _port_open(port), "the Netron server outlived its kernel"


def test_jupyterlab_without_proxy_uses_direct_url(
    chromium: Any, labs: dict[str, Lab], screenshot_dir: Path, record_property: Callable[[str, object], None]
) -> None:
    lab = labs["direct"]
    # The proxy really is off in this server: its route answers 404.
    with pytest.raises(urllib.error.HTTPError) as error:
        lab.api("proxy/9/")
    assert error.value.code == 404
    run = _run_notebook_and_check(chromium, lab, screenshot_dir / "netron_jupyterlab_direct.png")
    _record_timing(screenshot_dir, "direct", run, record_property)
    assert run.src.startswith("http://127.0.0.1:"), run.src
    netron_port = urllib.parse.urlsplit(run.src).port
    assert run.hosts() == {f"127.0.0.1:{lab.port}", f"127.0.0.1:{netron_port}"}, run.hosts()  # nothing left 127.0.0.1


@pytest.fixture
def live_view(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    from course_utils.views import netron

    monkeypatch.setenv("COURSE_NETRON", "auto")
    yield netron.show_netron(tiny_resnet(), height=400)
    netron.stop_server()


def test_netron_page_is_offline_and_never_expires(chromium: Any, live_view: Any, screenshot_dir: Path) -> None:
    context = chromium.new_context(viewport={"width": 1000, "height": 700})
    try:
        page = context.new_page()
        page.set_default_timeout(20_000)
        hosts: set[str] = set()
        page.on("request", lambda request: hosts.add(urllib.parse.urlsplit(request.url).netloc))
        # Three years on, Netron's own 180-day lock would demand an update; the served page has no build date.
        page.clock.install(time=dt.datetime.now(dt.UTC) + dt.timedelta(days=3 * 365))
        page.goto(live_view.url)
        page.get_by_text("Conv", exact=True).first.wait_for()
        assert page.get_by_text("Please update to the newest version.").count() == 0
        assert page.get_by_text("This app uses cookies").count() == 0
        page.screenshot(path=str(screenshot_dir / "netron_page_direct.png"))
        assert hosts == {f"127.0.0.1:{live_view.port}"}
    finally:
        context.close()


def test_fallback_stays_when_no_url_answers(chromium: Any, live_view: Any) -> None:
    from course_utils.views import netron

    html = live_view.html()
    netron.stop_server()  # like a notebook reopened after its kernel died: nothing answers
    context = chromium.new_context()
    try:
        page = context.new_page()
        page.set_default_timeout(10_000)
        page.set_content(f"<html><body>{html}</body></html>")
        page.locator(".course-netron[data-course-netron-url='none']").wait_for(state="attached")
        assert page.locator(".course-netron-fallback svg").is_visible()
        assert page.locator(".course-netron iframe").count() == 0
        assert page.locator(".course-netron-fallback svg text", has_text="Conv").count() == 3
    finally:
        context.close()


HUB = "http://hub.test"  # resolves nowhere (see conftest): every request to it is answered by the route below


@contextlib.contextmanager
def _hub_page(
    chromium: Any, page_path: str, body: str, port: int, *, proxy: bool, timeout_ms: int
) -> Iterator[tuple[Any, list[str]]]:
    """A page opened at ``HUB + page_path``, served like a remote JupyterHub whose proxy route (when ``proxy``)
    forwards to Netron's server. Yields the page and the URLs it requested (filled as it loads).
    """
    requested: list[str] = []
    prefix = f"/user/bob/proxy/{port}/"

    def handle(route: Any) -> None:
        url = urllib.parse.urlsplit(route.request.url)
        requested.append(route.request.url)
        if url.path == page_path:
            route.fulfill(status=200, content_type="text/html", body=body)
        elif proxy and url.path.startswith(prefix):
            target = f"http://127.0.0.1:{port}/{url.path[len(prefix) :]}" + (f"?{url.query}" if url.query else "")
            route.fulfill(response=route.fetch(url=target))
        else:
            route.fulfill(status=404, body="not found")

    context = chromium.new_context()
    try:
        context.route(f"{HUB}/**", handle)
        context.on("request", lambda request: None if request.url.startswith(HUB) else requested.append(request.url))
        page = context.new_page()
        page.set_default_timeout(timeout_ms)
        page.goto(HUB + page_path)
        yield page, requested
    finally:
        # Netron's page may still be loading files through `handle`; once the context is closed their fetches
        # fail ("Request context disposed", playwright#23781), which must not surface in the next test.
        context.unroute_all(behavior="ignoreErrors")
        context.close()


@pytest.mark.parametrize(
    ("page_path", "config_data"),
    [("/user/bob/lab/tree/lesson.ipynb", True), ("/user/bob/notebooks/lesson.ipynb", False)],
    ids=["jupyterlab-config", "classic-path"],
)
def test_remote_hub_page_uses_the_proxy_route(chromium: Any, live_view: Any, page_path: str, config_data: bool) -> None:
    # The base URL comes from JupyterLab's page config, or else from the page's path (classic notebook).
    config = '<script id="jupyter-config-data" type="application/json">{"baseUrl": "/user/bob/"}</script>'
    body = f"<html><head>{config if config_data else ''}</head><body>{live_view.html()}</body></html>"
    with _hub_page(chromium, page_path, body, live_view.port, proxy=True, timeout_ms=20_000) as (page, requested):
        frame = page.locator(".course-netron iframe")
        frame.wait_for()
        assert (frame.get_attribute("src") or "").startswith(f"/user/bob/proxy/{live_view.port}/")
        page.frame_locator(".course-netron iframe").get_by_text("Conv", exact=True).first.wait_for()
        # A page served from elsewhere never probes the learner's own machine.
        assert not [url for url in requested if "127.0.0.1" in url or "localhost" in url]


def test_remote_hub_without_proxy_keeps_the_picture(chromium: Any, live_view: Any) -> None:
    body = f"<html><body>{live_view.html()}</body></html>"
    page_path = "/user/bob/lab/tree/lesson.ipynb"
    with _hub_page(chromium, page_path, body, live_view.port, proxy=False, timeout_ms=10_000) as (page, requested):
        page.locator(".course-netron[data-course-netron-url='none']").wait_for(state="attached")
        assert page.locator(".course-netron-fallback svg").is_visible()
        assert page.locator(".course-netron iframe").count() == 0
        assert any("/user/bob/proxy/" in url for url in requested)  # it did try the proxy route
        assert not [url for url in requested if "127.0.0.1" in url or "localhost" in url]
