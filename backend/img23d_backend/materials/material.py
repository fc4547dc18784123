"""One material model as the rest of the backend reaches it: its row (``MaterialRow``: facts, no code)
and its code (``MaterialModel``). Light: the registry imports it on every start.

A material model estimates a roughness map and a metallic map from each painted view of an object
(the material step of a Generate, ``jobs.steps.materials``, bakes them beside the colour). Every one runs
through the same driver (``driver``: made resident through the model manager, its activations checked,
a failure turned into one sentence) and brings what differs:

* its row (``<model>/model.py``'s ``ROW``): its choice name, its pinned spec, its tiny replica's folder
  and the run the time estimate scales from (``MaterialBenchmark``). The registry composes model sets
  from the rows, which import no code;
* its code (``<model>/material.py``'s ``MATERIAL``): its loader, its estimate, the dtype it runs in,
  the side it processes views at, and its random-weight replica.

``table`` names each model's folder and imports its row or its code only when asked. Nothing outside
this room names a material model or branches on one (tests/test_family_boundary.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from ..env.job_control import CancelToken
from ..models.specs import ModelReplica, ModelSpec

TINY_MATERIALS_BYTES = 2 << 20  # every material model's size in the tiny set


@dataclass(frozen=True)
class MaterialMemory:
    """One material model's activations on one view: a fixed part and bytes per processed pixel in
    float32 (half of it per pixel in 16 bits)."""

    fixed_bytes: int
    bytes_per_pixel: int


@dataclass(frozen=True)
class MaterialBenchmark:
    """One painted object's material step measured on one CPU in float32 (``bench/materials.py``): its
    seconds, the probe's speed during the run, and the weights' size it ran with (16 bits)."""

    seconds: float
    gflops: float
    published_bytes: int
    side: int            # the side its views were processed at (the model's own)
    steps: int = 1       # the denoising steps a view it counted
    step_share: float = 0.0  # the share of its seconds in those steps (the rest: encoding and decoding)

    def scaled_to_steps(self, steps: int) -> float:
        """Its seconds had each view run ``steps`` denoising steps."""
        return self.seconds * (1.0 - self.step_share + self.step_share * steps / self.steps)


@dataclass(frozen=True)
class MaterialRow:
    """One material model's facts: what the registry, the model listing and the time estimate read."""

    name: str                 # its choice name (``models download materials/<name>``)
    spec: ModelSpec           # its pinned repository, files and size
    tiny_folder: str          # its tiny replica's folder below the tiny set's root
    benchmark: MaterialBenchmark
    memory: MaterialMemory    # its activations on one view
    component: str            # its full-size replica's component name (``bench/full_size_models.py --only``)
    steps: int = 0            # the denoising steps the material step runs a view (0: the benchmark's)

    def __post_init__(self) -> None:
        if self.spec.options.get("material") != self.name:
            raise ValueError(f"material model {self.name!r}: its spec's options must name it (options['material'])")

    def tiny_spec(self, root: Path) -> ModelSpec:
        """Its tiny replica under ``root``: the real folder's layout and files."""
        return self.spec.tiny_replica(Path(root) / self.tiny_folder, TINY_MATERIALS_BYTES)

    def full_size_spec(self, root: Path) -> ModelSpec:
        """Its full-size replica under ``root``: the tiny one's folder with the real model's size."""
        return self.spec.full_size_replica(Path(root) / self.tiny_folder)


# (the loaded model, the views, the cancel token, steps (0: the fewest the model allows), resolution (0: the
# model's own), views a call (0: all)) -> each view's maps (``driver.MaterialMaps``)
Estimate = Callable[[Any, Sequence[Any], CancelToken, int, int, int], list[Any]]


@dataclass(frozen=True)
class MaterialModel:
    """One material model's code, as the driver calls it."""

    name: str
    loader: Callable[[ModelSpec], Any]        # the manager's loader for its spec (``models.manager.Loader``)
    estimate: Estimate
    dtype: Callable[[Any], Any]               # the torch dtype it runs in on a device
    resolution: Callable[[Any], int]          # the loaded model -> the side it processes views at by default
    replica: ModelReplica
