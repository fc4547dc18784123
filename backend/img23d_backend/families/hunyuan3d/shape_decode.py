"""From the shape model's latents to meshes, one target at a time.

The DiT denoises every target of a batch together; the VAE's volume decoding then runs per
target, so each mesh can go on to clean-up as soon as it exists and FlashVDM (which decodes
one target at a time) can be used. Two volume decoders:

* ``flashvdm`` (default): a coarse grid, then only the points near the surface at twice the
  resolution, level after level (``hy3dgen_fixes.FlashVDMDecoder``, hy3dgen's with its scale
  and inner-wall faults corrected). Several times fewer decoder queries on trained weights.
* ``dense``: every point of the (octree resolution + 1)^3 grid, as hy3dgen's
  ``VanillaVolumeDecoder`` queries it, but with float32 positions (``dense_grid``): hy3dgen casts
  them to the latents' dtype, and in fp16 a position near 1 is off by up to 0.001, a tenth of a
  voxel at octree 384 and more above.

Both give vertices in the frame of hy3dgen's dense marching cubes at the asked resolution: a grid index
``i`` at ``(i / (R + 1)) * 2 b - b``, so a mesh is R / (R + 1) of its true size, half a voxel towards
(-, -, -) (a ball of radius 0.5 comes out 0.4922 at octree 64, 0.4987 at 384), as upstream's meshes are;
presets change an object's size by that much at most (the layout scales each object to its box anyway).
FlashVDM refines only near the surface it sees on a 63-cell coarse grid: a sheet thinner than about 0.014
(a leaf, paper) lying between two coarse samples can be lost whole; dense decoding keeps it. FlashVDM decodes
with the model's distilled FlashVDM VAE (``pipe.flashvdm_vae``, as upstream's ``enable_flashvdm`` swaps it in),
transformer and occupancy decoder both; dense decoding with the DiT folder's own VAE.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from ...models.memory import RESERVE_BYTES, device_memory
from ...mesh.shapes import MIN_CHUNK  # hy3dgen's default number of queries per decoder call
from .hy3dgen_fixes import FlashVDMDecoder, grid_points, into_octree_frame, surface_extractor

log = logging.getLogger(__name__)

FLASHVDM = "flashvdm"
DENSE = "dense"
DECODERS = (FLASHVDM, DENSE)
BOUNDS = 1.01        # hy3dgen's box_v: the grid spans [-1.01, 1.01]^3
MC_LEVEL = 0.0       # the flow-matching pipeline's surface level
MAX_CHUNK = 200_000  # upstream's fast example on its largest model
CHUNK_SHARE = 0.5    # of the free memory, for one decoder call's activations


@dataclass(frozen=True)
class DecodeSettings:
    decoder: str = FLASHVDM
    octree_resolution: int = 256
    num_chunks: int = 0  # queries per decoder call; 0 = sized from free memory

    def chunk(self, vae: Any, latents: int, device: Any) -> int:
        return self.num_chunks or chunk_size(vae, latents, device)


def query_bytes(vae: Any, latents: int) -> int:
    """Device bytes one query holds during a decoder call (activations, not weights).

    Per query: its embedding through the cross-attention block (width, the MLP's 4 x width,
    the attention output and residuals: about 8 x width values) plus one attention score per
    latent and head; doubled for the temporaries PyTorch keeps alongside.
    """
    decoder = vae.geo_decoder
    block = decoder.cross_attn_decoder
    width = int(decoder.query_proj.out_features)
    heads = int(getattr(block.attn.attention, "heads", 1))
    element = next(decoder.parameters()).element_size()
    return 2 * element * (8 * width + heads * latents)


def chunk_size(vae: Any, latents: int, device: Any) -> int:
    """Queries per decoder call that fit in ``CHUNK_SHARE`` of the device's free memory."""
    free = max(0, device_memory(device).free - RESERVE_BYTES)
    return int(min(MAX_CHUNK, max(MIN_CHUNK, CHUNK_SHARE * free // query_bytes(vae, latents))))


def decoding_vae(pipe: Any, decoder: str) -> Any:
    """The VAE that decodes with ``decoder``: FlashVDM's distilled one where the model has it, else
    the DiT folder's own."""
    flashvdm_vae = getattr(pipe, "flashvdm_vae", None)
    return flashvdm_vae if decoder == FLASHVDM and flashvdm_vae is not None else pipe.vae


def decode_latents(vae: Any, latents: Any) -> Any:
    """The DiT's latents through ``vae``'s transformer (what hy3dgen's ``_export`` does first)."""
    import torch

    with torch.inference_mode():
        return vae(latents / vae.scale_factor)


def volume(vae: Any, device: Any, decoded: Any, settings: DecodeSettings) -> tuple[Any, int]:
    """One target's occupancy grid (float32, on the device) and the resolution it was sampled at."""
    chunk = settings.chunk(vae, int(decoded.shape[1]), device)
    if settings.decoder == FLASHVDM:
        return FlashVDMDecoder()(decoded, vae.geo_decoder, bounds=BOUNDS,
                                 octree_resolution=settings.octree_resolution, num_chunks=chunk,
                                 mc_level=MC_LEVEL)
    if settings.decoder != DENSE:
        raise ValueError(f"unknown volume decoder {settings.decoder!r}; use one of {', '.join(DECODERS)}")
    return dense_grid(decoded, vae.geo_decoder, BOUNDS, settings.octree_resolution, chunk), settings.octree_resolution


def dense_grid(latents: Any, geo_decoder: Any, bounds: float, octree_resolution: int, num_chunks: int) -> Any:
    """One target's logits on every point of the (R + 1)^3 grid over [-bounds, bounds] (float32),
    in hy3dgen's order ("ij"), ``num_chunks`` queries per decoder call. The positions are made per
    chunk from their indices, in float32 whatever the decoder's dtype (``grid_points``, as FlashVDM's);
    the decoder's Fourier embedding casts its output to the latents' dtype."""
    import torch

    side = octree_resolution + 1
    total = side ** 3
    logits = torch.empty(total, dtype=torch.float32, device=latents.device)
    with torch.inference_mode():
        for start in range(0, total, num_chunks):
            flat = torch.arange(start, min(start + num_chunks, total), device=latents.device)
            index = torch.stack((flat // (side * side), (flat // side) % side, flat % side), dim=-1)
            queries = grid_points(index, bounds, octree_resolution)[None]
            logits[start:start + len(flat)] = geo_decoder(queries=queries, latents=latents)[0, :, 0].float()
    return logits.view(side, side, side)


def extract(extractor: Any, grid: Any, grid_resolution: int, octree_resolution: int) -> Any:
    """A trimesh from an occupancy grid, or None when the grid holds no surface."""
    import trimesh

    try:
        vertices, faces = extractor.run(grid, mc_level=MC_LEVEL, bounds=BOUNDS, octree_resolution=grid_resolution)
    except (ValueError, RuntimeError) as exc:
        # skimage: "Surface level must be within volume data range" (all inside or all outside).
        log.warning("no surface in the decoded volume: %s", exc)
        return None
    if len(vertices) == 0 or len(faces) == 0:
        # Dual marching cubes (diso) does not raise on a volume with no surface: it returns an
        # empty mesh. The same "no surface" as marching cubes, not a mesh of nothing.
        log.warning("no surface in the decoded volume: the extractor found %d vertices and %d faces",
                    len(vertices), len(faces))
        return None
    vertices = into_octree_frame(vertices, BOUNDS, grid_resolution, octree_resolution)
    # hy3dgen's export reverses the faces to wind them outwards, and lets trimesh merge vertices.
    return trimesh.Trimesh(vertices.astype("float32"), faces[:, ::-1].copy())


def latents_to_mesh(pipe: Any, decoded: Any, settings: DecodeSettings) -> Any:
    """One target's mesh (or None) from its latents [1, N, C] decoded by ``decoding_vae(pipe,
    settings.decoder)``."""
    vae = decoding_vae(pipe, settings.decoder)
    grid, resolution = volume(vae, pipe.device, decoded, settings)
    # Kept on the VAE as hy3dgen keeps it, so its own calls extract the same way.
    vae.surface_extractor = surface_extractor(pipe.device)
    return extract(vae.surface_extractor, grid, resolution, settings.octree_resolution)
