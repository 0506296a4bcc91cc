"""The capstone's seven stages as :class:`~course_utils.capstone.stages.Stage` objects: title, rubric, hints
(each more specific), the hidden reference solution and the giveaways no feedback may contain.

The reference solutions run in order (each reads the files the one before wrote, all named ``solution_…`` in
``artifacts/12/``) and use the libraries' own calls; stage 3 also uses the release script of the scenario
(:func:`~course_utils.capstone.scenario.stamp_release`), and stage 7 the course's gate, the tool the stage is about.
"""

from __future__ import annotations

from course_utils.capstone.checks_build import check_export, check_optimized, check_web
from course_utils.capstone.checks_classify import check_classify
from course_utils.capstone.checks_ship import check_gate, check_int8, check_ort
from course_utils.capstone.stages import Stage

__all__ = ["benchmark_stage", "classify", "export", "gate", "int8", "ort_format", "web"]

_PATHS = """from course_utils.paths import artifact_path

"""

classify = Stage(
    "12.1",
    "load and classify",
    check_classify,
    hints=[
        "The course loads the trained network for you; check the state it is in before predicting.",
        "Three photos as one batch: RGB pixels cropped square and resized to 224x224, mapped to the scale the "
        "weights were trained on (see the docstring of course_utils.models.efficientnet), channels first.",
        "`load_efficientnet_lite0()` returns the model in eval mode; `preprocess(np.stack(squares))` makes the batch; "
        "`imagenet_labels()[i]` names logit i; run the model under `torch.no_grad()` and take `argmax(1)`.",
    ],
    solution_code="""import numpy as np
import skimage.data
import torch
from PIL import Image

from course_utils.models.efficientnet import imagenet_labels, load_efficientnet_lite0

solution_model = load_efficientnet_lite0().eval()  # the architecture + the packaged ImageNet weights
squares = []
for name in ("chelsea", "coffee", "rocket"):
    photo = getattr(skimage.data, name)()
    side = min(photo.shape[:2])
    top, left = (photo.shape[0] - side) // 2, (photo.shape[1] - side) // 2
    square = Image.fromarray(photo[top : top + side, left : left + side])
    squares.append(np.asarray(square.resize((224, 224), Image.Resampling.BILINEAR)))
solution_photos = np.stack(squares)  # (3, 224, 224, 3) uint8 RGB, as loaded
pixels = solution_photos.astype(np.float32)
solution_batch = torch.from_numpy(((pixels - 127.0) / 128.0).transpose(0, 3, 1, 2).copy())  # NCHW, as trained
with torch.no_grad():
    solution_top1 = solution_model(solution_batch).argmax(1)
solution_labels = [imagenet_labels()[int(i)] for i in solution_top1]
capstone.check_stage(1, solution_model, solution_batch, solution_labels, solution_photos)""",
    giveaways=(".eval()", "(pixels - 127", "/ 128.0", "transpose(0, 3, 1, 2)", "preprocess("),
    number=1,
)

