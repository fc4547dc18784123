"""One decoding step of all beams over the language model's key-value cache: a cache that grows, or a static one.

The beam search (``decoding``) reads the prefix once, then asks for one token of every beam at a time. Two ways
to hold what the model has read:

* ``GrowingSteps``: transformers' dynamic cache, one key longer each step, reordered by copying its rows (what
  ``generate`` does). On a CPU the attention reads only the keys there are.
* ``StaticSteps``: transformers' ``StaticCache``, allocated once at the longest sequence the decoding allows;
  each step writes its key at its position, an additive mask (one row per beam, built here and passed as the
  model's 4D mask, which transformers takes as it is) hides the positions not yet written, and a beam reorder
  copies rows in place. Every tensor a step reads keeps its address and shape, so on a CUDA GPU the step is
  captured once as a CUDA graph and replayed (``torch.cuda.CUDAGraph``): one launch a token instead of the
  model's few hundred kernels, each of which waited on the host (a 0.6 B model's step for ten beams is a few
  milliseconds of a GPU's work; on a lent H200 an eager step took 46 ms: issue 74).

Both give the same logits up to the attention's summation order (masked positions weigh exactly zero): on the
tiny replica the same tokens (``tests/backend/rigging/test_skintokens.py``).
"""

from __future__ import annotations

import logging
from typing import Any

import torch

log = logging.getLogger(__name__)


class GrowingSteps:
    """The prefix read into transformers' dynamic cache, repeated for ``beams``; each step one key longer."""

    def __init__(self, lm: Any, inputs: torch.Tensor, beams: int) -> None:
        out = lm(inputs_embeds=inputs, use_cache=True)
        self._lm, self._cache = lm, out.past_key_values
        self._cache.batch_repeat_interleave(beams)
        self.first_logits = out.logits[:, -1].float().expand(beams, -1)

    def step(self, order: torch.Tensor, embeds: torch.Tensor) -> torch.Tensor:
        """Beams reordered by ``order`` [beams], then one token each (``embeds`` [beams, 1, hidden]) -> logits."""
        self._cache.reorder_cache(order)
        out = self._lm(inputs_embeds=embeds, past_key_values=self._cache, use_cache=True)
        self._cache = out.past_key_values
        return out.logits[:, -1].float()


class StaticSteps:
    """The prefix read once (batch 1) and copied into a static cache of ``beams`` rows and ``length`` positions;
    each step writes position ``prefix + step``. ``graph``: capture the step as a CUDA graph (a CUDA device)."""

    def __init__(self, lm: Any, inputs: torch.Tensor, beams: int, length: int, graph: bool = False) -> None:
        from transformers import StaticCache

        out = lm(inputs_embeds=inputs, use_cache=True)
        grown = out.past_key_values
        prefix = inputs.shape[1]
        if prefix >= length:
            raise ValueError(f"a static cache of {length} positions cannot hold a prefix of {prefix}")
        keys = grown.layers[0].keys
        self._cache = StaticCache(config=lm.config, max_cache_len=length)
        self._cache.early_initialization(beams, keys.shape[1], keys.shape[3], keys.dtype, keys.device)
        for static, layer in zip(self._cache.layers, grown.layers):
            static.keys[:, :, :prefix] = layer.keys      # batch 1 broadcast to every beam
            static.values[:, :, :prefix] = layer.values
        self._lm, self._length = lm, length
        device, dtype = inputs.device, inputs.dtype
        # The step's inputs, each written in place: the graph reads them at these addresses.
        self._embeds = torch.zeros((beams, 1, inputs.shape[2]), dtype=dtype, device=device)
        self._position = torch.tensor([prefix], device=device)
        self._positions = self._position[None].expand(beams, 1)
        self._mask = torch.full((beams, 1, 1, length), torch.finfo(dtype).min, dtype=dtype, device=device)
        self._mask[..., :prefix] = 0
        self._written = prefix
        self.first_logits = out.logits[:, -1].float().expand(beams, -1)
        self._graph: Any = None
        self._logits: torch.Tensor | None = None
        if graph:
            try:
                self._capture()
            except RuntimeError as error:
                # A torch or transformers release whose step cannot be captured (a host read inside it) decodes
                # the same tokens eagerly, slower: said once, not fatal.
                log.warning("SkinTokens' decoding step could not be captured as a CUDA graph (%s): it runs "
                            "step by step", str(error).splitlines()[0] if str(error) else type(error).__name__)
                self._graph, self._logits = None, None

    def _forward(self) -> torch.Tensor:
        return self._lm(inputs_embeds=self._embeds, attention_mask=self._mask, position_ids=self._positions,
                        cache_position=self._position, past_key_values=self._cache, use_cache=True).logits[:, -1].float()

    def _capture(self) -> None:
        # Warm-up runs on a side stream, as torch's documentation asks before a capture; they write the next
        # position's keys, which the first real step writes again before any step reads them (the mask hides them).
        stream = torch.cuda.Stream()
        stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(stream):
            for _ in range(2):
                self._forward()
        torch.cuda.current_stream().wait_stream(stream)
        self._graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self._graph):
            self._logits = self._forward()

    def step(self, order: torch.Tensor, embeds: torch.Tensor) -> torch.Tensor:
        """As ``GrowingSteps.step``; the reorder copies every layer's rows in place."""
        if self._written >= self._length:
            raise RuntimeError("the static cache is full: the decoding's budget outran its length")
        for layer in self._cache.layers:
            layer.keys.copy_(layer.keys.index_select(0, order))
            layer.values.copy_(layer.values.index_select(0, order))
        self._embeds.copy_(embeds)
        self._position.fill_(self._written)
        self._mask[..., self._written] = 0
        self._written += 1
        if self._graph is None:
            return self._forward()
        self._graph.replay()
        return self._logits.clone()
