"""The Hunyuan3D-2mv shape replica: ``config.yaml`` and ``model.fp16.safetensors`` as hy3dgen reads them.

The real folders (``hunyuan3d-dit-v2-mv``, ``-fast``, ``-turbo``; ``mv_specs.py`` says
where their facts come from) hold the single-view layout with three changes, read in the public copy
of ``hunyuan3d-dit-v2-mv-fast/config.yaml``: the conditioner's encoder is ``DinoImageEncoderMV``
(DINOv2-giant at 518 px, ``view_num`` left at its default 4: a sin-cos embedding of the view's index
added to each of its tokens, which holds no weights), the image processor is ``MVImageProcessorV2``
(size 512, border ratio 0.15), and the sizes are Hunyuan3D-2's (DiT depth 16 + 32 single blocks,
3072 latents, VAE scale factor 0.9990943042622529). The checkpoint's keys are the single-view ones
(the view embedding is computed, not stored), so ``shape_replica.build`` writes it from this config.

Variants: the -fast config has ``guidance_embed: true`` with the flow-matching Euler scheduler; the
base model ``guidance_embed: false``; the turbo one (inferred, as 2.0-turbo's differs from 2.0's)
``guidance_embed: true`` and the consistency scheduler made for 5 steps.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from ...models.replica_common import Size, check_size, prepare_imports
from . import shape_replica
from .shape_replica import ShapeDims

VARIANTS = ("mv", "mv-fast", "mv-turbo")

TINY = replace(shape_replica.TINY, seed=4567)
# Hunyuan3D-2's sizes (the -fast config above): 1.1B DiT, DINOv2-giant, 3072 latents.
FULL = replace(shape_replica.FULL, seed=17_000, depth=16, single_blocks=32, latents=3072,
               vae_scale_factor=0.9990943042622529)


def config(size: Size) -> ShapeDims:
    return {"tiny": TINY, "full": FULL}[check_size(size)]


def mv_config(dims: ShapeDims, variant: str = "mv") -> dict[str, Any]:
    """The 2mv folder's config.yaml at ``dims``' sizes, for ``variant`` (one of ``VARIANTS``)."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown 2mv variant {variant!r}; one of {', '.join(VARIANTS)}")
    config_ = shape_replica.hunyuan_config(replace(dims, turbo=variant == "mv-turbo"))
    config_["model"]["params"]["guidance_embed"] = variant != "mv"
    encoder = config_["conditioner"]["params"]["main_image_encoder"]
    encoder["type"] = "DinoImageEncoderMV"
    encoder["kwargs"] = {"config": encoder["kwargs"]["config"], "image_size": dims.dino_image_size}
    config_["image_processor"]["target"] = "hy3dgen.shapegen.preprocessors.MVImageProcessorV2"
    return config_


def build(folder: Path, dims: ShapeDims, variant: str = "mv") -> dict[str, Any]:
    """Write the 2mv folder ``folder`` (config.yaml, model.fp16.safetensors); the manifest entry."""
    name = "hunyuan3d-dit-v2-" + variant
    return {**shape_replica.build(folder, dims, mv_config(dims, variant), architecture=f"Hunyuan3D-2mv ({name})"),
            "note": "random weights in hunyuan3d-dit-v2-mv's layout; the VAE occupancy decoder is biased to a "
                    "latent-perturbed blob so surface extraction yields a mesh"}


def construct(dims: ShapeDims, variant: str = "mv-turbo") -> dict[str, Any]:
    """The DiT, VAE and image encoder, in the current device context (the meta device counts them)."""
    prepare_imports()
    from hy3dgen.shapegen.pipelines import instantiate_from_config

    config_ = mv_config(dims, variant)
    return {part: instantiate_from_config(config_[part]) for part in shape_replica.PARTS}
