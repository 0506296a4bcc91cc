"""The workshop's spawner: JupyterHub's ``SimpleLocalProcessSpawner``, reporting a server as started the moment
it listens.

JupyterHub checks whether a new server answers with an exponential back-off (0.2 s, 0.4 s, 0.8 s, 1.6 s, 3.2 s,
then every 5 s, with jitter): a server ready after 3.3 s is noticed after up to 6 s. This spawner's ``start``
waits itself, trying the server's port every 0.1 s, so the hub's first check finds it ready. Everything else is
``SimpleLocalProcessSpawner``: one local process per learner, with ``HOME`` set to the learner's own folder.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from jupyterhub.spawner import SimpleLocalProcessSpawner

__all__ = ["POLL_S", "WorkshopSpawner"]

POLL_S = 0.1
"""How often ``start`` tries the new server's port."""


class WorkshopSpawner(SimpleLocalProcessSpawner):  # type: ignore[misc]  # JupyterHub ships no type information
    """A local process per learner, reported started as soon as its port accepts connections."""

    async def start(self) -> Any:
        ip, port = await super().start()
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline and self.proc.poll() is None:
            try:
                _, writer = await asyncio.open_connection(ip or "127.0.0.1", port)
            except OSError:
                await asyncio.sleep(POLL_S)
                continue
            writer.close()
            break
        return ip, port
