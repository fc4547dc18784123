"""The chain: image + names -> grounding -> crop -> matting -> shape -> clean-up -> GLB per name.

``Engine`` owns the model manager for the life of the process and runs one job at a time
for whoever drives it (the JSON-lines server or the CLI). Events go out through the
``emit`` callback of each job; files go into the job's run folder. A target that fails
(not found, no surface) is reported and the others go on; a job that fails half way
keeps what it finished, and its manifest says so.
"""

from __future__ import annotations

import logging
import time
import traceback
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
from PIL import Image

from . import __version__, failpoints, scene
from .images import LoadedImage, load_image
from .models.manager import ModelManager, Policy
from .models import placement
from .models.memory import PeakMeter, device_memory
from .models.oom import is_out_of_memory
from .models.registry import GROUNDING_MAX_PIXELS, PAINT_ROLES, ROLES, SCENE_ROLES, ModelSet
from .protocol import (Artifact, DetectRequest, Error, ErrorCode, GenerateRequest, JobOptions, Message,
                       Progress, ProtocolError, RetextureRequest, SuggestRequest)
from .runs import Manifest, RunFolder, TargetRecord
from .stages._common import CancelToken

log = logging.getLogger(__name__)

Emit = Callable[[Message], None]


@dataclass
class EngineSettings:
    models: ModelSet
    runs_dir: Path
    device: str = "auto"                 # auto, cuda, cuda:N, mps, cpu
    budget_bytes: int | None = None      # device memory for models; None = free minus a reserve
    offline: bool | None = None          # None = from HF_HUB_OFFLINE / IMG23D_OFFLINE
    policy: Policy = Policy.MANAGED      # the others exist for the benchmark's comparison


@dataclass
class Job:
    id: str
    emit: Emit
    cancel: CancelToken = field(default_factory=CancelToken)
    run_folder: RunFolder | None = None  # set once the job has one, for whoever must close it

    def abandon(self, reason: str) -> None:
        """Close the run's manifest as cancelled when the job cannot finish it in time (exit)."""
        run = self.run_folder
        if run is None or run.manifest.status != "running":
            return
        run.manifest.errors.append({"code": ErrorCode.CANCELLED.value, "message": reason})
        try:
            run.finish("cancelled")
        except ProtocolError as exc:
            log.error("could not close the manifest of job %s: %s", self.id, exc)


def pick_device(name: str) -> Any:
    """Turn the user's device choice into a torch device, with a clear error when unavailable."""
    import torch

    name = (name or "auto").strip().lower()
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError as exc:
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"unknown device {name!r}; use auto, cuda, mps or cpu") from exc
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ProtocolError(ErrorCode.BAD_REQUEST,
                            f"device {name} was asked for, but this torch ({torch.__version__}) sees no CUDA GPU")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise ProtocolError(ErrorCode.BAD_REQUEST, "device mps was asked for, but MPS is not available here")
    if device.type not in ("cuda", "mps", "cpu"):
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"device type {device.type!r} is not supported")
    return device


