"""Where the material model's files come from, and its specs: Marigold-IID-Appearance v1.1
(``prs-eth/marigold-iid-appearance-v1-1``), which estimates albedo, roughness and metallicity
from one picture through diffusers' ``MarigoldIntrinsicsPipeline``; ``MATERIALS_SPEC`` offers it,
``tiny_materials`` points at its tiny replica (``replicas/materials.py`` writes it).

Where each fact comes from (the hub cannot be reached from where this was written):

* The revision: public projects that download this very commit and check its files:
  github.com/NoobName/Image-to-Editable-Scene-Renderer, ``tools/reconstruction/pipeline/adapters/
  marigold_config.py`` (``MODEL_REVISION``, with the weights' sha256 checked before use), and
  github.com/jeboong/magidepth, ``backend/advanced_maps.py`` ("revisions and SHA-256 values were
  verified against the publishers' Hugging Face trees"); DESIGN.md ("Assets: facts checked for this
  round") names the same commit.
* The files: the first one's ``CONFIG_FILES`` and ``WEIGHT_HASHES`` (the ``fp16`` variant of the
  text encoder, UNet and VAE; the repository also holds the float32 originals, ~5 GB, which are
  not fetched): ``model_index.json``, ``scheduler/scheduler_config.json``, ``text_encoder/``
  (``config.json``, ``model.fp16.safetensors``), ``tokenizer/`` (``merges.txt``,
  ``special_tokens_map.json``, ``tokenizer_config.json``, ``vocab.json``), ``unet/`` and ``vae/``
  (``config.json``, ``diffusion_pytorch_model.fp16.safetensors``). Their sha256, the same in both
  projects: text encoder ``bc1827c4...``, UNet ``6c7ab00d...``, VAE ``3e4c0899...`` (downloads are
  checked against the hub's own digests: ``models/file_checks.py``).
* The licence: the model card (weights under CreativeML Open RAIL++-M, as both projects read it), the
  code (https://github.com/prs-eth/Marigold, README "License") under Apache-2.0, its LICENSE-MODEL.txt
  "OpenRAIL++-M ... based on the CreativeML Open RAIL-M license": ``img23d_protocol.licences``.
* The size: Stable Diffusion 2's UNet (865.9M parameters, conv_in widened to 12 channels and
  conv_out to 8 for two targets: https://github.com/prs-eth/Marigold, ``src/trainer/marigold_iid_trainer.py``), its
  VAE (83.7M) and OpenCLIP-H's text encoder (340.4M), in float16: 2.58 GB (decimal), the "2.5 GB"
  of issue 47. A public installer that fetches only these files reports ~2.58 GB.

It runs in float16 on CUDA (the variant's own dtype, as public recipes run it) and in float32
elsewhere: a CPU gains nothing from half precision, and upstream's own scripts run full precision
by default ("half precision ... might lead to suboptimal result", prs-eth/Marigold's
``script/iid/run.py``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ...models.folder_files import MARIGOLD_FILES
from ...models.specs import ModelSpec

MARIGOLD_REPO = "prs-eth/marigold-iid-appearance-v1-1"
MARIGOLD_REVISION = "e7280a0a0fc5a0df0b36050882b3d8b77da22fd9"
# Parameters per part (see the module docstring), 2 bytes each in float16.
MARIGOLD_PARAMETERS = {"unet": 865.9e6, "vae": 83.65e6, "text_encoder": 340.39e6}
MARIGOLD_BYTES = int(sum(MARIGOLD_PARAMETERS.values()) * 2)

MATERIALS_SPEC = ModelSpec(role="materials", repo_id=MARIGOLD_REPO, revision=MARIGOLD_REVISION,
                           allow_patterns=MARIGOLD_FILES, size_bytes=MARIGOLD_BYTES, exact_files=True)

# The tiny replica's folder below the tiny set's root, and its label.
TINY_MATERIALS = "marigold-iid-appearance"


def tiny_materials(root: Path) -> ModelSpec:
    """The material model's tiny replica under ``root``: the real folder's layout and files."""
    return ModelSpec(role="materials", repo_id="tiny/marigold-iid-appearance", local_path=Path(root) / TINY_MATERIALS,
                     allow_patterns=MARIGOLD_FILES, size_bytes=2 << 20, exact_files=True)


def materials_dtype(device: Any) -> Any:
    """float16 on CUDA, float32 elsewhere (the module docstring says why)."""
    import torch

    return torch.float16 if getattr(device, "type", str(device)) == "cuda" else torch.float32
