"""LiteSRNet (Algorithm 1 of the paper) in PyTorch.

head:    Conv 3->C (3x3)                                   the paper's F_2
body:    ONE Conv C->C (3x3) + ReLU, applied ``depth`` times with shared weights
decoder: one ConvTranspose + ReLU stage per factor 2 (x2, x4) or one stride-3
         stage (x3), then Conv ->3 (3x3)
skip:    + bicubic upsampling of the input (a global residual; the paper is
         silent, it makes the untrained network exactly bicubic and speeds up
         training)

Only the last iteration is decoded at inference; ``forward(..., all_steps=True)``
decodes every iteration for deep supervision.

``LiteSRConfig.reparam`` names a training-time multi-branch form of the head, recurrent
and tail 3x3 convs (``models.reparam``); ``fold`` turns such a net into the plain one,
and ``from_checkpoint`` always returns the plain (folded) net, so export and QAT see the
same graph and parameter count as ever.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .reparam import BRANCH_SETS, RepConv, bias_of

__all__ = [
    "LiteSRConfig", "LiteSRNet", "PAPER_PARAMS", "count_params", "decoder_plan", "fold", "from_checkpoint",
    "load_plain_into", "receptive_field", "state_of",
]

# The paper's reported parameter counts (Table 1) for depth 19.
PAPER_PARAMS = {2: 67_000, 3: 68_000, 4: 75_000}


@dataclass(frozen=True)
class LiteSRConfig:
    """Everything needed to rebuild a LiteSRNet; stored in every checkpoint."""

    scale: int
    depth: int = 19
    channels: int = 64
    global_skip: bool = True
    # "" = plain convs; else a key of models.reparam.BRANCH_SETS (training-time form only).
    reparam: str = ""

    def __post_init__(self) -> None:
        if self.reparam and self.reparam not in BRANCH_SETS:
            raise ValueError(f"reparam must be '' or one of {sorted(BRANCH_SETS)}, got {self.reparam!r}")
        if self.scale not in (2, 3, 4):
            raise ValueError(f"scale must be 2, 3 or 4, got {self.scale}")
        if self.depth < 1:
            raise ValueError(f"depth must be >= 1, got {self.depth}")
        if self.channels < 1:
            raise ValueError(f"channels must be >= 1, got {self.channels}")

    def to_dict(self) -> dict[str, Any]:
        """The constructor keywords (``reparam`` only when set, so plain dicts stay as they were)."""
        d = asdict(self)
        if not self.reparam:
            del d["reparam"]
        return d


def decoder_plan(scale: int, channels: int) -> list[tuple[int, int, int, int, int, int]]:
    """(in, out, kernel, stride, padding, output_padding) of each ConvTranspose stage.

    Widths 48 (and 16 for the second x4 stage) put the totals at 67,715 / 67,715 /
    73,779 parameters, beside the paper's 67k / 68k / 75k.
    """
    if scale == 3:
        return [(channels, 48, 3, 3, 0, 0)]
    plan = [(channels, 48, 3, 2, 1, 1)]
    if scale == 4:
        plan.append((48, 16, 3, 2, 1, 1))
    return plan


def receptive_field(depth: int) -> int:
    """Radius in LR pixels of the input region one output pixel depends on.

    head 1 + body ``depth`` + decoder (the transposed conv and the final 3x3 conv
    together stay within 1 LR pixel at every scale); the bicubic skip's 2 is
    smaller. The test suite checks it is exact with all ReLUs held open.
    """
    return depth + 2


class LiteSRNet(nn.Module):
    """The recurrent lightweight SR network; input and output are RGB in [0, 1]."""

    def __init__(self, config: LiteSRConfig) -> None:
        super().__init__()
        self.config = config
        c = config.channels
        self.head = self._conv(3, c)
        self.body = self._conv(c, c)
        stages: list[nn.Module] = []
        for cin, cout, k, s, p, op in decoder_plan(config.scale, c):
            stages += [nn.ConvTranspose2d(cin, cout, k, s, p, op), nn.ReLU(inplace=True)]
        self.upsample = nn.Sequential(*stages)
        self.tail = self._conv(decoder_plan(config.scale, c)[-1][1], 3)
        self.reset_parameters()

    def _conv(self, cin: int, cout: int) -> nn.Module:
        if self.config.reparam:
            return RepConv(cin, cout, BRANCH_SETS[self.config.reparam])
        return nn.Conv2d(cin, cout, 3, padding=1)

    def main_conv(self, name: str) -> nn.Conv2d:
        """The plain 3x3 conv of ``head`` / ``body`` / ``tail`` (a RepConv's main branch)."""
        m = getattr(self, name)
        conv = m.main if isinstance(m, RepConv) else m
        if not isinstance(conv, nn.Conv2d):
            raise TypeError(f"{name} is not a conv")
        return conv

    def reset_parameters(self) -> None:
        """IRNN-style init: the shared conv starts as the identity.

        A 19-fold weight-shared conv+ReLU stack with PyTorch's default init does
        not train (measured: still bicubic after 1,000 steps); an identity start
        passes signal and gradient through every iteration. A re-parameterised net gets
        the same init in its main branches and extra branches that add exactly zero.
        """
        head, body, tail = (self.main_conv(n) for n in ("head", "body", "tail"))
        with torch.no_grad():
            nn.init.kaiming_normal_(head.weight, nonlinearity="relu")
            bias_of(head).zero_()
            body.weight.zero_()
            c = self.config.channels
            body.weight[torch.arange(c), torch.arange(c), 1, 1] = 1.0
            body.weight.add_(torch.randn_like(body.weight) * 1e-3)
            bias_of(body).zero_()
            for m in self.upsample:
                if isinstance(m, nn.ConvTranspose2d):
                    nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                    bias_of(m).zero_()
            nn.init.normal_(tail.weight, std=1e-3)
            bias_of(tail).zero_()
        for m in (self.head, self.body, self.tail):
            if isinstance(m, RepConv):
                m.zero_extras()

    def decode(self, feat: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.tail(self.upsample(feat))
        if self.config.global_skip:
            out = out + F.interpolate(x, scale_factor=self.config.scale, mode="bicubic", align_corners=False)
        return out

    def forward(self, x: torch.Tensor, all_steps: bool = False) -> torch.Tensor:
        feat = F.relu(self.head(x))
        body = self._body_fn()
        outs = []
        for _ in range(self.config.depth):
            feat = F.relu(body(feat))
            if all_steps:
                outs.append(self.decode(feat, x))
        if all_steps:
            return torch.stack(outs)
        return self.decode(feat, x)


    def _body_fn(self) -> Callable[[torch.Tensor], torch.Tensor]:
        """The recurrent conv as a function; a RepConv's kernel is folded once per forward, not per step."""
        if not isinstance(self.body, RepConv) or self.body.explicit:
            return self.body
        w, b = self.body.fused()
        return lambda f: F.conv2d(f, w, b, padding=1)


def count_params(model: nn.Module) -> int:
    """Number of parameters (learnable tensors' elements)."""
    return sum(p.numel() for p in model.parameters())


@torch.no_grad()
def fold(net: LiteSRNet) -> LiteSRNet:
    """The plain LiteSRNet equal to ``net`` (a re-parameterised one folded; a plain one copied)."""
    plain = LiteSRNet(replace(net.config, reparam=""))
    plain.load_state_dict({k: v for k, v in net.state_dict().items() if not k.startswith(("head.", "body.", "tail."))},
                          strict=False)
    for name in ("head", "body", "tail"):
        m, conv = getattr(net, name), plain.main_conv(name)
        w, b = m.fused() if isinstance(m, RepConv) else (m.weight, m.bias)
        conv.weight.copy_(w)
        bias_of(conv).copy_(b)
    return plain.to(next(net.parameters()).device)


def load_plain_into(net: LiteSRNet, state: dict[str, torch.Tensor], parts: tuple[str, ...] | None = None) -> None:
    """Load a PLAIN state dict into ``net`` (plain or re-parameterised: into the main branches).

    ``parts`` limits it to keys under those prefixes (e.g. ``("head.", "body.")``). The extra
    branches are reset to contribute zero, so a full load reproduces the plain net exactly.
    """
    keep = {k: v for k, v in state.items() if parts is None or k.startswith(parts)}
    if net.config.reparam:
        keep = {_main_key(k): v for k, v in keep.items()}
    missing, unexpected = net.load_state_dict(keep, strict=False)
    if unexpected:
        raise KeyError(f"not a plain LiteSRNet state: unexpected keys {unexpected}")
    for m in (net.head, net.body, net.tail):
        if isinstance(m, RepConv):
            m.zero_extras()


def _main_key(key: str) -> str:
    """``body.weight`` -> ``body.main.weight`` (head / body / tail of a re-parameterised net)."""
    name, _, rest = key.partition(".")
    return f"{name}.main.{rest}" if name in ("head", "body", "tail") else key


def state_of(ck: dict[str, Any]) -> dict[str, torch.Tensor]:
    """The weights a checkpoint stands for: its EMA (``ema``) when it has one, else ``model``."""
    state: dict[str, torch.Tensor] = ck.get("ema") or ck["model"]
    return state


def from_checkpoint(ck: dict[str, Any]) -> LiteSRNet:
    """The PLAIN network a checkpoint dict stands for (EMA weights if present, folded), fp32, train mode."""
    net = LiteSRNet(LiteSRConfig(**ck["config"]))
    net.load_state_dict(state_of(ck))
    return fold(net) if net.config.reparam else net
