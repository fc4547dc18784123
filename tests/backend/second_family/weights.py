"""The Silhouette family's two models' weights, read and written the same way: one state dict per model, in its
replica's folder, loaded by the manager's loader (``models.manager.Loader``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import torch

from img23d_backend.models.placement import LoadedModel
from img23d_backend.models.specs import ModelSpec


def weights_loader(network: Callable[[], torch.nn.Module], file: str) -> Callable[[ModelSpec], Any]:
    """The manager's loader for a model whose weights are ``file`` in its folder, of ``network()``'s shape."""

    def loader(spec: ModelSpec) -> Any:  # -> models.manager.Loader
        def load(folder: Path, device: Any) -> LoadedModel:
            model = network()
            model.load_state_dict(torch.load(Path(folder) / file, map_location="cpu", weights_only=True))
            model.to(device).eval()
            return LoadedModel(obj=model, modules=[model])

        return load

    return loader


def weights_builder(network: Callable[[], torch.nn.Module], file: str, kind: str) -> Callable[[Path], dict[str, Any]]:
    """Its replica's builder: the known weights of ``network()`` in its folder (the manifest's entry)."""

    def build(folder: Path) -> dict[str, Any]:
        folder.mkdir(parents=True, exist_ok=True)
        torch.save(network().state_dict(), folder / file)
        return {"class": kind, "files": [file]}

    return build
