"""The rubric of stages 1-4: classify in eager mode, export with a dynamic batch, pass for the web, optimize and
benchmark against eager. Each checker raises :class:`~course_utils.lessons.exercises.NotYet` (what is wrong
and why, never the fix) or returns :class:`~course_utils.capstone.stages.Passed` with the report card's numbers."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnx

from course_utils.capstone.evidence import (
    describe_parity,
    eager_logits,
    input_type,
    load_answer,
    parity,
    reference_model,
)
from course_utils.capstone.stages import Passed
from course_utils.errors import first_line
from course_utils.lessons.exercises import NotYet, expect
from course_utils.onnxfile.render import format_bytes, plural

__all__ = ["MIN_SPREAD_RUNS", "check_classify", "check_export", "check_optimized", "check_web", "web_limits"]

# ------------------------------------------------------------------------------------------------ stage 1


def _as_array(batch: Any) -> np.ndarray:
    if hasattr(batch, "detach"):  # a torch tensor
        batch = batch.detach().cpu().numpy()
    return np.asarray(batch)


#: How far a batch may be from the rubric's own preprocessing of the photos: ``x / 127.5 - 1`` (another way to
#: write the builder's scale) differs from ``(x - 127) / 128`` by at most 0.008.
SAME_INPUT_ATOL = 0.02
#: Fewer than this: the pixels vary independently of their neighbours (random noise), not like a photo's.
MIN_NEIGHBOUR_CORRELATION = 0.3
#: Two photos whose pixels differ by less than this on average (0-255 levels) are one photo, perhaps jittered.
MIN_PHOTO_DIFFERENCE = 3.0


def _pixels(photos: Any) -> np.ndarray:
    """The learner's photos as float32 ``(N, 224, 224, 3)`` pixels; :class:`NotYet` for anything else."""
    expect(
        photos is not None and not (isinstance(photos, Sequence) and len(photos) == 0),
        "no photos yet: pass the photos the batch was made from, as pixels",
        why="the rubric maps them to the model's input itself and compares with your batch",
    )
    try:
        items = [_as_array(p) for p in photos] if isinstance(photos, list | tuple) else [_as_array(photos)]
        array = np.stack(items) if isinstance(photos, list | tuple) else items[0]
    except (TypeError, ValueError) as error:
        raise NotYet("the photos cannot be stacked into one array of pixels", got=first_line(error)[:200]) from None
    expect(
        array.ndim == 4 and array.shape[1:] == (224, 224, 3),
        "the photos are not 224x224 RGB images as loaded (photos, height, width, colour)",
        why="the rubric preprocesses the pixels the model sees, before any scaling or reordering of axes",
        expected="shape (N, 224, 224, 3)",
        got=f"shape {list(array.shape)}",
    )
    expect(
        np.issubdtype(array.dtype, np.number) and not np.issubdtype(array.dtype, np.complexfloating),
        f"the photos hold {array.dtype} values",
        why="photos are pixel values",
    )
    pixels = array.astype(np.float32)
    low, high = float(pixels.min()), float(pixels.max())
    expect(
        low >= 0 and high <= 255 and high > 1.5,
        "the photos are not pixel values before scaling",
        why="the rubric applies the model's preprocessing itself, to pixels as a photo file stores them",
        expected="values from 0 to 255",
        got=f"values from {low:.2f} to {high:.2f}",
    )
    for k, photo in enumerate(pixels):
        grey = photo.mean(-1)
        spread = float(grey.std())
        correlation = float(np.corrcoef(grey[:, :-1].ravel(), grey[:, 1:].ravel())[0, 1]) if spread > 0 else 0.0
        expect(
            correlation >= MIN_NEIGHBOUR_CORRELATION,
            f"photo {k + 1} does not look like a photo",
            why="neighbouring pixels of a photo are alike (edges are rare); these vary independently, like noise "
            "or a flat image, and a classifier's answer on them means nothing",
            expected=f"a correlation of neighbouring pixels of at least {MIN_NEIGHBOUR_CORRELATION}",
            got=f"{correlation:.2f}",
        )
    for j in range(len(pixels)):
        for k in range(j + 1, len(pixels)):
            difference = float(np.abs(pixels[j] - pixels[k]).mean())
            expect(
                difference >= MIN_PHOTO_DIFFERENCE,
                "the batch does not hold three different photos",
                why="one photo repeated (or nudged by a little noise) says nothing about a classifier",
                expected=f"photos whose pixels differ by at least {MIN_PHOTO_DIFFERENCE:g} levels on average",
                got=f"photos {j + 1} and {k + 1} differ by {difference:.2f}",
            )
    expect(
        len(pixels) >= 3,
        "the batch does not hold three different photos",
        why="one or two photos say little about a classifier",
        expected="at least 3 different photos",
        got=f"{len(pixels)} photos",
    )
    return pixels


