"""The workshop's authenticator: named learners, each with their own password (checked against a salted hash).

``./course hub`` makes a password per learner, prints it once, and keeps only PBKDF2 hashes in the workshop's
``passwords.json`` (readable by its owner only). JupyterHub loads this class in the hub's process;
the launcher uses the functions that make the passwords and their hashes.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from pathlib import Path
from typing import Any

from jupyterhub.auth import Authenticator
from traitlets import Unicode

__all__ = ["ITERATIONS", "WorkshopAuthenticator", "hash_password", "load_hashes", "make_password", "password_ok"]

ITERATIONS = 20_000
"""PBKDF2-SHA256 rounds per check. The passwords are random (about 80 bits), so stretching adds little; a login
costs about 15 ms of CPU, which matters when a whole class logs in at once on a small machine."""


def make_password() -> str:
    """A new random password, easy to read out and type: 4 groups of 4 letters and digits (about 80 bits)."""
    alphabet = "abcdefghjkmnpqrstuvwxyz23456789"  # no l/1, o/0 or i to misread
    return "-".join("".join(secrets.choice(alphabet) for _ in range(4)) for _ in range(4))


def hash_password(password: str, salt: str | None = None) -> str:
    """``pbkdf2-sha256$<rounds>$<salt>$<hex digest>`` for ``password``."""
    salt = salt or secrets.token_hex(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), bytes.fromhex(salt), ITERATIONS).hex()
    return f"pbkdf2-sha256${ITERATIONS}${salt}${digest}"


def password_ok(password: str, stored: str) -> bool:
    """Whether ``password`` matches a hash made by :func:`hash_password` (in constant time)."""
    try:
        scheme, rounds, salt, digest = stored.split("$")
        if scheme != "pbkdf2-sha256":
            return False
        mine = hashlib.pbkdf2_hmac("sha256", password.encode(), bytes.fromhex(salt), int(rounds)).hex()
    except ValueError:
        return False
    return hmac.compare_digest(mine, digest)


def load_hashes(path: Path) -> dict[str, str]:
    """Learner name -> password hash, from the workshop's ``passwords.json`` (``{}`` when there is none)."""
    if not path.is_file():
        return {}
    data = json.loads(path.read_text(encoding="utf-8"))
    return {str(name): str(value) for name, value in data.items()}


class WorkshopAuthenticator(Authenticator):  # type: ignore[misc]  # JupyterHub ships no type information
    """Logs in the workshop's named learners (and the instructor) with the password each was given."""

    passwords_file = Unicode(config=True, help="The workshop's passwords.json (name -> PBKDF2 hash).")

    async def authenticate(self, handler: Any, data: dict[str, str]) -> str | None:
        name = (data.get("username") or "").strip().lower()
        stored = load_hashes(Path(self.passwords_file)).get(name)
        if stored is None or not password_ok(data.get("password") or "", stored):
            return None
        return name
