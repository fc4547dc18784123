"""Qwen3-VL's rows: the 2B, 4B and 8B Instruct models, pinned, each answering where the names are in one JSON
list of boxes; the tiny replica (``replica.py``) answers the 2B's way.

Every model the chain downloads is pinned to one commit: a repository's `main` moves, and a new commit may
change the files under a working install. The hub cannot be reached from where this was written, so each hash
below was taken from public code that downloads or loads that very commit, named beside it.
"""

from __future__ import annotations

from ...models.specs import ModelSpec
from ..grounder import ANSWER_TOKEN_CAP, GroundingRow

QWEN3_VL_REVISIONS = {
    # birdhackor/tiny-perceptron-vlm, docs/technical-reviews/artifacts/natural-v4-factual/R.4/
    # retrieval-receipts.json: config.json and README.md retrieved from the hub at this commit.
    "2B": "89644892e4d85e24eaac8bacfd4f463576704203",
    # MINTPIPERAS/FloraQwen, logs/download_single.ps1: its two weight shards, checked against the
    # hub's file tree at this commit.
    "4B": "ebb281ec70b05090aa6165b016eac8ec08e71b17",
    # zhangruotian/SelectGround, train.py: from_pretrained("Qwen/Qwen3-VL-8B-Instruct", revision=...).
    "8B": "0c351dd01ed87e9c1b53cbc748cba10e6187ff3b",
}

GB = 1 << 30

# Qwen3-VL reads 16-pixel patches merged 2x2: one visual token per 32x32 pixels, and its image
# processor snaps both sides to multiples of 32 (transformers' Qwen2VLImageProcessor: factor =
# patch_size * merge_size; Qwen2-VL's was 14 * 2 = 28). The picture is shrunk to this many tokens.
QWEN3_VL_GRID = 32
GROUNDING_MAX_PIXELS = 1280 * QWEN3_VL_GRID * QWEN3_VL_GRID


def _qwen(name: str, size: str, params_b: float) -> ModelSpec:
    return ModelSpec(role="grounding", repo_id=f"Qwen/Qwen3-VL-{size}-Instruct", revision=QWEN3_VL_REVISIONS[size],
                     allow_patterns=("*.json", "*.safetensors", "*.txt", "*.jinja", "merges.txt",
                                     "vocab.json"),
                     size_bytes=int(params_b * 2 * GB),
                     # The cap on an answer (a dozen boxes of each of 32 names); each job's budget comes from its
                     # names, and generation stops at the end.
                     options={"grounding": name, "max_new_tokens": ANSWER_TOKEN_CAP,
                              "max_pixels": GROUNDING_MAX_PIXELS})


def _row(name: str, size: str, params_b: float, component: str = "") -> GroundingRow:
    # Every size's tiny replica is the one folder (the 2B's layout, small): a small picture keeps it quick.
    return GroundingRow(name, _qwen(name, size, params_b), tiny_folder="qwen3-vl", tiny_bytes=8 << 20,
                        tiny_options={"max_pixels": 256 * 256}, component=component)


ROWS: dict[str, GroundingRow] = {
    "2b": _row("2b", "2B", 2.2, component="grounding"),
    "4b": _row("4b", "4B", 4.4),
    "8b": _row("8b", "8B", 8.8),
}
