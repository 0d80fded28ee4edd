"""OpenCV zoo peers (FSRCNN, FSRCNN-small, ESPCN ``.pb``) without opencv-contrib.

opencv-contrib's ``cv2.dnn_superres`` is what an OpenCV user runs these models
with, but contrib and ``opencv-python-headless`` cannot share an environment.
This module reproduces ``DnnSuperResImpl::upsample`` for the Y-channel models
with plain ``cv2.dnn``: BGR -> YCrCb (uint8) -> float32 / 255, the network on
Y, Cr and Cb enlarged with ``cv2.resize`` (bilinear), merge, float32 x 255
rounded to uint8, YCrCb -> BGR. Its outputs were checked to be bit-identical
to opencv-contrib-python-headless 5.0.0 ``dnn_superres`` (every image of
Set5/Set14/BSD100 at x2/x3/x4, for all nine models; see
``benchmarks/peers_contrib.py``).

The graphs end in a TensorFlow ``DepthToSpace`` that plain ``cv2.dnn`` cannot
build (contrib registers its own layer). Only element-wise layers follow it,
which commute with a pixel shuffle, so it is replaced by an identity while the
graph is loaded and the shuffle is done here in numpy afterwards.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import cast

import cv2
import numpy as np
import numpy.typing as npt

from litesr_edge.errors import EngineUnavailableError, InvalidInputError, ModelError

__all__ = ["OpenCVSuperRes"]

# Layers that act on each value alone: a pixel shuffle before them may move after.
_ELEMENTWISE = frozenset({"Power", "TanH", "Identity", "ReLU", "Sigmoid"})
_REGISTRY_LOCK = threading.Lock()


class _IdentityLayer:
    """Stand-in for DepthToSpace while a graph is built (shuffle done in numpy)."""

    def __init__(self, params: dict[str, cv2.dnn.DictValue], blobs: Sequence[cv2.typing.MatLike]) -> None:
        del params, blobs

    def getMemoryShapes(self, inputs: Sequence[Sequence[int]]) -> Sequence[Sequence[int]]:  # noqa: N802
        return inputs

    def forward(self, inputs: Sequence[cv2.typing.MatLike]) -> Sequence[cv2.typing.MatLike]:
        return [inputs[0]]


def _depth_to_space(x: npt.NDArray[np.float32], scale: int) -> npt.NDArray[np.float32]:
    """TensorFlow ``depth_to_space`` (DCR order) of a (1, s*s, H, W) blob -> (H*s, W*s)."""
    _, _, h, w = x.shape
    shuffled = x.reshape(scale, scale, h, w).transpose(2, 0, 3, 1)
    return np.ascontiguousarray(shuffled.reshape(h * scale, w * scale))


def _tf_reader() -> Callable[..., cv2.dnn.Net]:
    """OpenCV's TensorFlow importer; OpenCV 5 removed it, so peers need OpenCV 4."""
    reader = getattr(cv2.dnn, "readNetFromTensorflow", None)
    if reader is None:
        raise EngineUnavailableError(
            f"OpenCV {cv2.__version__} cannot read the zoo's TensorFlow .pb peers (OpenCV 5.1 dropped that importer); "
            "pip install 'opencv-python-headless>=4.8,<5.1' to compare against them"
        )
    return cast(Callable[..., cv2.dnn.Net], reader)


def _load(path: Path) -> cv2.dnn.Net:
    reader = _tf_reader()
    with _REGISTRY_LOCK:
        cv2.dnn_registerLayer("DepthToSpace", _IdentityLayer)
        try:
            net = reader(str(path), "", cv2.dnn.ENGINE_CLASSIC)
            # Build the layers now, while the stand-in is registered.
            net.setInput(np.zeros((1, 1, 8, 8), np.float32))
            probe = net.forward()
        except cv2.error as exc:
            reason = str(exc).strip().splitlines()[-1]
            raise ModelError(f"{path} is not an OpenCV dnn_superres model: {reason}") from exc
        finally:
            # Pops ours; OpenCV's own DepthToSpace is back for everyone else.
            cv2.dnn_unregisterLayer("DepthToSpace")
    _check_tail(net, path, probe.shape)
    return net


def _check_tail(net: cv2.dnn.Net, path: Path, probe_shape: tuple[int, ...]) -> None:
    names = list(net.getLayerNames())
    if "DepthToSpace" not in names:
        return
    tail = [net.getLayer(n).type for n in names[names.index("DepthToSpace") + 1 :]]
    odd = [t for t in tail if t not in _ELEMENTWISE]
    if odd:
        raise ModelError(f"{path}: layers {odd} after DepthToSpace are not supported; use opencv-contrib")
    if probe_shape[1] not in (4, 9, 16):
        raise ModelError(f"{path}: expected a 1-channel Y model, its output has shape {probe_shape}")


class OpenCVSuperRes:
    """An FSRCNN / ESPCN ``.pb`` from OpenCV's zoo, run as ``dnn_superres`` runs it.

    Call it on an RGB uint8 image (HxWx3) to get the RGB uint8 image enlarged by
    :attr:`scale`. The scale is read from the network's output, not the file name;
    :attr:`params` counts the weights in the graph (PReLU slopes included).
    """

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise ModelError(
                f"peer model {self.path} does not exist; pass an OpenCV zoo .pb such as FSRCNN_x4.pb"
            )
        self._net = _load(self.path)
        self._lock = threading.Lock()  # cv2.dnn.Net keeps its input between setInput and forward
        self.shuffled = "DepthToSpace" in list(self._net.getLayerNames())
        self.scale = self._probe_scale()
        self.name = self.path.stem
        self.params = sum(int(b.size) for n in self._net.getLayerNames() for b in self._net.getLayer(n).blobs)

    def _probe_scale(self) -> int:
        out = self._run_y(np.zeros((8, 8), np.float32), None)
        return int(out.shape[0]) // 8

    def _run_y(self, y: npt.NDArray[np.float32], scale: int | None) -> npt.NDArray[np.float32]:
        with self._lock:
            self._net.setInput(cv2.dnn.blobFromImage(y, 1.0))
            out = np.asarray(self._net.forward(), dtype=np.float32)
        if not self.shuffled:
            return np.ascontiguousarray(out[0, 0])
        return _depth_to_space(out, scale if scale is not None else math.isqrt(out.shape[1]))

    def __call__(self, rgb: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
        """Upscale an RGB uint8 image exactly as ``DnnSuperResImpl.upsample`` would its BGR twin."""
        if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
            raise InvalidInputError(f"peer models take HxWx3 uint8 RGB, got {rgb.dtype} {rgb.shape}")
        ycc = cv2.cvtColor(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), cv2.COLOR_BGR2YCrCb)
        ycc_f = ycc.astype(np.float32) * np.float32(1.0 / 255.0)
        y = self._run_y(np.ascontiguousarray(ycc_f[..., 0]), self.scale)
        s = self.scale
        cr = cv2.resize(ycc_f[..., 1], None, fx=s, fy=s)
        cb = cv2.resize(ycc_f[..., 2], None, fx=s, fy=s)
        merged = cv2.merge([y, cr, cb]) * np.float32(255.0)
        # Mat::convertTo: round half to even, saturate.
        u8 = np.clip(np.rint(merged), 0, 255).astype(np.uint8)
        rgb_out = cv2.cvtColor(cv2.cvtColor(u8, cv2.COLOR_YCrCb2BGR), cv2.COLOR_BGR2RGB)
        return np.asarray(rgb_out, dtype=np.uint8)
