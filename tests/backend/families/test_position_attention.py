"""The turbo paint model's position-guided multiview attention, against direct computations, and
the 2.0 model unchanged while no mask is given."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from img23d_backend.env.torch_shims import prepare_torchvision

prepare_torchvision()

import torch  # noqa: E402
from PIL import Image  # noqa: E402

from img23d_backend.catalog import tiny_model_set  # noqa: E402
from img23d_backend.families.hunyuan3d import position_attention  # noqa: E402
from img23d_backend.families.hunyuan3d.paint_models import camera_indices, multiview_loader  # noqa: E402


def _maps() -> torch.Tensor:
    """Two 32x32 position maps on white: random surface, a background strip, and two cells
    (8x8 pixels at grid 4) with 4 and 5 foreground pixels, either side of the threshold."""
    generator = torch.Generator().manual_seed(3)
    maps = torch.rand(2, 3, 32, 32, generator=generator) * 0.9
    maps[:, :, :, 24:] = 1.0               # background: the last column of cells at grid 4
    maps[0, :, 0:8, 24:32] = 1.0
    maps[0, :, 0:2, 24:26] = 0.3           # 4 foreground pixels: the cell counts as the origin
    maps[1, :, 0:8, 24:32] = 1.0
    maps[1, :, 0:1, 24:29] = 0.7           # 5 foreground pixels: the cell keeps their mean
    maps[1, 0, 5, 5] = 1.0                 # one channel at 1 is still foreground
    return maps


def _direct_mask(maps: torch.Tensor, grid: int) -> torch.Tensor:
    """Upstream's rule computed pixel by pixel and pair by pair in float64."""
    views, _, size, _ = maps.shape
    cell = size // grid
    means = []
    for view in range(views):
        for row in range(grid):
            for col in range(grid):
                block = maps[view, :, row * cell:(row + 1) * cell, col * cell:(col + 1) * cell].double()
                pixels = [block[:, y, x] for y in range(cell) for x in range(cell) if not bool((block[:, y, x] == 1).all())]
                means.append(torch.stack(pixels).mean(0) if len(pixels) >= 5 else torch.zeros(3, dtype=torch.float64))
    mask = torch.zeros(len(means), len(means), dtype=torch.bool)
    for i, a in enumerate(means):
        for j, b in enumerate(means):
            mask[i, j] = math.dist(a.tolist(), b.tolist()) < 1.73 / grid
    return mask


def test_the_masks_match_a_direct_computation() -> None:
    maps = _maps()
    masks = position_attention.position_masks(maps, latent_side=8)  # 32-pixel views: grids 4, 2, 1
    assert sorted(masks) == [2 * 1, 2 * 4, 2 * 16]
    for grid in (4, 2, 1):
        mask = masks[2 * grid * grid]
        assert mask.shape == (1, 2 * grid * grid, 2 * grid * grid) and mask.dtype == torch.bool
        assert torch.equal(mask[0], _direct_mask(maps, grid)), f"grid {grid}"
    cells = position_attention.cell_positions(maps, 4)
    assert torch.equal(cells[0, 3], torch.zeros(3)) and torch.allclose(cells[1, 3], torch.full((3,), 0.7))
    assert not bool(masks[32][0].all())  # something is masked at the finest grid


def test_upstreams_grids_for_512_pixel_views() -> None:
    maps = torch.ones(6, 3, 512, 512)
    maps[:, :, 100:400, 100:400] = 0.5
    assert sorted(position_attention.position_masks(maps, latent_side=64)) == [6 * 8 * 8, 6 * 16 * 16, 6 * 32 * 32]


def test_masked_attention_is_softmax_over_the_allowed_keys() -> None:
    from diffusers.models.attention_processor import Attention, AttnProcessor2_0

    torch.manual_seed(0)
    attn = Attention(query_dim=8, heads=2, dim_head=4, out_bias=True).eval()
    hidden = torch.randn(1, 6, 8)
    mask = torch.rand(1, 6, 6) > 0.5
    mask |= torch.eye(6, dtype=torch.bool)
    with torch.no_grad():
        ours = position_attention.masked_attention(attn, hidden, None, mask)
        q, k, v = (layer(hidden).view(1, 6, 2, 4).transpose(1, 2) for layer in (attn.to_q, attn.to_k, attn.to_v))
        scores = (q @ k.transpose(-1, -2)) / 2.0  # sqrt(dim_head)
        weights = scores.masked_fill(~mask[:, None], float("-inf")).softmax(-1)
        direct = attn.to_out[0]((weights @ v).transpose(1, 2).reshape(1, 6, 8))
        assert torch.allclose(ours, direct, atol=1e-6)
        everything = position_attention.masked_attention(attn, hidden, None, torch.ones(1, 6, 6, dtype=torch.bool))
        assert torch.allclose(everything, AttnProcessor2_0()(attn, hidden), atol=1e-6)


@pytest.fixture(scope="module")
def multiview_2_0(tiny_root: Path):  # type: ignore[no-untyped-def]
    spec = tiny_model_set(tiny_root, paint="2.0").spec("paint")
    return multiview_loader(spec)(tiny_root / "hunyuan3d-paint", torch.device("cpu")).obj


def _views(multiview) -> torch.Tensor:  # type: ignore[no-untyped-def]
    maps = _maps().repeat(3, 1, 2, 2)[:6]  # six 64-pixel views
    reference = Image.new("RGB", (64, 64), (200, 120, 40))
    cameras = camera_indices((0, 90, 180, 270, 0, 180), (0, 0, 0, 0, 90, -90))
    return multiview(reference, maps, maps, cameras, size=64, steps=2, seed=5)


def test_with_guidance_off_the_2_0_model_paints_what_it_painted(multiview_2_0) -> None:  # type: ignore[no-untyped-def]
    before = _views(multiview_2_0)
    guidance = position_attention.install(multiview_2_0.pipeline.unet)
    # No mask: diffusers' own processor (bit for bit in a quiet run; once, on a loaded 2-core
    # machine, the Python 3.11 lane saw a difference, so the check allows float rounding only).
    assert torch.allclose(_views(multiview_2_0), before, rtol=0, atol=1e-6)
    # A mask that masks nothing is the same attention by another kernel.
    tokens = {6 * 4 * 4: torch.ones(1, 96, 96, dtype=torch.bool), 6 * 8 * 8: torch.ones(1, 384, 384, dtype=torch.bool)}
    with guidance.active(tokens):
        assert torch.allclose(_views(multiview_2_0), before, atol=1e-4)
    assert guidance.masks == {}


@pytest.mark.parametrize("kind", ["random", "on a lattice"])
def test_the_pairwise_distance_is_cdists_without_cdist(kind: str, monkeypatch) -> None:
    # cdist's support on Apple GPUs is unverified: the masks use element-wise operations only,
    # and give exactly what cdist's direct mode gives (here on the CPU), ties at the threshold included.
    generator = torch.Generator().manual_seed(5)
    points = torch.rand(1536, 3, generator=generator)
    if kind == "on a lattice":  # cell means on a grid: many pairs exactly at one spacing
        points = torch.round(points * 16) / 16
    expected = torch.cdist(points, points, compute_mode="donot_use_mm_for_euclid_dist")
    ours = position_attention.pairwise_distances(points, rows_per_step=100)
    assert torch.equal(ours, expected)
    assert torch.equal(ours < 1.73 / 16, expected < 1.73 / 16)

    def refused(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise AssertionError("position_masks called torch.cdist")

    monkeypatch.setattr(torch, "cdist", refused)
    assert sorted(position_attention.position_masks(_maps(), latent_side=8)) == [2, 8, 32]
