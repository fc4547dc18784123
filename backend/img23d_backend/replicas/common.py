"""What every replica builder shares: one seed per component, the torchvision guard, JSON files.

The builders (qwen, birefnet, hunyuan_shape, hunyuan_paint) import this module and never each
other, so each model's replica can be read on its own.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..torch_env import prepare_torchvision


@contextlib.contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Seed torch for one component without disturbing the caller's RNG state."""
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def prepare_imports() -> None:
    """Call before importing hy3dgen or transformers' image processors in a builder."""
    # torchvision's compiled ops are broken on some installs; hy3dgen and the Qwen image
    # processor import torchvision, so stub it before either is imported.
    prepare_torchvision()


def write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
