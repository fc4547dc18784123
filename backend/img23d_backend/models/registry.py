"""Which models the chain uses: ids, pinned revisions, sizes, and the named model sets.

A model set picks one model per role (grounding, matting, shape) plus the two texture models
(``PAINT_ROLES``: delight, paint), kept apart so the manager can place them separately, and the
depth model that places the objects (``depth``; a set without one lays objects out by their boxes) and
the material model that estimates roughness and metallic maps from painted views (``materials``), and
the image editor that fills in the hidden parts of an object's crop (``editor``).
``tiny`` points at the random-weight replicas built offline by ``img23d_backend.replicas``;
every other set names Hugging Face repositories that are downloaded on first use.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable

from img23d_protocol import (CLEAN, DEFAULT_FAMILY, DEFAULT_PAINT_MODEL, HUNYUAN3D, PAINT_MODELS,
                             SHAPE_MODELS, TINY_MV_MODEL, TINY_SHAPE_MODEL, TINY_STEP1X_LABEL_MODEL, ErrorCode,
                             ProtocolError, ShapeModelKind, model_family)

from .folder_files import STEP1X_FILES, STEP1X_LABEL_FILES
# The image editors (fill in the hidden parts of an object's crop) and the material models (roughness
# and metallicity from a painted view) live in their rooms, each with its pinned files and the facts'
# sources; the model sets take their rows from the rooms' tables.
from ..editors.table import DEFAULT_EDITOR, EDITOR_ROWS, tiny_editor
from ..materials.table import DEFAULT_MATERIALS, MATERIAL_ROWS
# The specs' types live in their own module; imported here, where the rest of the backend finds them.
from .specs import ROLES, ModelSet, ModelSpec  # noqa: F401
# The licence-clean family's paint model (Step1X-3D's multiview adapter, the same commit as its
# geometry, over SDXL base 1.0, decoded by the fp16-fix VAE; 8.74 GB in fp16) lives with its three
# repositories' pinned file lists; found here too.
from .texture_folders import CLEAN_PAINT, TINY_CLEAN_PAINT, tiny_clean_paint  # noqa: F401
# Hunyuan3D-2mv (shape from an object's views): its three DiTs, pinned, and which one shapes the
# names with views of a chosen model.
from .views_models import MV_SHAPE, VIEWS_ROLE, tiny_mv, views_spec  # noqa: F401

# The texture models: both live in tencent/Hunyuan3D-2 as diffusers folders (model_index.json).
PAINT_ROLES = ("delight", "paint")
# The models every family shares that neither find nor make the objects: depth places them;
# materials estimates roughness and metallic maps from painted views; editor fills in the hidden
# parts of a crop (registered with each job's manager, but no job loads it yet).
SCENE_ROLES = ("depth", "materials", "editor")

# Every model the chain downloads is pinned to one commit: a repository's `main` moves, and a
# new commit may change the files (or, for BiRefNet, the code) under a working install. The
# hub cannot be reached from where this was written, so each hash below was taken from public
# code that downloads or loads that very commit, named beside it.

# BiRefNet ships its architecture as remote code: pin the exact commit we trust to run.
BIREFNET_REVISION = "26e7919b869d089e5096e898c0492898f935604c"
QWEN3_VL_REVISIONS = {
    # birdhackor/tiny-perceptron-vlm, docs/technical-reviews/artifacts/natural-v4-factual/R.4/
    # retrieval-receipts.json: config.json and README.md retrieved from the hub at this commit.
    "2B": "89644892e4d85e24eaac8bacfd4f463576704203",
    # MINTPIPERAS/FloraQwen, logs/download_single.ps1: its two weight shards, checked against the
    # hub's file tree at this commit.
    "4B": "ebb281ec70b05090aa6165b016eac8ec08e71b17",
    # zhangruotian/SelectGround, train.py: from_pretrained("Qwen/Qwen3-VL-8B-Instruct", revision=...).
    "8B": "0c351dd01ed87e9c1b53cbc748cba10e6187ff3b",
}
HUNYUAN3D_REVISIONS = {
    # rcarmo/go-pherence, scripts/hunyuan3d_mini_dino_header.py: reads hunyuan3d-dit-v2-mini's
    # config.yaml and model.fp16.safetensors at this commit (checking their digests).
    "tencent/Hunyuan3D-2mini": "f90a0f7df7d5e6f71109cf333f6a95a0ae3194a6",
    # thekaveh/atlas, services/comfyui/models.yaml: hunyuan3d-dit-v2-0/model.fp16.safetensors
    # resolved at this commit, with its size and sha256. The shape and texture folders share it.
    "tencent/Hunyuan3D-2": "9cd649ba6913f7a852e3286bad86bfa9a2d83dcf",
}

# depth-anything/Depth-Anything-V2-Small-hf (Apache-2.0; the Base/Large/Giant weights are
# CC-BY-NC-4.0, so only Small is offered). Pinned by several public projects' model tables
# together with its model.safetensors (99,173,660 bytes, sha256 3152477ce0d8d697...); one prints
# the loaded config's "_commit_hash" as this value.
DEPTH_ANYTHING_V2_SMALL_REVISION = "5426e4f0f36572d16453bbda7a8389317b1bef99"

GB = 1 << 30
MB = 1 << 20

# Qwen3-VL reads 16-pixel patches merged 2x2: one visual token per 32x32 pixels, and its image
# processor snaps both sides to multiples of 32 (transformers' Qwen2VLImageProcessor: factor =
# patch_size * merge_size; Qwen2-VL's was 14 * 2 = 28). The picture is shrunk to this many tokens.
QWEN3_VL_GRID = 32
GROUNDING_MAX_PIXELS = 1280 * QWEN3_VL_GRID * QWEN3_VL_GRID


def _qwen(size: str, params_b: float) -> ModelSpec:
    return ModelSpec(role="grounding", repo_id=f"Qwen/Qwen3-VL-{size}-Instruct", revision=QWEN3_VL_REVISIONS[size],
                     allow_patterns=("*.json", "*.safetensors", "*.txt", "*.jinja", "merges.txt",
                                     "vocab.json"),
                     size_bytes=int(params_b * 2 * GB),
                     # The cap on an answer: stages.grounding.ANSWER_TOKEN_CAP (a dozen boxes of each of
                     # 32 names); each job's budget comes from its names, and generation stops at the end.
                     options={"max_new_tokens": 40_960, "max_pixels": GROUNDING_MAX_PIXELS})


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


def _in(subfolder: str, names: tuple[str, ...]) -> tuple[str, ...]:
    """``names`` inside ``subfolder``, as a spec's allow_patterns name them."""
    return tuple(f"{subfolder}/{name}" for name in names)


