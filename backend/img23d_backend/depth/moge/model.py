"""MoGe-2 ViT-S with normals' row: a metric point map, normals and the camera from one picture, 35.1 M parameters,
pinned.

``Ruicheng/moge-2-vits-normal`` (MIT, its model card's licence tag; the code, ``microsoft/MoGe``, MIT, its
DINOv2 part Apache-2.0). Its one file is ``model.pt`` (140,550,416 bytes, SHA-256 79a16621928c2bf0...), a torch
pickle of the config and the state dict (``checkpoint``). The revision is the commit several public projects
pin together with that file's size and SHA-256 and the 35,103,656-parameter count; others pin the repository's
earlier commit 26b477f41595707c5db6770294c0d1721e8ed4ed with the same SHA-256: the same file. The hub cannot
be reached from where this was written: the commit, size and digest are those public pins', worth checking
once against the hub. The SHA-256 is pinned (``options["sha256"]``): ``models --verify`` and the damage check
compare the download with it.
"""

from __future__ import annotations

from ...models.specs import ModelSpec
from ..estimator import DepthRow

CHECKPOINT = "model.pt"   # the repository's one file (upstream's from_pretrained reads it)
MOGE2_VITS_NORMAL_REVISION = "679230677b4d282c6f304189a93e98e14f085902"
MOGE2_VITS_NORMAL_SHA256 = "79a16621928c2bf0ed04659218c55c01075e950507f40bb3332fb4c873d3e1dc"
MOGE2_VITS_NORMAL_BYTES = 140_550_416

ROWS: dict[str, DepthRow] = {
    "moge2-vits-normal": DepthRow(
        "moge2-vits-normal",
        ModelSpec(role="depth", repo_id="Ruicheng/moge-2-vits-normal", revision=MOGE2_VITS_NORMAL_REVISION,
                  allow_patterns=(CHECKPOINT,), size_bytes=MOGE2_VITS_NORMAL_BYTES, exact_files=True,
                  options={"depth": "moge2-vits-normal", "sha256": {CHECKPOINT: MOGE2_VITS_NORMAL_SHA256}}),
        tiny_folder="moge-2-vits-normal", tiny_bytes=1 << 20),
}
