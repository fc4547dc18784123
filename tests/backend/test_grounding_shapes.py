"""Grounding reads every answer the real model gives, through transformers' own generate loop.

Each replica here is wired to answer one shape at about two characters a token (Qwen's BPE
gives a box line 30-50 tokens; these give it ~28): a bare object, a dozen instances of one name
with the largest listed last, a loop that repeats three boxes forever, and an answer longer
than a small budget. They are loaded by the production ``load_grounding`` and asked by the
production ``ground()`` (and, for the cut-off answer, by a whole detect job).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from img23d_backend.replicas import qwen
from img23d_backend.replicas.qwen_answer import FixedAnswer
from img23d_backend.stages._common import CancelToken
from img23d_backend.stages.grounding import (GroundingModel, GroundingOptions, StopReason, ground, load_grounding,
                                              match_targets, parse_answer, parse_detections)
from img23d_backend.torch_env import prepare_torchvision

# Two characters a token, as the full-size replica; wide enough for ~400 answer tokens.
DIMS = replace(qwen.TINY, answer_chars=2, hidden=512, intermediate=512)
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
        qwen.build(root / name, DIMS, answer)
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
    # Stopped by the fence after the object: not inside its coordinate list, not in the prose.
    assert answer.text.rstrip("`\n").endswith("}") and "stands" not in answer.text
    assert answer.stop_reason is StopReason.CLOSED
    [house] = match_targets(parse_detections(answer.text, *PICTURE_SIZE), ["house"])
    assert [d.box for d in house.detections] == [pixels(BARE_BOX)]


def test_a_repetition_loop_stops_well_before_the_budget(grounders) -> None:
    names = ["chair", "table", "lamp"]
    answer = ground(grounders["loop"], picture(), names, options=OPTIONS, cancel=CancelToken())
    # The three boxes, then the three again: the third repeat in a row stops it.
    assert answer.text.count('"bbox_2d"') == 6 and answer.text.rstrip(",\n").endswith("}")
    assert answer.stop_reason is StopReason.REPETITION and answer.repeats == 3
    assert answer.tokens < answer.budget
    parsed = parse_answer(answer.text, *PICTURE_SIZE)
    assert [(d.label, d.box) for d in parsed.detections] == [(label, pixels(b)) for b, label in LOOP_BOXES]
    assert parsed.duplicates_dropped == 3
