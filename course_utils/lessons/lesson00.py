"""Exercise of the index notebook: a warm-up that shows how every exercise in the course works.

from course_utils.lessons.lesson00 import acronym
acronym.check("...")   # feedback: what is wrong and why, never the answer
acronym.hint()         # hint 1; call again for hint 2 (more specific)
acronym.solution()     # the answer, only when you ask for it
"""

from __future__ import annotations

from course_utils.lessons.exercises import Exercise, expect


def _check_acronym(answer: object) -> str:
    expect(
        isinstance(answer, str),
        "the answer is not text",
        why="an acronym stands for words",
        expected="a str",
        got=type(answer).__name__,
    )
    words = str(answer).lower().replace("-", " ").split()
    expect(bool(words), "the answer is empty", expected="four words", got=repr(answer))
    expect(
        len(words) == 4,
        f"the answer has {len(words)} word(s)",
        why="O-N-N-X has four letters, one per word",
        expected="four words",
        got=repr(answer),
    )
    expect(
        words == ["open", "neural", "network", "exchange"],
        "four words, but not the ones ONNX stands for",
        why="the name says what ONNX is for: models moving between frameworks",
        got=repr(answer),
    )
    return "ONNX = Open Neural Network Exchange"


acronym = Exercise(
    "00.1",
    "What does ONNX stand for?",
    _check_acronym,
    hints=[
        "It is an open format for neural networks that moves them between frameworks.",
        "Open, Neural, Network, and a word meaning 'swap'.",
    ],
    solution_code='acronym.check("Open Neural Network Exchange")',
    giveaways=("exchange",),
)