export = Stage(
    "12.2",
    "export with a dynamic batch",
    check_export,
    hints=[
        "The exporter fixes every dimension of the example input unless you tell it which ones may change.",
        "Name the batch dimension of the input and of the output when you export; then run the full checker and "
        "shape inference on the file, and compare ONNX Runtime with eager PyTorch on a batch of another size.",
        "`torch.onnx.export(model, (torch.zeros(2, 3, 224, 224),), path, dynamo=False, input_names=['image'], "
        "output_names=['logits'], dynamic_axes={'image': {0: 'batch'}, 'logits': {0: 'batch'}})`.",
    ],
    solution_code=_PATHS
    + """import warnings

import numpy as np
import onnx
import onnxruntime as ort
import torch

from course_utils.models.efficientnet import load_efficientnet_lite0

model = load_efficientnet_lite0()
solution_onnx = artifact_path("solution_effnet.onnx", lesson="12")
with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # the legacy exporter's deprecation notice
    torch.onnx.export(
        model,
        (torch.zeros(2, 3, 224, 224),),
        solution_onnx,
        dynamo=False,
        input_names=["image"],
        output_names=["logits"],
        dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}},
    )
exported = onnx.load(solution_onnx)
onnx.checker.check_model(exported, full_check=True)
onnx.shape_inference.infer_shapes(exported, strict_mode=True)
batch = np.random.default_rng(0).uniform(-1, 1, (3, 3, 224, 224)).astype(np.float32)
with torch.no_grad():
    expected = model(torch.from_numpy(batch)).numpy()
session = ort.InferenceSession(solution_onnx, providers=["CPUExecutionProvider"])
np.testing.assert_allclose(session.run(None, {"image": batch})[0], expected, rtol=1e-3, atol=1e-3)
capstone.check_stage(2, solution_onnx)""",
    giveaways=("dynamic_axes", "dynamic_shapes", "Dim(", "dim_param"),
    number=2,
)

web = Stage(
    "12.3",
    "pass for the web",
    check_web,
    hints=[
        "Read each report's reasons: which number in the file is newer than the browser's runtime accepts?",
        "The release script rebuilt the model with onnx's helper, which stamps the newest IR version onnx knows; "
        "the graph itself uses nothing that new (the report's fix says so).",
        "Load the stamped file, set its `ir_version` to the one the exporter wrote (`onnx.load(exported).ir_version`), "
        "save it as a new file and ask the checker again; pass the three reports of the stamped file.",
    ],
    solution_code=_PATHS
    + """import onnx

from course_utils.compat import check_compatibility

stamped = capstone.stamp_release(
    artifact_path("solution_effnet.onnx", lesson="12"), artifact_path("solution_effnet_release.onnx", lesson="12")
)
solution_reports = [check_compatibility(stamped), check_compatibility(stamped, "web"), check_compatibility(stamped, "1.14")]
released = onnx.load(stamped)
# make_model stamped onnx's newest IR version; the graph uses nothing newer than what the exporter wrote
released.ir_version = onnx.load(artifact_path("solution_effnet.onnx", lesson="12"), load_external_data=False).ir_version
solution_web = artifact_path("solution_effnet_web.onnx", lesson="12")
onnx.save(released, solution_web)
capstone.check_stage(3, solution_web, solution_reports)""",
    giveaways=("ir_version =", "ir_version=", "lower_ir_version", "ir_version to"),
    number=3,
)

benchmark_stage = Stage(
    "12.4",
    "optimize and benchmark",
    check_optimized,
    hints=[
        "Optimize offline only as far as every runtime can follow; leave the rest to the session that loads it.",
        "A session saves its optimized graph when `SessionOptions.optimized_model_filepath` is set; the level "
        "decides whether the result keeps standard ONNX operators, and the file it loads decides its IR version. "
        "Then time it with the course's benchmark, with the PyTorch model as a second engine on the same target, "
        "both on the same threads, with enough runs for the bench's own verdict.",
        "Load `web_file` (not the released one) with `ort.GraphOptimizationLevel.ORT_ENABLE_BASIC` and save it; "
        "`target = load_target(path)`, then `dataclasses.replace(target, framework=model, framework_kind='torch', "
        "framework_input=next(iter(target.feed.values())))`; "
        "`benchmark(target, ['ort-all', 'torch-eager'], threads=1, budget_s=2.0, min_runs=20)`.",
    ],
    solution_code=_PATHS
    + """from dataclasses import replace

import onnxruntime as ort

from course_utils.bench import MIN_RUNS, benchmark, load_target, row_problems
from course_utils.models.efficientnet import load_efficientnet_lite0

solution_optimized = artifact_path("solution_effnet_opt.onnx", lesson="12")
options = ort.SessionOptions()
options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC  # portable: standard operators only
options.optimized_model_filepath = str(solution_optimized)
ort.InferenceSession(artifact_path("solution_effnet_web.onnx", lesson="12"), options, providers=["CPUExecutionProvider"])
target = load_target(solution_optimized)  # the file at batch 1 and its FLOPs
target = replace(
    target, framework=load_efficientnet_lite0(), framework_kind="torch", framework_input=next(iter(target.feed.values()))
)
# online: the session applies the other levels at load. Both engines on one thread; at least the bench's MIN_RUNS
# (20) each, and a budget that leaves a slow engine on a busy machine room for them (it stops at 3x the budget).
# A row with too few runs or too wide a spread means something else used the CPU: measure again (at most 3 times).
for _ in range(3):
    solution_bench = benchmark(target, ["ort-all", "torch-eager"], threads=1, budget_s=2.0, min_runs=MIN_RUNS)
    if not any(row_problems(row) for row in solution_bench.rows):
        break
capstone.check_stage(4, solution_optimized, solution_bench)""",
    giveaways=("ORT_ENABLE_BASIC", "optimized_model_filepath ="),
    number=4,
)

