"""OpenVINO engine: the same ONNX file, run by OpenVINO's CPU plugin, in bfloat16 or int8.

The fast CPU paths (timings: benchmarks/results/bench_compare.md).

* ``precision="bf16"`` runs an fp32 model's convolutions on bf16 tiles with fp32
  accumulation on CPUs with AVX512_BF16/AMX.
* ``precision="int8"`` runs an int8 model file (QDQ, made from the fp32 weights by
  ``models/qat.py`` and ``export/quantize.py``) on OpenVINO's int8 kernels (AMX-INT8 / VNNI);
  what the file keeps in float runs in bf16 where the CPU has it (fp32 otherwise), except the
  bicubic skip, which runs in fp32 as on the bf16 path.
* ``precision="fp32"`` keeps full precision.

In bf16 the global bicubic skip runs apart from the network in fp32 and is added in fp32:
bf16 keeps 8 significant bits, so a bf16 skip would re-quantise the image itself (the
measured loss is in docs/engines.md). The split-off skip is OpenCV's bicubic resize when
that reproduces the file's own skip on a probe image (the exporter's skip is PyTorch's
bicubic: a = -0.75, half-pixel, edge clamp), because it is faster than OpenVINO's fp32
skip (benchmarks/results/int8_forms.md); otherwise the skip sub-graph itself, compiled in
fp32. Both write the NHWC layout the network is asked to produce (which saves OpenVINO's
final reorder), so the sum and the uint8 conversion run on contiguous pixels.

Needs the optional extra: ``pip install 'litesr-edge[openvino]'``. Importing this module
without openvino raises ModuleNotFoundError, which ``create_engine`` reports as an
EngineUnavailableError.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
import openvino as ov
from numpy.typing import NDArray
from openvino.preprocess import PrePostProcessor

from litesr_edge.engines import check_precision, model_precision
from litesr_edge.engines.cpu import visible
from litesr_edge.errors import EngineUnavailableError, InvalidInputError, LiteSRError, ModelError, ProviderError
from litesr_edge.registry.info import ModelInfo
from litesr_edge.registry.metadata import read_model_info

__all__ = ["OpenVinoEngine", "bf16_supported", "bicubic_nhwc", "int8_supported", "split_skip"]

# Our precision names (litesr_edge.engines.onnxruntime.PRECISIONS) -> OpenVINO's inference precision hint.
_HINTS = {"fp32": "f32", "bf16": "bf16"}
_CPU_NAMES = frozenset({"cpu", "cpuexecutionprovider"})


def bf16_supported(core: ov.Core | None = None) -> bool:
    """Whether OpenVINO's CPU plugin reports native bfloat16 (AVX512_BF16 or AMX) here.

    False when ``LITESR_EDGE_HIDE_CPU`` hides bf16 (see litesr_edge.engines.cpu).
    """
    caps = (core or ov.Core()).get_property("CPU", "OPTIMIZATION_CAPABILITIES")
    return visible("bf16", "BF16" in caps)


def int8_supported(core: ov.Core | None = None) -> bool:
    """Whether OpenVINO's CPU plugin reports int8 kernels (VNNI / AMX-INT8 make them fast) here.

    False when ``LITESR_EDGE_HIDE_CPU`` hides int8 (see litesr_edge.engines.cpu).
    """
    caps = (core or ov.Core()).get_property("CPU", "OPTIMIZATION_CAPABILITIES")
    return visible("int8", "INT8" in caps)


def _node_key(node: ov.Node) -> str:
    return str(node.get_friendly_name())


def _ancestors(output: ov.Output) -> int:
    """How many nodes ``output`` depends on (the network branch has hundreds, the skip a few)."""
    seen: set[str] = set()
    stack = [output.get_node()]
    while stack:
        node = stack.pop()
        if _node_key(node) in seen:
            continue
        seen.add(_node_key(node))
        stack.extend(v.get_node() for v in node.input_values())
    return len(seen)


def split_skip(model: ov.Model) -> tuple[ov.Model, ov.Model] | None:
    """(network, skip) sub-models when the output is Add(network, input-only skip); else None."""
    results, params = model.get_results(), model.get_parameters()
    if len(results) != 1 or len(params) != 1:
        return None
    add = results[0].input_value(0).get_node()
    if add.get_type_name() != "Add":
        return None
    a, b = add.input_value(0), add.input_value(1)
    net, skip = (a, b) if _ancestors(a) >= _ancestors(b) else (b, a)
    if _ancestors(skip) * 4 > _ancestors(net):
        return None  # no clearly small branch: not the LiteSRNet skip
    return ov.Model([net], params, "network"), ov.Model([skip], params, "skip")


def _nhwc_output(model: ov.Model) -> ov.Model:
    """A copy of ``model`` with its (N, C, H, W) output delivered as (N, H, W, C).

    A copy: split_skip's two sub-models share their Parameter, which the build would rewire.
    """
    ppp = PrePostProcessor(model.clone())
    ppp.output(0).tensor().set_layout(ov.Layout("NHWC"))
    ppp.output(0).model().set_layout(ov.Layout("NCHW"))
    return ppp.build()


def bicubic_nhwc(batch: NDArray[np.float32], scale: int) -> NDArray[np.float32]:
    """(N, 3, H, W) -> (N, sH, sW, 3) by OpenCV's bicubic resize (a = -0.75, half-pixel, edge clamp)."""
    n, c, h, w = batch.shape
    out = np.empty((n, h * scale, w * scale, c), np.float32)
    for i in range(n):
        cv2.resize(batch[i].transpose(1, 2, 0), (w * scale, h * scale), dst=out[i], interpolation=cv2.INTER_CUBIC)
    return out