def _hunyuan(name: str, repo: str, subfolder: str, size_gb: float) -> ModelSpec:
    vae = FLASHVDM_VAES[repo]
    return ModelSpec(role="shape", repo_id=repo, revision=HUNYUAN3D_REVISIONS[repo], subfolder=subfolder,
                     allow_patterns=shape_file_names(subfolder, vae), size_bytes=int(size_gb * GB),
                     shape_kind=SHAPE_MODELS[name], flashvdm_vae=vae)


GROUNDING = {"2b": _qwen("2B", 2.2), "4b": _qwen("4B", 4.4), "8b": _qwen("8B", 8.8)}
MATTING = {
    "birefnet": ModelSpec(role="matting", repo_id="ZhengPeng7/BiRefNet", revision=BIREFNET_REVISION,
                          allow_patterns=("*.py", "*.json", "model.safetensors"),
                          size_bytes=int(0.45 * GB), trust_remote_code=True,
                          # Its remote code's decoder calls torchvision.ops.deform_conv2d.
                          probes=("deform_conv2d",)),
}
# Keyed by the protocol's shape model names: their kinds (steps, guidance) are decided there.
SHAPE = {name: _hunyuan(name, *where) for name, where in {
    # fp16: the DiT plus its 0.43 GB VAE, its 2.27 GB DINOv2-giant conditioner, and (an estimate:
    # the same transformer, a slimmer occupancy decoder) about 0.4 GB of FlashVDM VAE.
    "2mini": ("tencent/Hunyuan3D-2mini", "hunyuan3d-dit-v2-mini", 4.3),
    "2mini-turbo": ("tencent/Hunyuan3D-2mini", "hunyuan3d-dit-v2-mini-turbo", 4.3),
    "2.0": ("tencent/Hunyuan3D-2", "hunyuan3d-dit-v2-0", 5.3),
    "2.0-turbo": ("tencent/Hunyuan3D-2", "hunyuan3d-dit-v2-0-turbo", 5.3),
}.items()} | MV_SHAPE

