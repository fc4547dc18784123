"""The BiRefNet matting replica: a stand-in network shipped as remote code, like the real one.

The folder looks like the real repository (``config.json`` with ``auto_map``,
``model.safetensors``, ``birefnet.py``, ``BiRefNet_config.py``), so the production loader opens
it with ``trust_remote_code`` exactly as it opens BiRefNet. The real network's code cannot be
fetched offline, so both sizes are stand-ins that keep its contract (``model(x)`` returns a
list of logit maps, the final ``[B, 1, H, W]`` map last):

- ``tiny`` (``birefnet_tiny/``): three strided convolutions and a small top-down fusion; a
  1024x1024 image takes a fraction of a second on a CPU.
- ``full`` (``birefnet_full/``): BiRefNet's size and cost (see ``FULL``). The two are separate
  networks rather than one scaled: the full stand-in shrunk to a few thousand parameters
  still takes about 4.7 s per 1024x1024 image on a 2-core CPU (the tiny one 0.55 s), because
  its full-resolution decoder and windowed attention cost time whatever their width, and
  the tests matte hundreds of crops.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...models.replica_common import Size, check_size, parameters, prepare_imports, seeded

REMOTE_CODE = ("birefnet.py", "BiRefNet_config.py")


@dataclass(frozen=True)
class MattingDims:
    seed: int
    network: Size        # which stand-in: birefnet_tiny/ or birefnet_full/ (their configs' defaults)
    probe_size: int      # side of the noise image the final bias is centred on
    save_dtype: str      # the real model.safetensors is float16


TINY = MattingDims(seed=2345, network="tiny", probe_size=256, save_dtype="float32")
# BiRefNet_HR's replica: the same stand-in (BiRefNet_HR is BiRefNet's network and code with weights
# trained at 2048: the same keys and dtypes), its own seed so the two cut crops out differently,
# its final bias centred on a probe of the side it is read at.
TINY_HR = MattingDims(seed=2346, network="tiny", probe_size=512, save_dtype="float32")

# BiRefNet (matting), published: ~215-220M parameters (Swin-L backbone ~197M of them), 1024x1024
# input, remote code. ``birefnet_full/birefnet.py`` is a stand-in of that size: a windowed-
# attention encoder with Swin-L's exact sizes run on the image and its half-size copy
# (BiRefNet's default multi-scale input), and a BiRefNet-like convolutional decoder: 219.9M
# parameters (encoder 195.2M), 0.44 GB fp16 on disk like the real file, 2.4 TFLOP (1.2 TMAC)
# per 1024x1024 image, 2.0 of them in the encoder. No published BiRefNet FLOP count was found;
# the encoder's matches Swin-L's published 34.5 GMAC at 224x224 scaled to 1024x1024 (plus x1.25
# for the half-size pass). For a GPU sanity check, BiRefNet's README gives ~165 ms per
# 1024x1024 image on an A100 with ONNX ("~90% more" than PyTorch) and 5.5 GB of GPU memory for
# inference. Built in float32 (0.9 GB) so the probe runs, saved as float16.
FULL = MattingDims(seed=12_000, network="full", probe_size=512, save_dtype="float16")


def config(size: str) -> MattingDims:
    """``tiny``, ``full`` (``replica_common.Size``) or ``tiny-hr``: BiRefNet_HR's tiny replica."""
    return TINY_HR if size == "tiny-hr" else {"tiny": TINY, "full": FULL}[check_size(size)]


def construct(dims: MattingDims) -> dict[str, Any]:
    """The network, in the current device context (the meta device counts it)."""
    network, network_config = _remote_code(dims)
    return {"model": network(network_config)}


def build(dest: Path, dims: MattingDims) -> dict[str, Any]:
    """Write the remote-code folder into ``dest``; return the manifest entry."""
    import torch
    from safetensors.torch import save_file

    network, network_config = _remote_code(dims)
    with seeded(dims.seed):
        model = network(network_config).eval()
        _center_logits(model, dims.probe_size)
    dest.mkdir(parents=True)
    network_config.save_pretrained(dest)
    dtype = getattr(torch, dims.save_dtype)
    state = {k: (v.to(dtype) if v.is_floating_point() else v).detach().contiguous()
             for k, v in model.state_dict().items()}
    save_file(state, str(dest / "model.safetensors"), metadata={"format": "pt"})
    code = Path(__file__).resolve().parent / f"birefnet_{dims.network}"
    for name in REMOTE_CODE:
        shutil.copyfile(code / name, dest / name)
    params = {"model": parameters(model)}
    del model, state
    return {"class": "BiRefNet", "dtype": dims.save_dtype, "params": params, "remote_code": list(REMOTE_CODE),
            "note": "a stand-in of BiRefNet's contract (tiny) or of its size and cost (full), not its "
                    "architecture; random weights, the final bias centred so masks have both sides"}


def _remote_code(dims: MattingDims) -> tuple[Any, Any]:
    """The stand-in's model class and its config, with the ``auto_map`` the loader follows."""
    prepare_imports()
    if dims.network == "tiny":
        from .birefnet_tiny.birefnet import BiRefNet
        from .birefnet_tiny.BiRefNet_config import BiRefNetConfig
    else:
        from .birefnet_full.birefnet import BiRefNet
        from .birefnet_full.BiRefNet_config import BiRefNetConfig

    network_config = BiRefNetConfig(bb_pretrained=False)
    network_config.architectures = ["BiRefNet"]
    network_config.auto_map = {
        "AutoConfig": "BiRefNet_config.BiRefNetConfig",
        "AutoModelForImageSegmentation": "birefnet.BiRefNet",
    }
    return BiRefNet, network_config


def _center_logits(model: Any, probe_size: int) -> None:
    """Shift the final head's bias so a typical input gives both fore- and background.

    Random weights give logits of one sign over most of the image; an all-background mask
    would make downstream cut-outs empty. The shift is the median logit on a fixed
    mid-grey-with-noise probe, so the probe splits roughly half/half.
    """
    import torch

    probe = 0.5 * torch.randn(1, 3, probe_size, probe_size)
    with torch.no_grad():
        logits = model(probe)[-1]
        model.fine_head.bias -= logits.median()