def _same_photos(batch: np.ndarray, pixels: np.ndarray) -> None:
    """:class:`NotYet` unless ``batch`` is ``pixels`` mapped to the weights' scale, channels first, in order."""
    expect(
        len(batch) == len(pixels),
        f"the batch holds {len(batch)} images and you passed {len(pixels)} photos",
        why="the rubric compares each image of the batch with the photo it was made from",
    )
    expected = (pixels - 127.0) / 128.0  # the builder's scale: MEAN_RGB 127, STDDEV_RGB 128
    channels_first = expected.transpose(0, 3, 1, 2)

    def gap(candidate: np.ndarray) -> float:
        return float(np.max(np.abs(batch - candidate)))

    expect(
        gap(channels_first[:, ::-1]) > SAME_INPUT_ATOL or gap(channels_first) <= SAME_INPUT_ATOL,
        "the batch's colour channels are in reverse order (blue, green, red)",
        why="the weights were trained on RGB photos: with red and blue swapped the model sees other colours "
        "(a blue sky as orange) and its answers drift",
    )
    expect(
        gap(expected.reshape(batch.shape)) > SAME_INPUT_ATOL,
        "each channel of the batch mixes the photos' three colours",
        why="changing the shape keeps the values in memory order, each pixel's red, green and blue side by "
        "side: the axes are relabelled, not moved, so a 'colour plane' holds rows of interleaved colours",
    )
    for k in range(len(batch)):
        error = float(np.max(np.abs(batch[k] - channels_first[k])))
        expect(
            error <= SAME_INPUT_ATOL,
            f"image {k + 1} of the batch is not photo {k + 1} on the scale the weights were trained on",
            why="the rubric maps your photos to the model's input the way EfficientNet-Lite's preprocessing "
            "does and compares: the batch must be those photos, in the same order and colour order",
            expected=f"max |batch - preprocessed photo| <= {SAME_INPUT_ATOL}",
            got=f"{error:.3f}",
        )