class Engine:
    """Runs generate and detect jobs; keeps models between jobs through its ``ModelManager``."""

    def __init__(self, settings: EngineSettings) -> None:
        from .stages.grounding import load_grounding
        from .stages.matting import matting_loader
        from .stages.shape import shape_loader

        self.settings = settings
        self.device = pick_device(settings.device)
        self.manager = ModelManager(self.device, budget_bytes=settings.budget_bytes, offline=settings.offline,
                                    policy=settings.policy)
        from .stages.depth import depth_loader
        from .stages.paint_models import delight_loader, multiview_loader

        loaders = {"grounding": lambda spec: load_grounding, "matting": matting_loader, "shape": shape_loader,
                   "delight": delight_loader, "paint": multiview_loader, "depth": depth_loader}
        for role in (*ROLES, *PAINT_ROLES, *SCENE_ROLES):
            spec = getattr(settings.models, role)
            if spec is not None:  # a set without texture models can still make meshes
                self.manager.register(spec, loaders[role](spec))

    @property
    def can_paint(self) -> bool:
        return all(role in self.manager.roles for role in PAINT_ROLES)

    # -- information ---------------------------------------------------------------------

    def describe(self) -> dict[str, Any]:
        import torch

        name = torch.cuda.get_device_name(self.device) if self.device.type == "cuda" else None
        return {"device": str(self.device), "device_name": name,
                "memory": device_memory(self.device).to_dict(), "models": self.settings.models.describe()}

    # -- jobs ----------------------------------------------------------------------------

    def generate(self, request: GenerateRequest, job: Job) -> dict[str, Any]:
        return _GenerateRun(self, request, job).run()

    def detect(self, request: DetectRequest, job: Job) -> dict[str, Any]:
        return _DetectRun(self, request, job).run()

    def retexture(self, request: RetextureRequest, job: Job) -> dict[str, Any]:
        return _RetextureRun(self, request, job).run()

    def suggest(self, request: SuggestRequest, job: Job) -> dict[str, Any]:
        from .suggest_job import SuggestRun

        return SuggestRun(self, request, job).run()


