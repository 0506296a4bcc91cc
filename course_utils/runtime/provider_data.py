"""The course's one table of ONNX Runtime execution providers (EPs): where each runs (server, edge, mobile, web),
on what hardware, which package brings it, the install command, and status notes.

Data only, at the bottom of :mod:`course_utils.runtime`: the provider table and switcher
(:mod:`course_utils.runtime.providers`) and the install hints of :func:`course_utils.runtime.make_session`'s
errors (:mod:`course_utils.runtime.run`) both read it.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CPU", "PROVIDERS", "ProviderInfo", "provider_info"]

CPU = "CPUExecutionProvider"


@dataclass(frozen=True)
class ProviderInfo:
    """One execution provider: what it is, where it runs, and how to install it."""

    name: str  # the name ONNX Runtime uses, e.g. "CUDAExecutionProvider"
    short: str  # what people call it: "CUDA"
    runs_on: tuple[str, ...]  # where it is deployed: "server", "edge", "mobile", "web"
    hardware: str
    package: str  # the package that brings it
    install: str  # the exact command (or what else is needed)
    notes: str = ""
    plugin: bool = False  # shipped as a separate plugin-EP package, registered at run time


_GPU_WHEEL = "pip uninstall -y onnxruntime && pip install onnxruntime-gpu"

#: Every execution provider the course teaches, ONNX Runtime's built-in ones first (in ORT's priority order).
PROVIDERS: tuple[ProviderInfo, ...] = (
    ProviderInfo(
        "TensorrtExecutionProvider",
        "TensorRT",
        ("server", "edge"),
        "NVIDIA GPUs (data centre, RTX, Jetson)",
        "onnxruntime-gpu + NVIDIA TensorRT",
        f"{_GPU_WHEEL}, plus the TensorRT libraries that build expects (e.g. pip install tensorrt)",
        "builds an optimized engine per model on the first run (seconds to minutes); cache it with the "
        "trt_engine_cache_enable option. Nodes TensorRT cannot take go to CUDA, then CPU.",
    ),
    ProviderInfo(
        "CUDAExecutionProvider",
        "CUDA",
        ("server", "edge"),
        "NVIDIA GPUs",
        "onnxruntime-gpu",
        f"{_GPU_WHEEL} (needs the CUDA 12+ and cuDNN 9 libraries it was built for, e.g. from the nvidia-* pip packages or torch)",
        "onnxruntime and onnxruntime-gpu share the import name: with both installed, the one installed last "
        "overwrites the other's files (often the CPU one, pulled in by another package), so uninstall both, then "
        "install one. If CUDA/cuDNN fail to load, the session silently runs on CPU; "
        "onnxruntime.preload_dlls() loads them first.",
    ),
    ProviderInfo(
        "MIGraphXExecutionProvider",
        "MIGraphX",
        ("server",),
        "AMD GPUs (ROCm)",
        "an onnxruntime build with MIGraphX",
        "AMD's ROCm builds of onnxruntime, or build from source with --use_migraphx",
        "AMD's GPU provider now that the ROCm provider is gone (it is not in this release's list).",
    ),
    ProviderInfo(
        "OpenVINOExecutionProvider",
        "OpenVINO",
        ("server", "edge"),
        "Intel CPUs, integrated GPUs and NPUs",
        "onnxruntime-openvino",
        "pip uninstall -y onnxruntime && pip install onnxruntime-openvino",
        "also shipped as the plugin-EP package onnxruntime-ep-openvino (see below).",
    ),
    ProviderInfo(
        "DnnlExecutionProvider",
        "oneDNN",
        ("server",),
        "x86 CPUs (Intel oneDNN kernels)",
        "an onnxruntime build with oneDNN",
        "build from source with --use_dnnl",
        "the default CPU provider already uses optimized kernels; rarely needed.",
    ),
    ProviderInfo(
        "VitisAIExecutionProvider",
        "Vitis AI",
        ("edge",),
        "AMD Ryzen AI NPUs, AMD/Xilinx FPGAs",
        "AMD's Ryzen AI software",
        "install AMD's Ryzen AI Software (it brings its own onnxruntime build)",
        "models are usually quantized to int8 first.",
    ),
    ProviderInfo(
        "QNNExecutionProvider",
        "QNN",
        ("edge", "mobile"),
        "Qualcomm Snapdragon NPUs (Hexagon) and GPUs: Windows on Arm, Android",
        "onnxruntime-qnn",
        "pip install onnxruntime-qnn (Windows on Arm); Android: the onnxruntime-android-qnn package",
        "the NPU wants quantized (QDQ) models.",
    ),
    ProviderInfo(
        "NnapiExecutionProvider",
        "NNAPI",
        ("mobile",),
        "Android phones' accelerators through Android's NNAPI",
        "onnxruntime-android (Maven)",
        "implementation 'com.microsoft.onnxruntime:onnxruntime-android' in build.gradle",
        "deprecated: Google deprecated NNAPI in Android 15; prefer XNNPACK, QNN (Qualcomm) or the CPU provider.",
    ),
    ProviderInfo(
        "VSINPUExecutionProvider",
        "VSI NPU",
        ("edge",),
        "VeriSilicon NPUs in embedded SoCs",
        "an onnxruntime build with VSI NPU",
        "build from source with --use_vsinpu",
    ),
    ProviderInfo(
        "JsExecutionProvider",
        "JSEP",
        ("web",),
        "the browser (WebAssembly + WebGPU kernels written in JavaScript)",
        "onnxruntime-web (npm)",
        "npm install onnxruntime-web",
        "onnxruntime-web's older WebGPU path; WebGpuExecutionProvider is replacing it.",
    ),
    ProviderInfo(
        "CoreMLExecutionProvider",
        "CoreML",
        ("mobile", "edge"),
        "Apple CPU, GPU and Neural Engine (macOS, iOS)",
        "onnxruntime (macOS wheel); onnxruntime-objc / onnxruntime-c (iOS, CocoaPods)",
        "pip install onnxruntime on macOS; pod 'onnxruntime-objc' on iOS",
        "Published mobile packages are full builds; builds with only your model's operators are custom builds"
        " (ORT format + --include_ops_by_config).",
    ),
    ProviderInfo(
        "DmlExecutionProvider",
        "DirectML",
        ("edge",),
        "any DirectX 12 GPU on Windows (NVIDIA, AMD, Intel, Qualcomm)",
        "onnxruntime-directml",
        "pip uninstall -y onnxruntime && pip install onnxruntime-directml",
        "Windows only; Windows ML's plugin EPs are Microsoft's newer route on Windows.",
    ),
    ProviderInfo(
        "RknpuExecutionProvider",
        "RKNPU",
        ("edge",),
        "Rockchip NPUs",
        "an onnxruntime build with RKNPU",
        "build from source with --use_rknpu",
    ),
    ProviderInfo(
        "WebNNExecutionProvider",
        "WebNN",
        ("web",),
        "the browser's WebNN API (CPU, GPU or NPU chosen by the browser)",
        "onnxruntime-web (npm)",
        "npm install onnxruntime-web",
        "needs a browser with WebNN enabled.",
    ),
    ProviderInfo(
        "WebGpuExecutionProvider",
        "WebGPU",
        ("web", "edge"),
        "GPUs through WebGPU (browsers; also native builds)",
        "onnxruntime-web (npm)",
        "npm install onnxruntime-web (executionProviders: ['webgpu'])",
    ),
    ProviderInfo(
        "XnnpackExecutionProvider",
        "XNNPACK",
        ("mobile", "edge"),
        "Arm and x86 CPUs (optimized float kernels)",
        "onnxruntime-android / onnxruntime-objc",
        "included in ORT's mobile packages (Android Maven, iOS CocoaPods); build from source with --use_xnnpack",
        "mainly for mobile CPUs. Published mobile packages are full builds; builds with only your model's operators"
        " are custom builds (ORT format + --include_ops_by_config).",
    ),
    ProviderInfo(
        "CANNExecutionProvider",
        "CANN",
        ("server", "edge"),
        "Huawei Ascend NPUs",
        "an onnxruntime build with CANN",
        "build from source with --use_cann (Huawei's CANN toolkit)",
    ),
    ProviderInfo(
        "AzureExecutionProvider",
        "Azure",
        ("server",),
        "none locally: sends requests to a model served on Azure",
        "onnxruntime",
        "pip install onnxruntime (built in)",
        "only runs the custom operators that call a remote endpoint; ordinary models never use it.",
    ),
    ProviderInfo(
        CPU,
        "CPU",
        ("server", "edge", "mobile", "web"),
        "any CPU (x86, Arm)",
        "onnxruntime",
        "pip install onnxruntime (built into every package)",
        "the default and the fallback: runs every node other providers do not take.",
    ),
    ProviderInfo(
        "ACLExecutionProvider",
        "ACL",
        ("edge", "mobile"),
        "Arm CPUs and Mali GPUs (Arm Compute Library)",
        "an onnxruntime build with ACL",
        "build from source with --use_acl",
        "not in onnxruntime 1.32's get_all_providers() list; on Arm, the default CPU provider and XNNPACK are "
        "the usual choices.",
    ),
    ProviderInfo(
        "OpenVINOExecutionProvider (plugin)",
        "OpenVINO plugin",
        ("server", "edge"),
        "Intel CPUs, GPUs and NPUs",
        "onnxruntime-ep-openvino",
        "pip install onnxruntime-ep-openvino, then onnxruntime.register_execution_provider_library(...)",
        "a plugin EP on top of the ordinary onnxruntime wheel; on this AMD CPU it registers but offers no device.",
        plugin=True,
    ),
    ProviderInfo(
        "NvTensorRTRTXExecutionProvider",
        "TensorRT RTX",
        ("edge",),
        "NVIDIA RTX GPUs on PCs",
        "a plugin-EP library (Windows ML, or NVIDIA's build)",
        "register its library with onnxruntime.register_execution_provider_library(...)",
        "only available as a plugin EP registered by the application.",
        plugin=True,
    ),
)

_BY_NAME = {info.name: info for info in PROVIDERS}


def provider_info(name: str) -> ProviderInfo | None:
    """The :data:`PROVIDERS` entry for a provider name (``"CUDAExecutionProvider"``), or None."""
    return _BY_NAME.get(name)
