"""Structural re-parameterisation: a multi-branch 3x3 conv that folds exactly into one 3x3 conv.

Branches (all linear, no normalisation, so the sum is one conv):

``main``        3x3 conv with bias (the plain layer; a plain checkpoint loads here)
``conv1x1``     1x1 conv with bias, placed at the kernel centre
``conv1x1_3x3`` bias-free 1x1 (C_in -> 2 C_out) then 3x3 with bias: their product kernel
``identity``    a learnable per-channel scale times the identity (only when C_in == C_out)
``sobelx`` / ``sobely`` / ``laplacian``  ECBSR's edge branches: bias-free 1x1, then a fixed
                3x3 depthwise mask times a learnable per-channel scale, plus a bias

The first factor of every product branch is bias-free on purpose: the zero padding of the
3x3 stage then sees exactly the zero padding of the input, so the fold is exact at the
borders too (ECBSR pads the intermediate with its bias instead; same result, more code).

Training uses the folded kernel, recomputed in every forward pass from the branch
parameters (``RepConv.fused``): the fold is linear, so the gradients are exactly those of
the explicit multi-branch sum, and the 19-fold recurrence costs what the plain net costs.
``RepConv.explicit = True`` evaluates the branches one by one instead (tests).

Initialisation: ``zero_extras`` makes every extra branch contribute exactly zero while
still receiving gradients (one factor of each product zero, the other random), so a fresh
net starts as the plain IRNN init and a warm start reproduces the plain checkpoint.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["BRANCH_SETS", "EDGE_MASKS", "RepConv"]

# Named branch sets for LiteSRConfig.reparam ("" = plain layers).
BRANCH_SETS: dict[str, tuple[str, ...]] = {
    "rep": ("conv1x1", "conv1x1_3x3", "identity"),
    "ecb": ("conv1x1", "conv1x1_3x3", "identity", "sobelx", "sobely", "laplacian"),
}

EDGE_MASKS: dict[str, list[list[float]]] = {
    "sobelx": [[1.0, 0.0, -1.0], [2.0, 0.0, -2.0], [1.0, 0.0, -1.0]],
    "sobely": [[1.0, 2.0, 1.0], [0.0, 0.0, 0.0], [-1.0, -2.0, -1.0]],
    "laplacian": [[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]],
}


class EdgeBranch(nn.Module):
    """Bias-free 1x1 conv, then a fixed depthwise 3x3 mask with a learnable per-channel scale."""

    def __init__(self, cin: int, cout: int, mask: list[list[float]]) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 1, bias=False)
        self.scale = nn.Parameter(torch.zeros(cout))
        self.bias = nn.Parameter(torch.zeros(cout))
        self.register_buffer("mask", torch.tensor(mask).view(1, 1, 3, 3))

    def depthwise(self) -> torch.Tensor:
        """The (C_out, 1, 3, 3) depthwise kernel: scale x mask."""
        mask = self.get_buffer("mask")
        return self.scale.view(-1, 1, 1, 1) * mask

    def fused(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(C_out, C_in, 3, 3) kernel and bias of this branch."""
        return self.depthwise() * self.conv.weight, self.bias

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x)
        return F.conv2d(y, self.depthwise(), self.bias, padding=1, groups=y.shape[1])


def bias_of(conv: nn.Conv2d | nn.ConvTranspose2d) -> torch.Tensor:
    """A conv's bias: the convs of this model are built with one."""
    if conv.bias is None:
        raise ValueError(f"{conv} was built without a bias")
    return conv.bias


class RepConv(nn.Module):
    """A 3x3 conv (padding 1) trained as the sum of the branches named in ``branches``."""

    def __init__(self, cin: int, cout: int, branches: tuple[str, ...]) -> None:
        super().__init__()
        unknown = set(branches) - {"conv1x1", "conv1x1_3x3", "identity", *EDGE_MASKS}
        if unknown:
            raise ValueError(f"unknown re-parameterisation branches {sorted(unknown)}")
        self.cin, self.cout, self.explicit = cin, cout, False
        self.main = nn.Conv2d(cin, cout, 3, padding=1)
        self.c1 = nn.Conv2d(cin, cout, 1) if "conv1x1" in branches else None
        self.e1 = nn.Conv2d(cin, 2 * cout, 1, bias=False) if "conv1x1_3x3" in branches else None
        self.e3 = nn.Conv2d(2 * cout, cout, 3, padding=1) if "conv1x1_3x3" in branches else None
        has_id = "identity" in branches and cin == cout
        self.id_scale = nn.Parameter(torch.zeros(cout)) if has_id else None
        self.edges = nn.ModuleDict({n: EdgeBranch(cin, cout, EDGE_MASKS[n]) for n in branches if n in EDGE_MASKS})
        self.zero_extras()

    @torch.no_grad()
    def zero_extras(self) -> None:
        """Extra branches contribute exactly 0 but get gradients: one factor zero, the other random."""
        if self.c1 is not None:
            self.c1.weight.zero_()
            bias_of(self.c1).zero_()  # a single linear factor still gets its full gradient at zero
        if self.e1 is not None and self.e3 is not None:
            nn.init.kaiming_normal_(self.e1.weight, nonlinearity="linear")
            self.e3.weight.zero_()
            bias_of(self.e3).zero_()
        if self.id_scale is not None:
            self.id_scale.zero_()
        for edge in self.edge_branches():
            nn.init.kaiming_normal_(edge.conv.weight, nonlinearity="linear")
            edge.scale.zero_()
            edge.bias.zero_()

    def edge_branches(self) -> list[EdgeBranch]:
        """The Sobel / Laplacian branches."""
        return [e for e in self.edges.values() if isinstance(e, EdgeBranch)]

    def fused(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The one (C_out, C_in, 3, 3) kernel and (C_out,) bias that equal the branch sum."""
        w, b = self.main.weight, bias_of(self.main)
        if self.c1 is not None:
            w = w + F.pad(self.c1.weight, (1, 1, 1, 1))
            b = b + bias_of(self.c1)
        if self.e1 is not None and self.e3 is not None:
            w = w + torch.einsum("omhw,mi->oihw", self.e3.weight, self.e1.weight[:, :, 0, 0])
            b = b + bias_of(self.e3)
        if self.id_scale is not None:
            eye = torch.eye(self.cout, dtype=w.dtype, device=w.device) * self.id_scale.view(-1, 1)
            w = w + F.pad(eye[:, :, None, None], (1, 1, 1, 1))
        for edge in self.edge_branches():
            ew, eb = edge.fused()
            w, b = w + ew, b + eb
        return w, b

    def branch_sum(self, x: torch.Tensor) -> torch.Tensor:
        """The explicit multi-branch output (what ``fused`` must equal)."""
        y: torch.Tensor = self.main(x)
        if self.c1 is not None:
            y = y + self.c1(x)
        if self.e1 is not None and self.e3 is not None:
            y = y + self.e3(self.e1(x))
        if self.id_scale is not None:
            y = y + x * self.id_scale.view(1, -1, 1, 1)
        for edge in self.edge_branches():
            y = y + edge(x)
        return y

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.explicit:
            return self.branch_sum(x)
        w, b = self.fused()
        return F.conv2d(x, w, b, padding=1)