class _JobRun:
    """What generate and detect share: the run folder, stage timing, failure bookkeeping."""

    kind = ""

    def __init__(self, engine: Engine, request: GenerateRequest | DetectRequest | RetextureRequest,
                 job: Job) -> None:
        self.engine = engine
        self.request = request
        self.job = job
        self.options: JobOptions = request.options
        self.manager = engine.manager
        self.run_folder: RunFolder | None = None
        self._counters_before = self.manager.counters()

    # The subclass's work; returns the result data.
    def body(self) -> dict[str, Any]:
        raise NotImplementedError

    def run(self) -> dict[str, Any]:
        if not self.request.image:
            raise ProtocolError(ErrorCode.BAD_REQUEST, "no image given")
        manifest = Manifest(job_id=self.job.id, kind=self.kind, backend_version=__version__,
                            targets=list(getattr(self.request, "targets", [])), options=asdict(self.options),
                            device=str(self.engine.device),
                            models={role: _model_record(self.manager.spec(role)) for role in self.manager.roles})
        self.run_folder = RunFolder.create(self.engine.settings.runs_dir, Path(self.request.image).name, manifest)
        self.job.run_folder = self.run_folder
        self.job.emit(Artifact(job=self.job.id, kind="run", path=str(self.run_folder.root)))
        self.manager.download_progress = self._download_progress
        try:
            data = self.body()
            self._close("finished")
        except ProtocolError as exc:
            self._close("cancelled" if exc.code is ErrorCode.CANCELLED else "failed", exc)
            raise
        except MemoryError as exc:
            error = ProtocolError(ErrorCode.OUT_OF_MEMORY, "ran out of memory", str(exc))
            self._close("failed", error)
            raise error from exc
        except Exception as exc:  # the boundary: anything unexpected becomes `internal`, with the trace logged
            error = _classify(exc)
            log.error("job %s failed:\n%s", self.job.id, traceback.format_exc())
            self._close("failed", error)
            raise error from exc
        finally:
            self.manager.download_progress = None
        return data

    def _close(self, status: str, error: ProtocolError | None = None) -> None:
        assert self.run_folder is not None
        manifest = self.run_folder.manifest
        if error is not None:
            manifest.errors.append({"code": error.code.value, "message": error.message, "detail": error.detail})
        after = self.manager.counters()
        manifest.model_counters = {role: asdict(after[role].minus(self._counters_before[role])) for role in after}
        try:
            self.run_folder.finish(status)
        except ProtocolError as exc:  # a full disk must not hide the job's own error
            log.error("could not write the final manifest: %s", exc)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Time a stage, measure its peak memory, save the manifest after it."""
        self.job.cancel.check()
        failpoints.hit(name)
        self.progress(name, 0, 1, f"{name}...")
        started = time.perf_counter()
        meter = PeakMeter(self.engine.device)
        with meter:
            yield
        assert self.run_folder is not None
        manifest = self.run_folder.manifest
        manifest.timings[name] = round(manifest.timings.get(name, 0.0) + time.perf_counter() - started, 4)
        manifest.memory_peaks[name] = max(manifest.memory_peaks.get(name, 0), meter.peak)
        self.run_folder.save_manifest()

    def progress(self, stage: str, step: int, total: int, message: str) -> None:
        self.job.emit(Progress(job=self.job.id, stage=stage, step=step, total=total, message=message))

    def _download_progress(self, message: str, done: int, total: int) -> None:
        self.progress("download", done, total, message)

    def load_input(self) -> LoadedImage:
        assert self.run_folder is not None
        with self.stage("load"):
            image = load_image(self.request.image)
            saved = self.run_folder.write_image("input.png", image.image)
            self.run_folder.manifest.image = {
                "source": str(Path(self.request.image).resolve()), "copy": self.run_folder.relative(saved),
                # Which bytes were used: the artist may change or delete the file after Generate.
                "sha256": image.sha256,
                "size": list(image.size), "original_size": list(image.original_size),
                "scale": image.scale, "has_alpha": image.has_alpha, "source_mode": image.source_mode,
            }
        return image

    def ground(self, image: LoadedImage) -> list[Any]:
        """Grounding, parsing and matching; writes detections.json; returns TargetMatch list."""
        from .stages.grounding import draw_matches, ground, match_targets, parse_detections

        assert self.run_folder is not None
        targets = list(self.request.targets)
        spec = self.manager.spec("grounding")
        with self.stage("grounding"):
            with self.manager.use("grounding") as grounder:
                raw = ground(grounder, image.image, targets,
                             max_new_tokens=spec.options.get("max_new_tokens", 1024),
                             max_pixels=spec.options.get("max_pixels", GROUNDING_MAX_PIXELS), cancel=self.job.cancel,
                             progress=self.progress, min_new_tokens=spec.options.get("min_new_tokens", 0))
            if "fixed_answer" in spec.options:
                # Only the benchmark's full-size random replica sets this: its generation runs for
                # real (the compute is measured) but random weights cannot answer, so the answer
                # the tiny replica gives is used in its place.
                log.info("grounding model %s uses its fixed answer", spec.display)
                raw = spec.options["fixed_answer"]
            width, height = image.size
            detections = parse_detections(raw, width, height)
            matches = match_targets(detections, targets, keep=self.options.keep)
            self.run_folder.write_json("detections.json", {
                "image_size": [width, height], "original_size": list(image.original_size),
                "coords": "pixels of image_size", "raw_answer": raw,
                "detections": [d.to_dict() for d in detections],
                "matches": {m.target: [d.to_dict() for d in m.detections] for m in matches},
            })
            overlay = self.run_folder.write_image("detections.png", draw_matches(image.image, matches))
        self.job.emit(Artifact(job=self.job.id, kind="detections",
                               path=str(self.run_folder.path("detections.json"))))
        self.job.emit(Artifact(job=self.job.id, kind="overlay", path=str(overlay)))
        return matches

    def _note_retry(self, stage: str, exc: BaseException, how: str) -> None:
        assert self.run_folder is not None
        message = f"{stage} ran out of memory ({type(exc).__name__}); retried {how}"
        log.warning(message)
        self.run_folder.manifest.errors.append({"code": ErrorCode.OUT_OF_MEMORY.value, "message": message,
                                                "detail": str(exc)[:300], "retried": True})
        self.progress(stage, 0, 1, message)

    def paint_mesh(self, record: TargetRecord, mesh: Any, cutout: Any) -> Any:
        """Paint ``mesh`` from ``cutout``, keeping the views in the run folder. Raises
        ``ProtocolError``: out of memory twice (the second time with smaller renders), or
        anything else that went wrong (as ``internal``, with the trace in the log)."""
        from .stages.paint import PaintSettings, paint_mesh

        assert self.run_folder is not None
        if not self.engine.can_paint:
            raise ProtocolError(ErrorCode.BAD_REQUEST, "this model set has no texture models; "
                                                       "ask for texture=false")
        view_size = int(self.manager.spec("paint").options.get("view_size", 512))
        render = self.options.bake_render_size()
        render = max(view_size, render // view_size * view_size)  # whole multiples of the view size
        settings = PaintSettings(texture_size=self.options.texture_size, render_size=render, view_size=view_size,
                                 delight_steps=self.options.delight_steps,
                                 multiview_steps=self.options.paint_steps, seed=int(record.seed or 0))
        kept: dict[str, Any] = {}
        with self.stage("paint"):
            with self.manager.use("delight") as delighter, self.manager.use("paint") as multiview:
                def run(paint_settings: Any) -> Any:
                    return paint_mesh(mesh, cutout, delighter=delighter, multiview=multiview,
                                      settings=paint_settings, device=self.engine.device,
                                      cancel=self.job.cancel, progress=self.progress, keep=kept)
                try:
                    try:
                        painted = run(settings)
                    except Exception as exc:  # out of memory: once more with every view rendered smaller
                        if not is_out_of_memory(exc):
                            raise
                        placement.release_cached_memory()
                        lowered = settings.lowered()
                        self._note_retry("paint", exc, f"with all {lowered.views} views at {lowered.render_size} px")
                        painted = run(lowered)
                except ProtocolError:
                    raise
                except Exception as exc:  # the boundary of one target's painting
                    if is_out_of_memory(exc):
                        raise ProtocolError(ErrorCode.OUT_OF_MEMORY, "painting ran out of memory twice",
                                            str(exc)[:300]) from exc
                    log.error("painting %s failed:\n%s", record.target, traceback.format_exc())
                    raise ProtocolError(ErrorCode.INTERNAL, f"{type(exc).__name__}: {exc}"[:300]) from exc
            for index, view in enumerate(kept.get("views", [])):
                self.run_folder.write_image(f"views/{record.stem}/view_{index}.png", view)
            if "reference" in kept:
                self.run_folder.write_image(f"views/{record.stem}/reference_delit.png", kept["reference"])
        return painted

    def _matte_all(self, model: Any, crops: list[Any]) -> list[Any]:
        """All crops in one batch; after running out of memory, one at a time."""
        from .stages import matting

        def run(batch: list[Any]) -> list[Any]:
            return matting.matte(model, batch, batch_size=len(batch), cancel=self.job.cancel,
                                 progress=self.progress)

        try:
            return run(crops)
        except Exception as exc:  # only out-of-memory is retried
            if not is_out_of_memory(exc):
                raise
            placement.release_cached_memory()
            self._note_retry("matting", exc, "one crop at a time")
        results: list[Any] = []
        for crop in crops:
            try:
                results.extend(run([crop]))
            except Exception as exc:  # a second out-of-memory fails this crop only
                if not is_out_of_memory(exc):
                    raise
                placement.release_cached_memory()
                results.append(_OutOfMemory(str(exc)))
        return results

    def fail_target(self, record: TargetRecord, error: ProtocolError) -> None:
        record.status = "failed"
        record.error = {"code": error.code.value, "message": error.message}
        self.job.emit(Error.from_exception(self.job.id, error))


@dataclass
class _OutOfMemory:
    """Stands in a stage's per-target results for a target that ran out of memory twice."""

    detail: str


