"""AutoPartGen's random-weight replica in the real files' layout, for tests and cost measurements.

What it writes under ``dest`` (the loader, ``loader.load_autopartgen``, reads exactly these):

    autopartgen_dit.pth                      the DiT, ``{"model": state_dict}``
    autopartgen_dit_4096.pth                 the same DiT (its weights do not depend on the latent count)
    autopartgen_vae.pth                      the VAE, ``{"model": state_dict}``
    dinov2-with-registers-large/             DINOv2-L/14 with registers, transformers' ``save_pretrained``

The hub keeps the DINOv2 folder in a repository of its own; a replica is one folder (one manifest
entry), so it sits inside, named as that repository (``generator.PartsRow`` points the spec's source there).

Where each fact comes from:

* the file names: the release's configs (facebookresearch/AutoPartGen, ``configs/default.yaml``:
  ``checkpoints/autopartgen_dit.pth``, ``checkpoints/autopartgen_vae.pth``; ``default_4096.yaml``:
  ``checkpoints/autopartgen_dit_4096.pth``) and its README's download of ``facebook/autopartgen``.
* the wrapper: the release's loader reads ``ckpt["model"] if "model" in ckpt else ckpt``; a training
  checkpoint saved as ``{"model": ...}`` is what that branch is for, so the replica is written wrapped
  (the loader takes both, and a test loads an unwrapped one too).
* the key names: the release's module names (``dit``, ``vae``, ``blocks``: written from them here).
* the dtype: float32. Not verified: the hub cannot be reached from here and no public page gives the
  files' dtype; the release computes in bfloat16 under autocast, which a float32 file serves.
* DINOv2: the release fetches it through torch.hub; img23d reads transformers' folder of the same
  network (``facebook/dinov2-with-registers-large``), so the replica is that folder.

The 4,096-latent DiT of the full-size set is a hard link to the 2,048 one (same shapes and keys, no
second 5.6 GB of random numbers); the tiny set writes both for real, they are small.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ...env.torch_shims import prepare_torchvision
from ...models.replica_common import Size, check_size, seeded
from . import config as sizes
from .config import AutoPartGenConfig
from .dit import PartDiT
from .loader import DIT_FILES, VAE_FILE
from .vae import ShapeVAE

DINO_FOLDER = "dinov2-with-registers-large"
SEED = 64_000


def config(size: Size) -> AutoPartGenConfig:
    return sizes.full() if check_size(size) == "full" else sizes.tiny()


def _randomise(module: nn.Module) -> None:
    """Weights of the order real ones have (0.02 normal, norms at one), so activations stay finite."""
    for name, parameter in module.named_parameters():
        with torch.no_grad():
            if name.endswith("bias"):
                parameter.zero_()
            elif parameter.ndim == 1:
                parameter.fill_(1.0)
            else:
                parameter.normal_(0.0, 0.02)


def construct(dims: AutoPartGenConfig) -> dict[str, nn.Module]:
    """The DiT and the VAE as the loader builds them (under the meta device they are counted, not made)."""
    return {"dit": PartDiT(dims.dit), "vae": ShapeVAE(dims.vae)}


def _dino(dims: AutoPartGenConfig) -> Any:
    prepare_torchvision()  # transformers' model modules import its image processors, which import torchvision
    from transformers import Dinov2WithRegistersConfig, Dinov2WithRegistersModel

    return Dinov2WithRegistersModel(Dinov2WithRegistersConfig(**dims.conditioner.dino))


def build(dest: Path, dims: AutoPartGenConfig, seed: int = SEED) -> dict[str, Any]:
    """Write the replica at ``dest``; return its manifest entry (parameter counts per network)."""
    dest = Path(dest)
    folder = dest
    folder.mkdir(parents=True, exist_ok=True)
    counts = {}
    with seeded(seed):
        for name, module in construct(dims).items():
            _randomise(module)
            counts[name] = sum(p.numel() for p in module.parameters())
            target = folder / (DIT_FILES[2048] if name == "dit" else VAE_FILE)
            torch.save({"model": module.state_dict()}, target)
            del module
        dino = _dino(dims)
        counts["dino"] = sum(p.numel() for p in dino.parameters())
        dino.save_pretrained(dest / DINO_FOLDER, safe_serialization=True)
        del dino
    big, small = folder / DIT_FILES[4096], folder / DIT_FILES[2048]
    big.unlink(missing_ok=True)
    if counts["dit"] > 10_000_000:
        os.link(small, big)
    else:
        torch.save(torch.load(small, weights_only=True), big)
    return {"path": dest.name, "params": counts, "dtype": "float32", "wrapper": "model",
            "note": "random weights keyed as the release's modules; exercises loading, sampling and decoding, "
                    "not part quality"}
