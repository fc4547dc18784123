"""Hunyuan3D-2's facts (``families.facts.FamilyFacts``): its models' rows (shape, delight, paint),
their folders' files, its replicas' specs and how its shape stage's memory grows.

Data, not code: numbers, names and file lists, none of hy3dgen's code, so that the catalog and the
model list read them without importing the family (tests/test_clean_family_imports.py lets a
licence-clean job import this module and ``mv_specs``, and nothing else of this folder). The
multi-view shape models' rows live beside, in ``mv_specs``.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from img23d_protocol import HUNYUAN3D, PAINT_MODELS, SHAPE_MODELS, TINY_MV_MODEL, TINY_SHAPE_MODEL

from ...models.shape_memory import DENSE_GRID_MEMORY, ShapeMemory
from ...models.specs import ModelSpec
from ..facts import FamilyFacts, TinyModels
from ...models.specs import VIEWS_ROLE
from .mv_specs import MV_SHAPE, tiny_mv

GB = 1 << 30

# Every model the chain downloads is pinned to one commit (models/registry.py says why and how).
HUNYUAN3D_REVISIONS = {
    # rcarmo/go-pherence, scripts/hunyuan3d_mini_dino_header.py: reads hunyuan3d-dit-v2-mini's
    # config.yaml and model.fp16.safetensors at this commit (checking their digests).
    "tencent/Hunyuan3D-2mini": "f90a0f7df7d5e6f71109cf333f6a95a0ae3194a6",
    # thekaveh/atlas, services/comfyui/models.yaml: hunyuan3d-dit-v2-0/model.fp16.safetensors
    # resolved at this commit, with its size and sha256. The shape and texture folders share it.
    "tencent/Hunyuan3D-2": "9cd649ba6913f7a852e3286bad86bfa9a2d83dcf",
}

# FlashVDM's distilled VAE per repository, as upstream's enable_flashvdm() swaps it in for the
# whole family (turbo or not): its own config.yaml ({target, params}) and model.fp16.safetensors
# with unprefixed keys. It lives in the DiT's repository, so it is downloaded and pinned with it
# (the same snapshot, the same commit). Checked against upstream's code, not against the hub.
FLASHVDM_VAES = {"tencent/Hunyuan3D-2mini": "hunyuan3d-vae-v2-mini-turbo",
                 "tencent/Hunyuan3D-2": "hunyuan3d-vae-v2-0-turbo"}


def shape_file_names(subfolder: str, flashvdm_vae: str | None) -> tuple[str, ...]:
    """The files the shape loader opens: the DiT folder's, and its FlashVDM VAE's."""
    folders = (subfolder, flashvdm_vae) if flashvdm_vae else (subfolder,)
    return tuple(f"{folder}/{name}" for folder in folders for name in ("config.yaml", "model.fp16.safetensors"))


def _hunyuan(name: str, repo: str, subfolder: str, size_gb: float) -> ModelSpec:
    vae = FLASHVDM_VAES[repo]
    return ModelSpec(role="shape", repo_id=repo, revision=HUNYUAN3D_REVISIONS[repo], subfolder=subfolder,
                     allow_patterns=shape_file_names(subfolder, vae), size_bytes=int(size_gb * GB),
                     shape_kind=SHAPE_MODELS[name], flashvdm_vae=vae)


# Keyed by the protocol's shape model names: their kinds (steps, guidance) are decided there.
SHAPE = {name: _hunyuan(name, *where) for name, where in {
    # fp16: the DiT plus its 0.43 GB VAE, its 2.27 GB DINOv2-giant conditioner, and (an estimate:
    # the same transformer, a slimmer occupancy decoder) about 0.4 GB of FlashVDM VAE.
    "2mini": ("tencent/Hunyuan3D-2mini", "hunyuan3d-dit-v2-mini", 4.3),
    "2mini-turbo": ("tencent/Hunyuan3D-2mini", "hunyuan3d-dit-v2-mini-turbo", 4.3),
    "2.0": ("tencent/Hunyuan3D-2", "hunyuan3d-dit-v2-0", 5.3),
    "2.0-turbo": ("tencent/Hunyuan3D-2", "hunyuan3d-dit-v2-0-turbo", 5.3),
}.items()} | MV_SHAPE

PAINT_REPO = "tencent/Hunyuan3D-2"
DELIGHT_SUBFOLDER = "hunyuan3d-delight-v2-0"
PAINT_SUBFOLDER = "hunyuan3d-paint-v2-0"
PAINT_TURBO_SUBFOLDER = "hunyuan3d-paint-v2-0-turbo"


# A diffusers component's weights, as the paint loader reads them: never a pickle where the
# folder has the safetensors (at the pinned revision the paint UNet and VAE exist as both).
SAFETENSORS_WEIGHTS = "diffusion_pytorch_model.safetensors"
PICKLE_WEIGHTS = "diffusion_pytorch_model.bin"
PAINT_WEIGHTS = {"unet": SAFETENSORS_WEIGHTS, "vae": SAFETENSORS_WEIGHTS}
# The turbo folder at the pinned revision: its UNet as .safetensors (and a .bin twin, not
# fetched), its VAE only as .bin. Where upstream's code reads files this folder cannot show, the
# list comes from a public installer pinned to the same commit (9cd649ba; its model table's
# "hunyuan3d-2-paint-turbo" entry checks unet/diffusion_pytorch_model.safetensors, sha256
# d6acffa4..., and vae/diffusion_pytorch_model.bin by the digest below, ignoring the UNet's .bin).
# The VAE pickle is checked against that digest before torch.load(weights_only=True) reads it.
PAINT_TURBO_WEIGHTS = {"unet": SAFETENSORS_WEIGHTS, "vae": PICKLE_WEIGHTS}
PAINT_TURBO_VAE_SHA256 = "1b4889b6b1d4ce7ae320a02dedaeff1780ad77d415ea0d744b476155c6377ddc"


def paint_files(subfolder: str, weights: dict[str, str]) -> tuple[str, ...]:
    """Exactly the files the paint loader opens (no wildcard: a ``*`` fetched both weight formats,
    3.7 GB never read). ``weights`` names each component's weights file: a folder whose component
    exists only as ``.bin`` names that file there."""
    return (f"{subfolder}/model_index.json", f"{subfolder}/scheduler/scheduler_config.json",
            *(f"{subfolder}/{part}/{name}" for part in ("unet", "vae") for name in ("config.json", weights[part])))


def _paint(name: str, subfolder: str, size_gb: float, weights: dict[str, str] = PAINT_WEIGHTS,
           sha256: dict[str, str] | None = None) -> ModelSpec:
    # Only what the loader reads: the pipeline never encodes a prompt, so the paint folder's
    # text encoder and tokenizer (and the turbo folder's image encoder) are neither downloaded
    # nor loaded. sha256: the pickles' digests, checked before they are read.
    options: dict[str, Any] = {"view_size": 512}  # the size it was trained at
    if sha256:
        options["sha256"] = sha256
    return ModelSpec(role="paint", repo_id=PAINT_REPO, revision=HUNYUAN3D_REVISIONS[PAINT_REPO], subfolder=subfolder,
                     allow_patterns=paint_files(subfolder, weights), size_bytes=int(size_gb * GB),
                     paint_kind=PAINT_MODELS[name], options=options)


# The delight folder at the pinned revision has safetensors for every component with weights
# (text encoder, UNet, VAE: an installer pinned to 9cd649ba checks each by its sha256), and the
# loader asks diffusers for safetensors only: its configs, tokenizer and safetensors, no pickle.
DELIGHT = ModelSpec(role="delight", repo_id=PAINT_REPO, revision=HUNYUAN3D_REVISIONS[PAINT_REPO],
                    subfolder=DELIGHT_SUBFOLDER,
                    allow_patterns=tuple(f"{DELIGHT_SUBFOLDER}/{pattern}" for pattern in
                                         ("*.json", "*/*.json", "*/*.txt", "*/*.safetensors")),
                    size_bytes=int(2.6 * GB), brought_by=HUNYUAN3D)
# Two SD-2.1-sized UNets (generation + reference stream) and a VAE, fp16; the turbo model has the
# same architecture (distilled weights), run by img23d's own loop (families/hunyuan3d/turbo.py).
PAINT = {
    "2.0-turbo": _paint("2.0-turbo", PAINT_TURBO_SUBFOLDER, 4.0, PAINT_TURBO_WEIGHTS,
                        sha256={f"vae/{PICKLE_WEIGHTS}": PAINT_TURBO_VAE_SHA256}),
    "2.0": _paint("2.0", PAINT_SUBFOLDER, 4.0),
}
PAINT_SUBFOLDERS = {"2.0-turbo": PAINT_TURBO_SUBFOLDER, "2.0": PAINT_SUBFOLDER}
PAINT_WEIGHT_FILES = {"2.0-turbo": PAINT_TURBO_WEIGHTS, "2.0": PAINT_WEIGHTS}


def tiny_models(root: Path, paint: str, shape: str | None) -> TinyModels:
    """Its replicas: the shape model's (the views model's where ``shape`` chose it for every name),
    the delight model's and the paint model ``paint`` picks (both paint models' are built), in the
    real folders and with the real files (a local replica names no digest: it was made here)."""
    views = tiny_mv(root)
    tiny_shape = views if shape == TINY_MV_MODEL else ModelSpec(
        role="shape", repo_id="tiny/hunyuan3d", local_path=root / "hunyuan3d", subfolder="hunyuan3d-dit-v2-mini",
        size_bytes=8 << 20, shape_kind=SHAPE_MODELS[TINY_SHAPE_MODEL],
        allow_patterns=shape_file_names("hunyuan3d-dit-v2-mini", FLASHVDM_VAES["tencent/Hunyuan3D-2mini"]),
        flashvdm_vae=FLASHVDM_VAES["tencent/Hunyuan3D-2mini"])
    kind = tiny_shape.shape_kind
    # The 2mv replica shapes the names with views, unless --shape tiny-mv chose it for all.
    shape_views = None if kind is None or kind.views or kind.views_model is None else replace(views, role=VIEWS_ROLE)
    return TinyModels(
        shape=tiny_shape, shape_views=shape_views,
        delight=ModelSpec(role="delight", repo_id="tiny/hunyuan3d-paint", local_path=root / "hunyuan3d-paint",
                          subfolder=DELIGHT_SUBFOLDER, size_bytes=2 << 20, brought_by=HUNYUAN3D),
        paint=ModelSpec(role="paint", repo_id="tiny/hunyuan3d-paint", local_path=root / "hunyuan3d-paint",
                        subfolder=PAINT_SUBFOLDERS[paint],
                        allow_patterns=paint_files(PAINT_SUBFOLDERS[paint], PAINT_WEIGHT_FILES[paint]),
                        size_bytes=10 << 20, paint_kind=PAINT_MODELS[paint], options={"view_size": 64}))


# Its shape stage is hy3dgen's dense volume decoding, the one the preflight's grid figures were measured on.
HUNYUAN_MEMORY = DENSE_GRID_MEMORY
# Hunyuan3D-2mv (names with views): the same volume decoding; its DiT attends over its 3072 latents
# joined with up to four views' 1370 DINO tokens each (8552 against the single-view 2.0's 4442, about
# 1.9 times), so twice the single-view estimate per image. Derived from the configs, not measured.
HUNYUAN_MV_MEMORY = replace(DENSE_GRID_MEMORY, dit_per_image=2 * DENSE_GRID_MEMORY.dit_per_image)


def _shape_precision(device: Any) -> None:
    return None  # hy3dgen's pipeline runs in the loader's dtype (``models.dtypes.working_dtype``)


def _shape_memory(precision: Any, parameters: int) -> ShapeMemory:
    return HUNYUAN_MEMORY


FACTS = FamilyFacts(name=HUNYUAN3D, rows={"shape": SHAPE, "delight": {"2.0": DELIGHT}, "paint": PAINT},
                    texture=lambda paint: (DELIGHT, PAINT[paint]), tiny=tiny_models,
                    shape_precision=_shape_precision, shape_memory=_shape_memory, views_memory=HUNYUAN_MV_MEMORY,
                    paint_choices=tuple(PAINT))
