"""A weights file that parses but holds another model's tensors.

transformers' ``from_pretrained`` loads such a file without an error: every tensor it does not find
is drawn at random, and only its logger says so, in a list of hundreds of names. A model of random
weights then runs: grounding finds nothing, depth is noise, and the artist is told nothing is wrong.
The loaders that go through ``from_pretrained`` ask for its loading info here and refuse a file from
which most of the model's tensors are missing (``ForeignWeights``); the model manager turns that into
``model_damaged`` naming the file (``damage.damaged_model``). Most, not any: a published file may
leave out a few tensors the model ties to others or computes, and refusing those would refuse a real
model; a file of another model lacks nearly all of them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

MISSING_SHARE = 0.5  # more than this share of the model's tensors absent from the file: another model's


class ForeignWeights(ValueError):
    """The weights file ``path`` holds another model's tensors (``why``: in a few words)."""

    def __init__(self, path: Path, why: str) -> None:
        super().__init__(f"{path.name} {why}")
        self.path = path
        self.why = why


def weights_file(folder: Path) -> Path:
    """The file a damage sentence names for ``folder``'s weights: its one safetensors file, else its
    shards' index (a sharded checkpoint), else the first shard."""
    files = sorted(folder.glob("*.safetensors"))
    if len(files) == 1:
        return files[0]
    index = sorted(folder.glob("*.safetensors.index.json"))
    return (index or files or [folder / "model.safetensors"])[0]


def check_loading_info(model: Any, info: dict[str, Any], folder: Path) -> None:
    """Refuse a load whose file lacked most of ``model``'s tensors (``info``: ``from_pretrained``'s
    ``output_loading_info``)."""
    missing = list(info.get("missing_keys") or [])
    total = len(model.state_dict())
    if total and len(missing) > MISSING_SHARE * total:
        raise ForeignWeights(weights_file(folder), f"holds another model's weights ({len(missing):,} of this "
                             f"model's {total:,} tensors are not in it, e.g. {sorted(missing)[0]})")


def from_pretrained(auto_class: Any, folder: Path, **kwargs: Any) -> Any:
    """``auto_class.from_pretrained(folder, **kwargs)``, refusing a file of another model's weights."""
    model, info = auto_class.from_pretrained(str(folder), output_loading_info=True, **kwargs)
    check_loading_info(model, info, folder)
    return model
