"""A Generate's (and a Regenerate's) shape step: each live target's mesh, by the model that shapes it.

The targets go by model (``shape_views.shape_groups``: with views, Hunyuan3D-2mv), one model's after the
other's. Each model's targets go in batches as large as the memory beside the loaded model holds
(``preflight.shape_batch``); a batch that runs out of memory is made again one at a time at a lower
octree resolution (``JobRun.retry_smaller``), where a target that runs out again fails alone. A target
float16 could not compute is made again in float32, said once per job (``REDONE_IN_FLOAT32``).
"""

from __future__ import annotations

import logging
from typing import Any, Callable

from img23d_protocol import ProtocolError

from ...catalog import shape_kind, shape_steps
from ...families.table import family_of
from ...models import preflight
from ...models.oom import or_out_of_memory
from ...runs.folders import TargetRecord
from ...mesh.shapes import ShapeSettings
from ..base import JobRun
from .shape_views import ShapeGroup, shape_groups, views_memory

log = logging.getLogger(__name__)

# The manifest warning of a job whose shape model fell back from float16 to float32 (step1x.generate).
REDONE_IN_FLOAT32 = "redone_in_float32"

# What a batch does with each mesh as soon as it is decoded (the job's clean-up, on its tail's worker).
OnMesh = Callable[[TargetRecord, Any], None]


def shape(run: JobRun, live: list[TargetRecord], cutouts: dict[str, Any], on_mesh: OnMesh) -> list[Any]:
    """One mesh (or None, or an ``OutOfMemory``, or the ``ProtocolError`` of a float32 redo that cannot
    fit) per live record, in order. ``on_mesh`` is called for each mesh a batch makes; the meshes of
    the one-at-a-time retry are not passed to it."""
    meshes: dict[str, Any] = {}
    for group in shape_groups(run.manager, run.run_folder, live, cutouts):
        meshes.update(zip((r.stem for r in group.records), _shape_group(run, group, on_mesh)))
    return [meshes[r.stem] for r in live]


def generate_shapes(run: JobRun, pipe: Any, records: list[TargetRecord], images: list[Any], seeds: list[int],
                    settings: ShapeSettings, role: str = "shape",
                    on_mesh: Callable[[int, Any], None] | None = None) -> list[Any]:
    """``records``' meshes by the family's sampler (``on_mesh`` with each one's index in ``records``)."""
    sample = family_of(run.manager.spec(role)).sample_shapes
    return sample(pipe, images, seeds, settings, cancel=run.job.cancel, progress=run.progress, on_mesh=on_mesh,
                  full_precision=lambda: run.manager.full_precision("shape"),
                  on_redo=lambda index, why: _redo_in_float32(run, records[index], why, settings.octree_resolution))


def _shape_group(run: JobRun, group: ShapeGroup, on_mesh: OnMesh) -> list[Any]:
    """One model's meshes, for ``group``'s records in order."""
    live, images, role = group.records, group.images, group.role
    spec = run.manager.spec(role)
    options, manifest = run.options, run.run_folder.manifest
    steps = shape_steps(spec, options.steps)
    guidance = shape_kind(spec).guidance_for(options.guidance_scale)
    # The options as they ran: 0 ("the model's own") is recorded as the number it meant.
    manifest.options["steps" if role == "shape" else "steps_with_views"] = steps
    manifest.options["guidance_scale"] = guidance
    log.info("shape: %d denoising steps (%s) for %d target(s)", steps,
             "asked for" if options.steps else f"{shape_kind(spec).label}'s own", len(live))
    settings = ShapeSettings(steps=steps, octree_resolution=options.octree_resolution, guidance_scale=guidance,
                             batch_size=options.shape_batch, decoder=options.volume_decoder,
                             symmetry=options.symmetry, sharpness=options.sharpness)
    if group.takes_views:  # hy3dgen joins a batch's views into one tensor: one object at a time
        settings.batch_size = 1
    classifier_free = run.engine.classifier_free if role == "shape" else not shape_kind(spec).embedded_guidance
    memory = run.engine.shape_memory if role == "shape" else views_memory(spec)
    seeds = [int(r.seed or 0) for r in live]
    with run.stage("shape"):
        # use() evicts earlier stages' models first when the budget needs the room.
        with run.manager.use(role) as pipe:
            # As many targets per batch as the memory left beside the loaded model holds:
            # running out of RAM is a kill by the system, not an exception to retry.
            fitting = preflight.shape_batch(options, len(images), run.engine.device, guidance=classifier_free,
                                            memory=memory)
            if fitting < min(len(images), settings.batch_size or len(images)):
                settings.batch_size = fitting
            lowered = settings.lowered()

            def one_at_a_time() -> list[Any]:  # a target that runs out again fails alone
                return [or_out_of_memory(lambda: generate_shapes(run, pipe, [record], [image], [seed],
                                                                 lowered, role)[0])
                        for record, image, seed in zip(live, images, seeds)]

            def batched() -> list[Any]:  # each mesh's clean-up starts as soon as it is decoded
                return generate_shapes(run, pipe, live, images, seeds, settings, role,
                                       on_mesh=lambda index, mesh: on_mesh(live[index], mesh))

            return run.retry_smaller("shape", batched, one_at_a_time,
                                     f"one at a time at octree resolution {lowered.octree_resolution}")


def _redo_in_float32(run: JobRun, record: TargetRecord, why: str, octree: int) -> ProtocolError | None:
    """A target float16 could not compute is made again in float32: said once per job (the log,
    the progress, the manifest's warnings), and every such target is listed in that warning.
    None to go ahead; the error that fails this target alone when float32 cannot fit in the machine."""
    loaded = run.manager.snapshot()["models"]["shape"]["bytes"]
    try:
        preflight.check_retry(octree, run.engine.device, run.engine.shape_memory, loaded,
                              guidance=run.engine.classifier_free)
    except ProtocolError as exc:
        log.warning("shape: float16 gave %s for %r, and %s", why, record.target, exc.message)
        return ProtocolError(exc.code, f"float16 gave {why} for {record.target!r}, and {exc.message}",
                             exc.detail, target=record.target)
    warnings = run.run_folder.manifest.warnings
    said = next((w for w in warnings if w.get("code") == REDONE_IN_FLOAT32), None)
    if said is not None:
        said["targets"].append(record.target)
        log.info("shape: %r is made again in float32 too (%s)", record.target, why)
        return None
    sentence = (f"shape: float16 gave {why} for {record.target!r}; it is made again in float32, as is any "
                "other target this happens to (slower, and the model takes twice its memory meanwhile)")
    log.warning(sentence)
    run.progress("shape", 0, 1, sentence)
    warnings.append({"stage": "shape", "code": REDONE_IN_FLOAT32, "message": sentence, "targets": [record.target]})
    return None
