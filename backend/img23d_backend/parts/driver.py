"""The parts room's driver: a parts model's steps as a job runs them, whichever model it is (reached through
``table``, as ``editors.driver`` and ``materials.driver`` reach theirs), shared by ``parts`` (``jobs.kinds.parts``)
and a Generate that makes a name in parts too (``jobs.kinds.generate_parts``): names found on a picture made into a
part mask, the parts drawn with per-part progress, and each part written (simplified, or given its share of a
painted whole's colour) with the job's models and their licences in its ``asset`` (``gltf.made_by``). The job
is seen through ``stages.step_context.StepContext``, so this room imports no job.

Frames: a part comes from the model in the frame of the mesh it was given, glTF's axes (+Y up); ``scenes``
turns it back to Blender's for the flat-coloured pieces, a baked part stays in glTF's.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import trimesh
from PIL import Image
from img23d_protocol import Artifact, ArtifactKind, ErrorCode, ProtocolError

from ..models.registry import PARTS_ROLE
from ..env.job_control import CancelToken
from ..finish.bake.pipeline import BakeSettings, bake
from ..finish.glb import finished_trimesh
from ..gltf.frame import from_gltf
from ..gltf.writer import export_glb
from ..stages.crop import crop_box
from ..grounding import driver as ask
from ..matting import driver as matting
from ..mesh.cleanup import decimate
from ..stages.step_context import StepContext, warn
from . import costs
from .indexed_mask import ALPHA_THRESHOLD, from_alphas
from .part import PartMesh, PartProgress
from .part import PartsRequest as ModelRequest
from .record import DrawnPart
from .scenes import part_mesh
from .split.pieces import is_closed
from .table import generator_of

CROP_MARGIN = 0.1   # as Generate's crops: the matting model needs some background round a part
PART_BAKE = BakeSettings(size=1024)   # each part's share of the painted whole (its own UVs, 1024 texels a side)


@dataclass
class DrawnParts:
    """The parts as written (``record.DrawnPart``, each with its GLB relative to the run) and the combined GLB."""

    parts: list[DrawnPart] = field(default_factory=list)
    combined: str = ""


def names_mask(run: StepContext, picture: Any, names: list[str], detections: str) -> np.ndarray | None:
    """An indexed mask (value i + 1 for name i) from ``names`` found on ``picture`` (RGBA: only its object
    counts): each grounded, its box cut out; ``detections`` is where the answer is kept in the run. None
    when no name was found; a name found nowhere is a warning and makes no part."""
    options = ask.GroundingOptions.from_spec(run.manager.spec("grounding").options)
    with run.stage("grounding"), run.manager.use("grounding") as grounder:
        found = ask.find(grounder, picture, names, options=options, cancel=run.job.cancel)
    answer, matches = found.answer, found.matches
    width, height = picture.size
    run.run_folder.write_json(detections, {"coords": "pixels of the picture", "raw_answer": answer.text,
                                           "matches": {m.target: [d.to_dict() for d in m.detections]
                                                       for m in matches}})
    crops = []
    for index, match in enumerate(matches):
        if match.detections:
            rect = crop_box(match.detections[0].box, picture.size, margin=CROP_MARGIN, min_size=32)
            crops.append((index, rect, picture.convert("RGB").crop(rect)))
    if not crops:
        return None
    with run.stage("matting"), run.manager.use("matting") as model:
        cutouts = matting.matte_all(run, model, [crop for _, _, crop in crops])
    alphas: list[np.ndarray | None] = [None] * len(names)
    for (index, (x0, y0, x1, y1), _), cutout in zip(crops, cutouts):
        if isinstance(cutout, Image.Image):  # not an UnusableMatte, nor an OutOfMemory
            alpha = np.zeros((height, width))
            alpha[y0:y1, x0:x1] = np.asarray(cutout.getchannel("A"), dtype=np.float64) / 255.0
            alphas[index] = alpha
    found = {index for index, _, _ in crops}
    if all(alpha is None for alpha in alphas):
        # Every matte failed (an out-of-memory, a matte of nothing): no name was missing from the picture.
        cut = [repr(names[i]) for i in sorted(found)]
        listed = cut[0] if len(cut) == 1 else f"{', '.join(cut[:-1])} and {cut[-1]}"
        raise ProtocolError(ErrorCode.SHAPE_FAILED, f"{listed} {'was' if len(cut) == 1 else 'were'} found but could "
                                                    "not be cut out of the picture, so no part mask could be made")
    inside = np.asarray(picture.getchannel("A")) >= 128 if picture.mode == "RGBA" else None
    mask = from_alphas(alphas, inside)
    present = {int(value) for value in np.unique(mask)}
    for index, (name, alpha) in enumerate(zip(names, alphas)):
        if index not in found:
            warn(run, "mask", "part_not_found", f"{name!r} was not found on the picture: no part is drawn for it")
        elif alpha is None or alpha.max() < ALPHA_THRESHOLD:   # an unusable matte, or one of nothing
            warn(run, "mask", "part_not_found", f"{name!r} could not be cut out of the picture: no part is drawn "
                                                "for it")
        elif index + 1 not in present:
            warn(run, "mask", "part_not_found", f"{name!r} was found, but the other names' cut-outs cover all of "
                                                "it: no part is drawn for it")
    return mask if mask.any() else None



def found_names(names: list[str], mask: np.ndarray) -> list[str]:
    """The names whose value (i + 1) a mask made by ``names_mask`` holds, in order: the parts' names as the
    part loop takes them (one per value, in increasing order)."""
    present = {int(v) for v in np.unique(mask) if v != 0}
    return [name for index, name in enumerate(names) if index + 1 in present]


def draw(run: StepContext, request: ModelRequest, what: str = "") -> list[PartMesh]:
    """The parts of ``request`` from the manager's parts model, each reported as it is made (part k, the
    seconds so far, the estimate as it looks then); ``what`` names the object in the reports."""
    spec = run.manager.spec(PARTS_ROLE)
    estimate = costs.request_estimate(spec, run.manager.device_of(PARTS_ROLE), request)
    started = time.perf_counter()
    of = f" of {what}" if what else ""

    def report(progress: PartProgress) -> None:
        if progress.part == 0:
            text = "drawing the whole object from the picture first"
        else:
            text = (f"part {progress.part} of up to {estimate.parts}{of} made: {progress.seconds:.0f} s so far, about "
                    f"{max(progress.estimate, progress.seconds):.0f} s in all")
        run.progress("parts", progress.part, estimate.parts, f"{text} ({time.perf_counter() - started:.1f} s)")

    with run.stage("parts"):
        run.progress("parts", 0, estimate.parts, f"drawing up to {estimate.parts} parts{of}, about "
                                                 f"{estimate.total_s:.0f} s")
        made = generator_of(spec).generate(run.manager, request, report, run.job.cancel)
    if not made:
        raise ProtocolError(ErrorCode.SHAPE_FAILED, f"the parts model made no part{of}: every one it drew decoded "
                                                    "to nothing (try another seed)")
    regions = estimate.parts if request.mask is not None else 0   # with a mask, the estimate counted its regions
    if len(made) < regions:   # a region the model drew as nothing: said, as the split says an empty part
        lost = [repr(name) for name in request.names if name not in {part.name for part in made}]
        among = f" ({', '.join(lost)} among them)" if lost else ""
        warn(run, "parts", "part_not_made", f"{regions - len(made)} of the mask's {regions} regions{of} decoded to "
                                            f"nothing{among}: no part is drawn for them (another seed may draw them)")
    note = decoding_note(made)
    if note:
        run.progress("parts", len(made), estimate.parts, note)
    return made


def decoding_note(made: list[PartMesh]) -> str:
    """One sentence for the parts whose decoding stopped short of the asked grid (their surface would have
    been too large), naming them; empty when none did."""
    short = [part for part in made if part.note]
    if not short:
        return ""
    names = ", ".join(part.name for part in short[:4]) + (f" and {len(short) - 4} more" if len(short) > 4 else "")
    return f"decoding {names}: {short[0].note}"


def write_parts(run: StepContext, made: list[PartMesh], stem: str, folder: str = "", painted: Any = None,
                target: str | None = None) -> DrawnParts:
    """Each part as ``<folder>/<stem>_<part>.glb`` and all as ``<stem>_combined.glb``, simplified to the job's
    face budget; with ``painted`` (the whole, textured, in the parts' frame) each part baked from it, else each
    in a flat colour of its own. Each file names the job's models and their licences (the parts model's reaches
    what it makes); each part is announced as an artifact (a mesh of its own, or with ``target`` a part of that
    object)."""
    credits, baked = run.made_by(), painted is not None
    prefix = f"{folder}/" if folder else ""
    # The combined file's name first: a part named "combined" took it, and the run failed after every part.
    combined = run.run_folder.unique_stem(f"{stem}_combined", 1)
    written, meshes = DrawnParts(), []
    for part in made:
        vertices, faces = part.vertices, np.asarray(part.faces, np.int64)
        if run.options.face_budget and len(faces) > run.options.face_budget:
            vertices, faces = decimate(vertices, faces, run.options.face_budget)
        mesh = share_of(painted, vertices, faces, part.name, run.job.cancel) if painted is not None else \
            part_mesh(part.name, from_gltf(vertices), faces, part.index)
        meshes.append((part.name, mesh))
        scene = trimesh.Scene()
        scene.add_geometry(mesh, node_name=part.name, geom_name=part.name)
        name = run.run_folder.unique_stem(f"{stem}_{part.name}", 1)
        path = run.run_folder.write_bytes_with(f"{prefix}{name}.glb",
                                               lambda p, s=scene: export_glb(s, p, credits, include_normals=baked))
        written.parts.append(DrawnPart(part.name, run.run_folder.relative(path), int(len(faces)),
                                       round(_area(vertices, faces), 8), is_closed(faces, len(vertices)),
                                       decoded_faces=int(len(part.faces)), decoding=part.note))
        run.job.emit(Artifact(job=run.job.id, kind=ArtifactKind.PART if target else ArtifactKind.MESH,
                              path=str(path), target=target or part.name))
    scene, taken = trimesh.Scene(), set()
    for name, mesh in meshes:
        # Two parts of one name (a name given as another's automatic part_NN) were one node: the second replaced
        # the first in the combined file.
        node, n = name, 2
        while node.casefold() in taken:
            node, n = f"{name}_{n}", n + 1
        taken.add(node.casefold())
        scene.add_geometry(mesh, node_name=node, geom_name=node)
    path = run.run_folder.write_bytes_with(f"{prefix}{combined}.glb",
                                           lambda p: export_glb(scene, p, credits, include_normals=baked))
    written.combined = run.run_folder.relative(path)
    if target:
        run.job.emit(Artifact(job=run.job.id, kind=ArtifactKind.PART, path=str(path), target=target))
    return written


def share_of(painted: trimesh.Trimesh, vertices: np.ndarray, faces: np.ndarray, name: str,
             cancel: CancelToken) -> trimesh.Trimesh:
    """The part with its share of the whole's colour: the whole baked onto the part's own UVs (the finish's
    bake: rays along the part's normals, the nearest point where they meet nothing, as inside a joint). Two
    parts that meet read the same surface there, so their colours agree."""
    baked = bake(painted, vertices, faces, PART_BAKE, cancel=cancel)
    return finished_trimesh(baked, 0, name)


def _area(vertices: np.ndarray, faces: np.ndarray) -> float:
    corners = np.asarray(vertices, np.float64)[np.asarray(faces)]
    return float(np.linalg.norm(np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0]),
                                axis=1).sum() / 2.0)


__all__ = ["DrawnParts", "draw", "found_names", "names_mask", "share_of", "warn", "write_parts"]
