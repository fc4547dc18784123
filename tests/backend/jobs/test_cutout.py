"""The cut-out is the named object: a neighbour inside the crop's margin is left out."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from stand_ins import StandInMatting
from testdata import FAST_OPTIONS
from img23d_backend.jobs import loaders
from img23d_backend.jobs import Engine, EngineSettings, Job
from img23d_backend.models.placement import LoadedModel
from img23d_backend.env.room_table import Held  # noqa: E402
from img23d_backend.matting.table import MATTING_CODE  # noqa: E402
from img23d_backend.catalog import tiny_model_set
from img23d_protocol import GenerateRequest, JobOptions
from img23d_backend.jobs.steps import cutout
from img23d_backend.grounding import driver as grounding

RED, BLUE = (170, 20, 20), (20, 20, 170)
# Two boxes that touch: the blue one starts where the red one ends.
RED_BOX = (120, 100, 220, 200)
BLUE_BOX = (220, 70, 320, 230)


def _touching_pair(path: Path) -> Path:
    picture = Image.new("RGB", (440, 300), (255, 255, 255))
    draw = ImageDraw.Draw(picture)
    draw.rectangle((RED_BOX[0], RED_BOX[1], RED_BOX[2] - 1, RED_BOX[3] - 1), fill=RED)
    draw.rectangle((BLUE_BOX[0], BLUE_BOX[1], BLUE_BOX[2] - 1, BLUE_BOX[3] - 1), fill=BLUE)
    picture.save(path)
    return path


def _answer() -> grounding.GroundingAnswer:
    """What a grounding model answers for the picture: a box each, in its pixels."""
    found = [grounding.Detection("red box", RED_BOX), grounding.Detection("blue box", BLUE_BOX)]
    return grounding.GroundingAnswer(found, tokens=60, budget=126)


def _pixels_of(colour: tuple[int, int, int], rgba: np.ndarray) -> np.ndarray:
    """Where ``rgba`` shows ``colour`` at least half opaque."""
    return np.all(np.abs(rgba[..., :3].astype(int) - colour) < 30, axis=-1) & (rgba[..., 3] >= 128)


@pytest.fixture()
def cutouts(tiny_root: Path, tmp_path: Path, monkeypatch) -> dict[str, tuple[np.ndarray, list[float]]]:
    """Each name's cut-out from a job on the touching pair, with its crop rectangle's origin."""
    image = _touching_pair(tmp_path / "pair.png")
    stand_in = StandInMatting()
    monkeypatch.setitem(loaders.LOADERS, "matting",
                        lambda spec: lambda folder, device: LoadedModel(obj=Held(MATTING_CODE["birefnet"], stand_in),
                                                                 modules=[stand_in]))
    monkeypatch.setattr(grounding, "ask", lambda *args, **kwargs: _answer())
    engine = Engine(EngineSettings(models=tiny_model_set(tiny_root), runs_dir=tmp_path / "runs", device="cpu"))
    # A wide margin, so each crop holds a good part of the other object.
    request = GenerateRequest(id="t", image=str(image), targets=["red box", "blue box"],
                              options=JobOptions(**{**FAST_OPTIONS, "margin": 0.3}))
    data = engine.run(request, Job(id="t", emit=lambda event: None))
    run = Path(data.run_dir)
    found = {}
    for record in data.targets:
        assert record.status == "done"
        matte = np.asarray(Image.open(run / record.matte).convert("RGBA"))
        crop = Image.open(run / record.crop)
        found[record.target] = (matte, crop.size)
    return found


def _band(box: tuple[int, ...]) -> float:
    """How far past its box an object's cut-out may stay half opaque: the tolerance, half the
    feather, and a pixel to spare."""
    longer = max(box[2] - box[0], box[3] - box[1])
    return max(1, cutout.BOX_TOLERANCE * longer) + max(1, cutout.BOX_FEATHER * longer) / 2 + 1


def test_the_cutout_of_one_object_holds_none_of_its_neighbour(cutouts) -> None:
    for name, box, own, other in (("red box", RED_BOX, RED, BLUE), ("blue box", BLUE_BOX, BLUE, RED)):
        matte, _ = cutouts[name]
        # The neighbour fills a strip of the crop 30 or more pixels wide; of it, nothing is left
        # beyond the box's tolerance band, a few pixels.
        assert np.count_nonzero(_pixels_of(other, matte).any(axis=0)) <= _band(box), name
        area = (box[2] - box[0]) * (box[3] - box[1])
        assert np.count_nonzero(_pixels_of(own, matte)) > 0.99 * area, name  # and all of itself


def test_box_weights_keep_the_box_and_a_thin_band_and_nothing_beyond() -> None:
    box = (20.0, 10.0, 120.0, 60.0)  # 100 wide: 1 px kept as is, then 2 px of fade
    weights = cutout.box_weights((160, 80), box)
    assert np.all(weights[10:60, 20:120] == 1.0)
    assert np.all(weights[10:60, 120] == 1.0)         # the tolerance: a box a pixel tight loses nothing
    assert 0 < weights[30, 121] < 1 and 0 < weights[30, 18] < 1
    assert np.all(weights[:, 123:] == 0) and np.all(weights[:, :17] == 0) and np.all(weights[:7] == 0)


def test_the_source_alpha_still_bounds_the_cutout() -> None:
    crop = Image.new("RGBA", (40, 40), (10, 10, 10, 255))
    crop.putalpha(Image.fromarray(np.tile(np.linspace(0, 255, 40).astype(np.uint8), (40, 1)), "L"))
    matted = crop.convert("RGB")
    matted.putalpha(255)
    alpha = np.asarray(cutout.named_cutout(matted, crop, (0.0, 0.0, 40.0, 40.0)).getchannel("A"))
    assert np.array_equal(alpha, np.asarray(crop.getchannel("A")))


def test_a_crops_own_alpha_is_the_cutout_only_when_it_holds_the_boxed_object_alone() -> None:
    crop = Image.new("RGBA", (100, 100), (90, 90, 90, 0))
    crop.paste((200, 100, 50, 255), (30, 30, 70, 70))
    alone = cutout.own_alpha_cutout(crop, (25.0, 25.0, 75.0, 75.0))
    assert alone is not None and np.array_equal(np.asarray(alone.getchannel("A")), np.asarray(crop.getchannel("A")))
    crop.paste((10, 200, 50, 255), (85, 0, 100, 100))   # a neighbour the artist's alpha keeps too
    assert cutout.own_alpha_cutout(crop, (25.0, 25.0, 75.0, 75.0)) is None
    assert cutout.own_alpha_cutout(crop.convert("RGB"), (25.0, 25.0, 75.0, 75.0)) is None
