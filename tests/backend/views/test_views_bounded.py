"""Views bounded as they are read (issue 66 item 2): a 6000 x 30 strip given as a back view once became a
161,386 x 928 cut-out and failed its object with a memory sentence about a GPU on a machine without one;
every view was held and matted at once (about 290 MB per 4096 x 4096 view)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from testdata import FAST_OPTIONS, HOUSE
from img23d_backend.catalog import tiny_model_set
from img23d_backend.jobs import Engine, EngineSettings, Job
from img23d_backend.matting import driver as matting
from img23d_backend.models.oom import free_memory_advice
from img23d_backend.views.given import MAX_ASPECT_RATIO
from img23d_protocol import GenerateRequest, JobOptions

CHIMNEY = [600.0, 80.0, 760.0, 600.0]   # pixels of the 1024 x 1024 house picture (test_hand_boxes.py)
DOOR = [365.0, 600.0, 460.0, 840.0]


@pytest.fixture(scope="module")
def engine(tiny_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Engine:
    return Engine(EngineSettings(models=tiny_model_set(tiny_root), runs_dir=tmp_path_factory.mktemp("runs"),
                                 device="cpu"))


def test_a_strip_as_a_view_is_left_out_in_one_sentence_and_its_object_made(engine: Engine, tmp_path: Path) -> None:
    # Aspect 150, allowed as a picture; a transparent rim makes its alpha real (no matting: the tiny
    # matting model's random matte would decide what is left of it).
    strip = Image.new("RGBA", (6000, 40), (0, 0, 0, 0))
    ImageDraw.Draw(strip).rectangle((2, 2, 5997, 37), fill=(90, 90, 200, 255))
    strip.save(tmp_path / "back.png")
    request = GenerateRequest(id="s", image=str(HOUSE), targets=["chimney"], boxes={"chimney": CHIMNEY},
                              views={"chimney": {"back": str(tmp_path / "back.png")}},
                              options=JobOptions(**FAST_OPTIONS))
    data = engine.run(request, Job(id="s", emit=lambda e: None))
    [chimney] = data.targets
    assert chimney.status == "done", chimney.error  # before: out_of_memory, the object lost
    why = chimney.views_left_out["back"]
    assert re.match(r"the back view of 'chimney' was left out: its object is 1\d\d times as wide as it is tall", why)
    assert f"more than {MAX_ASPECT_RATIO:g} times apart" in why and "\n" not in why
    assert not (Path(data.run_dir) / "views_in/chimney/back.png").exists()


def test_views_are_matted_one_at_a_time_and_let_go(engine: Engine, tmp_path: Path, monkeypatch) -> None:
    photos = []
    for number, box in enumerate(((340, 560, 490, 880), (330, 550, 500, 890), (350, 570, 480, 870))):
        path = tmp_path / f"door_{number}.jpg"  # photos, no alpha: each goes through the job's matting model
        Image.open(HOUSE).convert("RGB").crop(box).save(path)
        photos.append(path)
    batches: list[int] = []
    real = matting.matte_all
    monkeypatch.setattr(matting, "matte_all", lambda run, model, crops: batches.append(len(crops))
                        or real(run, model, crops))
    request = GenerateRequest(id="m", image=str(HOUSE), targets=["door"], boxes={"door": DOOR},
                              views={"door": dict(zip(("left", "back", "right"), map(str, photos)))},
                              options=JobOptions(**FAST_OPTIONS))
    data = engine.run(request, Job(id="m", emit=lambda e: None))
    assert data.targets[0].status == "done"
    # The front's cut-out is one batch of its own; then each view alone (before: the three in one batch).
    assert batches[-3:] == [1, 1, 1]


def test_the_main_picture_given_again_as_a_view_is_left_out_in_one_sentence(engine: Engine, tmp_path: Path) -> None:
    again = tmp_path / "again.png"
    again.write_bytes(HOUSE.read_bytes())  # the same bytes under another name
    request = GenerateRequest(id="a", image=str(HOUSE), targets=["chimney"], boxes={"chimney": CHIMNEY},
                              views={"chimney": {"back": str(again)}}, options=JobOptions(**FAST_OPTIONS))
    [chimney] = engine.run(request, Job(id="a", emit=lambda e: None)).targets
    assert chimney.status == "done" and not chimney.views  # before: used without a word
    assert chimney.views_left_out == {"back": "the back view of 'chimney' was left out: again.png is the main "
                                              "picture itself; give a picture taken from the back"}


@pytest.mark.parametrize("device, gpu", [("cpu", False), ("cuda", True), ("cuda:1", True), ("mps", True)])
def test_a_memory_sentence_names_a_gpu_only_where_there_is_one(device: str, gpu: bool) -> None:
    assert ("GPU" in free_memory_advice(device)) is gpu
