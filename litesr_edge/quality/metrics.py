"""PSNR and SSIM under the standard SR protocol.

Y channel of BT.601 YCbCr (``16 + (65.481 R + 128.553 G + 24.966 B) / 255``),
float64 from uint8 RGB images, ``border`` pixels cropped from every side,
SSIM with an 11x11 Gaussian window (sigma 1.5) over the valid region.

A grey ground truth (an HxW array, i.e. a one-channel file such as Set14's
``img_003``) is compared on grey levels, not on studio-range Y: an RGB SR is
reduced to full-range BT.601 luma ``(65.481 R + 128.553 G + 24.966 B) / 219``,
which is exactly the grey level of a grey image. This is the convention of the
MATLAB scripts behind the published tables (``rgb2ycbcr`` is applied only to
3-channel images); scoring such an image on studio-range Y instead raises its
PSNR by 20 log10(255 / 219) = 1.32 dB and Set14's bicubic mean by 0.09 dB.
"""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt

from litesr_edge.errors import InvalidInputError

__all__ = ["rgb_to_y", "rgb_to_luma", "psnr_y", "ssim_y"]


def rgb_to_y(image: npt.NDArray[np.uint8]) -> npt.NDArray[np.float64]:
    """BT.601 luma in [16, 235] of an RGB uint8 image (grey images pass through)."""
    img = np.asarray(image, dtype=np.float64)
    if img.ndim == 2:
        return img
    if img.ndim != 3 or img.shape[2] < 3:
        raise InvalidInputError(f"expected HxW or HxWx3 RGB, got shape {image.shape}")
    r, g, b = img[..., 0], img[..., 1], img[..., 2]
    return 16.0 + (65.481 * r + 128.553 * g + 24.966 * b) / 255.0


def rgb_to_luma(image: npt.NDArray[np.uint8]) -> npt.NDArray[np.float64]:
    """Full-range BT.601 luma of an RGB uint8 image: the grey level (grey images pass through)."""
    img = np.asarray(image, dtype=np.float64)
    if img.ndim == 2:
        return img
    # The same weights as rgb_to_y, stretched from [16, 235] back to [0, 255].
    return (rgb_to_y(image) - 16.0) * (255.0 / 219.0)


def _pair(
    sr: npt.NDArray[np.uint8], hr: npt.NDArray[np.uint8], border: int
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    grey_truth = hr.ndim == 2 and sr.ndim == 3 and sr.shape[:2] == hr.shape
    if sr.shape != hr.shape and not grey_truth:
        raise InvalidInputError(f"SR shape {sr.shape} differs from HR shape {hr.shape}")
    if border < 0 or 2 * border >= min(sr.shape[:2]):
        raise InvalidInputError(f"border {border} leaves nothing of a {sr.shape[:2]} image")
    if hr.ndim == 2:
        # Grey ground truth: compare grey levels (see the module docstring).
        ys, yh = rgb_to_luma(sr), np.asarray(hr, dtype=np.float64)
    else:
        ys, yh = rgb_to_y(sr), rgb_to_y(hr)
    if border:
        ys, yh = ys[border:-border, border:-border], yh[border:-border, border:-border]
    return ys, yh


def psnr_y(sr: npt.NDArray[np.uint8], hr: npt.NDArray[np.uint8], border: int) -> float:
    """PSNR in dB on the Y channel (peak 255) after cropping ``border`` pixels.

    ``hr`` may be HxW (grey ground truth), then ``sr`` is scored on its luma.
    """
    ys, yh = _pair(sr, hr, border)
    mse = float(np.mean((ys - yh) ** 2))
    if mse == 0.0:
        return float("inf")
    return float(10.0 * np.log10(255.0**2 / mse))


def ssim_y(sr: npt.NDArray[np.uint8], hr: npt.NDArray[np.uint8], border: int) -> float:
    """SSIM on the Y channel: 11x11 Gaussian (sigma 1.5), valid region, as in MATLAB."""
    ys, yh = _pair(sr, hr, border)
    if min(ys.shape) < 11:
        raise InvalidInputError(f"SSIM needs at least 11x11 pixels after the border, got {ys.shape}")
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    g = cv2.getGaussianKernel(11, 1.5)
    win = g @ g.T

    def filt(a: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        # 'valid' filtering: full-size filter, then drop the 5-pixel rim.
        out = cv2.filter2D(a, -1, win, borderType=cv2.BORDER_REFLECT)[5:-5, 5:-5]
        return np.asarray(out, dtype=np.float64)

    mu1, mu2 = filt(ys), filt(yh)
    s11 = filt(ys * ys) - mu1 * mu1
    s22 = filt(yh * yh) - mu2 * mu2
    s12 = filt(ys * yh) - mu1 * mu2
    num = (2 * mu1 * mu2 + c1) * (2 * s12 + c2)
    den = (mu1 * mu1 + mu2 * mu2 + c1) * (s11 + s22 + c2)
    return float(np.mean(num / den))
