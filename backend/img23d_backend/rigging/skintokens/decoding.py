"""Seeded beam search with sampling under the grammar mask, over transformers' Qwen3 with a KV cache.

Upstream calls transformers' ``generate`` with the demo's settings (``num_beams=10, do_sample=True,
top_k=5, top_p=0.95, temperature=1, repetition_penalty=2``; the port's ``generate.rs`` ``GenConfig`` reads
them from ``demo.py``). Beam sampling there: each beam's next-token log-probabilities, the repetition penalty,
the vocabulary mask, the warpers (temperature, top-k, top-p), the beam's running score added; then
``2 x beams`` candidates drawn without replacement in proportion to ``softmax`` of all beams' scores; ended
candidates go to a pool scored by ``score / length``; the best ``beams`` others run on. This module does the
same with its own code and one seeded ``torch.Generator`` (the exponential-race draw equals sampling without
replacement), and stops when the pool is full and no running beam can beat it, or the budget is spent (the
grammar closes every beam within it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch

from ...env.gpu_knobs import without_cudnn_attention
from .grammar import GrammarMask, GrammarState, State
from .kv_steps import GrowingSteps, StaticSteps


@dataclass(frozen=True)
class DecodingSettings:
    """The search's settings; each default is the demo's ``generate`` argument named in its comment."""

    beams: int = 10                   # num_beams
    top_k: int = 5                    # top_k: each step keeps a beam's five likeliest tokens...
    top_p: float = 0.95               # top_p: ...and of those the fewest that hold this share
    temperature: float = 1.0          # temperature: scores are divided by it before both
    repetition_penalty: float = 2.0   # repetition_penalty: a token the beam made scores this much less
    max_new_tokens: int = 2048 - 512 - 2  # upstream's max_length 2,048 less the prefix and the start tokens
    seed: int = 0                     # img23d's own: seeds the one generator every draw takes
    # How the key-value cache is held (``kv_steps``): "auto" is a static cache replayed as a CUDA graph on a
    # CUDA GPU and the growing one elsewhere (a CPU's attention reads only the keys there are).
    cache: Literal["auto", "growing", "static"] = "auto"


def _warp(scores: torch.Tensor, settings: DecodingSettings) -> torch.Tensor:
    scores = scores / settings.temperature
    k = min(max(settings.top_k, 2), scores.shape[-1])
    kth = torch.topk(scores, k, dim=-1).values[..., -1:]
    scores = scores.masked_fill(scores < kth, float("-inf"))
    if settings.top_p < 1.0:
        ordered, order = torch.sort(scores, dim=-1)
        cumulative = ordered.softmax(dim=-1).cumsum(dim=-1)
        drop = cumulative <= 1.0 - settings.top_p
        drop[..., -2:] = False  # keep two, as transformers keeps min_tokens_to_keep for beams
        scores = scores.masked_fill(drop.scatter(-1, order, drop), float("-inf"))
    return scores


def _penalise(scores: torch.Tensor, seen: torch.Tensor, penalty: float) -> torch.Tensor:
    """transformers' repetition penalty on every token a beam has made (``seen`` [beams, vocab], on the
    scores' device: no per-beam index list crosses from the host)."""
    if penalty == 1.0:
        return scores
    return torch.where(seen, torch.where(scores < 0, scores * penalty, scores / penalty), scores)


def beam_search(lm, prefix: torch.Tensor, start: list[int], grammar: GrammarMask,
                settings: DecodingSettings) -> list[int]:
    """New tokens after ``start`` for the best finished beam. ``lm`` is a ``Qwen3ForCausalLM``; ``prefix``
    (1, P, hidden) the shape's prefix; ``start`` the start tokens (``bos``, class) that follow it.

    On a CUDA GPU the cache is static and each step a replayed CUDA graph (``settings.cache``, ``kv_steps``),
    without cuDNN's attention: torch tries it first on Hopper, and it builds a plan for every new key length
    (with the growing cache an all-beam step took 88 ms with it and 46 ms without on a lent H200, issue 74;
    ``env.gpu_knobs.without_cudnn_attention``)."""
    if prefix.device.type != "cuda":
        return _beam_search(lm, prefix, start, grammar, settings)
    with without_cudnn_attention():
        return _beam_search(lm, prefix, start, grammar, settings)


