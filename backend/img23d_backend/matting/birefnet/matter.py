"""BiRefNet's code as the matting driver calls it: one ``Matter`` per checkpoint (BiRefNet, BiRefNet_HR), the
same loader and prediction, each its own replica."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ...models.specs import ModelReplica
from ..matter import Matter
from . import replica
from .network import birefnet_loader, predict


def _replica(tiny: str) -> ModelReplica:
    def build(folder: Path, size: str) -> tuple[dict[str, Any], int]:
        dims = replica.config(tiny if size == "tiny" else size)
        return replica.build(folder, dims), dims.seed

    return ModelReplica(build=build, construct=lambda: replica.construct(replica.FULL),
                        published_params={"total": 2.2e8})  # BiRefNet, Swin-L: 215M-220M


MATTERS: dict[str, Matter] = {
    "birefnet": Matter(name="birefnet", loader=birefnet_loader, predict=predict, replica=_replica("tiny")),
    "birefnet-hr": Matter(name="birefnet-hr", loader=birefnet_loader, predict=predict, replica=_replica("tiny-hr")),
}
