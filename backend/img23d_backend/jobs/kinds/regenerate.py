"""Regenerate: new meshes for some objects of a finished Generate run, from the run's own cut-outs.

No grounding, matting or depth again: each object's cut-out (``mattes/<stem>.png``), box and
depth statistic come from the run, and only shape, clean-up, paint and export run, with the
new job's options (a new seed, other steps, octree, texture or finishing). The new meshes go to
a run folder of its own inside the Generate run (``<run>/regenerated/<time>-regenerate/``,
written as every run folder is), keeping each object's stem: the run keeps every version, and
the Generate run's own manifest is never rewritten.

The Generate run is another process's output as far as this job knows: its manifest and the
paths in it are read as untrusted (``SourceRun``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from img23d_protocol import ErrorCode, ProtocolError, RegenerateJobResult, RegenerateRequest, read_manifest, seed_at
from img23d_protocol.layout import LayoutSettings, solve, targets_from_records

from ...models import step_costs
from ...readers.images import LoadedImage, load_image
from ...runs.folders import Manifest, TargetRecord, recover_interrupted
from ...mesh.tail import Tail
from ...views.given import carry_views
from ..steps import shaping
from .generate import GenerateRun

REGENERATED = "regenerated"   # the folder inside a Generate run that holds its regenerations
MATTES = "mattes"


@dataclass
class SourceRun:
    """A finished Generate run, read (never written) for its objects' cut-outs, boxes and depth."""

    root: Path
    manifest: Manifest

    @classmethod
    def open(cls, folder: str) -> "SourceRun":
        root = Path(folder).expanduser()
        if not folder or not root.is_dir():
            raise ProtocolError(ErrorCode.BAD_REQUEST, f"the run folder {folder!r} is gone: regenerate needs the "
                                                       "folder Generate made (Import Run shows which exist)")
        manifest = read_manifest(root)  # one sentence for a missing, damaged or newer manifest
        if manifest.kind != "generate":
            raise ProtocolError(ErrorCode.BAD_REQUEST, f"{root} was made by {manifest.kind!r}, not by Generate: "
                                                       "only objects Generate made can be regenerated")
        return cls(root.resolve(), manifest)

    def record(self, key: str) -> TargetRecord:
        """The record of the object ``key`` (its stem), with a cut-out to make a new mesh from."""
        found = [r for r in self.manifest.records if r.stem == key]
        if not found:
            raise ProtocolError(ErrorCode.BAD_REQUEST, f"{key!r} is not an object of the run {self.root.name}")
        if self.cutout_path(found[0]) is None:
            # A record that names a cut-out whose file is gone was removed from the run; one that names none failed.
            why = ("its file was removed from the run folder" if found[0].matte or found[0].completion
                   else "it failed before matting")
            raise ProtocolError(ErrorCode.BAD_REQUEST, f"{key!r} has no cut-out in the run {self.root.name} "
                                                       f"({why}), so it cannot be regenerated")
        return found[0]

    def cutout_path(self, record: TargetRecord) -> Path | None:
        """Its cut-out (a target's candidates share their first's), if it is a file inside the run: the
        completed one where completion made one (its mesh came from it), else the one as seen."""
        completed = record.completion.cutout if record.completion else None
        name = completed if isinstance(completed, str) and completed else record.matte
        if not isinstance(name, str) or not name:
            return None
        path = (self.root / name).resolve()
        inside = self.root in path.parents  # a path from the manifest never leads out of the run
        return path if inside and path.is_file() else None

    def cutout(self, key: str) -> LoadedImage:
        path = self.cutout_path(self.record(key))
        if path is None:
            raise ProtocolError(ErrorCode.BAD_REQUEST, f"the cut-out of {key!r} is gone from {self.root.name}")
        cutout = load_image(path)
        # Generate writes RGBA cut-outs; one opaque everywhere (matting took the whole picture: a close-up) is
        # read as RGB, yet is one of them.
        if cutout.source_mode != "RGBA" or cutout.scale != 1.0:
            raise ProtocolError(ErrorCode.BAD_REQUEST, f"the cut-out of {key!r} in {self.root.name} is not one "
                                                       "Generate wrote (no alpha channel, or another size)")
        return cutout if cutout.has_alpha else replace(cutout, image=cutout.image.convert("RGBA"))


