"""Tiny BiRefNet stand-in (img23d test replica, not the real BiRefNet architecture).

Contract kept from the real model: ``model(x)`` with ``x`` float [B, 3, H, W] (ImageNet
normalised) returns a list of logit maps whose last entry is the final [B, 1, H, W] map;
callers apply ``.sigmoid()`` themselves. The network is three strided convolutions and a
small top-down fusion, so a 1024x1024 input runs in a fraction of a second on a CPU.
"""

import torch
import torch.nn.functional as F
from torch import nn
from transformers import PreTrainedModel

from .BiRefNet_config import BiRefNetConfig


class BiRefNet(PreTrainedModel):
    config_class = BiRefNetConfig
    main_input_name = "x"

    def __init__(self, config: BiRefNetConfig):
        super().__init__(config)
        c0, c1, c2 = config.channels
        # 4x4/stride-4 patchify stem: the full-resolution input is touched only once.
        self.stem = nn.Conv2d(3, c0, kernel_size=4, stride=4)
        self.down1 = nn.Conv2d(c0, c1, kernel_size=3, stride=2, padding=1)
        self.down2 = nn.Conv2d(c1, c2, kernel_size=3, stride=2, padding=1)
        self.lateral = nn.Conv2d(c1, c2, kernel_size=1)
        self.coarse_head = nn.Conv2d(c2, 1, kernel_size=1)
        self.fine_head = nn.Conv2d(c2, 1, kernel_size=3, padding=1)
        self.post_init()

    def _init_weights(self, module):
        # Keep PyTorch's default conv init; the weights always come from model.safetensors.
        pass

    def forward(self, x):
        h0 = F.relu(self.stem(x))
        h1 = F.relu(self.down1(h0))
        h2 = F.relu(self.down2(h1))
        coarse = self.coarse_head(h2)
        fused = F.interpolate(h2, size=h1.shape[-2:], mode="bilinear", align_corners=False)
        fused = F.relu(fused + self.lateral(h1))
        fine = self.fine_head(fused)
        final = F.interpolate(fine, size=x.shape[-2:], mode="bilinear", align_corners=False)
        # Like the real model in eval mode: coarser side outputs first, the final map last.
        return [coarse, final]
