"""Full-size BiRefNet stand-in (img23d benchmark replica: BiRefNet's size, not its architecture).

The real BiRefNet ships its network as remote code that cannot be fetched offline. This module
is a different network of the same size and cost, so a benchmark that loads it through the
production matting loader sees realistic load times, memory and compute:

* encoder: a hierarchical windowed-attention transformer with Swin-L's sizes (4x4 patches,
  width 192 doubling per stage, depths 2/2/18/2, heads 6/12/24/48, 12x12 windows, relative
  position bias, alternate blocks shifted), run on the image and on its half-size copy with
  the features of both concatenated per stage, as BiRefNet's default multi-scale input does.
  Shifted windows are not masked (the mask changes values, not cost).
* decoder: BiRefNet-like top-down path: a context block over all four stages, then one block
  per stage (3x3 conv into a bottleneck, parallel receptive fields, 3x3 conv out, a 1-channel
  attention gate), 1x1 lateral connections, raw-image patches fed to every stage, and a
  full-resolution head. Dilated convolutions stand in for BiRefNet's deformable ones.

Contract kept from the real model: ``model(x)`` with ``x`` float [B, 3, H, W] (ImageNet
normalised, H and W multiples of 32) returns a list of logit maps whose last entry is the final
[B, 1, H, W] map; callers apply ``.sigmoid()`` themselves.
"""

import torch
import torch.nn.functional as F
from torch import nn
from transformers import PreTrainedModel

from .BiRefNet_config import BiRefNetConfig

# --------------------------------------------------------------------------------------------
# Encoder
# --------------------------------------------------------------------------------------------


class WindowAttention(nn.Module):
    """Multi-head self-attention inside square windows, with a learned relative position bias."""

    def __init__(self, dim, heads, window):
        super().__init__()
        self.heads = heads
        self.window = window
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.position_bias = nn.Parameter(torch.zeros((2 * window - 1) ** 2, heads))
        self._index_cache = {}

    def _bias_index(self, device):
        index = self._index_cache.get(device)
        if index is None:
            span = torch.arange(self.window, device=device)
            rows = span.repeat_interleave(self.window)   # row of each window position
            cols = span.repeat(self.window)              # column of each window position
            d_row = rows[:, None] - rows[None, :] + self.window - 1
            d_col = cols[:, None] - cols[None, :] + self.window - 1
            index = d_row * (2 * self.window - 1) + d_col
            self._index_cache[device] = index
        return index

    def forward(self, x):
        batch, tokens, dim = x.shape
        q, k, v = (self.qkv(x).view(batch, tokens, 3, self.heads, dim // self.heads)
                   .permute(2, 0, 3, 1, 4).unbind(0))
        bias = self.position_bias[self._bias_index(x.device)]          # [N, N, heads]
        bias = bias.permute(2, 0, 1).unsqueeze(0).to(q.dtype)           # [1, heads, N, N]
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=bias)
        return self.proj(out.transpose(1, 2).reshape(batch, tokens, dim))


