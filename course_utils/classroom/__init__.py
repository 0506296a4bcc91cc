"""The classroom: a local JupyterHub workshop, and the progress learners and instructors can see.

* :mod:`course_utils.classroom.progress` records each exercise check in the learner's own home
  (``~/.onnx-course/progress.jsonl``; ``COURSE_PROGRESS=0`` turns it off, ``COURSE_PROGRESS_FILE`` moves it),
  reads it back and shows it per lesson (the index notebook, ``./course progress``).
* :mod:`course_utils.classroom.report` the instructor's view over many learners' progress files
  (``python -m course_utils.progress --class DIR…``): which exercises are hard, who completed which lesson.
* :mod:`course_utils.classroom.hub` ``./course hub``: a JupyterHub for named learners on this machine, started
  and stopped with no process left behind, and ``configure``, which fills the configuration JupyterHub loads.
  The parts JupyterHub loads in its own processes: :mod:`~course_utils.classroom.auth` (one password per
  learner), :mod:`~course_utils.classroom.spawner` (a local process per learner, noticed as soon as it listens)
  and :mod:`~course_utils.classroom.singleuser` (the learner's server, started without a slow optional import).
* :mod:`course_utils.classroom.client` a learner's browser in Python (log in, pull the course, run code in a
  kernel): the hub tests and ``tools/measure_learner.py`` use it.

May import: :mod:`course_utils.errors`, :mod:`course_utils.paths`, :mod:`course_utils.onnxfile` (its ``render``
tables only) and its own modules; no other part is imported here. ``progress`` must stay light: every exercise check
calls it (:mod:`course_utils.lessons` imports it), so it never imports a lesson module (it reads their
sources), JupyterHub or a framework. Only
``auth`` and ``spawner`` import JupyterHub when imported (``hub`` imports ``auth`` when it makes passwords);
``client`` imports requests and websocket-client when used.
"""

from __future__ import annotations

__all__: list[str] = []
