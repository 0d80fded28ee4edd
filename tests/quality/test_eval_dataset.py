"""Dataset discovery, loading and scoring on small synthetic folders."""

from __future__ import annotations

import json
import math
from pathlib import Path

import cv2
import numpy as np
import pytest
from eval_data import make_pairs, rgb_image, write_rgb

from litesr_edge.errors import DatasetError, ImageReadError, ModelError
from litesr_edge.quality.bicubic import imresize
from litesr_edge.quality.evaluate import (
    JSON_SCHEMA,
    as_rgb,
    bicubic_upsampler,
    evaluate,
    find_dataset,
    iter_pairs,
    results_to_json,
)
from litesr_edge.quality.metrics import psnr_y


def test_pairs_layout_is_found(tmp_path: Path) -> None:
    ds = find_dataset(make_pairs(tmp_path / "Mine", 3, n=3), 3)
    assert (ds.name, ds.layout, ds.scale) == ("Mine", "pairs", 3)
    assert [s.name for s in ds.samples] == ["img_001", "img_002", "img_003"]


def test_the_image_srf_folder_itself_is_accepted(tmp_path: Path) -> None:
    ds = find_dataset(make_pairs(tmp_path / "Mine", 2) / "image_SRF_2", 2)
    assert (ds.name, ds.layout, len(ds.samples)) == ("Mine", "pairs", 2)


def test_missing_dataset_names_the_path_and_the_layout(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match=r"nowhere does not exist; expected image_SRF_4/"):
        find_dataset(tmp_path / "nowhere", 4)


def test_a_file_is_not_a_dataset(tmp_path: Path) -> None:
    write_rgb(tmp_path / "a.png", rgb_image(40, 40))
    with pytest.raises(DatasetError, match="is a file, not a folder"):
        find_dataset(tmp_path / "a.png", 4)


def test_wrong_scale_lists_the_scales_present(tmp_path: Path) -> None:
    root = make_pairs(tmp_path / "Mine", 2)
    with pytest.raises(DatasetError, match=r"no image_SRF_4 folder for x4 \(it has image_SRF_2\)"):
        find_dataset(root, 4)
    with pytest.raises(DatasetError, match="holds x2 HR/LR pairs, not x4"):
        find_dataset(root / "image_SRF_2", 4)


def test_a_pair_without_its_lr_file_is_an_error(tmp_path: Path) -> None:
    root = make_pairs(tmp_path / "Mine", 2)
    (root / "image_SRF_2" / "img_002_SRF_2_LR.png").unlink()
    with pytest.raises(DatasetError, match="no LR partner img_002_SRF_2_LR.png"):
        find_dataset(root, 2)


def test_an_empty_folder_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("no images here")
    with pytest.raises(DatasetError, match="contains no images"):
        find_dataset(tmp_path, 2)


def test_an_undecodable_image_is_named(tmp_path: Path) -> None:
    (tmp_path / "fake.png").write_text("not a png")
    ds = find_dataset(tmp_path, 2)
    with pytest.raises(ImageReadError, match=r"fake\.png is not a readable image"):
        list(iter_pairs(ds))


def test_pair_sizes_must_agree_with_the_scale(tmp_path: Path) -> None:
    root = make_pairs(tmp_path / "Mine", 2, n=1)
    write_rgb(root / "image_SRF_2" / "img_001_SRF_2_LR.png", rgb_image(11, 10))
    with pytest.raises(DatasetError, match="not 2x its LR"):
        list(iter_pairs(find_dataset(root, 2)))


def test_hr_folder_is_mod_cropped_and_downscaled_with_matlab_bicubic(tmp_path: Path) -> None:
    hr = rgb_image(50, 47)
    write_rgb(tmp_path / "photo.png", hr)
    ds = find_dataset(tmp_path, 4)
    assert ds.layout == "hr-folder"
    (pair,) = iter_pairs(ds)
    assert pair.hr.shape == (48, 44, 3)
    assert np.array_equal(pair.hr, hr[:48, :44])
    assert np.array_equal(pair.lr, imresize(hr[:48, :44], 0.25))


def test_too_small_images_are_reported(tmp_path: Path) -> None:
    write_rgb(tmp_path / "tiny.png", rgb_image(16, 40))
    with pytest.raises(DatasetError, match=r"tiny\.png is 40x16 after mod-crop: too small to score at x4"):
        list(iter_pairs(find_dataset(tmp_path, 4)))