int8 = Stage(
    "12.5",
    "quantize and choose",
    check_int8,
    hints=[
        "Calibrate on some photos and judge on other photos: capstone.CALIBRATION_PHOTOS and EVALUATION_PHOTOS are "
        "one such split, and capstone.crops_of(names) cuts the crops of named photos.",
        "Static quantization in QDQ format; the defaults (per-tensor weights) are not kind to depthwise "
        "convolutions. Judge each variant where fp32 is confident, not only on top-1 agreement, and keep a small "
        "table of what you tried with its numbers.",
        "`quant_pre_process(optimized, pre)`, then `quantize_static(pre, out, reader, quant_format=QuantFormat.QDQ, "
        "activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, per_channel=True)` with a reader over "
        "`preprocess(capstone.crops_of(capstone.CALIBRATION_PHOTOS))`; pass both name lists to the check.",
    ],
    solution_code=_PATHS
    + """import onnxruntime as ort
from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
from onnxruntime.quantization.shape_inference import quant_pre_process

from course_utils.models.efficientnet import preprocess


class PhotoReader(CalibrationDataReader):
    def __init__(self, photos, name):
        self.photos, self.name, self.next = photos, name, 0

    def get_next(self):
        if self.next == len(self.photos):
            return None
        self.next += 1
        return {self.name: preprocess(self.photos[self.next - 1])}  # one photo at a time: little memory

    def rewind(self):
        self.next = 0


solution_pre = artifact_path("solution_effnet_pre.onnx", lesson="12")
solution_int8 = artifact_path("solution_effnet_int8.onnx", lesson="12")
quant_pre_process(artifact_path("solution_effnet_opt.onnx", lesson="12"), solution_pre)
input_name = ort.InferenceSession(solution_pre, providers=["CPUExecutionProvider"]).get_inputs()[0].name
quantize_static(
    solution_pre,
    solution_int8,
    PhotoReader(capstone.crops_of(capstone.CALIBRATION_PHOTOS), input_name),  # 7 photos; judged on 15 others
    quant_format=QuantFormat.QDQ,
    activation_type=QuantType.QUInt8,
    weight_type=QuantType.QInt8,
    per_channel=True,
)
capstone.check_stage(
    5,
    solution_int8,
    artifact_path("solution_effnet_opt.onnx", lesson="12"),
    capstone.CALIBRATION_PHOTOS,
    capstone.EVALUATION_PHOTOS,
    why="U8 activations with per-channel weights keep fp32's answer where fp32 is confident (per-tensor weights, "
    "the default, do not: lesson 07), at about a quarter of the size",
)""",
    giveaways=("per_channel=True", "QUInt8", "per-channel", "per channel"),
    number=5,
)

