"""Hunyuan3D-2mv: the shape models that take an object's views (front, left, back, right).

``tencent/Hunyuan3D-2mv`` holds three DiTs, each a folder that hy3dgen's ``from_pretrained``
opens as it opens the single-view ones (``config.yaml`` + ``model.fp16.safetensors``, the DiT, the
VAE and the DINOv2-giant conditioner under the prefixes ``model.``, ``vae.``, ``conditioner.``):

* ``hunyuan3d-dit-v2-mv``: the multi-view model (classifier-free guidance, 30 steps);
* ``hunyuan3d-dit-v2-mv-fast``: guidance-distilled (``guidance_embed: true``, flow-matching Euler);
* ``hunyuan3d-dit-v2-mv-turbo``: step-distilled too (5 steps), the turbo single-view models' match.

Where the facts come from (the hub cannot be reached from where this was written):

* the revision: a public installer (found with the code index's exact-string search) downloads
  ``hunyuan3d-dit-v2-mv/config.yaml`` and ``model.fp16.safetensors`` at this commit, checking the
  config's git blob (7a9b1f3b...) and the weights' sha256 (d36f5881..., 4,928,151,562 bytes);
* the files: Tencent/Hunyuan3D-2's examples (``examples/shape_gen_multiview.py``,
  ``fast_shape_gen_multiview.py``: ``from_pretrained('tencent/Hunyuan3D-2mv', subfolder=...,
  variant='fp16')``, which reads exactly these two files), public download scripts fetching
  ``<subfolder>/model.fp16.safetensors`` for each of the three subfolders (the -fast one 4,930,777,530
  bytes), and a public mirror of the repository's folders (jino1113/GenAI-3D-models-research:
  ``hunyuan3d-dit-v2-mv-fast/config.yaml``, whose architecture ``mv_replica`` copies);
* the licence: the model card's metadata (``license_name: tencent-hunyuan-community``, linking
  Hunyuan3D-2's LICENSE), as the mirror's README.md holds it.

FlashVDM: upstream's ``enable_flashvdm`` swaps in Hunyuan3D-2's distilled VAE
(``tencent/Hunyuan3D-2``/``hunyuan3d-vae-v2-0-turbo``) for 2mv, another repository. These specs
download none: FlashVDM decoding runs on the 2mv folder's own VAE (upstream's
``enable_flashvdm(replace_vae=False)``), so a name with views costs no second download.
"""

from __future__ import annotations

from pathlib import Path

from img23d_protocol import SHAPE_MODELS, TINY_MV_MODEL

from ...models.specs import ModelSpec

MV_REPO = "tencent/Hunyuan3D-2mv"
MV_REVISION = "3a761b539b29fe4ff64714813aa9560fd66f5de0"
MV_SUBFOLDERS = {"2mv": "hunyuan3d-dit-v2-mv", "2mv-turbo": "hunyuan3d-dit-v2-mv-turbo",
                 "2mv-fast": "hunyuan3d-dit-v2-mv-fast"}
MV_FILES = ("config.yaml", "model.fp16.safetensors")
# The pinned revision's hunyuan3d-dit-v2-mv/model.fp16.safetensors (the installer above): the DiT
# (1.1B per the model zoo), its VAE and DINOv2-giant, in float16. The other two: the same architecture.
MV_WEIGHT_BYTES = 4_928_151_562
TINY_MV_FOLDER = "hunyuan3d-mv"


def _mv(name: str) -> ModelSpec:
    subfolder = MV_SUBFOLDERS[name]
    return ModelSpec(role="shape", repo_id=MV_REPO, revision=MV_REVISION, subfolder=subfolder,
                     allow_patterns=tuple(f"{subfolder}/{file}" for file in MV_FILES), size_bytes=MV_WEIGHT_BYTES,
                     shape_kind=SHAPE_MODELS[name])


# Keyed by the protocol's shape model names (SHAPE_MODELS' kinds with ``views``).
MV_SHAPE = {name: _mv(name) for name in MV_SUBFOLDERS}


def tiny_mv(root: Path) -> ModelSpec:
    """The tiny replica of hunyuan3d-dit-v2-mv (``families/hunyuan3d/mv_replica.py`` builds it)."""
    subfolder = MV_SUBFOLDERS["2mv"]
    return ModelSpec(role="shape", repo_id=f"tiny/{TINY_MV_FOLDER}", local_path=root / TINY_MV_FOLDER,
                     subfolder=subfolder, size_bytes=8 << 20, shape_kind=SHAPE_MODELS[TINY_MV_MODEL],
                     allow_patterns=tuple(f"{subfolder}/{file}" for file in MV_FILES))