def test_grey_images_feed_rgb_and_score_on_grey_levels(tmp_path: Path) -> None:
    ds = find_dataset(make_pairs(tmp_path / "Mine", 2, n=2, grey_index=2), 2)
    seen: list[tuple[int, ...]] = []

    def upsample(lr: np.ndarray) -> np.ndarray:
        seen.append(lr.shape)
        return imresize(lr, 2)

    result = evaluate(ds, upsample)
    assert seen == [(12, 10, 3), (12, 10, 3)]
    assert [s.grey for s in result.images] == [False, True]
    # Bicubic of the repeated grey image is grey, so its score equals the grey-only computation.
    (_, grey_pair) = iter_pairs(ds)
    grey_sr = imresize(grey_pair.lr, 2)
    assert result.images[1].psnr == pytest.approx(psnr_y(grey_sr, grey_pair.hr, 2), abs=1e-9)


def test_evaluate_reports_per_image_scores_and_their_mean(tmp_path: Path) -> None:
    ds = find_dataset(make_pairs(tmp_path / "Mine", 2, n=3), 2)
    calls: list[str] = []
    result = evaluate(ds, bicubic_upsampler(2), on_image=lambda s: calls.append(s.name))
    assert calls == ["img_001", "img_002", "img_003"]
    assert result.psnr == pytest.approx(np.mean([s.psnr for s in result.images]))
    assert 15 < result.psnr < 60


def test_a_perfect_upscaler_scores_infinity_and_json_says_null(tmp_path: Path) -> None:
    ds = find_dataset(make_pairs(tmp_path / "Mine", 2, n=1), 2)
    hr = {p.name: as_rgb(p.hr) for p in iter_pairs(ds)}
    result = evaluate(ds, lambda lr: hr["img_001"])
    assert result.psnr == math.inf and result.ssim == pytest.approx(1.0)
    doc = json.loads(json.dumps(results_to_json({"name": "oracle"}, [result]), allow_nan=False))
    assert doc["results"][0]["psnr"] is None


def test_an_upscaler_with_the_wrong_output_is_a_model_error(tmp_path: Path) -> None:
    ds = find_dataset(make_pairs(tmp_path / "Mine", 3, n=1), 3)
    with pytest.raises(ModelError, match=r"returned uint8 \(24, 20, 3\) for img_001; expected uint8 \(36, 30, 3\)"):
        evaluate(ds, bicubic_upsampler(2))


def test_json_schema(tmp_path: Path) -> None:
    ds = find_dataset(make_pairs(tmp_path / "Mine", 2, n=2, grey_index=1), 2)
    method = {"name": "bicubic", "model": None, "scale": 2, "depth": None}
    doc = results_to_json(method, [evaluate(ds, bicubic_upsampler(2))])
    doc = json.loads(json.dumps(doc, allow_nan=False))
    assert set(doc) == {"schema", "method", "protocol", "results"}
    assert doc["schema"] == JSON_SCHEMA == "litesr-edge.eval/1"
    assert doc["method"] == method
    (res,) = doc["results"]
    assert set(res) == {"dataset", "path", "layout", "scale", "count", "psnr", "ssim", "images"}
    assert (res["dataset"], res["layout"], res["scale"], res["count"]) == ("Mine", "pairs", 2, 2)
    assert set(res["images"][0]) == {"name", "height", "width", "grey", "psnr", "ssim"}
    assert [(i["name"], i["height"], i["width"], i["grey"]) for i in res["images"]] == [
        ("img_001", 24, 20, True),
        ("img_002", 24, 20, False),
    ]
    assert res["psnr"] == pytest.approx(np.mean([i["psnr"] for i in res["images"]]))


def test_16_bit_images_are_refused_and_alpha_is_dropped(tmp_path: Path) -> None:
    rgba = np.dstack([rgb_image(40, 40), np.full((40, 40), 7, np.uint8)])
    write_rgb(tmp_path / "a.png", rgba)
    (pair,) = iter_pairs(find_dataset(tmp_path, 2))
    assert pair.hr.shape == (40, 40, 3)
    assert np.array_equal(pair.hr, rgba[..., :3])
    deep = tmp_path / "deep"
    deep.mkdir()
    cv2.imwrite(str(deep / "b.png"), np.full((40, 40, 3), 1000, np.uint16))
    with pytest.raises(DatasetError, match=r"b\.png is uint16; evaluation uses 8-bit images"):
        list(iter_pairs(find_dataset(deep, 2)))
