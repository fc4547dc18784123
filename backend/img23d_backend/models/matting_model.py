"""The matting models' specs: BiRefNet (``ZhengPeng7/BiRefNet``), which cuts each crop out, pinned;
``MATTING`` offers it. Found through ``registry`` as well."""

from __future__ import annotations

from .specs import ModelSpec

GB = 1 << 30

# BiRefNet ships its architecture as remote code: pin the exact commit we trust to run.
BIREFNET_REVISION = "26e7919b869d089e5096e898c0492898f935604c"

MATTING = {
    "birefnet": ModelSpec(role="matting", repo_id="ZhengPeng7/BiRefNet", revision=BIREFNET_REVISION,
                          allow_patterns=("*.py", "*.json", "model.safetensors"),
                          size_bytes=int(0.45 * GB), trust_remote_code=True,
                          # Its remote code's decoder calls torchvision.ops.deform_conv2d.
                          probes=("deform_conv2d",)),
}
