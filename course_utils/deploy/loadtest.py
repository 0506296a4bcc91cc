"""A bounded load test of a model server: a fixed number of requests from a few concurrent clients, on the loopback
address only, and a report of throughput, median and 99th-percentile latency and errors.

    from course_utils.deploy.loadtest import load_test, load_table
    report = load_test(server.model_url + ":predict", {"inputs": {"x": batch.tolist()}}, requests=200, clients=4)
    report                       # one row: requests, clients, errors, throughput, p50, p99
    load_table([shared, per_request])   # several reports, one row each

Each client is a thread with its own ``httpx.Client`` (keep-alive, like a real client library); the clients take
requests from one shared count until it is used up, so the test stops by itself. Latency is measured per request
from send to the parsed response. Measured numbers print with the ``≈`` mark (they differ from run to run and
machine to machine); counts print bare.
"""

from __future__ import annotations

import json
import statistics
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from course_utils.errors import ServerError
from course_utils.onnxfile.render import html_table, measurement, text_table

__all__ = ["LoadReport", "LoadTable", "load_table", "load_test"]

_HEADERS = ("server", "requests", "clients", "errors", "throughput (req/s)", "p50 (ms)", "p99 (ms)")
_LOOPBACK = ("127.0.0.1", "localhost", "::1")
MAX_REQUESTS = 10_000


@dataclass(frozen=True)
class LoadReport:
    """One load test: ``requests`` sent by ``clients`` threads in ``seconds``; ``errors`` answers that were not
    200 (or failed to arrive); latencies in milliseconds of the successful requests."""

    label: str
    requests: int
    clients: int
    errors: int
    seconds: float
    p50_ms: float
    p99_ms: float
    first_error: str = ""

    @property
    def throughput(self) -> float:
        """Requests answered per second (all of them, errors included)."""
        return self.requests / self.seconds if self.seconds > 0 else float("nan")

    def _row(self) -> list[str]:
        return [
            self.label,
            str(self.requests),
            str(self.clients),
            str(self.errors),
            measurement(self.throughput),
            measurement(self.p50_ms),
            measurement(self.p99_ms),
        ]

    def _rows(self) -> list[list[str]]:
        return [self._row()]

    def __str__(self) -> str:
        lines = text_table(self._rows(), _HEADERS, rule=True)
        return "\n".join([*lines, *([f"first error: {self.first_error}"] if self.first_error else [])])

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        return html_table(self._rows(), _HEADERS, caption="load test", flags=[self.errors == 0])


@dataclass(frozen=True)
class LoadTable:
    """Several load tests side by side, one row each (the same columns as :class:`LoadReport`)."""

    reports: tuple[LoadReport, ...]

    def _rows(self) -> list[list[str]]:
        return [r._row() for r in self.reports]

    def __str__(self) -> str:
        return "\n".join(text_table(self._rows(), _HEADERS, rule=True))

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        return html_table(self._rows(), _HEADERS, caption="load tests", flags=[r.errors == 0 for r in self.reports])


def load_table(reports: Sequence[LoadReport]) -> LoadTable:
    """The reports as one table."""
    return LoadTable(tuple(reports))


def _percentile(sorted_ms: list[float], fraction: float) -> float:
    if not sorted_ms:
        return float("nan")
    index = min(len(sorted_ms) - 1, max(0, round(fraction * len(sorted_ms) + 0.5) - 1))  # nearest rank
    return sorted_ms[index]


def load_test(
    url: str,
    body: Mapping[str, Any] | bytes,
    *,
    requests: int = 200,
    clients: int = 4,
    label: str = "",
    timeout_s: float = 30.0,
) -> LoadReport:
    """POST ``body`` (a JSON object, or bytes sent as they are) to ``url`` ``requests`` times from ``clients``
    concurrent clients; returns a :class:`LoadReport`. ``url`` must be on this machine's loopback address.
    ``ServerError`` for another host or counts out of range."""
    import httpx

    host = urlsplit(url).hostname or ""
    if host not in _LOOPBACK:
        raise ServerError(f"load tests here go to 127.0.0.1 only, not {host!r}: start the server on this machine")
    if not (1 <= requests <= MAX_REQUESTS) or not (1 <= clients <= 64):
        raise ServerError(f"requests must be 1..{MAX_REQUESTS} and clients 1..64, got {requests} and {clients}")
    payload = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"content-type": "application/json"}
    lock = threading.Lock()
    remaining = [requests]
    latencies: list[float] = []
    errors: list[str] = []

    def client() -> None:
        with httpx.Client(timeout=timeout_s) as session:
            while True:
                with lock:
                    if remaining[0] == 0:
                        return
                    remaining[0] -= 1
                start = time.perf_counter()
                try:
                    response = session.post(url, content=payload, headers=headers)
                    response.json()
                    ok, why = response.status_code == 200, f"{response.status_code} {response.text[:200]}"
                except (httpx.HTTPError, ValueError) as error:
                    ok, why = False, f"{type(error).__name__}: {error}"
                elapsed = (time.perf_counter() - start) * 1e3
                with lock:
                    (latencies.append(elapsed) if ok else errors.append(why))

    threads = [threading.Thread(target=client, name=f"load-client-{i}") for i in range(clients)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - start
    ordered = sorted(latencies)
    return LoadReport(
        label=label or urlsplit(url).path,
        requests=requests,
        clients=clients,
        errors=len(errors),
        seconds=seconds,
        p50_ms=statistics.median(ordered) if ordered else float("nan"),
        p99_ms=_percentile(ordered, 0.99),
        first_error=errors[0] if errors else "",
    )
