"""Where the texture model's files come from: three hub repositories, and the files read from each;
and the model's specs (``CLEAN_PAINT``, its tiny replica's ``tiny_clean_paint``), built from them.

Upstream (``Step1X3DTexturePipeline.prepare_ig2mv_pipeline``) assembles the model from:

* ``stabilityai/stable-diffusion-xl-base-1.0`` (CreativeML Open RAIL++-M): the UNet, both text
  encoders and tokenizers, and the scheduler's config, in diffusers' folder layout. Its own
  ``vae/`` is not read: upstream replaces it.
* ``madebyollin/sdxl-vae-fp16-fix`` (MIT): SDXL's VAE fine-tuned to decode in float16 without
  overflowing; the repository's root is the VAE folder (``config.json`` +
  ``diffusion_pytorch_model.safetensors``).
* ``stepfun-ai/Step1X-3D`` (Apache-2.0): ``Step1X-3D-Texture/step1x-3d-ig2v.safetensors``, the
  multiview adapter (attention processors and condition encoder), keyed as upstream's
  ``save_custom_adapter`` writes it.

The revisions are those public recipes pin (SDXL ``46216598``, the VAE ``207b116d``, Step1X-3D
``bf708449``, as the registry's geometry model). SDXL's folder has each weights file twice: the
float32 original and a ``.fp16`` variant of half the size; the variant is read by default (the
model runs in float16 on a GPU; on a CPU the float16 weights are widened, which loses nothing
they hold).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from img23d_protocol import CLEAN_PAINT_MODEL

from ...models.specs import ModelSpec

SDXL_REPO = "stabilityai/stable-diffusion-xl-base-1.0"
SDXL_REVISION = "462165984030d82259a11f4367a4eed129e94a7b"
VAE_REPO = "madebyollin/sdxl-vae-fp16-fix"
VAE_REVISION = "207b116dae70ace3637169f1ddd2434b91b3a8cd"
ADAPTER_REPO = "stepfun-ai/Step1X-3D"
ADAPTER_REVISION = "bf7084495b3a72222f36549b7942948aa4d9daa7"
ADAPTER_SUBFOLDER = "Step1X-3D-Texture"
ADAPTER_FILE = "step1x-3d-ig2v.safetensors"

# The licence-clean family's paint model (Step1X-3D's adapter over SDXL base 1.0) in float16, decimal
# GB: the UNet with the adapter's attention processors 6.77, the condition encoder 0.16, the text
# encoders 0.25 and 1.39, the fp16-fix VAE 0.17 (parameter counts x 2 bytes; the registry's estimate
# is their sum). Unlike Hunyuan's paint models these weights are counted by the job's preflight (models/preflight.py): the
# family runs on machines without a GPU, where 8.7 GB (17.5 GB in float32 on a CPU) decide.
CLEAN_PAINT_PARTS = {"UNet and adapter": 6.77e9, "condition encoder": 0.16e9, "text encoder": 0.25e9,
                     "text encoder 2": 1.39e9, "VAE": 0.17e9}
CLEAN_PAINT_BYTES = int(sum(CLEAN_PAINT_PARTS.values()))

DIFFUSERS_WEIGHTS = "diffusion_pytorch_model"   # + [.fp16].safetensors
TRANSFORMERS_WEIGHTS = "model"                   # + [.fp16].safetensors
TOKENIZER_FILES = ("merges.txt", "special_tokens_map.json", "tokenizer_config.json", "vocab.json")
DEFAULT_VARIANT = "fp16"


def weights_name(stem: str, variant: str | None) -> str:
    """diffusers' and transformers' file name for a weights file of ``variant`` (None: the original)."""
    return f"{stem}.{variant}.safetensors" if variant else f"{stem}.safetensors"


def sdxl_files(variant: str | None = DEFAULT_VARIANT) -> tuple[str, ...]:
    """The files of SDXL base the loader opens (what a download should fetch). Not its
    ``model_index.json``: the loader builds each part itself, so nothing reads the index (of its
    settings only ``force_zeros_for_empty_prompt`` bears on sampling, and only without a negative
    prompt: upstream always passes one)."""
    return ("scheduler/scheduler_config.json",
            "unet/config.json", f"unet/{weights_name(DIFFUSERS_WEIGHTS, variant)}",
            *(f"{part}/{name}" for part in ("text_encoder", "text_encoder_2")
              for name in ("config.json", weights_name(TRANSFORMERS_WEIGHTS, variant))),
            *(f"{part}/{name}" for part in ("tokenizer", "tokenizer_2") for name in TOKENIZER_FILES))


VAE_FILES = ("config.json", weights_name(DIFFUSERS_WEIGHTS, None))
ADAPTER_FILES = (f"{ADAPTER_SUBFOLDER}/{ADAPTER_FILE}",)


@dataclass(frozen=True)
class HubSource:
    """One repository the model is downloaded from: pinned, and only the files the loader opens."""

    repo_id: str
    revision: str
    files: tuple[str, ...]


def hub_sources(variant: str | None = DEFAULT_VARIANT) -> tuple[HubSource, HubSource, HubSource]:
    """SDXL base's, the fp16-fix VAE's and Step1X-3D's files, in ``TextureFolders.from_snapshots``' order."""
    return (HubSource(SDXL_REPO, SDXL_REVISION, sdxl_files(variant)),
            HubSource(VAE_REPO, VAE_REVISION, VAE_FILES),
            HubSource(ADAPTER_REPO, ADAPTER_REVISION, ADAPTER_FILES))


@dataclass(frozen=True)
class TextureFolders:
    """The three places the model is read from: SDXL base's folder, the fp16-fix VAE's folder, and
    the adapter's safetensors file; ``variant`` picks SDXL's weights files (``"fp16"`` or None)."""

    sdxl: Path
    vae: Path
    adapter: Path
    variant: str | None = DEFAULT_VARIANT

    @classmethod
    def from_snapshots(cls, sdxl: Path, vae: Path, step1x: Path, variant: str | None = DEFAULT_VARIANT
                       ) -> "TextureFolders":
        """From the three repositories' snapshot folders (the adapter inside Step1X-3D's)."""
        return cls(Path(sdxl), Path(vae), Path(step1x) / ADAPTER_SUBFOLDER / ADAPTER_FILE, variant)

    def check(self) -> None:
        """Refuse folders that lack a file the loader opens, naming every missing one."""
        missing = [str(self.sdxl / name) for name in sdxl_files(self.variant) if not (self.sdxl / name).is_file()]
        missing += [str(self.vae / name) for name in VAE_FILES if not (self.vae / name).is_file()]
        if not self.adapter.is_file():
            missing.append(str(self.adapter))
        if missing:
            raise FileNotFoundError(2, f"the Step1X-3D texture model is incomplete: {', '.join(missing)} missing",
                                    str(self.sdxl))


def _part(repo_id: str, files: tuple[str, ...], **where: Any) -> ModelSpec:
    """One repository of the model as a paint spec that lists exactly the files its loader opens."""
    return ModelSpec(role="paint", repo_id=repo_id, allow_patterns=files, paint_kind=CLEAN_PAINT_MODEL,
                     exact_files=True, **where)


# The licence-clean family's paint model as the registry offers it: the adapter's repository, with
# SDXL base's and the fp16-fix VAE's as its further sources (``ModelSpec.parts``), each pinned.
_SDXL, _VAE, _ADAPTER = hub_sources()
CLEAN_PAINT = _part(_ADAPTER.repo_id, _ADAPTER.files, revision=_ADAPTER.revision, subfolder=ADAPTER_SUBFOLDER,
                    size_bytes=CLEAN_PAINT_BYTES,
                    sources=tuple(_part(part.repo_id, part.files, revision=part.revision) for part in (_SDXL, _VAE)))

# Its tiny replica: the three repositories' folders side by side under one folder
# (families.step1x.texture.replica writes them), at views of 64 px (the tiny UNet's and VAE's multiple).
TINY_CLEAN_PAINT = "step1x-texture"


def tiny_clean_paint(root: Path) -> ModelSpec:
    """The clean paint model's tiny replica under ``root``, its three parts in their own folders."""
    folder = Path(root) / TINY_CLEAN_PAINT
    return _part("tiny/step1x-3d-texture", ADAPTER_FILES, local_path=folder / "Step1X-3D", subfolder=ADAPTER_SUBFOLDER,
                 size_bytes=4 << 20,
                 # Its 64-pixel views' latents are 8 pixels: a 128-texel sync texture keeps upstream's 16
                 # texels per latent pixel (1536 for 96) at a tenth of the work.
                 options={"view_size": 64, "sync_texture_size": 128},
                 sources=(_part("tiny/stable-diffusion-xl-base-1.0", sdxl_files(),
                                local_path=folder / "stable-diffusion-xl-base-1.0"),
                          _part("tiny/sdxl-vae-fp16-fix", VAE_FILES, local_path=folder / "sdxl-vae-fp16-fix")))
