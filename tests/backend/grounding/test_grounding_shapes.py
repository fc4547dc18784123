"""Grounding reads every answer the real model gives, through transformers' own generate loop.

Each replica here is wired to answer one shape at about two characters a token (Qwen's BPE
gives a box line 30-50 tokens; these give it ~28): a bare object, a dozen instances of one name
with the largest listed last, a loop that repeats three boxes forever, and an answer longer
than a small budget. They are loaded by the production ``load_grounding`` and asked by the
production ``ground()`` (and, for the cut-off answer, by a whole detect job).
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from img23d_backend.jobs import Engine, EngineSettings, Job
from img23d_backend.catalog import tiny_model_set
from img23d_backend.grounding.qwen3_vl import replica as grounding_replica
from img23d_backend.grounding.qwen3_vl.replica_answer import FixedAnswer
from img23d_backend.env.job_control import CancelToken
from img23d_backend.grounding.grounder import GroundingOptions, StopReason
from img23d_backend.grounding.matching import match_targets
from img23d_backend.grounding.qwen3_vl.ask import GroundingModel, ground, load_grounding
from img23d_backend.grounding.qwen3_vl.detections import parse_answer, parse_detections
from img23d_backend.env.torch_shims import prepare_torchvision
from img23d_protocol import DetectRequest, GenerateRequest, JobOptions, ProtocolError

# Two characters a token, as the full-size replica; wide enough for ~400 answer tokens.
DIMS = replace(grounding_replica.TINY, answer_chars=2, hidden=512, intermediate=512)
PICTURE_SIZE = (400, 300)
OPTIONS = GroundingOptions(max_pixels=256 * 256)
FENCE = "```"


def box_line(box: tuple[int, int, int, int], label: str, last: bool = False) -> str:
    return f'  {{"bbox_2d": [{", ".join(map(str, box))}], "label": "{label}"}}' + ("\n" if last else ",\n")


BARE_BOX = (120, 340, 560, 900)
BARE = FixedAnswer(f'{FENCE}json\n{{"bbox_2d": [{", ".join(map(str, BARE_BOX))}], "label": "house"}}\n{FENCE}\n'
                   "The house stands in the middle of the picture.")

# Eleven small chairs in a row, then the big one: "the largest" is the last box of the answer.
SMALL_CHAIRS = [(100 + 70 * i, 600, 150 + 70 * i, 700) for i in range(11)]
BIG_CHAIR = (300, 200, 700, 950)
CHAIR_BOXES = SMALL_CHAIRS + [BIG_CHAIR]
CHAIRS = FixedAnswer(f"{FENCE}json\n[\n" + "".join(box_line(b, "chair") for b in SMALL_CHAIRS)
                     + box_line(BIG_CHAIR, "chair", last=True) + f"]\n{FENCE}")

# A model stuck in a loop: after the fence and the bracket, three boxes again and again.
LOOP_PREFIX = f"{FENCE}json\n[\n"
LOOP_BOXES = [((110, 220, 330, 440), "chair"), ((500, 510, 900, 800), "table"), ((700, 100, 760, 300), "lamp")]
LOOP = FixedAnswer(LOOP_PREFIX + "".join(box_line(b, label) for b, label in LOOP_BOXES), loop_from=len(LOOP_PREFIX))


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One replica per answer shape, built once for the module."""
    root = tmp_path_factory.mktemp("grounding-shapes")
    built = {}
    for name, answer in (("bare", BARE), ("chairs", CHAIRS), ("loop", LOOP)):
        grounding_replica.build(root / name, DIMS, answer)
        built[name] = root / name
    return built


@pytest.fixture(scope="module")
def grounders(folders: dict[str, Path]) -> dict[str, GroundingModel]:
    prepare_torchvision()
    return {name: load_grounding(folder, torch.device("cpu")).obj for name, folder in folders.items()}


def picture() -> Image.Image:
    return Image.fromarray(np.random.default_rng(0).integers(0, 256, (*PICTURE_SIZE[::-1], 3), dtype=np.uint8))


def pixels(box: tuple[int, int, int, int]) -> tuple[float, ...]:
    """A 0..1000 box in pixels of the picture."""
    width, height = PICTURE_SIZE
    return (box[0] * width / 1000, box[1] * height / 1000, box[2] * width / 1000, box[3] * height / 1000)


def test_a_bare_object_is_read_whole_and_generation_stops_after_it(grounders) -> None:
    answer = ground(grounders["bare"], picture(), ["house"], options=OPTIONS, cancel=CancelToken())
    # Stopped by the prose after the object's fence (another value could have followed the fence):
    # not inside its coordinate list, and within the prose's first token.
    body, _, after = answer.text.rpartition("```")
    assert body.rstrip("`\n").endswith("}") and "stands" not in answer.text and len(after.strip()) <= 3
    assert answer.stop_reason is StopReason.CLOSED
    [house] = match_targets(parse_detections(answer.text, *PICTURE_SIZE), ["house"])
    assert [d.box for d in house.detections] == [pixels(BARE_BOX)]