def check_classify(model: Any = None, batch: Any = None, labels: Any = None, photos: Any = None) -> Passed:
    """Stage 1: ``model`` the pretrained EfficientNet-Lite0 ready to predict, ``batch`` the input it was given
    (three or more different photos), ``labels`` the ImageNet name of each photo's top class, ``photos`` the same
    photos as RGB pixels before any scaling, ``(N, 224, 224, 3)`` (the rubric preprocesses them itself and
    compares with ``batch``)."""
    import torch

    expect(model is not None, "no model yet: pass the PyTorch model you loaded first")
    expect(
        isinstance(model, torch.nn.Module),
        "the first argument is not a PyTorch model",
        why="stage 1 runs the model in eager mode, as PyTorch itself does",
        got=type(model).__name__,
    )
    reference = reference_model().state_dict()
    state = model.state_dict()
    expect(
        set(state) == set(reference),
        "the model's parameters are not EfficientNet-Lite0's",
        why="the capstone ships the pretrained EfficientNet-Lite0; another network cannot load its weights",
        got=f"{len(state)} tensors in its state dict, {len(set(state) & set(reference))} named like the reference's",
    )
    same = all(torch.equal(state[k].cpu(), reference[k]) for k in reference if reference[k].dtype.is_floating_point)
    expect(
        same,
        "the model's weights are not the pretrained ones",
        why="an untrained network's top class is noise: it has learned nothing about photos",
    )
    expect(
        not model.training,
        "the model is in training mode",
        why="in training mode batch norm normalises with the batch's own statistics (and updates its running ones), "
        "so one photo's answer depends on the other photos in the batch",
    )
    expect(batch is not None, "no batch yet: pass the input you gave the model")
    array = _as_array(batch)
    expect(
        array.ndim == 4,
        f"the batch has {array.ndim} dimensions",
        why="a batch of images for a PyTorch CNN is (photos, channels, height, width)",
        got=f"shape {list(array.shape)}",
    )
    expect(
        array.shape[1] == 3,
        f"the batch's second dimension is {array.shape[1]}, not the 3 colour channels",
        why="PyTorch's convolutions read (N, C, H, W); photos loaded as pixels come as (N, H, W, C)",
        got=f"shape {list(array.shape)}",
    )
    expect(
        array.shape[2:] == (224, 224),
        f"the photos are {array.shape[2]}x{array.shape[3]} pixels",
        why="EfficientNet-Lite0 was trained on 224x224 inputs; the export and the page use that size",
        got=f"shape {list(array.shape)}",
    )
    expect(
        np.issubdtype(array.dtype, np.floating),
        f"the batch holds {array.dtype} values",
        why="the model computes in float32 on pixels mapped to the scale its weights were trained on",
        got=str(array.dtype),
    )
    low, high = float(array.min()), float(array.max())
    scale = "the scale the weights were trained on (EfficientNet-Lite's preprocessing)"
    expect(
        high <= 1.01,
        f"the batch's values reach {high:.1f}",
        why="the pixels were not mapped to the range the weights were trained on; the logits of such inputs mean "
        "nothing",
        expected=scale,
        got=f"values from {low:.2f} to {high:.2f}",
    )
    expect(
        low < -0.2,
        "the batch has no clearly negative values",
        why="the weights were trained on pixels centred on zero (dark pixels negative); inputs in [0, 1] shift "
        "every activation",
        expected=scale,
        got=f"values from {low:.2f} to {high:.2f}",
    )
    expect(
        low >= -1.01,
        f"the batch's values go down to {low:.2f}",
        why="the photos were normalised with another model family's statistics, not the ones these weights "
        "were trained with",
        expected=scale,
        got=f"values from {low:.2f} to {high:.2f}",
    )
    _same_photos(array, _pixels(photos))
    expect(labels is not None, "no labels yet: pass the ImageNet name of each photo's top class")
    names = list(labels) if not isinstance(labels, str) else [labels]
    expect(
        len(names) == len(array),
        f"{len(names)} labels for {len(array)} photos",
        why="each photo gets the name of its own top class",
    )
    expect(
        all(isinstance(n, str) for n in names),
        "the labels are not class names",
        why="a learner, a user and the web page all read ImageNet names, not class numbers",
        got=", ".join(repr(n) for n in names[:3]),
    )
    from course_utils.models.efficientnet import imagenet_labels

    top = eager_logits(array.astype(np.float32)).argmax(1)
    imagenet = imagenet_labels()
    for k, (name, index) in enumerate(zip(names, top, strict=True)):
        expect(
            name.strip().lower() == imagenet[int(index)].lower(),
            f"photo {k + 1}'s label is not the pretrained model's top class for that input",
            why="the label of logit i is ImageNet's i-th class name; a wrong list, an off-by-one or another "
            "model's answer gives another name",
            got=repr(name),
        )
    return Passed(
        f"the pretrained model classifies {len(names)} photos in eager mode",
        (("photos", str(len(names))), ("top-1", ", ".join(imagenet[int(i)] for i in top))),
    )


# ------------------------------------------------------------------------------------------------ stage 2


def _batch_dims(model: onnx.ModelProto) -> tuple[onnx.TensorShapeProto.Dimension, onnx.TensorShapeProto.Dimension]:
    initializers = {t.name for t in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in initializers]
    expect(
        len(inputs) == 1 and len(model.graph.output) >= 1,
        f"the file has {len(inputs)} inputs",
        why="the classifier takes one batch of images",
    )
    first_in = inputs[0].type.tensor_type.shape.dim
    first_out = model.graph.output[0].type.tensor_type.shape.dim
    expect(len(first_in) == 4, "the file's input is not a 4-D image batch", got=input_type(model))
    return first_in[0], first_out[0] if len(first_out) else onnx.TensorShapeProto.Dimension()


