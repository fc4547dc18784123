"""One parts model as the rest of the backend reaches it: its row (``PartsRow``: facts, no code) and its
code (``PartGenerator``). Light: the catalog imports it on every start (no numpy, no torch).

A parts model makes one object's parts as separate meshes from a picture, a mesh, or both with a mask
(``part.PartsRequest`` in, ``part.PartMesh`` out). Shaped as ``materials.material``: each model brings

* its row (``<model>/model.py``'s ``ROW``): its choice name, its spec (repository, files, size, the
  further repositories it reads), its tiny replica's folder, its full-size component's name, what one
  part computes (``PartsWork``, for the time estimate), its measured run (``PartsBenchmark``) and what
  each phase holds in memory (``PartsMemory``);
* its code (``<model>/generator.py``'s ``GENERATOR``): the model manager's loaders for its parts
  (``models.handles.PartLoaders``: each network a placement unit of its own), the call that makes the
  parts, and its random-weight replica.

``table`` names each model's folder and imports its row or code only when asked; nothing outside this
room names a parts model (tests/test_model_rooms_boundary.py).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Mapping

from ..models.specs import ModelCode, ModelReplica, ModelSpec

TINY_PARTS_BYTES = 2 << 20  # every parts model's size in the tiny set


@dataclass(frozen=True)
class PartsWork:
    """What one part costs to draw, from the architecture: the DiT's shape, the tokens it reads, and the
    passes (forwards per step x steps); the whole object drawn from a picture first takes ``whole_forwards``
    per step."""

    width: int                 # the DiT's width
    blocks: int
    part_blocks: int           # blocks that attend to the part history
    skip_blocks: int           # blocks that take a long skip (a 2 x width -> width linear)
    mlp_ratio: float
    latents: int               # the DiT's latent tokens (+1: the timestep token)
    image_tokens: int          # the conditioner's tokens
    image_width: int           # their width after the projection
    history_tokens: int        # the part history's tokens (each latent's tokens x its entries)
    history_width: int
    forwards_per_step: int     # guided passes per step of one part
    whole_forwards_per_step: int
    steps: int

    def forward_flops(self) -> float:
        """One DiT forward's floating-point operations (a multiply-add counts two)."""
        n, w, m, h = self.latents + 1, self.width, self.image_tokens, self.history_tokens
        self_attention = 2 * 4 * w * w * n + 4 * n * n * w
        image_attention = 2 * 2 * w * w * n + 2 * 2 * self.image_width * w * m + 4 * n * m * w
        feed_forward = 2 * 2 * self.mlp_ratio * w * w * n
        history = 2 * 2 * w * w * n + 2 * 2 * self.history_width * w * h + 4 * n * h * w
        skip = 2 * 2 * w * w * n
        return (self.blocks * (self_attention + image_attention + feed_forward)
                + self.part_blocks * history + self.skip_blocks * skip)


@dataclass(frozen=True)
class PartsBenchmark:
    """One parts model's pieces measured on one CPU in float32 (``bench/autopartgen_cost.py``): one DiT
    forward, one decode at ``decode_grid``, the conditioner on one picture, and the probe's speed then."""

    gflops: float
    forward_s: float
    decode_s: float
    decode_grid: int
    condition_s: float


@dataclass(frozen=True)
class HostCosts:
    """What a part costs besides the networks, timed through the model's own functions on one CPU
    (``bench/parts_host_cost.py``): ``sample_s`` for ``samples`` surface samples (numpy, on the host on every
    device), ``fps_step_s`` for one farthest-point step over ``fps_pool`` points (on that CPU), ``clean_s`` and
    ``overlap_s`` for a part of ``faces`` triangles (the accepted part's clean-up; its overlap check against one
    part as large, made when no mask names the parts)."""

    samples: int
    sample_s: float
    fps_pool: int
    fps_step_s: float
    faces: int
    clean_s: float
    overlap_s: float


@dataclass(frozen=True)
class HistoryWork:
    """One encoding of the part history (after each accepted part but the last, and of a given mesh): ``samples``
    surface samples, a pool of ``fps_pool`` of them, ``fps_steps`` farthest-point steps over it (the VAE's input
    and its latent queries)."""

    samples: int
    fps_pool: int
    fps_steps: int


@dataclass(frozen=True)
class PartsMemory:
    """Each phase's weights and activations, bytes in float32: the conditioner on one picture; a part's
    drawing (the DiT's three passes, the VAE beside it); its decoding, which grows with the grid's cells."""

    condition_bytes: int
    draw_bytes: int
    decode_fixed_bytes: int
    decode_bytes_per_cell: float


@dataclass(frozen=True)
class PartsRow:
    """One parts model's facts: what the catalog, the model listing and the estimates read."""

    name: str                  # its choice name (``models download parts/<name>``)
    spec: ModelSpec
    tiny_folder: str           # its tiny replica's folder below the tiny set's root
    component: str             # its full-size component (``bench/full_size_models.py --only``)
    work: PartsWork
    benchmark: PartsBenchmark
    memory: PartsMemory
    part_bytes: Mapping[str, int]   # each network's weights as it runs (float32), by the manager's part name
    host: HostCosts
    history: HistoryWork            # the published model's
    tiny_history: HistoryWork       # its tiny replica's (the estimate of a tiny run counts its own sampling)
    part_faces: int                 # a trained model's part decoded at 256 cells a side: its triangles

    def __post_init__(self) -> None:
        if self.spec.options.get("parts") != self.name:
            raise ValueError(f"parts model {self.name!r}: its spec's options must name it (options['parts'])")

    def tiny_spec(self, root: Path) -> ModelSpec:
        """Its tiny replica under ``root``: the real files, each further repository in a folder inside it."""
        return self._local(Path(root) / self.tiny_folder, "tiny", TINY_PARTS_BYTES)

    def full_size_spec(self, root: Path) -> ModelSpec:
        """Its full-size replica under ``root``: the tiny one's layout with the real model's size."""
        return self._local(Path(root) / self.tiny_folder, "full-size", self.spec.size_bytes)

    def _local(self, folder: Path, label: str, size: int) -> ModelSpec:
        # A replica is one folder (one manifest entry): the further repositories (DINOv2's) sit inside it,
        # each in a folder named as its repository, so the loader finds them as it finds the hub's.
        sources = tuple(ModelSpec(role=source.role, repo_id=f"{label}/{source.repo_id.rpartition('/')[2]}",
                                  local_path=folder / source.repo_id.rpartition("/")[2],
                                  allow_patterns=source.allow_patterns, exact_files=True)
                        for source in self.spec.sources)
        # Its options say which sizes the replica was written at (the loader builds those).
        options = {**self.spec.options, "replica": label}
        return replace(self.spec.tiny_replica(folder, size, options), repo_id=f"{label}/{folder.name}",
                       sources=sources)


# (the manager, the request, progress, the cancel token) -> the parts (``part.PartMesh``)
Generate = Callable[[Any, Any, Callable[[Any], None], Any], list[Any]]


@dataclass(frozen=True)
class PartGenerator(ModelCode):
    """One parts model's code, as the driver calls it."""

    generate: Generate