# A probe image's skip from OpenCV and from the model's own skip sub-graph must agree this
# closely (float rounding is ~5e-7; a different filter differs by 1e-2 or more).
_SKIP_MATCH = 1e-5


def _skip_runner(skip: ov.CompiledModel, scale: int) -> ov.CompiledModel | None:
    """None when OpenCV's bicubic reproduces ``skip`` (run that instead), else ``skip`` itself."""
    probe = np.random.default_rng(0).random((1, 3, 7, 9), dtype=np.float32)
    want = skip.create_infer_request().infer({0: probe})[0]
    got = bicubic_nhwc(probe, scale)
    return None if want.shape == got.shape and float(np.abs(want - got).max()) <= _SKIP_MATCH else skip


def _check_providers(providers: Sequence[str] | None) -> None:
    if providers is None:
        return
    if isinstance(providers, str):
        raise InvalidInputError(f"providers={providers!r} must be a list, e.g. ['cpu']")
    others = [p for p in providers if p.lower() not in _CPU_NAMES]
    if others:
        raise ProviderError(
            f"the openvino engine runs on the CPU only, not {', '.join(others)}; "
            "pass providers=None or ['cpu'], or use engine='onnxruntime' for other devices"
        )


def _check_cpu(core: ov.Core, precision: str) -> None:
    if precision == "bf16" and not bf16_supported(core):
        raise EngineUnavailableError(
            "this CPU has no native bfloat16 (AVX512_BF16 or AMX), so precision='bf16' would be slow "
            "or emulated; use precision='fp32' or engine='onnxruntime'"
        )
    if precision == "int8" and not int8_supported(core):
        raise EngineUnavailableError(
            "OpenVINO reports no int8 kernels on this CPU, so precision='int8' would be slow; "
            "use precision='bf16'/'fp32' or engine='onnxruntime'"
        )


def _float_ops(precision: str) -> str:
    """The precision of the network's non-convolution work ("fp32" or "bf16").

    int8: the QDQ nodes make the convolutions int8 whatever the hint; the rest (head conv,
    decoder outputs, the recurrent steps' Adds and the float state they carry) runs in fp32.
    The bundled int8 files add each step's float input back, and with a bf16 state OpenVINO
    inserts a layout Reorder at every step: fp32 is both exact and faster there (docs/int8.md).
    """
    return "fp32" if precision == "int8" else precision


def _config(precision: str, threads: int | None) -> dict[str, str | int]:
    config: dict[str, str | int] = {"INFERENCE_PRECISION_HINT": _HINTS[precision], "PERFORMANCE_HINT": "LATENCY"}
    if threads is not None:
        if threads < 1:
            raise InvalidInputError(f"threads={threads} must be >= 1 (or None for all cores)")
        config["INFERENCE_NUM_THREADS"] = threads
    return config