class RegenerateRun(GenerateRun[RegenerateRequest]):
    kind = "regenerate"

    @classmethod
    def check_request(cls, request: RegenerateRequest) -> None:
        source = SourceRun.open(request.run)
        for key in request.keys:
            source.record(key)
        # The options as they run: no completion (the run's completed cut-out is taken) and one mesh an object.
        # The panel's Complete Hidden and Variations came along and made the long-job check count steps (the
        # editor's, every variation's materials) that never run: a Regenerate on a CPU was refused for them.
        request.options = replace(request.options, complete_hidden="never", variations=1)

    @classmethod
    def refuse_long(cls, request: RegenerateRequest, engine: Any) -> None:
        """Its slow optional steps weighed (``JobRun``'s): a Regenerate says no whole estimate of its own."""
        step_costs.refuse_long_job(engine.step_costs(request), cls.roles_used(request), request)

    @classmethod
    def runs_dir(cls, engine: Any, request: RegenerateRequest) -> Path:
        folder = SourceRun.open(request.run).root / REGENERATED
        recover_interrupted(folder)  # a regeneration killed mid-way says so, as any run does
        return folder

    @classmethod
    def folder_label(cls, request: RegenerateRequest) -> str:
        return "regenerate"

    def body(self) -> RegenerateJobResult:
        source = SourceRun.open(self.request.run)
        manifest = self.run_folder.manifest
        manifest.source_run = str(source.root)
        manifest.image = dict(source.manifest.image)
        manifest.targets = [source.record(key).target for key in self.request.keys]
        records, cutouts = [], {}
        self.views = {}
        with self.stage("load"):
            for index, key in enumerate(self.request.keys):
                old = source.record(key)
                record = TargetRecord(target=old.target, instance=old.instance, stem=self.run_folder.claim_stem(key),
                                      box=old.box, score=old.score, artist_box=old.artist_box, depth=old.depth,
                                      seed=seed_at(self.options.seed, index))
                cutouts[key] = source.cutout(key).image
                record.matte = self.run_folder.relative(self.run_folder.write_image(f"{MATTES}/{key}.png",
                                                                                    cutouts[key]))
                carried = carry_views(self, source.root, old, record)  # as the object's first shape took them
                if carried is not None:
                    self.views[key] = carried
                records.append(record)
        manifest.records = records
        self.layout = _source_layout(source.manifest)
        # The layout's settings, camera and depth estimate; the depth map's files stay in the source run.
        manifest.scene = {key: value for key, value in source.manifest.scene.items() if key != "depth"}
        depth = source.manifest.scene.get("depth")
        if isinstance(depth, dict):
            manifest.scene["depth"] = {k: v for k, v in depth.items() if k not in ("map", "preview", "map_size")}
        self.run_folder.save_manifest()
        with Tail(self.job.cancel) as self.tail:
            meshes = shaping.shape(self, records, cutouts, self._clean_later)
            self._export(records, meshes, cutouts)
        if not any(r.status == "done" for r in records):
            raise ProtocolError(ErrorCode.SHAPE_FAILED, "no object got a new mesh; see the errors above")
        return RegenerateJobResult(
            run_dir=str(self.run_folder.root), source_run=str(source.root),
            manifest=str(self.run_folder.path("manifest.json")), image_size=list(manifest.original_size) if manifest.original_size else None,
            targets=tuple(replace(r) for r in records), texture_skipped=manifest.texture_skipped,
            materials_skipped=manifest.materials_skipped, timings=manifest.timings, seed=self.options.seed)


def _source_layout(source: Manifest) -> Any:
    """The Generate run's layout as it solved it, so each new mesh's placement is recorded the same way."""
    size, settings = source.original_size, source.layout_used
    if not size or not settings:
        return None  # a run from before the layout was recorded: placements are then not recorded
    try:
        return solve(size, targets_from_records(source.records), LayoutSettings(**settings))
    except (TypeError, ValueError):  # a manifest from an older format: placements are then not recorded
        return None