@torch.no_grad()
def _beam_search(lm, prefix: torch.Tensor, start: list[int], grammar: GrammarMask,
                 settings: DecodingSettings) -> list[int]:
    device = prefix.device
    generator = torch.Generator(device="cpu").manual_seed(settings.seed)
    first = GrammarState()
    for token in start:
        first.step(token, grammar.end)
    if settings.max_new_tokens < grammar.minimum_budget():
        raise ValueError(f"a budget of {settings.max_new_tokens} tokens cannot hold a rig")
    embed = lm.get_input_embeddings()
    inputs = torch.cat([prefix, embed(torch.tensor([start], device=device)).to(prefix.dtype)], dim=1)
    n = settings.beams
    on_gpu = device.type == "cuda"
    if settings.cache == "static" or (settings.cache == "auto" and on_gpu):
        steps: GrowingSteps | StaticSteps = StaticSteps(lm, inputs, n, inputs.shape[1] + settings.max_new_tokens,
                                                        graph=on_gpu)
    else:
        steps = GrowingSteps(lm, inputs, n)
    logits = steps.first_logits
    running: list[list[int]] = [[] for _ in range(n)]
    seen = torch.zeros((n, logits.shape[-1]), dtype=torch.bool, device=device)
    states = [first.copy() for _ in range(n)]
    beam_scores = torch.full((n,), -1e9, device=device)
    beam_scores[0] = 0.0  # one prompt: only the first beam is real at the start
    pool: list[tuple[float, list[int]]] = []
    for step in range(settings.max_new_tokens):
        remaining = settings.max_new_tokens - step
        scores = _penalise(torch.log_softmax(logits, dim=-1), seen, settings.repetition_penalty)
        masks = torch.stack([grammar.mask(state, remaining) for state in states])
        scores = _warp(scores + masks, settings) + beam_scores[:, None]
        # The one copy to the host a token: the draw, the pool and the grammar read this (each element
        # read from the device was a wait of its own: about 25 a token).
        flat = scores.flatten().float().cpu()
        race = flat - torch.empty(flat.shape[0]).exponential_(generator=generator).log()
        race[~torch.isfinite(flat)] = float("-inf")
        picks = torch.topk(race, 2 * n).indices.tolist()
        chosen: list[tuple[int, int, float]] = []
        for index in sorted(picks, key=lambda i: -float(flat[i])):
            beam, token = divmod(index, flat.shape[0] // n)
            score = float(flat[index])
            if score == float("-inf"):
                continue
            if token == grammar.end:
                pool.append((score / (len(running[beam]) + 1), running[beam] + [token]))
            elif len(chosen) < n:
                chosen.append((beam, token, score))
        pool = sorted(pool, key=lambda item: -item[0])[:n]
        if not chosen or (len(pool) >= n and max(s for _, _, s in chosen) / (step + 1) <= pool[-1][0]):
            break
        while len(chosen) < n:  # too few live candidates: repeat the last (its score keeps it last)
            beam, token, score = chosen[-1]
            chosen.append((beam, token, -1e9))
        order = torch.tensor([beam for beam, _, _ in chosen], device=device)
        step_ids = torch.tensor([[token] for _, token, _ in chosen], device=device)
        seen = seen[order]
        seen[torch.arange(n, device=device), step_ids[:, 0]] = True
        running = [running[beam] + [token] for beam, token, _ in chosen]
        states = [states[beam].copy() for beam, _, _ in chosen]
        for state, (_, token, _) in zip(states, chosen):
            state.step(token, grammar.end)
        beam_scores = torch.tensor([score for _, _, score in chosen], device=device)
        logits = steps.step(order, embed(step_ids).to(prefix.dtype))
    if not pool:
        raise RuntimeError("no beam finished within the token budget")
    return pool[0][1]


def finished(tokens: list[int], start: list[int], end: int) -> bool:
    """True when ``start + tokens`` walks the whole grammar to its end."""
    state = GrammarState()
    for token in [*start, *tokens]:
        state.step(token, end)
    return state.state is State.DONE
