"""``img23d.generate``: the picture and names in, one object per name in the scene."""

from __future__ import annotations

import bpy

from .. import made_pictures, part_objects, runtime
from ..job_runner import JobRunner, Outcome
import img23d_protocol as protocol
from . import _inputs
from ._job import JobOperatorMixin


class IMG23D_OT_generate(JobOperatorMixin, bpy.types.Operator):
    """Make one textured mesh per name from the image (the whole image if no names), or from a picture made from
    the Prompt when no image is picked"""

    bl_idname = "img23d.generate"
    bl_label = "Generate"
    bl_options = {"REGISTER", "UNDO"}

    _prompt = ""  # the prompt a picture is made from (no image picked): the picture keeps it

    def make_runner(self, context: bpy.types.Context) -> JobRunner:
        # Every input is read (and any mistake in it said) before the job's limits and its cost are
        # weighed: an artist asked to accept a long job should not then hear that a name is wrong.
        image, prompt, image_name = _inputs.picture_or_prompt(context)
        self._prompt = prompt
        options = _inputs.options(context)
        names, parts = _inputs.names_and_parts(context)
        views, left_out = _inputs.views(context, names)
        boxes, completion_off = _inputs.boxes(context, names), _inputs.completion_off(context, names)
        _inputs.check_limits(context, options, runtime.session())
        # A picture img23d made goes with its prompt and seed: the run's manifest keeps them (it recorded neither).
        image_prompt, image_seed = _inputs.picked_made_from(context) if image else ("", None)
        request = protocol.GenerateRequest(image=str(image) if image else "", prompt=prompt, targets=names,
                                           options=options, boxes=boxes, completion_off=completion_off, views=views,
                                           parts=parts, parts_grid=int(context.scene.img23d.parts_grid) if parts else 0,
                                           image_prompt=image_prompt, image_seed=image_seed)
        _inputs.check_cost(context, runtime.session(), request)   # the backend's estimate of this very request
        # Said as the job is sent, not minutes later: an edited Prompt was left unused without a word.
        if unused := made_pictures.prompt_unused(context.scene.img23d):
            self.report({"WARNING"}, unused)
        runner = JobRunner(runtime.session(), context.scene, request, image_name)
        runner.outcome.notes.extend(left_out)  # said with the job's other notes: the job goes on without them
        return runner

    def finish(self, context: bpy.types.Context, outcome: Outcome) -> set[str]:
        note = ""
        seed = getattr(outcome.result, "seed", None)  # a whole number (from_dict); its range checked here
        if isinstance(seed, int) and 0 <= seed < 2**31:
            context.scene.img23d.last_seed = seed
            if context.scene.img23d.random_seed:
                note = f"random seed {seed} (type it into Seed for the same objects again)"
        if outcome.run_dir and isinstance(outcome.result, protocol.GenerateJobResult):
            part_objects.place_generated_parts(outcome.made, outcome.result.targets, outcome.run_dir, outcome.notes)
        picture = outcome.files.get(protocol.ArtifactKind.PICTURE)
        if picture:  # made from the prompt: picked, so Regenerate and Re-texture read the run's own picture
            made_pictures.pick(context.scene, picture, outcome.notes, self._prompt,
                               seed if isinstance(seed, int) else None)
        return self.report_outcome(outcome, made_something=bool(outcome.objects), note=note)


classes = (IMG23D_OT_generate,)
