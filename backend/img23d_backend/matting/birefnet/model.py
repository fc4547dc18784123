"""BiRefNet's rows: BiRefNet (``ZhengPeng7/BiRefNet``, 1024 x 1024) and BiRefNet_HR (``ZhengPeng7/BiRefNet_HR``,
2048 x 2048), which cut each crop out, pinned (their remote code runs); ``replica.py`` writes both tiny replicas.

Where the HR model's facts come from (the hub cannot be reached from where this was written):

* The revision: a public background-removal service's model catalogue loads ``ZhengPeng7/BiRefNet_HR``
  at this commit with ``from_pretrained(..., revision=..., trust_remote_code=True,
  use_safetensors=True)`` and resizes every picture to 2048 x 2048 first.
* The input side and the licence: its model card ("This BiRefNet was trained with images in
  2048x2048 for higher resolution inference", "All tested in FP16 mode", ``license: mit``).
* The network: the same remote code as BiRefNet (upstream's README offers both checkpoints to the
  same ``BiRefNet`` class; ComfyUI's loader recognises both by the same Swin-L keys), so the same
  weight file size: 444,473,596 bytes in fp16, as a public installer measured it.

The memory figures: BiRefNet's README gives about 5.5 GB of GPU memory for inference at 1024 x 1024 in fp16;
less its 0.45 GB of weights, about 4,800 bytes per input pixel. Swin's windowed attention and the convolutional
decoder both grow in proportion to the pixels, so 2048 x 2048 is taken as four times that. An estimate from the
README and the architecture, not measured here (no GPU).
"""

from __future__ import annotations

from ...models.specs import ModelSpec
from ..matter import MattingMemory, MattingRow

GB = 1 << 30

# BiRefNet ships its architecture as remote code: pin the exact commit we trust to run.
BIREFNET_REVISION = "26e7919b869d089e5096e898c0492898f935604c"
BIREFNET_HR_REVISION = "a7a562f6fd16021180f2f4348f4de003a2d3d1e1"

MEMORY = MattingMemory(
    bytes_per_input_pixel=4_800,
    # Each crop more in one batch. Measured on an H100 with BiRefNet's full-size stand-in (replica.py: its
    # parameters, input and cost) in fp16 at 1024 x 1024: the matting stage peaked at 12.07 GB with 3 crops in
    # its batch and 17.24 GB with 8, the other models resident (bench/results/chain-managed-gpu-h100.json):
    # 1.03 GB a crop, 986 bytes per input pixel.
    batch_bytes_per_input_pixel=986,
    published_bytes=int(0.45 * GB),   # the real checkpoints' weights in fp16 (BiRefNet and BiRefNet_HR alike)
)


def _birefnet(name: str, repo: str, revision: str, side: int) -> ModelSpec:
    return ModelSpec(role="matting", repo_id=repo, revision=revision,
                     allow_patterns=("*.py", "*.json", "model.safetensors"),
                     size_bytes=int(0.45 * GB), trust_remote_code=True,
                     # Its remote code's decoder calls torchvision.ops.deform_conv2d.
                     probes=("deform_conv2d",), options={"matting": name, "input_size": side})


ROWS: dict[str, MattingRow] = {
    # The side each model reads its crops at: the size it was trained at.
    "birefnet": MattingRow("birefnet", _birefnet("birefnet", "ZhengPeng7/BiRefNet", BIREFNET_REVISION, 1024),
                           tiny_folder="birefnet", memory=MEMORY, component="matting"),
    "birefnet-hr": MattingRow("birefnet-hr", _birefnet("birefnet-hr", "ZhengPeng7/BiRefNet_HR", BIREFNET_HR_REVISION,
                                                       2048), tiny_folder="birefnet-hr", memory=MEMORY),
}
