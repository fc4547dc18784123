"""Marigold-IID-Appearance v1.1's row (``ROW``, ``materials.material.MaterialRow``): where its files come
from, its spec, its folder's files and its measured run. It estimates albedo, roughness and metallicity
from one picture through diffusers' ``MarigoldIntrinsicsPipeline`` (``prs-eth/marigold-iid-appearance-v1-1``);
the material model (``--materials`` on, the default). Its replica is ``replica``'s, its code ``material``'s.

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

from typing import Any

from ...models.specs import ModelSpec
from ..material import MaterialBenchmark, MaterialMemory, MaterialRow

NAME = "marigold"
MARIGOLD_REPO = "prs-eth/marigold-iid-appearance-v1-1"
MARIGOLD_REVISION = "e7280a0a0fc5a0df0b36050882b3d8b77da22fd9"
# Parameters per part (see the module docstring), 2 bytes each in float16.
MARIGOLD_PARAMETERS = {"unet": 865.9e6, "vae": 83.65e6, "text_encoder": 340.39e6}
MARIGOLD_BYTES = int(sum(MARIGOLD_PARAMETERS.values()) * 2)

# Its folder, as diffusers' ``save_pretrained`` lays it out, with the ``fp16`` variant of each weights
# file (what is fetched and read; the module docstring says where the list comes from).
MARIGOLD_VARIANT = "fp16"
MARIGOLD_TOKENIZER_FILES = ("merges.txt", "special_tokens_map.json", "tokenizer_config.json", "vocab.json")
MARIGOLD_WEIGHTS = {"text_encoder": f"model.{MARIGOLD_VARIANT}.safetensors",
                    "unet": f"diffusion_pytorch_model.{MARIGOLD_VARIANT}.safetensors",
                    "vae": f"diffusion_pytorch_model.{MARIGOLD_VARIANT}.safetensors"}
MARIGOLD_FILES = ("model_index.json", "scheduler/scheduler_config.json",
                  *(f"{part}/{name}" for part, weights in MARIGOLD_WEIGHTS.items() for name in ("config.json", weights)),
                  *(f"tokenizer/{name}" for name in MARIGOLD_TOKENIZER_FILES))

MATERIALS_SPEC = ModelSpec(role="materials", repo_id=MARIGOLD_REPO, revision=MARIGOLD_REVISION,
                           allow_patterns=MARIGOLD_FILES, size_bytes=MARIGOLD_BYTES, exact_files=True,
                           options={"material": NAME})

# bench/results/materials-alone-cpu.json: Marigold-IID-Appearance on the 2-core AMD EPYC, float32, one view
# at its 768 px with two steps run, projected to one painted object (six views, its own 4 steps each):
# 3,108 s, measured while the add-on's tests shared the cores; the probe read 151 GFLOP/s before and
# 61.2 after (their mean taken). The earlier six-view run under lighter load (materials-cpu.json, its
# probe not recorded) took 936 s: against it this estimate reads long, toward asking.
# Its UNet's 4 steps were 0.36 of a view's seconds there (materials-side-cpu.json at 768 px: 4 x 14.9 s of
# 166.5 s; the rest the VAE's encoding and two decodings).
MARIGOLD_BENCHMARK = MaterialBenchmark(seconds=3107.8, gflops=106.1, published_bytes=MARIGOLD_BYTES, side=768,
                                       steps=4, step_share=0.36)
# Marigold v1.1's recipe (DDIM, trailing timesteps, zero terminal SNR): its checkpoints "produce reliable
# results with 1 to 4 steps" (diffusers' Marigold guide, "Available Checkpoints"); model_index.json says 4.
# The material step runs the fewest (``pipeline.MaterialsModel.fewest_steps``).
FEWEST_TRAILING_STEPS = 1

# Its activations (an SD-2 UNet over 4 x 3 latent channels, its VAE encoding the view and decoding two
# targets), one view at a time: a fixed part and bytes per processed pixel in float32. Measured on the
# CPU with the full-size replica (bench/full_size_models.py builds it; one step, a fresh process per size,
# peak resident set above the loaded model): 256 px 0.63 GB, 384 px 0.83 GB, 512 px 1.27 GB, about
# 3,800 B per pixel beyond a fixed ~0.3 GB; rounded up here. In float16 (CUDA) the per-pixel part is taken
# as half: an estimate, not measured (no GPU).
MARIGOLD_MEMORY = MaterialMemory(fixed_bytes=512 << 20, bytes_per_pixel=4_000)

ROW = MaterialRow(name=NAME, spec=MATERIALS_SPEC, tiny_folder="marigold-iid-appearance",
                  benchmark=MARIGOLD_BENCHMARK, memory=MARIGOLD_MEMORY, component="materials",
                  steps=FEWEST_TRAILING_STEPS)


def materials_dtype(device: Any) -> Any:
    """float16 on CUDA, float32 elsewhere (the module docstring says why)."""
    import torch

    return torch.float16 if getattr(device, "type", str(device)) == "cuda" else torch.float32
