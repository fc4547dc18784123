"""The depth test: the nearest fragment per pixel under the original's ordering.

The winner is the fragment with the lowest (quantised depth, face index): one int64
scatter-min on a packed token where the device has it, two float scatter-mins elsewhere (MPS).
"""

from __future__ import annotations

import torch

DEPTH_QUANT = float(2 << 17)            # the original's `depth * (2<<17)`
_FACE_BITS = 31                          # face+1 < 2**31 fits under the depth in the token
ZQ_MAX = (1 << 31) - 1                  # largest quantised depth an `int` could hold
_FLOAT_KEY_MAX = (1 << 24) - 1           # largest integer a float32 key represents exactly
OCCLUSION_TRUNCATION = 1e-6             # what the original python wrapper passes
_BACKGROUND = torch.iinfo(torch.int64).max


def supports_int64_scatter_min(device: torch.device) -> bool:
    return device.type in ("cpu", "cuda")


class DepthBuffer:
    """Keeps the per-pixel winner under the original's (quantised depth, face index) order.

    The float-key variant is exact while quantised depths stay below 2**24 (depth < 64, far
    outside the clip range) and face counts below 2**24.
    """

    def __init__(self, pixels: int, device: torch.device, float_keys: bool):
        self.float_keys = float_keys
        if float_keys:
            inf = float("inf")
            self.best_z = torch.full((pixels,), inf, dtype=torch.float32, device=device)
            self.best_f = torch.full((pixels,), inf, dtype=torch.float32, device=device)
        else:
            self.tokens = torch.full((pixels,), _BACKGROUND, dtype=torch.int64, device=device)

    def add(self, pixel: torch.Tensor, zq: torch.Tensor, face1: torch.Tensor,
            keep: torch.Tensor) -> None:
        """Offer fragments (pixel, quantised depth, face + 1); those with keep=False are ignored."""
        if not self.float_keys:
            token = torch.where(keep, (zq << _FACE_BITS) | face1, _BACKGROUND)
            self.tokens.scatter_reduce_(0, pixel, token, "amin", include_self=True)
            return
        # Two passes of float scatter-min: nearest depth in this chunk, then the lowest face
        # among the fragments at that depth; then merge with the buffer lexicographically.
        inf = float("inf")
        z = torch.where(keep, zq.clamp(max=_FLOAT_KEY_MAX).float(), inf)
        chunk_z = torch.full_like(self.best_z, inf).scatter_reduce_(0, pixel, z, "amin")
        at_min = keep & (z == chunk_z.index_select(0, pixel))
        f = torch.where(at_min, face1.float(), inf)
        chunk_f = torch.full_like(self.best_f, inf).scatter_reduce_(0, pixel, f, "amin")
        better = (chunk_z < self.best_z) | ((chunk_z == self.best_z) & (chunk_f < self.best_f))
        self.best_z = torch.where(better, chunk_z, self.best_z)
        self.best_f = torch.where(better, chunk_f, self.best_f)

    def winners(self) -> torch.Tensor:
        """Face index + 1 per pixel, 0 for background, int64."""
        if self.float_keys:
            return torch.where(torch.isinf(self.best_f), 0.0, self.best_f).long()
        face1 = self.tokens & ((1 << _FACE_BITS) - 1)
        return torch.where(self.tokens == _BACKGROUND, 0, face1)