# stepfun-ai/Step1X-3D (Apache-2.0): public recipes of September 2026 pin it at this commit (then
# the repository's head) for its geometry, label-geometry and texture folders. No public source
# lists its files' digests: the folder's own file list (upstream's pipeline and installers that
# fetch "Step1X-3D-Geometry-1300m/*") decides what is fetched.
STEP1X_REPO = "stepfun-ai/Step1X-3D"
STEP1X_REVISION = "bf7084495b3a72222f36549b7942948aa4d9daa7"
STEP1X_GEOMETRY = "Step1X-3D-Geometry-1300m"
# At 16 bits per parameter (bf16 or fp16): the 1.3B denoiser, DINOv2-large with registers (0.3B) and
# the VAE's decoder half (0.12B; its training encoder is not loaded). On disk the folder is float32,
# ~7.3 GB. The dtype it runs in depends on the device (dtypes.step1x_precision: fp32 on a CPU or an
# Apple GPU, twice this); the preflight scales this estimate to it (jobs/context.py shape_weights).
SHAPE["step1x"] = ModelSpec(role="shape", repo_id=STEP1X_REPO, revision=STEP1X_REVISION, subfolder=STEP1X_GEOMETRY,
                            allow_patterns=_in(STEP1X_GEOMETRY, STEP1X_FILES),
                            size_bytes=int(3.5 * GB), shape_kind=SHAPE_MODELS["step1x"], exact_files=True)
# The Label model (same repository and commit; symmetry and edge labels). Its training config's
# table: VAE 191M, visual 731M (DINOv2-large 304M + the whole CLIP ViT-L/14 428M), label 8.2K,
# denoiser 1.3B. At 16 bits as loaded (no VAE encoder, CLIP's vision tower only): ~4.1 GB.
STEP1X_LABEL_GEOMETRY = "Step1X-3D-Geometry-Label-1300m"
SHAPE["step1x-label"] = ModelSpec(role="shape", repo_id=STEP1X_REPO, revision=STEP1X_REVISION,
                                  subfolder=STEP1X_LABEL_GEOMETRY,
                                  allow_patterns=_in(STEP1X_LABEL_GEOMETRY, STEP1X_LABEL_FILES),
                                  size_bytes=int(4.1 * GB), shape_kind=SHAPE_MODELS["step1x-label"], exact_files=True)

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

# Relative depth (disparity) from one picture: where each object stands. 24.8 M parameters.
DEPTH = {
    "da2-small": ModelSpec(role="depth", repo_id="depth-anything/Depth-Anything-V2-Small-hf",
                           revision=DEPTH_ANYTHING_V2_SMALL_REVISION,
                           allow_patterns=("config.json", "preprocessor_config.json", "model.safetensors"),
                           size_bytes=100 * MB),
}