class TransformerBlock(nn.Module):
    def __init__(self, dim, heads, window, shifted, mlp_ratio):
        super().__init__()
        self.window = window
        self.shift = window // 2 if shifted else 0
        self.norm1 = nn.LayerNorm(dim)
        self.attn = WindowAttention(dim, heads, window)
        self.norm2 = nn.LayerNorm(dim)
        hidden = int(dim * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))

    def forward(self, x, height, width):
        batch, _, dim = x.shape
        ws = self.window
        y = self.norm1(x).view(batch, height, width, dim)
        pad_h, pad_w = (-height) % ws, (-width) % ws
        y = F.pad(y, (0, 0, 0, pad_w, 0, pad_h))
        full_h, full_w = height + pad_h, width + pad_w
        if self.shift:
            y = torch.roll(y, shifts=(-self.shift, -self.shift), dims=(1, 2))
        # [B, H, W, C] -> [B * windows, ws * ws, C]
        y = (y.view(batch, full_h // ws, ws, full_w // ws, ws, dim).permute(0, 1, 3, 2, 4, 5)
             .reshape(-1, ws * ws, dim))
        y = self.attn(y)
        y = (y.view(batch, full_h // ws, full_w // ws, ws, ws, dim).permute(0, 1, 3, 2, 4, 5)
             .reshape(batch, full_h, full_w, dim))
        if self.shift:
            y = torch.roll(y, shifts=(self.shift, self.shift), dims=(1, 2))
        x = x + y[:, :height, :width].reshape(batch, height * width, dim)
        return x + self.mlp(self.norm2(x))


class PatchMerging(nn.Module):
    """2x2 neighbourhoods -> one token of twice the width."""

    def __init__(self, dim):
        super().__init__()
        self.norm = nn.LayerNorm(4 * dim)
        self.reduction = nn.Linear(4 * dim, 2 * dim, bias=False)

    def forward(self, x, height, width):
        batch, _, dim = x.shape
        x = x.view(batch, height, width, dim)
        x = F.pad(x, (0, 0, 0, width % 2, 0, height % 2))
        x = torch.cat([x[:, 0::2, 0::2], x[:, 1::2, 0::2], x[:, 0::2, 1::2], x[:, 1::2, 1::2]], dim=-1)
        height, width = x.shape[1], x.shape[2]
        return self.reduction(self.norm(x.view(batch, height * width, 4 * dim))), height, width


class HierarchicalEncoder(nn.Module):
    def __init__(self, config):
        super().__init__()
        dim = config.embed_dim
        self.patch_embed = nn.Conv2d(3, dim, kernel_size=4, stride=4)
        self.patch_norm = nn.LayerNorm(dim)
        self.stages = nn.ModuleList()
        self.merges = nn.ModuleList()
        self.out_norms = nn.ModuleList()
        for index, (depth, heads) in enumerate(zip(config.depths, config.num_heads)):
            self.stages.append(nn.ModuleList(
                TransformerBlock(dim, heads, config.window_size, shifted=bool(i % 2), mlp_ratio=config.mlp_ratio)
                for i in range(depth)))
            self.out_norms.append(nn.LayerNorm(dim))
            if index < len(config.depths) - 1:
                self.merges.append(PatchMerging(dim))
                dim *= 2
        self.channels = [config.embed_dim * 2 ** i for i in range(len(config.depths))]

    def forward(self, image):
        x = self.patch_embed(image)
        batch, dim, height, width = x.shape
        x = self.patch_norm(x.flatten(2).transpose(1, 2))
        features = []
        for index, blocks in enumerate(self.stages):
            for block in blocks:
                x = block(x, height, width)
            out = self.out_norms[index](x)
            features.append(out.transpose(1, 2).reshape(batch, -1, height, width))
            if index < len(self.merges):
                x, height, width = self.merges[index](x, height, width)
        return features


# --------------------------------------------------------------------------------------------
# Decoder
# --------------------------------------------------------------------------------------------


def conv_bn_relu(cin, cout, kernel=3, dilation=1):
    return nn.Sequential(
        nn.Conv2d(cin, cout, kernel, padding=dilation * (kernel // 2), dilation=dilation, bias=False),
        nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class ReceptiveFields(nn.Module):
    """Parallel 1x1, 3x3, dilated 3x3 and global branches, fused by a 1x1 convolution."""

    def __init__(self, channels):
        super().__init__()
        self.branches = nn.ModuleList([
            conv_bn_relu(channels, channels, 1), conv_bn_relu(channels, channels, 3),
            conv_bn_relu(channels, channels, 3, dilation=3), conv_bn_relu(channels, channels, 3, dilation=6)])
        self.global_branch = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(channels, channels, 1), nn.ReLU())
        self.fuse = conv_bn_relu(5 * channels, channels, 1)

    def forward(self, x):
        outs = [branch(x) for branch in self.branches]
        outs.append(self.global_branch(x).expand_as(outs[0]))
        return self.fuse(torch.cat(outs, dim=1))


class DecoderBlock(nn.Module):
    def __init__(self, cin, cout, inner):
        super().__init__()
        self.inp = conv_bn_relu(cin, inner, 3)
        self.fields = ReceptiveFields(inner)
        self.out = nn.Sequential(nn.Conv2d(inner, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout))
        self.gate = nn.Conv2d(cout, 1, 1)

    def forward(self, x):
        y = self.out(self.fields(self.inp(x)))
        return y * torch.sigmoid(self.gate(y))


class ImagePatches(nn.Module):
    """The raw image cut into stride x stride patches, stacked as channels, then convolved."""

    def __init__(self, stride, cout):
        super().__init__()
        self.stride = stride
        self.conv = conv_bn_relu(3 * stride * stride, cout, 3)

    def forward(self, image):
        return self.conv(F.pixel_unshuffle(image, self.stride) if self.stride > 1 else image)


# --------------------------------------------------------------------------------------------
# Model
# --------------------------------------------------------------------------------------------


class BiRefNet(PreTrainedModel):
    config_class = BiRefNetConfig
    main_input_name = "x"

    def __init__(self, config: BiRefNetConfig):
        super().__init__(config)
        self.encoder = HierarchicalEncoder(config)
        scale = 2 if config.multi_scale_input else 1
        e1, e2, e3, e4 = (c * scale for c in self.encoder.channels)
        inner, patches = config.decoder_inner_channels, config.image_patch_channels
        self.context = DecoderBlock(e1 + e2 + e3 + e4, e4, inner)
        self.patches = nn.ModuleList(ImagePatches(s, patches) for s in (32, 16, 8, 4, 1))
        self.dec4 = DecoderBlock(e4 + patches, e3, inner)
        self.dec3 = DecoderBlock(e3 + patches, e2, inner)
        self.dec2 = DecoderBlock(e2 + patches, e1, inner)
        self.dec1 = DecoderBlock(e1 + patches, inner // 2, inner)
        self.lateral3 = nn.Conv2d(e3, e3, 1)
        self.lateral2 = nn.Conv2d(e2, e2, 1)
        self.lateral1 = nn.Conv2d(e1, e1, 1)
        self.side_heads = nn.ModuleList(nn.Conv2d(c, 1, 1) for c in (e3, e2, e1, inner // 2))
        self.head = conv_bn_relu(inner // 2 + patches, inner // 2, 3)
        self.fine_head = nn.Conv2d(inner // 2, 1, 1)
        self.post_init()

    def _init_weights(self, module):
        # Keep PyTorch's default initialisation; the weights always come from model.safetensors.
        pass

    def encode(self, x):
        features = self.encoder(x)
        if self.config.multi_scale_input:
            half = F.interpolate(x, scale_factor=0.5, mode="bilinear", align_corners=True)
            features = [torch.cat([f, F.interpolate(g, size=f.shape[-2:], mode="bilinear", align_corners=True)], 1)
                        for f, g in zip(features, self.encoder(half))]
        return features

    def forward(self, x):
        x1, x2, x3, x4 = self.encode(x)
        size4 = x4.shape[-2:]
        pooled = [F.adaptive_avg_pool2d(f, size4) for f in (x1, x2, x3)]
        p32, p16, p8, p4, p1 = (blk(x) for blk in self.patches)
        d4 = self.dec4(torch.cat([self.context(torch.cat(pooled + [x4], 1)), p32], 1))
        d3 = F.interpolate(d4, size=x3.shape[-2:], mode="bilinear", align_corners=True) + self.lateral3(x3)
        d3 = self.dec3(torch.cat([d3, p16], 1))
        d2 = F.interpolate(d3, size=x2.shape[-2:], mode="bilinear", align_corners=True) + self.lateral2(x2)
        d2 = self.dec2(torch.cat([d2, p8], 1))
        d1 = F.interpolate(d2, size=x1.shape[-2:], mode="bilinear", align_corners=True) + self.lateral1(x1)
        d1 = self.dec1(torch.cat([d1, p4], 1))
        sides = [head(d) for head, d in zip(self.side_heads, (d4, d3, d2, d1))]
        full = F.interpolate(d1, size=x.shape[-2:], mode="bilinear", align_corners=True)
        final = self.fine_head(self.head(torch.cat([full, p1], 1)))
        # Like the real model in eval mode: coarser side outputs first, the final map last.
        return sides + [final]
