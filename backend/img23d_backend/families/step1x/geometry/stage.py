"""Step1X-3D's shape stage as the family interface calls it: a job's shape settings (the ones every
family shares, ``mesh.shapes``) read into the sampler's own, then ``generate_geometry``."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any, Callable

from PIL import Image

from ....env.job_control import CancelToken, ProgressFn
from ....mesh.shapes import ShapeSettings
from ...family import refuse_empty_cutouts
from .generate import GeometrySettings, generate_geometry
from .label import LabelChoice
from .loader import Step1XGeometry
from ....surfaces.volume import CHUNK, MIN_COARSE, THIN_COARSE, GridSettings


def geometry_settings(settings: ShapeSettings) -> GeometrySettings:
    """A job's shape settings for Step1X-3D: its hierarchical grid reaches the octree resolution
    (rounded up so that each level halves exactly) from a coarsest level of at least 64 cells, or, with
    the dense decoder asked for (Quality Standard, High), of ``THIN_COARSE``: no thin sheet is lost then
    (the choice was Hunyuan3D-2's alone, and a sheet between two samples of 64 was lost at every quality)."""
    coarse = THIN_COARSE if settings.decoder == "dense" else MIN_COARSE
    return GeometrySettings(steps=settings.steps, guidance_scale=settings.guidance_scale,
                            grid=GridSettings.for_octree(settings.octree_resolution, settings.num_chunks or CHUNK,
                                                         coarse),
                            batch_size=settings.batch_size, label=LabelChoice(settings.symmetry, settings.sharpness))


def sample_shapes(model: Step1XGeometry, images: list[Image.Image], seeds: list[int], settings: ShapeSettings, *,
                  cancel: CancelToken, progress: ProgressFn, on_mesh: Callable[[int, Any], None] | None = None,
                  full_precision: Callable[[], AbstractContextManager[Any]] | None = None,
                  on_redo: Callable[[int, str], Any] | None = None) -> list[Any]:
    """One trimesh (or None) per cut-out, in order (``generate.generate_geometry``, which says how); an empty
    cut-out refused before any work."""
    refuse_empty_cutouts(images)
    return generate_geometry(model, images, seeds, geometry_settings(settings), cancel=cancel, progress=progress,
                             on_mesh=on_mesh, full_precision=full_precision, on_redo=on_redo)
