"""One model family as the rest of the backend reaches it: the ``Family`` interface.

A family is the code that belongs to one set of shape and texture models (``hunyuan3d``,
``step1x``): how each of its models loads, how its shape model samples, how it paints one target
and bakes a texture into an artist's own UVs, what its shape stage needs of memory and precision,
what its paint model's weights weigh, and which heavy modules its models import. The jobs, the service and the
model manager ask the table (``table.FAMILIES``, ``table.family_of``) for a model's family and call
these, so they never branch on a family's name. What every family shares stays in ``stages``.

A family also brings the random-weight replicas of its models (``FamilyReplicas``): its part of the
tiny set the tests load (``replicas.build``) and its components of the full-size set the benchmarks
load (``replicas.full``), which put them together beside the shared models' without naming a family.

This module imports no family: a family's own modules define their ``Family`` (each family's
``family.py``), and ``table`` names those modules and imports one only when its family is asked for.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Protocol, Sequence

from img23d_protocol import ErrorCode, ProtocolError
from PIL import Image

from ..env.job_control import CancelToken, ProgressFn
from ..models.dtypes import Precision
from ..models.manager import Loader
from ..models.preflight import PaintModel, ShapeMemory
from ..models.specs import ModelSpec
from ..runs.folders import TargetRecord
from ..mesh.shapes import ShapeSettings
from ..uv.retexture import UVBake
from ..stages.step_context import StepContext
from .facts import FamilyFacts

# The roles whose models a family brings (the others, grounding, matting and depth, every family shares).
FAMILY_ROLES = ("shape", "delight", "paint")

LoaderFactory = Callable[[ModelSpec], Loader]


class ShapeSampler(Protocol):
    """A family's shape stage: one trimesh (or None where no surface was found) per image, in order.

    ``on_mesh(index, mesh)`` hears of each mesh as soon as it exists, so its clean-up can start while
    the next is made; ``full_precision`` (a context in which the model runs in float32) and
    ``on_redo(index, why)`` serve a family that runs in float16 with a check (``models.dtypes``). A
    cut-out with nothing in it is refused before any work (``refuse_empty_cutouts``)."""

    def __call__(self, model: Any, images: list[Image.Image], seeds: list[int], settings: ShapeSettings, *,
                 cancel: CancelToken, progress: ProgressFn, on_mesh: Callable[[int, Any], None] | None = None,
                 full_precision: Callable[[], AbstractContextManager[Any]] | None = None,
                 on_redo: Callable[[int, str], Any] | None = None) -> list[Any]: ...


def refuse_empty_cutouts(images: Sequence[Image.Image | Mapping[str, Image.Image]]) -> None:
    """``bad_request`` naming the first of ``images`` (each a cut-out, or a target's views by side) whose alpha is
    zero everywhere: a shape model has nothing to shape there (a family's sampler asks this first, before any work)."""
    for index, image in enumerate(images):
        for side, picture in (image.items() if isinstance(image, Mapping) else (("", image),)):
            if picture.mode in ("RGBA", "LA") and picture.getchannel("A").getbbox() is None:
                which = f"cut-out {index + 1} of {len(images)}" + (f" (its {side} view)" if side else "")
                raise ProtocolError(ErrorCode.BAD_REQUEST, f"{which} is fully transparent: there is nothing in it "
                                    "to shape")


# Per-view RGB images (one per painted view, each the view's size) -> one RGB texture in the painted
# mesh's UV layout, baked with the same view weights and hole filling as its colour.
ViewBake = Callable[[Sequence[Image.Image]], Image.Image]


@dataclass(frozen=True)
class Painted:
    """What a family's paint step painted: the textured mesh (its material's ``baseColorTexture``), the
    views its colour was baked from, and ``bake``, which bakes other images of those views (the
    material maps: ``jobs.steps.materials``) into the same UV layout as the colour was baked.

    ``pending``: the host's work left on the mesh's images, each task completing one in place (the atlas
    fills), when the job asked for it to be left (``defers_fills``: a Generate runs it on its tail's worker
    while the device paints the next target); empty when the mesh is complete. A ``bake`` of a painted
    mesh with pending work leaves its own fill there too."""

    mesh: Any
    views: tuple[Image.Image, ...]
    bake: ViewBake
    pending: list[Callable[[], None]] = field(default_factory=list)

    def complete(self) -> None:
        """Run the pending work here and now (a step that reads the images before the tail would)."""
        while self.pending:
            self.pending.pop(0)()


# A family's paint step: (the job painting the target, as its steps see it, the target's record, its mesh, its cut-out, the UV unwrap made
# ahead or None) -> what it painted. Raises skips.TextureUnavailable when a texture model cannot
# be loaded, and ProtocolError when this target cannot be painted.
PaintStep = Callable[[StepContext, TargetRecord, Any, Any, Callable[[], Any] | None], Painted]

# A replica written into a folder: its manifest entry and the seed it was made with.
ReplicaBuild = Callable[[Path], tuple[dict[str, Any], int]]


@dataclass(frozen=True)
class BesideReplica:
    """A folder a full-size component writes beside its own (Hunyuan3D-2mini's FlashVDM VAE beside
    its DiT's folder, as in the real repository); its manifest entry goes under ``key`` in the
    component's."""

    key: str
    folder: Path              # below the root
    build: ReplicaBuild


@dataclass(frozen=True)
class FullSizeReplica:
    """One component of the full-size replica set (``replicas.full``): one model at its published size."""

    name: str                                 # the component's name (bench/full_size_models.py --only)
    spec: Callable[[Path], ModelSpec]         # the spec it loads with, under a root
    target: Path                              # its folder below the root
    construct: Callable[[], Mapping[str, Any]]  # its parts, in the current device context (meta: counted)
    build: ReplicaBuild                       # its folder written at the given path
    published_params: Mapping[str, float]     # the published parameter counts of its parts, for the report
    beside: tuple[BesideReplica, ...] = ()


@dataclass(frozen=True)
class FamilyReplicas:
    """A family's random-weight replicas, in the real repositories' folder layouts."""

    tiny_folders: tuple[str, ...]             # the keys ``build_tiny`` gives the tiny set's manifest
    # The tiny set's root -> its replicas written there, the manifest's entries by those keys.
    build_tiny: Callable[[Path], dict[str, dict[str, Any]]]
    full_size: tuple[FullSizeReplica, ...]    # its full-size components, in build order


@dataclass(frozen=True)
class Family:
    """One model family's code, as the backend calls it."""

    name: str                                 # its key in img23d_protocol.MODEL_FAMILIES
    loaders: Mapping[str, LoaderFactory]      # role ("shape", "paint", "delight") -> its model's loader
    sample_shapes: ShapeSampler
    paint_target: PaintStep
    # The paint model's memory on a device (its weights in the dtype it runs in, its sampling), for the
    # job's preflight; None where the preflight's own figures cover it (Hunyuan3D-Paint's, measured).
    paint_model: Callable[[ModelSpec, Any], PaintModel | None]
    # Its rasterizer and hole filling, for baking a painted proxy into an artist's own UVs (Re-texture).
    uv_bake: UVBake
    # Its models' rows and figures (its light ``specs`` module's, which ``table.facts_of`` also finds).
    facts: FamilyFacts
    # The heavy modules its models import on first use: the service imports them right after hello.
    warmup_modules: tuple[str, ...]
    # Its random-weight replicas. A function: the builders import torch, diffusers and the family's
    # networks, which a backend start must not wait for; only a replica build calls it.
    replicas: Callable[[], FamilyReplicas]

    @property
    def shape_precision(self) -> Callable[[Any], Precision | None]:
        """The dtype its shape model runs in on a device (``models.dtypes``); None: its loader's own rule."""
        return self.facts.shape_precision

    @property
    def shape_memory(self) -> Callable[[Precision | None, int], ShapeMemory]:
        """How its shape stage's memory grows (for the preflight), given that precision and the shape
        model's parameters."""
        return self.facts.shape_memory

    def __post_init__(self) -> None:
        unknown = set(self.loaders) - set(FAMILY_ROLES)
        if unknown or not {"shape", "paint"} <= set(self.loaders):
            raise ValueError(f"family {self.name!r}: loaders for {sorted(self.loaders)}; it needs shape and paint, "
                             f"and may add only {', '.join(FAMILY_ROLES)}")
