"""Re-layout outside Blender: a finished Generate run's objects placed again for another field of
view or ground setting, from what its folder keeps (boxes, depth statistics, the picture's size,
each mesh's bounds), through the same shared ``layout`` code as the job and the add-on's Re-layout.

Nothing is generated and the run's manifest is never rewritten: the new camera and placements
go to ``relayout.json`` in the run folder (written atomically) and back to the caller. The run
folder may come from anywhere: paths in its manifest are followed only inside it.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from img23d_protocol import ErrorCode, ProtocolError, dumps
from img23d_protocol.layout import LayoutSettings, resolve_fov, solve, targets_from_records

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
    import trimesh

    root = Path(run_dir).expanduser().resolve()
    manifest = _manifest(root)
    size = (manifest.get("image") or {}).get("original_size")
    if not size or manifest.get("kind") not in ("generate", "regenerate"):
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"{root} is not a Generate run with a picture: nothing to lay out")
    used = (manifest.get("scene") or {}).get("layout") or {}
    options = manifest.get("options") or {}
    estimate = ((manifest.get("scene") or {}).get("depth") or {}).get("fov_estimate")
    wanted_fov = float(fov_degrees if fov_degrees is not None else options.get("fov_degrees", used.get("fov_degrees", 55.0)))
    use_estimate = bool(options.get("estimate_fov", True) if estimate_fov is None else estimate_fov)
    settings = LayoutSettings(fov_degrees=resolve_fov(wanted_fov, estimate, use_estimate),
                              ground=bool(used.get("ground", True) if ground is None else ground))
    records = [r for r in manifest.get("records", []) if isinstance(r, dict)]
    scene_layout = solve(tuple(size), targets_from_records(records), settings)
    placements: dict[str, dict[str, Any]] = {}
    for record in records:
        stem, mesh = record.get("stem"), record.get("mesh")
        if record.get("status") != "done" or not isinstance(mesh, str) or stem not in scene_layout.anchors:
            continue
        path = (root / mesh).resolve()
        if root not in path.parents or not path.is_file():
            continue  # a manifest's path never leads out of its run
        loaded = trimesh.load(path, force="mesh", process=False)
        placements[stem] = scene_layout.place(stem, mesh_extents(loaded)).to_dict()
    camera = scene_layout.camera.to_dict()
    data = {"settings": asdict(settings), "camera": camera, "placements": placements}
    text = dumps(data, indent=2) + "\n"
    written = atomic_write(root / RELAYOUT_NAME, lambda p: p.write_text(text, encoding="utf-8"))
    return RelayoutResult(root, camera, placements, asdict(settings), written)


def _manifest(root: Path) -> dict[str, Any]:
    path = root / "manifest.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict) or not isinstance(data.get("records"), list):
            raise ValueError("no list of records")
    except (OSError, ValueError) as exc:
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"{root} is not a run folder img23d can read: its manifest.json "
                                                   "is missing or damaged", str(exc)) from exc
    return data
