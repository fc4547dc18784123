"""The picture as a scene: one depth pass, each target's depth statistic, the camera, each placement.

The generate job calls in twice. After matting, ``measure`` runs the depth model once over the
picture, keeps the map in the run folder (``depth.npy``, and ``depth.png`` to look at), records
each target's statistic, solves the layout with the job's options (``layout.solve``: camera and
anchors) and announces the manifest, which now holds what any later layout needs, as a
``layout`` artifact; it keeps each target's own points of a metric map (``surface_fit.SeenSurface``). After
each mesh is written, ``record_placement`` fits the mesh to those points (``surface_fit``: how far along its line
of sight it stands and where across its box it is centred, recorded beside its statistic) and adds where that mesh
stands; once every mesh is placed, ``settle_supports`` stands what rests on another on its mesh (``support``). The
add-on lays the objects out with the same ``layout`` code from the same manifest, so a run looks the same however
it reaches Blender, and can be laid out again.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
from img23d_protocol import Artifact, ArtifactKind, ErrorCode, ProtocolError
from img23d_protocol.layout import (ACROSS_KEY, SHIFT_KEY, LayoutSettings, SceneLayout, resolve_fov, solve,
                                   targets_from_records)

from ..models.oom import is_out_of_memory
from ..readers.images import LoadedImage
from ..runs.folders import RunFolder, TargetRecord
from ..depth.driver import DepthMap, estimate_depth, matte_statistic, measured_values, preview, saved_map
from ..stages.skips import skip_depth
from ..stages.step_context import StepContext
from .floor_points import MeasuredFloor, floor_of
from .object_points import heights_of, labels_of, under_foot
from .picture import draw_layout, placed_objects
from .standing import MeshSurface
from .support import settle
from .surface_fit import SeenSurface, fit_shift, sample_count, seen_surface

LAYOUT_PICTURE = "layout.png"
NO_STATISTIC = ("no pixel under its matte has a depth the model measured: it is laid out by its box alone, at the "
                "others' median distance")
STATISTIC = "median disparity over the matte's pixels with alpha >= 128"


@dataclass(frozen=True)
class PointsRead:
    """What a metric map's points say beyond the statistics: the floor (None: none in view, or a relative map) and
    each target's own surface, by stem, for its mesh's fit."""

    floor: MeasuredFloor | None = None
    seen: dict[str, SeenSurface] = field(default_factory=dict)
    under: dict[str, str] = field(default_factory=dict)   # by stem: the target right under its foot


@dataclass(frozen=True)
class MeasuredScene:
    """The depth pass's outcome for the job: the layout solved, each target's own surface and the target under its
    foot; each placed mesh's surface joins as it is placed (``record_placement``), for ``settle_supports``."""

    layout: SceneLayout
    seen: dict[str, SeenSurface] = field(default_factory=dict)
    under: dict[str, str] = field(default_factory=dict)
    surfaces: dict[str, MeshSurface] = field(default_factory=dict)


def measure(run: StepContext, image: LoadedImage, live: list[TargetRecord], rects: dict[str, tuple[int, int, int, int]],
            cutouts: dict[str, Any]) -> MeasuredScene:
    """Depth statistics for the ``live`` targets and the scene they make, recorded in the manifest.

    ``run`` is the generate job (its run folder, stage timing, model manager and options);
    ``rects`` and ``cutouts`` are each target's crop rectangle in the working image and its matte.
    """
    folder = run.run_folder
    options = run.options
    with run.stage("depth"):
        depth = _depth_map(run, image)
        record: dict[str, Any] = {"model": None, "kind": None, "statistic": STATISTIC, "fov_estimate": None}
        if depth is not None:
            kept = saved_map(depth.values)
            record.update(model=run.manager.spec("depth").display, kind=depth.kind, fov_estimate=depth.fov_degrees,
                          map=folder.relative(folder.write_bytes_with(
                              "depth.npy", lambda p: np.save(p, kept, allow_pickle=False))),
                          preview=folder.relative(folder.write_image("depth.png", preview(kept))),
                          map_size=[int(kept.shape[1]), int(kept.shape[0])])
        read = PointsRead()
        if depth is not None:
            alphas = {target.stem: _alpha(cutouts[target.stem]) for target in live}
            record_statistics(depth, live, rects, alphas)
            read = floor_and_heights(depth, live, rects, alphas)
        else:  # every measured target gets an entry: the entries say which targets a later layout solves together
            for target in live:
                target.depth = {"disparity": None, "pixels": 0}
        floor = read.floor
        settings = LayoutSettings(fov_degrees=resolve_fov(options.fov_degrees, record["fov_estimate"],
                                                          options.estimate_fov),
                                  ground=options.ground, metric=record["kind"] == "metric",
                                  floor=(floor.pitch, floor.elevation) if floor is not None else None)
        layout = solve(image.original_size, targets_from_records(live), settings)
        folder.manifest.scene = {"depth": record, "layout": asdict(settings), "scale": settings.scale,
                                 "camera": layout.camera.to_dict(),
                                 **({"floor": asdict(floor)} if floor is not None else {})}
    run.job.emit(Artifact(job=run.job.id, kind=ArtifactKind.LAYOUT, path=str(folder.path("manifest.json"))))
    return MeasuredScene(layout, read.seen, read.under)


