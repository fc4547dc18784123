"""The adapter's attention: SDXL self-attention plus multiview row/column attention and reference
attention, as a diffusers attention processor.

Rewritten on diffusers' ``Attention`` API from the processor Step1X-3D ships as
``DecoupledMVRowColSelfAttnProcessor2_0`` (``step1x3d_texture/models/attention_processor.py``,
"scripts reused from" MV-Adapter, huanngzh/MV-Adapter, both Apache-2.0); no line of either is
copied, the arithmetic is theirs. Every self-attention (``attn1``) of the UNet gets one; its
parameters are named as upstream's (``to_q_mv``, ``to_k_mv``, ``to_v_mv``, ``to_out_mv.0``,
``to_q_ref``, ... ``to_out_ref.0``) because the adapter file is keyed by them, under
``<attention>.processor.``. Cross-attention (``attn2``) keeps diffusers' own processor: upstream
gives it the same class with both branches off, which computes exactly diffusers' attention.

The six views are upstream's: 0 front, 1 right, 2 back, 3 left, 4 top, 5 bottom. Multiview
attention is decoupled from the UNet's own: each token of views 0-3 attends to its image row
across those four views ("row"), and each token of views 0 (mirrored left-right), 2, 4 and 5
to its image column across those four ("column"); views 0 and 2 average the two. Reference
attention lets every view attend to the reference image's hidden states at the same layer,
captured by one UNet pass over the reference latents.

Per-call state (what the pass is doing, the captured hidden states) lives in one shared
``AttentionState`` rather than in ``cross_attention_kwargs``, which diffusers filters per
processor signature.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

NUM_VIEWS = 6                 # the row/column layout below names views 0-5
ROW_VIEWS = (0, 1, 2, 3)      # front, right, back, left: one horizontal ring
COLUMN_VIEWS = (0, 2, 4, 5)   # front (mirrored), back, top, bottom: one vertical ring


class Pass(Enum):
    PLAIN = "plain"           # SDXL's own self-attention only
    CAPTURE = "capture"       # the reference pass: plain, and keep each layer's input
    MULTIVIEW = "multiview"   # the views: plain + multiview + reference attention


@dataclass
class AttentionState:
    """What the processors do on the next UNet call; shared by all of them.

    ``reference`` maps a processor's name to the reference pass's input to that layer, one row
    per guidance group ([G, tokens, width]: G = 2 with classifier-free guidance, the first row
    zeros as upstream's unconditional reference); the views' batch is G x num_views, views inner.
    """

    mode: Pass = Pass.PLAIN
    num_views: int = NUM_VIEWS
    reference: dict[str, torch.Tensor] = field(default_factory=dict)
    mv_scale: float = 1.0
    ref_scale: float = 1.0


def _projections(width: int) -> tuple[nn.Linear, nn.Linear, nn.Linear, nn.ModuleList]:
    out = nn.ModuleList([nn.Linear(width, width, bias=True), nn.Dropout(0.0)])
    return (nn.Linear(width, width, bias=False), nn.Linear(width, width, bias=False),
            nn.Linear(width, width, bias=False), out)


class MultiviewAttnProcessor(nn.Module):
    """One self-attention layer's processor: its multiview and reference projections."""

    def __init__(self, width: int, name: str, state: AttentionState) -> None:
        super().__init__()
        self.name = name
        self.state = state
        self.to_q_mv, self.to_k_mv, self.to_v_mv, self.to_out_mv = _projections(width)
        self.to_q_ref, self.to_k_ref, self.to_v_ref, self.to_out_ref = _projections(width)

    def __call__(self, attn: Any, hidden_states: torch.Tensor, encoder_hidden_states: torch.Tensor | None = None,
                 attention_mask: torch.Tensor | None = None, temb: torch.Tensor | None = None) -> torch.Tensor:
        state = self.state
        if state.mode is Pass.CAPTURE:
            state.reference[self.name] = hidden_states.detach()
        residual = hidden_states
        if attn.spatial_norm is not None:
            hidden_states = attn.spatial_norm(hidden_states, temb)
        spatial = hidden_states.ndim == 4
        if spatial:
            batch, channels, height, width = hidden_states.shape
            hidden_states = hidden_states.view(batch, channels, height * width).transpose(1, 2)
        if attn.group_norm is not None:
            hidden_states = attn.group_norm(hidden_states.transpose(1, 2)).transpose(1, 2)
        context = hidden_states if encoder_hidden_states is None else encoder_hidden_states
        if attention_mask is not None:
            attention_mask = attn.prepare_attention_mask(attention_mask, context.shape[1], context.shape[0])
            attention_mask = attention_mask.view(context.shape[0], attn.heads, -1, attention_mask.shape[-1])
        out = attn.to_out[1](attn.to_out[0](_attend(attn.to_q(hidden_states), attn.to_k(context),
                                                    attn.to_v(context), attn.heads, attention_mask)))
        if state.mode is Pass.MULTIVIEW:
            if encoder_hidden_states is not None:
                raise ValueError("multiview attention is self-attention: it takes no encoder states")
            out = out + state.mv_scale * self._multiview(hidden_states, attn.heads, state.num_views)
            out = out + state.ref_scale * self._reference(hidden_states, attn.heads, state)
        if spatial:
            out = out.transpose(-1, -2).reshape(batch, channels, height, width)
        if attn.residual_connection:
            out = out + residual
        return out / attn.rescale_output_factor

    def _multiview(self, hidden: torch.Tensor, heads: int, num_views: int) -> torch.Tensor:
        """Row attention over views 0-3, column attention over views 0 (mirrored), 2, 4, 5."""
        if num_views != NUM_VIEWS:
            raise ValueError(f"the row/column multiview attention needs {NUM_VIEWS} views, not {num_views}")
        batch_views, tokens, width = hidden.shape
        side = math.isqrt(tokens)
        if side * side != tokens or batch_views % num_views:
            raise ValueError(f"multiview attention needs square views and a batch of whole view sets "
                             f"(got {batch_views} x {tokens} tokens)")
        groups, head_width = batch_views // num_views, width // heads

        def grid(x: torch.Tensor) -> torch.Tensor:  # [G, V, H, W, heads, d]
            return x.view(groups, num_views, side, side, heads, head_width)

        q, k, v = grid(self.to_q_mv(hidden)), grid(self.to_k_mv(hidden)), grid(self.to_v_mv(hidden))
        rows = _ring(q, k, v, ROW_VIEWS, along_rows=True)
        mirror = lambda x: torch.cat([x[:, :1].flip(3), x[:, 1:]], dim=1)  # noqa: E731
        columns = mirror(_ring(mirror(q[:, list(COLUMN_VIEWS)]), mirror(k[:, list(COLUMN_VIEWS)]),
                               mirror(v[:, list(COLUMN_VIEWS)]), range(4), along_rows=False))
        joined = torch.stack([(rows[:, 0] + columns[:, 0]) / 2, rows[:, 1], (rows[:, 2] + columns[:, 1]) / 2,
                              rows[:, 3], columns[:, 2], columns[:, 3]], dim=1)
        joined = joined.reshape(batch_views, tokens, width).to(hidden.dtype)
        return self.to_out_mv[1](self.to_out_mv[0](joined))

    def _reference(self, hidden: torch.Tensor, heads: int, state: AttentionState) -> torch.Tensor:
        """Every view's tokens attend to the reference pass's tokens of this layer.

        The views of one guidance group share one reference: their queries are laid end to end
        (the same attention per query), so the reference is never repeated per view.
        """
        reference = state.reference.get(self.name)
        if reference is None:
            raise ValueError(f"no reference hidden states for {self.name}: run the reference pass first")
        groups = reference.shape[0]
        batch_views, tokens, width = hidden.shape
        if batch_views != groups * state.num_views:
            raise ValueError(f"{batch_views} views for {groups} reference group(s) of {state.num_views}")
        query = self.to_q_ref(hidden).reshape(groups, state.num_views * tokens, width)
        out = _attend(query, self.to_k_ref(reference), self.to_v_ref(reference), heads, None)
        return self.to_out_ref[1](self.to_out_ref[0](out.reshape(batch_views, tokens, width)))


def _attend(query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, heads: int,
            mask: torch.Tensor | None) -> torch.Tensor:
    """[B, Lq, C], [B, Lk, C] x2 -> [B, Lq, C]: multi-head scaled dot-product attention."""
    batch, length, width = query.shape
    split = lambda x: x.view(x.shape[0], -1, heads, width // heads).transpose(1, 2)  # noqa: E731
    out = F.scaled_dot_product_attention(split(query), split(key), split(value), attn_mask=mask)
    return out.transpose(1, 2).reshape(batch, length, width).to(query.dtype)


def _ring(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, views: Any, along_rows: bool) -> torch.Tensor:
    """Attention within each image row (``along_rows``) or column across ``views`` of
    [G, V, H, W, heads, d] tensors -> [G, len(views), H, W, heads x d]."""
    chosen = list(views)
    groups, _, side, _, heads, head_width = q.shape
    count = len(chosen)
    # rows: (G, H) sequences of (views, W); columns: (G, W) sequences of (views, H)
    order = (0, 2, 4, 1, 3, 5) if along_rows else (0, 3, 4, 1, 2, 5)

    def line(x: torch.Tensor) -> torch.Tensor:
        return x[:, chosen].permute(*order).reshape(groups * side, heads, count * side, head_width)

    out = F.scaled_dot_product_attention(line(q), line(k), line(v))
    out = out.view(groups, side, heads, count, side, head_width)
    back = (0, 3, 1, 4, 2, 5) if along_rows else (0, 3, 4, 1, 2, 5)
    return out.permute(*back).reshape(groups, count, side, side, heads * head_width)


def install_processors(unet: Any, state: AttentionState) -> list[str]:
    """Give every self-attention of ``unet`` a ``MultiviewAttnProcessor`` (its width from the block
    it sits in, as upstream derives it); cross-attention keeps its own. Returns the processors'
    names. Call inside the loader's meta-device context so their weights are not initialised."""
    processors: dict[str, Any] = {}
    installed = []
    for name, current in unet.attn_processors.items():
        if name.endswith("attn1.processor"):
            processors[name] = MultiviewAttnProcessor(_block_width(unet.config, name), name, state)
            installed.append(name)
        else:
            processors[name] = current
    unet.set_attn_processor(processors)
    return installed


def _block_width(config: Any, name: str) -> int:
    channels = list(config.block_out_channels)
    if name.startswith("mid_block"):
        return channels[-1]
    index = int(name.split(".")[1])
    if name.startswith("up_blocks"):
        return channels[::-1][index]
    if name.startswith("down_blocks"):
        return channels[index]
    raise ValueError(f"no UNet block for the attention {name}")
