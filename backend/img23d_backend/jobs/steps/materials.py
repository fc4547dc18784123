"""The material step of a Generate: roughness and metallic maps for a painted object, baked into its
UV layout beside its colour.

After a target is painted, the material model (the set's, ``materials.driver``) runs on
the views its family's paint step baked the colour from, and each view's two maps, packed as glTF's
metallicRoughness texture packs them (roughness in G, metallic in B, R unused and 255), are baked
through that family's own bake (``families.family.Painted.bake``: the same cameras, view weights and
hole filling as the colour) into one texture. The mesh's material then carries it as
``metallicRoughnessTexture`` with both factors 1.0, so the texture rules; the base colour stays the
paint model's, and the GLB writer (trimesh's glTF exporter) writes both.

The step runs where the job paints and its ``materials`` option is on. When the model cannot be
loaded or run (a damaged file, out of memory, maps that are not numbers), or its maps cannot be baked,
every object keeps its
colour texture and the job says so once (``skips.skip_materials``: the manifest's and the result's
``materials_skipped``); the model is not tried again for the job's other targets.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from PIL import Image

from img23d_protocol import ErrorCode, ProtocolError

from ...env import failpoints
from ...families.family import Painted
from ...runs.folders import TargetRecord
from ...stages import skips
from ...materials.driver import MaterialMaps, material_maps
from ...stages.step_context import StepContext

STAGE = "materials"
UNUSED_RED = 255  # glTF reads metallicRoughness's G and B only; R is left full, as the spec allows


def wanted(run: StepContext) -> bool:
    """Whether ``run``'s painted objects get material maps: asked for and not skipped for the job."""
    return bool(run.options.texture and run.options.materials and not run.run_folder.manifest.materials_skipped)


def with_materials(run: StepContext, record: TargetRecord, painted: Painted) -> Any:
    """``painted.mesh`` with its metallicRoughness texture when the job wants one; the mesh as painted
    (its colour texture) when it does not, or when the material model fails (said once: ``skips``)."""
    if not wanted(run):
        return painted.mesh
    started = time.perf_counter()
    # A stage of its own, after the paint stage has closed: the job's timings and memory peaks count it (they
    # left it out before, a quarter of a textured job on a GPU), and its heartbeat keeps the add-on's watchdog
    # from stopping a step that takes minutes on a CPU with the real model.
    with run.stage(STAGE, f"estimating roughness and metallic maps for {record.target!r}"):
        try:
            maps = material_maps(run.manager, painted.views, run.job.cancel)
            texture = _baked(run, painted, maps)
        except skips.MaterialsUnavailable as exc:
            skips.skip_materials(run, skips.materials_sentence(exc))
            return painted.mesh
    record.timings["materials"] = round(time.perf_counter() - started, 4)
    def keep() -> None:
        run.run_folder.write_image(f"views/{record.stem}/metallic_roughness.png", texture)

    if painted.pending:  # the maps' fill is left to the job's tail: the picture is written once filled
        painted.pending.append(keep)
    else:
        keep()
    return with_texture(painted.mesh, texture)


def _baked(run: StepContext, painted: Painted, maps: list[MaterialMaps]) -> Image.Image:
    """The views' maps baked into the painted mesh's UV layout; ``MaterialsUnavailable`` when the bake fails
    (out of memory beside the material model, at the colour's render size): the maps serve the colour
    texture already made, so they never cost the object (a failure here failed the job, every object lost)."""
    try:
        failpoints.hit("materials.bake")
        return painted.bake([packed(view) for view in maps])
    except ProtocolError as exc:
        if exc.code is ErrorCode.CANCELLED:
            raise
        raise skips.maps_unbaked(exc) from exc
    except Exception as exc:  # the boundary of the material step: any failure keeps the colour texture
        raise skips.maps_unbaked(exc) from exc


def packed(maps: MaterialMaps) -> Image.Image:
    """One view's maps as glTF packs them: R unused (255), G roughness, B metallic, 8 bits each."""
    def byte(values: np.ndarray) -> np.ndarray:
        return (np.clip(values, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)

    green, blue = byte(maps.roughness), byte(maps.metallic)
    return Image.fromarray(np.stack([np.full_like(green, UNUSED_RED), green, blue], axis=-1), "RGB")


def with_texture(mesh: Any, texture: Image.Image) -> Any:
    """``mesh`` (a painted trimesh: its own copy, made by the paint step) with ``texture`` as its
    material's metallicRoughness texture and both factors 1.0, which multiply the texture's values."""
    material = mesh.visual.material
    material.metallicRoughnessTexture = texture
    material.metallicFactor = 1.0
    material.roughnessFactor = 1.0
    return mesh
