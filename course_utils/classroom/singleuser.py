"""A learner's server: ``jupyterhub-singleuser``, started without one slow optional import.

``python -m course_utils.classroom.singleuser [args]`` is ``python -m jupyterhub.singleuser [args]``, except that
jsonschema's optional ``iri`` format checker (the ``rfc3987-syntax`` package) is not loaded: that package builds
its Lark parsers when imported. Measured here, the server's imports took 3.2 s of CPU time with it and 1.2 s
without, on every server start; no Jupyter event schema uses the ``iri`` format
(jupyter-server/jupyter_server#1559, python-jsonschema/jsonschema#1428). Nothing else changes.
"""

from __future__ import annotations

import sys

__all__ = ["main"]


def main() -> None:
    """Run JupyterHub's single-user server with ``rfc3987_syntax`` marked absent (jsonschema then skips it)."""
    sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]
    from jupyterhub.singleuser import main as singleuser_main

    singleuser_main()


if __name__ == "__main__":
    main()
