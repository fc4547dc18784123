"""Grounding stops where its answer ends (the budget: test_grounding_budget.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from PIL import Image

from img23d_backend.grounding.qwen3_vl import ask as grounding
from img23d_backend.env.job_control import CancelToken
from img23d_backend.grounding.grounder import GroundingOptions, StopReason
from img23d_backend.grounding.qwen3_vl.ask import IncrementalText, answer_budget, ground, load_grounding
from img23d_backend.grounding.qwen3_vl.detections import parse_detections
from img23d_backend.grounding.qwen3_vl.replica_answer import ANSWER as TINY_GROUNDING_ANSWER
from img23d_backend.env.torch_shims import prepare_torchvision
from img23d_protocol import ProtocolError
from testdata import HOUSE


@pytest.fixture(scope="module")
def grounder(tiny_root: Path) -> grounding.GroundingModel:
    prepare_torchvision()
    return load_grounding(tiny_root / "qwen3-vl", torch.device("cpu")).obj


def test_generation_stops_right_after_the_answer(grounder: grounding.GroundingModel) -> None:
    answer = ground(grounder, Image.open(HOUSE), ["house", "barrel"], options=GroundingOptions(),
                    cancel=CancelToken())
    # The replica says its answer one line (one token) at a time: the array closes on "]\n", the
    # fence closes, and the first line of prose after it ends generation (another array could
    # have followed the fence), before the rest of the prose or <|im_end|>.
    lines = TINY_GROUNDING_ANSWER.splitlines(keepends=True)
    assert lines[lines.index("]\n") + 1] == "```\n"
    assert answer.tokens == lines.index("]\n") + 3 <= len(lines) < len(lines) + 1
    assert answer.text == "".join(lines[:answer.tokens])
    assert answer.budget == answer_budget(["house", "barrel"]) and answer.stop_reason is StopReason.CLOSED
    assert len(parse_detections(answer.text, 1000, 1000)) == 11


def test_a_cancelled_grounding_stops_at_once(grounder: grounding.GroundingModel) -> None:
    cancel = CancelToken()
    cancel.cancel()
    with pytest.raises(ProtocolError):
        ground(grounder, Image.open(HOUSE), ["house"], options=GroundingOptions(), cancel=cancel)


class CountingTokenizer:
    """A tokenizer that remembers how many tokens each decode call was given."""

    def __init__(self, tokenizer) -> None:
        self.tokenizer, self.lengths = tokenizer, []

    def decode(self, ids, **kwargs) -> str:
        self.lengths.append(len(ids))
        return self.tokenizer.decode(ids, **kwargs)


def test_the_answer_is_decoded_a_small_window_at_a_time(grounder: grounding.GroundingModel) -> None:
    # Byte tokens: "椅子" is six of them, and no piece of a character may come out before it is whole.
    tokenizer = grounder.processor.tokenizer
    text = 'Sure: [{"bbox_2d": [1, 2, 3, 4], "label": "椅子"}] ' * 40
    ids = tokenizer.encode(text, add_special_tokens=False)
    counting = CountingTokenizer(tokenizer)
    incremental = IncrementalText(counting)
    pieces = [incremental.push(token) for token in ids]
    assert "".join(pieces) == text and "\ufffd" not in "".join(pieces)
    # Constant work per token, not the whole answer: the window holds the last text given out and
    # what is not yet a whole character (here at most two characters of three bytes).
    assert len(ids) > 1000 and max(counting.lengths) <= 6
