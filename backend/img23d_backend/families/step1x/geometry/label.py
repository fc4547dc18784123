"""The Label model's label condition: symmetry and edge sharpness as three embedding rows.

Upstream's ``LabelEncoder`` (``step1x3d_geometry/models/conditional_encoders/label_encoder.py``)
holds three ``nn.Embedding`` tables of ``hidden_size`` (1024 in the 1300m Label model; 8 rows in
all, the "8.2 K" parameters of its config's table): pose (3 rows), symmetry (2: asymmetry, x) and
geometry quality (3: normal, smooth, sharp). Its ``encode_label`` stacks one row of each, in that
order, into a [B, 3, hidden] condition that the denoiser appends after the image tokens; the
unconditional label (classifier-free guidance) is zeros (``zero_uncond_embeds``).

Upstream quirks, reproduced or decided here, because the published weights were trained with them:

* Pose: ``encode_label`` looks a given pose up in the *symmetry* table (a bug). Upstream's callers
  never pass one, so the pose row is always the pose table's default row 0 ("unknown"); img23d
  passes none either.
* Symmetry: ``SYMMETRY_TYPE_MAPPING`` maps "x" to row 1 and "asymmetry", "y", "z" to row 0, which is
  also the default when no symmetry is given. So img23d's "auto" (no choice) and "none"
  (asymmetry) are the same row; the one choice that changes anything is "x".
* Sharpness: upstream's pipeline callers (``inference.py``, ``app.py``) pass ``"edge_type"``, a key
  ``encode_label`` never reads, so their sharpness choice silently falls back to row 0 ("normal").
  ``encode_label`` reads ``"geometry_type"`` and indexes ``[0]`` of it: in training that value is
  a one-element list (the dataset's ``[meta["label"]]`` collated at batch size 1), so ``[0]`` is the
  whole name; a plain string there would give its first letter and a KeyError. img23d does what the
  table was trained to mean: the artist's sharpness picks the row its name maps to in
  ``GEOMETRY_QUALITY_MAPPING`` (normal 0, smooth 1, sharp 2), and "auto" is upstream callers'
  effective behaviour, the default row 0.
* No label at all: upstream's pipeline, given ``label=None``, conditions on zeros as well (the
  label dropped, as 10% of training batches were). img23d's "auto" is not that: it is the
  default rows, what upstream's callers get, since they always pass a label.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

DEFAULT_POSE = 0
NUM_POSE_CLASSES = 3
SYMMETRY_ROWS = {"auto": 0, "none": 0, "x": 1}      # upstream: asymmetry/y/z 0, x 1; default 0
NUM_SYMMETRY_CLASSES = 2
SHARPNESS_ROWS = {"auto": 0, "normal": 0, "smooth": 1, "sharp": 2}   # GEOMETRY_QUALITY_MAPPING; default 0
NUM_GEOMETRY_QUALITY_CLASSES = 3


@dataclass(frozen=True)
class LabelEncoderConfig:
    """``label_encoder/config.json``: upstream's ``BaseLabelEncoder.Config`` (what inference reads)."""

    hidden_size: int = 1024
    zero_uncond_embeds: bool = True
    normalize_embeds: bool = False

    def check(self) -> None:
        if not self.zero_uncond_embeds:
            raise ValueError("this label encoder's unconditional label is not zeros: not supported")
        if self.normalize_embeds:
            raise ValueError("this label encoder normalises its embeddings: not supported")


@dataclass(frozen=True)
class LabelChoice:
    """What the artist chose: ``symmetry`` in SYMMETRY_ROWS, ``sharpness`` in SHARPNESS_ROWS."""

    symmetry: str = "auto"
    sharpness: str = "auto"

    def rows(self) -> tuple[int, int, int]:
        """The (pose, symmetry, geometry quality) rows ``encode_label`` picks for this choice."""
        if self.symmetry not in SYMMETRY_ROWS:
            raise ValueError(f"unknown symmetry {self.symmetry!r}; choose from {', '.join(SYMMETRY_ROWS)}")
        if self.sharpness not in SHARPNESS_ROWS:
            raise ValueError(f"unknown sharpness {self.sharpness!r}; choose from {', '.join(SHARPNESS_ROWS)}")
        return DEFAULT_POSE, SYMMETRY_ROWS[self.symmetry], SHARPNESS_ROWS[self.sharpness]


class LabelEncoder(nn.Module):
    """Upstream's ``LabelEncoder`` at inference, its tables named as the file's keys."""

    def __init__(self, config: LabelEncoderConfig) -> None:
        super().__init__()
        config.check()
        self.config = config
        self.embedding_table_tpose = nn.Embedding(NUM_POSE_CLASSES, config.hidden_size)
        self.embedding_table_symmetry_type = nn.Embedding(NUM_SYMMETRY_CLASSES, config.hidden_size)
        self.embedding_table_geometry_quality = nn.Embedding(NUM_GEOMETRY_QUALITY_CLASSES, config.hidden_size)

    def encode(self, choice: LabelChoice, batch: int) -> torch.Tensor:
        """[batch, 3, hidden]: the pose, symmetry and geometry-quality rows of ``choice``."""
        pose, symmetry, quality = choice.rows()
        weight = self.embedding_table_tpose.weight
        rows = torch.stack([self.embedding_table_tpose.weight[pose],
                            self.embedding_table_symmetry_type.weight[symmetry],
                            self.embedding_table_geometry_quality.weight[quality]])
        return rows.to(weight.dtype)[None].expand(batch, -1, -1)

    def unconditional(self, batch: int, like: torch.Tensor) -> torch.Tensor:
        return torch.zeros((batch, 3, self.config.hidden_size), dtype=like.dtype, device=like.device)
