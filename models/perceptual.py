"""VGG16 perceptual loss without torchvision (its PyPI wheel does not import
beside the CPU torch wheel used here). The layer layout is torchvision's
``vgg16().features``, so its ImageNet state dict loads directly from a local
file (``features.N.weight`` keys or bare ``N.weight`` keys)."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

# torchvision's vgg16 "D" configuration.
_CFG: list[int | str] = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]
_MEAN = (0.485, 0.456, 0.406)
_STD = (0.229, 0.224, 0.225)


def vgg16_features(upto: int = 16) -> nn.Sequential:
    """torchvision-compatible ``vgg16().features[:upto]`` (16 = through relu3_3)."""
    layers: list[nn.Module] = []
    cin = 3
    for v in _CFG:
        if v == "M":
            layers.append(nn.MaxPool2d(2, 2))
        else:
            layers += [nn.Conv2d(cin, int(v), 3, padding=1), nn.ReLU(inplace=True)]
            cin = int(v)
    return nn.Sequential(*layers[:upto])


class PerceptualLoss(nn.Module):
    """MSE between VGG16 relu3_3 features of the SR and HR images (RGB in [0, 1])."""

    def __init__(self, weights: Path, upto: int = 16) -> None:
        super().__init__()
        self.features = vgg16_features(upto)
        state = torch.load(weights, map_location="cpu", weights_only=True)
        state = {k.removeprefix("features."): v for k, v in state.items()}
        state = {k: v for k, v in state.items() if k.split(".")[0].isdigit() and int(k.split(".")[0]) < upto}
        self.features.load_state_dict(state)
        self.features.requires_grad_(False).eval()
        self.register_buffer("mean", torch.tensor(_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(_STD).view(1, 3, 1, 1))

    def forward(self, sr: torch.Tensor, hr: torch.Tensor) -> torch.Tensor:
        def f(x: torch.Tensor) -> torch.Tensor:
            out: torch.Tensor = self.features((x - self.get_buffer("mean")) / self.get_buffer("std"))
            return out

        return torch.mean((f(sr) - f(hr)) ** 2)
