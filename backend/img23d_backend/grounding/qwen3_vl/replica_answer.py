"""The grounding replica's fixed answer, and the wiring that makes greedy decoding give it.

A Qwen3-VL with random weights answers noise. The replica is wired instead so that, whatever
the image and prompt, greedy decoding emits a fixed answer (``ANSWER`` unless a test gives its
own ``FixedAnswer``) then ``<|im_end|>``, at either size: the production code generates, decodes
and parses a real answer with real boxes, for as many tokens as the answer has, and no job code
needs to know it talks to a replica. An answer may instead end in a loop (``loop_from``): its
tail then repeats until something stops generation, as a real model stuck repeating does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
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



@dataclass(frozen=True)
class FixedAnswer:
    """What the replica says: ``text``, then ``<|im_end|>``; or, with ``loop_from`` (a character
    offset into ``text``), ``text`` then ``text[loop_from:]`` again and again, never ending."""

    text: str = ANSWER
    loop_from: int | None = None

    def __post_init__(self) -> None:
        if not self.text:
            raise ValueError("a fixed answer needs some text")
        if self.loop_from is not None and not 0 <= self.loop_from < len(self.text):
            raise ValueError(f"loop_from must be an offset inside the text, got {self.loop_from}")


DEFAULT_ANSWER = FixedAnswer()

# The generation prompt ends with this token; its successor starts the fixed answer.
TRIGGER = "\n"
# How much more the last layer's lookup writes than the embedding it reads: the next token's
# logit is then ~logit_margin and the current token's an eighth of it.
_BOOST = 8.0
# A lookup unit's gate for the token it answers to; silu(8) ~ 8, silu(~0) ~ 0 for the others.
_GATE = 8.0


def _cut(text: str, chars: int | None, seen: set[str]) -> list[str]:
    """``text`` in pieces unlike any in ``seen`` (which grows): one per line, or of ``chars`` or more."""
    if chars is None:
        return text.splitlines(keepends=True)
    pieces, start = [], 0
    while start < len(text):
        end = start + chars
        if len(text) - end < chars:
            end = len(text)  # no piece shorter than ``chars`` left at the end
        while text[start:end] in seen and end < len(text):
            end += 1
        piece = text[start:end]
        while piece in seen and pieces:  # the text's tail repeats an earlier piece: join it to the one before
            earlier = pieces.pop()
            seen.discard(earlier)
            piece = earlier + piece
        seen.add(piece)
        pieces.append(piece)
        start = end
    return pieces


def answer_pieces(chars: int | None, answer: FixedAnswer = DEFAULT_ANSWER) -> list[str]:
    """The answer cut into the pieces the tokenizer gets as added tokens, each used once.

    ``None``: one piece per line (short answers keep the tests fast). ``chars``: pieces of at
    least that many characters, each lengthened until it is unlike every earlier one, so an
    answer takes about as many tokens as a real tokenizer would give it. Every piece must be
    unique (so every token has a single successor) and none may be the trigger. A looping
    answer is cut at ``loop_from`` too, so that the loop starts on a piece of its own.
    """
    seen = {TRIGGER}
    split = len(answer.text) if answer.loop_from is None else answer.loop_from
    pieces = _cut(answer.text[:split], chars, seen) + _cut(answer.text[split:], chars, seen)
    if len(set(pieces)) != len(pieces) or TRIGGER in pieces:
        raise ValueError("answer pieces must be unique and differ from the trigger")
    return pieces


def loop_start(chars: int | None, answer: FixedAnswer) -> int | None:
    """Index into ``answer_pieces`` of the piece a looping answer goes back to, else None."""
    if answer.loop_from is None:
        return None
    lengths = [len(p) for p in answer_pieces(chars, answer)]
    offsets = [sum(lengths[:i]) for i in range(len(lengths))]
    return offsets.index(answer.loop_from)


def answer_chain(tokenizer: Any, chars: int | None, answer: FixedAnswer = DEFAULT_ANSWER) -> list[int]:
    """Token ids: trigger, answer pieces in order, then <|im_end|> (none for a looping answer)."""
    trigger = tokenizer.encode(TRIGGER, add_special_tokens=False)
    if len(trigger) != 1:
        raise ValueError(f"the generation-prompt trigger must be one token, got {trigger}")
    pieces = [tokenizer.convert_tokens_to_ids(p) for p in answer_pieces(chars, answer)]
    end = [] if answer.loop_from is not None else [tokenizer.convert_tokens_to_ids("<|im_end|>")]
    return trigger + pieces + end


def wire_fixed_answer(model: Any, chain: list[int], logit_margin: float = 32.0, loop_to: int | None = None) -> None:
    """Make greedy decoding follow ``chain``: after token chain[i] always comes chain[i+1], and
    after the last one chain[loop_to] when ``loop_to`` is given (the chain then ends in a cycle).

    Every decoder layer's attention output and MLP output projections are zeroed, so at a text
    position the residual stream is its token's embedding alone (deepstack only adds to image
    positions) and the next token depends on the current token alone. The chain's tokens get
    orthonormal embedding directions u_i. The last layer's MLP becomes a lookup table: unit i
    fires on u_i only and writes ``_BOOST`` times u_(i+1) into the stream. The output head
    reads chain tokens through their embedding rows (the same matrix when the embeddings are
    tied, as in Qwen3-VL-2B; copied into an untied head), so chain[i+1] scores
    ``~logit_margin``, chain[i] an eighth of that and every other token ~0. The compute is
    unchanged: zeros are multiplied like any other weight.
    """
    import torch

    lm = model.model.language_model
    emb, head = lm.embed_tokens.weight, model.lm_head.weight
    table = lm.layers[-1].mlp
    dim = emb.shape[1]
    # Position i's successor is position i + 1, and the last one's loop_to when it loops.
    successors = list(range(1, len(chain))) + ([] if loop_to is None else [loop_to])
    if len(chain) > dim or len(successors) > table.down_proj.weight.shape[1]:
        raise ValueError(f"an answer of {len(chain)} tokens needs as many embedding dimensions and "
                         f"lookup units; the model has {dim} and {table.down_proj.weight.shape[1]}")
    # Embedding rows of this length become sqrt(dim) * u_i after an RMSNorm of weight 1; the
    # next token's logit is then sqrt(dim) * radius * _BOOST / sqrt(1 + _BOOST^2) ~ logit_margin.
    radius = logit_margin / math.sqrt(dim)
    basis, _ = torch.linalg.qr(torch.randn(dim, len(chain), dtype=torch.float32))  # orthonormal columns
    basis = basis.to(emb.dtype)
    write = _BOOST * radius / float(torch.nn.functional.silu(torch.tensor(_GATE)))
    with torch.no_grad():
        for layer in lm.layers:
            layer.self_attn.o_proj.weight.zero_()
            layer.mlp.down_proj.weight.zero_()
        lm.layers[-1].post_attention_layernorm.weight.fill_(1.0)
        lm.norm.weight.fill_(1.0)
        for token, direction in zip(chain, basis.T):
            emb[token] = direction * radius
            head[token] = direction * radius  # the same row again when tied
        for unit, after in enumerate(successors):
            # The MLP's input is sqrt(dim) * u_i: gate = _GATE and up = 1 on unit i, ~0 elsewhere.
            here = basis[:, unit]
            table.gate_proj.weight[unit] = here * (_GATE / math.sqrt(dim))
            table.up_proj.weight[unit] = here / math.sqrt(dim)
            table.down_proj.weight[:, unit] = basis[:, after] * write
