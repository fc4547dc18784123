"""The neural blocks more than one model is built from (``img23d_backend.neural``): each block's head split,
embedding and sampling against a plain reading of its rule. The models' own tests load the replicas and
the real-layout files through these blocks (their keys); these check the arithmetic the keys feed."""

from __future__ import annotations

import math

import numpy as np
import torch

from img23d_backend.neural.fourier import FourierEmbedder
from img23d_backend.neural.perceiver import CrossAttention, SelfAttention
from img23d_backend.neural.point_sampling import farthest_points
from img23d_backend.neural.triposg import Attention


def _heads(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, heads: int) -> torch.Tensor:
    """softmax(q k^T / sqrt(c)) v per head, the heads' outputs side by side: [N, heads x c]."""
    c = q.shape[-1] // heads
    out = [torch.softmax(q[:, h * c:(h + 1) * c] @ k[:, h * c:(h + 1) * c].T / math.sqrt(c), -1)
           @ v[:, h * c:(h + 1) * c] for h in range(heads)]
    return torch.cat(out, -1)


def test_self_attention_splits_heads_as_triposg() -> None:
    torch.manual_seed(0)
    attention = Attention(8, 2)
    x = torch.randn(1, 5, 8)
    q, k, v = attention.to_q(x), attention.to_k(x), attention.to_v(x)
    qkv = torch.cat([q, k, v], -1).view(1, 5, 2, 12)  # each head: q, k, v slices of width 4
    heads = []
    for h in range(2):
        hq, hk, hv = qkv[0, :, h, :4], qkv[0, :, h, 4:8], qkv[0, :, h, 8:]
        heads.append(torch.softmax(hq @ hk.T / 2.0, -1) @ hv)
    expected = attention.to_out[0](torch.cat(heads, -1)[None])
    assert torch.allclose(attention(x), expected, atol=1e-6)


def test_triposg_cross_attention_splits_only_keys_and_values_per_head() -> None:
    torch.manual_seed(1)
    attention = Attention(8, 2, context_dim=6, context_norm=True)
    x, context = torch.randn(1, 5, 8), torch.randn(1, 7, 6)
    normed = attention.norm_cross(context)[0]
    kv = torch.cat([attention.to_k(normed), attention.to_v(normed)], -1)  # a head's k then v: 4 + 4
    k = torch.cat([kv[:, 0:4], kv[:, 8:12]], -1)
    v = torch.cat([kv[:, 4:8], kv[:, 12:16]], -1)
    expected = attention.to_out[0](_heads(attention.to_q(x[0]), k, v, 2))
    assert torch.allclose(attention(x, context)[0], expected, atol=1e-6)


def test_michelangelo_attention_is_triposg_attention_with_its_projections_fused() -> None:
    """The two layouts are one arithmetic: Michelangelo's fused ``c_qkv`` (``c_kv``) is TripoSG's ``to_q``,
    ``to_k``, ``to_v`` (``to_k``, ``to_v``) stacked, and both view the result per head the same way."""
    torch.manual_seed(2)
    width, heads = 8, 2
    tripo, tripo_cross = Attention(width, heads), Attention(width, heads, context_dim=width)
    fused = SelfAttention(width, heads, qkv_bias=False, qk_norm=False)
    cross = CrossAttention(width, heads, qkv_bias=False, qk_norm=False)
    with torch.no_grad():
        fused.c_qkv.weight.copy_(torch.cat([tripo.to_q.weight, tripo.to_k.weight, tripo.to_v.weight]))
        fused.c_proj.load_state_dict(tripo.to_out[0].state_dict())
        cross.c_q.weight.copy_(tripo_cross.to_q.weight)
        cross.c_kv.weight.copy_(torch.cat([tripo_cross.to_k.weight, tripo_cross.to_v.weight]))
        cross.c_proj.load_state_dict(tripo_cross.to_out[0].state_dict())
    x, data = torch.randn(2, 6, width), torch.randn(1, 9, width)
    assert torch.allclose(fused(x), tripo(x), atol=1e-6)
    # Michelangelo's data of batch 1 serves every query batch.
    assert torch.allclose(cross(x, data), tripo_cross(x, data.expand(2, -1, -1)), atol=1e-6)


def test_fourier_features_are_the_coordinates_then_sines_then_cosines() -> None:
    embedder = FourierEmbedder(3, include_pi=True)
    point = torch.tensor([[0.25, -0.5, 0.125]])
    angles = [value * math.pi * 2 ** k for value in (0.25, -0.5, 0.125) for k in range(3)]
    expected = [0.25, -0.5, 0.125] + [math.sin(a) for a in angles] + [math.cos(a) for a in angles]
    assert embedder.out_dim == 21
    np.testing.assert_allclose(embedder(point)[0].numpy(), expected, atol=1e-6)
    # Positions stay float32 in a half-precision model: the features are made in float32.
    assert embedder.to(torch.bfloat16)(point.bfloat16()).dtype == torch.float32


def test_farthest_points_follow_the_rule() -> None:
    points = torch.rand(300, 3, generator=torch.Generator().manual_seed(4))
    chosen = farthest_points(points, 40, torch.Generator().manual_seed(5)).tolist()
    assert len(set(chosen)) == 40
    p = points.double().numpy()
    for step in range(1, 40):
        nearest = ((p[:, None] - p[chosen[:step]][None]) ** 2).sum(-1).min(1)
        assert chosen[step] == int(np.argmax(nearest))
    assert farthest_points(points, 5).tolist()[0] == 0  # without a generator, from the first point
    assert farthest_points(points, 400).tolist() == list(range(300))  # all of them, in their order
