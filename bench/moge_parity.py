"""img23d's MoGe-2 against upstream's on the same random weights and the same picture (issue 98, item 2).

    .venv-py313/bin/python bench/moge_parity.py --upstream /tmp/moge-src [--utils3d /tmp/utils3d-src]
        [--json bench/results/moge-parity.json]

``--upstream`` is a checkout of ``microsoft/MoGe`` (its ``moge`` package is imported from it, never installed;
``git --git-dir=<mirror> archive HEAD | tar -x -C /tmp/moge-src`` makes one from a bare mirror). Upstream's
``moge.model.v2`` imports ``utils3d`` (its ``pt.depth_map_to_point_map`` and ``pt.intrinsics_from_focal_center``
finish ``infer``): ``--utils3d`` is a checkout of ``EasternJournalist/utils3d`` at the commit MoGe's
``pyproject.toml`` pins (3fab839f...), put on ``sys.path`` for this script only. Upstream builds its DINOv2 from
its own vendored code (``pretrained=False``: no torch.hub download); the replica's backbone
(``dinov2.TINY_BACKBONE``) is not one of upstream's, so this script lends upstream's ``hub/backbones`` module a
function of that name that builds upstream's own ``DinoVisionTransformer`` at the replica's sizes.

Three sets of weights, each loaded into both networks with ``strict=True`` (so every key name is upstream's):

* ``replica``: the tiny replica's checkpoint as the tiny set holds it (``depth/moge/replica.py``);
* ``tiny-random``: upstream's own random initialisation of the replica's config (no head rigged);
* ``vits-random``: upstream's random initialisation of a ViT-S-sized MoGe-2 (``dinov2_vits14``, 384 channels,
  the released model's layout), at 1,200 tokens: the real backbone's table entry against upstream's.

The two random sets have their mask head's last bias raised by 4 (in the one state dict both load): random
weights put the mask near one half and ``infer`` would mask every pixel out. On one picture
(``examples/house_scene.png``, 320 x 240) each compares the network's ``forward`` (points, normal, mask, metric
scale: the largest absolute difference), ``recover_focal_shift`` over every pixel of the raw points, and the
finished map: upstream's ``infer`` (``use_fp16=False``, its other defaults) against img23d's
``geometry.metric_geometry`` (the pixels where the masks differ, the points, depth and normals where both are
valid, the focal in pixels, the metric scale). fp32 on the CPU.
"""

from __future__ import annotations

import argparse
import functools
import json
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

from source_paths import REPO

import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

from img23d_backend.depth.moge import replica  # noqa: E402
from img23d_backend.depth.moge.dinov2 import BACKBONES, TINY_BACKBONE  # noqa: E402
from img23d_backend.depth.moge.estimator import num_tokens  # noqa: E402
from img23d_backend.depth.moge.geometry import metric_geometry, recover_focal_shift  # noqa: E402
from img23d_backend.depth.moge.network import MoGeModel  # noqa: E402

PICTURE = REPO / "examples" / "house_scene.png"
SIZE = (320, 240)
RESULTS = REPO / "bench" / "results" / "moge-parity.json"


def vits_config() -> dict[str, Any]:
    """A ViT-S MoGe-2 in the released models' layout (configs/train/v2.json's, at ViT-S's width)."""
    def stack(dim_in: list[Any], dim_out: list[Any], blocks: list[int]) -> dict[str, Any]:
        return {"dim_in": dim_in, "dim_out": dim_out, "dim_res_blocks": [384, 256, 128, 64, 32],
                "num_res_blocks": blocks, "res_block_in_norm": "none", "res_block_hidden_norm": "none",
                "resamplers": ["conv_transpose", "conv_transpose", "conv_transpose", "bilinear"]}
    head = [384, 256, 128, 64, 32]
    return {"encoder": {"backbone": "dinov2_vits14", "intermediate_layers": [2, 5, 8, 11], "dim_out": 384},
            "neck": stack([386, 2, 2, 2, 2], None, [0, 2, 2, 2, 0]),
            "points_head": stack(head, [None, None, None, None, 3], [0, 1, 1, 1, 0]),
            "normal_head": stack(head, [None, None, None, None, 3], [0, 1, 1, 1, 0]),
            "mask_head": stack(head, [None, None, None, None, 1], [0, 1, 1, 1, 0]),
            "scale_head": {"dims": [384, 384, 384, 1]}, "remap_output": "exp", "num_tokens_range": [1200, 1200]}


def import_upstream(upstream: Path, utils3d: Path | None) -> tuple[Any, Any]:
    """Upstream's MoGeModel (v2), with the replica's backbone lent to its hub module, and its
    ``recover_focal_shift``."""
    for path in (utils3d, upstream):
        if path is not None:
            sys.path.insert(0, str(path))
    from moge.model.dinov2.hub import backbones
    from moge.model.dinov2.layers import MemEffAttention, NestedTensorBlock
    from moge.model.dinov2.models.vision_transformer import DinoVisionTransformer
    from moge.model.v2 import MoGeModel as UpstreamMoGe
    from moge.utils.geometry_torch import recover_focal_shift as upstream_recover

    shape = BACKBONES[TINY_BACKBONE]

    def tiny(*, pretrained: bool = True, **kwargs: Any) -> Any:
        return DinoVisionTransformer(
            img_size=shape.image_side, patch_size=14, embed_dim=shape.embed_dim, depth=shape.depth,
            num_heads=shape.heads, mlp_ratio=shape.mlp_ratio, init_values=1.0, ffn_layer="mlp", block_chunks=0,
            num_register_tokens=0, interpolate_antialias=False, interpolate_offset=0.1,
            block_fn=functools.partial(NestedTensorBlock, attn_class=MemEffAttention))

    setattr(backbones, TINY_BACKBONE, tiny)
    return UpstreamMoGe, upstream_recover