def _dynamic_batch(model: onnx.ModelProto) -> None:
    dim_in, dim_out = _batch_dims(model)
    expect(
        bool(dim_in.dim_param),
        f"the input's batch dimension is fixed at {dim_in.dim_value}",
        why="a session would reject any other number of photos: the page sends one, the gate and the benchmark "
        "send others",
        expected="a named (symbolic) first dimension",
        got=input_type(model),
    )
    expect(
        bool(dim_out.dim_param),
        "the output's batch dimension is not symbolic",
        why="a caller reads one row of logits per photo, however many photos it sends",
        got=f"first output dimension {dim_out.dim_value or '?'}",
    )


def check_export(path: Any = None) -> Passed:
    """Stage 2: ``path`` is the exported file: full check and shape inference pass, the batch is symbolic, and
    ONNX Runtime's logits match eager PyTorch's on two batch sizes."""
    model, path = load_answer(path, "the path of the exported .onnx file")
    try:
        onnx.checker.check_model(model, full_check=True)
    except Exception as error:
        raise NotYet("onnx's full check rejects the file", got=first_line(error)[:300]) from None
    _dynamic_batch(model)
    inferred = onnx.shape_inference.infer_shapes(model, strict_mode=True)
    dims = inferred.graph.output[0].type.tensor_type.shape.dim
    expect(
        len(dims) == 2 and dims[1].dim_value == 1000,
        "shape inference cannot tell that the output is 1,000 logits per photo",
        why="tools that read the file (the checker, converters, the page) rely on the shapes it declares",
        got=f"{len(dims)} output dimensions",
    )
    error = parity(path)
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)
    return Passed(
        f"{path.name}: full check and shape inference pass, batch symbolic, logits match eager PyTorch",
        (
            ("input", input_type(model)),
            ("IR version, opset", f"{model.ir_version}, {opset}"),
            ("max |ONNX - eager| (batches of 2 and 5)", describe_parity(error)),
        ),
    )


# ------------------------------------------------------------------------------------------------ stage 3


def web_limits() -> Any:
    """The limits of the browser's onnxruntime-web (``course_utils.versions.limits_for("web")``)."""
    from course_utils.versions.limits import limits_for

    return limits_for("web")


def _kind(report: Any, web: Any) -> str:
    import onnxruntime as ort

    target = report.target
    if target == web:
        return "web"
    if target.source == "measured" and target.onnxruntime_version == ort.__version__:
        return "python"
    if target.source == "published table":
        return "old"
    return "other"


#: The producer name :func:`~course_utils.capstone.scenario.stamp_release` writes: how the rubric knows a file is
#: the release script's output.
RELEASE_PRODUCER = "release-script"


def _report_path(name: str) -> Path | None:
    """The file a :class:`CompatReport` names (``relative_to_repo``'s text), or None when it names none."""
    from course_utils import paths

    if name.startswith("artifacts/"):
        candidate = paths.ARTIFACTS_DIR / name.removeprefix("artifacts/")
    else:
        candidate = Path(name) if Path(name).is_absolute() else paths.REPO_ROOT / name
    return candidate if candidate.is_file() else None


def _released_file(items: Sequence[Any]) -> str:
    """The one file every report is about, which must be the release script's output; returns its name."""
    names = sorted({r.model_name for r in items})
    files = [_report_path(n) for n in names]
    expect(
        all(f is not None for f in files),
        "a report does not name a file on disk",
        why="the rubric reads the file each report is about, to tell it is the file the release script wrote",
        expected="reports made from the path of the released file",
        got=", ".join(names),
    )
    expect(
        len(names) == 1,
        f"the reports are about {len(names)} different files",
        why="the three verdicts compare targets for one file, the one that ships",
        got=", ".join(names),
    )
    producer = onnx.load(str(files[0]), load_external_data=False).producer_name
    expect(
        producer == RELEASE_PRODUCER,
        "the reports are not about the file the release script wrote",
        why="the release script rebuilds the file before it ships, and what it changes is what a target may "
        "refuse: the checker must read its output, not the file before it",
        expected=f"a file whose producer is {RELEASE_PRODUCER!r}",
        got=f"{names[0]}, producer {producer!r}",
    )
    return names[0]


