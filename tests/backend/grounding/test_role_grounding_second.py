"""A test-only second grounding model (``second_grounding``: Colour Words, a name that holds a colour word is found
where the picture is that colour) keeps the grounding role's contract (role_contracts_shared.GroundingContract) once
registered as a real one would be, and a Generate job's boxes are its own.

A real second grounding model is its folder (``grounding/<model>/``: ``model.py``, ``grounder.py``, its network and
replica: new files) and three existing files, which the fixture below stands in for, one mapping each:

1. ``backend/img23d_backend/grounding/table.py``: one line in ``GROUNDING_PACKAGES``;
2. ``protocol/img23d_protocol/shared_models.py``: its row in ``GROUNDING_MODELS`` (the add-on's Grounding choice,
   the command line's ``--grounding`` help);
3. ``protocol/img23d_protocol/licences.py``: its repository's and its replica's rows in ``MODEL_LICENCES``.

The catalog (``--grounding``'s choices, the model sets), the manager's loader and the jobs follow with no other
change: a job reads the model's boxes, in the picture's pixels, never its words.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Iterator

import pytest
from PIL import Image, ImageDraw
from img23d_protocol import GenerateRequest, JobOptions, shared_models
from img23d_protocol.shared_models import SharedModel

from img23d_backend.catalog import GROUNDING, model_set, tiny_model_set
from img23d_backend.env.room_table import Held
from img23d_backend.grounding import table
from img23d_backend.jobs import Engine, EngineSettings, Job, loaders
from img23d_backend.matting.table import MATTING_CODE
from img23d_backend.models.placement import LoadedModel
from role_contracts_shared import GroundingContract, SharedSubject
from second_grounding.model import NAME, REPO, TINY_PIXELS
from second_models import second_model
from stand_ins import StandInMatting
from testdata import FAST_OPTIONS

# A 192 x 192 picture read at 96 x 96 (its tiny replica's most pixels): every edge on an even pixel, so the boxes
# come back in the picture's pixels exactly.
SIDE = 192
RED_BOX, BLUE_BOX = (32, 40, 96, 120), (112, 64, 176, 160)
NAMES = ("red block", "blue block")


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The three existing files' lines, set for this module's tests alone, and its replica's folder."""
    row = SharedModel(NAME, "Colour Words", "Regions of a named colour", REPO)
    with second_model(tmp_path_factory, table.GROUNDING_PACKAGES, "second_grounding", shared_models.GROUNDING_MODELS,
                      row, table.GROUNDING_CODE, table.GROUNDING_ROWS) as root:
        yield root


@pytest.fixture(scope="module")
def blocks(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A red block and a blue block on white."""
    picture = Image.new("RGB", (SIDE, SIDE), (255, 255, 255))
    draw = ImageDraw.Draw(picture)
    for box, colour in ((RED_BOX, (200, 30, 30)), (BLUE_BOX, (30, 30, 200))):
        draw.rectangle((box[0], box[1], box[2] - 1, box[3] - 1), fill=colour)
    path = tmp_path_factory.mktemp("blocks") / "blocks.png"
    picture.save(path)
    return path


class TestSecondGroundingModelContract(GroundingContract):
    @pytest.fixture(scope="class")
    @classmethod
    def subject(cls, home: Path, blocks: Path) -> SharedSubject:
        return SharedSubject(NAME, home, picture=blocks, names=NAMES)


def test_the_catalog_offers_it_and_a_generate_jobs_boxes_are_its_own(home: Path, blocks: Path, tiny_root: Path,
                                                                    tmp_path: Path, monkeypatch) -> None:
    assert NAME in GROUNDING and model_set("default", grounding=NAME).grounding == GROUNDING[NAME]
    spec = table.GROUNDING_ROWS[NAME].tiny_spec(home)
    assert spec.options["max_pixels"] == TINY_PIXELS < SIDE * SIDE   # the picture is read smaller than it is
    stand_in = StandInMatting()   # every dark thing in a crop is foreground: the blocks' cut-outs are known
    monkeypatch.setitem(loaders.LOADERS, "matting",
                        lambda spec: lambda folder, device: LoadedModel(obj=Held(MATTING_CODE["birefnet"], stand_in),
                                                                        modules=[stand_in]))
    engine = Engine(EngineSettings(models=replace(tiny_model_set(tiny_root), grounding=spec), runs_dir=tmp_path,
                                   device="cpu"))
    request = GenerateRequest(id="g", image=str(blocks), targets=list(NAMES), options=JobOptions(**FAST_OPTIONS))
    data = engine.run(request, Job(id="g", emit=lambda event: None))
    records = {record.target: record for record in data.targets}
    assert {name: (records[name].status, records[name].box) for name in NAMES} == {
        "red block": ("done", list(RED_BOX)), "blue block": ("done", list(BLUE_BOX))}
    assert data.answer is not None and data.answer.answer_tokens == 0   # boxes alone, no words
    detections = json.loads((Path(data.run_dir) / "detections.json").read_text())
    assert detections["raw_answer"] == "" and detections["matches"]["blue block"][0]["box"] == list(BLUE_BOX)
    manifest = json.loads(Path(data.manifest).read_text())
    assert manifest["models"]["grounding"]["id"] == f"tiny/{NAME}"
