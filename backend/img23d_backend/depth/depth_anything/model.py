"""Depth Anything V2 Small's row: relative depth (disparity) from one picture, 24.8 M parameters, pinned.

``depth-anything/Depth-Anything-V2-Small-hf`` (Apache-2.0; the Base/Large/Giant weights are CC-BY-NC-4.0, so
only Small is offered). Pinned by several public projects' model tables together with its model.safetensors
(99,173,660 bytes, sha256 3152477ce0d8d697...); one prints the loaded config's "_commit_hash" as this value.
"""

from __future__ import annotations

from ...models.specs import ModelSpec
from ..estimator import DepthRow

DEPTH_ANYTHING_V2_SMALL_REVISION = "5426e4f0f36572d16453bbda7a8389317b1bef99"
MB = 1 << 20

ROWS: dict[str, DepthRow] = {
    "da2-small": DepthRow(
        "da2-small",
        ModelSpec(role="depth", repo_id="depth-anything/Depth-Anything-V2-Small-hf",
                  revision=DEPTH_ANYTHING_V2_SMALL_REVISION,
                  allow_patterns=("config.json", "preprocessor_config.json", "model.safetensors"),
                  size_bytes=100 * MB, options={"depth": "da2-small"}),
        tiny_folder="depth-anything", tiny_bytes=1 << 20),
}
