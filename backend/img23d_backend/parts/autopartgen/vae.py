"""AutoPartGen's shape VAE (TripoSG's design): surface points to 64-channel latents, and latents to a
signed field at any point.

Written from the release's architecture (``TripoSGVAEModel``, read in facebookresearch/AutoPartGen,
not copied; names are its checkpoint's keys):

* ``embedder``: xyz -> (xyz, sin(2^k xyz), cos(2^k xyz)), k < 8, no pi (not in the file).
* encoder (width 512, 8 heads): the surface [B, 32768, 6] embedded (51 + 3 normal channels = 54);
  the queries a farthest-point sample of it (points // 16 = 2,048, from a start drawn at random);
  ``encoder.proj_in`` on both, one cross-attention block (``encoder.blocks.0``: queries over all
  points, the context LayerNormed by ``attn2.norm_cross``), 8 self-attention blocks, ``encoder.norm_out``;
  ``quant`` to 2 x 64 channels: the mean, then the log-variance. The mode (the mean) is the latent.
* decoder (width 1024): ``post_quant``, 16 self-attention blocks (``decoder.blocks.0-15``) once per
  latent; each query point's embedding through ``decoder.proj_query`` and one cross-attention block
  (``decoder.blocks.16``) over them, ``decoder.norm_out``, ``decoder.proj_out``, taken as it is: the
  release negates the decoder's output once inside the VAE and once more before its marching cubes, so
  the value its surface is drawn from is ``+proj_out``, positive inside, as ``surfaces.volume`` wants it
  (a sphere field decoded by the release is wound outwards; tests/backend/surfaces/test_field_winding.py decodes
  a known field through this query and the surface step and checks the same).

The embedding and the encoder's and decoder's stacks are the shared ones of ``neural.fourier`` and
``neural.triposg`` (SkinTokens' skin VAE is built of the same); this module puts them together.
"""

from __future__ import annotations

import torch
from torch import nn

from ...neural.fourier import FourierEmbedder
from ...neural.point_sampling import farthest_points
from ...neural.triposg import VAEDecoder, VAEEncoder
from .config import VAEConfig
from .precision import full_precision


class ShapeVAE(nn.Module):
    def __init__(self, config: VAEConfig) -> None:
        super().__init__()
        self.config = config
        self.embedder = FourierEmbedder(config.num_freqs, config.include_pi)
        self.encoder = VAEEncoder(config.embed_dim + 3, config.encoder_width, config.heads, config.encoder_layers)
        self.decoder = VAEDecoder(config.embed_dim, config.decoder_width, config.heads, config.decoder_layers)
        self.quant = nn.Linear(config.encoder_width, 2 * config.latent_channels)
        self.post_quant = nn.Linear(config.latent_channels, config.decoder_width)

    def _embed(self, cloud: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.embedder(cloud[..., :3]), cloud[..., 3:].float()], dim=-1).to(self.quant.weight.dtype)

    def encode(self, cloud: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Surface clouds [B, P, 6] -> latents [B, P // downscale, C] (the posterior's mode, unscaled)."""
        latents = cloud.shape[1] // self.config.downscale
        queries = torch.stack([item[farthest_points(item[:, :3], latents, generator)]
                               for item in cloud])
        moments = self.quant(self.encoder(self._embed(queries), self._embed(cloud)))
        return moments[..., :self.config.latent_channels]

    def tokens(self, latents: torch.Tensor) -> torch.Tensor:
        """Latents [B, N, C] (unscaled) -> the decoder's tokens [B, N, width], once per latent."""
        return self.decoder.context(self.post_quant(latents.to(self.post_quant.weight.dtype)))

    def query(self, points: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        """The field at ``points`` [B, M, 3] -> [B, M] float32, positive inside."""
        x = self.decoder.proj_query(self.embedder(points).to(tokens.dtype))
        x = self.decoder.cross(x, tokens)
        with full_precision(x.device):   # the sign placing the surface, in float32 (``precision``)
            return self.decoder.proj_out(self.decoder.norm_out(x.float()))[..., 0].float()
