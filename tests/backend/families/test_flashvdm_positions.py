"""FlashVDM's and the dense decoder's query positions are grid points to float32 precision,
whatever the decoder's dtype."""

from __future__ import annotations

from types import SimpleNamespace

from img23d_backend.env.torch_shims import prepare_torchvision

prepare_torchvision()  # hy3dgen's attention processors import pymeshlab through hy3dgen.shapegen

import torch  # noqa: E402

from img23d_backend.families.hunyuan3d.hy3dgen_fixes import FlashVDMDecoder, flashvdm_levels  # noqa: E402
from img23d_backend.families.hunyuan3d.shape_decode import dense_grid  # noqa: E402

BOUNDS = 1.01
OCTREE = 380  # upstream's fast example's octree resolution


class BallDecoder:
    """A geo decoder standing in for the VAE's: occupancy of a small ball near a corner (where fp16
    positions are coarsest, and few points need refining), in the latents' dtype; it keeps every
    ``keep_every``-th query position it is asked for (every one by default) and counts them all."""

    centre = torch.tensor([0.8, -0.8, 0.8], dtype=torch.float32)

    def __init__(self, keep_every: int = 1) -> None:
        self.cross_attn_decoder = SimpleNamespace(attn=SimpleNamespace(attention=SimpleNamespace(attn_processor=None)))
        self.queries: list[torch.Tensor] = []
        self.asked = 0
        self.keep_every = keep_every

    def set_cross_attention_processor(self, processor) -> None:
        self.cross_attn_decoder.attn.attention.attn_processor = processor

    def __call__(self, *, queries: torch.Tensor, latents: torch.Tensor) -> torch.Tensor:
        flat = queries.reshape(-1, 3)
        # Kept every keep_every-th from the count so far, so the kept ones stride evenly over the whole grid.
        first = -self.asked % self.keep_every
        self.queries.append(flat[first::self.keep_every].to(torch.float64))
        self.asked += len(flat)
        radius = (queries.to(torch.float32) - self.centre).norm(dim=-1, keepdim=True)
        return ((0.15 - radius) * 50).to(latents.dtype)


def _worst_offset_in_voxels(dtype: torch.dtype) -> float:
    decoder = BallDecoder()
    latents = torch.zeros(1, 4, 8, dtype=dtype)
    FlashVDMDecoder(select_keys=False)(latents, decoder, bounds=BOUNDS, octree_resolution=OCTREE,
                                       num_chunks=200_000)
    # Every level's grid is a subgrid of the finest (each halves the spacing), so every query
    # should sit on a point of the finest grid.
    step = 2 * BOUNDS / flashvdm_levels(OCTREE)[-1]
    queries = torch.cat(decoder.queries)
    nearest = torch.round((queries + BOUNDS) / step) * step - BOUNDS
    return float(((queries - nearest).abs() / step).max())


def test_fp16_decoding_queries_grid_points_as_fp32_does() -> None:
    assert flashvdm_levels(OCTREE)[-1] == OCTREE
    # fp16 positions near 1 are off by up to 0.001, a fifth of a voxel at octree 380: the refined
    # points were decoded somewhere else than where their values are stored.
    assert _worst_offset_in_voxels(torch.float16) < 1e-3


def test_fp16_dense_decoding_queries_grid_points_as_fp32_does() -> None:
    # hy3dgen's VanillaVolumeDecoder casts the positions to the latents' dtype: at octree 384 in
    # fp16 they are up to a tenth of a voxel off. img23d's dense decoder keeps them float32.
    # Every 13th of the 57 million positions is checked (13 is prime to the grid's 385 a side, so the
    # kept ones fall on every column, row and layer): the fp16 error shows on most of them.
    octree = 384
    decoder = BallDecoder(keep_every=13)
    dense_grid(torch.zeros(1, 4, 8, dtype=torch.float16), decoder, BOUNDS, octree, 2_000_000)
    queries = torch.cat(decoder.queries)
    assert decoder.asked == (octree + 1) ** 3 and len(queries) == -(-decoder.asked // 13)
    step = 2 * BOUNDS / octree
    nearest = torch.round((queries + BOUNDS) / step) * step - BOUNDS
    assert float(((queries - nearest).abs() / step).max()) < 1e-3


def test_the_dense_grid_is_hy3dgens_in_float32() -> None:
    from hy3dgen.shapegen.models.autoencoders.volume_decoders import VanillaVolumeDecoder

    latents = torch.zeros(1, 4, 8, dtype=torch.float32)
    ours = dense_grid(latents, BallDecoder(), BOUNDS, 32, 1000)
    theirs = VanillaVolumeDecoder()(latents, BallDecoder(), bounds=BOUNDS, num_chunks=1000, octree_resolution=32,
                                    enable_pbar=False)[0]
    assert ours.dtype == torch.float32 and ours.shape == theirs.shape == (33, 33, 33)
    assert torch.allclose(ours, theirs, atol=1e-4)
