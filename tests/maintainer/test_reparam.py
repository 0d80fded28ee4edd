"""Structural re-parameterisation: the multi-branch net folds exactly into the plain LiteSRNet."""

from __future__ import annotations

from pathlib import Path

import pytest

torch = pytest.importorskip("torch", reason="needs the maintainer extra: pip install '.[maintainer]'")

from models.litesrnet import (  # noqa: E402
    LiteSRConfig,
    LiteSRNet,
    count_params,
    fold,
    from_checkpoint,
    load_plain_into,
)
from models.reparam import BRANCH_SETS, RepConv  # noqa: E402

pytestmark = pytest.mark.maintainer


def _random_branches(net: LiteSRNet, seed: int) -> None:
    """Non-trivial weights in every extra branch (a fresh net's extras are exactly zero)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in net.named_parameters():
            if ".main." not in name:
                p.add_(torch.randn(p.shape, generator=gen) * 0.05)


def _explicit(net: LiteSRNet) -> LiteSRNet:
    for m in net.modules():
        if isinstance(m, RepConv):
            m.explicit = True
    return net


@pytest.mark.parametrize("reparam", sorted(BRANCH_SETS))
@pytest.mark.parametrize("scale", [2, 3, 4])
def test_fold_equals_the_multi_branch_net(scale: int, reparam: str) -> None:
    torch.manual_seed(scale)
    net = LiteSRNet(LiteSRConfig(scale, depth=3, reparam=reparam))
    _random_branches(net, scale)
    x = torch.rand(2, 3, 13, 11)
    with torch.no_grad():
        branches = _explicit(net)(x)
        folded = fold(net)(x)
        for m in net.modules():
            if isinstance(m, RepConv):
                m.explicit = False
        fused = net(x)
    assert float((folded - branches).abs().max()) <= 1e-4
    assert float((fused - branches).abs().max()) <= 1e-4
    for m in net.modules():
        if isinstance(m, RepConv):
            m.zero_extras()
    with torch.no_grad():
        main_only = net(x)
    assert float((branches - main_only).abs().max()) > 1e-3  # the extra branches do matter


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_folded_net_is_plain_with_the_plain_param_count(scale: int) -> None:
    net = LiteSRNet(LiteSRConfig(scale, depth=19, reparam="ecb"))
    plain = fold(net)
    assert plain.config == LiteSRConfig(scale, depth=19)
    assert count_params(plain) == count_params(LiteSRNet(LiteSRConfig(scale, depth=19)))
    assert count_params(net) > count_params(plain)
    assert not any(isinstance(m, RepConv) for m in plain.modules())


def test_fresh_reparam_net_starts_as_the_plain_irnn_init() -> None:
    torch.manual_seed(0)
    net = LiteSRNet(LiteSRConfig(4, depth=3, reparam="ecb"))
    for name in ("head", "body", "tail"):
        m = getattr(net, name)
        w, b = m.fused()
        assert torch.equal(w, m.main.weight) and torch.equal(b, m.main.bias)
    eye = torch.zeros(64, 64, 3, 3)
    eye[torch.arange(64), torch.arange(64), 1, 1] = 1.0
    assert float((net.body.fused()[0].detach() - eye).abs().max()) < 0.01


def test_warm_start_reproduces_the_plain_net_and_extras_get_gradients() -> None:
    torch.manual_seed(1)
    plain = LiteSRNet(LiteSRConfig(4, depth=3))
    _random_branches(plain, 1)  # perturbs the plain layers: a non-trivial "checkpoint"
    net = LiteSRNet(LiteSRConfig(4, depth=3, reparam="ecb"))
    _random_branches(net, 2)
    load_plain_into(net, plain.state_dict())
    x = torch.rand(2, 3, 12, 12)
    assert torch.equal(net(x), plain(x)) or float((net(x) - plain(x)).abs().max()) <= 1e-6
    net(x).square().mean().backward()
    grads = dict(net.named_parameters())
    # The zero factor of every branch learns (its partner factor is random, so the branch can grow).
    zero_factors = ["body.c1.weight", "body.e3.weight", "body.id_scale",
                    *(f"body.edges.{e}.scale" for e in ("sobelx", "sobely", "laplacian"))]
    for name in zero_factors:
        g = grads[name].grad
        assert g is not None and float(g.abs().sum()) > 0, name


def test_from_checkpoint_returns_the_folded_ema_weights() -> None:
    net = LiteSRNet(LiteSRConfig(3, depth=2, reparam="rep"))
    _random_branches(net, 3)
    ema = LiteSRNet(LiteSRConfig(3, depth=2, reparam="rep"))
    _random_branches(ema, 4)
    ck = {"config": net.config.to_dict(), "model": net.state_dict(), "ema": ema.state_dict()}
    got = from_checkpoint(ck)
    x = torch.rand(1, 3, 9, 9)
    with torch.no_grad():
        assert float((got(x) - ema(x)).abs().max()) <= 1e-4
    assert LiteSRConfig(3).to_dict() == {"scale": 3, "depth": 19, "channels": 64, "global_skip": True}


def test_folded_export_has_the_plain_graph(tmp_path: Path) -> None:
    onnx = pytest.importorskip("onnx", reason="needs the maintainer extra")
    pytest.importorskip("onnxsim", reason="needs the maintainer extra")
    from export import onnx_export

    torch.manual_seed(5)
    rep = LiteSRNet(LiteSRConfig(4, depth=3, reparam="ecb"))
    _random_branches(rep, 5)
    plain = LiteSRNet(LiteSRConfig(4, depth=3))
    _random_branches(plain, 6)
    extra = {"train_data": "none (test)"}
    onnx_export.export(fold(rep).eval(), extra, tmp_path / "rep.onnx")  # verifies ORT == torch (1e-4)
    onnx_export.export(plain.eval(), extra, tmp_path / "plain.onnx")

    def shape(path: Path) -> tuple[list[str], list[list[int]]]:
        g = onnx.load(str(path)).graph
        return [n.op_type for n in g.node], sorted(list(i.dims) for i in g.initializer)

    assert shape(tmp_path / "rep.onnx") == shape(tmp_path / "plain.onnx")


def test_slim_checkpoint_is_the_folded_run(tmp_path: Path) -> None:
    # models.slim: the plain net of a re-parameterised run, with what export and --init-from need.
    from models import slim

    net = LiteSRNet(LiteSRConfig(2, depth=2, channels=8, reparam="ecb"))
    _random_branches(net, seed=3)
    ck = {"config": net.config.to_dict(), "model": net.state_dict(), "step": 750, "elapsed_s": 12.5,
          "best_val_psnr": 30.25, "args": {"init_from": "models/checkpoints/x2_d19.pt"},
          "provenance": {"data": "test"}, "optimizer": {"big": torch.zeros(10_000)}}
    torch.save(ck, tmp_path / "best.pt")
    assert slim.main([str(tmp_path / "best.pt"), str(tmp_path / "slim.pt")]) == 0
    out = torch.load(tmp_path / "slim.pt", map_location="cpu", weights_only=False)
    assert "optimizer" not in out and out["config"].get("reparam", "") == ""
    assert (out["step"], out["best_val_psnr"], out["args"]) == (750, 30.25, ck["args"])
    assert out["folded_from"] == {"run": str(tmp_path / "best.pt"), "reparam": "ecb"}
    x = torch.rand(1, 3, 9, 7)
    with torch.no_grad():
        assert float((from_checkpoint(out).eval()(x) - net.eval()(x)).abs().max()) <= 1e-4


def test_slim_refuses_what_is_not_a_training_checkpoint(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from models import slim

    torch.save({"model": {}}, tmp_path / "other.pt")
    assert slim.main([str(tmp_path / "other.pt"), str(tmp_path / "slim.pt")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "lacks config" in err and not (tmp_path / "slim.pt").exists()
