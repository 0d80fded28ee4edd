"""Tiling: the pure planning functions, and the exactness property (tiled == whole image)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from litesr_edge import InvalidInputError, Upscaler
from litesr_edge.registry import list_models
from litesr_edge.tiling import MIN_TILE, Tile, choose_tile, plan_tiles, split_length, tile_memory_bytes


# ---- pure functions ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("length,tile", [(1, 1), (1, 50), (10, 3), (100, 32), (33, 32), (64, 32), (7, 7)])
def test_split_length_covers_in_fewest_near_equal_parts(length: int, tile: int) -> None:
    parts = split_length(length, tile)
    assert parts[0][0] == 0 and parts[-1][1] == length
    assert all(a[1] == b[0] for a, b in zip(parts, parts[1:], strict=False))
    sizes = [b - a for a, b in parts]
    assert max(sizes) <= tile and max(sizes) - min(sizes) <= 1
    assert len(parts) == -(-length // tile)


@pytest.mark.parametrize("length,tile", [(0, 4), (4, 0), (-1, 3)])
def test_split_length_rejects_empty(length: int, tile: int) -> None:
    with pytest.raises(InvalidInputError):
        split_length(length, tile)


@pytest.mark.parametrize("h,w,tile,margin", [(1, 1, 5, 3), (50, 7, 8, 5), (7, 50, 8, 0), (64, 64, 16, 21),
                                             (30, 40, 0, 4), (100, 3, 1, 2)])
def test_plan_tiles_partitions_image_and_clips_crops(h: int, w: int, tile: int, margin: int) -> None:
    owner = np.zeros((h, w), int)
    tiles = plan_tiles(h, w, tile, margin)
    for t in tiles:
        owner[t.top:t.bottom, t.left:t.right] += 1
        assert (t.crop_top, t.crop_left) == (max(0, t.top - margin), max(0, t.left - margin))
        assert (t.crop_bottom, t.crop_right) == (min(h, t.bottom + margin), min(w, t.right + margin))
        if tile:
            assert t.bottom - t.top <= tile and t.right - t.left <= tile
    assert (owner == 1).all()  # every pixel owned by exactly one tile
    if tile == 0 or tile >= max(h, w):
        assert len(tiles) == 1 and tiles[0].crop_slices() == (slice(0, h), slice(0, w))


def test_tile_slices_line_up_for_each_scale() -> None:
    t = Tile(10, 20, 30, 45, 4, 14, 36, 51)
    for s in (2, 3, 4):
        keep_rows, keep_cols = t.keep_slices(s)
        dest_rows, dest_cols = t.dest_slices(s)
        assert (keep_rows.start, keep_cols.start) == (6 * s, 6 * s)
        assert keep_rows.stop - keep_rows.start == dest_rows.stop - dest_rows.start == 20 * s
        assert keep_cols.stop - keep_cols.start == dest_cols.stop - dest_cols.start == 25 * s
        assert (dest_rows.start, dest_cols.start) == (10 * s, 20 * s)
        assert keep_rows.stop <= (t.crop_bottom - t.crop_top) * s


@pytest.mark.parametrize("h,w,tile,margin", [(0, 5, 4, 1), (5, 0, 4, 1), (5, 5, -1, 1), (5, 5, 4, -1)])
def test_plan_tiles_rejects_bad_arguments(h: int, w: int, tile: int, margin: int) -> None:
    with pytest.raises(InvalidInputError):
        plan_tiles(h, w, tile, margin)


def test_choose_tile_fits_budget_and_grows_with_it() -> None:
    sizes = [choose_tile(mb, margin=21) for mb in (64, 256, 1024, 4096)]
    assert sizes == sorted(sizes) and len(set(sizes)) == 4
    for mb, core in zip((64, 256, 1024, 4096), sizes, strict=True):
        assert tile_memory_bytes(core + 42) <= mb * 2**20 < tile_memory_bytes(core + 43)
    # More feature channels -> more memory per pixel -> smaller tiles.
    assert choose_tile(1024, margin=21, channels=128) < choose_tile(1024, margin=21)


def test_choose_tile_too_small_budget_names_the_minimum() -> None:
    with pytest.raises(InvalidInputError, match="at least") as err:
        choose_tile(1, margin=21)
    need = int(str(err.value).rsplit(" ", 1)[-1])
    assert choose_tile(need, margin=21) >= MIN_TILE
    with pytest.raises(InvalidInputError):
        choose_tile(0, margin=2)


def test_default_tile_does_not_depend_on_the_image(tiny_models: dict[int, Path]) -> None:
    # Peak inference memory is set by the tile, so it must not grow with the image.
    up = Upscaler(model=tiny_models[2], max_memory_mb=40)
    assert up.tile == choose_tile(40, up.info.receptive_field, up.info.channels)
    tiles_small = plan_tiles(300, 300, up.tile, up.info.receptive_field)
    tiles_large = plan_tiles(3000, 5000, up.tile, up.info.receptive_field)
    largest = max((t.crop_bottom - t.crop_top) * (t.crop_right - t.crop_left) for t in tiles_large)
    assert largest <= (up.tile + 2 * up.info.receptive_field) ** 2
    assert max((t.crop_bottom - t.crop_top) for t in tiles_small) <= up.tile + 2 * up.info.receptive_field


# ---- exactness ---------------------------------------------------------------------------------------------------
# Two graph forms of the same network: "resize" as torch exports it (cubic Resize,
# ConvTranspose) and "fast" after the exporter's fast_graph rewrite (Conv +
# DepthToSpace). Both tile to within float rounding. Integer outputs are
# bit-identical except for "resize" at x3: ONNX Runtime's Resize computes each
# source coordinate as (o + 0.5) / 3 - 0.5 in float32 from the image origin, so
# the same pixel gets slightly different cubic weights at different absolute
# positions (not exactly representable for x3; exact for x2/x4). Measured on
# the bundled untrained x3 model, 200x1500 LR: max float difference 6.4e-5,
# 0.15 % of uint8 values off by one. The "fast" form has fixed per-phase
# weights and is bit-exact at every scale.
FORMS = ["resize", "fast"]
_UPSCALERS: dict[tuple[Path, int], Upscaler] = {}


@pytest.fixture(scope="module")
def forms(tiny_model_factory) -> dict[tuple[str, int], Path]:  # type: ignore[no-untyped-def]
    # Both forms are committed fixtures (tests/fixtures/tiny): no onnx or export/ needed.
    return {(form, s): tiny_model_factory(scale=s, fast=form == "fast") for form in FORMS for s in (2, 3, 4)}


def _upscaler(model: Path, tile: int) -> Upscaler:
    key = (model, tile)
    if key not in _UPSCALERS:
        _UPSCALERS[key] = Upscaler(model=model, tile=tile, threads=1)
    return _UPSCALERS[key]


def _image(rng: np.random.Generator, h: int, w: int, channels: int, dtype: str) -> np.ndarray:
    x = rng.random((h, w, channels), dtype=np.float32) if channels else rng.random((h, w), dtype=np.float32)
    if dtype == "float32":
        return x
    top = 255 if dtype == "uint8" else 65535
    return np.rint(x * top).astype(dtype)


def _assert_same(tiled: np.ndarray, whole: np.ndarray, integer_slack: int = 0) -> None:
    assert tiled.shape == whole.shape and tiled.dtype == whole.dtype
    if whole.dtype == np.float32:
        np.testing.assert_allclose(tiled, whole, atol=1e-4, rtol=0)
    elif integer_slack:
        assert np.abs(tiled.astype(np.int64) - whole).max() <= integer_slack
    else:
        np.testing.assert_array_equal(tiled, whole)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    form=st.sampled_from(FORMS),
    scale=st.sampled_from([2, 3, 4]),
    shape=st.one_of(
        st.tuples(st.integers(1, 40), st.integers(1, 40)),  # includes 1x1 and smaller than a tile
        st.tuples(st.integers(30, 90), st.integers(1, 6)),  # tall
        st.tuples(st.integers(1, 6), st.integers(30, 90)),  # wide
    ),
    tile=st.integers(2, 24),
    channels=st.sampled_from([0, 1, 3, 4]),
    dtype=st.sampled_from(["uint8", "uint16", "float32"]),
    seed=st.integers(0, 2**16),
)
def test_tiled_equals_whole_image(
    forms: dict[tuple[str, int], Path], form: str, scale: int, shape: tuple[int, int], tile: int, channels: int,
    dtype: str, seed: int,
) -> None:
    model = forms[form, scale]
    image = _image(np.random.default_rng(seed), *shape, channels, dtype)
    whole = _upscaler(model, 0).upscale(image)
    tiled = _upscaler(model, tile).upscale(image)
    _assert_same(tiled, whole, integer_slack=1 if (form, scale) == ("resize", 3) else 0)


def test_exactness_needs_the_margin(tiny_model_factory) -> None:  # type: ignore[no-untyped-def]
    # The same model labelled with a receptive field of 1 (true: depth + 2 = 4) must show
    # seams: proves the property test above can fail.
    liar = tiny_model_factory(scale=2, receptive_field=1)
    image = _image(np.random.default_rng(0), 40, 40, 3, "float32")
    whole = Upscaler(model=liar, tile=0, threads=1).upscale(image)
    tiled = Upscaler(model=liar, tile=8, threads=1).upscale(image)
    assert np.abs(tiled - whole).max() > 1e-3


def test_margin_equal_to_receptive_field_is_enough(tiny_model_factory) -> None:  # type: ignore[no-untyped-def]
    # A deeper model, its exact receptive field (depth + 2), many small tiles.
    model = tiny_model_factory(scale=4, depth=6)
    image = _image(np.random.default_rng(1), 45, 37, 3, "uint8")
    whole = Upscaler(model=model, tile=0, threads=1).upscale(image)
    _assert_same(Upscaler(model=model, tile=5, threads=1).upscale(image), whole)


def _bit_exact_form(path: Path, scale: int) -> bool:
    from litesr_edge.bench.onnx_graph import read_graph

    has_resize = any(n.op_type == "Resize" for n in read_graph(path).nodes)
    return not has_resize or scale in (2, 4)


@pytest.mark.parametrize("bundled", list_models(), ids=lambda m: m.path.name)
def test_bundled_models_tile_exactly(bundled) -> None:  # type: ignore[no-untyped-def]
    # Checks the real exported graphs and their receptive_field metadata; runs
    # only when models are bundled (the suite does not depend on them). 2x2
    # tiles whose crops stop short of the far borders keep it cheap.
    whole, tiled = (Upscaler(model=bundled.path, tile=t, threads=1) for t in (0, 25))
    image = _image(np.random.default_rng(2), 50, 47, 3, "float32")
    _assert_same(tiled.upscale(image), whole.upscale(image))
    image8 = _image(np.random.default_rng(3), 50, 47, 3, "uint8")
    slack = 0 if _bit_exact_form(bundled.path, bundled.info.scale) else 1
    _assert_same(tiled.upscale(image8), whole.upscale(image8), integer_slack=slack)