class OpenVinoEngine:
    """An OpenVINO CPU compiled model for one LiteSRNet ONNX file.

    ``precision``: "bf16" (default for an fp32 file on a CPU with native bf16, else "fp32"),
    "fp32", or "int8" (the default, and the only choice, for an int8 model file).
    ``providers``: None or ["cpu"]; ``threads``: CPU threads (None: OpenVINO's choice).
    Raises EngineUnavailableError when the CPU lacks bfloat16 (int8) support.
    """

    def __init__(
        self,
        model_path: str | os.PathLike[str],
        providers: Sequence[str] | None = None,
        threads: int | None = None,
        precision: str | None = None,
    ) -> None:
        if precision is not None:
            check_precision(precision)
        _check_providers(providers)
        path = Path(model_path)
        self._info = read_model_info(path)  # validates the file and its litesr metadata
        core = ov.Core()
        # bf16 where the CPU runs it natively (the reason to pick this engine), else fp32.
        precision = model_precision(precision, self._info, "bf16" if bf16_supported(core) else "fp32", path)
        _check_cpu(core, precision)
        float_ops = _float_ops(precision)
        try:
            model = core.read_model(os.fspath(path))
            parts = split_skip(model) if float_ops == "bf16" else None
            self._split = parts is not None
            self._skip: ov.CompiledModel | None = None
            if parts is None:
                self._compiled = core.compile_model(model, "CPU", _config(float_ops, threads))
            else:
                self._compiled = core.compile_model(_nhwc_output(parts[0]), "CPU", _config(float_ops, threads))
                skip = core.compile_model(_nhwc_output(parts[1]), "CPU", _config("fp32", threads))
                self._skip = _skip_runner(skip, self._info.scale)
        except RuntimeError as exc:
            raise ModelError(f"OpenVINO cannot compile {path} ({_reason(exc)}); re-export the model") from exc
        self._precision = precision

    @property
    def info(self) -> ModelInfo:
        """The model's litesr metadata."""
        return self._info

    @property
    def provider(self) -> str:
        """What runs the model, e.g. "OpenVINO CPU bf16 (skip fp32)"."""
        return f"OpenVINO CPU {self._precision}" + (" (skip fp32)" if self._split else "")

    @property
    def precision(self) -> str:
        """The inference precision: "bf16", "fp32" or "int8"."""
        return self._precision

    def run(self, batch: NDArray[np.float32]) -> NDArray[np.float32]:
        """(N, 3, H, W) float32 -> (N, 3, sH, sW) float32.

        Thread-safe: each call gets its own infer request (creating one costs ~15 us).
        With the skip split off, the result is an (N, 3, sH, sW) view of an NHWC array (the
        layout the uint8 conversion wants): the network's output is read from the request's
        own buffer and added, in fp32, into the skip's new array before the request is released.
        """
        x = np.ascontiguousarray(batch, dtype=np.float32)
        try:
            net = self._compiled.create_infer_request()
            # The input is copied, not shared: with share_inputs, OpenVINO 2026.4 kept the
            # caller's freed array as the graph's input memory, and a later request that
            # copies its input wrote into it (heap corruption seen in a benchmark script).
            net.infer({0: x}, share_outputs=True)
            result = net.get_output_tensor(0).data
            if result.size == 0:
                # Seen under an address-space limit: OpenVINO's CPU plugin returned an empty
                # output instead of raising when its buffers could not be allocated.
                raise MemoryError(f"OpenVINO returned an empty {result.shape} output for a {x.shape} input")
            if not self._split:
                return np.array(result, dtype=np.float32)
            skip = self._skip_nhwc(x)
            out: NDArray[np.float32] = np.add(result, skip, out=skip)
            return out.transpose(0, 3, 1, 2)
        except RuntimeError as exc:
            if "alloc" in str(exc).lower():
                raise MemoryError(str(exc)) from exc  # the Upscaler reports it as OutOfMemoryError
            raise LiteSRError(
                f"inference failed on a {batch.shape[2]}x{batch.shape[3]} tile with {self.provider}: "
                f"{_reason(exc)}; try a smaller --tile/--max-memory"
            ) from exc

    def _skip_nhwc(self, x: NDArray[np.float32]) -> NDArray[np.float32]:
        if self._skip is None:
            return bicubic_nhwc(x, self._info.scale)
        return np.array(self._skip.create_infer_request().infer({0: x})[0], dtype=np.float32)


def _reason(exc: BaseException) -> str:
    lines = [line for line in str(exc).splitlines() if line.strip()]
    return lines[-1] if lines else type(exc).__name__
