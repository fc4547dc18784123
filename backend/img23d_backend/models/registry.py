"""The models every family shares (ids, pinned revisions, sizes), the roles, and the spec helpers.

A model set (``specs.ModelSet``) picks one model per role (grounding, matting, shape) plus the two
texture models (``PAINT_ROLES``: delight, paint), kept apart so the manager can place them separately,
and the depth model that places the objects (``depth``; a set without one lays objects out by their
boxes), the material model that estimates roughness and metallic maps from painted views
(``materials``) and the image editor that fills in the hidden parts of an object's crop (``editor``).
The shape and texture models are a family's, in its own folder (``families/<family>/specs.py``); the
grounding, matting and depth models, the image editors and the material models are in their rooms
(``grounding/``, ``matting/``, ``depth/``, ``editors/``, ``materials/``); the catalog above
(``img23d_backend.catalog``) composes the named sets from their rows.
Here: the roles, where the tiny replicas live (``default_tiny_root``), and the helpers that
read a spec's kind (``shape_kind``, ``shape_steps``, ``paint_steps``).
"""

from __future__ import annotations

import os
from pathlib import Path

from img23d_protocol import ShapeModelKind

# The specs' types live in their own module; imported here, where the rest of the backend finds them.
from .specs import ROLES, VIEWS_ROLE, ModelSet, ModelSpec  # noqa: F401

# The texture models (a family's delight and paint models), kept apart so the manager can place them separately.
PAINT_ROLES = ("delight", "paint")
# The models every family shares that neither find nor make the objects: depth places them;
# materials estimates roughness and metallic maps from painted views; editor fills in the hidden
# parts of a crop (registered with each job's manager, but no job loads it yet).
SCENE_ROLES = ("depth", "materials", "editor")
# The parts model (``parts/``): a role of its own, registered by the job that makes parts, not by a Generate.
PARTS_ROLE = "parts"

GB = 1 << 30
MB = 1 << 20

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
# 18: the high-resolution matting model's replica (the matting stand-in with its own seed)
# 19: the parts model's replica (its row's folder: its DiT and VAE files, DINOv2's folder inside)
TINY_FORMAT: int = 19


def default_tiny_root() -> Path:
    """Where the replicas live: ``$IMG23D_TINY_MODELS`` or a per-format user cache folder."""
    env = os.environ.get("IMG23D_TINY_MODELS")
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "img23d" / "tiny-models" / f"v{TINY_FORMAT}"


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
