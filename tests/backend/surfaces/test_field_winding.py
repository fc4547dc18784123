"""Surfaces decoded from a field whose inside is known come out wound outwards (issue 73 item 1).

Random weights have no inside, so the replicas cannot show a sign. Here each family's decoder is rewired so
that its raw output (the last projection, in the release's convention: positive inside) is a known closed
field, and the production decoding (the family's own query, the hierarchical grid, the surface step) draws
its surface: the signed volume must be positive and close to the field's. The field is read from the
decoder's own Fourier embedding (its lowest cosine column per axis): ``c - sum_i (1 - cos(f x_i))``, a round
blob through (+-0.5, 0, 0); its volume is counted on a fine grid here (``_inside``).
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import torch
from torch import nn

from img23d_backend.families.step1x.geometry.configs import ShapeVAEConfig
from img23d_backend.families.step1x.geometry.generate import latents_to_mesh
from img23d_backend.families.step1x.geometry.shape_decoder import ShapeDecoder
from img23d_backend.parts.autopartgen import config as sizes
from img23d_backend.parts.autopartgen import replica
from img23d_backend.parts.autopartgen.loader import AutoPartGenNetworks
from img23d_backend.parts.autopartgen.surface import decode
from img23d_backend.surfaces.volume import GridSettings


class _PassThrough(nn.Module):
    """The cross-attention block with its answer removed: the query's own features go through."""

    def forward(self, x: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        return x


def _known_field(query_proj: nn.Linear, out_proj: nn.Linear, num_freqs: int, lowest: float) -> None:
    """Sets ``query_proj`` to pick each axis's cos(lowest x) and ``out_proj`` to c - sum(1 - cos)."""
    cosines = [3 + 3 * num_freqs + axis * num_freqs for axis in range(3)]   # (xyz, sin..., cos...) per axis
    with torch.no_grad():
        query_proj.weight.zero_()
        query_proj.bias.zero_()
        for row, column in enumerate(cosines):
            query_proj.weight[row, column] = 1.0
        out_proj.weight.zero_()
        out_proj.weight[0, :3] = 1.0
        out_proj.bias.fill_(-3.0 + 1.0 - float(np.cos(0.5 * lowest)))


def _inside(lowest: float, cells: int = 160) -> float:
    """The volume where the known field is positive, counted at the centres of a fine grid over [-1, 1]^3."""
    axis = (np.arange(cells) + 0.5) * 2 / cells - 1
    x, y, z = np.meshgrid(axis, axis, axis, indexing="ij", sparse=True)
    bent = sum(1 - np.cos(lowest * t) for t in (x, y, z))
    return float((bent < 1 - np.cos(0.5 * lowest)).sum()) * (2 / cells) ** 3


def _signed_volume(vertices: np.ndarray, faces: np.ndarray) -> float:
    corners = vertices[faces].astype(np.float64)
    return float(np.einsum("ij,ij->i", corners[:, 0], np.cross(corners[:, 1], corners[:, 2])).sum() / 6)


def test_an_autopartgen_part_from_a_known_field_is_wound_outwards() -> None:
    config = sizes.tiny()
    built = replica.construct(config)
    vae = built["vae"].float().eval()
    _known_field(vae.decoder.proj_query, vae.decoder.proj_out, config.vae.num_freqs, lowest=1.0)
    vae.decoder.blocks[-1] = _PassThrough()
    vae.decoder.norm_out = nn.Identity()
    networks = AutoPartGenNetworks(config, None, built["dit"].float(), vae)
    latent = torch.zeros(1, config.dit.latents, config.vae.latent_channels)
    surface = decode(networks, latent, grid=48)
    assert surface is not None
    volume = _signed_volume(*surface)
    assert volume > 0, f"the part is inside out: signed volume {volume:.3f}"
    assert abs(volume - _inside(1.0)) < 0.03 * _inside(1.0)


def test_a_step1x_surface_from_a_known_field_is_wound_outwards() -> None:
    config = ShapeVAEConfig(width=16, heads=2, num_decoder_layers=1, embed_dim=8)
    vae = ShapeDecoder(config).eval()
    _known_field(vae.decoder.query_proj, vae.decoder.output_proj, config.num_freqs, lowest=float(np.pi))
    vae.decoder.cross_attn_decoder = _PassThrough()
    vae.decoder.ln_post = nn.Identity()
    model = SimpleNamespace(vae=vae, device="cpu", dtype=torch.float32, checked=False)
    mesh = latents_to_mesh(model, torch.zeros(1, 4, config.embed_dim), GridSettings(resolution=48, min_coarse=48))
    assert mesh is not None
    volume = _signed_volume(np.asarray(mesh.vertices), np.asarray(mesh.faces))
    assert volume > 0, f"the surface is inside out: signed volume {volume:.3f}"
    assert abs(volume - _inside(np.pi)) < 0.03 * _inside(np.pi)
