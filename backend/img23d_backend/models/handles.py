"""What the model manager keeps per model: its handle (loader, tier, size, counters), the tiers and
policies, and how a model made of separately placed parts is registered (``PartLoaders``).

A role's model is usually one placement unit. A model whose networks run one after the other (the
image editor: text encoder, then transformer and VAE) is registered as parts, each its own handle
under the one role: the role stays what the registry, downloads, licences and job records know (one
spec, one folder), while the manager places, evicts and counts each part like any other model.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, Callable, Iterator

from . import placement
from .registry import ModelSpec

# loader(model folder, device) -> the model placed on that device, in its working dtype
Loader = Callable[[Path, Any], placement.LoadedModel]


class Policy(str, Enum):
    """How long models stay. Only MANAGED is for users; the other two are the benchmark's
    reference points: SEED is the seed pipeline's way, RESIDENT the all-loaded speed limit."""

    MANAGED = "managed"    # within the budget, least recently used out first
    RESIDENT = "resident"  # never evict, whatever the budget
    SEED = "seed"          # read from disk before every use, drop right after


class Tier(str, Enum):
    DEVICE = "device"
    RAM = "ram"
    DROPPED = "dropped"


@dataclass
class ModelCounters:
    loads_from_disk: int = 0
    moves_to_device: int = 0
    moves_to_ram: int = 0
    drops: int = 0
    bytes_moved: int = 0
    load_seconds: float = 0.0

    def minus(self, other: "ModelCounters") -> "ModelCounters":
        return ModelCounters(**{k: round(v - getattr(other, k), 4) if isinstance(v, float) else v - getattr(other, k)
                                for k, v in asdict(self).items()})

    def plus(self, other: "ModelCounters") -> "ModelCounters":
        return ModelCounters(**{k: round(v + getattr(other, k), 4) if isinstance(v, float) else v + getattr(other, k)
                                for k, v in asdict(self).items()})


@dataclass(frozen=True)
class PartLoaders:
    """A model registered as parts: each part's loader reads only that part from the model's folder,
    and ``sizes`` are their estimated sizes (bytes) until each is loaded and measured."""

    loaders: dict[str, Loader]
    sizes: dict[str, int]

    def __post_init__(self) -> None:
        if not self.loaders or "" in self.loaders or self.loaders.keys() != self.sizes.keys():
            raise ValueError(f"parts need names and a size each: {sorted(self.loaders)} vs {sorted(self.sizes)}")


@dataclass
class ModelHandle:
    """One placement unit: a role's whole model (``part`` empty) or one part of it."""

    spec: ModelSpec
    loader: Loader
    part: str = ""
    tier: Tier = Tier.DROPPED
    loaded: placement.LoadedModel | None = None
    size: int = 0
    measured: bool = False
    last_used: float = 0.0
    in_use: int = 0
    counters: ModelCounters = field(default_factory=ModelCounters)

    @property
    def display(self) -> str:
        return f"{self.spec.display} ({self.part})" if self.part else self.spec.display

    def record(self) -> dict[str, Any]:
        """Its tier, size and counters, JSON-ready (``ModelManager.snapshot``)."""
        return {"tier": self.tier.value, "bytes": self.size, "measured": self.measured,
                "pinned_bytes": self.loaded.pinned_bytes if self.loaded is not None else 0, **asdict(self.counters)}


def summed_counters(counters: Iterator[ModelCounters]) -> ModelCounters:
    """Several handles' counters added up (a parted model's)."""
    total = ModelCounters()
    for one in counters:
        total = total.plus(one)
    return total


def role_record(handles: dict[str, ModelHandle]) -> dict[str, Any]:
    """A role's model as the manager's snapshot gives it: a whole model's record, or its parts' summed and each."""
    if "" in handles:
        return {"id": handles[""].spec.display, **handles[""].record()}
    parts = list(handles.values())
    tier = next((tier for tier in Tier if any(handle.tier is tier for handle in parts)), Tier.DROPPED)
    return {"id": parts[0].spec.display, "tier": tier.value, "bytes": sum(handle.size for handle in parts),
            "measured": all(handle.measured for handle in parts),
            "pinned_bytes": sum(handle.loaded.pinned_bytes for handle in parts if handle.loaded is not None),
            **asdict(summed_counters(handle.counters for handle in parts)),
            "parts": {handle.part: handle.record() for handle in parts}}