def record_placement(layout: SceneLayout | None, record: TargetRecord, mesh: Any,
                     measured: MeasuredScene | None = None) -> None:
    """Where ``record``'s mesh stands, in the record (the manifest is saved by the caller), once fitted to its own
    surface in a metric map, where the depth pass kept one (``measured``; ``surface_fit``): the shift and the
    centring are recorded beside its statistic and stand in ``layout`` for the placements after, and the mesh's
    surface joins ``measured`` for ``settle_supports``."""
    if layout is None or record.stem not in layout.anchors:
        return
    seen = measured.seen.get(record.stem) if measured is not None else None
    if not (layout.settings.metric and isinstance(record.depth, dict)):
        seen = None
    # One sample of its surface serves its fit and, once every mesh is placed, who rests on it.
    supports = measured is not None and bool(measured.under)
    surface = MeshSurface.of(mesh.vertices, mesh.faces, sample_count(seen)) if seen is not None or supports else None
    if seen is not None and surface is not None:
        fitted = fit_shift(layout, record.stem, surface, seen)
        if fitted is not None:
            record.depth = {**record.depth, SHIFT_KEY: fitted[0], ACROSS_KEY: fitted[1]}
            layout.anchors[record.stem] = replace(layout.anchors[record.stem], shift=fitted[0], across=fitted[1])
    extents = mesh_extents(mesh)
    # The extents too: with them the run folder alone draws each footprint (layout.png).
    record.placement = {**layout.place(record.stem, extents).to_dict(), "extents": list(extents)}
    if supports and surface is not None:
        measured.surfaces[record.stem] = surface  # type: ignore[union-attr]


def settle_supports(measured: MeasuredScene | None, records: list[TargetRecord]) -> None:
    """Once every mesh is placed, each raised object stands on the placed mesh of the target under its foot
    (``support``), its record's placement and depth entry with it."""
    if measured is not None and measured.under:
        settle(measured.layout, records, measured.surfaces, measured.under)


def write_layout_picture(folder: RunFolder) -> None:
    """``layout.png`` in the run folder: the top view of the placed objects and the camera
    (``layout_picture``), when the run placed any."""
    camera = folder.manifest.scene.get("camera")
    objects = placed_objects(folder.manifest.records)
    if isinstance(camera, dict) and objects:
        folder.write_image(LAYOUT_PICTURE, draw_layout(camera, objects))


def mesh_extents(mesh: Any) -> tuple[float, float, float]:
    """The mesh's size along Blender's x, y and z once imported: glTF is Y-up, and Blender's
    importer turns glTF (x, y, z) into (x, -z, y)."""
    vertices = np.asarray(mesh.vertices, dtype=np.float64)
    size = vertices.max(axis=0) - vertices.min(axis=0)
    return float(size[0]), float(size[2]), float(size[1])


def _depth_map(run: StepContext, image: LoadedImage) -> DepthMap | None:
    """The depth model's map of the picture; None without a depth model or when it could not be
    loaded or run (the layout then works from the boxes alone, and the manifest says why in one
    sentence: ``stages.skips.skip_depth``)."""
    if "depth" not in run.manager.roles:
        return None
    try:
        with run.manager.use("depth") as model:
            return estimate_depth(model, image.image, run.job.cancel)
    except ProtocolError as exc:
        if exc.code is ErrorCode.CANCELLED:
            raise
        skip_depth(run, exc)
    except Exception as exc:  # depth only places the objects: no failure of its model ends the job
        if is_out_of_memory(exc):  # also among the errors, as every out-of-memory is
            run.note_out_of_memory(exc, f"the depth model ran out of memory ({type(exc).__name__}); objects are "
                                   "placed by their boxes", retried=False)
        skip_depth(run, exc)
    return None


def record_statistics(depth: DepthMap, live: list[TargetRecord], rects: dict[str, tuple[int, int, int, int]],
                      alphas: dict[str, np.ndarray]) -> None:
    """Each target's depth statistic over its matte (``alphas``: each one's alpha over its crop ``rects``), in its
    record; a target whose matte covers no pixel the model measured (NaN, or outside a metric model's mask) gets an
    entry without one that says so: it is laid out by its box alone, at the others' median distance."""
    values = measured_values(depth)
    for target in live:
        stat = matte_statistic(values, alphas[target.stem], rects[target.stem])
        target.depth = stat.to_dict() if stat is not None else {"disparity": None, "pixels": 0, "note": NO_STATISTIC}


def floor_and_heights(depth: DepthMap, live: list[TargetRecord], rects: dict[str, tuple[int, int, int, int]],
                      alphas: dict[str, np.ndarray]) -> PointsRead:
    """The floor a metric map's points show where no target's matte is (``floor_points``), each target's own
    heights against it beside its statistic (``object_points``) and its own surface for its mesh's fit
    (``surface_fit``); nothing for a relative map, no floor when none is in view. The statistics come first
    (``record_statistics``): where two mattes share a pixel, the nearer target has it."""
    if depth.points is None:
        return PointsRead()
    mattes = [(n, alphas[target.stem], rects[target.stem],
               1.0 / target.depth["disparity"] if target.depth.get("disparity") else math.inf)
              for n, target in enumerate(live)]
    labels = labels_of(depth.values.shape[:2], mattes)
    floor = floor_of(depth, labels > 0)
    if floor is not None:
        for n, target in enumerate(live):
            heights = heights_of(depth.points, labels, n + 1, floor)
            if heights is not None:
                target.depth = {**target.depth, **heights.to_dict()}
    seen = {target.stem: seen_surface(depth.points, labels, n + 1) for n, target in enumerate(live)}
    feet = {target.stem: under_foot(labels, n + 1) for n, target in enumerate(live)}
    under = {stem: live[label - 1].stem for stem, label in feet.items() if label is not None}
    return PointsRead(floor, {stem: surface for stem, surface in seen.items() if surface is not None}, under)


def _alpha(cutout: Any) -> np.ndarray:
    """The cut-out's alpha channel (an opaque one for a picture without alpha)."""
    if getattr(cutout, "mode", "") == "RGBA":
        return np.asarray(cutout.getchannel("A"))
    return np.full((cutout.height, cutout.width), 255, dtype=np.uint8)