DEFAULT_GROUNDING = "2b"
DEFAULT_MATTING = "birefnet"
# Turbo: made for 5 steps (its kind's own), the fast path with FlashVDM decoding.
DEFAULT_SHAPE = "2mini-turbo"
# Turbo: 10 steps without a guidance batch, upstream's default paint model since April 2025.
DEFAULT_PAINT = DEFAULT_PAINT_MODEL
DEFAULT_DEPTH = "da2-small"
# Keyed as the other roles' tables, by the rooms' choice names (``models download editor/<name>``).
MATERIALS = {name: row.spec for name, row in MATERIAL_ROWS.items()}
EDITORS = {name: row.spec for name, row in EDITOR_ROWS.items()}
MODEL_SET_NAMES = ("default", "tiny")


# The replicas' folder layout (img23d_backend.replicas builds it); 2: adds the paint replica;
# 5: the depth replica, and the grounding replica's answer comes from a lookup in its last layer
# (as at full size); 3 and 4 named branches' formats; 6: the shape replica's occupancy is
# near-binary, as FlashVDM's pruning expects of a trained decoder; 7: the paint replica's UNet and
# VAE weights both as .bin and .safetensors, as the real folder has them, and the shape replica's
# FlashVDM VAE (hunyuan3d/hunyuan3d-vae-v2-mini-turbo/, its own weights and a slimmer decoder);
# 8: the turbo paint replica (hunyuan3d-paint/hunyuan3d-paint-v2-0-turbo/, its VAE only as .bin);
# 9: Step1X-3D's geometry (step1x-3d/Step1X-3D-Geometry-1300m/), the licence-clean family's shape model;
# 10: the turbo paint replica's VAE is written as the real one (SD 2.x pickle, float32, legacy attention names)
# 11: Step1X-3D's Label model (step1x-3d/Step1X-3D-Geometry-Label-1300m/), chosen by --shape step1x-label
# 12: the clean family's paint model (step1x-texture/: SDXL base, the fp16-fix VAE, Step1X-3D's adapter)
# 13: the Label replica 64 wide with a two-layer CLIP whose sizes the loader reads from the weights,
#     its clip_type as the real file most likely has it, no visual_encoder/clip/ folder; SDXL's
#     model_index.json no longer written (nothing reads it)
# 14: the material model's replica (its published folder's layout)
# 15: the image editor's replica (the default editor's folder)
# 16: the large image editor's replica (its published folder's layout)
# 17: Hunyuan3D-2mv's replica (hunyuan3d-mv/hunyuan3d-dit-v2-mv/: the shape model of names with views)
TINY_FORMAT: int = 17


def default_tiny_root() -> Path:
    """Where the replicas live: ``$IMG23D_TINY_MODELS`` or a per-format user cache folder."""
    env = os.environ.get("IMG23D_TINY_MODELS")
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "img23d" / "tiny-models" / f"v{TINY_FORMAT}"


def tiny_model_set(root: Path, paint: str = DEFAULT_PAINT, family: str = DEFAULT_FAMILY,
                   shape: str | None = None, editor: str = DEFAULT_EDITOR) -> ModelSet:
    """The offline replicas under ``root`` (see ``img23d_backend.replicas``), loaded by the same code;
    ``paint`` picks the paint model's replica (both are built), ``family`` the shape model's, a
    ``shape`` that takes labels (the Label model, or its tiny name) the Label model's replica, and
    ``editor`` the image editor's (both are built)."""
    for role, choice, table in (("paint", paint, PAINT), ("editor", editor, EDITORS)):
        if choice not in table:
            raise ProtocolError(ErrorCode.BAD_REQUEST,
                                f"unknown {role} model {choice!r}; choose from {', '.join(table)}")
    return replace(TINY_SETS[model_family(family).name](root, paint, shape), editor=tiny_editor(root, editor))


