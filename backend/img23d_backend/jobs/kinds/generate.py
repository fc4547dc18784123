"""Generate: one cleaned, optionally painted mesh per named part (or the whole picture), from the artist's picture
or one made from a prompt (``prompt_picture``)."""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any, Callable, Sequence, TypeVar

import trimesh
from img23d_protocol import (Artifact, ArtifactKind, ErrorCode, GenerateJobResult, GenerateRequest, ProtocolError,
                             RegenerateRequest, box_for, check_boxes, check_completion_off, check_views, model_family,
                             plain_number, seed_at, validate_boxes)

from ...catalog import PAINT_ROLES, PARTS_ROLE, VIEWS_ROLE, shape_kind
from ...gltf.writer import export_glb
from ...layout import scene
from ...models import preflight
from ...models.oom import OutOfMemory, free_memory_advice
from ...readers.images import LoadedImage
from ...runs.folders import TargetRecord
from ...stages import skips
from ...mesh import cleanup
from ...mesh.shapes import mesh_arrays
from ...mesh.tail import Tail
from ...uv.unwrap import Unwrapper
from ...views.given import ObjectViews, prepare_views, read_given
from ...views.memory import check_views_memory
from ..steps import completing, cutting, finishing, materials, shaping, splat_files
from . import generate_parts, job_estimate, prompt_picture
from ..steps.shape_views import views_memory
from ..base import check_names_apart
from ..context import EngineContext
from ..steps.painting import PaintingRun
from ..steps.photo_colour import colour_from_views

log = logging.getLogger(__name__)

# A Generate's request, or a Regenerate's (``jobs.kinds.regenerate``: a Generate again from a run's cut-outs).
G = TypeVar("G", bound=GenerateRequest | RegenerateRequest)