def _full_check(model: onnx.ModelProto, path: Path) -> None:
    try:
        onnx.checker.check_model(model, full_check=True)
    except Exception as error:
        raise NotYet(
            f"onnx's full check rejects {path.name}",
            why="an invalid file is one no runtime promises to read: a verdict about it is a guess",
            got=first_line(error)[:300],
        ) from None


def _web_compatible(path: Path) -> None:
    from course_utils.versions.compat import check_compatibility

    report = check_compatibility(path, "web", try_load=False)
    expect(
        report.verdict == "compatible",
        "the compatibility checker does not say the web target can load the file",
        why="onnxruntime-web lags the Python package; a file within Python's limits can be beyond the browser's",
        expected="the verdict 'compatible' for the target 'web'",
        got=f"{report.verdict}: " + "; ".join([r.what for r in report.reasons] + [r.what for r in report.unverified]),
    )


def check_web(path: Any = None, reports: Any = None) -> Passed:
    """Stage 3: ``path`` is a file the web target accepts (one self-contained file, within onnxruntime-web's
    limits, batch still symbolic, logits still eager's); ``reports`` are the compatibility checker's reports for
    the installed onnxruntime, the web and an old release, made from the file the release script wrote."""
    from course_utils.versions.compat import CompatReport

    expect(reports is not None, "no compatibility reports yet: pass the checker's reports for the three targets")
    items = [reports] if isinstance(reports, CompatReport) else list(reports) if isinstance(reports, Sequence) else []
    expect(
        bool(items) and all(isinstance(r, CompatReport) for r in items),
        "the second argument does not hold the compatibility checker's reports",
        why="the verdicts, with their reasons, are what you read before shipping to a target",
        got=type(reports).__name__ if not items else ", ".join(type(r).__name__ for r in items),
    )
    web = web_limits()
    kinds = {_kind(r, web) for r in items}
    for kind, label in (("python", "the installed onnxruntime"), ("web", "the web"), ("old", "an older release")):
        expect(
            kind in kinds,
            f"no report for {label}",
            why="each place the model may run has its own limits; the stage asks about three of them",
            expected="reports for the installed onnxruntime, the web, and a release from the published table",
            got=", ".join(str(r.target.onnxruntime_version) for r in items),
        )
    released = _released_file(items)
    model, path = load_answer(path, "the path of the file for the web", external=False)
    external = [t.name for t in model.graph.initializer if t.data_location == onnx.TensorProto.EXTERNAL]
    expect(
        not external,
        f"the file keeps {len(external)} weight tensors in a separate data file",
        why="the page fetches one model file; weights stored beside it never reach the browser",
        got=f"{len(external)} external tensors",
    )
    _full_check(model, path)
    _web_compatible(path)
    _dynamic_batch(model)
    error = parity(path)
    verdicts = "; ".join(
        f"{getattr(r.target, 'runtime_name', r.target.onnxruntime_version)}: {r.verdict}" for r in items
    )
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)
    return Passed(
        f"{path.name} passes for the web (compatible) and still matches eager PyTorch",
        (
            ("verdicts you asked for", f"{verdicts} (about {released})"),
            ("web file", f"IR {model.ir_version}, opset {opset}, one file of {format_bytes(path.stat().st_size)}"),
            ("max |ONNX - eager|", describe_parity(error)),
        ),
    )


# ------------------------------------------------------------------------------------------------ stage 4

_STANDARD_DOMAINS = ("", "ai.onnx")
#: The fewest timed runs per engine from which a p90/p50 spread is stated (the bench's verdicts want 20; a busy
#: machine's harness may stop a slow engine earlier, at three times its budget).
MIN_SPREAD_RUNS = 10


def _left_to_basic(path: Path) -> int:
    """How many nodes ONNX Runtime's basic optimizations would still remove from ``path``."""
    import tempfile

    from course_utils.runtime.sessions import create_session, session_options

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "basic.onnx"
        create_session(path, session_options("ORT_ENABLE_BASIC", threads=1, log_severity=3, optimized_model_path=out))
        after = len(onnx.load(str(out), load_external_data=False).graph.node)
    return len(onnx.load(str(path), load_external_data=False).graph.node) - after


