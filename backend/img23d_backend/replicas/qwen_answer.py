"""The grounding replica's fixed answer, and the wiring that makes greedy decoding give it.

A Qwen3-VL with random weights answers noise. The replica is wired instead so that, whatever
the image and prompt, greedy decoding emits ``ANSWER`` then ``<|im_end|>``: the production
code generates, decodes and parses a real answer with real boxes, and no job code needs to
know it talks to a replica.
"""

from __future__ import annotations

import math
from typing import Any

# The fixed answer the grounding replica emits (Qwen3-VL style 0..1000 relative boxes).
# Deliberately messy (code fence, trailing prose) so the production parser is exercised.
ANSWER: str = (
    "```json\n"
    "[\n"
    '  {"bbox_2d": [185, 105, 880, 860], "label": "house"},\n'
    '  {"bbox_2d": [600, 80, 745, 580], "label": "chimney"},\n'
    '  {"bbox_2d": [365, 600, 460, 840], "label": "door"},\n'
    '  {"bbox_2d": [108, 685, 205, 845], "label": "tree"},\n'
    '  {"bbox_2d": [840, 718, 912, 820], "label": "tree"},\n'
    '  {"bbox_2d": [720, 840, 775, 885], "label": "barrel"},\n'
    '  {"bbox_2d": [812, 822, 862, 865], "label": "barrel"},\n'
    '  {"bbox_2d": [205, 740, 255, 780], "label": "barrel"},\n'
    '  {"bbox_2d": [168, 815, 238, 873], "label": "rock"},\n'
    '  {"bbox_2d": [740, 785, 878, 855], "label": "rock"},\n'
    '  {"bbox_2d": [228, 835, 440, 945], "label": "stairs"}\n'
    "]\n"
    "```\n"
    "These are the objects I found in the image."
)

# The generation prompt ends with this token; its successor starts the fixed answer.
TRIGGER = "\n"


def answer_pieces() -> list[str]:
    """The fixed answer split into lines; each becomes one added token used exactly once."""
    pieces = ANSWER.splitlines(keepends=True)
    if len(set(pieces)) != len(pieces):
        raise ValueError("answer pieces must be unique so every token has a single successor")
    return pieces


def answer_chain(tokenizer: Any) -> list[int]:
    """Token ids: trigger, answer pieces in order, then <|im_end|>."""
    trigger = tokenizer.encode(TRIGGER, add_special_tokens=False)
    if len(trigger) != 1:
        raise ValueError(f"the generation-prompt trigger must be one token, got {trigger}")
    pieces = [tokenizer.convert_tokens_to_ids(p) for p in answer_pieces()]
    return trigger + pieces + [tokenizer.convert_tokens_to_ids("<|im_end|>")]


def wire_fixed_answer(model: Any, chain: list[int], logit_margin: float = 32.0) -> None:
    """Make greedy decoding follow ``chain``: after token chain[i] always comes chain[i+1].

    With every decoder layer's output projections zeroed the residual stream at a text
    position is just its token embedding (deepstack only adds to image positions), so the
    next-token logits depend on the current token alone. Source tokens get orthonormal
    embedding directions and each successor's lm_head row is aligned with its source, so the
    successor's logit is ``logit_margin`` while competing chain rows score ~0.
    """
    import torch

    lm = model.model.language_model
    with torch.no_grad():
        for layer in lm.layers:
            layer.self_attn.o_proj.weight.zero_()
            layer.mlp.down_proj.weight.zero_()
        lm.norm.weight.fill_(1.0)
        emb = lm.embed_tokens.weight
        dim = emb.shape[1]
        sources, successors = chain[:-1], chain[1:]
        basis, _ = torch.linalg.qr(torch.randn(dim, len(sources)))  # orthonormal columns
        emb_scale = float(emb.pow(2).mean().sqrt())
        for i, (src, dst) in enumerate(zip(sources, successors)):
            direction = basis[:, i]
            # After the final RMSNorm (weight 1) this row becomes sqrt(dim) * direction.
            emb[src] = direction * emb_scale * math.sqrt(dim)
            model.lm_head.weight[dst] += direction * (logit_margin / math.sqrt(dim))