def _tiny_step1x_set(root: Path, paint: str, shape: str | None) -> ModelSet:
    """The clean family's: the Step1X-3D geometry replica (the Label model's for a ``shape`` that
    takes labels) and the clean paint model's, beside the shared models' replicas."""
    chosen = model_family(CLEAN)
    label = shape in SHAPE_MODELS and SHAPE_MODELS[shape].labels and SHAPE_MODELS[shape].family == chosen.name
    subfolder, files = (STEP1X_LABEL_GEOMETRY, STEP1X_LABEL_FILES) if label else (STEP1X_GEOMETRY, STEP1X_FILES)
    return replace(_tiny_hunyuan_set(root, paint, None), name="tiny", delight=None, paint=tiny_clean_paint(root),
                   shape_views=None,
                   shape=ModelSpec(role="shape", repo_id="tiny/step1x-3d", local_path=root / "step1x-3d",
                                   subfolder=subfolder, size_bytes=2 << 20, allow_patterns=_in(subfolder, files),
                                   exact_files=True,
                                   shape_kind=SHAPE_MODELS[TINY_STEP1X_LABEL_MODEL if label else chosen.tiny_shape]))


def _tiny_hunyuan_set(root: Path, paint: str, shape: str | None) -> ModelSet:
    """Hunyuan3D-2's: its shape, delight and paint replicas (``paint`` picks which paint model's),
    beside the shared models' (grounding, matting, depth: every tiny set has these)."""
    tiny_shape = tiny_mv(root) if shape == TINY_MV_MODEL else ModelSpec(
        role="shape", repo_id="tiny/hunyuan3d", local_path=root / "hunyuan3d", subfolder="hunyuan3d-dit-v2-mini",
        size_bytes=8 << 20, shape_kind=SHAPE_MODELS[TINY_SHAPE_MODEL],
        flashvdm_vae=FLASHVDM_VAES["tencent/Hunyuan3D-2mini"])
    return ModelSet(
        name="tiny",
        grounding=ModelSpec(role="grounding", repo_id="tiny/qwen3-vl", local_path=root / "qwen3-vl",
                            size_bytes=8 << 20, options={"max_new_tokens": 40_960, "max_pixels": 256 * 256}),
        matting=ModelSpec(role="matting", repo_id="tiny/birefnet", local_path=root / "birefnet",
                          revision=BIREFNET_REVISION, size_bytes=1 << 20, trust_remote_code=True),
        shape=tiny_shape,
        shape_views=views_spec(tiny_shape, root),  # the 2mv replica, unless --shape tiny-mv chose it for all
        delight=ModelSpec(role="delight", repo_id="tiny/hunyuan3d-paint", local_path=root / "hunyuan3d-paint",
                          subfolder=DELIGHT_SUBFOLDER, size_bytes=2 << 20, brought_by=HUNYUAN3D),
        # Replicas of both paint models, in the real folders and with the real files (a local
        # replica names no digest: it was made here, not downloaded).
        paint=ModelSpec(role="paint", repo_id="tiny/hunyuan3d-paint", local_path=root / "hunyuan3d-paint",
                        subfolder=PAINT_SUBFOLDERS[paint],
                        allow_patterns=paint_files(PAINT_SUBFOLDERS[paint], PAINT_WEIGHT_FILES[paint]),
                        size_bytes=10 << 20, paint_kind=PAINT_MODELS[paint], options={"view_size": 64}),
        depth=ModelSpec(role="depth", repo_id="tiny/depth-anything", local_path=root / "depth-anything",
                        size_bytes=1 << 20),
        materials=MATERIAL_ROWS[DEFAULT_MATERIALS].tiny_spec(root),
        editor=tiny_editor(root),
    )


def shape_kind(spec: ModelSpec) -> ShapeModelKind:
    """A shape model's kind; every shape spec has one (a spec without is the registry's fault)."""
    if spec.shape_kind is None:
        raise ValueError(f"{spec.display} has no shape kind: give its ModelSpec one of img23d_protocol.SHAPE_MODELS")
    return spec.shape_kind


def shape_steps(spec: ModelSpec, asked: int) -> int:
    """The denoising steps a job runs on ``spec``: ``asked``, or (0) the model's own. The one
    place the backend decides them."""
    return shape_kind(spec).steps_for(asked)