def _ort_row(report: Any, stem: str) -> Any:
    rows = [r for r in report.rows if r.engine.startswith("ort-") and r.model == stem]
    expect(
        bool(rows),
        "no ONNX Runtime row of the benchmark times your optimized file",
        why="the speed-up you state must be the speed-up of the file you ship",
        expected=f"a row of an ort-* engine on the model {stem!r}",
        got=", ".join(sorted({f"{r.engine} on {r.model}" for r in report.rows})) or "no rows",
    )
    return min(rows, key=lambda r: r.p50_ms)


def check_optimized(path: Any = None, report: Any = None) -> Passed:
    """Stage 4: ``path`` is the file optimized offline (portable operators only, nothing left for ONNX Runtime's
    basic level to remove, logits still eager's); ``report`` the course benchmark (a ``BenchReport``) that times
    it against eager PyTorch with enough runs to state a spread."""
    from course_utils.bench.report import BenchReport

    model, path = load_answer(path, "the path of the optimized .onnx file")
    custom = sorted({f"{n.domain}.{n.op_type}" for n in model.graph.node if n.domain not in _STANDARD_DOMAINS})
    expect(
        not custom,
        f"the file holds {len(custom)} kinds of operators outside standard ONNX",
        why="operators of ONNX Runtime's own domains, written by its higher optimization levels, run only in "
        "ONNX Runtime's CPU provider and may be tied to the CPU that wrote them: the browser cannot load them",
        expected="standard ONNX operators only",
        got=", ".join(custom[:4]),
    )
    left = _left_to_basic(path)
    expect(
        left <= 0,
        f"ONNX Runtime's basic optimizations still remove {left} of the file's {len(model.graph.node)} nodes",
        why="the file was saved before optimization: every session redoes that work at load time, and the file "
        "ships more nodes than it needs",
    )
    _dynamic_batch(model)
    error = parity(path)
    expect(report is not None, "no benchmark yet: pass the course benchmark's report")
    expect(
        isinstance(report, BenchReport),
        "the second argument is not a benchmark report",
        why="a speed-up means something only with its spread and the number of runs behind it; a single number "
        "or one timing has neither",
        got=type(report).__name__,
    )
    eager = [r for r in report.rows if r.engine == "torch-eager"]
    expect(
        bool(eager),
        "the benchmark has no eager PyTorch row",
        why="the stage asks how much faster the shipped file is than the model you started from",
        got=", ".join(r.engine for r in report.rows) or "no rows",
    )
    row = _ort_row(report, path.stem)
    base = eager[0]
    for r in (row, base):
        expect(
            r.runs >= MIN_SPREAD_RUNS,
            f"{r.engine} ran {r.runs} times",
            why="a spread (p90 against p50) from so few runs is noise, so the speed-up cannot be stated with one",
            expected=f"at least {MIN_SPREAD_RUNS} timed runs per engine",
            got=f"{r.runs} runs",
        )
    expect(
        row.batch == base.batch,
        f"the ONNX Runtime row ran batch {row.batch} and eager PyTorch batch {base.batch}",
        why="a speed-up compares the same work",
    )
    verdict = report.verdict(row.engine, "torch-eager", model=None)
    spread = f"spread p90/p50 {row.p90_ms / row.p50_ms:.2f} vs {base.p90_ms / base.p50_ms:.2f}"
    return Passed(
        f"{path.name} (standard ONNX, optimized) timed against eager PyTorch",
        (
            (
                "speed-up vs eager",
                f"{base.p50_ms / row.p50_ms:.2f}x ({row.engine} p50 {row.p50_ms:.2f} ms vs "
                f"{base.p50_ms:.2f} ms, batch {row.batch}, {plural(row.threads, 'thread')}; {spread}; {row.runs} and {base.runs} runs)",
            ),
            ("verdict", verdict.claim or f"noisy: {'; '.join(verdict.problems)}"),
            ("nodes", f"{len(model.graph.node)}, max |ONNX - eager| {describe_parity(error)}"),
        ),
    )
