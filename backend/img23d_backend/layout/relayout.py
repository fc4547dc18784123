"""Re-layout outside Blender: a finished Generate run's objects placed again for another field of
view or ground setting, from what its folder keeps (boxes, depth statistics, the picture's size,
each mesh's bounds), through the same shared ``layout`` code as the job and the add-on's Re-layout.

Nothing is generated and the run's manifest is never rewritten: the new camera and placements
go to ``relayout.json`` in the run folder (written atomically) and back to the caller. The run
folder may come from anywhere: paths in its manifest are followed only inside it.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from img23d_protocol import OPTION_RANGES, ErrorCode, ProtocolError, dumps, read_manifest
from img23d_protocol.layout import DEFAULT_FOV_DEGREES, LayoutSettings, resolve_fov, solve, targets_from_records
from img23d_protocol.plain import finite_number

from ..readers.meshes import MAX_MESH_FILE_BYTES
from ..runs.folders import atomic_write
from .scene import mesh_extents

RELAYOUT_NAME = "relayout.json"


@dataclass
class RelayoutResult:
    run_dir: Path
    camera: dict[str, Any]
    placements: dict[str, dict[str, Any]]   # stem -> placement (location, yaw, scale...)
    settings: dict[str, Any]
    written: Path


def relayout(run_dir: str | Path, fov_degrees: float | None = None, estimate_fov: bool | None = None,
             ground: bool | None = None) -> RelayoutResult:
    """Place the run's objects again; a setting left None keeps the one the job used."""
    root = Path(run_dir).expanduser().resolve()
    manifest = read_manifest(root)  # one sentence for a missing, damaged or newer manifest
    size = manifest.original_size
    if not size or manifest.kind not in ("generate", "regenerate"):
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"{root} is not a Generate run with a picture: nothing to lay out")
    used = manifest.layout_used
    wanted_fov = fov_degrees if fov_degrees is not None else manifest.option("fov_degrees", _recorded_fov(used))
    allowed = OPTION_RANGES["fov_degrees"]
    if not finite_number(wanted_fov) or not allowed.admits(wanted_fov):
        # The same range as Generate's --fov (solve's own check is wider, and a ValueError traceback).
        whose = "the field of view" if fov_degrees is not None else f"the field of view {root}'s manifest records,"
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"{whose} {wanted_fov!r} is out of range: it must be "
                            f"{allowed.describe()} degrees")
    use_estimate = manifest.option("estimate_fov", True) if estimate_fov is None else bool(estimate_fov)
    settings = LayoutSettings(fov_degrees=resolve_fov(float(wanted_fov), manifest.fov_estimate, use_estimate),
                              ground=bool(used.get("ground", True) if ground is None else ground),
                              metric=manifest.depth_metric, floor=manifest.measured_floor)
    records = manifest.records
    scene_layout = solve(size, targets_from_records(records), settings)
    placements: dict[str, dict[str, Any]] = {}
    for record in records:
        stem, mesh = record.stem, record.mesh
        if record.status != "done" or not mesh or stem not in scene_layout.anchors:
            continue
        path = (root / mesh).resolve()
        if root not in path.parents or not path.is_file():
            continue  # a manifest's path never leads out of its run
        placements[stem] = scene_layout.place(stem, _extents(path, root)).to_dict()
    camera = scene_layout.camera.to_dict()
    data = {"settings": asdict(settings), "camera": camera, "placements": placements}
    text = dumps(data, indent=2) + "\n"
    written = atomic_write(root / RELAYOUT_NAME, lambda p: p.write_text(text, encoding="utf-8"))
    return RelayoutResult(root, camera, placements, asdict(settings), written)


def _extents(path: Path, root: Path) -> tuple[float, float, float]:
    """A run's mesh's bounds; ``bad_request`` naming it when it cannot be read (a run folder may come from
    anywhere: a damaged GLB ended the command in a traceback)."""
    import trimesh

    if path.stat().st_size > MAX_MESH_FILE_BYTES:
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"{path.relative_to(root)} in {root} is larger than a mesh "
                                                   "img23d reads: nothing was laid out")
    try:
        extents = tuple(float(v) for v in mesh_extents(trimesh.load(path, force="mesh", process=False)))
    except Exception as exc:  # trimesh raises many kinds for a damaged file: all mean "cannot read it"
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"{path.relative_to(root)} in {root} cannot be read "
                                                   f"({type(exc).__name__}): nothing was laid out") from exc
    if not all(math.isfinite(v) and v >= 0 for v in extents):
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"{path.relative_to(root)} in {root} has no finite size: "
                                                   "nothing was laid out")
    return extents  # type: ignore[return-value]


def _recorded_fov(used: dict[str, Any]) -> float:
    """The field of view the job laid its objects out for, or the default one."""
    value = used.get("fov_degrees")
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else DEFAULT_FOV_DEGREES
