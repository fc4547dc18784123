"""No box is lost to grounding's token budget: a dozen instances of every name fit, up to 32 names.

A realistic answer is counted by a rule that is never below the real Qwen tokenizer's count
(whose vocabulary cannot be downloaded here): Qwen2's own pre-tokenisation, then one token per
digit and one per UTF-8 byte of every other piece. Why it cannot fall short: Qwen's tokenizer
is a byte-level BPE that first splits the text with this very expression (from its
tokenizer.json), then merges bytes only inside each piece; a piece therefore takes at least one
token and at most one per byte, and each digit is a piece of its own (``\\p{N}``, one at a time).
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from tokenizers import Regex, pre_tokenizers

from img23d_backend.catalog import GROUNDING
from img23d_backend.catalog import tiny_model_set
from img23d_backend.grounding.grounder import ANSWER_TOKEN_CAP, GroundingOptions
from img23d_backend.grounding.qwen3_vl.ask import (MAX_INSTANCES_PER_NAME, answer_budget, progress_total,
                                              typical_answer_tokens)
from img23d_backend.grounding.qwen3_vl.detections import grounding_prompt
from img23d_protocol import MAX_TARGETS

# Qwen2's pre-tokeniser (Qwen2TokenizerFast, and the tokenizer.json of every Qwen3-VL size).
QWEN2_SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|"
               r"\s*[\r\n]+|\s+(?!\S)|\s+")
_SPLIT = pre_tokenizers.Split(Regex(QWEN2_SPLIT), behavior="isolated")

# Names an artist types, some long, some not English, some of several words.
NAMES = ["chair", "wooden table", "floor lamp", "potted plant", "bookshelf", "sofa", "coffee mug", "teapot",
         "red barrel", "window", "door", "picture frame", "ceiling fan", "rug", "Stuhl", "椅子",
         "wine glass", "laptop computer", "cushion", "curtain", "vase with flowers", "clock", "radiator",
         "stainless steel kettle", "piano", "guitar", "houseplant in a pot", "stool", "chaise longue",
         "bicycle", "toy robot", "ceramic bowl"]


def upper_token_count(text: str) -> int:
    """At least as many tokens as Qwen's tokenizer gives ``text`` (see the module's docstring)."""
    pieces = [piece for piece, _ in _SPLIT.pre_tokenize_str(text)]
    assert "".join(pieces) == text
    return sum(1 if piece.isdigit() and len(piece) == 1 else len(piece.encode("utf-8")) for piece in pieces)


def realistic_answer(names: list[str], instances: int, rng: random.Random) -> str:
    """Qwen3-VL's answer with ``instances`` boxes of each name, labelled as the model labels them
    (the name, or its plural), on the 0..1000 grid, in a fence with a sentence after it."""
    lines = []
    for name in names:
        for _ in range(instances):
            x0, y0 = rng.randint(100, 800), rng.randint(100, 800)
            box = [x0, y0, rng.randint(x0 + 10, 999), rng.randint(y0 + 10, 999)]
            label = name + ("s" if rng.random() < 0.5 else "")
            lines.append(f'\t{{"bbox_2d": [{", ".join(map(str, box))}], "label": "{label}"}}')
    return "```json\n[\n" + ",\n".join(lines) + "\n]\n```\nThese are all the objects I found."


def test_the_counting_rule_splits_digits_one_by_one() -> None:
    assert upper_token_count("[185, 105]") == 1 + 3 + 1 + 1 + 3 + 1  # "[", digits, ",", " ", digits, "]"
    assert upper_token_count('"label"') == 7


def test_the_budget_holds_a_dozen_instances_of_every_name_up_to_max_targets() -> None:
    assert len(NAMES) == MAX_TARGETS and MAX_INSTANCES_PER_NAME == 12
    rng = random.Random(21)
    caps = {spec.options["max_new_tokens"] for spec in GROUNDING.values()}
    caps |= {tiny_model_set(Path(".")).grounding.options["max_new_tokens"], GroundingOptions().max_new_tokens}
    assert caps == {ANSWER_TOKEN_CAP}
    for count in range(1, MAX_TARGETS + 1):
        names = NAMES[:count]
        grounding_prompt(names)  # names the prompt accepts
        needed = upper_token_count(realistic_answer(names, MAX_INSTANCES_PER_NAME, rng))
        budget = answer_budget(names, cap=ANSWER_TOKEN_CAP)
        assert needed <= budget, (count, needed, budget)
        assert budget < ANSWER_TOKEN_CAP  # the cap is not what bounds it


def test_the_cap_holds_the_longest_names_it_promises() -> None:
    # 32 names of 40 bytes each, a dozen boxes each, fit under the models' cap.
    names = [f"{i:02d}" + "x" * 38 for i in range(MAX_TARGETS)]
    assert answer_budget(names, cap=10 ** 9) <= ANSWER_TOKEN_CAP


def test_the_budget_grows_with_the_names_and_stops_at_the_cap() -> None:
    budgets = [answer_budget(NAMES[:n]) for n in (1, 3, 8)]
    assert budgets == sorted(set(budgets))
    assert answer_budget(["chair"]) < 1000  # one name: a dozen boxes' worth, not the whole cap
    assert answer_budget(NAMES, cap=512) == 512


@pytest.mark.parametrize("count", [1, 5])
def test_the_budget_bounds_a_runaway_answer(count: int) -> None:
    # A dozen boxes a name always fit; forty do not: an answer that never ends still ends at it.
    names = NAMES[:count]
    rng = random.Random(count)
    assert upper_token_count(realistic_answer(names, 12, rng)) <= answer_budget(names)
    assert upper_token_count(realistic_answer(names, 40, rng)) > answer_budget(names)


def test_the_progress_bar_follows_a_usual_answer_not_the_budget() -> None:
    names = ["house", "chimney", "barrel"]
    typical, budget = typical_answer_tokens(names), answer_budget(names)
    assert typical < budget / 4  # the budget holds a dozen boxes a name; a usual answer has a few
    totals = [progress_total(tokens, typical, budget) for tokens in range(0, budget + 1, 16)]
    assert totals[0] == typical  # an answer of usual length ends near a full bar, not at 1/12 of it
    assert totals == sorted(totals) and max(totals) <= budget  # it only grows, up to the budget
    assert all(tokens < total for tokens, total in zip(range(0, budget - typical, 16), totals))