class GenerateRun(PaintingRun[G]):
    kind = "generate"
    # Each painted target's atlas fills are left to the tail's worker (``Painted.pending``): the device paints
    # the next target meanwhile.
    defers_fills = True
    layout: Any = None  # the scene's layout (layout.SceneLayout), once the depth stage solved it
    measured: Any = None  # the depth pass's outcome (layout.scene.MeasuredScene): each mesh's fit and support
    tail: Tail            # each target's clean-up and GLB writing, beside the device's work
    views: dict[str, ObjectViews]  # each record's views by stem (views/given.py): names with usable views only

    @classmethod
    def check_request(cls, request: G) -> None:
        if not prompt_picture.check_request(request):  # a picture's request (a Regenerate's too): the picture needed
            super().check_request(request)
        # Each box of a box's form (the Python API's come unread: a NaN box was a traceback), for a name of the job.
        boxes = request.boxes
        if isinstance(boxes, dict):  # numpy's numbers as Python's: "must be four numbers" said of np.array's
            boxes = {name: [plain_number(v) for v in box] if isinstance(box, (list, tuple)) else box
                     for name, box in boxes.items()}
        request.boxes = validate_boxes(boxes)
        prompt_picture.check_picked(request)  # a picked picture's prompt and seed, kept in the manifest
        check_boxes(request.boxes, request.targets)
        check_names_apart([name for name in request.targets if box_for(request.boxes, name) is None])
        check_completion_off(request.completion_off, request.targets)
        check_views(request.views, request.targets)  # views of names the job has
        generate_parts.check_request(request)  # names made in parts: names of the job

    @classmethod
    def check_models(cls, request: G, engine: EngineContext) -> None:
        super().check_models(request, engine)
        generate_parts.check_model(request, engine)
        prompt_picture.check_model(request, engine)

    @classmethod
    def check_memory(cls, request: G, engine: EngineContext) -> None:
        preflight.check_job(request.options, engine.device, guidance=engine.classifier_free, memory=engine.shape_memory,
                            own_paint=engine.own_paint, room=engine.total_room())
        check_views_memory(getattr(request, "views", None) or {}, engine.device, engine.total_room())
        prompt_picture.check_memory(request, engine)  # the picture made from a prompt, by the image editor
        generate_parts.check_memory(request, engine)  # names made in parts, by the parts model
        # Its names with views: one at a time, by 2mv (a Regenerate request has no views of its own).
        if getattr(request, "views", None) and VIEWS_ROLE in engine.manager.roles:
            preflight.check_job(replace(request.options, texture=False), engine.device,
                                memory=views_memory(engine.manager.spec(VIEWS_ROLE)),
                                guidance=not shape_kind(engine.manager.spec(VIEWS_ROLE)).embedded_guidance)

    @classmethod
    def refuse_long(cls, request: G, engine: EngineContext) -> None:
        """Weighed by the whole estimate its first line will say (every stage, ``job_estimate``), not by completion
        and materials alone: one figure for the refusal and the line."""
        job_estimate.refuse_long(engine, cls, request)

    @classmethod
    def roles_used(cls, request: G) -> tuple[str, ...]:
        options = request.options
        painting = (PAINT_ROLES + (("materials",) if options.materials else ())) if options.texture else ()
        # A job with views uses the model of names with views too (its licence asked for like the others').
        views = (VIEWS_ROLE,) if getattr(request, "views", None) else ()
        parts = (PARTS_ROLE,) if generate_parts.wanted(request) else ()
        editing = tuple(dict.fromkeys(completing.roles(options) + prompt_picture.roles(request)))  # the editor once
        return ("grounding", "matting", "depth", "shape") + views + editing + painting + parts

    @classmethod
    def folder_label(cls, request: G) -> str:
        return prompt_picture.run_name(request) or super().folder_label(request)

    def load_input(self) -> LoadedImage:
        """The picked picture, read as every job reads one; the manifest keeps beside it what img23d made it from
        (its prompt and seed), when the add-on sent them (``prompt_picture.picked_record``)."""
        image = super().load_input()
        self.run_folder.manifest.image.update(prompt_picture.picked_record(self.request))
        return image

    def body(self) -> GenerateJobResult:
        manifest = self.run_folder.manifest
        job_estimate.say(self)   # every stage it will run, before the first: a line of its own
        image = prompt_picture.make_input(self) if prompt_picture.prompt_of(self.request) else self.load_input()
        records = self._plan_targets(image)
        manifest.records = records
        self.run_folder.save_manifest()
        live = [r for r in records if r.status == "pending"]
        firsts = [r for r in live if r.candidate_of is None]  # a target's other candidates share its cut-out

        cuts = cutting.crop_targets(self, image, firsts)
        cutting.matte_targets(self, image, firsts, cuts)
        # The cut-outs as the picture shows them (the completion replaces some): the views are judged beside them,
        # and depth is read over them, where a completed cut-out's hidden part shows what hides it in the depth
        # map (a table behind a sofa was measured at the sofa's distance).
        rects = {stem: cut.rect for stem, cut in cuts.items()}
        visible = {stem: cut.cutout for stem, cut in cuts.items()}
        # The views are read and cut out once, before the completion, which shows them to the editor.
        given = read_given(self, firsts, visible)
        completing.complete_hidden(self, image, firsts, cuts, given)  # unless it is never
        cutouts = {stem: cut.cutout for stem, cut in cuts.items()}
        cutting.share_cut_outs(live, cutouts)
        live = [r for r in live if r.status == "pending"]
        self.views = prepare_views(self, given, cutouts)
        views_shape_skipped = self._front_only_shapes()
        self.measured = scene.measure(self, image, [r for r in live if r.candidate_of is None], rects, visible)
        self.layout = self.measured.layout
        with Tail(self.job.cancel) as self.tail:  # each target's clean-up and GLB writing beside the device's work
            meshes = shaping.shape(self, live, cutouts, self._clean_later)
            self._export(live, meshes, cutouts)
        generate_parts.make_parts(self, records, cutouts)  # the names made in parts too, beside their wholes

        if not any(r.status == "done" for r in records):
            if all(r.error and r.error["code"] == ErrorCode.TARGET_NOT_FOUND.value for r in records):
                cut = (f" (the grounding model's answer was cut off at {self.answer_summary['answer_tokens']} tokens)"
                       if self.answer_summary.get("cut_off") else "")
                raise ProtocolError(ErrorCode.TARGET_NOT_FOUND, "none of the names was found in the image"
                                    + prompt_picture.not_found(self.request) + cut)
            raise ProtocolError(ErrorCode.SHAPE_FAILED, "no target produced a mesh; see the errors above")
        picture = self.run_folder.path(scene.LAYOUT_PICTURE)
        return GenerateJobResult(
            run_dir=str(self.run_folder.root), manifest=str(self.run_folder.path("manifest.json")),
            # Named so that an add-on on another machine fetches it with the meshes.
            layout_picture=str(picture) if picture.is_file() else None,
            image_size=list(image.original_size), targets=tuple(replace(r) for r in records),
            texture_skipped=manifest.texture_skipped, depth_skipped=manifest.depth_skipped,
            materials_skipped=manifest.materials_skipped, timings=manifest.timings, answer=self.answer(),
            seed=self.options.seed, views_shape_skipped=views_shape_skipped)

    def _front_only_shapes(self) -> str | None:
        """With views given and the clean family's shape model: its one sentence (the log, the progress, the
        manifest's warnings, the result), and the shapes come from the front alone; None otherwise."""
        family = self.manager.spec("shape").family
        note = model_family(family).views_front_only if self.request.views and family else ""
        if not note:
            return None
        log.warning(note)
        self.progress("shape", 0, 1, note)
        self.run_folder.manifest.warnings.append({"stage": "shape", "code": "views_front_only", "message": note})
        return note

    def _plan_targets(self, image: LoadedImage) -> list[TargetRecord]:
        """One record per target instance; whole image as one object when no names were given."""
        records: list[TargetRecord] = []
        if not self.request.targets:
            name = prompt_picture.object_name(self.request) or Path(self.request.image).stem or "object"
            width, height = image.original_size
            records.append(TargetRecord(target=name, stem=self.run_folder.unique_stem(name, 1),
                                        box=[0.0, 0.0, float(width), float(height)]))
        else:
            # The artist's boxes stand for grounding: their names are not asked for, and a job whose
            # every name has a box loads no grounding model at all.
            check_boxes(self.request.boxes, self.request.targets, image.original_size)
            asked = [name for name in self.request.targets if box_for(self.request.boxes, name) is None]
            found = {m.target: m for m in self.ground(image, asked)} if asked else {}
            for name in self.request.targets:
                drawn = box_for(self.request.boxes, name)
                if drawn is not None:
                    records.append(TargetRecord(target=name, stem=self.run_folder.unique_stem(name, 1),
                                                box=[round(v, 2) for v in drawn], artist_box=True))
                    continue
                match = found[name]
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
                        box=image.to_original(detection.box), score=detection.score))
        records = self._with_variations(records)
        for index, record in enumerate(records):
            record.seed = seed_at(self.options.seed, index)  # every candidate its own seed
        return records

    def _with_variations(self, records: list[TargetRecord]) -> list[TargetRecord]:
        """Each found target followed by its other candidates (``variations``), which share its box."""
        count = self.options.variations
        if count <= 1:
            return records
        planned: list[TargetRecord] = []
        for record in records:
            record.variation = 1
            planned.append(record)
            if record.status != "pending":  # not found: nothing to vary
                continue
            planned.extend(TargetRecord(target=record.target, instance=record.instance, variation=number,
                                        stem=self.run_folder.unique_stem(record.target, record.instance, number),
                                        box=record.box, score=record.score, artist_box=record.artist_box,
                                        candidate_of=record.stem)
                           for number in range(2, count + 1))
        return planned

    def _export(self, live: list[TargetRecord], meshes: list[Any], cutouts: dict[str, Any]) -> None:
        """Collect each cleaned mesh, paint it (if asked) and have it written, announced at once."""
        for record, mesh in zip(live, meshes):
            if not self.tail.submitted(record.stem):  # made by the out-of-memory retry, without the hook
                self._clean_later(record, mesh)
        ready = []
        with Unwrapper(self.job.cancel) as unwrapper:
            for record in live:
                with self.stage("cleanup"):  # the wait for the worker: what its work did not hide
                    done = self.tail.result(record.stem)
                record.timings["cleanup"] = round(done.seconds, 4)
                if isinstance(done.value, ProtocolError):
                    self.fail_target(record, done.value)
                    continue
                mesh, stats = done.value
                record.faces, record.vertices, record.cleanup = stats.faces_out, stats.vertices_out, asdict(stats)
                ready.append((record, mesh))
                if self._painting():  # its UVs are made while earlier targets paint
                    unwrapper.submit(record.stem, mesh.vertices, mesh.faces)
            for record, cleaned in ready:
                self.tail.raise_failed()  # an earlier target's GLB that met a full disk ends the job now
                mesh, pending = self._paint(record, cleaned, cutouts[record.stem],
                                            lambda s=record.stem: unwrapper.result(s))
                with self.stage("export"):  # blocks only while the worker's queue is full
                    self.tail.submit(f"glb/{record.stem}", lambda r=record, m=mesh, c=cleaned, n=len(ready),
                                     p=pending: self._write_mesh(r, m, n, unwrapper, c, p))
            # Inside the UV worker's block: a finishing bake on the tail's worker unwraps on it.
            timings = self.run_folder.manifest.timings
            for record, _ in ready:
                done = self.tail.result(f"glb/{record.stem}")
                failed, filling = done.value if done.value is not None else (None, 0.0)
                if filling:  # the fills the paint step left, on the tail's worker
                    record.timings["paint_fill"] = round(record.timings.get("paint_fill", 0.0) + filling, 4)
                record.timings["export"] = round(done.seconds - filling, 4)
                timings["export"] = round(timings.get("export", 0.0) + done.seconds - filling, 4)
                if failed is not None:  # said as a failed painting was, when the fill ran inside it
                    self.keep_target(record, failed, "painting", "untextured")
        scene.settle_supports(self.measured, [record for record, _ in ready])  # every mesh placed: who rests on whom
        scene.write_layout_picture(self.run_folder)
        self.run_folder.save_manifest()

    def _clean_later(self, record: TargetRecord, mesh: Any) -> None:
        self.tail.submit(record.stem, lambda: self._clean_one(record, mesh))

    def _clean_one(self, record: TargetRecord, mesh: Any) -> Any:
        """On the tail's worker: (cleaned trimesh, stats), or the ``ProtocolError`` that fails the
        target (returned, not raised: failing it is the main thread's business)."""
        if isinstance(mesh, ProtocolError):  # refused before it ran (its float32 retry cannot fit)
            return mesh
        if isinstance(mesh, OutOfMemory):
            return ProtocolError(ErrorCode.OUT_OF_MEMORY, f"{record.target!r} ran out of memory twice, the second "
                                 "time at lower settings; lower the quality or "
                                 f"{free_memory_advice(self.engine.device)}",
                                 mesh.detail, target=record.target)
        if mesh is None:
            return ProtocolError(ErrorCode.SHAPE_FAILED, f"no surface could be extracted for {record.target!r} "
                                 "(try another seed or a higher octree resolution)", target=record.target)
        vertices, faces, stats = cleanup.clean_mesh(*mesh_arrays(mesh), cleanup.Finish.from_options(self.options))
        if len(faces) == 0:
            return ProtocolError(ErrorCode.SHAPE_FAILED, f"the mesh of {record.target!r} was empty after clean-up",
                                 target=record.target)
        return trimesh.Trimesh(vertices=vertices, faces=faces, process=False), stats

    def _painting(self) -> bool:
        """Whether the job paints (what is left of it): texture asked for, and not skipped."""
        if self.options.texture and not self.engine.can_paint:
            skips.skip_texture(self, self.engine.no_texture)
        return self.options.texture and not self.run_folder.manifest.texture_skipped

    def _paint(self, record: TargetRecord, mesh: Any, cutout: Any,
               unwrap: Callable[[], Any]) -> tuple[Any, list[Callable[[], None]]]:
        """The textured mesh, with its material maps when the job asks for them, and the host's work left on
        its images (``Painted.pending``); on failure the untextured one, with the failure reported: once for
        the job when a texture model cannot be loaded (``skips``), else for this target."""
        if not self._painting():
            return mesh, []
        try:
            painted = self.paint_mesh(record, mesh, cutout, unwrap)
        except skips.TextureUnavailable as exc:
            skips.skip_texture(self, skips.texture_sentence(exc))
            return mesh, []
        except Exception as exc:  # painting serves a mesh already made: it never ends the job
            self.keep_target(record, exc, "painting", "untextured")
            return mesh, []
        # Its photos' colour where they see it (over the colour filled first), then its material maps (or its
        # colour alone: jobs.steps.materials).
        if record.views:
            painted.complete()
        coloured = colour_from_views(self, record, painted.mesh, cutout, gltf_axes=True)
        if coloured is not None:
            painted.mesh.visual.material.baseColorTexture = coloured
        return materials.with_materials(self, record, painted), painted.pending

    def _write_mesh(self, record: TargetRecord, mesh: Any, total: int, unwrapper: Unwrapper | None = None,
                    cleaned: Any = None, pending: Sequence[Callable[[], None]] = ()) -> tuple[Exception | None, float]:
        """On the tail's worker: the GLB, then its artifact at once (the manifest is the main thread's).
        A job that finishes its objects keeps ``mesh`` as the high mesh and writes the low one
        (``finishing``); its ``high_mesh`` artifact comes before the ``mesh``. ``pending`` (the paint step's
        fills) runs first: when it fails, ``cleaned`` is written untextured and the failure returned for the
        job's thread to say, with the seconds ``pending`` took."""
        failed, filling = _complete(pending)
        if failed is not None:
            mesh = cleaned
        fields = dict(target=record.target, instance=record.instance, box=record.box, seed=record.seed,
                      image_size=list(self.run_folder.manifest.original_size or ()) or None, variation=record.variation)
        finished = None
        if finishing.finishes(self.options):
            finished = finishing.finish_or_keep(self, record, mesh, unwrapper, fields, cleaned)
        if finished is not None:
            path, record.finish = finished.low, finished.record
            record.timings["finish"] = finished.record.seconds
            record.textured = finished.record.coloured
        else:
            path = self.run_folder.write_bytes_with(f"{record.stem}.glb",
                                                    lambda p: export_glb(mesh, p, self.made_by()))
            record.textured = _has_texture(mesh)
        record.mesh = self.run_folder.relative(path)
        scene.record_placement(self.layout, record, mesh, self.measured)
        record.status = "done"
        self.progress("export", sum(r.status == "done" for r in self.run_folder.manifest.records), total,
                      f"{record.target} ready")
        self.job.emit(Artifact(job=self.job.id, kind=ArtifactKind.MESH, path=str(path), **fields))
        if self.options.splats:
            splat_files.write_object_splats(self, record, path, fields)
        return failed, filling


def _complete(pending: Sequence[Callable[[], None]]) -> tuple[Exception | None, float]:
    """Run ``pending`` in order: (the failure that stopped it, or None; its seconds). A full disk (a picture of
    the run folder: the run folder's ``disk`` error) is the job's failure, as it was on the job's thread.
    Nothing pending (an untextured target): no seconds, so its record gets no ``paint_fill`` timing, as before
    the fills moved here."""
    if not pending:
        return None, 0.0
    started = time.perf_counter()
    try:
        for task in pending:
            task()
    except (OSError, ProtocolError):
        raise
    except Exception as exc:  # a fill serves a mesh already made, as painting does: it never ends the job
        return exc, time.perf_counter() - started
    return None, time.perf_counter() - started


def _has_texture(mesh: Any) -> bool:
    return getattr(getattr(getattr(mesh, "visual", None), "material", None), "baseColorTexture", None) is not None