def _model_record(spec: Any) -> dict[str, Any]:
    return {"id": spec.repo_id, "revision": spec.revision, "subfolder": spec.subfolder,
            "local_path": str(spec.local_path) if spec.local_path else None}


def _classify(exc: Exception) -> ProtocolError:
    """Map library exceptions we can name to codes; everything else is `internal`."""
    import torch

    if isinstance(exc, torch.OutOfMemoryError) or "out of memory" in str(exc).lower():
        return ProtocolError(ErrorCode.OUT_OF_MEMORY, "the device ran out of memory", str(exc)[:500])
    if isinstance(exc, OSError):
        from .runs import disk_error
        return disk_error(exc, "a file operation failed")
    return ProtocolError(ErrorCode.INTERNAL, f"unexpected {type(exc).__name__}: {exc}"[:500])


def scaled_box(box: tuple[float, float, float, float], scale: float) -> list[float]:
    """A box in working-image pixels -> pixels of the original file."""
    return [round(v / scale, 2) for v in box]


class _DetectRun(_JobRun):
    kind = "detect"

    def body(self) -> dict[str, Any]:
        assert self.run_folder is not None
        if not self.request.targets:
            raise ProtocolError(ErrorCode.BAD_REQUEST, "detect needs at least one name")
        image = self.load_input()
        matches = self.ground(image)
        found = {m.target: [scaled_box(d.box, image.scale) for d in m.detections] for m in matches}
        for match in matches:
            if not match.detections:
                self.job.emit(Error(id=self.job.id, code=ErrorCode.TARGET_NOT_FOUND.value,
                                    message=f"{match.target!r} was not found in the image", target=match.target))
        return {"run_dir": str(self.run_folder.root), "image_size": list(image.original_size), "boxes": found,
                "not_found": [m.target for m in matches if not m.detections]}


