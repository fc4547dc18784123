"""What a Generate is expected to take, every stage it will run, said once before its first stage as a line of its
own (``ESTIMATE_STAGE``): the picture made from a prompt, grounding, matting, completion, depth, shape, clean-up,
paint, materials, the game-ready finish, the names made in parts and the GLBs' writing, each as the job's options
and models will run it. The same figure decides the long-job refusal before the run folder (``refuse_long``): the
refusal once weighed completion and materials alone, and let through a job this line then said was over an hour.

Only the picture had an estimate (the other slow steps were weighed against the hour, not said): a Generate from a
prompt said "about 1 s" for its picture and nothing of its paint, then ran 18 minutes on a CPU. Each stage's seconds
are its work beside its model (``models.stage_seconds.HOST``, scaled by the CPU's probe) and its model's compute
(the picture's, the completion's and the material step's own estimates, the shape's and the paint's from
``stage_seconds.MODEL``); ``models/stage_seconds.py`` says how far off they may be.
"""

from __future__ import annotations

from typing import Any

import torch
from img23d_protocol import ESTIMATE_STAGE, ErrorCode, JobEstimate, ProtocolError, StageTime, box_for

from ...catalog import paint_steps, shape_kind, shape_steps
from ...models import memory_cap
from ...models.stage_seconds import MODEL, host_seconds
from ...models.step_costs import device_label
from ...models.throughput import probe
from . import generate_parts, prompt_picture
from ..base import JobRun


def say(run: JobRun) -> JobEstimate:
    """The Generate ``run``'s estimate, said as its own line before its first stage."""
    estimate = generate_estimate(run)
    run.progress(ESTIMATE_STAGE, 0, 0, estimate.sentence())
    return estimate


def generate_estimate(run: JobRun) -> JobEstimate:
    """Every stage the Generate ``run`` will run, with its seconds on this machine (``run``: a ``GenerateRun``)."""
    return request_estimate(run.engine, type(run), run.request)


def refuse_long(engine: Any, kind: Any, request: Any) -> JobEstimate:
    """``long_job_not_accepted`` when the Generate ``request``'s whole estimate (the one its estimate line will say)
    is an hour or more and its options do not accept it: the refusal weighed completion and materials alone, and
    let through a job the estimate line then said was over an hour."""
    estimate = request_estimate(engine, kind, request)
    if estimate.long and not request.options.accept_long:
        # The sentence is the protocol's, which the add-on's own check says from the same estimate (1.29).
        raise ProtocolError(ErrorCode.LONG_JOB_NOT_ACCEPTED, estimate.refusal(), f"estimate {estimate.total_s:.0f} s")
    return estimate


def request_estimate(engine: Any, kind: Any, request: Any) -> JobEstimate:
    """Every stage the Generate ``request`` will run as a ``kind`` (``GenerateRun``) on ``engine``, with its seconds
    on this machine: said before its first stage, and weighed against the hour before its run folder is made."""
    options, manager = request.options, engine.manager
    roles = manager.roles
    names = list(request.targets)
    objects = max(1, len(names))            # every instance of a name ("all") is not known before grounding
    made = objects * max(1, options.variations)   # each candidate is shaped, painted and written
    texture = options.texture and engine.can_paint
    shape = manager.spec("shape")
    octree = shape_kind(shape).octree_for(options.octree_resolution)
    stages: list[tuple[str, float]] = []
    if prompt_picture.prompt_of(request):
        stages.append(("the picture", prompt_picture.expected_seconds(manager, options.edit_size)))
    if any(box_for(request.boxes, name) is None for name in names):
        stages.append(("grounding", host_seconds("grounding", 0)))   # one answer names them all
    stages.append(("matting", host_seconds("matting", objects)))
    if options.complete_hidden != "never" and "editor" in roles:
        # "auto" completes the objects it finds covered: at most every one
        completing = "completion up to" if options.complete_hidden == "auto" else "completion"
        stages.append((completing, objects * engine.step_costs(request).completion_seconds(options.edit_size)))
    stages.append(("depth", host_seconds("depth", objects)))
    stages.append(("shape", host_seconds("shape", made, octree=octree)
                   + made * _model("shape", shape, shape_steps(shape, options.steps),
                                   1 if shape_kind(shape).embedded_guidance else 2, manager)))
    stages.append(("clean-up", host_seconds("cleanup", made, octree=octree)))
    if texture:
        paint = manager.spec("paint")
        steps = paint_steps(paint, options.paint_steps) if paint.paint_kind is not None else 0
        stages.append(("paint", host_seconds("paint", made, texture_side=options.texture_size, octree=octree)
                       + made * _model("paint", paint, steps, 1, manager)))
        if options.materials and "materials" in roles:   # the model's compute, and its bake at this texture's size
            stages.append(("materials", made * engine.materials_model_seconds()
                           + host_seconds("materials", made, texture_side=options.texture_size)))
    if options.topology != "as-generated":
        stages.append(("game-ready finish", host_seconds("finish", made)))
    parts = generate_parts.estimate(request, engine)   # names made in parts, as the parts command weighs them
    if parts is not None:
        stages.append(parts)
    if getattr(engine, "cap", None) is not None:  # under a memory cap: the models' moves between stages
        stages.extend(cap_moves(engine, kind, request, made, texture))
    stages.append(("export", host_seconds("export", made, texture_side=options.texture_size if texture else 0)))
    return JobEstimate(device=device_label(manager.device_of("shape")),
                       stages=tuple(StageTime(stage, seconds) for stage, seconds in stages))


def cap_moves(engine: Any, kind: Any, request: Any, made: int, texture: bool) -> list[tuple[str, float]]:
    """The managed policy's moves of models between RAM and the device under the engine's memory cap
    (``models.memory_cap.plan``, from the models' sizes and those on the device now), as a stage; none when it
    makes none."""
    manager = engine.manager
    roles = [role for role in kind.roles_used(request) if role in manager.roles
             and role not in manager.role_devices]  # a role on its own device is outside the budget
    sizes = {role: sum(manager.part_sizes(role).values()) for role in roles}
    models = manager.snapshot()["models"]
    resident = [role for role in roles if models[role]["tier"] == "device"]
    uses = memory_cap.job_uses(roles, made, texture, request.options.materials)
    plan = memory_cap.plan(sizes, uses, manager.budget(), resident, drops=manager.is_cpu)
    return [(memory_cap.cap_text(engine.cap, plan), plan.seconds)] if plan.seconds > 0 else []


def _model(stage: str, spec: Any, steps: int, passes: int, manager: Any) -> float:
    """One object's compute by the model ``spec`` of ``stage``, at its share of the published weights, on its
    device's probe (float32 on a CPU, float16 on a GPU)."""
    figure = MODEL[stage]
    device = manager.device_of(spec.role)
    dtype = torch.float32 if getattr(device, "type", str(device)) == "cpu" else torch.float16
    share = spec.size_bytes / figure.published_bytes if spec.size_bytes else 1.0
    return figure.seconds(steps, passes, share, probe(device, dtype).gflops)


__all__ = ["cap_moves", "generate_estimate", "refuse_long", "request_estimate", "say"]