ort_format = Stage(
    "12.6",
    "ORT format and the browser",
    check_ort,
    hints=[
        "ONNX Runtime ships the converter as a module of its Python package.",
        "Run `python -m onnxruntime.tools.convert_onnx_models_to_ort` on the model you chose; it writes the .ort "
        "file (and its required operators list) into an output folder, named after the model and the style.",
        "`subprocess.run([sys.executable, '-m', 'onnxruntime.tools.convert_onnx_models_to_ort', str(int8), "
        "'--output_dir', str(folder), '--optimization_style', 'Fixed'], check=True)`; then look for the `.ort` file "
        "in `folder`.",
    ],
    solution_code=_PATHS
    + """import subprocess
import sys

solution_int8 = artifact_path("solution_effnet_int8.onnx", lesson="12")
solution_folder = artifact_path("solution_ort", lesson="12")
subprocess.run(
    [sys.executable, "-m", "onnxruntime.tools.convert_onnx_models_to_ort", str(solution_int8), "--output_dir",
     str(solution_folder), "--optimization_style", "Fixed"],
    check=True,
    capture_output=True,
)
solution_ort = next(solution_folder.glob(solution_int8.stem + "*.ort"))  # the style may add to the name
capstone.check_stage(6, solution_ort, solution_int8)""",
    giveaways=("convert_onnx_models_to_ort", "--optimization_style", "convert_to_ort"),
    number=6,
)

gate = Stage(
    "12.7",
    "the model's CI gate",
    check_gate,
    hints=[
        "A gate needs outputs you trust, stored once, and settings under which a broken or slow model fails.",
        "Store real photos and the shipped model's own outputs with the gate's reference writer; set the target to "
        "where the model ships, a tolerance sized from what int8 itself changes (not from a guess), and a budget a "
        "few times the latency you measure.",
        "`write_reference(int8, {name: preprocess(capstone.crops_of(capstone.EVALUATION_PHOTOS)[:4])}, ref)`; "
        "atol = half of max |int8 - fp32| on those photos; time `session.run` twenty times after a warm-up; "
        "`run_gate(int8, reference=ref, target='web', budget_ms=4 * median, atol=atol)`.",
    ],
    solution_code=_PATHS
    + """import statistics
import time

import numpy as np
import onnxruntime as ort

from course_utils.deploy.gate import write_reference
from course_utils.models.efficientnet import preprocess

solution_int8 = artifact_path("solution_effnet_int8.onnx", lesson="12")
solution_reference = artifact_path("solution_gate_reference.npz", lesson="12")
photos = preprocess(capstone.crops_of(capstone.EVALUATION_PHOTOS)[:4])  # real photos calibration never saw
session = ort.InferenceSession(solution_int8, providers=["CPUExecutionProvider"])
name = session.get_inputs()[0].name
write_reference(solution_int8, {name: photos}, solution_reference)
fp32 = ort.InferenceSession(artifact_path("solution_effnet_opt.onnx", lesson="12"), providers=["CPUExecutionProvider"])
int8_error = float(np.abs(session.run(None, {name: photos})[0] - fp32.run(None, {name: photos})[0]).max())
# Another CPU's int8 kernels compute the same quantized graph with other rounding (and, without VNNI, U8S8 sums can
# saturate): allow half of int8's own distance from fp32, far above float noise, below a changed answer.
solution_atol = round(0.5 * int8_error, 3)
for _ in range(3):
    session.run(None, {name: photos})  # warm-up: the first runs are slower than the rest
times = []
for _ in range(20):
    start = time.perf_counter()
    session.run(None, {name: photos})
    times.append((time.perf_counter() - start) * 1e3)
solution_budget = round(4 * statistics.median(times), 1)  # room for a busier CI machine, not for a 10x slowdown
capstone.check_stage(7, solution_int8, solution_reference, target="web", budget_ms=solution_budget, atol=solution_atol)""",
    giveaways=("write_reference(", "target='web'", 'target="web"', "budget_ms=4", "0.5 * int8_error"),
    number=7,
)
