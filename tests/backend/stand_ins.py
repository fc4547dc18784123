"""Model stand-ins for numerical faults that random-weight replicas cannot show."""

from __future__ import annotations

import torch


class StandInMatting(torch.nn.Module):
    """Says "foreground" where a pixel is darker than the backdrop, like BiRefNet on a clean picture:
    every dark thing in the crop, neighbours included.

    In the dtypes listed in ``nan_in`` it answers NaN everywhere, as BiRefNet in fp16 on MPS does.
    """

    def __init__(self, nan_in: tuple[torch.dtype, ...] = ()) -> None:
        super().__init__()
        self.gain = torch.nn.Parameter(torch.ones(()))
        self.nan_in = nan_in
        self.dtypes_seen: list[torch.dtype] = []
        self.batches_seen: list[int] = []

    def forward(self, pixels: torch.Tensor) -> list[torch.Tensor]:
        self.dtypes_seen.append(pixels.dtype)
        self.batches_seen.append(int(pixels.shape[0]))
        logits = -4.0 * self.gain * pixels.mean(dim=1, keepdim=True)  # ImageNet-normalised: white > 2
        if self.gain.dtype in self.nan_in:
            logits = logits * float("nan")
        return [logits]