class _GenerateRun(_JobRun):
    kind = "generate"
    layout: Any = None  # the scene's layout (layout.SceneLayout), once the depth stage solved it

    def body(self) -> dict[str, Any]:
        from .stages.crop import crop_box
        from .stages.cutout import box_in_crop

        assert self.run_folder is not None
        manifest = self.run_folder.manifest
        image = self.load_input()
        records = self._plan_targets(image)
        manifest.records = records
        self.run_folder.save_manifest()
        live = [r for r in records if r.status == "pending"]

        with self.stage("crop"):
            crops, boxes, rects = {}, {}, {}
            for record in live:
                x0, y0, x1, y1 = (v * image.scale for v in record.box)
                rect = rects[record.stem] = crop_box((x0, y0, x1, y1), image.size, self.options.margin,
                                                     self.options.min_crop)
                crops[record.stem], boxes[record.stem] = image.image.crop(rect), box_in_crop((x0, y0, x1, y1), rect)
                record.crop = self.run_folder.relative(
                    self.run_folder.write_image(f"crops/{record.stem}.png", crops[record.stem]))
        cutouts = self._matte(image, live, crops, boxes)
        live = [r for r in live if r.status == "pending"]
        self.layout = scene.measure(self, image, live, rects, cutouts)
        meshes = self._shape(live, cutouts)
        self._export(live, meshes, cutouts)

        if not any(r.status == "done" for r in records):
            if all(r.error and r.error["code"] == ErrorCode.TARGET_NOT_FOUND.value for r in records):
                raise ProtocolError(ErrorCode.TARGET_NOT_FOUND, "none of the names was found in the image")
            raise ProtocolError(ErrorCode.SHAPE_FAILED, "no target produced a mesh; see the errors above")
        return {"run_dir": str(self.run_folder.root),
                "manifest": str(self.run_folder.path("manifest.json")),
                "image_size": list(image.original_size),
                "targets": [asdict(r) for r in records],
                "timings": manifest.timings}

    def _plan_targets(self, image: LoadedImage) -> list[TargetRecord]:
        """One record per target instance; whole image as one object when no names were given."""
        assert self.run_folder is not None
        records: list[TargetRecord] = []
        if not self.request.targets:
            name = Path(self.request.image).stem or "object"
            width, height = image.original_size
            records.append(TargetRecord(target=name, stem=self.run_folder.unique_stem(name, 1),
                                        box=[0.0, 0.0, float(width), float(height)]))
        else:
            for match in self.ground(image):
                if not match.detections:
                    record = TargetRecord(target=match.target, stem=self.run_folder.unique_stem(match.target, 1))
                    records.append(record)
                    self.fail_target(record, ProtocolError(
                        ErrorCode.TARGET_NOT_FOUND, f"{match.target!r} was not found in the image",
                        target=match.target))
                    continue
                for instance, detection in enumerate(match.detections, start=1):
                    records.append(TargetRecord(
                        target=match.target, instance=instance,
                        stem=self.run_folder.unique_stem(match.target, instance),
                        box=scaled_box(detection.box, image.scale), score=detection.score))
        for index, record in enumerate(records):
            record.seed = self.options.seed + index
        return records

    def _matte(self, image: LoadedImage, live: list[TargetRecord], crops: dict[str, Any],
               boxes: dict[str, Any]) -> dict[str, Any]:
        from .stages.cutout import named_cutout
        from .stages.matting import MIN_FOREGROUND, UnusableMatte, foreground_fraction

        assert self.run_folder is not None
        with self.stage("matting"):
            if image.has_alpha and not self.request.targets:
                # The whole picture is the object and the artist's alpha already cuts it out.
                cutouts = {r.stem: crops[r.stem] for r in live}
            elif live:
                # Each crop is matted with its margin for context; the cut-out keeps the named object.
                with self.manager.use("matting") as model:
                    results = self._matte_all(model, [crops[r.stem] for r in live])
                cutouts = {r.stem: named_cutout(cut, crops[r.stem], boxes[r.stem]) if isinstance(cut, Image.Image)
                           else cut for r, cut in zip(live, results)}
            else:
                cutouts = {}
            for record in live:
                cutout = cutouts[record.stem]
                if isinstance(cutout, _OutOfMemory):
                    self.fail_target(record, ProtocolError(
                        ErrorCode.OUT_OF_MEMORY, f"matting {record.target!r} ran out of memory, even alone",
                        cutout.detail, target=record.target))
                    continue
                if isinstance(cutout, UnusableMatte):  # never an empty cut-out passed off as one
                    self.fail_target(record, ProtocolError(
                        ErrorCode.SHAPE_FAILED, f"matting {record.target!r} failed: {cutout.reason}",
                        target=record.target))
                    continue
                record.matte = self.run_folder.relative(
                    self.run_folder.write_image(f"mattes/{record.stem}.png", cutout))
                if foreground_fraction(cutout) < MIN_FOREGROUND:
                    self.fail_target(record, ProtocolError(
                        ErrorCode.SHAPE_FAILED, f"the cut-out of {record.target!r} is empty: matting found "
                        "no object in its box", target=record.target))
        return cutouts

    def _shape(self, live: list[TargetRecord], cutouts: dict[str, Any]) -> list[Any]:
        """One mesh (or None, or an ``_OutOfMemory``) per live record, in order."""
        from .stages.shape import ShapeSettings

        if not live:
            return []
        settings = ShapeSettings(steps=self.options.steps, octree_resolution=self.options.octree_resolution,
                                 guidance_scale=self.options.guidance_scale, batch_size=self.options.shape_batch)
        images = [cutouts[r.stem] for r in live]
        seeds = [int(r.seed or 0) for r in live]
        with self.stage("shape"):
            # use() evicts earlier stages' models first when the budget needs the room.
            with self.manager.use("shape") as pipe:
                try:
                    return self._generate_shapes(pipe, images, seeds, settings)
                except Exception as exc:  # only out-of-memory is retried; anything else propagates
                    if not is_out_of_memory(exc):
                        raise
                    placement.release_cached_memory()
                    lowered = settings.lowered()
                    self._note_retry("shape", exc, f"one at a time at octree resolution {lowered.octree_resolution}")
                    return [self._shape_one(pipe, image, seed, lowered) for image, seed in zip(images, seeds)]

    def _generate_shapes(self, pipe: Any, images: list[Any], seeds: list[int], settings: Any) -> list[Any]:
        from .stages import shape

        return shape.generate_shapes(pipe, images, seeds, settings, cancel=self.job.cancel, progress=self.progress)

    def _shape_one(self, pipe: Any, image: Any, seed: int, settings: Any) -> Any:
        try:
            return self._generate_shapes(pipe, [image], [seed], settings)[0]
        except Exception as exc:  # a second out-of-memory fails this target only
            if not is_out_of_memory(exc):
                raise
            placement.release_cached_memory()
            return _OutOfMemory(str(exc))

    def _export(self, live: list[TargetRecord], meshes: list[Any], cutouts: dict[str, Any]) -> None:
        """Clean every mesh, then paint (if asked) and write each target, announcing it at once."""
        ready = self._clean(live, meshes)
        for number, (record, mesh) in enumerate(ready, start=1):
            if self.options.texture:
                mesh = self._paint(record, mesh, cutouts[record.stem])
            with self.stage("export"):
                self._write_mesh(record, mesh)
            self.progress("export", number, len(ready), f"{record.target} ready")

    def _clean(self, live: list[TargetRecord], meshes: list[Any]) -> list[tuple[TargetRecord, Any]]:
        import trimesh

        from .stages.cleanup import clean_mesh
        from .stages.shape import mesh_arrays

        ready = []
        with self.stage("cleanup"):
            for record, mesh in zip(live, meshes):
                self.job.cancel.check()
                if isinstance(mesh, _OutOfMemory):
                    self.fail_target(record, ProtocolError(
                        ErrorCode.OUT_OF_MEMORY, f"{record.target!r} ran out of memory twice, the second time "
                        "at lower settings; lower the quality or close other programs using the GPU",
                        mesh.detail, target=record.target))
                    continue
                if mesh is None:
                    self.fail_target(record, ProtocolError(
                        ErrorCode.SHAPE_FAILED, f"no surface could be extracted for {record.target!r} "
                        "(try another seed or a higher octree resolution)", target=record.target))
                    continue
                vertices, faces, stats = clean_mesh(*mesh_arrays(mesh), face_budget=self.options.face_budget)
                if len(faces) == 0:
                    self.fail_target(record, ProtocolError(
                        ErrorCode.SHAPE_FAILED, f"the mesh of {record.target!r} was empty after clean-up",
                        target=record.target))
                    continue
                record.faces, record.vertices = stats.faces_out, stats.vertices_out
                ready.append((record, trimesh.Trimesh(vertices=vertices, faces=faces, process=False)))
        return ready

    def _paint(self, record: TargetRecord, mesh: Any, cutout: Any) -> Any:
        """The textured mesh; on failure the untextured one, with the failure reported."""
        try:
            return self.paint_mesh(record, mesh, cutout)
        except ProtocolError as exc:
            if exc.code is ErrorCode.CANCELLED:
                raise
            failure = exc
        record.error = {"code": failure.code.value,
                        "message": f"painting {record.target!r} failed ({failure.message}); kept it untextured"}
        self.job.emit(Error(id=self.job.id, code=failure.code.value, message=record.error["message"],
                            target=record.target))
        return mesh

    def _write_mesh(self, record: TargetRecord, mesh: Any) -> None:
        assert self.run_folder is not None
        path = self.run_folder.write_bytes_with(f"{record.stem}.glb", lambda p: mesh.export(str(p), file_type="glb"))
        record.mesh = self.run_folder.relative(path)
        record.textured = _has_texture(mesh)
        record.status = "done"
        scene.record_placement(self.layout, record, mesh)
        self.run_folder.save_manifest()
        self.job.emit(Artifact(job=self.job.id, kind="mesh", path=str(path), target=record.target,
                               instance=record.instance, box=record.box, seed=record.seed,
                               image_size=self.run_folder.manifest.image.get("original_size")))


