"""Exercise of the index notebook: a warm-up that shows how every exercise in the course works."""

from __future__ import annotations

from ..exercises import Exercise, expect


def _check_acronym(answer: object) -> str:
    expect(isinstance(answer, str), "answer with a string", expected="a str", got=type(answer).__name__)
    words = str(answer).lower().replace("-", " ").split()
    expect(bool(words), "the answer is empty", expected="four words", got=repr(answer))
    expect(
        words == ["open", "neural", "network", "exchange"],
        "not quite the four words behind O-N-N-X",
        expected="four words starting with O, N, N, X",
        got=repr(answer),
    )
    return "ONNX = Open Neural Network Exchange"


acronym = Exercise(
    "00.1",
    "What does ONNX stand for?",
    _check_acronym,
    hints=[
        "It is an open format for exchanging neural networks between frameworks.",
        "O... N... N... E...: Open, Neural, Network, and a word meaning 'swap'.",
    ],
    solution_code='acronym.check("Open Neural Network Exchange")',
    giveaways=("exchange",),
)
