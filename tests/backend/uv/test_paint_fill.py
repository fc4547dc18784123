"""The fill of the texels no view saw (``uv.fill.pull_push``): every known texel kept exactly, every
hole beside a chart in that chart's colours, the far gutter a blend of what is known, never another colour
(``bench/host_stages.py`` times it against the inpainting it replaced and measures both against the truth)."""

from __future__ import annotations

import cv2
import numpy as np

from img23d_backend.uv.fill import pull_push


def _distance(known: np.ndarray) -> np.ndarray:
    return cv2.distanceTransform((~known).astype(np.uint8), cv2.DIST_L2, 3)


def _charts(size: int = 256) -> tuple[np.ndarray, np.ndarray, list[tuple[np.ndarray, tuple[float, ...]]]]:
    """Three charts of one colour each (two rectangles and a disk) far apart, in an atlas of holes (black)."""
    rows, cols = np.mgrid[0:size, 0:size]
    charts = [((rows >= 20) & (rows < 90) & (cols >= 20) & (cols < 110), (0.9, 0.1, 0.1)),
              ((rows >= 150) & (rows < 240) & (cols >= 30) & (cols < 80), (0.1, 0.8, 0.2)),
              ((rows - 170) ** 2 + (cols - 180) ** 2 < 45 ** 2, (0.2, 0.3, 0.95))]
    image = np.zeros((size, size, 3), np.float32)
    for inside, colour in charts:
        image[inside] = colour
    known = np.any([inside for inside, _ in charts], axis=0)
    return image, known, charts


def test_known_texels_keep_their_colour_and_holes_beside_a_chart_take_its_colour() -> None:
    image, known, charts = _charts()
    filled = pull_push(image, known)
    assert filled.shape == image.shape and filled.dtype == np.float32
    assert (filled[known] == image[known]).all()
    for index, (inside, colour) in enumerate(charts):
        others = np.any([c for i, (c, _) in enumerate(charts) if i != index], axis=0)
        beside = ~known & (_distance(inside) <= 3) & (_distance(others) > 24)
        assert beside.sum() > 100
        assert np.abs(filled[beside] - colour).max() < 0.04   # 10 levels of 255, at a chart's edge


def test_the_far_gutter_takes_the_colours_of_what_is_known() -> None:
    image, known, charts = _charts()
    filled = pull_push(image, known)
    for channel in range(3):
        seen = image[..., channel][known]
        assert seen.min() - 1e-6 <= filled[..., channel].min() and filled[..., channel].max() <= seen.max() + 1e-6
    uniform = np.where(known[..., None], np.float32(0.8), np.float32(0.0)).repeat(3, axis=-1)
    assert np.abs(pull_push(uniform, known) - 0.8).max() < 1e-5   # never black, never another colour


def test_a_smooth_chart_is_continued_smoothly_beside_it() -> None:
    size = 256
    rows, cols = np.mgrid[0:size, 0:size]
    known = (rows - size / 2) ** 2 + (cols - size / 2) ** 2 < (size / 5) ** 2
    image = np.stack([rows / size, cols / size, np.full_like(rows, 0.5, dtype=float)], axis=-1).astype(np.float32)
    image[~known] = 0
    filled = pull_push(image, known)
    beside = ~known & (_distance(known) <= 2)
    # Each hole beside the chart within a few texels' worth of the gradient (1/256 a texel) of the chart's edge.
    _, nearest = cv2.distanceTransformWithLabels((~known).astype(np.uint8), cv2.DIST_L2, 5,
                                                 labelType=cv2.DIST_LABEL_PIXEL)
    labels = nearest[known]
    edge_colour_by_label = np.zeros((labels.max() + 1, 3), np.float32)
    edge_colour_by_label[labels] = image[known]
    edge_colour = edge_colour_by_label[nearest]
    assert np.abs(filled[beside] - edge_colour[beside]).max() < 8 / 256


def test_an_atlas_all_known_or_all_empty_comes_back_as_it_was() -> None:
    image = np.random.default_rng(0).random((16, 16, 3)).astype(np.float32)
    assert (pull_push(image, np.ones((16, 16), bool)) == image).all()
    assert (pull_push(image, np.zeros((16, 16), bool)) == image).all()


def test_odd_sides_are_filled_too() -> None:
    image, known, _ = _charts(101)
    filled = pull_push(image[:, :77], known[:, :77])
    assert filled.shape == (101, 77, 3) and np.isfinite(filled).all()
    assert (filled[known[:, :77]] == image[:, :77][known[:, :77]]).all()
