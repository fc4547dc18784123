"""Multiview attention guided by the views' position maps: the paint turbo model's change to the UNet.

Read in Tencent/Hunyuan3D-2 (ab727ba "hypaint-turbo and mv": ``hy3dgen/texgen/hunyuanpaint/
pipeline.py`` and ``unet/modules.py``, ``compute_multi_resolution_mask``): for the turbo model
the pipeline cuts each view's position map (the view size, white = background) into a g x g grid,
averages the foreground positions in each cell (a cell with fewer than 5 foreground pixels
counts as the origin), and lets a token of the multiview attention see only the tokens, in any
view, whose cells lie closer than 1.73 / g to its own. Upstream builds the grids 32, 16 and 8 for
512-pixel views, i.e. the UNet's 32², 16² and 8² latent levels; its 64² level stays unmasked. The
masks are keyed by the attention's token count (views x g²), and only the multiview attention
takes one: self-, reference and cross-attention are unchanged. The voxel indices upstream also
computes are not used by Hunyuan3D-2.0's attention processor (position RoPE is Hunyuan3D-2.1's),
so they are not computed here.

hy3dgen 2.0.2's ``Basic2p5DTransformerBlock`` (installed) cannot pass a mask to its multiview
attention, so the mask reaches it through the attention processor instead: ``install`` gives
every multiview attention of the generating UNet a ``PositionAttnProcessor`` that shares one
``PositionGuidance``; a call puts its masks there for its duration (``PositionGuidance.active``).
Without a mask for its token count a processor runs diffusers' own ``AttnProcessor2_0``, so with
guidance off the UNet computes exactly what it computed before.

Differences from upstream, both deliberate: the cell means are computed in float32 (upstream
casts the maps to fp16 first: its sums of 256 pixels lose up to ~0.0005, against a threshold of
0.054 at g = 32), and the boolean mask is given to ``scaled_dot_product_attention`` once for all
heads ([1, 1, L, L]) rather than repeated per head ([heads, L, L], 377 MB at the 32² level).
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator

# sqrt(3) ~ the diagonal of a unit cube: a cell pair counts as neighbours below 1.73 / g.
NEIGHBOUR_DISTANCE = 1.73
MIN_CELL_PIXELS = 5          # fewer foreground pixels: the cell's position is the origin
# The masked levels, as divisors of the latent side: 64 / (2, 4, 8) = upstream's grids 32, 16, 8.
MASKED_LEVELS = (2, 4, 8)
BACKGROUND = 1.0             # the position maps' background value (white)


def cell_positions(maps: Any, grid: int) -> Any:
    """Mean foreground position per cell: [N, 3, S, S] maps -> [N, grid * grid, 3], row-major cells.

    A pixel is foreground unless every channel is the background value; a cell with fewer than
    ``MIN_CELL_PIXELS`` foreground pixels is the origin (0, 0, 0), as upstream makes it.
    """
    import torch

    views, channels, height, width = maps.shape
    if height % grid or width % grid:
        raise ValueError(f"{height}x{width} maps do not split into a {grid}x{grid} grid")
    maps = maps.float()
    foreground = (maps != BACKGROUND).all(dim=1, keepdim=True)
    cells = (views, channels, grid, height // grid, grid, width // grid)
    sums = torch.where(foreground, maps, torch.zeros_like(maps)).reshape(cells).sum(dim=(3, 5))
    counts = foreground.reshape((views, 1) + cells[2:]).sum(dim=(3, 5))
    means = sums / counts.clamp(min=1)
    means = torch.where(counts >= MIN_CELL_PIXELS, means, torch.zeros_like(means))
    return means.permute(0, 2, 3, 1).reshape(views, grid * grid, channels)


def position_masks(maps: Any, latent_side: int) -> dict[int, Any]:
    """The multiview attention masks for ``maps`` ([N, 3, S, S], one per view), by token count.

    Each is a boolean [1, N g², N g²] tensor on the maps' device: True where the query's and the
    key's cells are closer than ``NEIGHBOUR_DISTANCE / g``. The diagonal is always True, so no
    token is left with nothing to attend to.
    """
    import torch

    masks: dict[int, Any] = {}
    for divisor in MASKED_LEVELS:
        grid = latent_side // divisor
        if grid < 1 or latent_side % divisor or maps.shape[-1] % grid or maps.shape[-2] % grid:
            continue
        cells = cell_positions(maps, grid).reshape(-1, 3)
        masks[cells.shape[0]] = (pairwise_distances(cells) < NEIGHBOUR_DISTANCE / grid).unsqueeze(0)
    return masks


def pairwise_distances(points: Any, rows_per_step: int = 256) -> Any:
    """The Euclidean distance between every two of ``points`` [N, 3] (float32, [N, N]), computed
    directly, as ``torch.cdist(..., compute_mode="donot_use_mm_for_euclid_dist")`` does (the
    matrix-product shortcut rounds pairs at the threshold), but from a subtraction and
    ``linalg.vector_norm``, which every backend runs (cdist's support on Apple GPUs is
    unverified); on the CPU the two agree to the bit. ``rows_per_step`` rows at a time, so the
    differences held at once stay small (256 x 6144 x 3 floats at the finest grid)."""
    import torch

    points = points.float()
    distances = torch.empty((len(points), len(points)), dtype=torch.float32, device=points.device)
    for start in range(0, len(points), rows_per_step):
        rows = points[start:start + rows_per_step]
        distances[start:start + len(rows)] = torch.linalg.vector_norm(rows[:, None, :] - points[None, :, :], dim=-1)
    return distances


class PositionGuidance:
    """The masks of the call in progress, shared by every multiview attention of one UNet."""

    def __init__(self) -> None:
        self.masks: dict[int, Any] = {}

    @contextmanager
    def active(self, masks: dict[int, Any]) -> Iterator[None]:
        """``masks`` apply for the block; none afterwards, whatever happens inside."""
        self.masks = masks
        try:
            yield
        finally:
            self.masks = {}


class PositionAttnProcessor:
    """Attention with the position mask of its token count, else diffusers' own processor."""

    def __init__(self, guidance: PositionGuidance) -> None:
        from diffusers.models.attention_processor import AttnProcessor2_0

        self.guidance = guidance
        self.plain = AttnProcessor2_0()

    def __call__(self, attn: Any, hidden_states: Any, encoder_hidden_states: Any = None,
                 attention_mask: Any = None, temb: Any = None) -> Any:
        mask = self.guidance.masks.get(hidden_states.shape[1]) if hidden_states.ndim == 3 else None
        if mask is None or attention_mask is not None:
            return self.plain(attn, hidden_states, encoder_hidden_states, attention_mask, temb)
        return masked_attention(attn, hidden_states, encoder_hidden_states, mask)