def test_a_dozen_instances_of_one_name_are_all_read_and_the_largest_is_chosen(grounders) -> None:
    answer = ground(grounders["chairs"], picture(), ["chair"], options=OPTIONS, cancel=CancelToken())
    detections = parse_detections(answer.text, *PICTURE_SIZE)
    assert [d.box for d in detections] == [pixels(b) for b in CHAIR_BOXES]
    [chair] = match_targets(detections, ["chair"])
    assert [d.box for d in chair.detections] == [pixels(BIG_CHAIR)]
    assert answer.tokens < answer.budget  # ended by the closing bracket, not by the budget


def test_a_repetition_loop_stops_well_before_the_budget(grounders) -> None:
    names = ["chair", "table", "lamp"]
    answer = ground(grounders["loop"], picture(), names, options=OPTIONS, cancel=CancelToken())
    # The three boxes, then the three again: the third repeat in a row stops it.
    assert answer.text.count('"bbox_2d"') == 6 and answer.text.rstrip(",\n").endswith("}")
    assert answer.stop_reason is StopReason.REPETITION and answer.repeats == 3
    assert answer.tokens < answer.budget / 4
    parsed = parse_answer(answer.text, *PICTURE_SIZE)
    assert [(d.label, d.box) for d in parsed.detections] == [(label, pixels(b)) for b, label in LOOP_BOXES]
    assert parsed.duplicates_dropped == 3


def small_budget_engine(tiny_root: Path, folder: Path, runs: Path) -> Engine:
    """The tiny models, with the chairs replica for grounding under a cap of 100 tokens."""
    tiny = tiny_model_set(tiny_root)
    small = replace(tiny.grounding, local_path=folder, options={**tiny.grounding.options, "max_new_tokens": 100})
    return Engine(EngineSettings(models=replace(tiny, grounding=small), runs_dir=runs, device="cpu"))


def test_an_answer_over_its_budget_is_reported_cut_off_and_keeps_its_complete_boxes(
        tiny_root: Path, folders: dict[str, Path], tmp_path: Path) -> None:
    # 100 tokens of 2 characters: the fence, the bracket and three whole box lines, then a cut.
    engine = small_budget_engine(tiny_root, folders["chairs"], tmp_path)
    image = tmp_path / "chairs.png"
    picture().save(image)
    data = engine.run(DetectRequest(id="d", image=str(image), targets=["chair"], options=JobOptions()),
                      Job(id="d", emit=lambda event: None))
    run = Path(data.run_dir)
    detections = json.loads((run / "detections.json").read_text())
    complete = CHAIR_BOXES[:len(detections["detections"])]
    assert len(complete) >= 3
    assert [d["box"] for d in detections["detections"]] == [list(pixels(b)) for b in complete]
    assert detections["cut_off"] is True and detections["stop_reason"] == "budget"
    assert detections["answer_tokens"] == detections["token_budget"] == 100
    warnings = json.loads((run / "manifest.json").read_text())["warnings"]
    assert [w["code"] for w in warnings] == ["answer_cut_off"] and "100 tokens" in warnings[0]["message"]
    assert data.answer.cut_off is True and data.answer.answer_tokens == 100
    assert data.boxes["chair"] and data.not_found == []


def test_a_generate_job_that_found_nothing_in_a_cut_off_answer_says_so(
        tiny_root: Path, folders: dict[str, Path], tmp_path: Path) -> None:
    engine = small_budget_engine(tiny_root, folders["chairs"], tmp_path)
    image = tmp_path / "chairs.png"
    picture().save(image)
    request = GenerateRequest(id="g", image=str(image), targets=["lamp"], options=JobOptions(texture=False))
    with pytest.raises(ProtocolError, match="not found|none of the names") as raised:
        engine.run(request, Job(id="g", emit=lambda event: None))
    assert "cut off at 100 tokens" in raised.value.message


def test_a_repeating_answer_is_recorded_in_the_run(tiny_root: Path, folders: dict[str, Path], tmp_path: Path) -> None:
    tiny = tiny_model_set(tiny_root)
    looping = replace(tiny.grounding, local_path=folders["loop"])
    engine = Engine(EngineSettings(models=replace(tiny, grounding=looping), runs_dir=tmp_path, device="cpu"))
    image = tmp_path / "room.png"
    picture().save(image)
    data = engine.run(DetectRequest(id="r", image=str(image), targets=["chair", "table", "lamp"],
                                    options=JobOptions()), Job(id="r", emit=lambda event: None))
    run = Path(data.run_dir)
    detections = json.loads((run / "detections.json").read_text())
    assert detections["stop_reason"] == "repetition" and detections["cut_off"] is False
    assert detections["duplicates_dropped"] == 3
    assert [len(boxes) for boxes in detections["matches"].values()] == [1, 1, 1]
    [warning] = json.loads((run / "manifest.json").read_text())["warnings"]
    assert warning["code"] == "answer_repeated" and "3 repeated" in warning["message"]
    assert data.answer.stop_reason == "repetition" and data.not_found == []
