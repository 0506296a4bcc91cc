"""Exercises of lesson 05 (ONNX Runtime: sessions and execution providers).

    from course_utils.lessons import lesson05
    lesson05.used_fallback.check(used_fallback)     # your function
    lesson05.used_fallback.hint()                   # again for a more specific one
    lesson05.used_fallback.solution()

* 05.1 write ``used_fallback(session, requested)``: did a requested provider silently go missing?
* 05.2 a session that keeps to one core: one intra-op thread, one inter-op thread, sequential, no spinning.
* 05.3 feed a session through ``IOBinding``.
* 05.4 (transfer) choose the ``providers=`` list for machines the lesson did not show.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from course_utils.lessons.exercises import Exercise, NotYet, expect

__all__ = ["MACHINES", "io_binding", "polite_session", "provider_lists", "used_fallback"]

CPU = "CPUExecutionProvider"
SPINNING = "session.intra_op.allow_spinning"


def _digits_model() -> str:
    from course_utils.runtime.providers import course_model

    return str(course_model("DigitsCNN"))


def _session(requested: list[Any]) -> Any:
    import warnings

    import onnxruntime as ort

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ORT's "not in available provider names": the point of the exercise
        return ort.InferenceSession(_digits_model(), providers=requested)


# ------------------------------------------------------------------------------------------ 05.1


def _absent_provider() -> str:
    """A provider ONNX Runtime knows but this package lacks: CUDA on the CPU wheel, another one on a GPU wheel."""
    import onnxruntime as ort

    available = set(ort.get_available_providers())
    if "CUDAExecutionProvider" not in available:
        return "CUDAExecutionProvider"
    missing: str = next(name for name in ort.get_all_providers() if name not in available)
    return missing


class _ObservedSession:
    """A real session that answers ``get_providers()`` as a session on another machine would, and records whether
    the learner's function asked it.

    The check cannot build sessions on a GPU server, so it imitates two of them around a real CPU session: one whose
    package has TensorRT and CUDA but whose TensorRT libraries failed to load (the session uses CUDA and CPU), and
    one where CUDA loaded. ``onnxruntime.get_available_providers()`` answers for that machine while the function
    runs, so an answer built on what the package offers, instead of on what the session uses, shows."""

    def __init__(self, session: Any, used: list[str] | None = None) -> None:
        self._session = session
        self._used = list(session.get_providers()) if used is None else list(used)
        self.asked = False

    def get_providers(self) -> list[str]:
        self.asked = True
        return list(self._used)

    def get_provider_options(self) -> dict[str, dict[str, str]]:
        self.asked = True
        real = self._session.get_provider_options()
        return {name: dict(real.get(name, {})) for name in self._used}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._session, name)


_GPU_PACKAGE = ["TensorrtExecutionProvider", "CUDAExecutionProvider", CPU]


def _cases() -> list[tuple[str, list[Any], list[str] | None, list[str] | None]]:
    """(label, requested, used by the imitated session or None for the real one, that machine's available list)."""
    absent = _absent_provider()
    short = absent.removesuffix("ExecutionProvider")
    trt, cuda = "TensorrtExecutionProvider", "CUDAExecutionProvider"
    return [
        (f"{short} first, then CPU ({short} is not in this onnxruntime package)", [absent, CPU], None, None),
        ("only CPU", [CPU], None, None),
        (f"CPU first, then {short}", [CPU, absent], None, None),
        ("Azure, then CPU", ["AzureExecutionProvider", CPU], None, None),
        (f"only {short} (ONNX Runtime adds CPU itself)", [absent], None, None),
        (f"{short} with options, then CPU", [(absent, {"cudnn_conv_algo_search": "HEURISTIC"}), CPU], None, None),
        ("CPU with options", [(CPU, {"arena_extend_strategy": "kSameAsRequested"})], None, None),
        (
            "a GPU server: TensorRT, CUDA, CPU requested; the package has all three, but TensorRT's libraries failed "
            "to load, so the session uses CUDA and CPU",
            [trt, cuda, CPU],
            [cuda, CPU],
            _GPU_PACKAGE,
        ),
        (
            "a GPU server where CUDA loaded: only CUDA requested, the session uses CUDA and CPU",
            [cuda],
            [cuda, CPU],
            _GPU_PACKAGE,
        ),
        (
            "a GPU server where CUDA loaded: CUDA with options, then CPU",
            [(cuda, {"device_id": "0"}), CPU],
            [cuda, CPU],
            _GPU_PACKAGE,
        ),
    ]


def _check_used_fallback(function: Any) -> str:
    import contextlib
    from unittest import mock

    import onnxruntime as ort

    expect(
        callable(function),
        "pass your function itself (used_fallback, without calling it)",
        got=type(function).__name__,
    )
    asked_every_time = True
    for label, requested, used, available in _cases():
        real = _session([CPU] if used is not None else requested)
        session = _ObservedSession(real, used)
        # The truth comes from what the session uses, so the check holds on a GPU machine too.
        in_use = set(session._used)
        expected = any((entry[0] if isinstance(entry, tuple) else entry) not in in_use for entry in requested)
        machine = (
            mock.patch.object(ort, "get_available_providers", lambda available=available: list(available))
            if available is not None
            else contextlib.nullcontext()
        )
        try:
            with machine:
                got = function(session, list(requested))
        except Exception as error:  # the learner's code may fail in any way: say where
            raise NotYet(
                f"your function raised {type(error).__name__} for the case '{label}'",
                why="requested lists hold names or (name, options) pairs, as providers= accepts",
                got=str(error)[:200],
            ) from None
        expect(
            isinstance(got, bool | np.bool_),
            "return True or False",
            expected="a bool",
            got=type(got).__name__,
        )
        expect(
            bool(got) == expected,
            f"wrong answer for the case '{label}'",
            why="a fallback means some provider you asked for is not among those the session actually uses; what "
            "the installed package offers, and how long either list is, do not tell you that",
            expected=expected,
            got=bool(got),
        )
        asked_every_time = asked_every_time and session.asked
    expect(
        asked_every_time,
        "your function gave the right answers without asking the session which providers it uses",
        why="only the session knows what it ended up with: on another machine the same request ends differently",
        expected="an answer read from the session you are given",
    )
    return "used_fallback spots every provider that went missing, with or without options, on this machine and on GPU servers"


used_fallback = Exercise(
    "05.1",
    "Detect the silent fallback",
    _check_used_fallback,
    hints=[
        "Compare what you asked for with what the session reports it uses after it was created.",
        "session.get_providers() lists the providers the session really has; an entry of requested may be a "
        "name or a (name, options) tuple.",
        "Take the name of each requested entry (entry[0] for a tuple) and return True if any of those names "
        "is missing from session.get_providers().",
    ],
    solution_code="""\
def used_fallback(session, requested):
    used = set(session.get_providers())
    names = [entry[0] if isinstance(entry, tuple) else entry for entry in requested]
    return any(name not in used for name in names)


lesson05.used_fallback.check(used_fallback)""",
    giveaways=("get_providers", "entry[0]", "isinstance"),
)


# ------------------------------------------------------------------------------------------ 05.2


def _check_polite_session(session: Any) -> str:
    import onnxruntime as ort

    expect(session is not None, "no session yet: create one and pass it")
    expect(
        isinstance(session, ort.InferenceSession),
        "pass the onnxruntime.InferenceSession you created",
        got=type(session).__name__,
    )
    expect(
        session.get_providers()[0] == CPU, "threads settings are about the CPU provider", got=session.get_providers()
    )
    options = session.get_session_options()
    threads = options.intra_op_num_threads
    expect(
        threads == 1,
        "the session's operators can use more than one core",
        why="0 means one intra-op thread per physical core, and any number above 1 adds threads beside the "
        "caller's: the server already runs one session per core",
        expected="the intra-op pool limited to the calling thread",
        got=f"intra_op_num_threads = {threads}" + (" (ONNX Runtime's default)" if threads == 0 else ""),
    )
    mode = options.execution_mode
    expect(
        mode == ort.ExecutionMode.ORT_SEQUENTIAL,
        "the session may run independent nodes at the same time",
        why="parallel execution runs branches of the graph on an inter-op thread pool: more threads",
        expected="nodes run one after another",
        got=str(mode),
    )
    inter = options.inter_op_num_threads
    expect(
        inter == 1,
        "the session's inter-op thread count is left to ONNX Runtime",
        why="the assignment asks for every pool to be pinned down explicitly, so a later switch to parallel "
        "execution cannot take every core",
        expected="the inter-op pool limited to one thread as well",
        got=f"inter_op_num_threads = {inter}" + (" (ONNX Runtime's default)" if inter == 0 else ""),
    )
    try:
        spinning = options.get_session_config_entry(SPINNING)
    except RuntimeError:
        spinning = None  # never set: ORT's default, which spins
    expect(
        spinning == "0",
        "the session's idle threads may still spin",
        why="spinning keeps a core busy between runs, which slows PyTorch or anything else in the process "
        "(ORT#13808); say so explicitly, so the setting survives a later change of thread count",
        expected=f"config entry {SPINNING!r} switched off",
        got="not set (ONNX Runtime's default: spinning)" if spinning is None else repr(spinning),
    )
    return "one intra-op thread, one inter-op thread, sequential, no spinning: read back from the session itself"


polite_session = Exercise(
    "05.2",
    "Keep to one core: one thread per pool, sequential, no spinning",
    _check_polite_session,
    hints=[
        "Everything here lives on onnxruntime.SessionOptions, passed to InferenceSession as its second argument. "
        "Sections 3.1 and 5 each set some of it, with different values.",
        "Two thread counts (one per pool), the execution mode, and one session config entry (a string key and a "
        "string value). Which value of a thread count means 'only the calling thread'?",
        f"intra_op_num_threads and inter_op_num_threads = 1, execution_mode = ORT_SEQUENTIAL, "
        f"add_session_config_entry({SPINNING!r}, '0').",
    ],
    solution_code=f'''\
options = ort.SessionOptions()
options.intra_op_num_threads = 1
options.inter_op_num_threads = 1
options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
options.add_session_config_entry("{SPINNING}", "0")
solution_polite = ort.InferenceSession(digits_path, options, providers=["CPUExecutionProvider"])

lesson05.polite_session.check(solution_polite)''',
    giveaways=("add_session_config_entry", "intra_op_num_threads = 1", "inter_op_num_threads = 1", "ORT_SEQUENTIAL"),
)


# ------------------------------------------------------------------------------------------ 05.3


def _check_io_binding(binding: Any, images: Any = None) -> str:
    import onnxruntime as ort

    expect(binding is not None, "no binding yet: pass the IOBinding you ran")
    expect(
        type(binding).__name__ == "IOBinding",
        "pass the onnxruntime IOBinding object you ran the session with",
        got=type(binding).__name__,
    )
    outputs = [value for value in binding.get_outputs() if value.is_tensor()]
    expect(
        len(outputs) == 1,
        "the binding holds no output yet",
        why="outputs appear in the binding only after the session has run with it",
        expected="one output (the logits)",
        got=f"{len(outputs)} outputs",
    )
    logits = outputs[0].numpy()
    from course_utils.models.data import load_digits

    x = load_digits().x_test[:64]
    reference = ort.InferenceSession(_digits_model(), providers=[CPU]).run(None, {"image": x})[0]
    expect(
        logits.shape == reference.shape,
        "the output has the wrong shape",
        why="the exercise feeds the first 64 test images, one row of 10 logits each",
        expected=list(reference.shape),
        got=list(logits.shape),
    )
    expect(
        bool(np.allclose(logits, reference, rtol=1e-4, atol=1e-5)),
        "the logits differ from session.run on the same 64 images",
        why="IOBinding changes where data lives, never the result",
        got=f"max abs difference {float(np.max(np.abs(logits - reference))):.3g}",
    )
    return "64 images in, 64 x 10 logits out, through IOBinding"


io_binding = Exercise(
    "05.3",
    "Feed a session through IOBinding",
    _check_io_binding,
    hints=[
        "A session makes the binding object; you bind the input and the output on it, then run the session with it.",
        "session.io_binding(), then binding.bind_cpu_input(name, array) and binding.bind_output(name); run it with "
        "session.run_with_iobinding(binding).",
        "The input name is 'image' and the output 'logits'; bind digits.x_test[:64].",
    ],
    solution_code="""\
solution_binding = digits_session.io_binding()
solution_binding.bind_cpu_input("image", digits.x_test[:64])
solution_binding.bind_output("logits")
digits_session.run_with_iobinding(solution_binding)

lesson05.io_binding.check(solution_binding)""",
    giveaways=("bind_cpu_input", "run_with_iobinding", "bind_output"),
)


# ------------------------------------------------------------------------------------------ 05.4

#: The machines of exercise 05.4: a description, and what a right providers= list has.
MACHINES: dict[str, str] = {
    "gpu_server": "A Linux server with an NVIDIA GPU; onnxruntime-gpu and TensorRT are installed. You want the "
    "fastest inference and can afford TensorRT's engine build at start-up.",
    "intel_laptop": "A laptop with an Intel Core Ultra CPU (it has an NPU); onnxruntime-openvino is installed.",
    "mac": "A MacBook with Apple silicon and the standard onnxruntime wheel from PyPI.",
    "windows_amd": "A Windows desktop with an AMD Radeon GPU; onnxruntime-directml is installed.",
}

# The right list for each machine (feedback never names it).
_ANSWERS: dict[str, list[str]] = {
    "gpu_server": ["TensorrtExecutionProvider", "CUDAExecutionProvider", CPU],
    "intel_laptop": ["OpenVINOExecutionProvider", CPU],
    "mac": ["CoreMLExecutionProvider", CPU],
    "windows_amd": ["DmlExecutionProvider", CPU],
}


def _names(entries: Any) -> list[str]:
    return [e[0] if isinstance(e, tuple) else e for e in entries]


def _check_provider_lists(answers: Any) -> str:
    expect(isinstance(answers, dict), "answer with a dict {machine: providers list}", got=type(answers).__name__)
    missing = [m for m in MACHINES if m not in answers]
    expect(not missing, "some machines have no answer yet", expected=sorted(MACHINES), got=sorted(answers))
    import onnxruntime as ort

    known = set(ort.get_all_providers())
    for machine, right in _ANSWERS.items():
        given = answers[machine]
        expect(
            isinstance(given, list | tuple) and len(given) > 0,
            f"{machine}: give a non-empty list, as providers= takes",
            got=repr(given),
        )
        names = _names(given)
        unknown = [n for n in names if n not in known]
        expect(
            not unknown,
            f"{machine}: not an ONNX Runtime provider name",
            why="a misspelt name is an error, not a preference: print(onnxruntime.get_all_providers()) lists them",
            got=unknown,
        )
        expect(
            names[-1] == CPU,
            f"{machine}: the list does not end with the provider that runs everything",
            why="nodes an accelerator cannot take must still run somewhere",
            got=names,
        )
        expect(
            set(names) == set(right),
            f"{machine}: this list does not make the best use of the machine",
            why="each entry should reach hardware this machine has, through a package installed on it; a provider "
            "the package lacks is skipped with only a warning",
            expected=f"{len(right)} providers, the machine's accelerator(s) first",
            got=names,
        )
        expect(
            names == right,
            f"{machine}: the right providers, in an order that wastes the fastest one",
            why="ONNX Runtime offers each node to the providers in list order; the first that can run it gets it",
            got=names,
        )
    return "a providers= list for each machine, accelerators first and the CPU last"


provider_lists = Exercise(
    "05.4",
    "Choose the providers= list for a machine you have not seen (transfer)",
    _check_provider_lists,
    hints=[
        "For each machine, ask: which provider reaches its accelerator, and is that provider in the package "
        "installed there? The lesson's provider table answers both.",
        "Every list ends with the provider that can run any node. Only one machine needs three entries: the one "
        "whose accelerator has two providers, the faster one first.",
        "NVIDIA: TensorRT, CUDA, CPU. Intel: OpenVINO, CPU. Apple: CoreML, CPU. Windows + any DirectX 12 GPU: "
        "DirectML (its ORT name starts with Dml), CPU.",
    ],
    solution_code="""\
solution_lists = {
    "gpu_server": ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"],
    "intel_laptop": ["OpenVINOExecutionProvider", "CPUExecutionProvider"],
    "mac": ["CoreMLExecutionProvider", "CPUExecutionProvider"],
    "windows_amd": ["DmlExecutionProvider", "CPUExecutionProvider"],
}
lesson05.provider_lists.check(solution_lists)""",
    giveaways=("TensorrtExecutionProvider", "OpenVINOExecutionProvider", "CoreMLExecutionProvider", "Dml"),
)
