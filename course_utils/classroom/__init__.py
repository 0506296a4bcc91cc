"""The classroom: a local JupyterHub workshop, and the progress learners and instructors can see.

* :mod:`course_utils.classroom.progress` records each exercise check in the learner's own home
  (``~/.onnx-course/progress.jsonl``; ``COURSE_PROGRESS=0`` turns it off, ``COURSE_PROGRESS_FILE`` moves it),
  reads it back and shows it per lesson (the index notebook, ``./course progress``).
* :mod:`course_utils.classroom.report` the instructor's view over many learners' progress files
  (``python -m course_utils.progress --class DIR…``): which exercises are hard, who completed which lesson.
* :mod:`course_utils.classroom.hub` ``./course hub``: a JupyterHub for named learners on this machine, started
  and stopped with no process left behind; :mod:`~course_utils.classroom.auth` its password authenticator;
  ``jupyterhub_config.py`` the configuration file JupyterHub loads.

What these modules may import: the standard library, :mod:`course_utils.render` and :mod:`course_utils.paths`.
``progress`` must stay light (the exercise checks call it, so it never imports the lessons, ``exercises`` or any
framework); only ``auth`` and ``jupyterhub_config.py`` import JupyterHub, which runs in the hub's process alone.
"""

from __future__ import annotations

__all__: list[str] = []