def _max(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.float() - b.float()).abs().max())


def compare(upstream_cls: Any, upstream_recover: Any, config: dict[str, Any], state: dict[str, torch.Tensor] | None, image: torch.Tensor,
            seed: int) -> dict[str, Any]:
    """One set of weights in both networks: their forward passes and finished maps side by side."""
    torch.manual_seed(seed)
    theirs = upstream_cls(**config).eval()
    if state is None:
        # Upstream's own draw, its mask head's last bias raised so that infer's mask keeps pixels (random
        # weights put the mask near one half, and infer then masks everything out: nothing to compare).
        state = dict(theirs.state_dict())
        state["mask_head.output_blocks.4.bias"] = state["mask_head.output_blocks.4.bias"] + 4
    theirs.load_state_dict(state, strict=True)
    ours = MoGeModel(**config).eval()
    ours.load_state_dict(state, strict=True)
    assert set(ours.state_dict()) == set(theirs.state_dict())
    tokens = num_tokens(ours)
    with torch.inference_mode():
        a, b = theirs(image[None], num_tokens=tokens), ours(image[None], tokens)
        forward = {f"{key}_max_abs": _max(a[key], b[key]) for key in ("points", "normal", "mask", "metric_scale")}
        done = theirs.infer(image, num_tokens=tokens, use_fp16=False)
        mine = metric_geometry(b)
        # The focal and shift over every pixel of the raw points, whatever the mask and the sign of z.
        their_focal, their_shift = upstream_recover(a["points"], None)
        our_focal, our_shift = recover_focal_shift(b["points"][0], None)
    width = image.shape[-1]
    both = done["mask"] & mine.mask
    result = {
        "parameters": sum(p.numel() for p in ours.parameters()), "num_tokens": tokens, "forward": forward,
        "focal_shift_all_pixels": {"focal_upstream": float(their_focal[0]), "focal_img23d": our_focal,
                                   "shift_upstream": float(their_shift[0]), "shift_img23d": our_shift},
        "infer": {
            "mask_pixels_differing": int((done["mask"] != mine.mask).sum()), "mask_pixels": int(both.sum()),
            "points_max_abs": _max(done["points"][both], mine.points[both]) if both.any() else None,
            "depth_max_abs": _max(done["depth"][both], mine.depth[both]) if both.any() else None,
            "normal_max_abs": _max(done["normal"][both], mine.normal[both]) if both.any() else None,
            "focal_px_upstream": float(done["intrinsics"][0, 0]) * width, "focal_px_img23d": mine.focal_px,
            "metric_scale_upstream": float(a["metric_scale"][0]), "metric_scale_img23d": mine.scale,
        }}
    depth = done["depth"][both].abs()
    if both.any():
        result["infer"]["depth_max_rel"] = float(((done["depth"][both] - mine.depth[both]).abs() / depth).max())
    return result


def _commit(path: Path) -> str | None:
    found = subprocess.run(["git", "-C", str(path), "rev-parse", "HEAD"], capture_output=True, text=True)
    return found.stdout.strip() or None if found.returncode == 0 else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--upstream", type=Path, required=True, help="a checkout of microsoft/MoGe")
    parser.add_argument("--utils3d", type=Path, default=None, help="a checkout of EasternJournalist/utils3d")
    parser.add_argument("--upstream-commit", default=None, help="the checkout's commit, when it is no git folder")
    parser.add_argument("--utils3d-commit", default=None, help="the utils3d checkout's commit, likewise")
    parser.add_argument("--json", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if not (args.upstream / "moge" / "model" / "v2.py").is_file():
        parser.error(f"{args.upstream} is not a checkout of microsoft/MoGe (it has no moge/model/v2.py)")
    torch.set_grad_enabled(False)
    upstream = import_upstream(args.upstream, args.utils3d)
    picture = Image.open(PICTURE).convert("RGB").resize(SIZE, Image.Resampling.BICUBIC)
    image = torch.from_numpy(np.asarray(picture, dtype=np.float32) / 255).permute(2, 0, 1).contiguous()
    shipped = replica.random_checkpoint()
    cases = {
        "replica": compare(*upstream, shipped["model_config"], shipped["model"], image, 0),
        "tiny-random": compare(*upstream, replica.tiny_config(), None, image, 1),
        "vits-random": compare(*upstream, vits_config(), None, image, 2),
    }
    record = {"upstream": str(args.upstream), "upstream_commit": args.upstream_commit or _commit(args.upstream),
              "utils3d": str(args.utils3d) if args.utils3d else None,
              "utils3d_commit": args.utils3d_commit or (_commit(args.utils3d) if args.utils3d else None),
              "torch": torch.__version__, "python": platform.python_version(), "device": "cpu", "dtype": "float32",
              "picture": f"{PICTURE.relative_to(REPO)} at {SIZE[0]} x {SIZE[1]}", "cases": cases}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    for name, case in cases.items():
        print(f"{name} ({case['parameters']:,} parameters, {case['num_tokens']} tokens)")
        print("  forward: " + ", ".join(f"{k} {v:.3g}" for k, v in case["forward"].items()))
        print("  focal and shift, every pixel: " + ", ".join(f"{k} {v:.6g}"
                                                          for k, v in case["focal_shift_all_pixels"].items()))
        print("  infer:   " + ", ".join(f"{k} {v:.6g}" if isinstance(v, float) else f"{k} {v}"
                                       for k, v in case["infer"].items()))
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
