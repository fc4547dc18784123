"""The skin VAE's Fourier embedding of a point's position, with the bf16 rounding upstream's buffers get.

The skin VAE's (``FrequencyPositionalEmbedding`` with ``logspace``, ``include_pi`` and the phase term, as the
port's ``vae.rs`` ``freq_embed`` reads it): frequencies ``2**i * pi``, phases
``(n ** (1 - (i + 1) / n) + (i + 1) / n) * 2 pi``, features
``[x, sin(x f) + sin(x pi / 2 + phase), cos(x f) + cos(x pi / 2 + phase)]``.

Upstream casts its networks to bf16 (``.to(torch.bfloat16)`` in ``TokenRig.__init__``), which rounds these
buffers; the products are then taken in float32 against float32 points (torch promotes bf16 x float32 to
float32). Both are reproduced here: the buffers are rounded through bf16 and kept in float32 whatever the
module's dtype (``keep_float32``), the features made in float32 and cast to the weights' dtype by the caller.
The shape encoder's embedding (Michelangelo's ``FourierEmbedder``, 8 frequencies ``2**i``, no pi) is the
shared ``neural.fourier``'s: its ``2**i`` are exact in bf16, so the cast rounds nothing there.
"""

from __future__ import annotations

import math

import torch
from torch import nn


def bf16_rounded(values: torch.Tensor) -> torch.Tensor:
    """``values`` as a bf16 cast leaves them, back in float32."""
    return values.to(torch.bfloat16).to(torch.float32)


class _Float32Buffers(nn.Module):
    """Buffers that stay float32 when the module is cast (upstream's rounded values, not re-rounded)."""

    def _apply(self, fn, recurse=True):  # noqa: ANN001 - torch's own signature
        kept = {name: buffer.clone() for name, buffer in self.named_buffers(recurse=False)}
        super()._apply(fn, recurse)
        for name, buffer in kept.items():
            device = getattr(self, name).device
            setattr(self, name, buffer.to(device=device, dtype=torch.float32))
        return self


class PhaseEmbedder(_Float32Buffers):
    """The skin VAE's embedding, frequencies with pi and the phase term (module docstring)."""

    def __init__(self, num_freqs: int) -> None:
        super().__init__()
        n = float(num_freqs)
        i1 = torch.arange(1, num_freqs + 1, dtype=torch.float64)
        freqs = (2.0 ** torch.arange(num_freqs, dtype=torch.float64)) * math.pi
        phases = (n ** (1.0 - i1 / n) + i1 / n) * math.pi * 2.0
        self.register_buffer("frequencies", bf16_rounded(freqs.float()), persistent=False)
        self.register_buffer("phases", bf16_rounded(phases.float()), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.float()
        e = (x[..., None] * self.frequencies).flatten(-2)
        p = ((x * (math.pi * 0.5))[..., None] + self.phases).flatten(-2)
        return torch.cat([x, e.sin() + p.sin(), e.cos() + p.cos()], dim=-1)
