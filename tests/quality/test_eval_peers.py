"""OpenCV zoo peers run with plain cv2.dnn, as opencv-contrib's dnn_superres runs them."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest
from eval_data import rgb_image

from litesr_edge.errors import InvalidInputError, ModelError
from litesr_edge.quality.peers import OpenCVSuperRes, _depth_to_space

REPO = Path(__file__).resolve().parents[2]
# The OpenCV zoo .pb files: LITESR_EDGE_PEERS (as for `bench --peers`), else the checkout's neighbour.
PEERS = Path(os.environ.get("LITESR_EDGE_PEERS") or REPO.parent / "shared" / "peers" / "opencv-dnn-superres")
CONTRIB_PYTHON = Path(os.environ.get("LITESR_CONTRIB_PYTHON", str(REPO.parent / "venv-peers" / "bin" / "python")))
needs_peers = pytest.mark.skipif(not PEERS.is_dir(), reason=f"OpenCV zoo models not found at {PEERS}")


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_depth_to_space_is_tensorflows_order(scale: int) -> None:
    # The index formula of contrib's DepthToSpace layer, C = 1: out[y, x] = in[s*(y%s) + x%s, y//s, x//s].
    blob = np.random.default_rng(scale).standard_normal((1, scale * scale, 3, 5)).astype(np.float32)
    out = _depth_to_space(blob, scale)
    ys, xs = np.mgrid[0 : 3 * scale, 0 : 5 * scale]
    expected = blob[0, scale * (ys % scale) + xs % scale, ys // scale, xs // scale]
    assert np.array_equal(out, expected)


def test_a_missing_peer_file_is_a_model_error(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="does not exist"):
        OpenCVSuperRes(tmp_path / "FSRCNN_x4.pb")


def test_a_file_that_is_not_a_graph_is_a_model_error(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.pb"
    bogus.write_bytes(b"\x00\x01 definitely not a GraphDef")
    with pytest.raises(ModelError, match="is not an OpenCV dnn_superres model"):
        OpenCVSuperRes(bogus)


@pytest.mark.data
@needs_peers
@pytest.mark.parametrize("name", ["FSRCNN", "FSRCNN-small", "ESPCN"])
def test_scale_comes_from_the_graph_and_output_has_the_right_shape(name: str) -> None:
    for scale in (2, 3, 4):
        peer = OpenCVSuperRes(PEERS / f"{name}_x{scale}.pb")
        assert peer.scale == scale
        out = peer(rgb_image(13, 17))
        assert out.dtype == np.uint8 and out.shape == (13 * scale, 17 * scale, 3)


@pytest.mark.data
@needs_peers
def test_peer_output_follows_the_input_not_noise() -> None:
    peer = OpenCVSuperRes(PEERS / "FSRCNN_x2.pb")
    lr = rgb_image(24, 24, seed=4)
    out = peer(lr).astype(float)
    ref = cv2.resize(lr, (48, 48), interpolation=cv2.INTER_CUBIC).astype(float)
    assert np.abs(out - ref).mean() < 8  # an SR of the input, colours in the right channels


@pytest.mark.data
@needs_peers
def test_peer_rejects_grey_input() -> None:
    with pytest.raises(InvalidInputError, match="HxWx3 uint8 RGB"):
        OpenCVSuperRes(PEERS / "ESPCN_x2.pb")(np.zeros((8, 8), np.uint8))


_CONTRIB_SCRIPT = """
import sys, cv2
model, scale, src, dst = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
sr = cv2.dnn_superres.DnnSuperResImpl_create()
sr.readModel(model)
sr.setModel(model.split("/")[-1].split("_")[0].split("-")[0].lower(), scale)
cv2.imwrite(dst, sr.upsample(cv2.imread(src)))
"""


@pytest.mark.data
@needs_peers
@pytest.mark.skipif(
    not CONTRIB_PYTHON.is_file(),
    reason=f"no Python with opencv-contrib at {CONTRIB_PYTHON} (set LITESR_CONTRIB_PYTHON)",
)
@pytest.mark.parametrize(("name", "scale"), [("FSRCNN", 3), ("FSRCNN-small", 4), ("ESPCN", 2)])
def test_bit_identical_to_contrib_dnn_superres(name: str, scale: int, tmp_path: Path) -> None:
    lr = rgb_image(40, 52, seed=scale)
    src, dst = tmp_path / "lr.png", tmp_path / "sr.png"
    cv2.imwrite(str(src), lr[..., ::-1])
    model = PEERS / f"{name}_x{scale}.pb"
    cmd = [str(CONTRIB_PYTHON), "-c", _CONTRIB_SCRIPT, str(model), str(scale), str(src), str(dst)]
    subprocess.run(cmd, check=True, capture_output=True, timeout=120)
    expected = cv2.imread(str(dst))[..., ::-1]
    assert np.array_equal(OpenCVSuperRes(model)(lr), expected)


def test_an_opencv_without_the_tensorflow_importer_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from litesr_edge.errors import EngineUnavailableError

    monkeypatch.delattr(cv2.dnn, "readNetFromTensorflow", raising=False)
    graph = tmp_path / "FSRCNN_x4.pb"
    graph.write_bytes(b"\x00")
    with pytest.raises(EngineUnavailableError, match=r"opencv-python-headless>=4.8,<5.1"):
        OpenCVSuperRes(graph)
