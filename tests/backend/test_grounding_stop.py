"""Grounding stops where its answer ends, and its token budget follows the number of names."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from PIL import Image

from img23d_backend.stages import grounding
from img23d_backend.stages._common import CancelToken
from img23d_backend.stages.grounding import (GroundingOptions, answer_budget, expected_answer_tokens, ground,
                                              json_array_closed, load_grounding, parse_detections)
from img23d_backend.replicas.qwen_answer import ANSWER as TINY_GROUNDING_ANSWER
from img23d_backend.torch_env import prepare_torchvision
from img23d_protocol import ProtocolError
from testdata import HOUSE


@pytest.fixture(scope="module")
def grounder(tiny_root: Path) -> grounding.GroundingModel:
    prepare_torchvision()
    return load_grounding(tiny_root / "qwen3-vl", torch.device("cpu")).obj


def test_the_budget_grows_with_the_names_and_stays_under_the_cap() -> None:
    budgets = [answer_budget(n) for n in (1, 3, 8)]
    assert budgets == sorted(set(budgets))  # strictly growing
    assert all(b >= expected_answer_tokens(n) for b, n in zip(budgets, (1, 3, 8)))  # room for the answer
    assert answer_budget(3, all_instances=True) > answer_budget(3)  # room for every instance
    assert answer_budget(200, cap=512) == 512
    assert answer_budget(1) < 1024 // 4  # far below the old fixed 1024


@pytest.mark.parametrize("text, closed", [
    ('```json\n[\n  {"bbox_2d": [1, 2, 3, 4], "label": "a"}\n]', True),
    ('```json\n[\n  {"bbox_2d": [1, 2, 3, 4], "label": "a"},', False),
    ('[{"label": "odd ] name [", "bbox_2d": [1, 2, 3, 4]}', False),  # brackets in a string
    ('[{"label": "quote \\" ]", "bbox_2d": [1, 2, 3, 4]}]', True),
    ('Here you go: {"x": 1} [ [1, 2], [3] ] and more', True),
    ("no json at all", False),
])
def test_the_end_of_the_json_array_is_found(text: str, closed: bool) -> None:
    assert json_array_closed(text) is closed


def test_generation_stops_right_after_the_answer(grounder: grounding.GroundingModel) -> None:
    answer = ground(grounder, Image.open(HOUSE), ["house", "barrel"], options=GroundingOptions(),
                    cancel=CancelToken())
    # The replica says its answer one line (one token) at a time: the array closes on "]\n".
    lines = TINY_GROUNDING_ANSWER.splitlines(keepends=True)
    assert answer.tokens == lines.index("]\n") + 1 < len(lines) + 1  # not the fence, prose or <|im_end|>
    assert answer.text == "".join(lines[:answer.tokens])
    assert answer.budget == answer_budget(2)
    assert len(parse_detections(answer.text, 1000, 1000)) == 11


def test_a_cancelled_grounding_stops_at_once(grounder: grounding.GroundingModel) -> None:
    cancel = CancelToken()
    cancel.cancel()
    with pytest.raises(ProtocolError):
        ground(grounder, Image.open(HOUSE), ["house"], options=GroundingOptions(), cancel=cancel)
