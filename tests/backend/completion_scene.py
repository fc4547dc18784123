"""A scene for completion tests: a red disc whose lower right a blue block covers, and a green lamp on
its own; the grounding answer that boxes the three, an engine whose grounding gives that answer and
whose matting is the deterministic stand-in, and a deterministic editor."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import pytest
from PIL import Image, ImageDraw

from stand_ins import StandInMatting
from img23d_backend.jobs import Engine, EngineSettings, loaders
from img23d_backend.models.placement import LoadedModel
from img23d_backend.env.room_table import Held
from img23d_backend.matting.table import MATTING_CODE
from img23d_backend.catalog import tiny_model_set
from img23d_backend.jobs.steps.completion import fill
from img23d_backend.grounding import driver as grounding

SIZE = (480, 300)
DISC = (60, 60, 200, 200)       # the disc's circle; its lower right is behind the block
BLOCK = (140, 130, 260, 250)
LAMP = (360, 60, 440, 200)
RED, BLUE, GREEN = (170, 20, 20), (20, 20, 170), (20, 140, 20)


def picture(path: Path) -> Path:
    picture = Image.new("RGB", SIZE, (255, 255, 255))
    draw = ImageDraw.Draw(picture)
    draw.ellipse(DISC, fill=RED)
    draw.rectangle(BLOCK, fill=BLUE)
    draw.rectangle(LAMP, fill=GREEN)
    picture.save(path)
    return path


def answer() -> grounding.GroundingAnswer:
    """What a grounding model answers for the picture: the three boxed, in its pixels."""
    return grounding.GroundingAnswer([grounding.Detection("disc", DISC), grounding.Detection("block", BLOCK),
                                      grounding.Detection("lamp", LAMP)], tokens=60, budget=126)


def stand_in_scene(monkeypatch: pytest.MonkeyPatch) -> None:
    """Grounding boxes the scene's three (``answer``); matting is the stand-in (every dark thing in a crop is
    foreground)."""
    stand_in = StandInMatting()
    monkeypatch.setitem(loaders.LOADERS, "matting",
                        lambda spec: lambda folder, device: LoadedModel(obj=Held(MATTING_CODE["birefnet"], stand_in),
                                                                 modules=[stand_in]))
    monkeypatch.setattr(grounding, "ask", lambda *args, **kwargs: answer())


def scene_engine(tiny_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Engine:
    """An engine on the tiny models whose grounding boxes the scene's three (``answer``) and whose matting
    is the stand-in (every dark thing in a crop is foreground)."""
    stand_in_scene(monkeypatch)
    return Engine(EngineSettings(models=tiny_model_set(tiny_root), runs_dir=tmp_path / "runs", device="cpu"))


def editor_draws_whole_shapes(asks: Sequence[fill.EditAsk]) -> list[Image.Image]:
    """A deterministic editor: each crop with every blue pixel painted red, as if the block were
    taken away and the disc drawn whole (the block's own crop becomes a red square, which is fine)."""
    pictures = []
    for ask in asks:
        rgb = np.asarray(ask.image.convert("RGB")).copy()
        rgb[np.all(np.abs(rgb.astype(int) - BLUE) < 30, axis=-1)] = RED
        pictures.append(Image.fromarray(rgb, "RGB"))
    return pictures


# A second scene: a cup standing in front of a sofa, wholly inside the sofa's box.
NESTED_SIZE = (440, 300)
SOFA = (40, 60, 400, 260)
CUP = (170, 110, 230, 190)
SOFA_GREEN, CUP_ORANGE = (20, 120, 40), (200, 90, 10)


def nested_picture() -> Image.Image:
    picture = Image.new("RGB", NESTED_SIZE, (255, 255, 255))
    draw = ImageDraw.Draw(picture)
    draw.rectangle(SOFA, fill=SOFA_GREEN)
    draw.rectangle(CUP, fill=CUP_ORANGE)
    return picture


def matte_dark(crop: Image.Image) -> Image.Image:
    """A matting like BiRefNet on a clean picture (and like ``stand_ins.StandInMatting``): every thing
    darker than the white backdrop is foreground, so the sofa's matte takes in the cup in front of it."""
    rgb = np.asarray(crop.convert("RGB"))
    cut = crop.convert("RGB")
    cut.putalpha(Image.fromarray(np.where(rgb.min(axis=2) < 235, 255, 0).astype(np.uint8), "L"))
    return cut
