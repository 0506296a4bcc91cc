"""The capstone (notebook 12): ship a real photo classifier, EfficientNet-Lite0, from PyTorch to a web page, graded
stage by stage.

    from course_utils import capstone
    capstone.check_stage(2, "artifacts/12/effnet.onnx")   # feedback: what is wrong and why, never the fix
    capstone.hint(2)                                      # again for a more specific one
    capstone.solution(2)                                  # the reference solution, on request
    capstone.report_card()                                # every stage passed so far, with its numbers

The stages are exercises ``12.1`` .. ``12.7`` (:class:`Stage`, a :class:`~course_utils.lessons.exercises.Exercise`
whose check returns a :class:`StageResult` with the stage's numbers): checks are recorded in the learner's
progress file, hints escalate, and each hidden reference solution is run by ``run_solution``.

* :mod:`~course_utils.capstone.stages`        :class:`Stage`, :class:`StageResult`, :func:`check_stage`, the
  :class:`ReportCard` (one ``_rows()`` for text and HTML)
* :mod:`~course_utils.capstone.evidence`      what the rubric measures against: the pretrained model in eager mode,
  fixed photo crops, parity of a file with eager PyTorch
* :mod:`~course_utils.capstone.checks_classify`  the rubric of stage 1 (classify photos the rubric preprocesses too)
* :mod:`~course_utils.capstone.checks_build`  the rubric of stages 2-4 (export, web, optimize + benchmark)
* :mod:`~course_utils.capstone.checks_ship`   the rubric of stages 5-7 (int8, ORT format, the CI gate)
* :mod:`~course_utils.capstone.photoset`      stage 5's photo split: calibration and evaluation on different photos
* :mod:`~course_utils.capstone.scenario`      the team's release script stage 3 starts from
* :mod:`~course_utils.capstone.plan`          the seven stages: hints, hidden solutions, giveaways

May import every part of course_utils except :mod:`course_utils.views` (the notebook opens the web page itself):
:mod:`course_utils.errors`, :mod:`course_utils.paths`, :mod:`course_utils.onnxfile`, :mod:`course_utils.models`,
:mod:`course_utils.runtime`, :mod:`course_utils.versions`, :mod:`course_utils.bench`, :mod:`course_utils.quantize`,
:mod:`course_utils.deploy`, :mod:`course_utils.lessons` (the exercise machinery) and
:mod:`course_utils.classroom` (through it, progress records). No other part imports it.
"""

from __future__ import annotations

from course_utils.capstone import plan as _plan  # noqa: F401  (registers the seven stages)
from course_utils.capstone.photoset import CALIBRATION_PHOTOS, EVALUATION_PHOTOS, crops_of
from course_utils.capstone.scenario import stamp_release
from course_utils.capstone.stages import (
    LESSON,
    STAGES,
    ReportCard,
    Stage,
    StageResult,
    check_stage,
    get_stage,
    report_card,
    reset_results,
)
from course_utils.lessons.exercises import Snippet

__all__ = [
    "CALIBRATION_PHOTOS",
    "EVALUATION_PHOTOS",
    "LESSON",
    "STAGES",
    "ReportCard",
    "Stage",
    "StageResult",
    "check_stage",
    "crops_of",
    "get_stage",
    "hint",
    "report_card",
    "reset_results",
    "solution",
    "stamp_release",
]


def hint(number: int, which: int | None = None) -> Snippet:
    """The next hint for stage ``number`` (each call a more specific one), or hint ``which``."""
    return get_stage(number).hint(which)


def solution(number: int) -> Snippet:
    """Stage ``number``'s reference solution, as code to read."""
    return get_stage(number).solution()
