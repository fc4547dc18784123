"""A run's layout as the add-on computes it: the manifest's boxes and depth statistics through the
shared ``layout`` code, for the field of view and ground setting the artist chose.

Live jobs, Import Run and Re-layout all come here, so a run is laid out the same way however it
reaches the scene. No bpy here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from img23d_protocol import Manifest, ProtocolError, check_relative, layout, manifest_path
from img23d_protocol import read_manifest as protocol_read_manifest  # wrapped: NotARun for the add-on


@dataclass(frozen=True)
class LayoutChoice:
    """The artist's layout settings (``JobOptions`` carries the same three to the backend)."""

    fov_degrees: float = layout.DEFAULT_FOV_DEGREES
    estimate_fov: bool = True
    ground: bool = True

    @classmethod
    def from_options(cls, options: Any) -> "LayoutChoice":
        return cls(float(options.fov_degrees), bool(options.estimate_fov), bool(options.ground))


class NotARun(Exception):
    """The file is not an img23d run manifest; the message says why."""


def read_manifest(path: Path) -> Manifest:
    """A run's manifest (``path`` is the manifest or its folder), read through the protocol's one
    checked reader: a missing, damaged or newer img23d's manifest, or one of a run that never read its
    picture, raises ``NotARun`` with one sentence."""
    try:
        manifest = protocol_read_manifest(path)
    except ProtocolError as exc:
        raise NotARun(exc.message) from None
    if manifest.original_size is None:
        raise NotARun(f"{manifest_path(path)} is not an img23d run manifest with a picture (no picture size)")
    return manifest


def record_mesh(run_dir: Path, mesh: object) -> Path:
    """The file a manifest record's ``mesh`` names, which must lie inside ``run_dir``: a relative
    POSIX path of names ``protocol.safe_names`` accepts, that resolves inside the folder (a manifest
    may come from another machine: ``../../x.glb`` or ``/etc/...`` is refused). Raises ``NotARun``."""
    try:
        path = Path(run_dir).joinpath(*check_relative(mesh))
    except ProtocolError as exc:
        raise NotARun(f"the manifest names the mesh {str(mesh)[:80]!r}: {exc.message}") from None
    base = Path(run_dir).resolve()
    if base not in path.resolve().parents:
        raise NotARun(f"the manifest names the mesh {str(mesh)[:80]!r}, which is outside its run folder")
    return path


def solve_run(manifest: Manifest, choice: LayoutChoice) -> Any:
    """The run's ``layout.SceneLayout`` for ``choice``; None when the manifest has no picture size yet."""
    size = manifest.original_size
    if size is None:
        return None
    settings = layout.LayoutSettings(
        fov_degrees=layout.resolve_fov(choice.fov_degrees, manifest.fov_estimate, choice.estimate_fov),
        ground=choice.ground, metric=manifest.depth_metric, floor=manifest.measured_floor)
    return layout.solve(size, layout.targets_from_records(manifest.records), settings)


def stems_by_target(manifest: Manifest) -> dict[tuple[str, int], str]:
    """(target, instance) -> the record's stem: how an object in the scene finds its record. With
    variations, the first candidate's: the place in the layout that its other candidates share."""
    return {(r.target, r.instance): r.stem for r in manifest.records if r.stem and not r.candidate_of}