def masked_attention(attn: Any, hidden_states: Any, encoder_hidden_states: Any, mask: Any) -> Any:
    """``attn`` (a diffusers ``Attention`` as Stable Diffusion configures it) with a boolean mask
    [B or 1, L, L'] shared by all heads: what ``AttnProcessor2_0`` computes with that mask."""
    import torch.nn.functional as F

    if any(part is not None for part in (attn.spatial_norm, attn.group_norm, attn.norm_q, attn.norm_cross)):
        raise ValueError("position-guided attention expects Stable Diffusion's plain attention blocks")
    context = hidden_states if encoder_hidden_states is None else encoder_hidden_states
    batch = hidden_states.shape[0]
    query, key, value = attn.to_q(hidden_states), attn.to_k(context), attn.to_v(context)
    head_dim = key.shape[-1] // attn.heads

    def heads(tensor: Any) -> Any:
        return tensor.view(batch, -1, attn.heads, head_dim).transpose(1, 2)

    out = F.scaled_dot_product_attention(heads(query), heads(key), heads(value),
                                         attn_mask=mask.to(query.device).unsqueeze(1), scale=attn.scale)
    out = out.transpose(1, 2).reshape(batch, -1, attn.heads * head_dim).to(query.dtype)
    out = attn.to_out[1](attn.to_out[0](out))  # linear, then dropout
    if attn.residual_connection:
        out = out + hidden_states
    return out / attn.rescale_output_factor


def install(unet: Any) -> PositionGuidance:
    """Give every multiview attention of hy3dgen's ``UNet2p5DConditionModel`` (the generating
    stream; the reference stream has none) a position-guided processor; their shared guidance."""
    from hy3dgen.texgen.hunyuanpaint.unet.modules import Basic2p5DTransformerBlock

    guidance = PositionGuidance()
    blocks = [m for m in unet.unet.modules() if isinstance(m, Basic2p5DTransformerBlock) and m.use_ma]
    if not blocks:
        raise ValueError("this UNet has no multiview attention to guide")
    for block in blocks:
        block.attn_multiview.set_processor(PositionAttnProcessor(guidance))
    return guidance
