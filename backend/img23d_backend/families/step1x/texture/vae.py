"""The VAE's two calls, encoding the reference picture and decoding a view, in the precision its
own config asks for.

diffusers' ``AutoencoderKL`` carries ``force_upcast`` in its config (default true): the VAE
overflows in float16 and must run in float32. Its SDXL pipelines, and upstream's
``IG2MVSDXLPipeline`` (Step1X-3D's ``ig2mv_sdxl_pipeline.py``, copied from them), act on it:

* decoding: in float32 when the VAE is float16 and ``force_upcast`` is set
  (``needs_upcasting = vae.dtype == float16 and vae.config.force_upcast``), back after;
* encoding (``prepare_image_latents``): in float32 whenever ``force_upcast`` is set, the latents
  then cast to the model's dtype.

The fp16-fix VAE (``madebyollin/sdxl-vae-fp16-fix``) was fine-tuned to run in float16 and its
config sets ``force_upcast`` false (diffusers' own docs point to it as the VAE for which it can
be); SDXL base's own VAE sets it true. So with the published files nothing is upcast, and a VAE
folder whose config says otherwise is run as diffusers would run it. The cast is
``placement.cast_for_call``: in place for the call, exact back to float16 after.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator

import torch

from ....models.placement import cast_for_call


def upcast(vae: Any, decoding: bool) -> bool:
    """Whether this call runs the VAE in float32 (see the module's note)."""
    if not bool(getattr(vae.config, "force_upcast", True)):
        return False
    dtype = next(vae.parameters()).dtype
    return dtype == torch.float16 if decoding else dtype != torch.float32


@contextmanager
def vae_precision(vae: Any, decoding: bool) -> Iterator[torch.dtype]:
    """The dtype to feed ``vae`` for the block: float32 (the VAE cast for the block) where its
    config's ``force_upcast`` asks, else its own."""
    if not upcast(vae, decoding):
        yield next(vae.parameters()).dtype
        return
    with cast_for_call([vae], torch.float32):
        yield torch.float32


def encode(vae: Any, pixels: torch.Tensor, generator: torch.Generator, dtype: torch.dtype) -> torch.Tensor:
    """Pixels in [-1, 1] [B, 3, H, W] -> scaled latents in ``dtype`` (the model's): a sample of the
    posterior, its noise drawn from the CPU ``generator``."""
    with vae_precision(vae, decoding=False) as vae_dtype:
        posterior = vae.encode(pixels.to(next(vae.parameters()).device, vae_dtype)).latent_dist
        noise = torch.randn(posterior.mean.shape, generator=generator, dtype=torch.float32)
        latents = posterior.mean + posterior.std * noise.to(posterior.mean.device, posterior.mean.dtype)
        return (latents * vae.config.scaling_factor).to(dtype)


def decode(vae: Any, latents: torch.Tensor) -> torch.Tensor:
    """Scaled latents -> images in [-1, 1] [B, 3, H, W], float32."""
    with vae_precision(vae, decoding=True) as vae_dtype:
        return vae.decode(latents.to(vae_dtype) / vae.config.scaling_factor).sample.float()