def _has_texture(mesh: Any) -> bool:
    material = getattr(getattr(mesh, "visual", None), "material", None)
    return getattr(material, "baseColorTexture", None) is not None


class _RetextureRun(_JobRun):
    """Paint an artist's mesh; its topology and UVs stay, a texture (and maybe UVs) come back."""

    kind = "retexture"

    def body(self) -> dict[str, Any]:
        import shutil

        from .stages import retexture

        assert self.run_folder is not None
        request = self.request
        if not request.mesh:
            raise ProtocolError(ErrorCode.BAD_REQUEST, "no mesh given")
        source = Path(request.mesh)
        if not source.is_file():
            raise ProtocolError(ErrorCode.BAD_REQUEST, f"no mesh file at {source}")
        image = self.load_input()
        mesh_copy = self.run_folder.write_bytes_with("input_mesh.npz", lambda p: shutil.copyfile(source, p))
        artist = retexture.load_artist_mesh(mesh_copy)
        name = request.name.strip() or "mesh"
        record = TargetRecord(target=name, stem=self.run_folder.unique_stem(name, 1), seed=self.options.seed,
                              faces=artist.face_count, vertices=int(len(artist.positions)))
        self.run_folder.manifest.targets = [name]
        self.run_folder.manifest.records = [record]
        cutout = self._reference(image, record)
        loop_uvs, created = artist.loop_uvs, False
        if loop_uvs is None:
            with self.stage("unwrap"):
                loop_uvs, created = retexture.unwrap(artist), True
        target = retexture.paintable(artist, loop_uvs)
        through_proxy = artist.face_count > self.options.face_budget
        if through_proxy:
            with self.stage("proxy"):
                stand_in = retexture.proxy(artist, self.options.face_budget)
            painted = self.paint_mesh(record, stand_in, cutout)
            with self.stage("transfer"):
                texture = Image.fromarray(retexture.transfer_texture(
                    target, painted, self.options.texture_size, self.engine.device), "RGB")
        else:
            texture = self.paint_mesh(record, target, cutout).visual.material.baseColorTexture
        with self.stage("export"):
            texture_path = self.run_folder.write_image("texture.png", texture)
            uvs_path = self.run_folder.write_bytes_with(
                "uvs.npy", lambda p: np.save(p, loop_uvs.astype(np.float32), allow_pickle=False)) if created else None
        record.status, record.textured = "done", True
        self.job.emit(Artifact(job=self.job.id, kind="texture", path=str(texture_path), target=name))
        if uvs_path is not None:
            self.job.emit(Artifact(job=self.job.id, kind="uvs", path=str(uvs_path), target=name))
        return {"run_dir": str(self.run_folder.root), "texture": str(texture_path),
                "uvs": str(uvs_path) if uvs_path else None, "uv_created": created, "proxy": through_proxy,
                "faces": artist.face_count, "texture_size": list(texture.size)}

    def _reference(self, image: LoadedImage, record: TargetRecord) -> Any:
        """The picture as an RGBA cut-out: its own alpha when real, BiRefNet's otherwise."""
        assert self.run_folder is not None
        with self.stage("matting"):
            if image.has_alpha:
                cutout = image.image
            else:
                with self.manager.use("matting") as model:
                    [cutout] = self._matte_all(model, [image.image])
                if isinstance(cutout, _OutOfMemory):
                    raise ProtocolError(ErrorCode.OUT_OF_MEMORY, "matting the picture ran out of memory",
                                        cutout.detail)
                if not isinstance(cutout, Image.Image):
                    raise ProtocolError(ErrorCode.INTERNAL, f"matting the picture failed: {cutout.reason}")
            record.matte = self.run_folder.relative(self.run_folder.write_image("mattes/reference.png", cutout))
        return cutout
