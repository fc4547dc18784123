"""The matting models' specs: BiRefNet (``ZhengPeng7/BiRefNet``, 1024 x 1024) and BiRefNet_HR
(``ZhengPeng7/BiRefNet_HR``, 2048 x 2048), which cut each crop out, pinned; ``MATTING`` offers them,
``tiny_matting`` points at each one's tiny replica (``replica.py`` writes both). Found
through ``registry`` as well.

Where the HR model's facts come from (the hub cannot be reached from where this was written):

* The revision: a public background-removal service's model catalogue loads ``ZhengPeng7/BiRefNet_HR``
  at this commit with ``from_pretrained(..., revision=..., trust_remote_code=True,
  use_safetensors=True)`` and resizes every picture to 2048 x 2048 first.
* The input side and the licence: its model card ("This BiRefNet was trained with images in
  2048x2048 for higher resolution inference", "All tested in FP16 mode", ``license: mit``).
* The network: the same remote code as BiRefNet (upstream's README offers both checkpoints to the
  same ``BiRefNet`` class; ComfyUI's loader recognises both by the same Swin-L keys), so the same
  weight file size: 444,473,596 bytes in fp16, as a public installer measured it.
"""

from __future__ import annotations

from pathlib import Path

from ...models.specs import ModelSpec

GB = 1 << 30

# BiRefNet ships its architecture as remote code: pin the exact commit we trust to run.
BIREFNET_REVISION = "26e7919b869d089e5096e898c0492898f935604c"
BIREFNET_HR_REVISION = "a7a562f6fd16021180f2f4348f4de003a2d3d1e1"
DEFAULT_MATTING = "birefnet"
# The side each model reads its crops at: the size it was trained at.
INPUT_SIDES = {"birefnet": 1024, "birefnet-hr": 2048}


def _birefnet(name: str, repo: str, revision: str) -> ModelSpec:
    return ModelSpec(role="matting", repo_id=repo, revision=revision,
                     allow_patterns=("*.py", "*.json", "model.safetensors"),
                     size_bytes=int(0.45 * GB), trust_remote_code=True,
                     # Its remote code's decoder calls torchvision.ops.deform_conv2d.
                     probes=("deform_conv2d",), options={"input_size": INPUT_SIDES[name]})


MATTING = {
    "birefnet": _birefnet("birefnet", "ZhengPeng7/BiRefNet", BIREFNET_REVISION),
    "birefnet-hr": _birefnet("birefnet-hr", "ZhengPeng7/BiRefNet_HR", BIREFNET_HR_REVISION),
}
# Each matting model's replica folder (under the tiny root) and the revision its remote code is trusted at.
TINY_MATTING = {"birefnet": ("birefnet", BIREFNET_REVISION), "birefnet-hr": ("birefnet-hr", BIREFNET_HR_REVISION)}


def tiny_matting(root: Path, matting: str = DEFAULT_MATTING) -> ModelSpec:
    """The replica of ``matting`` (a key of ``MATTING``), read at the real model's input side."""
    folder, revision = TINY_MATTING[matting]
    return ModelSpec(role="matting", repo_id=f"tiny/{folder}", local_path=root / folder, revision=revision,
                     size_bytes=1 << 20, trust_remote_code=True, options={"input_size": INPUT_SIDES[matting]})


def input_side(spec: ModelSpec) -> int:
    """The side ``spec``'s model reads a crop at (1024 where its spec names none)."""
    return int(spec.options.get("input_size", INPUT_SIDES[DEFAULT_MATTING]))