def paint_steps(spec: ModelSpec, asked: int) -> int:
    """The multiview denoising steps a job runs on ``spec``: ``asked`` (at most the model's most),
    or (0) the model's own. The one place the backend decides them."""
    if spec.paint_kind is None:
        raise ValueError(f"{spec.display} has no paint kind: give its ModelSpec one of img23d_protocol.PAINT_MODELS")
    return spec.paint_kind.steps_for(asked)


def model_set(name: str, grounding: str = DEFAULT_GROUNDING, matting: str = DEFAULT_MATTING,
              shape: str | None = None, tiny_root: Path | None = None,
              paint: str = DEFAULT_PAINT, depth: str = DEFAULT_DEPTH, family: str | None = None,
              materials: str = DEFAULT_MATERIALS, editor: str = DEFAULT_EDITOR) -> ModelSet:
    """Resolve a model-set name (and per-role choices for real sets) into specs. ``family``
    decides the shape model (``shape`` may pick another of the same family; without a family,
    the shape model's decides) and its texture models: Hunyuan3D-Paint's delight and paint models, or
    the licence-clean family's one paint model (no delight: upstream's chain has none)."""
    if family is None:
        family = shape_kind(SHAPE[shape]).family if shape in SHAPE else DEFAULT_FAMILY
    chosen = model_family(family)
    if name == "tiny":
        return tiny_model_set(tiny_root or default_tiny_root(), paint=paint, family=family, shape=shape, editor=editor)
    if name != "default":
        raise ProtocolError(ErrorCode.BAD_REQUEST,
                            f"unknown model set {name!r}; choose from {', '.join(MODEL_SET_NAMES)}")
    shape = shape or chosen.shape
    in_family = [n for n, spec in SHAPE.items() if shape_kind(spec).family == chosen.name]
    if shape in SHAPE and shape not in in_family:
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"shape model {shape!r} is not in the family {chosen.name!r} "
                            f"({chosen.label}); choose from {', '.join(in_family)}")
    for role, choice, table in (("grounding", grounding, GROUNDING), ("matting", matting, MATTING),
                                ("shape", shape, SHAPE), ("paint", paint, PAINT), ("depth", depth, DEPTH),
                                ("materials", materials, MATERIALS), ("editor", editor, EDITORS)):
        if choice not in table:
            raise ProtocolError(ErrorCode.BAD_REQUEST,
                                f"unknown {role} model {choice!r}; choose from {', '.join(table)}")
    delight, paint_spec = TEXTURE_MODELS[chosen.name](paint)
    return ModelSet(name="default", grounding=GROUNDING[grounding], matting=MATTING[matting],
                    shape=SHAPE[shape], delight=delight, paint=paint_spec, depth=DEPTH[depth],
                    materials=MATERIALS[materials], editor=EDITORS[editor], shape_views=views_spec(SHAPE[shape]))


# Each family's texture models in a real set, by the --paint choice: (delight, paint). Hunyuan3D-2's
# are its delight model and the chosen Hunyuan3D-Paint; the licence-clean family's its one paint
# model (no delight: upstream's chain has none). Keyed by img23d_protocol.MODEL_FAMILIES, as each
# table here that a family fills (tests/backend/test_families.py holds them to it).
TEXTURE_MODELS: dict[str, Callable[[str], tuple[ModelSpec | None, ModelSpec]]] = {
    HUNYUAN3D: lambda paint: (DELIGHT, PAINT[paint]),
    CLEAN: lambda paint: (None, CLEAN_PAINT),
}
# Each family's tiny replica set: (root, --paint choice, --shape choice) -> the set.
TINY_SETS: dict[str, Callable[[Path, str, str | None], ModelSet]] = {
    HUNYUAN3D: _tiny_hunyuan_set,
    CLEAN: _tiny_step1x_set,
}
