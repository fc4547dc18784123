"""The grounding replica gives its fixed answer by itself, at either size's granularity.

The full-size replica (2B parameters) is too big to build here, so the wiring it gets is
proven on a tiny Qwen3-VL shaped like it where it matters: tied embeddings and the fixed
answer cut about two characters a token, through the production loader and ``ground()``.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from img23d_backend.grounding.qwen3_vl import replica as grounding_replica
from img23d_backend.grounding.qwen3_vl.replica_answer import ANSWER, TRIGGER, FixedAnswer, answer_pieces, loop_start
from img23d_backend.env.job_control import CancelToken
from img23d_backend.grounding.grounder import GroundingOptions, StopReason
from img23d_backend.grounding.qwen3_vl.answer_scan import AnswerScanner
from img23d_backend.grounding.qwen3_vl.ask import ground, load_grounding
from img23d_backend.grounding.qwen3_vl.detections import parse_detections

# Tiny sizes, tied like Qwen3-VL-2B, cut like the full size; wide enough for ~230 answer tokens.
TIED = replace(grounding_replica.TINY, tied_embeddings=True, answer_chars=grounding_replica.FULL.answer_chars, hidden=256,
               intermediate=256)


@pytest.mark.parametrize("chars", [None, grounding_replica.FULL.answer_chars])
def test_the_answer_pieces_spell_the_answer_once_each(chars: int | None) -> None:
    pieces = answer_pieces(chars)
    assert "".join(pieces) == ANSWER
    assert len(set(pieces)) == len(pieces) and TRIGGER not in pieces


def test_the_full_size_answer_is_as_long_as_a_real_one() -> None:
    # A real answer with 11 boxes takes ~350 tokens of Qwen's BPE; one token per line would be 15.
    assert 200 <= len(answer_pieces(grounding_replica.FULL.answer_chars)) <= 400
    assert len(answer_pieces(None)) == len(ANSWER.splitlines())


def test_a_tied_replica_answers_through_the_production_calls(tmp_path: Path) -> None:
    import torch

    entry = grounding_replica.build(tmp_path / "qwen3-vl", TIED)
    loaded = load_grounding(tmp_path / "qwen3-vl", torch.device("cpu"))
    assert loaded.obj.model.lm_head.weight is loaded.obj.model.model.language_model.embed_tokens.weight
    picture = Image.fromarray(np.random.default_rng(0).integers(0, 256, (300, 400, 3), dtype=np.uint8))
    # Every name the answer holds, every instance: the budget has room for all eleven boxes.
    names = ["house", "chimney", "door", "tree", "barrel", "rock", "stairs"]
    answer = ground(loaded.obj, picture, names, options=GroundingOptions(max_pixels=256 * 256),
                    cancel=CancelToken())
    # Generation stops where the JSON array closes, before the fence and the prose after it.
    assert ANSWER.startswith(answer.text) and answer.stop_reason is StopReason.CLOSED
    assert AnswerScanner().feed(answer.text) is StopReason.CLOSED and answer.tokens < answer.budget
    assert AnswerScanner().feed(answer.text[:-2]) is None and len(parse_detections(answer.text, 400, 300)) == 11
    assert entry["answer_tokens"] == len(answer_pieces(grounding_replica.FULL.answer_chars)) + 1  # and <|im_end|>


def test_a_model_too_small_for_the_answer_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="embedding dimensions"):
        grounding_replica.build(tmp_path / "qwen3-vl", replace(TIED, hidden=64))


# The last box line is written the same way as one before it: the piece cut at its end repeats.
LOOPING = FixedAnswer('```json\n[\n  {"bbox_2d": [1, 2, 3, 4], "label": "a"},\n'
                      '  {"bbox_2d": [5, 6, 7, 8], "label": "b"},\n', loop_from=len("```json\n[\n"))


@pytest.mark.parametrize("chars", [None, 2, 3])
def test_a_looping_answer_is_cut_at_its_loop_into_unique_pieces(chars: int | None) -> None:
    pieces = answer_pieces(chars, LOOPING)
    assert "".join(pieces) == LOOPING.text and len(set(pieces)) == len(pieces) and TRIGGER not in pieces
    start = loop_start(chars, LOOPING)
    assert "".join(pieces[:start]) == LOOPING.text[:LOOPING.loop_from]


def test_a_replica_says_the_answer_it_is_given_and_a_looping_one_never_ends(tmp_path: Path) -> None:
    import torch

    picture = Image.fromarray(np.random.default_rng(1).integers(0, 256, (64, 64, 3), dtype=np.uint8))
    said = {}
    for name, answer in (("plain", FixedAnswer("```json\n[]\n```")), ("loop", LOOPING)):
        entry = grounding_replica.build(tmp_path / name, TIED, answer)
        grounder = load_grounding(tmp_path / name, torch.device("cpu")).obj
        messages = [{"role": "user", "content": [{"type": "image", "image": picture}, {"type": "text", "text": "?"}]}]
        inputs = grounder.processor.apply_chat_template(messages, tokenize=True, add_generation_prompt=True,
                                                        return_dict=True, return_tensors="pt")
        output = grounder.model.generate(**inputs, max_new_tokens=120, do_sample=False)
        new = output[0, inputs["input_ids"].shape[1]:]
        said[name] = (grounder.processor.decode(new, skip_special_tokens=True), len(new), entry)
    assert said["plain"][0] == "```json\n[]\n```" and said["plain"][2]["answer"] == "```json\n[]\n```"
    text, tokens, entry = said["loop"]
    assert tokens == 120 and entry["loops_from"] == LOOPING.loop_from  # no end-of-turn: only the limit ends it
    body = LOOPING.text[LOOPING.loop_from:]
    assert text == (LOOPING.text + body * 10)[:len(text)] and len(text) > len(LOOPING.text) + len(body)


@pytest.mark.parametrize("ending", ["\nThat is all.", ""])
def test_boxes_split_over_two_fenced_arrays_all_reach_the_parser(tmp_path: Path, ending: str) -> None:
    # Generation must not stop where the first array closes: the second fence's boxes come after it.
    # Ending with prose stops at its first letter; ending with the fence and the end of the turn
    # is a whole answer too.
    import torch

    split = FixedAnswer('```json\n[{"bbox_2d": [100, 100, 400, 400], "label": "house"}]\n```\n'
                        '```json\n[{"bbox_2d": [500, 500, 700, 900], "label": "door"}]\n```' + ending)
    grounding_replica.build(tmp_path / "split", TIED, split)
    grounder = load_grounding(tmp_path / "split", torch.device("cpu")).obj
    picture = Image.fromarray(np.random.default_rng(2).integers(0, 256, (300, 400, 3), dtype=np.uint8))
    answer = ground(grounder, picture, ["house", "door"], options=GroundingOptions(max_pixels=256 * 256),
                    cancel=CancelToken())
    assert [d.label for d in parse_detections(answer.text, 400, 300)] == ["house", "door"], answer.text
    assert answer.stop_reason is StopReason.CLOSED and not answer.cut_off
