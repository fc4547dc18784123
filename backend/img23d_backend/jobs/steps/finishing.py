"""One object's finish as a job writes it: the topology asked for, the bake, and the run folder's files.

With ``options.topology`` other than "as-generated", an object's cleaned (and, when the job paints,
painted) mesh is the *high* mesh: it is kept as ``high/<stem>.glb`` and announced as a
``high_mesh`` artifact just before the object's ``mesh``; ``finish.step.finish_mesh`` remakes it
as triangles or quads, and ``finish.bake`` bakes the high mesh's colour (when it has one) and a
tangent-space normal map onto the new (low) mesh, whose GLB (``finish.glb``) is the object's ``mesh``. The manifest's record of
the object gets ``finish``: what was asked, what was made, the fallback sentence (said once, by
the step's progress, and kept here for the summaries) and the seconds.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import trimesh
from img23d_protocol import Artifact, ArtifactKind, FinishRecord, JobOptions

from ...finish.bake import BakeSettings, bake
from ...finish.glb import write_finished_glb
from ...finish.materials import FaceMaterials, by_material
from ...finish.retopo import RetopoSettings
from ...finish.step import finish_mesh
from ...gltf.writer import export_glb
from ...runs.folders import TargetRecord
from ...uv.unwrap import Unwrapper
from ..base import JobRun

AS_GENERATED = "as-generated"
HIGH = "high"  # the run folder's folder of the generated (high) meshes


def finishes(options: JobOptions) -> bool:
    """Whether a job with ``options`` finishes its objects (a topology other than as generated)."""
    return options.topology != AS_GENERATED


@dataclass
class Finished:
    """An object's two GLBs in the run folder, written and announced."""

    low: Path
    high: Path
    record: FinishRecord  # the manifest's ``finish`` entry


def finish_object(run: JobRun, record: TargetRecord, high: trimesh.Trimesh, unwrapper: Unwrapper | None,
                  artifact: dict[str, Any], geometry: trimesh.Trimesh | None = None,
                  materials: FaceMaterials | None = None) -> Finished:
    """Keep ``high`` as ``high/<stem>.glb``, write the finished low mesh as ``<stem>.glb``, then
    announce the high one (``high_mesh``); the caller announces the low one next, as any object's
    ``mesh``. A failure announces neither.

    ``artifact``: the fields the object's artifacts carry (target, instance, box, seed...).
    ``unwrapper``: the job's UV worker, reused by the bake; None starts one for the bake.
    ``geometry``: the same surface unsplit (a painted mesh is split along its UV seams, which the
    remeshing would take for holes): the cleaned mesh; None when ``high`` is not split.
    ``materials``: the input's materials when it has several: the finished faces keep them
    (``finish.materials``), one primitive each in the GLB.
    """
    options, cancel = run.options, run.job.cancel
    started = time.perf_counter()
    # Written first, as the job without a finish would write it (the bake caches normals that
    # trimesh's exporter would add); announced once the low mesh is written, just before it.
    high_path = run.run_folder.write_bytes_with(f"{HIGH}/{record.stem}.glb",
                                                lambda p: export_glb(high, p, run.made_by()))
    shape = high if geometry is None else geometry
    result, step = finish_mesh(shape.vertices, shape.faces, RetopoSettings(options.topology, options.face_target),
                               cancel, run.progress, record.target)
    slots = None
    if materials is not None:
        result, slots = by_material(result, materials)
    run.progress("finish", 0, 1, f"{record.target}: baking {_maps(high)}normals at {options.bake_size} px")
    quads = 0 if result.quads is None else len(result.quads)
    baked = bake(high, result.vertices, result.triangles, BakeSettings(size=options.bake_size), cancel, unwrapper,
                 quads=quads)
    low_path = run.run_folder.write_bytes_with(f"{record.stem}.glb",
                                               lambda p: write_finished_glb(p, baked, quads, run.made_by(), slots))
    run.job.emit(Artifact(job=run.job.id, kind=ArtifactKind.HIGH_MESH, path=str(high_path), **artifact))
    entry = FinishRecord(topology=step.topology, target=step.faces_target, method=step.method,
                         faces_in=step.faces_in, faces_out=step.faces_out, quads=quads, fallback=step.fallback,
                         bake_size=options.bake_size, coloured=baked.base_color is not None,
                         metallic_roughness=baked.metallic_roughness is not None,
                         texels_by_nearest=baked.stats.by_nearest, texels=baked.stats.texels,
                         high_mesh=run.run_folder.relative(high_path),
                         materials=list(slots.names) if slots is not None else None,
                         seconds=round(time.perf_counter() - started, 3))
    return Finished(low_path, high_path, entry)


def finish_or_keep(run: JobRun, record: TargetRecord, high: trimesh.Trimesh, unwrapper: Unwrapper | None,
                   artifact: dict[str, Any], geometry: trimesh.Trimesh | None = None) -> Finished | None:
    """``finish_object``; None, with the failure reported for this target, when finishing it failed:
    the mesh as generated is then kept, as a failed painting keeps a mesh untextured."""
    try:
        return finish_object(run, record, high, unwrapper, artifact, geometry)
    except Exception as exc:  # finishing serves a mesh already made: it never ends the job
        # Every failure of finishing is reported as internal, running out of memory included, as before.
        run.keep_target(record, exc, "finishing", "as generated", memory_code=False)
    return None


def _maps(mesh: trimesh.Trimesh) -> str:
    """What the bake transfers besides normals, as the progress message names it."""
    material = getattr(mesh.visual, "material", None) if _coloured(mesh) else None
    if getattr(material, "metallicRoughnessTexture", None) is not None:
        return "colour, roughness, metallic and "
    return "colour and " if _coloured(mesh) else ""


def _coloured(mesh: trimesh.Trimesh) -> bool:
    visual = mesh.visual
    if isinstance(visual, trimesh.visual.TextureVisuals):
        return visual.material is not None
    return getattr(visual, "kind", None) in ("vertex", "face")

