"""MoGe's ``model.pt``: read without running pickled code, checked against the network its config builds.

The published file is what upstream's training script saves (``moge/scripts/train.py``) and its
``MoGeModel.from_pretrained`` reads: ``torch.save({"model_config": <the config's "model" table>, "model":
<state dict>})``, a zip-format torch pickle. The config is plain JSON data (dicts, lists, strings, numbers,
None), so ``torch.load(weights_only=True)`` reads it as it reads the tensors: no global is unpickled, no code
runs (upstream reads it the same way); a file that names a global is refused (``ForeignWeights``). Upstream
then loads with ``strict=False``; here the keys must be exactly the network's (``ForeignWeights`` otherwise:
the model manager names the file in a ``model_damaged`` sentence), and the network is built on the meta
device and given the file's tensors (``assign``), never drawn at random first.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import torch

from ...models.meta_weights import empty_weights
from ...models.placement import assign_weights
from ...models.weight_keys import ForeignWeights
from .network import MoGeModel


def read_checkpoint(path: Path) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """(model_config, state dict) of a MoGe checkpoint, memory-mapped; ``ForeignWeights`` for another file."""
    path = Path(path)
    try:
        loaded = torch.load(str(path), map_location="cpu", weights_only=True, mmap=True)
    except pickle.UnpicklingError as exc:   # a global to unpickle: code, which the published file never holds
        names = torch.serialization.get_unsafe_globals_in_checkpoint(str(path))
        said = f" ({', '.join(names[:3])})" if names else ""
        raise ForeignWeights(path, f"names code to run{said}, which img23d will not unpickle") from exc
    config = loaded.get("model_config") if isinstance(loaded, dict) else None
    state = loaded.get("model") if isinstance(loaded, dict) else None
    if not isinstance(config, dict) or not isinstance(state, dict) \
            or not all(isinstance(tensor, torch.Tensor) for tensor in state.values()):
        raise ForeignWeights(path, "is not a MoGe checkpoint (it holds no model_config and model state dict)")
    return config, state


def build_network(config: dict[str, Any], state: dict[str, torch.Tensor], path: Path, device: Any,
                  dtype: Any) -> MoGeModel:
    """The network ``config`` describes holding ``state`` on ``device``, every key matched."""
    try:
        with empty_weights():
            network = MoGeModel(**config)
    except (TypeError, ValueError, KeyError) as exc:
        raise ForeignWeights(Path(path), f"has a model_config img23d cannot build a MoGe-2 network from ({exc})") \
            from exc
    expected, found = set(network.state_dict()), set(state)
    if expected != found:
        missing, unexpected = sorted(expected - found), sorted(found - expected)
        said = (f"{len(missing):,} of the network's {len(expected):,} tensors are not in it, e.g. {missing[0]}"
                if missing else f"it holds {len(unexpected):,} tensors the network lacks, e.g. {unexpected[0]}")
        raise ForeignWeights(Path(path), f"does not hold the weights its model_config describes ({said})")
    assign_weights(network, state, device, dtype)
    return network.eval()
