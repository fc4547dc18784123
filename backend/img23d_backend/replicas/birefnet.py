"""The BiRefNet matting replica: a tiny stand-in network shipped as remote code (``birefnet_tiny/``).

The folder looks like the real repository (``config.json`` with ``auto_map``,
``model.safetensors``, ``birefnet.py``, ``BiRefNet_config.py``), so the production loader opens
it with ``trust_remote_code`` exactly as it opens BiRefNet.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from .common import prepare_imports, seeded

_SEED_BIREFNET = 2345
_BIREFNET_ASSETS = ("birefnet.py", "BiRefNet_config.py")


def build_birefnet(dest: Path) -> dict[str, Any]:
    prepare_imports()
    from safetensors.torch import save_file

    from .birefnet_tiny.BiRefNet_config import BiRefNetConfig
    from .birefnet_tiny.birefnet import BiRefNet

    config = BiRefNetConfig(bb_pretrained=False)
    config.architectures = ["BiRefNet"]
    config.auto_map = {
        "AutoConfig": "BiRefNet_config.BiRefNetConfig",
        "AutoModelForImageSegmentation": "birefnet.BiRefNet",
    }
    with seeded(_SEED_BIREFNET):
        model = BiRefNet(config).eval()
        _center_birefnet_logits(model)
    dest.mkdir(parents=True)
    config.save_pretrained(dest)
    state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(dest / "model.safetensors"), metadata={"format": "pt"})
    assets = Path(__file__).resolve().parent / "birefnet_tiny"
    for name in _BIREFNET_ASSETS:
        shutil.copyfile(assets / name, dest / name)
    return {"path": dest.name, "class": "BiRefNet", "remote_code": list(_BIREFNET_ASSETS)}


def _center_birefnet_logits(model: Any) -> None:
    """Shift the final head's bias so a typical input gives both fore- and background.

    Random convs give logits of one sign over most of the image; an all-background mask
    would make downstream cut-outs empty. The shift is the median logit on a fixed
    mid-grey-with-noise probe, so the probe splits roughly half/half.
    """
    import torch

    probe = 0.5 * torch.randn(1, 3, 256, 256)
    with torch.no_grad():
        logits = model(probe)[-1]
        model.fine_head.bias -= logits.median()
